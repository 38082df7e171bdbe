//! `sfsync resend`: by record, or every record a filter matches, in
//! batches, with a progress bar. Records another request was syncing at the
//! time (`busy`) are sent again, by id, a few times. On Zendesk, records
//! sent in bulk jobs (`queued`) are counted once their answers are
//! collected: after the last batch, the command collects every second
//! until no job is open. More than 100 records ask first (`--yes` does
//! not); `--dry-run` lists what would be sent. Exits 3 when some records
//! still failed.

use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sync_core::admin::wire::{ResendOutcome, ResendReply, ResendResult, Stats};

use sync_core::admin::wire::{RecordView, RecordsPage};

use crate::client::Client;
use crate::output::{confirm, usage, Outcome, Output, CONFIRM_OVER};
use crate::FilterArgs;

/// What `sfsync resend` was asked.
pub struct Request {
    pub records: Vec<String>,
    pub filter: FilterArgs,
    pub batch: usize,
    pub collect: bool,
    pub dry_run: bool,
    pub yes: bool,
}

/// The first records the filter matches (up to `limit`), and whether there
/// are more.
fn first_matches(
    client: &Client,
    filter: &FilterArgs,
    limit: usize,
) -> Result<(Vec<RecordView>, bool)> {
    let page: RecordsPage =
        client.get(&format!("/admin/records?limit={limit}{}", filter.query()))?;
    Ok((page.records, page.next_cursor.is_some()))
}

/// `--dry-run`: which records would be sent, and where.
fn dry_run(client: &Client, out: &Output, req: &Request, total: Option<u64>) -> Result<Outcome> {
    let st: Stats = client.get("/admin/stats")?;
    let shown: Vec<String> = if req.records.is_empty() {
        let (first, more) = first_matches(client, &req.filter, 20)?;
        let mut list: Vec<String> = first.iter().map(|r| r.reference().to_string()).collect();
        if more {
            list.push("…".into());
        }
        list
    } else {
        req.records.clone()
    };
    if out.json {
        return out
            .object(&json!({
                "dry_run": true,
                "records": total,
                "first": shown,
                "paused": st.paused,
            }))
            .map(|()| Outcome::Done);
    }
    out.say(format!(
        "would resend {} records with the active mapping (nothing was sent):",
        total.map_or_else(|| "the matching".to_string(), |t| t.to_string())
    ));
    for r in &shown {
        out.say(format!("  {r}"));
    }
    if st.paused {
        out.say("sync is paused: a resend now would be refused (sfsync resume first)");
    }
    Ok(Outcome::Done)
}

/// How many records the filter covers, when the stats can tell.
fn expected(client: &Client, filter: &FilterArgs) -> Result<Option<u64>> {
    let st: Stats = client.get("/admin/stats")?;
    let scope = match &filter.object {
        Some(o) => st.by_object.get(o).cloned().unwrap_or_default(),
        None => st.counts,
    };
    Ok(
        match (
            filter.status.as_deref(),
            &filter.q,
            &filter.since,
            &filter.until,
        ) {
            (Some("synced"), None, None, None) => Some(scope.synced),
            (Some("error"), None, None, None) => Some(scope.error),
            (Some("skipped"), None, None, None) => Some(scope.skipped),
            (Some("pending"), None, None, None) => Some(scope.pending),
            (None, None, None, None) => Some(scope.total),
            _ => None,
        },
    )
}

#[derive(Default)]
struct Tally {
    synced: u64,
    errors: u64,
    other: u64,
    failures: Vec<String>,
    /// Records answered `busy`, to send again.
    busy: Vec<String>,
    /// Records in bulk jobs whose answers are not collected yet.
    queued: u64,
}

/// How many times busy records are sent again, a second apart.
const BUSY_ROUNDS: usize = 3;

/// How many collects in a row may bring nothing back before the command
/// stops waiting for open bulk jobs (a second apart).
const COLLECT_IDLE_ROUNDS: usize = 60;

impl Tally {
    fn add(&mut self, results: &[ResendResult]) {
        for r in results {
            match r.outcome {
                ResendOutcome::Synced => self.synced += 1,
                ResendOutcome::Error | ResendOutcome::Unknown => {
                    self.errors += 1;
                    let outcome = if r.outcome == ResendOutcome::Unknown {
                        "unknown"
                    } else {
                        "error"
                    };
                    self.failures.push(format!(
                        "{}: {outcome} {}",
                        r.record,
                        r.error.as_deref().unwrap_or_default()
                    ));
                }
                ResendOutcome::Skipped | ResendOutcome::Pending => self.other += 1,
                ResendOutcome::Busy => self.busy.push(r.record.to_string()),
                ResendOutcome::Queued => self.queued += 1,
            }
        }
    }

    /// A reply: its records, and the bulk answers it collected.
    fn add_reply(&mut self, reply: &ResendReply) -> u64 {
        let before = self.done();
        self.add(&reply.results);
        self.add(&reply.collected);
        self.queued = self.queued.saturating_sub(reply.collected.len() as u64);
        self.done() - before
    }

    fn done(&self) -> u64 {
        self.synced + self.errors + self.other
    }
}

pub fn run(client: &Client, out: &Output, req: Request) -> Result<Outcome> {
    let collect = req.collect;
    if collect && !req.filter.is_empty() {
        return Err(usage(
            "--collect goes alone: it writes the outcomes of bulk jobs already sent",
        ));
    }
    if !collect && req.records.is_empty() && req.filter.is_empty() {
        return Err(usage(
            "nothing to resend: name records (Contact/003…) or a filter (--status error)",
        ));
    }
    if !req.records.is_empty() && !req.filter.is_empty() {
        return Err(usage("give either records or filters, not both"));
    }
    let total = if collect {
        None
    } else if req.records.is_empty() {
        match expected(client, &req.filter)? {
            Some(t) => Some(t),
            None => {
                let (first, more) = first_matches(client, &req.filter, CONFIRM_OVER as usize + 1)?;
                (!more).then_some(first.len() as u64)
            }
        }
    } else {
        Some(req.records.len() as u64)
    };
    if req.dry_run {
        return dry_run(client, out, &req, total);
    }
    if !collect {
        confirm(req.yes, total, "resend")?;
    }
    let Request {
        records,
        filter,
        batch,
        ..
    } = req;
    let bar = match total {
        _ if out.json => ProgressBar::hidden(),
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut open_jobs = 0;
    let mut step = |reply: &ResendReply| {
        let done = tally.add_reply(reply);
        bar.inc(done);
        let rate = tally.done() as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "synced {}, errors {}, in bulk jobs {}, {rate:.0}/s",
            tally.synced, tally.errors, tally.queued
        ));
        reply.open_jobs
    };
    let batch = batch.clamp(1, 1000);
    if collect {
        let reply: ResendReply = client.post("/admin/resend", &json!({ "collect": true }))?;
        open_jobs = step(&reply);
    } else if !records.is_empty() {
        for chunk in records.chunks(batch) {
            let reply: ResendReply = client.post("/admin/resend", &json!({ "records": chunk }))?;
            open_jobs = step(&reply);
        }
    } else {
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({ "filter": filter.json(), "limit": batch });
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let reply: ResendReply = client.post("/admin/resend", &body)?;
            open_jobs = step(&reply);
            match reply.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    // Bulk jobs: Zendesk does them within seconds; collect until none is
    // open, or until their records stop coming back.
    let mut idle = 0;
    while open_jobs > 0 && idle < COLLECT_IDLE_ROUNDS {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let reply: ResendReply = client.post("/admin/resend", &json!({ "collect": true }))?;
        idle = if reply.collected.is_empty() {
            idle + 1
        } else {
            0
        };
        open_jobs = step(&reply);
    }
    if tally.queued > 0 {
        tally.errors += tally.queued;
        tally.failures.push(format!(
            "{} records are still in Zendesk bulk jobs ({open_jobs} open); run `sfsync resend --collect` later to write their outcomes",
            tally.queued
        ));
    }
    for _ in 0..BUSY_ROUNDS {
        if tally.busy.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        let again = std::mem::take(&mut tally.busy);
        for chunk in again.chunks(batch) {
            let reply: ResendReply = client.post("/admin/resend", &json!({ "records": chunk }))?;
            tally.add(&reply.results);
        }
    }
    for still in std::mem::take(&mut tally.busy) {
        tally.errors += 1;
        tally.failures.push(format!(
            "{still}: busy (another request kept syncing it); resend it again"
        ));
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    out.object(&json!({
        "resent": tally.done(),
        "synced": tally.synced,
        "failed": tally.errors,
        "skipped_or_pending": tally.other,
        "seconds": seconds,
        "failures": tally.failures,
    }))?;
    out.say(format!(
        "resent {}: {} synced, {} failed, {} skipped or pending, in {seconds:.1} s",
        tally.done(),
        tally.synced,
        tally.errors,
        tally.other,
    ));
    if !out.json {
        for f in tally.failures.iter().take(20) {
            out.note(format!("  {f}"));
        }
    }
    Ok(Outcome::partial_if(tally.errors > 0))
}
