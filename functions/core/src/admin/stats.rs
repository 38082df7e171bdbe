//! `GET /admin/stats`: counts by status, overall and per object.
//!
//! The store has no secondary index, so counting walks every `rec/` key with
//! a cursor. `synced` counts records ever synced and `error` those whose last
//! attempt failed: the two overlap, as admins expect from the seed connectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::io::{Kv, KvError};
use crate::record::Status;
use crate::store;

/// Keys read per listing call when scanning records.
const SCAN_PAGE: usize = 500;

/// Counts by status, overall and per object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub synced: u64,
    pub error: u64,
    pub skipped: u64,
    pub pending: u64,
    /// Calls made to the destination (dry-run counts what it would have made).
    pub destination_calls: u64,
}

/// `GET /admin/stats`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(flatten)]
    pub counts: Counts,
    pub by_object: BTreeMap<String, Counts>,
    pub paused: bool,
    /// What is risky in the configuration (equal or short tokens, …).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Counts {
    fn add(&mut self, status: Status, ever_synced: bool, destination_calls: u32) {
        self.total += 1;
        self.destination_calls += u64::from(destination_calls);
        if ever_synced {
            self.synced += 1;
        }
        match status {
            Status::Error => self.error += 1,
            Status::Skipped => self.skipped += 1,
            Status::Pending => self.pending += 1,
            Status::Synced => {}
        }
    }
}

/// Count every record. `synced` counts ever-synced records and `error` those
/// whose last attempt failed, so the two overlap.
pub async fn compute<K: Kv>(kv: &K) -> Result<Stats, KvError> {
    let mut stats = Stats {
        paused: store::is_paused(kv).await?,
        ..Stats::default()
    };
    let mut after: Option<String> = None;
    loop {
        let keys = store::scan(kv, store::RECORD_PREFIX, after.as_deref(), SCAN_PAGE).await?;
        for key in &keys {
            if let Some(record) = store::load_record_at(kv, key).await? {
                stats
                    .counts
                    .add(record.status, record.ever_synced, record.destination_calls);
                stats
                    .by_object
                    .entry(record.object.clone())
                    .or_default()
                    .add(record.status, record.ever_synced, record.destination_calls);
            }
        }
        if keys.len() < SCAN_PAGE {
            break;
        }
        after = keys.last().cloned();
    }
    Ok(stats)
}
