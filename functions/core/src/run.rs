//! Run history: one [`Run`] per trigger, resend or backfill invocation,
//! kept by [`crate::history`]; its id starts with the start time and ends
//! with its number in the history. A run counts outcomes and keeps the failed items (bounded) with
//! their errors, so they can be passed back to resend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::{Process, Status};

/// Failed items kept per run; `failed_total` counts them all.
pub const FAILED_KEPT: usize = 200;

/// Outcome counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub synced: u32,
    pub error: u32,
    pub skipped: u32,
    pub pending: u32,
    /// Repeats and stale deliveries (nothing to do).
    #[serde(default)]
    pub ignored: u32,
}

/// One failed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedItem {
    /// `Object/SalesforceId`
    pub record: String,
    pub error: String,
}

/// One invocation of a trigger, resend or backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub process: Process,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub counts: RunCounts,
    pub failed: Vec<FailedItem>,
    #[serde(default)]
    pub failed_total: u32,
    /// Its number in the history, once taken ([`crate::history::reserve`]).
    #[serde(skip)]
    pub seq: Option<u64>,
}

impl Run {
    /// A new run; `salt` (e.g. the first item) makes ids of runs started in
    /// the same millisecond differ.
    pub fn new(process: Process, started_at: DateTime<Utc>, salt: &str) -> Run {
        let digest = Sha256::digest(format!(
            "{salt}/{}",
            started_at.timestamp_nanos_opt().unwrap_or_default()
        ));
        let suffix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Run {
            id: format!(
                "{}-{}-{suffix}",
                started_at.format("%Y%m%dT%H%M%S%3fZ"),
                process.as_str()
            ),
            process,
            started_at,
            finished_at: started_at,
            counts: RunCounts::default(),
            failed: Vec::new(),
            failed_total: 0,
            seq: None,
        }
    }

    /// Count one stored outcome.
    pub fn add(&mut self, record: &str, status: Status, error: Option<&str>) {
        match status {
            Status::Synced => self.counts.synced += 1,
            Status::Skipped => self.counts.skipped += 1,
            Status::Pending => self.counts.pending += 1,
            Status::Error => {
                self.counts.error += 1;
                self.fail(record, error.unwrap_or("unknown error"));
            }
        }
    }

    /// Count an item that has no record to be stored on (an unusable
    /// notification without a record id): counted under `status`, and listed
    /// with `reason` so that it is visible.
    pub fn note(&mut self, item: &str, status: Status, reason: &str) {
        match status {
            Status::Skipped => self.counts.skipped += 1,
            Status::Pending => self.counts.pending += 1,
            Status::Synced => self.counts.synced += 1,
            Status::Error => self.counts.error += 1,
        }
        self.fail(item, reason);
    }

    /// Count an item that failed without a stored status (e.g. not stored).
    pub fn fail(&mut self, record: &str, error: &str) {
        self.failed_total += 1;
        if self.failed.len() < FAILED_KEPT {
            self.failed.push(FailedItem {
                record: record.to_string(),
                error: error.to_string(),
            });
        }
    }

    pub fn has_failures(&self) -> bool {
        self.failed_total > 0
    }
}
