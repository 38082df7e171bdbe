//! Pacing bulk calls to the destination's rate limit, shared by every
//! instance on every node.
//!
//! Zendesk's limit is per account and per minute, and shared by all of the
//! account's clients: agents' apps, other integrations, sfsync's own
//! triggers. A resend of fifty thousand records must not spend it all. So
//! each bulk call's answer — `X-Rate-Limit`, `X-Rate-Limit-Remaining`, and
//! the `Retry-After` of a `429` or `503` — is kept under [`KEY`] in the
//! key-value store, and every instance reads it before its next bulk call:
//!
//! - while a `Retry-After` runs, no bulk call starts;
//! - when the minute's calls left are down to the reserve
//!   ([`RESERVE_PERCENT`] of the limit), bulk calls wait for the next
//!   minute, leaving the reserve to the triggers and the other clients.
//!
//! A wait that fits the request's budget is slept; a longer one stops the
//! request's bulk calls ([`HttpError::NotAttempted`], saying how long), and
//! the caller runs again later. Per-record calls of the triggers are not
//! paced: a change must arrive within seconds, and Salesforce redelivers
//! what a `429` refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::retry_after;
use crate::context::Context;
use crate::io::{Http, HttpError, HttpRequest, HttpResponse, Kv};

/// Where the pace is kept.
pub const KEY: &str = "pace/zendesk";

/// The share of the limit that bulk calls leave to everyone else.
pub const RESERVE_PERCENT: u32 = 10;

/// The length of the limit's window.
const WINDOW_SECS: i64 = 60;

/// What the destination said about its limit, last time anyone asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// When the current window began, as far as sfsync can tell: the first
    /// answer whose `remaining` went up.
    pub window_started: Option<DateTime<Utc>>,
    /// A `Retry-After` runs until then.
    pub wait_until: Option<DateTime<Utc>>,
}

impl Pace {
    /// The calls kept for the others out of `limit`.
    pub fn reserve(limit: u32) -> u32 {
        (limit * RESERVE_PERCENT).div_ceil(100)
    }

    /// How long a bulk call must wait at `now`, and why; `None`: go.
    pub fn wait(&self, now: DateTime<Utc>) -> Option<(Duration, String)> {
        if let Some(until) = self.wait_until.filter(|u| *u > now) {
            return Some((
                (until - now).to_std().unwrap_or_default(),
                "Zendesk asked to wait (Retry-After)".into(),
            ));
        }
        let (limit, remaining, started) = (self.limit?, self.remaining?, self.window_started?);
        let next = started + chrono::Duration::seconds(WINDOW_SECS);
        (remaining <= Pace::reserve(limit) && next > now).then(|| {
            (
                (next - now).to_std().unwrap_or_default(),
                format!(
                    "{remaining} of Zendesk's {limit} calls a minute are left, and sfsync leaves the last {} to the triggers and the account's other clients",
                    Pace::reserve(limit)
                ),
            )
        })
    }

    /// Take in an answer received at `now`.
    pub fn observe(&mut self, resp: &HttpResponse, now: DateTime<Utc>) {
        let header = |name: &str| {
            resp.headers
                .get(name)
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        if let Some(limit) = header("x-rate-limit") {
            self.limit = Some(limit);
        }
        if let Some(remaining) = header("x-rate-limit-remaining") {
            let renewed = self.remaining.is_none_or(|before| remaining > before);
            let stale = self
                .window_started
                .is_none_or(|s| now - s >= chrono::Duration::seconds(WINDOW_SECS));
            if renewed || stale {
                self.window_started = Some(now);
            }
            self.remaining = Some(remaining);
        }
        if matches!(resp.status, 429 | 503) {
            let wait = retry_after(resp).unwrap_or(Duration::from_secs(1));
            self.wait_until = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
        }
    }
}

async fn load<K: Kv>(kv: &K) -> Pace {
    match kv.get(KEY).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Pace::default(),
    }
}

/// The request's outbound calls, paced by the shared [`Pace`].
pub struct Paced<'c, 'a, K, H> {
    pub ctx: &'c Context<'a, K, H>,
}

impl<K: Kv, H: Http> Http for Paced<'_, '_, K, H> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let ctx = self.ctx;
        // Wait while the pace says so, as long as a call still fits after.
        for _ in 0..3 {
            let Some((wait, why)) = load(ctx.kv).await.wait(ctx.current_time()) else {
                break;
            };
            if ctx.budget.remaining((ctx.elapsed)() + wait).is_err() {
                return Err(HttpError::NotAttempted(format!(
                    "{why}; run again in {} s",
                    wait.as_secs().max(1)
                )));
            }
            ctx.http.sleep(wait).await;
        }
        let resp = ctx.outbound().send(request).await?;
        let mut pace = load(ctx.kv).await;
        pace.observe(&resp, ctx.current_time());
        if let Ok(bytes) = serde_json::to_vec(&pace) {
            // The pace only advises: a lost write costs at most one early call.
            let _ = ctx.kv.set(KEY, &bytes).await;
        }
        Ok(resp)
    }

    async fn sleep(&self, duration: Duration) {
        self.ctx.outbound().sleep(duration).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            body: Vec::new(),
        }
    }

    #[test]
    fn calls_go_on_until_only_the_reserve_is_left() {
        let mut pace = Pace::default();
        pace.observe(
            &answer(
                200,
                &[("x-rate-limit", "700"), ("x-rate-limit-remaining", "600")],
            ),
            at(0),
        );
        assert_eq!(pace.wait(at(1)), None);
        pace.observe(
            &answer(
                200,
                &[("x-rate-limit", "700"), ("x-rate-limit-remaining", "70")],
            ),
            at(20),
        );
        let (wait, why) = pace.wait(at(20)).expect("down to the reserve");
        assert_eq!(
            wait,
            Duration::from_secs(40),
            "until the window that began at 0 ends"
        );
        assert!(why.contains("70 of Zendesk's 700"), "{why}");
        assert_eq!(pace.wait(at(60)), None, "a new minute");
    }

    #[test]
    fn a_retry_after_holds_every_bulk_call() {
        let mut pace = Pace::default();
        pace.observe(&answer(429, &[("retry-after", "30")]), at(0));
        let (wait, _) = pace.wait(at(10)).expect("held");
        assert_eq!(wait, Duration::from_secs(20));
        assert_eq!(pace.wait(at(30)), None);
    }
}
