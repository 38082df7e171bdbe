//! The record index: keys sfsync keeps beside the records so that admin
//! pages, stats and exports find records without listing the store. Spin's
//! key-value API can only list every key at once (`KEYS *` on Redis), which
//! grows with the store and is refused past 128 MiB of keys.
//!
//! Records are entered in *logs*, one per object and [`Log`]:
//!
//! | key | what |
//! |---|---|
//! | `ix/{g}/{Object}/{log}/n` | counter: slots handed out in the log |
//! | `ix/{g}/{Object}/{log}/out` | counter: members that left the log |
//! | `ix/{g}/{Object}/{log}/{k}` | the Salesforce id that took slot `k` (written with the record) |
//! | `ix/{g}/{Object}/{log}/head` | every entry up to this slot is dead ([`walk`] moves it) |
//! | `ix/{g}/{Object}/calls` | counter: destination calls for the object's records |
//! | `ix/{g}/_objects/n`, `…/{k}` | the objects that have records |
//!
//! A record takes a slot in `all` when first stored, in `synced` when first
//! synced, and in the log of its status (`error`, `skipped`, `pending`)
//! each time it enters that status; it keeps the numbers it holds
//! ([`Slots`], stored on the record). An entry is *live* while its record
//! still holds that slot: a record that leaves `error` leaves its old entry
//! behind, and readers skip it. So a log's members are `n - out`, which is
//! what stats read (a handful of keys per object, whatever the store's
//! size), and a page walks a log's slots in batches.
//!
//! Correct under concurrent writers because a record is indexed only under
//! its lease ([`crate::lease`]): one writer decides each transition, and
//! slots and counts come from the store's atomic increment. When the
//! record's write fails, its slots are given back ([`undo`]), so the retry
//! is counted once; only when that fails too does a count stay one too high,
//! until a rebuild ([`crate::admin::reindex`]) starts a fresh generation `g`
//! and enters every record again.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::counter;
use crate::io::{Kv, KvError};
use crate::record::{IndexSlots as Slots, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::store::{self, Generation};

/// Slots read per call when walking a log.
pub const READ_AHEAD: u64 = 100;
/// Objects the registry is read up to.
const MAX_OBJECTS: u64 = 1_000;

/// One of a record's logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Log {
    /// Every record.
    All,
    /// Records ever synced (a record never leaves it).
    Synced,
    /// Records whose last attempt failed.
    Error,
    Skipped,
    Pending,
}

impl Log {
    pub const EVERY: [Log; 5] = [
        Log::All,
        Log::Synced,
        Log::Error,
        Log::Skipped,
        Log::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Log::All => "all",
            Log::Synced => "synced",
            Log::Error => "error",
            Log::Skipped => "skipped",
            Log::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Log> {
        Log::EVERY.into_iter().find(|l| l.as_str() == s)
    }

    /// The status log a record of `status` is in (synced records are in
    /// none: `synced` counts records ever synced).
    fn of_status(status: Status) -> Option<Log> {
        match status {
            Status::Synced => None,
            Status::Error => Some(Log::Error),
            Status::Skipped => Some(Log::Skipped),
            Status::Pending => Some(Log::Pending),
        }
    }

    /// Whether `record` belongs in this log now.
    fn holds(self, record: &SyncRecord) -> bool {
        match self {
            Log::All => true,
            Log::Synced => record.ever_synced,
            _ => Log::of_status(record.status) == Some(self),
        }
    }
}

fn slot(slots: &Slots, log: Log) -> Option<u64> {
    match log {
        Log::All => Some(slots.all),
        Log::Synced => slots.synced,
        _ => slots.status,
    }
}

/// What the index needs to know of a record before a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Before {
    slots: Option<Slots>,
    status: Status,
    calls: u32,
}

impl Before {
    pub fn of(record: &SyncRecord) -> Before {
        Before {
            slots: record.index.clone(),
            status: record.status,
            calls: record.destination_calls,
        }
    }
}

/// What placing a record asks of the store: entries to write with the
/// record (in the same batch), and counters to add to once it is written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Placed {
    pub writes: Vec<(String, Vec<u8>)>,
    pub after: Vec<(String, i64)>,
    /// What to write back if the record's write fails ([`undo`]).
    taken: Vec<Taken>,
}

/// A slot [`place`] took, and how to give it back.
#[derive(Debug, PartialEq, Eq)]
struct Taken {
    /// The slot's key, and what it holds once given back: nothing for a
    /// log's slot (dead), the object for the registry's (it stays).
    entry: (String, Vec<u8>),
    /// The counter of members that left, for a log's slot.
    out: Option<String>,
}

/// Slots taken ahead for a batch of records (a message's hundred new
/// Contacts): the first record that needs a slot in a log takes as many as
/// the batch may still need, with one increment, and the others are handed
/// out from that range — one increment per log instead of one per record.
/// Slots left over at the end are written dead and counted as left
/// ([`SlotPool::leftovers`]), as a failed write's are ([`undo`]). Until
/// then the log counts them as members, so a count read while a batch runs
/// may be ahead by the batch's unused slots.
#[derive(Debug, Default)]
pub struct SlotPool {
    /// Per object, how many of the batch's records may still take a slot.
    expected: RefCell<BTreeMap<String, u64>>,
    /// Per log, the ranges taken and not handed out yet.
    free: RefCell<BTreeMap<LogOf, Vec<Range>>>,
}

/// A log of one object in one generation.
type LogOf = (u64, String, Log);
/// Slots `first..=last`.
type Range = (u64, u64);

/// Slots a batch took and did not use ([`SlotPool::leftovers`]).
#[derive(Debug, Default)]
pub struct Unused {
    /// Their entries, written dead (empty).
    pub entries: Vec<(String, Vec<u8>)>,
    /// The additions to their logs' `out` counters.
    pub left: Vec<(String, i64)>,
}

impl SlotPool {
    /// `count` more records of `object` are about to be synced.
    pub fn expect(&self, object: &str, count: u64) {
        *self
            .expected
            .borrow_mut()
            .entry(object.to_string())
            .or_default() += count;
    }

    /// One record of `object` is done: it takes no more slots.
    pub fn done(&self, object: &str) {
        if let Some(n) = self.expected.borrow_mut().get_mut(object) {
            *n = n.saturating_sub(1);
        }
    }

    fn take(&self, generation: u64, object: &str, log: Log) -> Option<u64> {
        let mut free = self.free.borrow_mut();
        let ranges = free.get_mut(&(generation, object.to_string(), log))?;
        let (first, last) = ranges.last_mut()?;
        let slot = *first;
        if first == last {
            ranges.pop();
        } else {
            *first += 1;
        }
        Some(slot)
    }

    /// How many slots to take at once for `object`: what the batch may still
    /// need, at least one.
    fn want(&self, object: &str) -> u64 {
        self.expected
            .borrow()
            .get(object)
            .copied()
            .unwrap_or(1)
            .max(1)
    }

    fn keep(&self, generation: u64, object: &str, log: Log, first: u64, last: u64) {
        if first <= last {
            self.free
                .borrow_mut()
                .entry((generation, object.to_string(), log))
                .or_default()
                .push((first, last));
        }
    }

    /// The slots taken and not used, now handed back: their dead entries to
    /// write, and the additions to their logs' `out` counters.
    pub fn leftovers(&self) -> Unused {
        let mut unused = Unused::default();
        for ((generation, object, log), ranges) in std::mem::take(&mut *self.free.borrow_mut()) {
            let mut count = 0i64;
            for (first, last) in ranges {
                for k in first..=last {
                    unused.entries.push((
                        store::index_key(generation, &object, log.as_str(), &k.to_string()),
                        Vec::new(),
                    ));
                    count += 1;
                }
            }
            if count > 0 {
                unused.left.push((
                    store::index_key(generation, &object, log.as_str(), "out"),
                    count,
                ));
            }
        }
        unused
    }
}

async fn take_slot<K: Kv>(
    kv: &K,
    generation: u64,
    record: &SyncRecord,
    log: Log,
    placed: &mut Placed,
    ahead: Option<&SlotPool>,
) -> Result<u64, KvError> {
    let slot = match ahead.and_then(|p| p.take(generation, &record.object, log)) {
        Some(slot) => slot,
        None => {
            let want = ahead.map_or(1, |p| p.want(&record.object));
            let n = kv
                .increment(
                    &store::index_key(generation, &record.object, log.as_str(), "n"),
                    want as i64,
                )
                .await?;
            let last = u64::try_from(n).unwrap_or_default();
            let first = (last + 1).saturating_sub(want);
            if let Some(pool) = ahead {
                pool.keep(generation, &record.object, log, first + 1, last);
            }
            first
        }
    };
    let key = store::index_key(generation, &record.object, log.as_str(), &slot.to_string());
    placed.taken.push(Taken {
        entry: (key.clone(), Vec::new()),
        out: Some(store::index_key(
            generation,
            &record.object,
            log.as_str(),
            "out",
        )),
    });
    placed
        .writes
        .push((key, record.salesforce_id.clone().into_bytes()));
    Ok(slot)
}

/// Enter `record` (about to be written) in the index, given what it was
/// `before` the change (`None` for a new record): takes the slots its
/// changes need and says what to write with it. Costs no call when nothing
/// the index knows changed. Call it under the record's lease.
pub async fn place<K: Kv>(
    kv: &K,
    current: Generation,
    before: Option<&Before>,
    record: &mut SyncRecord,
    ahead: Option<&SlotPool>,
) -> Result<Placed, KvError> {
    let mut placed = Placed::default();
    match place_into(kv, current, before, record, &mut placed, ahead).await {
        Ok(()) => Ok(placed),
        Err(e) => {
            let _ = undo(kv, &placed).await;
            Err(e)
        }
    }
}

async fn place_into<K: Kv>(
    kv: &K,
    current: Generation,
    before: Option<&Before>,
    record: &mut SyncRecord,
    placed: &mut Placed,
    ahead: Option<&SlotPool>,
) -> Result<(), KvError> {
    // A record never moves back to an older generation (a request that read
    // the generation before a rebuild switched it).
    let held = before.and_then(|b| b.slots.clone());
    let generation = current
        .number
        .max(held.as_ref().map_or(0, |s| s.generation));
    let kept = held.filter(|s| s.generation == generation);
    let before = before.filter(|_| kept.is_some());

    let mut slots = match kept {
        Some(slots) => slots,
        None => {
            let all = take_slot(kv, generation, record, Log::All, placed, ahead).await?;
            if all == 1 {
                register(kv, generation, &record.object, placed).await?;
            }
            Slots {
                generation,
                all,
                synced: None,
                status: None,
            }
        }
    };
    if record.ever_synced && slots.synced.is_none() {
        slots.synced = Some(take_slot(kv, generation, record, Log::Synced, placed, ahead).await?);
    } else if !record.ever_synced && slots.synced.take().is_some() {
        placed.after.push((
            store::index_key(generation, &record.object, Log::Synced.as_str(), "out"),
            1,
        ));
    }
    let old_log = before.and_then(|b| Log::of_status(b.status).filter(|_| slots.status.is_some()));
    let new_log = Log::of_status(record.status);
    if old_log != new_log {
        if let Some(old) = old_log {
            placed.after.push((
                store::index_key(generation, &record.object, old.as_str(), "out"),
                1,
            ));
        }
        slots.status = match new_log {
            Some(log) => Some(take_slot(kv, generation, record, log, placed, ahead).await?),
            None => None,
        };
    }
    let calls = record
        .destination_calls
        .saturating_sub(before.map_or(0, |b| b.calls));
    if calls > 0 {
        placed.after.push((
            store::calls_key(generation, &record.object),
            i64::from(calls),
        ));
    }
    record.index = Some(slots);
    Ok(())
}

/// Take the object's place in the registry (its first record did).
async fn register<K: Kv>(
    kv: &K,
    generation: u64,
    object: &str,
    placed: &mut Placed,
) -> Result<(), KvError> {
    let n = kv
        .increment(&store::objects_key(generation, "n"), 1)
        .await?;
    let entry = (
        store::objects_key(generation, &n.to_string()),
        object.as_bytes().to_vec(),
    );
    // The registry keeps the object even if its first record's write
    // fails: the retry takes slot 2 of `all` and would not register it. So
    // the entry is written at once, before the record's batch (one write per
    // object and generation), then with the batch, and by the undo should
    // the batch fail (which the pipeline tries again after a pause).
    placed.taken.push(Taken {
        entry: entry.clone(),
        out: None,
    });
    placed.writes.push(entry.clone());
    let _ = kv.set(&entry.0, &entry.1).await;
    Ok(())
}

/// Give back the slots [`place`] took when the record's write failed: each
/// is counted as left and marked dead (an empty entry), so that the retry,
/// which takes new ones, does not count the record twice and readers pass
/// the unused slot; an object entered in the registry stays there. When
/// this fails too, the counts stay one too high until a rebuild.
///
/// The dead entries are written first: when that fails nothing was
/// changed, and the undo may be tried again. The `out` additions that fail
/// after are answered, for the caller to try again with its other counters.
pub async fn undo<K: Kv>(kv: &K, placed: &Placed) -> Result<Vec<(String, i64)>, KvError> {
    let entries: Vec<(String, Vec<u8>)> = placed.taken.iter().map(|t| t.entry.clone()).collect();
    if !entries.is_empty() {
        kv.set_many(&entries).await?;
    }
    let outs: Vec<(String, i64)> = placed
        .taken
        .iter()
        .filter_map(|t| t.out.clone())
        .map(|out| (out, 1))
        .collect();
    Ok(settle(kv, &outs).await)
}

/// Add what [`place`] left for after the write; answers the additions that
/// failed, for the caller to try again. One still failing leaves a count off
/// (a rebuild corrects it); the record itself is stored, so it is not the
/// caller's error.
pub async fn settle<K: Kv>(kv: &K, after: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut failed = Vec::new();
    for (key, delta) in after {
        if kv.increment(key, *delta).await.is_err() {
            failed.push((key.clone(), *delta));
        }
    }
    failed
}

/// Take `record` out of every log it is counted in (it is being removed).
pub fn forget(record: &SyncRecord) -> Vec<(String, i64)> {
    let Some(slots) = &record.index else {
        return Vec::new();
    };
    Log::EVERY
        .into_iter()
        .filter(|log| slot(slots, *log).is_some() && log.holds(record))
        .map(|log| {
            (
                store::index_key(slots.generation, &record.object, log.as_str(), "out"),
                1,
            )
        })
        .collect()
}

/// Write `record` with its index entries (outside the sync pipeline: import,
/// repair, rebuild). Call it under the record's lease.
pub async fn save<K: Kv>(
    kv: &K,
    current: Generation,
    before: Option<&Before>,
    record: &mut SyncRecord,
) -> Result<(), KvError> {
    let mut placed = place(kv, current, before, record, None).await?;
    let mut writes = vec![store::record_entry(record)?];
    writes.append(&mut placed.writes);
    if let Err(e) = kv.set_many(&writes).await {
        let _ = undo(kv, &placed).await;
        return Err(e);
    }
    let _ = settle(kv, &placed.after).await;
    Ok(())
}

fn counter_at(found: &BTreeMap<String, Vec<u8>>, key: &str) -> u64 {
    found
        .get(key)
        .and_then(|v| counter::value(v))
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or_default()
}

async fn read_map<K: Kv>(kv: &K, keys: &[String]) -> Result<BTreeMap<String, Vec<u8>>, KvError> {
    let mut found = BTreeMap::new();
    for chunk in keys.chunks(READ_AHEAD as usize) {
        found.extend(kv.get_many(chunk).await?);
    }
    Ok(found)
}

/// The objects that have records in `generation`, sorted by name.
pub async fn objects<K: Kv>(kv: &K, generation: u64) -> Result<Vec<String>, KvError> {
    let n_key = store::objects_key(generation, "n");
    let n = counter_at(&read_map(kv, std::slice::from_ref(&n_key)).await?, &n_key);
    let keys: Vec<String> = (1..=n.min(MAX_OBJECTS))
        .map(|k| store::objects_key(generation, &k.to_string()))
        .collect();
    let mut names: Vec<String> = read_map(kv, &keys)
        .await?
        .into_values()
        .filter_map(|v| String::from_utf8(v).ok())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Members of each log, and destination calls, of one object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub members: BTreeMap<Log, u64>,
    pub calls: u64,
}

/// The tally of every object, read from its counters: three batched reads
/// for any number of records.
pub async fn tallies<K: Kv>(kv: &K, generation: u64) -> Result<BTreeMap<String, Tally>, KvError> {
    let objects = objects(kv, generation).await?;
    let mut keys = Vec::new();
    for object in &objects {
        for log in Log::EVERY {
            keys.push(store::index_key(generation, object, log.as_str(), "n"));
            keys.push(store::index_key(generation, object, log.as_str(), "out"));
        }
        keys.push(store::calls_key(generation, object));
    }
    let found = read_map(kv, &keys).await?;
    Ok(objects
        .into_iter()
        .map(|object| {
            let members = Log::EVERY
                .into_iter()
                .map(|log| {
                    let at = |leaf| {
                        counter_at(
                            &found,
                            &store::index_key(generation, &object, log.as_str(), leaf),
                        )
                    };
                    (log, at("n").saturating_sub(at("out")))
                })
                .collect();
            let calls = counter_at(&found, &store::calls_key(generation, &object));
            (object, Tally { members, calls })
        })
        .collect())
}

/// Where a walk stopped: the last slot examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub log: Log,
    pub object: String,
    pub slot: u64,
}

impl Position {
    /// `{log}/{Object}/{slot}`, as [`Position::parse`] reads it.
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.log.as_str(), self.object, self.slot)
    }

    pub fn parse(s: &str) -> Option<Position> {
        let mut parts = s.splitn(3, '/');
        let log = Log::parse(parts.next()?)?;
        let object = parts.next()?;
        let slot = parts.next()?.parse().ok()?;
        crate::sobject::is_api_name(object).then(|| Position {
            log,
            object: object.to_string(),
            slot,
        })
    }
}

/// What a walk found, and where the next one starts (`None`: the log ends).
#[derive(Debug, Default)]
pub struct Walked {
    pub records: Vec<SyncRecord>,
    pub next: Option<Position>,
}

/// Limits of one walk.
#[derive(Debug, Clone, Copy)]
pub struct Reach {
    /// Stop once this many records are kept.
    pub limit: usize,
    /// Stop once this many slots are examined.
    pub budget: u64,
}

/// Walk `log` of one object (or of every object, in name order) of
/// `generation` from `from`, keeping the live records `keep` accepts.
///
/// A dead entry stays dead (a record never takes back a slot it left), so
/// a walk that finds a log's first entries all dead moves the log's *head*
/// past them (`…/{log}/head`), and later walks start there: a status log
/// whose early members all left it (errors since resent, say) costs
/// nothing to read past.
pub async fn walk<K: Kv>(
    kv: &K,
    generation: u64,
    log: Log,
    object: Option<&str>,
    from: Option<&Position>,
    reach: Reach,
    keep: &dyn Fn(&SyncRecord) -> bool,
) -> Result<Walked, KvError> {
    let mut objects = match object {
        Some(o) => vec![o.to_string()],
        None => objects(kv, generation).await?,
    };
    if let Some(from) = from {
        objects.retain(|o| *o >= from.object);
    }
    let key = |o: &str, leaf: &str| store::index_key(generation, o, log.as_str(), leaf);
    let mut bound_keys = Vec::with_capacity(objects.len() * 2);
    for o in &objects {
        bound_keys.push(key(o, "n"));
        bound_keys.push(key(o, "head"));
    }
    let bounds = read_map(kv, &bound_keys).await?;
    let mut walked = Walked::default();
    let mut heads = Vec::new();
    let mut examined = 0u64;
    for (i, object) in objects.iter().enumerate() {
        let end = counter_at(&bounds, &key(object, "n"));
        let head = bounds
            .get(&key(object, "head"))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
            .unwrap_or_default()
            .min(end);
        let mut at = from
            .filter(|f| f.object == *object)
            .map_or(head, |f| f.slot.max(head));
        // Every entry after the head up to `dead_through` is dead; `open`
        // while no entry that may live was met (only for a walk that began
        // at the head).
        let mut dead_through = head;
        let mut open = at == head;
        let last_object = i + 1 == objects.len();
        let mut stop = None;
        while at < end && stop.is_none() {
            let upto = (at + READ_AHEAD).min(end).min(at + reach.budget - examined);
            let slot_keys: Vec<String> = (at + 1..=upto)
                .map(|k| key(object, &k.to_string()))
                .collect();
            let ids = read_map(kv, &slot_keys).await?;
            let record_key = |id: &Vec<u8>| {
                std::str::from_utf8(id)
                    .ok()
                    .map(|id| store::record_key(&RecordRef::new(object.as_str(), id)))
            };
            let record_keys: Vec<String> = ids.values().filter_map(record_key).collect();
            let records = read_map(kv, &record_keys).await?;
            for (k, slot_key) in (at + 1..=upto).zip(&slot_keys) {
                let Some(id) = ids.get(slot_key) else {
                    // Not written (yet: a slot is written with its record,
                    // which may be on its way), so the head stays before it.
                    open = false;
                    continue;
                };
                let found = record_key(id).and_then(|key| records.get(&key).map(|v| (key, v)));
                let Some((record_key, bytes)) = found else {
                    // The record was removed (merged by the id repair).
                    if open {
                        dead_through = k;
                    }
                    continue;
                };
                let record: SyncRecord = store::decode(&record_key, bytes)?;
                let live = record
                    .index
                    .as_ref()
                    .is_some_and(|s| s.generation == generation && slot(s, log) == Some(k))
                    && log.holds(&record);
                if !live {
                    if open {
                        dead_through = k;
                    }
                    continue;
                }
                open = false;
                if keep(&record) {
                    walked.records.push(record);
                    if walked.records.len() >= reach.limit {
                        stop = Some(k);
                        break;
                    }
                }
            }
            if stop.is_none() {
                examined += upto - at;
                at = upto;
                if examined >= reach.budget {
                    stop = Some(at);
                }
            }
        }
        if dead_through > head {
            heads.push((key(object, "head"), dead_through.to_string().into_bytes()));
        }
        if let Some(k) = stop {
            let done = k == end && last_object;
            walked.next = (!done).then(|| Position {
                log,
                object: object.clone(),
                slot: k,
            });
            break;
        }
    }
    // Moving heads is housekeeping: a failure leaves them where they were.
    if !heads.is_empty() {
        let _ = kv.set_many(&heads).await;
    }
    Ok(walked)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use futures::executor::block_on;

    use super::*;
    use crate::memory::MemoryKv;
    use crate::record::Process;

    /// Store `record` as the pipeline does: read what it was, place, write.
    fn write(kv: &MemoryKv, generation: u64, record: &mut SyncRecord) {
        let before = block_on(store::load_record(kv, &record.reference()))
            .expect("load")
            .map(|r| {
                record.index = r.index.clone();
                Before::of(&r)
            });
        let current = Generation {
            number: generation,
            since: None,
        };
        block_on(save(kv, current, before.as_ref(), record)).expect("saved");
    }

    fn members(
        kv: &MemoryKv,
        generation: u64,
        log: Log,
        object: Option<&str>,
        page: usize,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut from = None;
        loop {
            let reach = Reach {
                limit: page,
                budget: 7,
            };
            let walked = block_on(walk(
                kv,
                generation,
                log,
                object,
                from.as_ref(),
                reach,
                &|_| true,
            ))
            .expect("walk");
            out.extend(walked.records.iter().map(|r| r.reference().to_string()));
            match walked.next {
                Some(next) => from = Some(next),
                None => return out,
            }
        }
    }

    /// Random transitions over a few records of two objects: after each
    /// one, every log's walk and count match the records themselves.
    #[test]
    fn logs_and_counts_follow_every_transition() {
        let kv = MemoryKv::new();
        let mut seed = 0x2545_f491_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let statuses = [
            Status::Synced,
            Status::Error,
            Status::Skipped,
            Status::Pending,
        ];
        let mut records: BTreeMap<String, SyncRecord> = BTreeMap::new();
        for step in 0..400 {
            let object = if next(3) == 0 { "Account" } else { "Contact" };
            let id = format!("{}{:015}", &object[..3], next(25));
            let mut record = records
                .get(&format!("{object}/{id}"))
                .cloned()
                .unwrap_or_else(|| SyncRecord::new(object, &id, Process::Created));
            record.status = statuses[next(4) as usize];
            record.ever_synced |= record.status == Status::Synced;
            record.destination_calls += next(2) as u32;
            write(&kv, 0, &mut record);
            records.insert(record.reference().to_string(), record);

            let tallies = block_on(tallies(&kv, 0)).expect("tallies");
            for log in Log::EVERY {
                let expected: BTreeSet<String> = records
                    .values()
                    .filter(|r| log.holds(r))
                    .map(|r| r.reference().to_string())
                    .collect();
                let walked = members(&kv, 0, log, None, 1 + step % 5);
                assert_eq!(
                    walked.len(),
                    expected.len(),
                    "step {step}, {log:?}: each member once"
                );
                assert_eq!(
                    walked.into_iter().collect::<BTreeSet<_>>(),
                    expected,
                    "step {step}, {log:?}"
                );
                let counted: u64 = tallies.values().map(|t| t.members[&log]).sum();
                assert_eq!(counted, expected.len() as u64, "step {step}, {log:?} count");
            }
            let calls: u64 = records
                .values()
                .map(|r| u64::from(r.destination_calls))
                .sum();
            assert_eq!(tallies.values().map(|t| t.calls).sum::<u64>(), calls);
            let contacts = members(&kv, 0, Log::All, Some("Contact"), 3);
            assert!(contacts.iter().all(|r| r.starts_with("Contact/")));
        }
    }

    fn synced_contact() -> SyncRecord {
        let mut record = SyncRecord::new("Contact", "003000000000001AAA", Process::Created);
        record.status = Status::Synced;
        record.ever_synced = true;
        record
    }

    /// An update that changes nothing the index knows costs no call.
    #[test]
    fn an_unchanged_status_costs_nothing() {
        let kv = MemoryKv::new();
        let mut record = synced_contact();
        write(&kv, 0, &mut record);
        let before = Before::of(&record);
        let placed = block_on(place(
            &kv,
            Generation::default(),
            Some(&before),
            &mut record,
            None,
        ))
        .expect("placed");
        assert_eq!(placed, Placed::default());
    }

    /// A record in a newer generation stays there when a request that read
    /// the older one writes it.
    #[test]
    fn a_record_never_moves_back_a_generation() {
        let kv = MemoryKv::new();
        let mut record = SyncRecord::new("Contact", "003000000000001AAA", Process::Created);
        write(&kv, 2, &mut record);
        record.status = Status::Error;
        write(&kv, 1, &mut record);
        assert_eq!(record.index.as_ref().map(|s| s.generation), Some(2));
        assert_eq!(members(&kv, 2, Log::Error, None, 10).len(), 1);
        assert!(members(&kv, 1, Log::All, None, 10).is_empty());
    }

    /// Errors resent and healed leave dead entries at the front of the error
    /// log: the first walk moves the head past them, the next reads only
    /// what is live.
    #[test]
    fn the_head_moves_past_entries_that_left() {
        let kv = MemoryKv::new();
        let mut records: Vec<SyncRecord> = (0..300)
            .map(|n| SyncRecord::new("Contact", &format!("003{n:015}"), Process::Created))
            .collect();
        for r in &mut records {
            r.status = Status::Error;
            write(&kv, 0, r);
        }
        for r in records.iter_mut().take(290) {
            r.status = Status::Synced;
            r.ever_synced = true;
            write(&kv, 0, r);
        }
        let reach = Reach {
            limit: 100,
            budget: 5_000,
        };
        let first = block_on(walk(&kv, 0, Log::Error, None, None, reach, &|_| true)).expect("walk");
        assert_eq!(first.records.len(), 10);
        let head = kv
            .map
            .borrow()
            .get(&store::index_key(0, "Contact", "error", "head"))
            .cloned();
        assert_eq!(head.as_deref(), Some(&b"290"[..]));
        // A new error after the head is found; the dead ones are not read.
        records[0].status = Status::Error;
        write(&kv, 0, &mut records[0]);
        let again = block_on(walk(&kv, 0, Log::Error, None, None, reach, &|_| true)).expect("walk");
        assert_eq!(again.records.len(), 11);
        assert_eq!(members(&kv, 0, Log::Error, None, 4).len(), 11);
        // From the head, 11 slots hold all of them: a walk allowed to read
        // only 20 finds them all (from slot 1 it would find none).
        let short = Reach {
            limit: 100,
            budget: 20,
        };
        let near = block_on(walk(&kv, 0, Log::Error, None, None, short, &|_| true)).expect("walk");
        assert_eq!((near.records.len(), near.next), (11, None));
    }

    /// A record whose write fails gives its slots back: the retry is
    /// counted and listed once.
    #[test]
    fn a_failed_write_is_not_counted_twice() {
        let kv = MemoryKv::new();
        let mut record = synced_contact();
        *kv.fail_prefix.borrow_mut() = Some("rec/".into());
        let current = Generation::default();
        assert!(block_on(save(&kv, current, None, &mut record.clone())).is_err());
        *kv.fail_prefix.borrow_mut() = None;
        write(&kv, 0, &mut record);
        let tallies = block_on(tallies(&kv, 0)).expect("tallies");
        assert_eq!(tallies["Contact"].members[&Log::All], 1);
        assert_eq!(tallies["Contact"].members[&Log::Synced], 1);
        assert_eq!(members(&kv, 0, Log::All, None, 5).len(), 1);
        assert_eq!(block_on(objects(&kv, 0)).expect("objects"), vec!["Contact"]);
    }
}
