//! In-memory [`Kv`] and [`Http`] for tests: the same traits the Spin
//! functions implement, with nothing behind them but a map and a script.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::io::{Http, HttpError, HttpRequest, HttpResponse, Kv, KvError};
use crate::settings::Settings;

/// Settings from `(variable, value)` pairs, the rest unset.
pub fn settings_from(pairs: &[(&str, &str)]) -> Settings {
    Settings::load(|n| {
        pairs
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
    .unwrap_or_else(|e| panic!("test settings: {e}"))
}

/// A key-value store in a `BTreeMap`, ordered like Spin's SQLite store.
#[derive(Debug, Default)]
pub struct MemoryKv {
    pub map: RefCell<BTreeMap<String, Vec<u8>>>,
    /// When set, every write fails with this message.
    pub fail_writes: RefCell<Option<String>>,
    /// When set, writes of keys with this prefix fail (e.g. `run/`).
    pub fail_prefix: RefCell<Option<String>>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything stored.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.map.borrow().clone()
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.map.borrow().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if let Some(msg) = self.fail_writes.borrow().as_ref() {
            return Err(KvError(msg.clone()));
        }
        if let Some(prefix) = self.fail_prefix.borrow().as_ref() {
            if key.starts_with(prefix.as_str()) {
                return Err(KvError(format!("cannot write {key}")));
            }
        }
        self.map
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    async fn list_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        Ok(self
            .map
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// An HTTP client that records requests and answers from a queue (or 200 `{}`).
#[derive(Debug, Default)]
pub struct ScriptedHttp {
    pub sent: RefCell<Vec<HttpRequest>>,
    pub replies: RefCell<Vec<Result<HttpResponse, HttpError>>>,
    /// Every sleep asked for.
    pub slept: RefCell<Vec<std::time::Duration>>,
}

impl Http for ScriptedHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.sent.borrow_mut().push(request);
        let mut replies = self.replies.borrow_mut();
        if replies.is_empty() {
            Ok(HttpResponse {
                status: 200,
                headers: BTreeMap::new(),
                body: b"{}".to_vec(),
            })
        } else {
            replies.remove(0)
        }
    }

    async fn sleep(&self, duration: std::time::Duration) {
        self.slept.borrow_mut().push(duration);
    }
}
