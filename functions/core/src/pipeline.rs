//! The sync of one record: the one step every entry point runs.
//!
//! The Outbound Message triggers ([`crate::inbound`]), resend and backfill
//! ([`crate::admin`]) each turn what they received into a [`SyncInput`] —
//! what arrived, for which process, with which options — and call [`sync`]
//! (or [`sync_all`] for many). None of them fabricates another's input, and
//! the step has no case for a particular process: what differs is in the
//! input.
//!
//! ```text
//! load ─▶ repeat? stale? ─▶ mapped object? trigger on? fits the destination?
//!      ─▶ paused? ─▶ mapped fields unchanged? ─▶ map ─▶ push ─▶ store
//! ```
//!
//! Every path ends in one write of the record, whose status then says what
//! happened ([`Outcome`]); a record that cannot be written is reported as
//! [`Outcome::NotStored`], so the caller never claims an outcome it lost.
//! The writes of a batch's syncs go together: each sync leaves its record,
//! index entries and lease releases with the batch, and [`sync_all`] writes
//! them in one call before it answers (sooner where a later sync needs
//! them: the next input for the same record, the records a newly synced
//! organization links; and right after a call to the destination, so that a
//! record's lease is never held past its own push). On a store that commits
//! every write to disk, that is one commit for a message's hundred records
//! instead of a hundred.
//!
//! The whole step runs under the record's [`lease`]: one request at a time,
//! across instances and nodes. A record another request holds is
//! [`Outcome::Busy`], which the caller answers so that it is retried.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::context::Context;
use crate::destination::{self, Pushed};
use crate::failure::{ErrorKind, Failure};
use crate::index;
use crate::io::{Http, Kv, KvError};
use crate::lease;
use crate::mapping::load::check_object_for_destination;
use crate::mapping::Mapping;
use crate::record::{IgnoreReason, Ignored, Process, SkipReason, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::run::Run;
use crate::soap::NotificationProblem;
use crate::sobject::{normalize_if_id, SObject};
use crate::store;
use crate::waiting;

/// How many records of one request are synced at the same time.
pub const CONCURRENCY: usize = 8;

/// The pauses before trying a failed index counter addition again.
const SETTLE_PAUSES_MS: [u64; 3] = [20, 100, 400];

/// What every sync of a request reads once, before the first record.
/// This request's run, for its records to name ([`SyncState::name_run`]).
#[derive(Debug, Default)]
struct RunTag {
    base: Option<String>,
    seq: Option<u64>,
}

#[derive(Debug)]
pub struct SyncState {
    /// The run this request writes: numbered when its first record is
    /// written ([`SyncState::name_run`]), so that each record notes it and a
    /// request that writes nothing takes no number.
    run: futures::lock::Mutex<RunTag>,
    /// The org's instance URL as last stored.
    pub sf_instance: Option<String>,
    pub mapping: Mapping,
    pub paused: bool,
    /// The record index's current generation ([`crate::index`]).
    pub generation: store::Generation,
    /// Index counters to add once the batch is done, summed per key (one
    /// increment for a message's hundred new records).
    deferred: std::cell::RefCell<BTreeMap<String, i64>>,
    /// Index slots taken ahead for the batch, one increment per log.
    slots: index::SlotPool,
    /// Syncs decided and not written yet: written together, in one batch,
    /// by [`SyncState::flush`].
    unwritten: std::cell::RefCell<Vec<Unwritten>>,
    /// The inputs whose write failed, with the store's error.
    failed: std::cell::RefCell<BTreeMap<usize, KvError>>,
}

/// One sync's writes (the record and its index entries) and its leases,
/// waiting for [`SyncState::flush`].
#[derive(Debug)]
struct Unwritten {
    /// Which input of the batch it is, for its outcome (none for a record
    /// synced again for a link).
    input: Option<usize>,
    placed: index::Placed,
    held: lease::Held,
}

impl SyncState {
    pub async fn load<K: Kv>(kv: &K) -> Result<SyncState, KvError> {
        let settings = store::sync_settings(kv).await?;
        Ok(SyncState {
            run: Default::default(),
            sf_instance: settings.sf_instance,
            mapping: settings.mapping,
            paused: settings.paused,
            generation: settings.generation,
            deferred: Default::default(),
            slots: Default::default(),
            unwritten: Default::default(),
            failed: Default::default(),
        })
    }

    /// Name `run` as the run this request writes; its records note its id
    /// once it has a number.
    pub fn name_run(&mut self, run: &Run) {
        self.run.get_mut().base = Some(run.id.clone());
    }

    /// Give `run` the number its records noted, if any was taken.
    pub fn number_run(&mut self, run: &mut Run) {
        if let Some(seq) = self.run.get_mut().seq {
            crate::history::number(run, seq);
        }
    }

    /// The id of this request's run, numbering it first if needed.
    async fn run_id<K: Kv>(&self, kv: &K) -> Result<Option<String>, KvError> {
        let mut tag = self.run.lock().await;
        let Some(base) = tag.base.clone() else {
            return Ok(None);
        };
        let seq = match tag.seq {
            Some(seq) => seq,
            None => {
                let seq = crate::history::reserve(kv).await?;
                tag.seq = Some(seq);
                seq
            }
        };
        Ok(Some(crate::history::numbered(&base, seq)))
    }

    fn defer(&self, after: &[(String, i64)]) {
        let mut deferred = self.deferred.borrow_mut();
        for (key, delta) in after {
            *deferred.entry(key.clone()).or_default() += delta;
        }
    }

    /// Write every sync decided so far in one batch (records, index
    /// entries, lease releases: one call, one transaction on SQLite). When
    /// the write fails, each of them gives its slots back and its input is
    /// answered as not stored.
    async fn flush<K: Kv, H: Http>(&self, ctx: &Context<'_, K, H>) {
        let units = std::mem::take(&mut *self.unwritten.borrow_mut());
        if units.is_empty() {
            return;
        }
        let mut writes = Vec::new();
        let mut held = lease::Held::default();
        let mut placed = Vec::with_capacity(units.len());
        for mut unit in units {
            writes.append(&mut unit.placed.writes);
            held.append(unit.held);
            placed.push((unit.input, unit.placed));
        }
        match lease::write_and_release(ctx.kv, ctx.current_time(), writes, held).await {
            Ok(()) => {
                for (_, p) in &placed {
                    self.defer(&p.after);
                }
            }
            Err(e) => {
                // Redelivered: the retry takes its slots afresh. The undo is
                // tried again after a pause, as the counters' additions are:
                // the write may have failed on a store busy for a moment.
                for (input, p) in &placed {
                    for pause in SETTLE_PAUSES_MS.iter().map(|ms| Some(*ms)).chain([None]) {
                        if let Ok(failed) = index::undo(ctx.kv, p).await {
                            self.defer(&failed);
                            break;
                        }
                        if let Some(ms) = pause {
                            ctx.http.sleep(std::time::Duration::from_millis(ms)).await;
                        }
                    }
                    if let Some(i) = input {
                        self.failed.borrow_mut().insert(*i, e.clone());
                    }
                }
            }
        }
    }

    /// Add the deferred index counters (once a batch's records are written),
    /// trying a failed addition again after a pause: a store that is busy
    /// for a moment (SQLite shared by several nodes answers "database is
    /// locked") must not leave the counts off.
    async fn settle<K: Kv, H: Http>(&self, ctx: &Context<'_, K, H>) {
        let unused = self.slots.leftovers();
        // Unused slots are counted as left and written dead, as a failed
        // write's are. Should that write fail, walks pass the missing slots
        // (as slots still on their way) and the log's head stays before
        // them, which costs reads, never a wrong count or listing.
        if !unused.entries.is_empty() {
            let _ = ctx.kv.set_many(&unused.entries).await;
            self.defer(&unused.left);
        }
        let mut left: Vec<(String, i64)> = std::mem::take(&mut *self.deferred.borrow_mut())
            .into_iter()
            .filter(|(_, delta)| *delta != 0)
            .collect();
        for pause_ms in SETTLE_PAUSES_MS {
            left = index::settle(ctx.kv, &left).await;
            if left.is_empty() {
                return;
            }
            ctx.http
                .sleep(std::time::Duration::from_millis(pause_ms))
                .await;
        }
        index::settle(ctx.kv, &left).await;
    }
}

/// What arrived for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// A notification of an Outbound Message. Its id makes a redelivery a
    /// repeat; its `LastModifiedDate` orders deliveries of one record.
    Notification { id: String, sobject: SObject },
    /// A row of an export file. It has no delivery id: a second run of the
    /// same file is recognised by the mapped fields' fingerprint alone.
    Row { sobject: SObject },
    /// Nothing new: sync the source fields last received for this record.
    Stored { record: RecordRef },
    /// A bulk job's answer for a stored record ([`crate::bulk`]): written to
    /// the record when its fields are still those sent; otherwise the record
    /// is pushed again on its own.
    Answered {
        record: RecordRef,
        answer: Box<Answer>,
    },
    /// A notification about this record that cannot be used on its own (the
    /// record was deleted before delivery, or the notification is
    /// malformed): recorded on the record, nothing pushed.
    Unusable {
        id: Option<String>,
        record: RecordRef,
        problem: NotificationProblem,
    },
}

impl Arrival {
    /// The record this arrival is about.
    pub fn record(&self) -> RecordRef {
        match self {
            Arrival::Notification { sobject, .. } | Arrival::Row { sobject } => {
                RecordRef::new(&sobject.object_type, &sobject.id)
            }
            Arrival::Stored { record }
            | Arrival::Answered { record, .. }
            | Arrival::Unusable { record, .. } => record.clone(),
        }
    }

    fn sobject(&self) -> Option<&SObject> {
        match self {
            Arrival::Notification { sobject, .. } | Arrival::Row { sobject } => Some(sobject),
            Arrival::Stored { .. } | Arrival::Answered { .. } | Arrival::Unusable { .. } => None,
        }
    }
}

/// What a bulk job answered for one record, with what was sent for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The fingerprint of the mapped fields sent.
    pub fingerprint: String,
    /// The organization given to a user.
    pub organization: Option<u64>,
    pub answer: crate::destination::zendesk::bulk::ItemAnswer,
    /// Writing the answer leaves the user's `email/` entry as it is (it
    /// already names the user): the sync takes no email lease. Should the
    /// record have changed since, the answer waits for a later collect,
    /// which pushes it again under the email's lease.
    pub email_settled: bool,
}

/// How the step treats an arrival.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Push even when the mapped fields are what was last synced: a created
    /// notification is the record's first word, and a resend follows a fix
    /// of the destination or the mapping.
    pub force: bool,
    /// Store what arrived but leave the push to a bulk job: a record that
    /// would be pushed ends [`Outcome::Staged`] (pending, its new source
    /// fields stored, its fingerprint not yet), for the caller to hand to
    /// [`crate::bulk::prepare`]. Everything before the push — repeats,
    /// stale deliveries, unchanged fields, conversions — is decided as
    /// always.
    pub stage: bool,
}

/// One record to sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncInput {
    pub process: Process,
    pub arrival: Arrival,
    pub options: SyncOptions,
}

/// What the step did with one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored with this status; the failure or skip reason says why.
    Stored {
        status: Status,
        failure: Option<Failure>,
        skip_reason: Option<String>,
    },
    /// Already applied (the same notification id): no destination call.
    Repeat,
    /// Older than the state already applied, or a file row that cannot be
    /// ordered against it: no destination call. Says which.
    Stale { why: String },
    /// A resend of a record sfsync never received.
    Unknown,
    /// Nothing to sync and nothing written (a resend of a record whose
    /// source fields never arrived), with the reason.
    NothingToSync(String),
    /// Could not be stored: the caller must not claim it was handled.
    NotStored(KvError),
    /// Another request is syncing this record (until its lease expires at
    /// the latest): nothing done, to be retried.
    Busy { until: DateTime<Utc> },
    /// Stored, pending, for a bulk job to push ([`SyncOptions::stage`]).
    Staged,
}

/// What a busy record's message says.
pub fn busy_message(until: &DateTime<Utc>) -> String {
    format!(
        "busy: another request is syncing this record (at the latest until {}); nothing was done, retry (Salesforce redelivers a message by itself)",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

impl Outcome {
    /// What a stored record says about its last attempt.
    fn stored(record: &SyncRecord) -> Outcome {
        Outcome::Stored {
            status: record.status,
            failure: record.current_failure().cloned(),
            skip_reason: record.skip_reason.clone(),
        }
    }
}

/// The outcome of one input, with its record.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    pub record: RecordRef,
    pub outcome: Outcome,
}

impl SyncOutcome {
    /// Count this outcome in a run.
    pub fn count_in(&self, run: &mut Run) {
        let record = self.record.to_string();
        match &self.outcome {
            Outcome::Stored {
                status, failure, ..
            } => run.add(
                &record,
                *status,
                failure.as_ref().map(|f| f.message.as_str()),
            ),
            Outcome::Repeat | Outcome::Stale { .. } => run.counts.ignored += 1,
            Outcome::NothingToSync(_) => run.add(&record, Status::Skipped, None),
            Outcome::Unknown => run.add(
                &record,
                Status::Error,
                Some("sfsync has received nothing for this record; check the id, or backfill the record first"),
            ),
            Outcome::NotStored(e) => {
                run.add(&record, Status::Error, Some(&format!("not stored: {e}")))
            }
            Outcome::Busy { until } => run.add(&record, Status::Error, Some(&busy_message(until))),
            Outcome::Staged => run.add(&record, Status::Pending, None),
        }
    }

    /// Why the sender must deliver again because of this outcome, if it must.
    pub fn needs_redelivery(&self) -> Option<String> {
        match &self.outcome {
            Outcome::NotStored(e) => Some(format!("{}: not stored ({e})", self.record)),
            Outcome::Busy { until } => Some(format!("{}: {}", self.record, busy_message(until))),
            Outcome::Stored {
                failure: Some(f), ..
            } if f.kind.needs_redelivery() => Some(format!("{}: {}", self.record, f.message)),
            // Stored but not pushed: only a bulk job's collect settles it.
            Outcome::Staged => Some(format!(
                "{}: stored but not pushed yet (left to a bulk job); sent again",
                self.record
            )),
            _ => None,
        }
    }
}

/// Sync many inputs: different destination records concurrently (bounded
/// by [`CONCURRENCY`]), inputs for one destination record — the same
/// Salesforce record, or users with the same mapped email — one after the
/// other in the order given. Outcomes come back in input order, after the
/// record index's counters for the whole batch are added (one increment per
/// counter, [`crate::index::settle`]).
pub async fn sync_all<K: Kv, H: Http>(
    inputs: Vec<SyncInput>,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> Vec<SyncOutcome> {
    let mut groups: BTreeMap<String, Vec<(usize, SyncInput)>> = BTreeMap::new();
    for input in &inputs {
        state.slots.expect(&input.arrival.record().object, 1);
    }
    for (i, input) in inputs.into_iter().enumerate() {
        let key = serialisation_key(&input.arrival, &state.mapping);
        groups.entry(key).or_default().push((i, input));
    }
    let mut out: Vec<(usize, SyncOutcome)> = stream::iter(groups.into_values())
        .map(|group| async move {
            let mut done = Vec::with_capacity(group.len());
            let last = group.len().saturating_sub(1);
            for (n, (i, input)) in group.into_iter().enumerate() {
                done.push((i, sync(input, Some(i), state, ctx).await));
                if n < last {
                    // The next input of this group reads what this one wrote.
                    state.flush(ctx).await;
                }
            }
            done
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(stream::iter)
        .collect()
        .await;
    state.flush(ctx).await;
    for (i, done) in &mut out {
        if let Some(e) = state.failed.borrow_mut().remove(i) {
            done.outcome = Outcome::NotStored(e);
        }
    }
    state.settle(ctx).await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, o)| o).collect()
}

/// Which destination record an arrival writes: its mapped email for users
/// (two Salesforce records with one email are one Zendesk user), else the
/// Salesforce record itself.
fn serialisation_key(arrival: &Arrival, mapping: &Mapping) -> String {
    mapped_email_key(arrival, mapping).unwrap_or_else(|| store::record_key(&arrival.record()))
}

/// The `email/` key of the user an arrival maps to, if it has an email.
fn mapped_email_key(arrival: &Arrival, mapping: &Mapping) -> Option<String> {
    email_key_of(arrival.sobject()?, mapping)
}

fn email_key_of(so: &SObject, mapping: &Mapping) -> Option<String> {
    let mapped = mapping.object(&so.object_type)?.apply(so).ok()?;
    let email = mapped.fields.get("email")?.as_str()?.trim().to_lowercase();
    (!email.is_empty()).then(|| store::email_key(&email))
}

/// The `email/` keys an arrival's sync may write: the one it syncs — from
/// what arrived, or for a stored record (resend, link) from the source
/// fields last received — and the one the record used before, when the
/// arrival changes its email (that entry is removed once the user has the
/// new email). A record that cannot be read here is read (and reported) by
/// the sync.
async fn email_keys_for<K: Kv>(kv: &K, arrival: &Arrival, mapping: &Mapping) -> EmailKeys {
    let stored = store::load_record(kv, &arrival.record())
        .await
        .ok()
        .flatten();
    let old = stored.and_then(|stored| {
        let so = SObject {
            object_type: stored.object,
            id: stored.salesforce_id,
            fields: stored.source_fields,
        };
        email_key_of(&so, mapping)
    });
    if let Arrival::Stored { .. } | Arrival::Answered { .. } = arrival {
        return EmailKeys {
            synced: old,
            replaced: None,
        };
    }
    let synced = mapped_email_key(arrival, mapping);
    let replaced = old.filter(|o| synced.as_ref().is_some_and(|n| n != o));
    EmailKeys { synced, replaced }
}

/// The `email/` keys of one sync ([`email_keys_for`]).
#[derive(Debug, Default, Clone)]
struct EmailKeys {
    synced: Option<String>,
    replaced: Option<String>,
}

/// After a sync that gave the user a new email: remove the entry of the
/// email it replaced, if it still names this record's user.
async fn forget_replaced_email<K: Kv>(
    kv: &K,
    replaced: Option<&str>,
    record: &SyncRecord,
) -> Result<(), KvError> {
    let Some(key) = replaced else {
        return Ok(());
    };
    let user = record.destination.as_ref().and_then(|d| d.id.as_deref());
    if record.status != Status::Synced || user.is_none() {
        return Ok(());
    }
    let Some(bytes) = kv.get(key).await? else {
        return Ok(());
    };
    let entry: store::EmailEntry = store::decode(key, &bytes)?;
    if Some(entry.user_id.as_str()) == user {
        kv.delete(key).await?;
    }
    Ok(())
}

/// Sync one record and store the outcome; when the record is one that
/// others wait for (an Account's organization), link those waiting.
async fn sync<K: Kv, H: Http>(
    input: SyncInput,
    tag: Option<usize>,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> SyncOutcome {
    let outcome = sync_one(input, tag, state, ctx).await;
    if matches!(
        outcome.outcome,
        Outcome::Stored {
            status: Status::Synced,
            ..
        }
    ) && others_link_to(&outcome.record, state, ctx)
    {
        // The records waiting for this one may be in this batch, written
        // and holding their leases until the batch is written: write it
        // first, and the links after, so that later syncs find them free.
        state.flush(ctx).await;
        link_waiting(&outcome.record, state, ctx).await;
        state.flush(ctx).await;
    }
    outcome
}

/// Whether records can wait for `record`: it is an organization in Zendesk.
fn others_link_to<K: Kv, H: Http>(
    record: &RecordRef,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> bool {
    ctx.settings.destination == crate::settings::DestinationKind::Zendesk
        && state.mapping.object(&record.object).is_some_and(|o| {
            crate::mapping::ZendeskEntity::parse(&o.entity)
                == Some(crate::mapping::ZendeskEntity::Organization)
        })
}

/// Sync the records waiting for `linked` again (process `link`): now that
/// it has its destination record, they get their link. Only while at least
/// half the request's deadline is left, so that a message's own records come
/// first; a record not linked now is linked by its own next arrival or the
/// linked record's next sync.
async fn link_waiting<K: Kv, H: Http>(
    linked: &RecordRef,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) {
    let Ok(waiting) = store::load_waiting(ctx.kv, linked).await else {
        return;
    };
    for record in waiting.into_iter().take(waiting::LINKS_PER_SYNC) {
        let half = crate::budget::REQUEST_DEADLINE / 2;
        if ctx.budget.remaining((ctx.elapsed)() + half).is_err() {
            return;
        }
        let input = SyncInput {
            process: Process::Link,
            arrival: Arrival::Stored { record },
            options: SyncOptions {
                force: true,
                stage: false,
            },
        };
        sync_one(input, None, state, ctx).await;
    }
}

/// Sync one record under its leases: the record's, and on Zendesk its
/// email's for a user (two records may share one Zendesk user and its
/// `email/` entry; the other destinations keep no such entry, so their
/// syncs take one lease, one write fewer each way).
async fn sync_one<K: Kv, H: Http>(
    input: SyncInput,
    tag: Option<usize>,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> SyncOutcome {
    let reference = input.arrival.record();
    let mut guarded = vec![store::record_key(&reference)];
    let mut emails = EmailKeys::default();
    let email_settled =
        matches!(&input.arrival, Arrival::Answered { answer, .. } if answer.email_settled);
    if ctx.settings.destination == crate::settings::DestinationKind::Zendesk && !email_settled {
        emails = email_keys_for(ctx.kv, &input.arrival, &state.mapping).await;
        // Email leases in key order, so that two records trading emails
        // wait for each other instead of each holding what the other needs.
        let mut keys: Vec<String> = emails
            .synced
            .iter()
            .chain(&emails.replaced)
            .cloned()
            .collect();
        keys.sort();
        guarded.extend(keys);
    }
    let outcome = match lease::hold(ctx, &guarded).await {
        Err(e) => Outcome::NotStored(e),
        Ok(Err(until)) => Outcome::Busy { until },
        Ok(Ok(held)) => {
            // The record and its index entries are written, and the leases
            // given back, with the batch's other syncs ([`SyncState::flush`]);
            // the index's counters follow.
            match decide(input, state, ctx, emails.replaced.as_deref()).await {
                Err(e) => {
                    lease::release_all(ctx.kv, held).await;
                    Outcome::NotStored(e)
                }
                Ok(Decided {
                    outcome,
                    placed,
                    called_out,
                }) => {
                    state.unwritten.borrow_mut().push(Unwritten {
                        input: tag,
                        placed,
                        held,
                    });
                    // Written at once after a call to the destination (the
                    // record's lease is not held longer than its own push:
                    // the batch saves nothing next to a network call), or
                    // after an email change (another record of the batch
                    // may want the old email's lease).
                    if called_out || emails.replaced.is_some() {
                        state.flush(ctx).await;
                    }
                    outcome
                }
            }
        }
    };
    state.slots.done(&reference.object);
    SyncOutcome {
        record: reference,
        outcome,
    }
}

/// What [`decide`] answers: the outcome, what to write (the record, when
/// it changed, with its index entries), and whether it called the
/// destination over the network.
struct Decided {
    outcome: Outcome,
    placed: index::Placed,
    called_out: bool,
}

/// Decide and push one record (under its lease).
async fn decide<K: Kv, H: Http>(
    input: SyncInput,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
    replaced_email: Option<&str>,
) -> Result<Decided, KvError> {
    let existing = store::load_record(ctx.kv, &input.arrival.record()).await?;
    let before = existing.as_ref().map(index::Before::of);
    let calls_before = existing.as_ref().map_or(0, |r| r.destination_calls);
    let sweep = input.process == Process::Reconcile;
    let (outcome, record) = sync_record(input, existing, state, ctx).await?;
    let Some(mut record) = record else {
        return Ok(Decided {
            outcome,
            placed: index::Placed::default(),
            called_out: false,
        });
    };
    // Dry-run counts the calls it would make; only a real one is a wait
    // that other requests for this record should not sit through.
    let called_out = record.destination_calls > calls_before
        && ctx.settings.destination != crate::settings::DestinationKind::DryRun;
    forget_replaced_email(ctx.kv, replaced_email, &record).await?;
    let mut placed = index::place(
        ctx.kv,
        state.generation,
        before.as_ref(),
        &mut record,
        Some(&state.slots),
    )
    .await?;
    if sweep
        && matches!(
            outcome,
            Outcome::Stored {
                status: Status::Synced,
                ..
            }
        )
    {
        record.healed_at = Some(ctx.now);
    }
    // A repeat adds no run when the whole message repeats: it names none.
    // A number that cannot be taken (a busy store) costs the record only
    // the note, never its sync: the run then takes one when it is recorded.
    if outcome != Outcome::Repeat {
        if let Ok(Some(run)) = state.run_id(ctx.kv).await {
            record.note_run(&run);
        }
    }
    placed.writes.insert(0, store::record_entry(&record)?);
    Ok(Decided {
        outcome,
        placed,
        called_out,
    })
}

/// Decide and push one record, as `existing` was stored; answers the
/// outcome and the record to write (none when nothing changed on it).
async fn sync_record<K: Kv, H: Http>(
    input: SyncInput,
    existing: Option<SyncRecord>,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> Result<(Outcome, Option<SyncRecord>), KvError> {
    let SyncInput {
        process,
        arrival,
        options,
    } = input;
    let reference = arrival.record();
    let now = ctx.now;

    let from_file = matches!(arrival, Arrival::Row { .. });
    let mut answered = None;
    let (mut record, sobject, delivery) = match arrival {
        Arrival::Unusable { id, problem, .. } => {
            let record = existing
                .unwrap_or_else(|| SyncRecord::new(&reference.object, &reference.id, process));
            return Ok(record_unusable(record, id, problem, process, ctx));
        }
        Arrival::Stored { .. } | Arrival::Answered { .. } => {
            if let Arrival::Answered { answer, .. } = arrival {
                answered = Some(answer);
            }
            let Some(record) = existing else {
                return Ok((Outcome::Unknown, None));
            };
            if record.source_fields.is_empty() {
                return Ok((Outcome::NothingToSync(
                    "nothing received from Salesforce for this record yet; update it in Salesforce or backfill it".into(),
                ), None));
            }
            let so = SObject {
                object_type: record.object.clone(),
                id: record.salesforce_id.clone(),
                fields: record.source_fields.clone(),
            };
            // Changed since its job, and synced without the email's lease:
            // left for a later collect, which takes it.
            let changed = |a: &Answer| {
                ready_to_push(process, &so, state, ctx.settings)
                    .is_none_or(|(_, fingerprint)| fingerprint != a.fingerprint)
            };
            if answered
                .as_deref()
                .is_some_and(|a| a.email_settled && changed(a))
            {
                return Ok((Outcome::Busy { until: now }, None));
            }
            (record, so, None)
        }
        Arrival::Notification { id, sobject } => {
            let record = existing
                .unwrap_or_else(|| SyncRecord::new(&sobject.object_type, &sobject.id, process));
            (record, sobject, Some(id))
        }
        Arrival::Row { sobject } => {
            let record = existing
                .unwrap_or_else(|| SyncRecord::new(&sobject.object_type, &sobject.id, process));
            (record, sobject, None)
        }
    };

    let ignore = |record: &mut SyncRecord, reason: IgnoreReason, id: &str| {
        record.last_ignored = Some(Ignored {
            reason,
            notification_id: id.to_string(),
            trigger: process,
            source_modified_at: sobject.modified_at().map(str::to_string),
            at: now,
        });
    };
    if let Some(id) = &delivery {
        if record.notification_ids.contains(id) {
            ignore(&mut record, IgnoreReason::Duplicate, id);
            return Ok((Outcome::Repeat, Some(record)));
        }
    }
    // A file row carries no delivery order of its own: without a stamp it
    // cannot be told apart from an old export, so it never overwrites a
    // record that holds a stamped state.
    let unstamped_row = from_file
        && stamps_of(&sobject) == (None, None)
        && (record.source_modified_at.is_some() || record.source_system_modstamp.is_some());
    if is_stale(&record, &sobject) || unstamped_row {
        let why = if unstamped_row {
            "no parseable LastModifiedDate or SystemModstamp: the row cannot be ordered against the stored state, which has one, so it was not applied (export LastModifiedDate with the rows)".to_string()
        } else {
            format!(
                "older than the state already applied (LastModifiedDate {}); not applied",
                record.source_modified_at.as_deref().unwrap_or("unknown")
            )
        };
        ignore(
            &mut record,
            IgnoreReason::Stale,
            delivery.as_deref().unwrap_or(""),
        );
        if let Some(id) = &delivery {
            record.remember_notification(id);
        }
        return Ok((Outcome::Stale { why }, Some(record)));
    }

    record.last_trigger = process;
    let waited_for = record.waiting_for.clone();
    let staged = apply(
        process,
        options,
        &mut record,
        &sobject,
        answered.as_deref(),
        state,
        ctx,
    )
    .await;
    if staged {
        return Ok((Outcome::Staged, Some(record)));
    }
    note_waiting(waited_for, &mut record, ctx).await;
    // A delivery is remembered as applied only when its outcome is final, so
    // that the redelivery of a transient or configuration failure is synced
    // again rather than dropped as a repeat.
    if let Some(id) = &delivery {
        if record
            .current_failure()
            .is_none_or(|f| !f.kind.needs_redelivery())
        {
            record.remember_notification(id);
        }
    }
    Ok((Outcome::stored(&record), Some(record)))
}

/// Record an unusable notification on its record: skipped for a record
/// deleted before delivery, an `invalid` error otherwise. Nothing is pushed
/// and the record's source fields are kept as they were.
fn record_unusable<K: Kv, H: Http>(
    mut record: SyncRecord,
    id: Option<String>,
    problem: NotificationProblem,
    process: Process,
    ctx: &Context<'_, K, H>,
) -> (Outcome, Option<SyncRecord>) {
    if id
        .as_ref()
        .is_some_and(|id| record.notification_ids.contains(id))
    {
        return (Outcome::Repeat, None);
    }
    record.last_trigger = process;
    if problem.is_deletion() {
        record.mark_skipped(ctx.now, SkipReason::DeletedBeforeDelivery);
    } else {
        record.mark_error(
            ctx.now,
            Failure::new(ErrorKind::Invalid, problem.to_string()),
        );
    }
    if let Some(id) = &id {
        record.remember_notification(id);
    }
    (Outcome::stored(&record), Some(record))
}

/// Bring `record` up to date with `so`, the record as Salesforce sent it:
/// check the mapping and the object's triggers, honour pause, skip when no
/// mapped field changed (unless forced), map, push, and note the outcome.
/// `true`: staged for a bulk job instead of pushed ([`SyncOptions::stage`]).
#[allow(clippy::too_many_arguments)]
async fn apply<K: Kv, H: Http>(
    process: Process,
    options: SyncOptions,
    record: &mut SyncRecord,
    so: &SObject,
    answered: Option<&Answer>,
    state: &SyncState,
    ctx: &Context<'_, K, H>,
) -> bool {
    let now = ctx.now;
    record.source_fields = so.fields.clone();
    // Stamps only move forward, each against its own kind: a missing or
    // unparseable one never replaces a good one.
    let (last_modified, modstamp) = stamps_of(so);
    if let Some(t) = last_modified {
        record.source_modified_at = Some(t);
    }
    if let Some(t) = modstamp {
        record.source_system_modstamp = Some(t);
    }

    let Some(object_mapping) = state.mapping.object(&so.object_type) else {
        record.mark_skipped(
            now,
            SkipReason::ObjectNotMapped {
                object: so.object_type.clone(),
            },
        );
        return false;
    };
    record.links = object_mapping
        .links
        .values()
        .filter_map(|field| {
            so.text(field)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (field.clone(), normalize_if_id(v)))
        })
        .collect();
    if !object_mapping.accepts(process) {
        record.mark_skipped(
            now,
            SkipReason::TriggerOff {
                process,
                object: so.object_type.clone(),
            },
        );
        return false;
    }
    let destination_problems =
        check_object_for_destination(object_mapping, ctx.settings.destination);
    if !destination_problems.is_empty() {
        let text: Vec<String> = destination_problems
            .iter()
            .map(ToString::to_string)
            .collect();
        record.mark_error(
            now,
            Failure::config(format!(
                "the active mapping does not fit destination {}: {}",
                ctx.settings.destination.as_str(),
                text.join("; ")
            )),
        );
        return false;
    }
    if state.paused {
        record.status = Status::Pending;
        record.skip_reason = None;
        record.last_attempt_at = Some(now);
        return false;
    }
    // A converted Lead pushes nothing: its Contact has its user now.
    if let Some(contact) = record
        .converted_to
        .clone()
        .or_else(|| crate::conversion::converted_to(so))
    {
        if record.converted_to.is_none() {
            if let Err(failure) =
                crate::conversion::hand_over(ctx, state, process, record, so, &contact).await
            {
                record.mark_error(now, failure);
                return false;
            }
        }
        record.mark_skipped(now, SkipReason::Converted { contact });
        return false;
    }
    let fingerprint = object_mapping.fingerprint(so);
    let target = ctx.settings.destination_identity();
    // A record that never synced, or whose last attempt failed, is pushed;
    // otherwise an arrival whose mapped fields are what was last synced has
    // nothing to send.
    if !options.force
        && record.status != Status::Error
        && record.ever_synced
        && record.fingerprint.as_deref() == Some(fingerprint.as_str())
        && record.synced_to.as_deref() == Some(target.as_str())
    {
        record.mark_skipped(now, SkipReason::Unchanged);
        return false;
    }
    let mapped = match object_mapping.apply(so) {
        Err(e) => {
            record.mark_error(now, Failure::permanent(e.to_string()));
            return false;
        }
        Ok(mapped) => mapped,
    };
    if let Err(why) = ctx.budget.remaining((ctx.elapsed)()) {
        record.mark_error(
            now,
            Failure::transient(format!(
                "not attempted: {why}; Salesforce redelivers the message (for resend or backfill, run it again)"
            )),
        );
        return false;
    }
    if options.stage && answered.is_none() {
        record.status = Status::Pending;
        record.skip_reason = None;
        record.last_attempt_at = Some(now);
        return true;
    }
    // A bulk job's answer stands for the push when the record's fields are
    // still those it sent; otherwise the job may have written older fields
    // after a newer push, and the record is pushed again.
    let pushed = match answered.filter(|a| a.fingerprint == fingerprint) {
        Some(a) => {
            destination::zendesk::bulk::settle(
                ctx,
                &state.mapping,
                &mapped,
                record,
                &a.answer,
                a.organization,
                a.email_settled,
            )
            .await
        }
        None => {
            record.destination_calls += 1;
            destination::push(ctx, &state.mapping, &so.object_type, &mapped, record).await
        }
    };
    match pushed {
        Ok(Pushed {
            destination,
            payload,
            syncing_record,
            fields_synced,
            missing_link,
        }) => {
            match missing_link {
                Some(linked) => {
                    let wait = waiting::after_arrival(record.waiting_for.take(), linked, now);
                    record.mark_partly_synced(now, destination, waiting::failure(&wait, now));
                    record.waiting_for = Some(wait);
                }
                None => {
                    record.mark_synced(now, destination);
                    record.waiting_for = None;
                }
            }
            record.fingerprint = Some(fingerprint);
            record.synced_to = Some(target);
            record.last_payload = payload;
            record.syncing_record = syncing_record;
            record.fields_synced = fields_synced;
        }
        Err(failure) => record.mark_error(now, failure),
    }
    false
}

/// What [`apply`] would push for `so` now, when nothing stands in its way
/// (the object is mapped, its trigger on, it fits the destination, sync is
/// not paused, the mapping applies): the mapped record and its
/// fingerprint. Bulk calls ([`crate::bulk`]) take such records; anything
/// else goes through [`sync`], which records why.
pub fn ready_to_push(
    process: Process,
    so: &SObject,
    state: &SyncState,
    settings: &crate::settings::Settings,
) -> Option<(crate::mapping::Mapped, String)> {
    if state.paused || crate::conversion::converted_to(so).is_some() {
        return None;
    }
    let object_mapping = state.mapping.object(&so.object_type)?;
    if !object_mapping.accepts(process)
        || !check_object_for_destination(object_mapping, settings.destination).is_empty()
    {
        return None;
    }
    let mapped = object_mapping.apply(so).ok()?;
    Some((mapped, object_mapping.fingerprint(so)))
}

/// Keep the waiting lists in step with the record: on the list of what it
/// now waits for, off the list of what it waited for before. A record that
/// could not be put on its list is retried rather than left unlinked.
async fn note_waiting<K: Kv, H: Http>(
    before: Option<crate::record::Waiting>,
    record: &mut SyncRecord,
    ctx: &Context<'_, K, H>,
) {
    let this = RecordRef::new(&record.object, &record.salesforce_id);
    let now_waits = record.waiting_for.as_ref().map(|w| w.record.clone());
    let before = before.map(|w| w.record);
    if let Some(old) = before.filter(|b| Some(b) != now_waits.as_ref()) {
        // Off a list it no longer needs: a leftover entry only costs one
        // needless link later.
        let _ = waiting::note(ctx, &old, &this, false).await;
    }
    if let Some(linked) = now_waits {
        if let Err(why) = waiting::note(ctx, &linked, &this, true).await {
            record.mark_error(
                ctx.now,
                Failure::transient(format!(
                    "waiting for {linked}, but could not note it on its waiting list ({why}); retried"
                )),
            );
        }
    }
}

/// The record's `LastModifiedDate` and `SystemModstamp`, each only when it
/// parses as a date-time.
fn stamps_of(so: &SObject) -> (Option<String>, Option<String>) {
    let parsed = |field: &str| {
        so.text(field)
            .map(str::trim)
            .filter(|t| DateTime::parse_from_rfc3339(t).is_ok())
            .map(str::to_string)
    };
    (parsed("LastModifiedDate"), parsed("SystemModstamp"))
}

/// Whether `so` is older than the state applied to `record`: compared like
/// with like — `LastModifiedDate` with `LastModifiedDate`, else
/// `SystemModstamp` with `SystemModstamp` (two different clocks are never
/// compared). Unparseable or missing stamps are never called older.
fn is_stale(record: &SyncRecord, so: &SObject) -> bool {
    let (last_modified, modstamp) = stamps_of(so);
    let older = |stored: Option<&str>, incoming: Option<String>| match (
        stored.map(DateTime::parse_from_rfc3339),
        incoming.as_deref().map(DateTime::parse_from_rfc3339),
    ) {
        (Some(Ok(stored)), Some(Ok(incoming))) => Some(incoming < stored),
        _ => None,
    };
    older(record.source_modified_at.as_deref(), last_modified)
        .or_else(|| older(record.source_system_modstamp.as_deref(), modstamp))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::executor::block_on;

    use super::*;
    use crate::memory::{settings_from, MemoryKv, ScriptedHttp};
    use crate::sobject::FieldValue;

    const ID: &str = "003000000000001AAA";

    fn contact(first: &str, stamps: &[(&str, &str)]) -> SObject {
        let mut fields: BTreeMap<String, FieldValue> = [
            ("Id", ID),
            ("Email", "ana@example.com"),
            ("FirstName", first),
            ("LastName", "Lima"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), FieldValue::Text(v.to_string())))
        .collect();
        for (k, v) in stamps {
            fields.insert(k.to_string(), FieldValue::Text(v.to_string()));
        }
        SObject::new("Contact".into(), ID, fields).expect("valid id")
    }

    /// Run `f` with a dry-run context and the state it would load.
    fn with_context<T>(
        kv: &MemoryKv,
        f: impl FnOnce(&Context<'_, MemoryKv, ScriptedHttp>, &SyncState) -> T,
    ) -> T {
        let settings = settings_from(&[]);
        let http = ScriptedHttp::default();
        let ctx = Context::new(
            &settings,
            kv,
            &http,
            chrono::DateTime::from_timestamp(0, 0).expect("epoch"),
            &|| std::time::Duration::ZERO,
            7,
        );
        let state = block_on(SyncState::load(kv)).expect("state");
        f(&ctx, &state)
    }

    fn sync_one(kv: &MemoryKv, process: Process, arrival: Arrival) -> Outcome {
        let input = SyncInput {
            process,
            arrival,
            options: SyncOptions::default(),
        };
        with_context(kv, |ctx, state| block_on(sync_all(vec![input], state, ctx)))
            .remove(0)
            .outcome
    }

    fn notification(id: &str, so: SObject) -> Arrival {
        Arrival::Notification {
            id: id.into(),
            sobject: so,
        }
    }

    fn stored(kv: &MemoryKv) -> SyncRecord {
        block_on(store::load_record(kv, &RecordRef::new("Contact", ID)))
            .expect("read")
            .expect("stored")
    }

    #[test]
    fn stamps_only_move_forward_and_are_compared_like_with_like() {
        let kv = MemoryKv::new();
        let t2 = [
            ("LastModifiedDate", "2026-11-20T10:00:00.000Z"),
            ("SystemModstamp", "2026-11-20T10:00:05.000Z"),
        ];
        sync_one(
            &kv,
            Process::Created,
            notification("n1", contact("Ana", &t2)),
        );

        // A backfill row without any stamp cannot be ordered: it does not
        // overwrite the stamped state.
        let out = sync_one(
            &kv,
            Process::Backfill,
            Arrival::Row {
                sobject: contact("Old", &[]),
            },
        );
        assert!(matches!(out, Outcome::Stale { .. }), "{out:?}");
        assert_eq!(
            stored(&kv).source_fields["FirstName"],
            FieldValue::Text("Ana".into())
        );

        // A notification without stamps is the record as it is now: applied,
        // and the good stamps stay.
        let out = sync_one(
            &kv,
            Process::Updated,
            notification("n2", contact("Bia", &[])),
        );
        assert!(matches!(out, Outcome::Stored { .. }), "{out:?}");
        let r = stored(&kv);
        assert_eq!(r.source_fields["FirstName"], FieldValue::Text("Bia".into()));
        assert_eq!(
            r.source_modified_at.as_deref(),
            Some("2026-11-20T10:00:00.000Z")
        );

        // An unparseable LastModifiedDate replaces nothing; the SystemModstamp
        // it carries is compared with the stored SystemModstamp only.
        let older_modstamp = [
            ("LastModifiedDate", "yesterday"),
            ("SystemModstamp", "2026-11-20T09:00:00.000Z"),
        ];
        let out = sync_one(
            &kv,
            Process::Updated,
            notification("n3", contact("Cid", &older_modstamp)),
        );
        assert!(matches!(out, Outcome::Stale { .. }), "{out:?}");
        let newer_modstamp = [
            ("LastModifiedDate", "yesterday"),
            ("SystemModstamp", "2026-11-20T11:00:00.000Z"),
        ];
        sync_one(
            &kv,
            Process::Updated,
            notification("n4", contact("Dora", &newer_modstamp)),
        );
        let r = stored(&kv);
        assert_eq!(
            r.source_fields["FirstName"],
            FieldValue::Text("Dora".into())
        );
        assert_eq!(
            r.source_modified_at.as_deref(),
            Some("2026-11-20T10:00:00.000Z")
        );
        assert_eq!(
            r.source_system_modstamp.as_deref(),
            Some("2026-11-20T11:00:00.000Z")
        );

        // An older LastModifiedDate is stale even with a newer SystemModstamp:
        // LastModifiedDate decides when both sides have it.
        let older = [
            ("LastModifiedDate", "2026-11-20T09:59:00.000Z"),
            ("SystemModstamp", "2026-11-20T12:00:00.000Z"),
        ];
        let out = sync_one(
            &kv,
            Process::Updated,
            notification("n5", contact("Eva", &older)),
        );
        assert!(matches!(out, Outcome::Stale { .. }), "{out:?}");
    }

    fn batch(kv: &MemoryKv, ids: &[u64]) -> Vec<Outcome> {
        let inputs = ids
            .iter()
            .map(|n| {
                let id = format!("003{n:012}AAA");
                let fields = [
                    ("Id", id.as_str()),
                    ("Email", "x@example.com"),
                    ("LastName", "L"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), FieldValue::Text(v.to_string())))
                .collect();
                SyncInput {
                    process: Process::Created,
                    arrival: notification(
                        &format!("n{n}"),
                        SObject::new("Contact".into(), &id, fields).expect("valid id"),
                    ),
                    options: SyncOptions::default(),
                }
            })
            .collect();
        with_context(kv, |ctx, state| block_on(sync_all(inputs, state, ctx)))
            .into_iter()
            .map(|o| o.outcome)
            .collect()
    }

    fn contacts_listed(kv: &MemoryKv, log: index::Log) -> Vec<String> {
        let reach = index::Reach {
            limit: 1000,
            budget: 10_000,
        };
        let walked = block_on(index::walk(
            kv,
            0,
            log,
            Some("Contact"),
            None,
            reach,
            &|_| true,
        ))
        .expect("walk");
        let mut ids: Vec<String> = walked
            .records
            .iter()
            .map(|r| r.salesforce_id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// A batch of new records takes its index slots with one increment per
    /// log, not one per record; slots a batch took and did not use are
    /// counted as left, so counts and listings stay exact.
    #[test]
    fn a_batch_takes_its_index_slots_at_once_and_gives_back_the_unused() {
        let memory = MemoryKv::new();
        let first: Vec<u64> = (1..=10).collect();
        let outcomes = batch(&memory, &first);
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::Stored { .. })),
            "{outcomes:?}"
        );
        // `all` and `synced` once each, the registry once, `calls` once.
        let index_increments = |kv: &MemoryKv| {
            let log = kv.incremented.borrow();
            log.iter().filter(|k| k.starts_with("ix/")).count()
        };
        assert_eq!(
            index_increments(&memory),
            4,
            "index increments for 10 new records: {:?}",
            memory.incremented.borrow()
        );
        let tally = |log| contacts_tally(&memory, log);
        assert_eq!(tally(index::Log::All), 10);
        assert_eq!(tally(index::Log::Synced), 10);

        // Three repeats (no slot) and two new records: the batch takes slots
        // for five and uses two.
        let outcomes = batch(&memory, &[1, 2, 3, 11, 12]);
        assert_eq!(outcomes.len(), 5);
        assert_eq!(tally(index::Log::All), 12);
        assert_eq!(tally(index::Log::Synced), 12);
        let listed = contacts_listed(&memory, index::Log::All);
        assert_eq!(listed.len(), 12, "{listed:?}");
        assert_eq!(contacts_listed(&memory, index::Log::Synced), listed);
        listed.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
    }

    fn contacts_tally(kv: &MemoryKv, log: index::Log) -> u64 {
        block_on(index::tallies(kv, 0)).expect("tallies")["Contact"].members[&log]
    }

    /// When a batch's write fails, every record of it is answered as not
    /// stored (so that Salesforce sends the message again) and gives its
    /// slots back: the retry is counted once.
    #[test]
    fn a_batch_whose_write_fails_is_not_stored_and_counted_once_on_retry() {
        let memory = MemoryKv::new();
        batch(&memory, &[1]);
        *memory.fail_prefix.borrow_mut() = Some("rec/".into());
        let outcomes = batch(&memory, &[2, 3, 4]);
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::NotStored(_))),
            "{outcomes:?}"
        );
        assert_eq!(contacts_tally(&memory, index::Log::All), 1);
        *memory.fail_prefix.borrow_mut() = None;
        let outcomes = batch(&memory, &[2, 3, 4]);
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::Stored { .. })),
            "{outcomes:?}"
        );
        assert_eq!(contacts_tally(&memory, index::Log::All), 4);
        assert_eq!(contacts_tally(&memory, index::Log::Synced), 4);
        assert_eq!(contacts_listed(&memory, index::Log::All).len(), 4);
    }

    /// A store busy for a moment when an object's first records are written
    /// (their batch fails, and so does the first undo) still leaves the
    /// object in the registry: the retry counts and lists them.
    #[test]
    fn an_objects_first_batch_failing_on_a_busy_store_keeps_it_registered() {
        let memory = MemoryKv::new();
        // The registry's own write, the batch and the first undo fail.
        memory.fail_next_sets.set(3);
        let outcomes = batch(&memory, &[1, 2]);
        assert!(
            outcomes.iter().any(|o| matches!(o, Outcome::NotStored(_))),
            "{outcomes:?}"
        );
        // Salesforce sends the message again.
        let outcomes = batch(&memory, &[1, 2]);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Stored { .. } | Outcome::Repeat)),
            "{outcomes:?}"
        );
        assert_eq!(contacts_tally(&memory, index::Log::All), 2);
        assert_eq!(contacts_listed(&memory, index::Log::All).len(), 2);
    }
}
