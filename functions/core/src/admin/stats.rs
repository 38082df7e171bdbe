//! `GET /admin/stats`: counts by status, overall and per object.
//!
//! Counts come from the record index's counters ([`crate::index`]), never
//! from reading records, so stats cost the same at ten records or a million.
//! `synced` counts records ever synced and `error` those whose last attempt
//! failed: the two overlap, as admins expect from the seed connectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::{self, Log};
use crate::io::{Kv, KvError};
use crate::store::{self, Generation};

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
    /// The record index the counts come from: its generation, and since
    /// when (absent until a first rebuild).
    #[serde(default)]
    pub index: Generation,
}

impl Counts {
    fn from_tally(tally: &index::Tally) -> Counts {
        let members = |log| tally.members.get(&log).copied().unwrap_or_default();
        Counts {
            total: members(Log::All),
            synced: members(Log::Synced),
            error: members(Log::Error),
            skipped: members(Log::Skipped),
            pending: members(Log::Pending),
            destination_calls: tally.calls,
        }
    }

    fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.synced += other.synced;
        self.error += other.error;
        self.skipped += other.skipped;
        self.pending += other.pending;
        self.destination_calls += other.destination_calls;
    }
}

/// The counts, read from the record index's counters: a few reads whatever
/// the number of records. `synced` counts ever-synced records and `error`
/// those whose last attempt failed, so the two overlap.
pub async fn compute<K: Kv>(kv: &K) -> Result<Stats, KvError> {
    let generation = store::generation(kv).await?;
    let mut stats = Stats {
        paused: store::is_paused(kv).await?,
        index: generation,
        ..Stats::default()
    };
    for (object, tally) in index::tallies(kv, generation.number).await? {
        let counts = Counts::from_tally(&tally);
        stats.counts.add(&counts);
        stats.by_object.insert(object, counts);
    }
    Ok(stats)
}
