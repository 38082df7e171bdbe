//! What an entry point hands the core for one request: the deployment's
//! [`Settings`], the two I/O doors ([`Kv`], [`Http`]) and the clock.
//!
//! It sits at the bottom of the crate: the pipeline, the destinations and the
//! admin routes all read it, and it depends on none of them. The Spin glue
//! builds one per request (spin-sdk's store, outbound HTTP, the wall clock
//! and WASI's monotonic clock); the tests build one over
//! `crate::memory`'s in-memory doors.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::io::{Http, Kv};
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
}

impl<K: Kv, H: Http> Context<'_, K, H> {
    /// The wall-clock time now: the request's start plus what it has spent.
    pub fn current_time(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::from_std((self.elapsed)()).unwrap_or_default()
    }
}
