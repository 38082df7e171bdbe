//! What an entry point hands the core for one request: the deployment's
//! [`Settings`], the two I/O doors ([`Kv`], [`Http`]) and the clock.
//!
//! It sits at the bottom of the crate: the pipeline, the destinations and the
//! admin routes all read it, and it depends on none of them. The Spin glue
//! builds one per request (spin-sdk's store, outbound HTTP, the wall clock
//! and WASI's monotonic clock); the tests build one over
//! `crate::memory`'s in-memory doors.
//!
//! Destinations call out through [`Context::outbound`], which holds every
//! call to the request's [`Budget`]; the raw [`Http`] is for waiting only.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::budget::{Budget, Guarded};
use crate::io::{Http, Kv};
use crate::log::RunNote;
use crate::run::Run;
use crate::settings::Settings;

/// One request's world.
pub struct Context<'a, K, H> {
    pub settings: &'a Settings,
    pub kv: &'a K,
    pub http: &'a H,
    /// The time of the request (what records are stamped with).
    pub now: DateTime<Utc>,
    /// Time spent on this request so far (a monotonic clock).
    pub elapsed: &'a dyn Fn() -> Duration,
    /// The request's deadline and the destination's "wait".
    pub budget: Budget,
    /// Where this request's lease tokens start (random per request), and how
    /// many it has taken.
    lease_seed: u32,
    leases_taken: Cell<u32>,
    /// The run this request wrote, for its log line ([`crate::log`]).
    noted_run: RefCell<Option<RunNote>>,
}

impl<'a, K: Kv, H: Http> Context<'a, K, H> {
    /// A request's world with the default [`Budget`]. `lease_seed` should be
    /// random per request: it tells this request's leases from others'.
    pub fn new(
        settings: &'a Settings,
        kv: &'a K,
        http: &'a H,
        now: DateTime<Utc>,
        elapsed: &'a dyn Fn() -> Duration,
        lease_seed: u32,
    ) -> Self {
        Context {
            settings,
            kv,
            http,
            now,
            elapsed,
            budget: Budget::default(),
            lease_seed,
            leases_taken: Cell::new(0),
            noted_run: RefCell::new(None),
        }
    }

    /// The same with another deadline (tests).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The wall-clock time now: the request's start plus what it has spent.
    pub fn current_time(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::from_std((self.elapsed)()).unwrap_or_default()
    }

    /// Outbound calls under this request's budget.
    pub fn outbound(&self) -> Guarded<'_, H> {
        Guarded {
            inner: self.http,
            budget: &self.budget,
            elapsed: self.elapsed,
        }
    }

    /// Remember the run this request wrote (the last one, if several), for
    /// the request's log line.
    pub fn note_run(&self, run: &Run) {
        *self.noted_run.borrow_mut() = Some(RunNote::of(run));
    }

    /// The run [`Context::note_run`] remembered.
    pub fn noted_run(&self) -> Option<RunNote> {
        self.noted_run.borrow().clone()
    }

    /// A token for the next lease this request takes: unique within the
    /// request, random across requests.
    pub fn next_lease_token(&self) -> u32 {
        let n = self.leases_taken.get().wrapping_add(1);
        self.leases_taken.set(n);
        self.lease_seed.wrapping_add(n.wrapping_mul(0x9E37_79B9))
    }
}
