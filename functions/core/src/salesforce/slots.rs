//! At most `sf_max_concurrent_requests` requests to Salesforce at once,
//! across every instance and node that shares the store.
//!
//! Spin runs each admin call in its own instance, and a deployment may run
//! many nodes: two admins pulling, a scheduled sweep and a `sfsync pull`
//! would otherwise each call Salesforce as fast as they can, and an org
//! allows only so many concurrent API requests (long ones count against a
//! limit of 25). So each request to Salesforce first takes one of the
//! variable's number of *slots* and gives it back when the answer is in.
//!
//! A slot is a [`crate::lease`] on the store key `state/sf-slot/{n}`: the
//! same atomic take-and-give-back that guards a record, so it holds on
//! SQLite and on Redis alike, and a slot whose holder died frees itself
//! after [`crate::lease::LEASE_TTL`]. A request that finds every slot taken
//! tries again after short waits ([`WAITS`]), then answers
//! [`SlotError::Busy`]: nothing was read, the caller tries again (the
//! admin API answers `503` with `Retry-After`, which `sfsync pull` and
//! `sfsync reconcile` honour).

use std::time::Duration;

use crate::context::Context;
use crate::io::{Http, Kv, KvError};
use crate::lease::{self, Claim, Lease};

/// The waits between rounds over every slot before a request gives up.
pub const WAITS: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(800),
    Duration::from_millis(1600),
];

/// How long a caller told "busy" should wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 2;

/// The store key slot `n` guards.
pub fn slot_key(n: u32) -> String {
    format!("state/sf-slot/{n}")
}

/// A slot that is held, to give back with [`give_back`].
#[derive(Debug)]
pub struct Slot(Lease);

/// Why no slot was taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("{limit} requests to Salesforce are already under way (sf_max_concurrent_requests = {limit}); nothing was read, try again in a few seconds")]
    Busy { limit: u32 },
    #[error("{0}")]
    Store(KvError),
}

/// Take a free slot of `limit`, waiting a little while every one is held.
pub async fn take<K: Kv, H: Http>(ctx: &Context<'_, K, H>, limit: u32) -> Result<Slot, SlotError> {
    let limit = limit.max(1);
    // Start where this request's tokens point, so that requests spread
    // over the slots instead of all trying slot 0 first.
    let start = ctx.next_lease_token() % limit;
    let mut waits = WAITS.iter();
    loop {
        for i in 0..limit {
            let key = slot_key((start + i) % limit);
            let claim = lease::claim(ctx.kv, &key, ctx.current_time(), ctx.next_lease_token())
                .await
                .map_err(SlotError::Store)?;
            if let Claim::Held(held) = claim {
                return Ok(Slot(held));
            }
        }
        match waits.next() {
            Some(wait) => ctx.http.sleep(*wait).await,
            None => return Err(SlotError::Busy { limit }),
        }
    }
}

/// Give a slot back (a failure is harmless: it frees itself in time).
pub async fn give_back<K: Kv>(kv: &K, slot: Slot) {
    lease::release(kv, slot.0).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{settings_from, MemoryKv, ScriptedHttp};

    #[test]
    fn no_more_slots_than_the_limit_are_held_and_a_given_back_one_is_taken_again() {
        let kv = MemoryKv::default();
        let http = ScriptedHttp::default();
        let settings = settings_from(&[]);
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        futures::executor::block_on(async {
            let ctx = Context::new(&settings, &kv, &http, now, &|| Duration::ZERO, 7);
            let a = take(&ctx, 2).await.expect("first");
            let b = take(&ctx, 2).await.expect("second");
            assert_eq!(
                take(&ctx, 2).await.unwrap_err(),
                SlotError::Busy { limit: 2 },
                "a third request waits, then is told to try again"
            );
            assert_eq!(
                *http.slept.borrow(),
                WAITS.to_vec(),
                "it waited before giving up"
            );
            give_back(&kv, a).await;
            let c = take(&ctx, 2).await.expect("a freed slot is taken again");
            give_back(&kv, b).await;
            give_back(&kv, c).await;
        });
    }
}
