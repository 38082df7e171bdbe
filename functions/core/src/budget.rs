//! How long a request may spend on destination calls, and the destination's
//! own "wait": one place that every outbound call goes through.
//!
//! Salesforce waits 60 s for an answer and then redelivers, while the first
//! delivery may still be running. So a request has a hard
//! [`REQUEST_DEADLINE`], well inside that: each call's timeout is the smaller
//! of its own and what remains, and no call starts with less than
//! [`MIN_CALL`] left. When the destination answers `429` or `503` with a
//! `Retry-After` longer than sfsync waits inline, the request makes no more
//! calls at all: the other records of the message would only get the same
//! answer, and spend the destination's limit. Records not called are
//! recorded as a transient failure, so Salesforce redelivers (resend and
//! backfill say to run again).
//!
//! [`Budget`] lives in the request's [`crate::context::Context`];
//! [`Guarded`] wraps the host's [`Http`] with it.

use std::cell::RefCell;
use std::time::Duration;

use crate::io::{Http, HttpError, HttpRequest, HttpResponse};

/// The most a request spends on destination calls.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(25);

/// No call starts with less than this left before the deadline.
pub const MIN_CALL: Duration = Duration::from_millis(500);

/// The longest `Retry-After` waited for inside a request (once); a longer
/// one stops the request's calls.
pub const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(2);

/// One request's calling budget.
#[derive(Debug)]
pub struct Budget {
    deadline: Duration,
    /// Why no more calls are made, once the destination asked to wait.
    held_off: RefCell<Option<String>>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(REQUEST_DEADLINE)
    }
}

impl Budget {
    pub fn new(deadline: Duration) -> Budget {
        Budget {
            deadline,
            held_off: RefCell::new(None),
        }
    }

    /// What remains, or why no call may start now.
    pub fn remaining(&self, elapsed: Duration) -> Result<Duration, String> {
        if let Some(why) = self.held_off.borrow().as_ref() {
            return Err(why.clone());
        }
        let left = self.deadline.saturating_sub(elapsed);
        if left < MIN_CALL {
            return Err(format!(
                "this request had spent its {} s for destination calls",
                self.deadline.as_secs()
            ));
        }
        Ok(left)
    }

    /// Note an answer: a long `Retry-After` stops the request's calls.
    fn observe(&self, resp: &HttpResponse) {
        if !matches!(resp.status, 429 | 503) {
            return;
        }
        if let Some(wait) = retry_after(resp).filter(|w| *w > MAX_INLINE_RETRY_AFTER) {
            *self.held_off.borrow_mut() = Some(format!(
                "the destination asked to wait {} s (Retry-After after {})",
                wait.as_secs(),
                resp.status
            ));
        }
    }
}

/// The `Retry-After` of an answer, in seconds (the form Zendesk and most
/// APIs send).
pub fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    resp.headers
        .get("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The host's [`Http`] under a request's [`Budget`].
pub struct Guarded<'a, H> {
    pub inner: &'a H,
    pub budget: &'a Budget,
    pub elapsed: &'a dyn Fn() -> Duration,
}

impl<H: Http> Http for Guarded<'_, H> {
    async fn send(&self, mut request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let left = self
            .budget
            .remaining((self.elapsed)())
            .map_err(HttpError::NotAttempted)?;
        request.timeout = request.timeout.min(left);
        let resp = self.inner.send(request).await?;
        self.budget.observe(&resp);
        Ok(resp)
    }

    /// Waits only when a call still fits after the wait.
    async fn sleep(&self, duration: Duration) {
        let fits = self.budget.remaining((self.elapsed)() + duration).is_ok();
        if fits {
            self.inner.sleep(duration).await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::BTreeMap;

    use futures::executor::block_on;

    use super::*;
    use crate::memory::ScriptedHttp;

    fn answer(status: u16, retry_after: Option<&str>) -> Result<HttpResponse, HttpError> {
        let mut headers = BTreeMap::new();
        if let Some(r) = retry_after {
            headers.insert("retry-after".to_string(), r.to_string());
        }
        Ok(HttpResponse {
            status,
            headers,
            body: b"{}".to_vec(),
        })
    }

    fn request() -> HttpRequest {
        HttpRequest::json("GET", "https://x.example/a".into(), None)
    }

    #[test]
    fn a_call_never_outlives_the_deadline() {
        let http = ScriptedHttp::default();
        let budget = Budget::new(Duration::from_secs(25));
        let spent = Cell::new(Duration::from_secs(20));
        let elapsed = || spent.get();
        let guarded = Guarded {
            inner: &http,
            budget: &budget,
            elapsed: &elapsed,
        };
        block_on(guarded.send(request())).expect("sent");
        assert_eq!(http.sent.borrow()[0].timeout, Duration::from_secs(5));

        spent.set(Duration::from_millis(24_600));
        let e = block_on(guarded.send(request())).expect_err("too late");
        assert!(
            matches!(e, HttpError::NotAttempted(ref m) if m.contains("25 s")),
            "{e:?}"
        );
        assert_eq!(http.sent.borrow().len(), 1, "no call started");
    }

    #[test]
    fn a_long_retry_after_stops_every_later_call() {
        let http = ScriptedHttp::default();
        http.replies.borrow_mut().push(answer(429, Some("30")));
        let budget = Budget::default();
        let elapsed = || Duration::ZERO;
        let guarded = Guarded {
            inner: &http,
            budget: &budget,
            elapsed: &elapsed,
        };
        assert_eq!(
            block_on(guarded.send(request())).expect("answer").status,
            429
        );
        let e = block_on(guarded.send(request())).expect_err("held off");
        assert!(
            matches!(e, HttpError::NotAttempted(ref m) if m.contains("wait 30 s")),
            "{e:?}"
        );
        assert_eq!(http.sent.borrow().len(), 1);

        // A short one is waited inline by the destination, and calls go on.
        let http = ScriptedHttp::default();
        http.replies.borrow_mut().push(answer(429, Some("1")));
        let budget = Budget::default();
        let guarded = Guarded {
            inner: &http,
            budget: &budget,
            elapsed: &elapsed,
        };
        block_on(guarded.send(request())).expect("answer");
        block_on(guarded.send(request())).expect("still calling");
    }

    #[test]
    fn a_wait_that_would_pass_the_deadline_is_not_slept() {
        let http = ScriptedHttp::default();
        let budget = Budget::new(Duration::from_secs(3));
        let elapsed = || Duration::from_secs(2);
        let guarded = Guarded {
            inner: &http,
            budget: &budget,
            elapsed: &elapsed,
        };
        block_on(guarded.sleep(Duration::from_secs(2)));
        assert!(http.slept.borrow().is_empty());
    }
}
