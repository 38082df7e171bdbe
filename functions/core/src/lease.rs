//! Per-record leases: one request at a time syncs a record, across every
//! instance and node that shares the store.
//!
//! Spin runs each request in its own instance, in parallel, and a
//! deployment may run many nodes on one Redis. Without a lease, a created
//! and an updated message for one record handled at once can leave the
//! destination on the older data while the stored fingerprint says the newer
//! one was sent. With it, the sync of a record — load, decide, push, store —
//! runs for one request at a time, and the stale check of the next one sees
//! what the first stored.
//!
//! ## How a lease is taken
//!
//! A lease guards one key of the store — a record (`rec/…`), an email entry
//! (`email/…`, which two records may share), a waiting list (`waiting/…`) —
//! and lives at `lease/<that key>` as one 64-bit counter: `0` is free,
//! anything else is `(expiry in Unix seconds) << 24 | token`, the token
//! telling one holder from another. It is built only on the two primitives
//! that mean the same on Spin's SQLite and Redis stores (spin-host.md §6,
//! §10):
//!
//! 1. `increment(key, 0)` creates the key atomically when it is absent (a
//!    compare-and-swap on an absent key is *not* atomic on SQLite). It is
//!    called only on a key found absent, and never on a key that holds
//!    anything but a counter in the backend's own form, which would make
//!    Spin's SQLite host panic. It is not used to *read* an existing
//!    counter: on Redis an `INCRBY k 0` counts as a write and aborts every
//!    compare-and-swap watching the key — a holder's release included.
//! 2. A compare-and-swap from the value just read to our own, on a key that
//!    now exists: correct on both backends. Spin's Redis store reports the
//!    swap as failed every time, so a failed report is checked by reading the
//!    key again: the lease is ours only if it holds our value. A swap that
//!    changed nothing although the value was still the one read is tried
//!    again (a few times, [`SWAP_TRIES`]).
//!
//! The backend keeps a counter in its own form (8 bytes little-endian on
//! SQLite, decimal text on Redis); [`crate::counter::Form`] writes a value back in the form
//! it read. A decimal counter is `0` or at least 17 digits, so it is never
//! taken for 8 raw bytes.
//!
//! ## How long a record can be blocked
//!
//! A lease expires [`LEASE_TTL`] after it was taken. A request spends at most
//! [`crate::budget::REQUEST_DEADLINE`] on destination calls, well inside
//! that, so a live holder never outlives its lease; a holder that dies (a
//! killed instance, a lost node) blocks its record for at most
//! [`LEASE_TTL`]. Nodes' clocks must agree to within a few seconds (NTP).
//! A request that finds a record busy waits briefly ([`BUSY_WAITS`]) and
//! then answers so that it is retried: a transient outcome for a message
//! (Salesforce redelivers), a `busy` result for resend and backfill.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::counter::Form;
use crate::io::{Http, Kv, KvError, Swap};
use crate::store;

/// How long a lease lasts: longer than any request may hold one.
pub const LEASE_TTL: Duration = Duration::from_secs(60);

/// The waits between tries before a record is answered busy.
pub const BUSY_WAITS: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(500),
];

/// How many times a swap that changed nothing is tried.
pub const SWAP_TRIES: usize = 3;

const TOKEN_BITS: u32 = 24;
const TOKEN_MASK: i64 = (1 << TOKEN_BITS) - 1;

/// A held lease, to give back with [`release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: String,
    held: Vec<u8>,
    form: Form,
}

/// The answer of [`claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Held(Lease),
    /// Another request holds the record until then.
    Busy {
        until: DateTime<Utc>,
    },
}

fn expiry(value: i64) -> i64 {
    value >> TOKEN_BITS
}

fn held_at(value: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (value != 0 && expiry(value) > now.timestamp())
        .then(|| DateTime::from_timestamp(expiry(value), 0))
        .flatten()
}

/// The counter of a lease held by `token` until `now + LEASE_TTL`.
fn lease_value(now: DateTime<Utc>, token: u32) -> i64 {
    let until = now.timestamp().max(0) + LEASE_TTL.as_secs() as i64;
    (until << TOKEN_BITS) | (i64::from(token) & TOKEN_MASK)
}

/// Try once to take the lease that guards `guarded` (a store key) for
/// `token` (unique to this request's claim).
pub async fn claim<K: Kv>(
    kv: &K,
    guarded: &str,
    now: DateTime<Utc>,
    token: u32,
) -> Result<Claim, KvError> {
    let key = store::lease_key(guarded);
    let busy = |value| held_at(value, now).map(|until| Claim::Busy { until });
    let mine = lease_value(now, token);
    // First try: read and swap in one go, when the lease is free.
    let first = kv
        .swap_from(&key, |current| {
            let (form, value) = Form::read(current)?;
            held_at(value, now).is_none().then(|| form.write(mine))
        })
        .await;
    let (seen, swapped) = match first {
        Ok(answer) => answer,
        Err(e) => {
            // The swap may have been written all the same: give back
            // what is ours, in whichever form the store keeps.
            for form in [Form::LittleEndian, Form::Decimal] {
                let held = form.write(mine);
                release(
                    kv,
                    Lease {
                        key: key.clone(),
                        held,
                        form,
                    },
                )
                .await;
            }
            return Err(e);
        }
    };
    let bytes = match seen {
        Some(bytes) => {
            let (form, value) = read(&key, &bytes)?;
            if let Some(b) = busy(value) {
                return Ok(b);
            }
            let lease = Lease {
                key: key.clone(),
                held: form.write(mine),
                form,
            };
            match swapped {
                Some(Swap::Done) => return Ok(Claim::Held(lease)),
                // Not done, or a false report (Spin's Redis store answers
                // it every time): read the key to know.
                Some(Swap::NotDone) => match kv.get(&key).await {
                    Ok(Some(now_there)) if now_there == lease.held => {
                        return Ok(Claim::Held(lease))
                    }
                    Ok(Some(now_there)) if now_there != bytes => {
                        let (_, value) = read(&key, &now_there)?;
                        return Ok(busy(value).unwrap_or(Claim::Busy { until: now }));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        release(kv, lease).await;
                        return Err(e);
                    }
                },
                None => {}
            }
            bytes
        }
        None => {
            kv.increment(&key, 0).await?;
            kv.get(&key).await?.ok_or_else(|| {
                KvError(format!(
                    "{key} was deleted as it was created (by hand?); nothing was synced, send again"
                ))
            })?
        }
    };
    let (form, seen) = read(&key, &bytes)?;
    if let Some(b) = busy(seen) {
        return Ok(b);
    }
    let lease = Lease {
        key: key.clone(),
        held: form.write(mine),
        form,
    };
    for _ in 0..SWAP_TRIES {
        // Once the swap is sent, our value may be in the store whatever the
        // answer: a failure from here on gives the lease back before it is
        // reported, so that it never stays held by nobody.
        let swapped = kv.swap(&key, &bytes, &lease.held).await;
        let now_there = match swapped {
            Ok(Swap::Done) => return Ok(Claim::Held(lease)),
            Ok(Swap::NotDone) => kv.get(&key).await,
            Err(e) => Err(e),
        };
        let now_there = match now_there {
            Ok(v) => v,
            Err(e) => {
                release(kv, lease).await;
                return Err(e);
            }
        };
        match now_there {
            Some(now_there) if now_there == lease.held => return Ok(Claim::Held(lease)),
            Some(now_there) if now_there == bytes => continue,
            Some(now_there) => {
                let (_, value) = read(&key, &now_there)?;
                return Ok(busy(value).unwrap_or(Claim::Busy { until: now }));
            }
            None => break,
        }
    }
    Ok(Claim::Busy { until: now })
}

fn read(key: &str, bytes: &[u8]) -> Result<(Form, i64), KvError> {
    Form::read(bytes).ok_or_else(|| {
        KvError(format!(
            "{key} holds a value that is not a lease counter (written by something other than sfsync); delete the key to free the record"
        ))
    })
}

/// Give a lease back. A failure is harmless: the lease expires on its own.
pub async fn release<K: Kv>(kv: &K, lease: Lease) {
    let free = lease.form.write(0);
    for _ in 0..SWAP_TRIES {
        match kv.swap(&lease.key, &lease.held, &free).await {
            Ok(Swap::Done) => return,
            // A store that failed once may answer the next call.
            Ok(Swap::NotDone) | Err(_) => {}
        }
        match kv.get(&lease.key).await {
            Ok(Some(now_there)) if now_there == lease.held => continue,
            _ => return,
        }
    }
}

/// Leases held together, given back with [`release_all`].
#[derive(Debug, Default)]
pub struct Held(Vec<Lease>);

impl Held {
    /// Hold `other`'s leases too (to give them all back in one write).
    pub fn append(&mut self, mut other: Held) {
        self.0.append(&mut other.0);
    }
}

/// Take the leases of every key in `guarded`, in order, waiting briefly
/// ([`BUSY_WAITS`]) while another request holds one. `Ok(Err(until))`: one
/// stayed busy (those already taken are given back).
pub async fn hold<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    guarded: &[String],
) -> Result<Result<Held, DateTime<Utc>>, KvError> {
    let mut held = Held::default();
    for key in guarded {
        let mut waits = BUSY_WAITS.iter();
        let taken = loop {
            let answer = claim(ctx.kv, key, ctx.current_time(), ctx.next_lease_token()).await;
            match (answer, waits.next()) {
                (Ok(Claim::Busy { .. }), Some(wait)) => ctx.http.sleep(*wait).await,
                (answer, _) => break answer,
            }
        };
        match taken {
            Ok(Claim::Held(lease)) => held.0.push(lease),
            Ok(Claim::Busy { until }) => {
                release_all(ctx.kv, held).await;
                return Ok(Err(until));
            }
            Err(e) => {
                release_all(ctx.kv, held).await;
                return Err(e);
            }
        }
    }
    Ok(Ok(held))
}

/// Give back every lease of `held`.
pub async fn release_all<K: Kv>(kv: &K, held: Held) {
    for lease in held.0 {
        release(kv, lease).await;
    }
}

/// How long before its expiry a lease is still given back by a plain write.
pub const RELEASE_MARGIN: Duration = Duration::from_secs(20);

/// Write what the leases guard and give them back in one batch: one call,
/// one transaction on SQLite. A lease is freed by a plain write here — not
/// a compare-and-swap — which is safe while it has not expired: nobody else
/// can hold it then. So this is done only while every lease has more than
/// [`RELEASE_MARGIN`] left (leases last [`LEASE_TTL`], a request's calls at
/// most [`crate::budget::REQUEST_DEADLINE`]); later, the writes go alone
/// and each lease is given back by compare-and-swap. When the write fails,
/// the leases are given back all the same and the error is answered.
pub async fn write_and_release<K: Kv>(
    kv: &K,
    now: DateTime<Utc>,
    mut writes: Vec<(String, Vec<u8>)>,
    held: Held,
) -> Result<(), KvError> {
    let margin = RELEASE_MARGIN.as_secs() as i64;
    let in_time = held.0.iter().all(|lease| {
        Form::read(&lease.held).is_some_and(|(_, v)| expiry(v) > now.timestamp() + margin)
    });
    if in_time {
        writes.extend(
            held.0
                .iter()
                .map(|lease| (lease.key.clone(), lease.form.write(0))),
        );
        match kv.set_many(&writes).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                release_all(kv, held).await;
                return Err(e);
            }
        }
    }
    let written = kv.set_many(&writes).await;
    release_all(kv, held).await;
    written
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::memory::{Backend, MemoryKv};

    const KEY: &str = "rec/Contact/003000000000001AAA";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    fn held(c: &Claim) -> bool {
        matches!(c, Claim::Held(_))
    }

    fn one_holder_at_a_time(kv: &MemoryKv) {
        let first = block_on(claim(kv, KEY, at(0), 1)).expect("claim");
        assert!(held(&first), "{first:?}");
        let second = block_on(claim(kv, KEY, at(1), 2)).expect("claim");
        assert_eq!(
            second,
            Claim::Busy {
                until: at(LEASE_TTL.as_secs() as i64)
            }
        );
        let Claim::Held(lease) = first else {
            unreachable!()
        };
        block_on(release(kv, lease));
        assert!(held(&block_on(claim(kv, KEY, at(2), 2)).expect("claim")));
    }

    #[test]
    fn one_holder_at_a_time_on_either_backend() {
        let sqlite = MemoryKv::new();
        one_holder_at_a_time(&sqlite);
        assert_eq!(
            sqlite.snapshot()["lease/rec/Contact/003000000000001AAA"].len(),
            8
        );

        // Redis reports every swap as failed: the claim reads the counter
        // back, and the text form stays text.
        let redis = MemoryKv::with_backend(Backend::Redis);
        one_holder_at_a_time(&redis);
        let text = redis.snapshot()["lease/rec/Contact/003000000000001AAA"].clone();
        assert!(std::str::from_utf8(&text)
            .expect("text")
            .parse::<i64>()
            .is_ok());
    }

    fn take(kv: &MemoryKv, now: DateTime<Utc>, token: u32) -> Held {
        match block_on(claim(kv, KEY, now, token)).expect("claim") {
            Claim::Held(lease) => Held(vec![lease]),
            busy => panic!("{busy:?}"),
        }
    }

    #[test]
    fn the_guarded_write_and_the_release_go_in_one_batch_and_free_the_lease() {
        for backend in [Backend::Sqlite, Backend::Redis] {
            let kv = MemoryKv::with_backend(backend);
            let lease = take(&kv, at(0), 1);
            let writes = vec![(KEY.to_string(), b"record".to_vec())];
            block_on(write_and_release(&kv, at(1), writes, lease)).expect("written");
            assert_eq!(kv.snapshot()[KEY], b"record");
            let free = kv.snapshot()["lease/rec/Contact/003000000000001AAA"].clone();
            assert_eq!(Form::read(&free).map(|(_, v)| v), Some(0));
            assert!(held(&block_on(claim(&kv, KEY, at(2), 2)).expect("claim")));
        }
    }

    #[test]
    fn near_its_expiry_a_lease_is_given_back_only_if_still_ours() {
        let kv = MemoryKv::new();
        let lease = take(&kv, at(0), 1);
        // Past the margin: a plain write could free someone else's lease, so
        // the release is a compare-and-swap; here another request took the
        // record after ours expired, and keeps it.
        let late = at(LEASE_TTL.as_secs() as i64 + 1);
        let other = take(&kv, late, 2);
        let writes = vec![(KEY.to_string(), b"record".to_vec())];
        block_on(write_and_release(&kv, late, writes, lease)).expect("written");
        assert_eq!(
            block_on(claim(&kv, KEY, late, 3)).expect("claim"),
            Claim::Busy {
                until: late + chrono::Duration::seconds(LEASE_TTL.as_secs() as i64)
            },
            "the other request's lease is untouched"
        );
        drop(other);
    }

    #[test]
    fn a_failed_batch_still_gives_the_lease_back() {
        let kv = MemoryKv::new();
        let lease = take(&kv, at(0), 1);
        *kv.fail_prefix.borrow_mut() = Some("rec/".into());
        let writes = vec![(KEY.to_string(), b"record".to_vec())];
        assert!(block_on(write_and_release(&kv, at(1), writes, lease)).is_err());
        *kv.fail_prefix.borrow_mut() = None;
        assert!(!kv.snapshot().contains_key(KEY), "nothing half-written");
        assert!(held(&block_on(claim(&kv, KEY, at(2), 2)).expect("claim")));
    }

    #[test]
    fn a_dead_holder_blocks_for_the_lease_ttl_at_most() {
        let kv = MemoryKv::new();
        assert!(held(&block_on(claim(&kv, KEY, at(0), 1)).expect("claim")));
        // The holder never releases.
        let ttl = LEASE_TTL.as_secs() as i64;
        let just_before = block_on(claim(&kv, KEY, at(ttl - 1), 2)).expect("claim");
        assert!(!held(&just_before));
        assert!(held(&block_on(claim(&kv, KEY, at(ttl), 2)).expect("claim")));
    }

    #[test]
    fn a_release_after_expiry_does_not_free_the_next_holder() {
        let kv = MemoryKv::new();
        let Claim::Held(old) = block_on(claim(&kv, KEY, at(0), 1)).expect("claim") else {
            panic!("not held")
        };
        let ttl = LEASE_TTL.as_secs() as i64;
        assert!(held(&block_on(claim(&kv, KEY, at(ttl), 2)).expect("claim")));
        block_on(release(&kv, old));
        assert!(!held(
            &block_on(claim(&kv, KEY, at(ttl + 1), 3)).expect("claim")
        ));
    }

    #[test]
    fn a_swap_lost_to_a_competitor_is_busy() {
        // A competitor takes the lease between our read and our swap.
        let kv = MemoryKv::with_backend(Backend::Redis);
        kv.before_swap(Box::new(|map| {
            let competitor = lease_value(at(0), 9).to_string().into_bytes();
            map.insert("lease/rec/Contact/003000000000001AAA".into(), competitor);
        }));
        let c = block_on(claim(&kv, KEY, at(0), 1)).expect("claim");
        assert!(!held(&c), "{c:?}");
    }

    #[test]
    fn a_swap_that_changed_nothing_is_tried_again() {
        // On Redis any write to the key between the watch and the swap
        // aborts it, even one that leaves the value as it was.
        for backend in [Backend::Sqlite, Backend::Redis] {
            let kv = MemoryKv::with_backend(backend);
            kv.abort_swaps.set(2);
            let first = block_on(claim(&kv, KEY, at(0), 1)).expect("claim");
            let Claim::Held(lease) = first else {
                panic!("{backend:?}: {first:?}")
            };
            kv.abort_swaps.set(2);
            block_on(release(&kv, lease));
            assert!(held(&block_on(claim(&kv, KEY, at(1), 2)).expect("claim")));
        }
    }

    #[test]
    fn counters_are_read_in_either_form() {
        assert_eq!(
            Form::read(&7i64.to_le_bytes()),
            Some((Form::LittleEndian, 7))
        );
        assert_eq!(Form::read(b"0"), Some((Form::Decimal, 0)));
        let v = lease_value(at(0), 5);
        assert!(
            v.to_string().len() > 8,
            "a decimal lease never looks like 8 raw bytes"
        );
        assert_eq!(
            Form::read(v.to_string().as_bytes()),
            Some((Form::Decimal, v))
        );
        assert_eq!(Form::read(b"{}"), None);
    }
}
