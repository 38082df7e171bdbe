//! Bulk jobs: a resend pushes Zendesk records a hundred to a call.
//!
//! One by one, a resend of 50,000 records costs 50,000 calls or more: over
//! an hour at an Enterprise account's 700 a minute. In bulk it is about 500,
//! in three steps:
//!
//! 1. [`prepare`] reads the records in one batched read, maps them, and
//!    keeps those that may go in bulk
//!    ([`crate::destination::zendesk::bulk::item_for`]). The others go
//!    through the pipeline one by one, in the same call.
//! 2. [`submit`] sends them in calls of a hundred (`create_or_update_many`,
//!    paced by [`crate::pacing`]) and keeps each job under
//!    `bulk/job/{slot}`: its Zendesk id and, per record, the reference, the
//!    fingerprint of the fields sent and the organization given. Slots come
//!    from the counter `bulk/n`, so that instances on many nodes never
//!    write over each other's jobs.
//! 3. Zendesk does the work later. [`collect`] polls the open jobs
//!    (`job_statuses/show_many`, one call for up to 100 jobs). Once a job
//!    has ended, its answers are copied into its entry (Zendesk forgets
//!    them after about an hour) and written to each record through the
//!    pipeline ([`Arrival::Answered`]), under the record's lease like any
//!    sync. A record whose fields changed while its job ran is pushed again
//!    on its own: the job may have written the older fields after the newer
//!    push.
//!
//! Until its job is collected, a record keeps its previous state; the
//! resend answers it `queued`. Every resend call collects first, and a call
//! with `{"collect":true}` only collects (the CLI repeats it until no job is
//! open).
//!
//! Open jobs are the slots from `bulk/low` to `bulk/n`. A collected job
//! leaves a tombstone, and `bulk/low` moves past tombstones. A slot without
//! an entry is a job being written; one more than [`HOLE_AGE`] slots behind
//! the newest is a submission that died between taking its slot and
//! writing it, and is passed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Context;
use crate::counter;
use crate::destination::zendesk::api::{BulkEntity, Client};
use crate::destination::zendesk::bulk::{
    answers, item_for, organizations_of, BulkItem, ItemAnswer, PER_CALL,
};
use crate::destination::zendesk::mapped_email;
use crate::io::{Http, Kv, KvError};
use crate::pacing::Paced;
use crate::pipeline::{self, Arrival, Outcome, SyncInput, SyncOptions, SyncOutcome, SyncState};
use crate::record::Process;
use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::sobject::SObject;
use crate::store;

/// Calls with fewer records than this push one by one and answer each
/// outcome at once.
pub const MIN_RECORDS: usize = 20;

/// The most jobs sfsync keeps open in Zendesk's queue, which takes 30 per
/// account: the rest is left to the account's other clients.
pub const MAX_OPEN_JOBS: u64 = 20;

/// How long a call waits for Zendesk's queue between two collects.
pub const JOB_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The most jobs one call polls (one `show_many` call).
pub const MAX_COLLECTED: u64 = 100;

/// The most ended jobs whose answers one collect writes to their records
/// (a thousand records): a resend page collects about as many records as
/// it sends, so Zendesk works on the next jobs while sfsync writes these.
pub const WRITTEN_PER_COLLECT: usize = 10;

/// A slot this far behind the newest and still without an entry is passed.
pub const HOLE_AGE: u64 = 20;

const COUNTER: &str = "bulk/n";
const LOW: &str = "bulk/low";
const TOMBSTONE: &[u8] = b"collected";

fn job_key(slot: u64) -> String {
    format!("bulk/job/{slot}")
}

/// One record of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub record: RecordRef,
    /// The fingerprint of the mapped fields sent.
    pub fingerprint: String,
    /// The organization given to a user.
    #[serde(default)]
    pub organization: Option<u64>,
}

/// A bulk job, as sfsync keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub slot: u64,
    pub entity: BulkEntity,
    pub process: Process,
    pub submitted_at: DateTime<Utc>,
    /// Zendesk's job id.
    pub zendesk_id: String,
    pub items: Vec<JobItem>,
    /// Copied from Zendesk once the job ended, one per item.
    #[serde(default)]
    pub answers: Option<Vec<ItemAnswer>>,
}

/// What [`prepare`] found: records for bulk calls, and the rest.
#[derive(Debug, Default)]
pub struct Prepared {
    pub bulk: Vec<(JobItem, BulkItem)>,
    pub rest: Vec<RecordRef>,
}

/// Whether a call of `records` records goes in bulk.
pub fn applies<K, H>(ctx: &Context<'_, K, H>, records: usize) -> bool {
    ctx.settings.destination == DestinationKind::Zendesk && records >= MIN_RECORDS
}

/// Read `records` in one batch and sort them: those that may go in bulk,
/// with their entries, and the rest (unknown, nothing received, not
/// mapped, or needing the per-record rules), for the pipeline.
pub async fn prepare<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    process: Process,
    records: Vec<RecordRef>,
) -> Prepared {
    let keys: Vec<String> = records.iter().map(store::record_key).collect();
    let found: std::collections::BTreeMap<String, Vec<u8>> = match ctx.kv.get_many(&keys).await {
        Ok(found) => found.into_iter().collect(),
        // The pipeline reads (and reports) each one.
        Err(_) => {
            return Prepared {
                bulk: Vec::new(),
                rest: records,
            }
        }
    };
    let mut ready = Vec::new();
    let mut out = Prepared::default();
    for (reference, key) in records.into_iter().zip(keys) {
        let record = found
            .get(&key)
            .and_then(|bytes| store::decode::<crate::record::SyncRecord>(&key, bytes).ok());
        let pushable = record
            .as_ref()
            // A converted Lead's sync is the pipeline's (it pushes nothing).
            .filter(|r| !r.source_fields.is_empty() && r.converted_to.is_none())
            .and_then(|r| pipeline::ready_to_push(process, &so_of(r), state, ctx.settings));
        match (pushable, record) {
            (Some((mapped, fingerprint)), Some(record)) => {
                ready.push((reference, record, mapped, fingerprint))
            }
            _ => out.rest.push(reference),
        }
    }
    let organizations = organizations_of(ctx.kv, ready.iter().map(|r| &r.2)).await;
    for (reference, record, mapped, fingerprint) in ready {
        match item_for(ctx, &state.mapping, &mapped, &record, &organizations) {
            Some(bulk) => out.bulk.push((
                JobItem {
                    record: reference,
                    fingerprint,
                    organization: bulk.organization,
                },
                bulk,
            )),
            None => out.rest.push(reference),
        }
    }
    out
}

/// The record as Salesforce last sent it.
fn so_of(record: &crate::record::SyncRecord) -> SObject {
    SObject {
        object_type: record.object.clone(),
        id: record.salesforce_id.clone(),
        fields: record.source_fields.clone(),
    }
}

/// What [`submit`] did with the prepared records.
#[derive(Debug, Default)]
pub struct Submitted {
    /// Sent, with the slot of their job.
    pub sent: Vec<(RecordRef, u64)>,
    /// Not sent (the call failed, or the pace held it off): their failure,
    /// as inputs for the pipeline to write to the records now.
    pub not_sent: Vec<SyncInput>,
    /// Sent, but the job could not be kept: nothing was written for them.
    pub not_kept: Vec<(RecordRef, KvError)>,
    /// Records of earlier jobs collected while waiting for room in
    /// Zendesk's job queue.
    pub collected: Vec<SyncOutcome>,
    /// Jobs open after the last call.
    pub open: u64,
}

/// Where a call's bulk jobs stand, as pull and backfill answer it
/// (flattened into their JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkProgress {
    /// Records of this call sent in bulk jobs (counted `pending` until
    /// collected); their outcomes are written by the next call that
    /// collects (a pull, a sweep, a backfill, or `POST /admin/resend
    /// {"collect":true}`).
    #[serde(default)]
    pub queued: usize,
    /// Records of earlier calls' jobs this call collected (their outcomes
    /// are in the call's counts).
    #[serde(default)]
    pub collected: usize,
    /// Jobs still open after this call.
    #[serde(default)]
    pub open_jobs: u64,
}

/// What a record sent in a job that could not be kept is told.
pub fn not_kept_message(e: &KvError) -> String {
    format!("sent in a bulk job that could not be kept ({e}); its outcome is unknown: resend it")
}

/// What [`sync_rows`] did with records read from Salesforce.
#[derive(Debug, Default)]
pub struct RowsSynced {
    /// Every row's outcome (with the row's index in the input), except
    /// those sent in a job.
    pub outcomes: Vec<(usize, SyncOutcome)>,
    /// Sent in a bulk job (with its slot): their outcome is written when a
    /// later call collects the job.
    pub queued: Vec<(RecordRef, u64)>,
    /// Sent, but the job could not be kept: their outcome is unknown.
    pub not_kept: Vec<(RecordRef, KvError)>,
    /// Outcomes of earlier jobs this call collected.
    pub collected: Vec<SyncOutcome>,
    /// Jobs open after the call.
    pub open_jobs: u64,
}

impl RowsSynced {
    /// Count every outcome in `run`: this call's, the collected ones, the
    /// queued (pending) and those whose job was not kept (errors).
    pub fn count_in(&self, run: &mut crate::run::Run) {
        for o in self.outcomes.iter().map(|(_, o)| o).chain(&self.collected) {
            o.count_in(run);
        }
        for (record, _) in &self.queued {
            run.add(&record.to_string(), crate::record::Status::Pending, None);
        }
        for (record, e) in &self.not_kept {
            run.add(
                &record.to_string(),
                crate::record::Status::Error,
                Some(&not_kept_message(e)),
            );
        }
    }

    pub fn progress(&self) -> BulkProgress {
        BulkProgress {
            queued: self.queued.len(),
            collected: self.collected.len(),
            open_jobs: self.open_jobs,
        }
    }
}

/// Sync records that arrived with their fields (a pull's or a sweep's
/// page, a backfill's rows) the way a resend does: on Zendesk, with [`MIN_RECORDS`] or more,
/// every record is first decided and stored by the pipeline without its
/// push ([`pipeline::SyncOptions::stage`]); those that must be pushed go
/// in bulk calls of a hundred where they may, and through the pipeline one
/// by one where they need the per-record rules. The open jobs of earlier
/// calls are collected first.
pub async fn sync_rows<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    process: Process,
    rows: Vec<SObject>,
) -> Result<RowsSynced, KvError> {
    let input = |arrival, stage| SyncInput {
        process,
        arrival,
        options: SyncOptions {
            force: false,
            stage,
        },
    };
    let in_bulk = applies(ctx, rows.len());
    let collected = if ctx.settings.destination == DestinationKind::Zendesk {
        collect(ctx, state).await?
    } else {
        Collected::default()
    };
    let inputs = rows
        .into_iter()
        .map(|sobject| input(Arrival::Row { sobject }, in_bulk))
        .collect();
    let mut staged: Vec<RecordRef> = Vec::new();
    // The row each staged record came from (the first, if named twice).
    let mut row_of: std::collections::HashMap<RecordRef, usize> = Default::default();
    let mut outcomes = Vec::new();
    for (i, o) in pipeline::sync_all(inputs, state, ctx)
        .await
        .into_iter()
        .enumerate()
    {
        match o.outcome {
            // A record named twice (two rows of a file) goes in once.
            Outcome::Staged if row_of.contains_key(&o.record) => {}
            Outcome::Staged => {
                row_of.insert(o.record.clone(), i);
                staged.push(o.record);
            }
            _ => outcomes.push((i, o)),
        }
    }
    let indexed = |list: Vec<SyncOutcome>| {
        list.into_iter()
            .map(|o| (row_of.get(&o.record).copied().unwrap_or_default(), o))
            .collect::<Vec<_>>()
    };
    let mut out = RowsSynced {
        collected: collected.outcomes,
        open_jobs: collected.open,
        ..RowsSynced::default()
    };
    if staged.is_empty() {
        out.outcomes = outcomes;
        return Ok(out);
    }
    let prepared = prepare(ctx, state, process, staged).await;
    let one_by_one = prepared
        .rest
        .into_iter()
        .map(|record| input(Arrival::Stored { record }, false))
        .collect();
    outcomes.extend(indexed(pipeline::sync_all(one_by_one, state, ctx).await));
    let mut submitted = submit(ctx, state, process, prepared.bulk, out.open_jobs).await;
    out.collected.append(&mut submitted.collected);
    out.open_jobs = submitted.open;
    outcomes.extend(indexed(
        pipeline::sync_all(submitted.not_sent, state, ctx).await,
    ));
    outcomes.sort_by_key(|(i, _)| *i);
    out.outcomes = outcomes;
    out.queued = submitted.sent;
    out.not_kept = submitted.not_kept;
    Ok(out)
}

/// Send the prepared records in calls of a hundred and keep their jobs.
/// `open` jobs are open already; while [`MAX_OPEN_JOBS`] are, the call
/// waits for Zendesk (collecting every [`JOB_WAIT`]) as long as its budget
/// allows, and leaves the rest not sent after that.
pub async fn submit<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    process: Process,
    prepared: Vec<(JobItem, BulkItem)>,
    open: u64,
) -> Submitted {
    let mut by_entity: Vec<(BulkEntity, Vec<(JobItem, Value)>)> = Vec::new();
    for (item, bulk) in prepared {
        match by_entity.iter_mut().find(|(e, _)| *e == bulk.entity) {
            Some((_, list)) => list.push((item, bulk.body)),
            None => by_entity.push((bulk.entity, vec![(item, bulk.body)])),
        }
    }
    let paced = Paced { ctx };
    let client = Client::new(ctx.settings, &paced);
    let mut out = Submitted {
        open,
        ..Submitted::default()
    };
    for (entity, list) in by_entity {
        let mut list = list.into_iter().peekable();
        while list.peek().is_some() {
            let chunk: Vec<(JobItem, Value)> = list.by_ref().take(PER_CALL).collect();
            let (items, bodies): (Vec<JobItem>, Vec<Value>) = chunk.into_iter().unzip();
            let sent = match (&client, room_for_a_job(ctx, state, &mut out).await) {
                (_, Err(why)) => Err(crate::failure::Failure::transient(why)),
                (Ok(client), Ok(())) => client.create_or_update_many(entity, bodies).await,
                (Err(f), Ok(())) => Err(f.clone()),
            };
            match sent {
                Ok(id) => {
                    let refs: Vec<RecordRef> = items.iter().map(|i| i.record.clone()).collect();
                    match keep(ctx, entity, process, id, items).await {
                        Ok(slot) => {
                            out.open += 1;
                            out.sent.extend(refs.into_iter().map(|r| (r, slot)))
                        }
                        Err(e) => out
                            .not_kept
                            .extend(refs.into_iter().map(|r| (r, e.clone()))),
                    }
                }
                Err(failure) => out.not_sent.extend(items.into_iter().map(|item| {
                    answered(
                        process,
                        item,
                        ItemAnswer::Lost {
                            message: format!("{} (bulk call)", failure.message),
                        },
                        false,
                    )
                })),
            }
        }
    }
    out
}

/// Wait, collecting, until fewer than [`MAX_OPEN_JOBS`] jobs are open, or
/// say why the next job cannot be sent in this call.
async fn room_for_a_job<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    out: &mut Submitted,
) -> Result<(), String> {
    while out.open >= MAX_OPEN_JOBS {
        if ctx.budget.remaining((ctx.elapsed)() + JOB_WAIT).is_err() {
            return Err(format!(
                "not sent: {} bulk jobs of sfsync's are still waiting in Zendesk's queue (it takes 30 per account; sfsync leaves room for other clients); run again",
                out.open
            ));
        }
        ctx.http.sleep(JOB_WAIT).await;
        let collected = collect(ctx, state).await.map_err(|e| {
            format!("not sent: the open bulk jobs could not be read ({e}); run again")
        })?;
        out.open = collected.open;
        out.collected.extend(collected.outcomes);
    }
    Ok(())
}

/// The pipeline's input for a job's answer about one item.
fn answered(process: Process, item: JobItem, answer: ItemAnswer, email_settled: bool) -> SyncInput {
    SyncInput {
        process,
        arrival: Arrival::Answered {
            record: item.record,
            answer: Box::new(pipeline::Answer {
                fingerprint: item.fingerprint,
                organization: item.organization,
                answer,
                email_settled,
            }),
        },
        options: SyncOptions {
            force: true,
            stage: false,
        },
    }
}

async fn keep<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    entity: BulkEntity,
    process: Process,
    zendesk_id: String,
    items: Vec<JobItem>,
) -> Result<u64, KvError> {
    let slot = ctx.kv.increment(COUNTER, 1).await? as u64;
    let job = Job {
        slot,
        entity,
        process,
        submitted_at: ctx.current_time(),
        zendesk_id,
        items,
        answers: None,
    };
    let bytes = serde_json::to_vec(&job).map_err(|e| KvError(e.to_string()))?;
    ctx.kv.set(&job_key(slot), &bytes).await?;
    Ok(slot)
}

/// What [`collect`] did.
#[derive(Debug, Default)]
pub struct Collected {
    /// The outcome of each record whose answer was written (a busy record
    /// keeps its answer for a later call, and is not among them).
    pub outcomes: Vec<SyncOutcome>,
    /// Jobs still open after this call.
    pub open: u64,
}

/// Poll the open jobs, and write the answers of those that ended to their
/// records. `state` must have no bulk of its own.
pub async fn collect<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
) -> Result<Collected, KvError> {
    let newest = match ctx.kv.get(COUNTER).await? {
        Some(bytes) => counter::value(&bytes).unwrap_or(0).max(0) as u64,
        None => return Ok(Collected::default()),
    };
    let low = match ctx.kv.get(LOW).await? {
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(1),
        None => 1,
    }
    .max(1);
    if low > newest {
        return Ok(Collected::default());
    }
    let last = newest.min(low + MAX_COLLECTED - 1);
    let keys: Vec<String> = (low..=last).map(job_key).collect();
    let found: std::collections::BTreeMap<String, Vec<u8>> =
        ctx.kv.get_many(&keys).await?.into_iter().collect();
    let mut jobs: Vec<Job> = Vec::new();
    // Slots from `low`: collected, open, or not written yet.
    let mut slots: Vec<(u64, Option<bool>)> = Vec::new();
    for slot in low..=last {
        match found.get(&job_key(slot)) {
            Some(bytes) if bytes.as_slice() == TOMBSTONE => slots.push((slot, Some(true))),
            Some(bytes) => match store::decode::<Job>(&job_key(slot), bytes) {
                Ok(job) => {
                    slots.push((slot, Some(false)));
                    jobs.push(job);
                }
                // Not sfsync's: pass it rather than stop every later job.
                Err(_) => slots.push((slot, Some(true))),
            },
            None => slots.push((slot, None)),
        }
    }

    let answered_before: Vec<bool> = jobs.iter().map(|j| j.answers.is_some()).collect();
    poll(ctx, &mut jobs).await;

    // The first ended jobs' answers, written to their records in one batch;
    // later ones keep their answers in their entries for the next call.
    let mut owners = Vec::new();
    let mut ended = Vec::new();
    let mut written: Vec<bool> = vec![false; jobs.len()];
    for (j, job) in jobs.iter().enumerate() {
        let Some(answers) = &job.answers else {
            continue;
        };
        if written.iter().filter(|w| **w).count() >= WRITTEN_PER_COLLECT {
            continue;
        }
        written[j] = true;
        for (i, (item, answer)) in job.items.iter().zip(answers).enumerate() {
            owners.push((j, i));
            ended.push((job.process, item, answer));
        }
    }
    let settled = emails_settled(ctx, state, &ended).await;
    let inputs: Vec<SyncInput> = ended
        .into_iter()
        .zip(settled)
        .map(|((process, item, answer), settled)| {
            answered(process, item.clone(), answer.clone(), settled)
        })
        .collect();
    let outcomes = pipeline::sync_all(inputs, state, ctx).await;
    // A busy or unwritten record keeps its answer for the next call.
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    let mut collected = Collected::default();
    for ((j, i), outcome) in owners.into_iter().zip(outcomes) {
        if matches!(
            outcome.outcome,
            Outcome::Busy { .. } | Outcome::NotStored(_)
        ) {
            kept[j].push(i);
        } else {
            collected.outcomes.push(outcome);
        }
    }
    for ((job, keep), written) in jobs.iter_mut().zip(kept).zip(&written) {
        if !written {
            continue;
        }
        let Some(answers) = job.answers.take() else {
            continue;
        };
        job.items = keep
            .iter()
            .filter_map(|i| job.items.get(*i).cloned())
            .collect();
        job.answers = Some(
            keep.iter()
                .filter_map(|i| answers.get(*i).cloned())
                .collect(),
        );
    }

    // Write back what changed: tombstones for the jobs done, the answers of
    // the others, and the new low mark.
    let mut writes = Vec::new();
    for ((job, written), before) in jobs.iter().zip(&written).zip(&answered_before) {
        let done = job.items.is_empty();
        if done {
            writes.push((job_key(job.slot), TOMBSTONE.to_vec()));
            if let Some(s) = slots.iter_mut().find(|(s, _)| *s == job.slot) {
                s.1 = Some(true);
            }
        } else if job.answers.is_some() && (*written || !before) {
            let bytes = serde_json::to_vec(job).map_err(|e| KvError(e.to_string()))?;
            writes.push((job_key(job.slot), bytes));
        }
    }
    let mut new_low = low;
    for (slot, state) in &slots {
        let passable = match state {
            Some(done) => *done,
            None => *slot + HOLE_AGE <= newest,
        };
        if !passable {
            break;
        }
        new_low = slot + 1;
    }
    if new_low != low {
        writes.push((LOW.to_string(), new_low.to_string().into_bytes()));
    }
    if !writes.is_empty() {
        ctx.kv.set_many(&writes).await?;
    }
    if new_low > low {
        // The tombstones behind the low mark are no longer read.
        let old: Vec<String> = (low..new_low).map(job_key).collect();
        for key in old {
            let _ = ctx.kv.delete(&key).await;
        }
    }
    let open_here = jobs.iter().filter(|j| !j.items.is_empty()).count() as u64;
    collected.open = open_here + newest.saturating_sub(last);
    Ok(collected)
}

/// For each answer, whether writing it leaves the user's `email/` entry
/// as it is: the record still has the fields sent, and the entry already
/// names the user (or the record has no email). Read in two batches.
async fn emails_settled<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    ended: &[(Process, &JobItem, &ItemAnswer)],
) -> Vec<bool> {
    let keys: Vec<String> = ended
        .iter()
        .map(|(_, item, _)| store::record_key(&item.record))
        .collect();
    let mut records = std::collections::BTreeMap::new();
    for chunk in keys.chunks(100) {
        records.extend(ctx.kv.get_many(chunk).await.unwrap_or_default());
    }
    // What each answer needs of its email entry: nothing, or this user.
    let needs: Vec<Option<(Option<String>, u64)>> = ended
        .iter()
        .zip(&keys)
        .map(|((process, item, answer), key)| {
            let ItemAnswer::Done { id } = answer else {
                return None;
            };
            let record: crate::record::SyncRecord = store::decode(key, records.get(key)?).ok()?;
            let (mapped, fingerprint) =
                pipeline::ready_to_push(*process, &so_of(&record), state, ctx.settings)?;
            (fingerprint == item.fingerprint).then(|| (mapped_email(&mapped), *id))
        })
        .collect();
    let email_keys: Vec<String> = needs
        .iter()
        .flatten()
        .filter_map(|(email, _)| email.as_deref().map(store::email_key))
        .collect();
    let mut entries = std::collections::BTreeMap::new();
    for chunk in email_keys.chunks(100) {
        entries.extend(ctx.kv.get_many(chunk).await.unwrap_or_default());
    }
    needs
        .into_iter()
        .map(|need| match need {
            None => false,
            Some((None, _)) => true,
            Some((Some(email), id)) => {
                let key = store::email_key(&email);
                entries
                    .get(&key)
                    .and_then(|bytes| store::decode::<store::EmailEntry>(&key, bytes).ok())
                    .is_some_and(|entry| entry.user_id == id.to_string())
            }
        })
        .collect()
}

/// Ask Zendesk about the jobs without answers; fill in the answers of those
/// that ended (or that Zendesk no longer has).
async fn poll<K: Kv, H: Http>(ctx: &Context<'_, K, H>, jobs: &mut [Job]) {
    let ids: Vec<String> = jobs
        .iter()
        .filter(|j| j.answers.is_none())
        .map(|j| j.zendesk_id.clone())
        .collect();
    if ids.is_empty() {
        return;
    }
    let paced = Paced { ctx };
    let Ok(client) = Client::new(ctx.settings, &paced) else {
        return;
    };
    // A failed poll leaves the jobs open for the next call.
    let Ok(statuses) = client.job_statuses(&ids).await else {
        return;
    };
    for job in jobs.iter_mut().filter(|j| j.answers.is_none()) {
        let id = job.zendesk_id.clone();
        job.answers = match statuses.iter().find(|s| s.id == id) {
            Some(status) => answers(status, job.items.len()),
            None => Some(vec![
                ItemAnswer::Lost {
                    message: format!(
                        "Zendesk no longer has bulk job {id} (it keeps a job's results about an hour); resend the record"
                    ),
                };
                job.items.len()
            ]),
        };
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::memory::{settings_from, MemoryKv, ScriptedHttp};

    fn job(slot: u64) -> Vec<u8> {
        let job = Job {
            slot,
            entity: BulkEntity::Users,
            process: Process::Resend,
            submitted_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            zendesk_id: format!("z{slot}"),
            items: vec![JobItem {
                record: RecordRef::new("Contact", format!("003{slot:012}AAA")),
                fingerprint: "f".into(),
                organization: None,
            }],
            // Already answered: collecting needs no call.
            answers: Some(vec![ItemAnswer::Lost {
                message: "test".into(),
            }]),
        };
        serde_json::to_vec(&job).expect("job")
    }

    /// Slot 1 collected, slot 2 never written, slots 3..=newest open.
    fn collect_with(newest: u64) -> (MemoryKv, Collected) {
        let kv = MemoryKv::new();
        block_on(kv.increment(COUNTER, newest as i64)).expect("counter");
        block_on(kv.set(&job_key(1), TOMBSTONE)).expect("tombstone");
        for slot in 3..=newest {
            block_on(kv.set(&job_key(slot), &job(slot))).expect("job");
        }
        let settings = settings_from(&[("destination", "zendesk")]);
        let http = ScriptedHttp::default();
        let ctx = Context::new(
            &settings,
            &kv,
            &http,
            DateTime::from_timestamp(0, 0).unwrap_or_default(),
            &|| std::time::Duration::ZERO,
            7,
        );
        let state = block_on(SyncState::load(&kv)).expect("state");
        let collected = block_on(collect(&ctx, &state)).expect("collected");
        assert!(http.sent.borrow().is_empty(), "answered jobs need no call");
        (kv, collected)
    }

    fn low(kv: &MemoryKv) -> Option<String> {
        block_on(kv.get(LOW))
            .expect("read")
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    #[test]
    fn a_slot_being_written_holds_the_low_mark_and_jobs_after_it_are_still_collected() {
        let (kv, collected) = collect_with(10);
        assert_eq!(collected.outcomes.len(), 8, "slots 3 to 10");
        assert_eq!(collected.open, 0);
        assert_eq!(low(&kv).as_deref(), Some("2"), "slot 2 may be in flight");
        assert_eq!(
            block_on(kv.get(&job_key(5))).expect("read").as_deref(),
            Some(TOMBSTONE)
        );
        assert_eq!(block_on(kv.get(&job_key(1))).expect("read"), None);
    }

    #[test]
    fn a_slot_far_behind_the_newest_is_a_dead_submission_and_is_passed() {
        let (kv, collected) = collect_with(2 + HOLE_AGE);
        assert_eq!(
            collected.outcomes.len(),
            WRITTEN_PER_COLLECT,
            "one collect writes the first ten jobs"
        );
        assert_eq!(collected.open, HOLE_AGE - WRITTEN_PER_COLLECT as u64);
        let after_ten = 3 + WRITTEN_PER_COLLECT as u64;
        assert_eq!(low(&kv), Some(after_ten.to_string()));
        assert_eq!(block_on(kv.get(&job_key(5))).expect("read"), None);
    }
}
