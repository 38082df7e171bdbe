//! Records waiting for a linked record's destination record: a Contact
//! whose Account has no Zendesk organization yet.
//!
//! Lead conversion creates an Account and its Contacts in one transaction,
//! and their Outbound Messages arrive in any order. A Contact synced first is
//! written without its organization and **waits**:
//!
//! - its record says so (`waiting_for`, and a `transient` error, so a message
//!   is answered with a Fault and Salesforce delivers it again);
//! - after [`WAIT_ARRIVALS`] arrivals or [`WAIT_TIME`], whichever comes
//!   first, the error becomes `permanent` and says what to do: a message is
//!   then acknowledged, and the record stays visible as an error;
//! - either way it is on the Account's waiting list (`waiting/Account/<Id>`),
//!   and when the Account syncs, the pipeline links every record on the list
//!   (process `link`), without an admin.
//!
//! A message and a backfill row follow the same rule. The list is changed
//! only under its own lease ([`crate::lease`]), so two Contacts noting
//! themselves at once on two nodes both stay on it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::failure::Failure;
use crate::io::{Http, Kv};
use crate::lease;
use crate::record::Waiting;
use crate::reference::RecordRef;
use crate::store;

/// Arrivals a record may wait before its error becomes permanent.
pub const WAIT_ARRIVALS: u32 = 10;
/// How long a record may wait before its error becomes permanent.
pub const WAIT_TIME: Duration = Duration::from_secs(30 * 60);
/// The most waiting records one sync of the linked record links.
pub const LINKS_PER_SYNC: usize = 50;

/// The wait after one more arrival that found `linked` missing.
pub fn after_arrival(previous: Option<Waiting>, linked: RecordRef, now: DateTime<Utc>) -> Waiting {
    match previous {
        Some(w) if w.record == linked => Waiting {
            arrivals: w.arrivals.saturating_add(1),
            ..w
        },
        _ => Waiting {
            record: linked,
            since: now,
            arrivals: 1,
        },
    }
}

/// What a waiting record's error says, and whether it is retried.
pub fn failure(w: &Waiting, now: DateTime<Utc>) -> Failure {
    let waited = (now - w.since).to_std().unwrap_or_default();
    if w.arrivals >= WAIT_ARRIVALS || waited >= WAIT_TIME {
        Failure::permanent(format!(
            "synced without an organization: {} still has no Zendesk organization after {} arrivals since {}; sync it (update it in Salesforce, or backfill Accounts) and this record is linked automatically",
            w.record,
            w.arrivals,
            w.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    } else {
        Failure::transient(format!(
            "waiting for {}: its Zendesk organization does not exist yet; the user was written without it and is linked when the Account syncs (retried until then, {} arrivals or {} minutes at most)",
            w.record,
            WAIT_ARRIVALS,
            WAIT_TIME.as_secs() / 60
        ))
    }
}

/// Put `record` on `linked`'s waiting list (`true`) or take it off
/// (`false`), under the list's lease. `Err` says why it could not.
pub async fn note<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    linked: &RecordRef,
    record: &RecordRef,
    waits: bool,
) -> Result<(), String> {
    let held = match lease::hold(ctx, &[store::waiting_key(linked)]).await {
        Ok(Ok(held)) => held,
        Ok(Err(_)) => return Err(format!("the waiting list of {linked} is busy")),
        Err(e) => return Err(e.to_string()),
    };
    let result = async {
        let mut list = store::load_waiting(ctx.kv, linked).await?;
        let present = list.contains(record);
        if waits == present {
            return Ok(());
        }
        if waits {
            list.push(record.clone());
        } else {
            list.retain(|r| r != record);
        }
        store::save_waiting(ctx.kv, linked, &list).await
    }
    .await;
    lease::release_all(ctx.kv, held).await;
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + mins * 60, 0).expect("time")
    }

    #[test]
    fn a_wait_is_retried_for_ten_arrivals_or_thirty_minutes() {
        let account = RecordRef::new("Account", "001000000000001AAA");
        let mut w = after_arrival(None, account.clone(), at(0));
        for _ in 1..WAIT_ARRIVALS {
            assert!(failure(&w, at(1)).kind.needs_redelivery());
            w = after_arrival(Some(w), account.clone(), at(1));
        }
        let last = failure(&w, at(1));
        assert!(!last.kind.needs_redelivery(), "{last:?}");
        assert!(
            last.message.contains("linked automatically"),
            "{}",
            last.message
        );

        let w = after_arrival(None, account.clone(), at(0));
        assert!(failure(&w, at(29)).kind.needs_redelivery());
        assert!(!failure(&w, at(30)).kind.needs_redelivery());

        // Another Account starts the count again.
        let other = RecordRef::new("Account", "001000000000002AAA");
        let w = after_arrival(Some(w), other.clone(), at(40));
        assert_eq!((w.record, w.arrivals, w.since), (other, 1, at(40)));
    }
}
