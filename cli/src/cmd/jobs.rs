//! Waiting for the Zendesk bulk jobs a pull, a sweep or a backfill sent:
//! their records' outcomes are written when a call collects the job, so
//! the command collects (`POST /admin/resend {"collect":true}`) every
//! second until no job is open, or until none comes back for a minute.

use anyhow::Result;
use serde_json::json;
use sync_core::admin::wire::{ResendOutcome, ResendReply};

use crate::client::Client;
use crate::output::Output;

/// How many collects in a row may bring nothing back before the command
/// stops waiting for open bulk jobs (a second apart).
const IDLE_ROUNDS: usize = 60;

/// What the collects wrote.
#[derive(Debug, Default)]
pub struct Collected {
    pub synced: u64,
    /// Skipped or pending.
    pub other: u64,
    /// `record: error` of each record that failed, and a last line when
    /// some stay in jobs.
    pub failures: Vec<String>,
}

/// Collect until the `open_jobs` holding `queued` records are done.
pub fn wait(client: &Client, out: &Output, open_jobs: u64, queued: u64) -> Result<Collected> {
    let mut got = Collected::default();
    if open_jobs == 0 {
        return Ok(got);
    }
    out.note(format!(
        "waiting for {open_jobs} Zendesk bulk job(s) to finish…"
    ));
    let (mut open, mut left, mut idle) = (open_jobs, queued, 0);
    while open > 0 && idle < IDLE_ROUNDS {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let reply: ResendReply = client.post("/admin/resend", &json!({ "collect": true }))?;
        idle = if reply.collected.is_empty() {
            idle + 1
        } else {
            0
        };
        for r in &reply.collected {
            match r.outcome {
                ResendOutcome::Synced => got.synced += 1,
                ResendOutcome::Error | ResendOutcome::Unknown | ResendOutcome::Busy => {
                    got.failures.push(format!(
                        "{}: {}",
                        r.record,
                        r.error.as_deref().unwrap_or("error")
                    ))
                }
                _ => got.other += 1,
            }
        }
        left = left.saturating_sub(reply.collected.len() as u64);
        open = reply.open_jobs;
    }
    if left > 0 {
        got.failures.push(format!(
            "{left} records are still in Zendesk bulk jobs ({open} open); run `sfsync resend --collect` later to write their outcomes"
        ));
    }
    Ok(got)
}
