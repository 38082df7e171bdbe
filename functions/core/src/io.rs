//! The two doors to the world: [`Kv`] (the host's key-value store) and
//! [`Http`] (outbound requests to a destination).
//!
//! `sync-core` never performs I/O itself. Each Spin function implements these
//! traits with spin-sdk; the tests implement them in memory
//! (`crate::memory`). Everything else in the crate is plain data and
//! decisions, so it runs the same natively and in WebAssembly.

use std::collections::BTreeMap;
use std::time::Duration;

/// A key-value store failure. Never acknowledged to Salesforce: a message
/// whose outcome could not be written is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key-value store: {0}")]
pub struct KvError(pub String);

/// The host's key-value store (Spin's `default` store).
#[allow(async_fn_in_trait)]
pub trait Kv {
    /// The value at `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Insert or overwrite `key`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Remove `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Keys starting with `prefix`, in ascending byte order, strictly after
    /// `after` when given, at most `limit` of them.
    async fn list_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, KvError>;
    /// Atomically add `delta` to the counter at `key` (a missing key counts
    /// as 0) and answer the new value. The backend keeps the value in its own
    /// form: 8 bytes little-endian on SQLite, decimal text on Redis — so a
    /// key that is incremented is only ever written through
    /// [`crate::counter`].
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Compare-and-swap: write `new` at `key` only if it still holds
    /// `expected`. [`Swap::Done`] is a sure success; [`Swap::NotDone`] may
    /// be a false report (Spin's Redis store answers it every time), so the
    /// caller reads the key to know.
    async fn swap(&self, key: &str, expected: &[u8], new: &[u8]) -> Result<Swap, KvError>;
    /// Compare-and-swap from what `key` holds now: `next` sees the value
    /// (`None`: absent) and answers what to write instead, or `None` to
    /// write nothing. Answers the value seen, and the swap's answer (`None`
    /// when nothing was written; an absent key is never written). A host
    /// with a compare-and-swap handle reads the key once for both; the
    /// default reads it, then [`Kv::swap`]s.
    async fn swap_from(
        &self,
        key: &str,
        next: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<(Option<Vec<u8>>, Option<Swap>), KvError> {
        let Some(seen) = self.get(key).await? else {
            return Ok((None, None));
        };
        let Some(new) = next(&seen) else {
            return Ok((Some(seen), None));
        };
        let swapped = self.swap(key, &seen, &new).await?;
        Ok((Some(seen), Some(swapped)))
    }
    /// The values of those of `keys` that exist, in any order (Spin answers
    /// in key order). One call to the host where it has `wasi:keyvalue`
    /// batch; the default reads one key at a time.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.get(key).await? {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }
    /// Write every pair: one call to the host, one transaction on Spin's
    /// SQLite store (`MSET` on Redis). The default writes one at a time.
    async fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        for (key, value) in entries {
            self.set(key, value).await?;
        }
        Ok(())
    }
}

/// The answer of [`Kv::swap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Done,
    NotDone,
}

/// An outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Give up (with [`HttpError::Timeout`]) when no response came by then.
    pub timeout: Duration,
}

impl HttpRequest {
    /// A JSON request with the default timeout.
    pub fn json(method: &str, url: String, body: Option<&serde_json::Value>) -> HttpRequest {
        let mut headers = vec![("accept".to_string(), "application/json".to_string())];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        HttpRequest {
            method: method.to_string(),
            url,
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// How long one destination call may take before it counts as a timeout:
/// short enough that a message of retries never outlives Salesforce's wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A destination's answer (any status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The host refused the call: the URL's host is not in
    /// `allowed_outbound_hosts`.
    #[error("the host refused the outbound request (not in allowed_outbound_hosts)")]
    Denied,
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    /// The request body could not be written (the host dropped the
    /// request); the glue finds out why before answering.
    #[error("the request body could not be sent: {0}")]
    BodyNotSent(String),
    /// Not sent at all: the request's budget does not allow it
    /// ([`crate::budget`]).
    #[error("not called: {0}")]
    NotAttempted(String),
    #[error("{0}")]
    Other(String),
}

/// Outbound HTTP, and waiting.
#[allow(async_fn_in_trait)]
pub trait Http {
    /// Send one request; honour `request.timeout`.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
    /// Wait (used once, briefly, for a short `Retry-After`).
    async fn sleep(&self, duration: Duration);
}
