//! In-memory [`Kv`] and [`Http`] for tests: the same traits the Spin
//! functions implement, with nothing behind them but a map and a script.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::io::{Http, HttpError, HttpRequest, HttpResponse, Kv, KvError, Swap};
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

/// Which of Spin's stores [`MemoryKv`] behaves like in its atomics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Counters as 8 bytes little-endian; a swap answers truly.
    #[default]
    Sqlite,
    /// Counters as decimal text; a swap always answers [`Swap::NotDone`].
    Redis,
}

/// Called with the map just before a swap compares (to stage a competitor).
pub type BeforeSwap = Box<dyn Fn(&mut BTreeMap<String, Vec<u8>>)>;

/// A key-value store in a `BTreeMap`, ordered like Spin's SQLite store.
#[derive(Default)]
pub struct MemoryKv {
    pub map: RefCell<BTreeMap<String, Vec<u8>>>,
    pub backend: Backend,
    before_swap: RefCell<Option<BeforeSwap>>,
    /// This many next swaps change nothing (as a Redis `WATCH` touched by
    /// another client aborts one).
    pub abort_swaps: std::cell::Cell<u32>,
    /// When set, every write fails with this message.
    pub fail_writes: RefCell<Option<String>>,
    /// When set, writes of keys with this prefix fail (e.g. `run/`).
    pub fail_prefix: RefCell<Option<String>>,
    /// Every key `increment` was called on, in order.
    pub incremented: RefCell<Vec<String>>,
    /// This many next `set` or `set_many` calls fail (a store busy for a
    /// moment: SQLite shared by two nodes answers "database is locked").
    pub fail_next_sets: std::cell::Cell<u32>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_backend(backend: Backend) -> Self {
        MemoryKv {
            backend,
            ..Self::default()
        }
    }

    /// Run `f` on the map before every later swap compares.
    pub fn before_swap(&self, f: BeforeSwap) {
        *self.before_swap.borrow_mut() = Some(f);
    }

    fn check_write(&self, key: &str) -> Result<(), KvError> {
        if let Some(msg) = self.fail_writes.borrow().as_ref() {
            return Err(KvError(msg.clone()));
        }
        if let Some(prefix) = self.fail_prefix.borrow().as_ref() {
            if key.starts_with(prefix.as_str()) {
                return Err(KvError(format!("cannot write {key}")));
            }
        }
        Ok(())
    }

    fn check_set(&self) -> Result<(), KvError> {
        let left = self.fail_next_sets.get();
        if left > 0 {
            self.fail_next_sets.set(left - 1);
            return Err(KvError("database is locked".into()));
        }
        Ok(())
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
        self.check_set()?;
        self.check_write(key)?;
        self.map
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let map = self.map.borrow();
        Ok(keys
            .iter()
            .filter_map(|k| map.get(k).map(|v| (k.clone(), v.clone())))
            .collect())
    }

    /// All or nothing, as one SQLite transaction.
    async fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        self.check_set()?;
        for (key, _) in entries {
            self.check_write(key)?;
        }
        let mut map = self.map.borrow_mut();
        for (key, value) in entries {
            map.insert(key.clone(), value.clone());
        }
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

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.incremented.borrow_mut().push(key.to_string());
        self.check_write(key)?;
        let mut map = self.map.borrow_mut();
        let current =
            match (map.get(key), self.backend) {
                (None, _) => 0,
                (Some(v), Backend::Sqlite) => {
                    i64::from_le_bytes(<[u8; 8]>::try_from(v.as_slice()).map_err(|_| {
                        KvError(format!(
                            "{key}: not an 8-byte counter (Spin's host would panic)"
                        ))
                    })?)
                }
                (Some(v), Backend::Redis) => std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| KvError(format!("{key}: value is not an integer")))?,
            };
        let new = current + delta;
        let bytes = match self.backend {
            Backend::Sqlite => new.to_le_bytes().to_vec(),
            Backend::Redis => new.to_string().into_bytes(),
        };
        map.insert(key.to_string(), bytes);
        Ok(new)
    }

    async fn swap(&self, key: &str, expected: &[u8], new: &[u8]) -> Result<Swap, KvError> {
        self.check_write(key)?;
        if let Some(f) = self.before_swap.borrow().as_ref() {
            f(&mut self.map.borrow_mut());
        }
        let mut map = self.map.borrow_mut();
        let aborted = self.abort_swaps.get() > 0;
        self.abort_swaps
            .set(self.abort_swaps.get().saturating_sub(1));
        let done = !aborted && map.get(key).map(Vec::as_slice) == Some(expected);
        if done {
            map.insert(key.to_string(), new.to_vec());
        }
        Ok(match (done, self.backend) {
            (true, Backend::Sqlite) => Swap::Done,
            _ => Swap::NotDone,
        })
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
