//! Where runs are kept: a ring of slots, bounded by count and by age, read
//! newest first — without ever listing the store's keys.
//!
//! Every run takes the next number of one counter (`runs/seq`, an atomic
//! `increment` on both backends, so two nodes never take the same one) and
//! is written to slot `number mod run_retention_count` (`runs/slot/…`). The slot holds
//! the number with the run, so a reader can tell the run it expects from an
//! older one the ring has not yet overwritten. So:
//!
//! - **Count.** At most `run_retention_count` runs exist: the run numbered `n`
//!   overwrites the one numbered `n - run_retention_count`. Writing a run costs one
//!   increment and one write, whatever the history's size.
//! - **Age.** Runs that started more than `run_retention_days` ago are never
//!   listed, and each new run removes up to [`TRIMS_PER_RUN`] of the oldest
//!   expired ones (a `runs/tail` counter says where the oldest live one may
//!   be), so that a quiet deployment does not keep old errors for ever.
//! - **Reading.** `GET /admin/runs` starts at the newest number and walks
//!   down (`order=asc`: from the oldest kept, up): a page reads at most [`SLOTS_PER_PAGE`] slots, whatever the
//!   filter, and hands back a cursor (the next number) when it stopped
//!   early. `GET /admin/runs/{id}` reads one slot: a run's id ends with its
//!   number (`…-backfill-r42`).
//!
//! Lowering `run_retention_count` hides the runs above the new ring size; their slots
//! stay until the store is cleared (at most the old `run_retention_count` of them).
//! Runs written before the ring (keys `run/{id}`, ids with a hexadecimal
//! suffix) are still found by id but no longer listed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::counter;
use crate::io::{Http, Kv, KvError};
use crate::run::Run;
use crate::settings::HistoryLimits;
use crate::store;

/// The counter of run numbers: the newest run's number.
pub const SEQ_KEY: &str = "runs/seq";
/// The counter below which every run is known gone (expired or overwritten).
pub const TAIL_KEY: &str = "runs/tail";
/// Where the slots live.
pub const SLOT_PREFIX: &str = "runs/slot/";
/// The most slots one page of `GET /admin/runs` reads.
pub const SLOTS_PER_PAGE: u64 = 1_000;
/// How many slots one batched read of a page takes.
pub const READ_AHEAD: u64 = 100;
/// How many expired runs one new run removes at most.
pub const TRIMS_PER_RUN: u64 = 2;

/// What a slot holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    seq: u64,
    run: Run,
}

fn slot_key(seq: u64, limits: &HistoryLimits) -> String {
    format!("{SLOT_PREFIX}{}", seq % limits.kept.max(1))
}

fn cutoff(limits: &HistoryLimits, now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(i64::from(limits.max_age_days))
}

/// The number at the end of a ring run's id (`…-r42`).
fn seq_of(id: &str) -> Option<u64> {
    id.rsplit_once("-r")?.1.parse().ok()
}

async fn counter_at<K: Kv>(kv: &K, key: &str) -> Result<u64, KvError> {
    Ok(match kv.get(key).await? {
        None => 0,
        Some(bytes) => counter::value(&bytes)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| {
                KvError(format!(
                    "{key} holds a value that is not a counter (written by something other than sfsync); delete the key"
                ))
            })?,
    })
}

async fn load_slot<K: Kv>(
    kv: &K,
    seq: u64,
    limits: &HistoryLimits,
) -> Result<Option<Run>, KvError> {
    let key = slot_key(seq, limits);
    Ok(match kv.get(&key).await? {
        None => None,
        Some(bytes) => {
            let slot: Slot = store::decode(&key, &bytes)?;
            (slot.seq == seq).then_some(slot.run)
        }
    })
}

/// Take the next run number before the run is recorded, so that the
/// records it writes can name it ([`crate::record::SyncRecord::runs`]; the
/// pipeline takes it when it writes the run's first record). A number taken
/// by a run that is never recorded leaves a hole in the ring, which
/// listings pass over.
pub async fn reserve<K: Kv>(kv: &K) -> Result<u64, KvError> {
    Ok(u64::try_from(kv.increment(SEQ_KEY, 1).await?).unwrap_or_default())
}

/// A run id (from [`Run::new`]) with its number in place of its suffix.
pub fn numbered(id: &str, seq: u64) -> String {
    let base = id.rsplit_once('-').map_or(id, |(b, _)| b);
    format!("{base}-r{seq}")
}

/// Give `run` the number `seq` (taken with [`reserve`]).
pub fn number(run: &mut Run, seq: u64) {
    run.id = numbered(&run.id, seq);
    run.seq = Some(seq);
}

/// Keep `run`: give it the next number unless it [`reserve`]d one (its id
/// ends with it), write it over the oldest run of the ring, and remove
/// expired runs. The id is final once this returns `Ok`.
pub async fn record<K: Kv>(
    kv: &K,
    limits: &HistoryLimits,
    now: DateTime<Utc>,
    run: &mut Run,
) -> Result<(), KvError> {
    let seq = match run.seq {
        Some(seq) => seq,
        None => {
            let seq = u64::try_from(kv.increment(SEQ_KEY, 1).await?).unwrap_or_default();
            number(run, seq);
            seq
        }
    };
    let key = slot_key(seq, limits);
    let bytes = serde_json::to_vec(&Slot {
        seq,
        run: run.clone(),
    })
    .map_err(|e| KvError(format!("could not encode {key}: {e}")))?;
    kv.set(&key, &bytes).await?;
    // Removing old runs is housekeeping: a failure leaves them for the next.
    let _ = trim(kv, limits, now, seq).await;
    Ok(())
}

/// How many runs the ring holds at most now (expired runs not yet removed
/// included), and the newest run's number.
pub async fn size<K: Kv>(kv: &K, limits: &HistoryLimits) -> Result<(u64, u64), KvError> {
    let newest = counter_at(kv, SEQ_KEY).await?;
    let tail = counter_at(kv, TAIL_KEY).await?;
    Ok((newest.saturating_sub(tail).min(limits.kept), newest))
}

/// Keep `run` as [`record`] does, and note it for the request's log line
/// (noted even when it could not be written: the line says what happened).
pub async fn keep<K: Kv, H: Http>(ctx: &Context<'_, K, H>, run: &mut Run) -> Result<(), KvError> {
    let kept = record(ctx.kv, &ctx.settings.history, ctx.now, run).await;
    ctx.note_run(run);
    kept
}

/// Remove up to [`TRIMS_PER_RUN`] of the oldest runs if they expired.
async fn trim<K: Kv>(
    kv: &K,
    limits: &HistoryLimits,
    now: DateTime<Utc>,
    newest: u64,
) -> Result<(), KvError> {
    let tail = counter_at(kv, TAIL_KEY).await?;
    // Everything at or below `newest - kept` was overwritten already.
    let mut next = (tail + 1).max(newest.saturating_sub(limits.kept) + 1);
    for _ in 0..TRIMS_PER_RUN {
        if next >= newest {
            break;
        }
        match load_slot(kv, next, limits).await? {
            Some(run) if run.started_at >= cutoff(limits, now) => break,
            Some(_) => kv.delete(&slot_key(next, limits)).await?,
            None => {}
        }
        next += 1;
    }
    if next > tail + 1 {
        // Concurrent trims may both advance it: the tail then skips a few
        // runs, which the ring overwrites in time.
        kv.increment(TAIL_KEY, (next - 1 - tail) as i64).await?;
    }
    Ok(())
}

/// A run by id, if kept (and not expired).
pub async fn load<K: Kv>(
    kv: &K,
    limits: &HistoryLimits,
    now: DateTime<Utc>,
    id: &str,
) -> Result<Option<Run>, KvError> {
    let found = match seq_of(id) {
        Some(seq) => load_slot(kv, seq, limits).await?.filter(|run| run.id == id),
        None => store::load_run(kv, id).await?,
    };
    Ok(found.filter(|run| run.started_at >= cutoff(limits, now)))
}

/// The order of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// One page of runs in `order`: those `keep` accepts, at most `limit`,
/// going on from run number `from` (a cursor's; not included) or from the
/// newest (the oldest kept). Answers the page and, when there may be more,
/// the number to go on from.
pub async fn page<K: Kv>(
    kv: &K,
    limits: &HistoryLimits,
    now: DateTime<Utc>,
    keep: impl Fn(&Run) -> bool,
    limit: usize,
    order: Order,
    from: Option<u64>,
) -> Result<(Vec<Run>, Option<u64>), KvError> {
    let newest = counter_at(kv, SEQ_KEY).await?;
    let oldest = (newest.saturating_sub(limits.kept) + 1).max(1);
    let cutoff = cutoff(limits, now);
    let mut seq = match (order, from) {
        (Order::NewestFirst, None) => newest,
        (Order::NewestFirst, Some(f)) => f.saturating_sub(1).min(newest),
        (Order::OldestFirst, None) => oldest.max(counter_at(kv, TAIL_KEY).await? + 1),
        (Order::OldestFirst, Some(f)) => (f + 1).max(oldest),
    };
    let step = |seq: u64| match order {
        Order::NewestFirst => seq.checked_sub(1),
        Order::OldestFirst => Some(seq + 1),
    };
    let mut runs = Vec::new();
    let mut read = 0;
    // Slots are read ahead in batches (one get_many each).
    let mut window: BTreeMap<u64, Run> = BTreeMap::new();
    let mut fetched_to: Option<u64> = None;
    while (oldest..=newest).contains(&seq) {
        if runs.len() >= limit || read >= SLOTS_PER_PAGE {
            return Ok((runs, Some(next_from(seq, order))));
        }
        read += 1;
        let fetched = fetched_to.is_some_and(|end| match order {
            Order::NewestFirst => seq >= end,
            Order::OldestFirst => seq <= end,
        });
        if !fetched {
            let ahead = READ_AHEAD.min(SLOTS_PER_PAGE - read + 1);
            let mut seqs = vec![seq];
            while (seqs.len() as u64) < ahead {
                match seqs.last().copied().and_then(step) {
                    Some(n) if (oldest..=newest).contains(&n) => seqs.push(n),
                    _ => break,
                }
            }
            fetched_to = seqs.last().copied();
            window = load_slots(kv, &seqs, limits).await?;
        }
        if let Some(run) = window.remove(&seq) {
            match (run.started_at < cutoff, order) {
                // Numbers follow time: everything below is older still.
                (true, Order::NewestFirst) => break,
                (true, Order::OldestFirst) => {}
                (false, _) if keep(&run) => runs.push(run),
                (false, _) => {}
            }
        }
        match step(seq) {
            Some(n) => seq = n,
            None => break,
        }
    }
    Ok((runs, None))
}

/// The runs in the slots of `seqs`, by number (one batched read).
async fn load_slots<K: Kv>(
    kv: &K,
    seqs: &[u64],
    limits: &HistoryLimits,
) -> Result<BTreeMap<u64, Run>, KvError> {
    let keys: Vec<String> = seqs.iter().map(|n| slot_key(*n, limits)).collect();
    let mut out = BTreeMap::new();
    for (key, bytes) in kv.get_many(&keys).await? {
        let slot: Slot = store::decode(&key, &bytes)?;
        if seqs.contains(&slot.seq) {
            out.insert(slot.seq, slot.run);
        }
    }
    Ok(out)
}

/// The cursor number for a page that stops before reading `seq`.
fn next_from(seq: u64, order: Order) -> u64 {
    match order {
        Order::NewestFirst => seq + 1,
        Order::OldestFirst => seq - 1,
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::memory::{Backend, MemoryKv};
    use crate::record::Process;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
    }

    fn slots(kv: &MemoryKv) -> usize {
        kv.snapshot()
            .keys()
            .filter(|k| k.starts_with(SLOT_PREFIX))
            .count()
    }

    fn keep_runs(kv: &MemoryKv, limits: &HistoryLimits, n: i64, process: Process) -> Vec<String> {
        (0..n)
            .map(|i| {
                let mut run = Run::new(process, at(i), &i.to_string());
                block_on(record(kv, limits, at(i), &mut run)).expect("recorded");
                run.id
            })
            .collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_runs_and_lists_them_newest_first() {
        for backend in [Backend::Sqlite, Backend::Redis] {
            let kv = MemoryKv::with_backend(backend);
            let limits = HistoryLimits {
                kept: 100,
                max_age_days: 30,
            };
            let ids = keep_runs(&kv, &limits, 250, Process::Created);
            assert_eq!(
                slots(&kv),
                100,
                "the ring never grows past run_retention_count"
            );
            let newest_page = |from| {
                block_on(page(
                    &kv,
                    &limits,
                    at(300),
                    |_| true,
                    30,
                    Order::NewestFirst,
                    from,
                ))
                .expect("page")
            };
            let (page1, next) = newest_page(None);
            let listed: Vec<&str> = page1.iter().map(|r| r.id.as_str()).collect();
            let newest: Vec<&str> = ids.iter().rev().take(30).map(String::as_str).collect();
            assert_eq!(listed, newest);
            let mut all = page1;
            let mut cursor = next;
            while let Some(before) = cursor {
                let (more, next) = newest_page(Some(before));
                all.extend(more);
                cursor = next;
            }
            assert_eq!(all.len(), 100, "every kept run once");
            let (oldest, _) = block_on(page(
                &kv,
                &limits,
                at(300),
                |_| true,
                3,
                Order::OldestFirst,
                None,
            ))
            .expect("page");
            let oldest: Vec<&str> = oldest.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(oldest, [&ids[150], &ids[151], &ids[152]]);
            assert_eq!(all.last().map(|r| r.id.as_str()), Some(ids[150].as_str()));
            // Found by id while kept; the overwritten one is gone.
            let kept = block_on(load(&kv, &limits, at(300), &ids[200])).expect("load");
            assert_eq!(kept.map(|r| r.id), Some(ids[200].clone()));
            assert!(block_on(load(&kv, &limits, at(300), &ids[10]))
                .expect("load")
                .is_none());
        }
    }

    #[test]
    fn expired_runs_are_hidden_and_removed_as_new_ones_come() {
        let kv = MemoryKv::new();
        let limits = HistoryLimits {
            kept: 1_000,
            max_age_days: 1,
        };
        let old = keep_runs(&kv, &limits, 5, Process::Resend);
        let day = 86_400;
        let mut fresh = Run::new(Process::Backfill, at(2 * day), "fresh");
        block_on(record(&kv, &limits, at(2 * day), &mut fresh)).expect("recorded");
        let (listed, next) = block_on(page(
            &kv,
            &limits,
            at(2 * day),
            |_| true,
            50,
            Order::NewestFirst,
            None,
        ))
        .expect("page");
        assert_eq!(listed.len(), 1, "only the fresh run is listed");
        assert_eq!(next, None);
        assert!(block_on(load(&kv, &limits, at(2 * day), &old[4]))
            .expect("load")
            .is_none());
        // Each new run removed up to two expired ones.
        for i in 0..2 {
            let mut run = Run::new(Process::Backfill, at(2 * day + i), "more");
            block_on(record(&kv, &limits, at(2 * day + i), &mut run)).expect("recorded");
        }
        assert_eq!(slots(&kv), 3, "the five expired runs are gone");
    }

    #[test]
    fn a_filtered_page_reads_a_bounded_number_of_slots() {
        let kv = MemoryKv::new();
        let limits = HistoryLimits {
            kept: 5_000,
            max_age_days: 30,
        };
        keep_runs(&kv, &limits, 2_500, Process::Created);
        let (runs, next) = block_on(page(
            &kv,
            &limits,
            at(3_000),
            |r| r.process == Process::Backfill,
            10,
            Order::NewestFirst,
            None,
        ))
        .expect("page");
        assert!(runs.is_empty());
        assert_eq!(
            next,
            Some(2_500 - SLOTS_PER_PAGE + 1),
            "stops after SLOTS_PER_PAGE slots with a cursor"
        );
    }
}
