//! The test host's key-value store, on either backend Spin offers sfsync:
//!
//! - **SQLite** ([`SqliteKv`]), Spin's default, with Spin's own schema
//!   (`spin_key_value(store, key, value)`), so the file a test leaves behind
//!   reads the same whether the test host or a real `spin up` wrote it. One
//!   connection behind a mutex, like Spin: operations run one at a time.
//! - **Redis** ([`RedisKv`]), as Spin's runtime config
//!   `[key_value_store.default] type = "redis"` makes it (spin-host.md §10):
//!   plain keys with no label prefix, `KEYS *` for a listing, `MGET`/`MSET`/
//!   `DEL` for batches, `INCRBY` with decimal text values, and compare-and-swap
//!   by `WATCH`/`GET` then `MULTI SET EXEC` on a connection of its own, whose
//!   answer is `cas-failed` every time, as Spin's is.
//!
//! [`KvStore`] is what the host holds; both backends answer the same calls,
//! with each backend's own quirks (SQLite's 8-byte little-endian counters and
//! its non-atomic swap of an absent key, Redis's decimal counters).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// The store file of a state directory, where Spin puts it.
pub fn db_path(state_dir: &Path) -> PathBuf {
    state_dir.join("sqlite_key_value.db")
}

/// Where the `default` store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvConfig {
    /// `{state dir}/sqlite_key_value.db`.
    Sqlite,
    /// A Redis URL, e.g. `redis://127.0.0.1:6379/3`.
    Redis(String),
}

impl KvConfig {
    /// The `default` store a Spin runtime-config file describes:
    /// `[key_value_store.default] type = "redis", url = "…"`, or SQLite in
    /// the state directory when the file does not configure `default`.
    pub fn from_runtime_config(text: &str) -> Result<KvConfig> {
        let table: toml::Table = toml::from_str(text).context("parsing the runtime config")?;
        let Some(default) = table.get("key_value_store").and_then(|s| s.get("default")) else {
            return Ok(KvConfig::Sqlite);
        };
        match default.get("type").and_then(toml::Value::as_str) {
            Some("redis") => {
                let url = default
                    .get("url")
                    .and_then(toml::Value::as_str)
                    .context("[key_value_store.default] type = \"redis\" needs a url")?;
                Ok(KvConfig::Redis(url.to_string()))
            }
            Some("spin") if default.get("path").is_none() => Ok(KvConfig::Sqlite),
            other => anyhow::bail!(
                "[key_value_store.default] type = {other:?}: the test host runs only redis or the default spin store"
            ),
        }
    }
}

/// What a compare-and-swap saw when it started. On Redis it keeps the
/// connection whose `WATCH` started at `current`, as Spin's does: any write
/// to the key by another client after that — even one that leaves the value
/// as it was — aborts the swap.
#[derive(Clone)]
pub struct Cas {
    pub key: String,
    pub current: Option<Vec<u8>>,
    watch: Option<Arc<Mutex<redis::Connection>>>,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cas")
            .field("key", &self.key)
            .field("current", &self.current)
            .finish()
    }
}

/// The answer of a swap, as the host reports it to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapError {
    CasFailed,
    Other(String),
}

/// The store of one app, on either backend.
#[derive(Clone)]
pub enum KvStore {
    Sqlite(SqliteKv),
    Redis(RedisKv),
}

impl KvStore {
    pub fn open(config: &KvConfig, state_dir: &Path) -> Result<KvStore> {
        Ok(match config {
            KvConfig::Sqlite => KvStore::Sqlite(SqliteKv::open(&db_path(state_dir))?),
            KvConfig::Redis(url) => KvStore::Redis(RedisKv::open(url)?),
        })
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            KvStore::Sqlite(s) => s.get(store, key),
            KvStore::Redis(r) => r.get(key),
        }
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), String> {
        match self {
            KvStore::Sqlite(s) => s.set(store, key, value),
            KvStore::Redis(r) => r.set(key, value),
        }
    }

    pub fn delete(&self, store: &str, key: &str) -> Result<(), String> {
        match self {
            KvStore::Sqlite(s) => s.delete(store, key),
            KvStore::Redis(r) => r.delete_many(&[key.to_string()]),
        }
    }

    pub fn keys(&self, store: &str) -> Result<Vec<String>, String> {
        match self {
            KvStore::Sqlite(s) => s.keys(store),
            KvStore::Redis(r) => r.keys(),
        }
    }

    /// `get-many`: only the keys that exist, in key order (SQLite) or request
    /// order (Redis `MGET`).
    pub fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, String> {
        match self {
            KvStore::Sqlite(s) => s.get_many(store, keys),
            KvStore::Redis(r) => r.get_many(keys),
        }
    }

    /// `set-many`: one transaction (SQLite) or one `MSET` (Redis).
    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        match self {
            KvStore::Sqlite(s) => s.set_many(store, entries),
            KvStore::Redis(r) => r.set_many(entries),
        }
    }

    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), String> {
        match self {
            KvStore::Sqlite(s) => keys.iter().try_for_each(|k| s.delete(store, k)),
            KvStore::Redis(r) => r.delete_many(keys),
        }
    }

    /// `increment`: the new value. SQLite keeps 8 bytes little-endian and
    /// fails hard on a value of another length (Spin's host panics); Redis
    /// keeps decimal text.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, String> {
        match self {
            KvStore::Sqlite(s) => s.increment(store, key, delta),
            KvStore::Redis(r) => r.increment(key, delta),
        }
    }

    /// Start a compare-and-swap: read the current value (on Redis, `WATCH`
    /// then `GET` on a connection of its own).
    pub fn cas_current(&self, store: &str, key: &str) -> Result<Cas, String> {
        match self {
            KvStore::Sqlite(s) => Ok(Cas {
                key: key.to_string(),
                current: s.get(store, key)?,
                watch: None,
            }),
            KvStore::Redis(r) => r.watch(key),
        }
    }

    /// Finish a compare-and-swap. SQLite: `UPDATE … WHERE value = old` when
    /// a value was seen (`CasFailed` if it changed), a plain upsert when none
    /// was (not atomic). Redis: the write is aborted on a competing write,
    /// but the answer is `CasFailed` either way (spin-host.md §10).
    pub fn cas_swap(&self, store: &str, cas: &Cas, value: &[u8]) -> Result<(), SwapError> {
        match self {
            KvStore::Sqlite(s) => s.swap(store, cas, value),
            KvStore::Redis(r) => r.swap(cas, value),
        }
    }

    /// Every `(key, value)` of the `default` store, in key order.
    pub fn dump(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut keys = self.keys("default")?;
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(1000) {
            let mut got = self.get_many("default", chunk)?;
            got.sort_by(|a, b| a.0.cmp(&b.0));
            out.extend(got);
        }
        Ok(out)
    }
}

#[derive(Clone)]
pub struct SqliteKv {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteKv {
    pub fn open(path: &Path) -> Result<SqliteKv> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
            [],
        )?;
        Ok(SqliteKv {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| "store mutex poisoned".to_string())?;
        f(&mut conn).map_err(|e| e.to_string())
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|c| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()
        })
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.with(|c| upsert(c, store, key, value))
    }

    pub fn delete(&self, store: &str, key: &str) -> Result<(), String> {
        self.with(|c| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                params![store, key],
            )
            .map(|_| ())
        })
    }

    pub fn keys(&self, store: &str) -> Result<Vec<String>, String> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?;
            let rows = stmt.query_map(params![store], |row| row.get(0))?;
            rows.collect()
        })
    }

    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut found = Vec::new();
        for key in keys {
            if let Some(v) = self.get(store, key)? {
                found.push((key.clone(), v));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok(found)
    }

    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (k, v) in entries {
                upsert(&tx, store, k, v)?;
            }
            tx.commit()
        })
    }

    /// One (deferred) transaction, as Spin's store does: atomic for every
    /// process on the file; a competing writer can make it fail with
    /// "database is locked", as on Spin.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, String> {
        let mut wrong_length = None;
        let result = self.with(|c| {
            let tx = c.transaction()?;
            let current: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    params![store, key],
                    |row| row.get(0),
                )
                .optional()?;
            let value = match current {
                None => 0,
                Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                    Ok(raw) => i64::from_le_bytes(raw),
                    Err(_) => {
                        wrong_length = Some(bytes.len());
                        return Ok(0);
                    }
                },
            };
            let new = value.wrapping_add(delta);
            upsert(&tx, store, key, &new.to_le_bytes())?;
            tx.commit()?;
            Ok(new)
        })?;
        match wrong_length {
            Some(len) => Err(format!("the host would panic: increment on {key:?}, whose value is {len} bytes, not an 8-byte little-endian integer (and poison the store)")),
            None => Ok(result),
        }
    }

    fn swap(&self, store: &str, cas: &Cas, value: &[u8]) -> Result<(), SwapError> {
        let other = |e: String| SwapError::Other(e);
        match &cas.current {
            None => self.set(store, &cas.key, value).map_err(other),
            Some(old) => {
                let changed = self
                    .with(|c| {
                        c.execute(
                            "UPDATE spin_key_value SET value = ?1 WHERE store = ?2 AND key = ?3 AND value = ?4",
                            params![value, store, cas.key, old],
                        )
                    })
                    .map_err(other)?;
                if changed == 1 {
                    Ok(())
                } else {
                    Err(SwapError::CasFailed)
                }
            }
        }
    }
}

fn upsert(c: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])
    .map(|_| ())
}

/// Spin's Redis key-value store: one shared connection for plain calls, a
/// fresh one for each compare-and-swap.
#[derive(Clone)]
pub struct RedisKv {
    client: redis::Client,
    conn: Arc<Mutex<redis::Connection>>,
}

impl RedisKv {
    pub fn open(url: &str) -> Result<RedisKv> {
        let client = redis::Client::open(url).with_context(|| format!("Redis URL {url}"))?;
        let conn = client
            .get_connection()
            .with_context(|| format!("connecting to Redis at {url}"))?;
        Ok(RedisKv {
            client,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| "Redis connection mutex poisoned".to_string())?;
        f(&mut conn).map_err(|e| e.to_string())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|c| redis::cmd("GET").arg(key).query(c))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.with(|c| redis::cmd("SET").arg(key).arg(value).query(c))
    }

    fn keys(&self) -> Result<Vec<String>, String> {
        self.with(|c| redis::cmd("KEYS").arg("*").query(c))
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, String> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.with(|c| redis::cmd("MGET").arg(keys).query(c))?;
        Ok(keys
            .iter()
            .cloned()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let mut cmd = redis::cmd("MSET");
            for (k, v) in entries {
                cmd.arg(k).arg(v.as_slice());
            }
            cmd.query(c)
        })
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|c| redis::cmd("DEL").arg(keys).query(c))
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        self.with(|c| redis::cmd("INCRBY").arg(key).arg(delta).query(c))
    }

    /// `current`: `WATCH k` + `GET k` on a connection of the swap's own.
    fn watch(&self, key: &str) -> Result<Cas, String> {
        let mut conn = self.client.get_connection().map_err(|e| e.to_string())?;
        redis::cmd("WATCH")
            .arg(key)
            .query::<()>(&mut conn)
            .map_err(|e| e.to_string())?;
        let current: Option<Vec<u8>> = redis::cmd("GET")
            .arg(key)
            .query(&mut conn)
            .map_err(|e| e.to_string())?;
        Ok(Cas {
            key: key.to_string(),
            current,
            watch: Some(Arc::new(Mutex::new(conn))),
        })
    }

    /// `MULTI SET k v EXEC` on the watching connection: aborted by any write
    /// to `k` since `current`. Then `UNWATCH k`, which Redis rejects (it
    /// takes no argument), and that error is what Spin answers —
    /// `cas-failed`, every time.
    fn swap(&self, cas: &Cas, value: &[u8]) -> Result<(), SwapError> {
        let other = |e: redis::RedisError| SwapError::Other(e.to_string());
        let watch = cas
            .watch
            .as_ref()
            .ok_or_else(|| SwapError::Other("no watch for this swap".into()))?;
        let mut conn = watch
            .lock()
            .map_err(|_| SwapError::Other("watch connection poisoned".into()))?;
        let _: redis::Value = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&cas.key)
            .arg(value)
            .query(&mut *conn)
            .map_err(other)?;
        match redis::cmd("UNWATCH").arg(&cas.key).query::<()>(&mut *conn) {
            Ok(()) => Ok(()),
            Err(_) => Err(SwapError::CasFailed),
        }
    }
}

/// Write many entries into the `default` store of a SQLite file in one
/// transaction.
pub fn seed(path: &Path, entries: &[(String, Vec<u8>)]) -> Result<()> {
    SqliteKv::open(path)?
        .set_many("default", entries)
        .map_err(anyhow::Error::msg)
}

/// Every `(key, value)` of the `default` store in a SQLite file written by
/// the test host or by Spin; empty when the file does not exist yet (Spin
/// creates it lazily).
pub fn dump(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    KvStore::Sqlite(SqliteKv::open(path)?)
        .dump()
        .map_err(anyhow::Error::msg)
}

/// The Redis server the tests may use (`SFSYNC_TEST_REDIS_URL`, set by
/// `scripts/test`), as `redis://host:port` without a database.
pub fn test_redis_url() -> Option<String> {
    std::env::var("SFSYNC_TEST_REDIS_URL")
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
}

/// A database of its own on the test Redis for one test app: a counter in
/// database 0 hands out 1, 2, …, and the database is flushed before use.
/// `scripts/test` starts Redis with enough databases for the whole suite.
pub fn fresh_redis_database(base: &str) -> Result<String> {
    let client = redis::Client::open(format!("{base}/0"))?;
    let mut conn = client
        .get_connection()
        .with_context(|| format!("connecting to Redis at {base}"))?;
    let n: i64 = redis::cmd("INCR")
        .arg("sfsync-tests:next-database")
        .query(&mut conn)?;
    let url = format!("{base}/{n}");
    let mut db = redis::Client::open(url.as_str())?
        .get_connection()
        .with_context(|| {
            format!("Redis database {n} (start redis-server with --databases 4096)")
        })?;
    redis::cmd("FLUSHDB").query::<()>(&mut db)?;
    Ok(url)
}

/// What one write and one read cost on Spin's SQLite store on this machine,
/// in microseconds (500 of each, in a fresh file): what benchmarks print
/// beside their figures.
pub fn sqlite_costs() -> (f64, f64) {
    let dir = std::env::temp_dir().join(format!("sfsync-bench-kv-{}", std::process::id()));
    let kv = KvStore::open(&KvConfig::Sqlite, &dir).unwrap_or_else(|e| panic!("store: {e}"));
    let n = 500;
    let t = std::time::Instant::now();
    for i in 0..n {
        kv.set("default", &format!("k{i}"), b"a value of some bytes")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let write = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = std::time::Instant::now();
    for i in 0..n {
        kv.get("default", &format!("k{i}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let read = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let _ = std::fs::remove_dir_all(dir);
    (write, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Vec<(&'static str, KvStore, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut stores = vec![(
            "sqlite",
            KvStore::open(&KvConfig::Sqlite, dir.path()).expect("sqlite"),
            dir,
        )];
        if let Some(base) = test_redis_url() {
            let url = fresh_redis_database(&base).expect("redis database");
            let dir = tempfile::tempdir().expect("temp dir");
            stores.push((
                "redis",
                KvStore::open(&KvConfig::Redis(url), dir.path()).expect("redis"),
                dir,
            ));
        }
        stores
    }

    #[test]
    fn plain_and_batch_calls_agree() {
        for (name, kv, _dir) in both() {
            kv.set("default", "m1", b"one").unwrap();
            kv.set("default", "m2", b"two").unwrap();
            kv.set("default", "m1", b"uno").unwrap();
            assert_eq!(
                kv.get("default", "m1").unwrap().as_deref(),
                Some(&b"uno"[..])
            );
            assert_eq!(kv.get("default", "nope").unwrap(), None, "{name}");
            let mut got = kv
                .get_many("default", &["m2".into(), "nope".into(), "m1".into()])
                .unwrap();
            got.sort();
            assert_eq!(
                got,
                vec![
                    ("m1".into(), b"uno".to_vec()),
                    ("m2".into(), b"two".to_vec())
                ]
            );
            kv.set_many(
                "default",
                &[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
            )
            .unwrap();
            let mut keys = kv.keys("default").unwrap();
            keys.sort();
            assert_eq!(keys, ["a", "b", "m1", "m2"], "{name}");
            kv.delete_many("default", &["a".into(), "zz".into()])
                .unwrap();
            kv.delete("default", "b").unwrap();
            assert_eq!(kv.dump().unwrap().len(), 2, "{name}");
        }
    }

    #[test]
    fn counters_keep_each_backends_encoding() {
        for (name, kv, _dir) in both() {
            assert_eq!(kv.increment("default", "n", 5).unwrap(), 5);
            assert_eq!(kv.increment("default", "n", 7).unwrap(), 12);
            let raw = kv.get("default", "n").unwrap().unwrap();
            match name {
                "sqlite" => assert_eq!(raw, 12i64.to_le_bytes()),
                _ => assert_eq!(raw, b"12"),
            }
            kv.set("default", "text", b"not a number").unwrap();
            assert!(kv.increment("default", "text", 1).is_err(), "{name}");
        }
    }

    #[test]
    fn compare_and_swap_answers_like_spin() {
        for (name, kv, _dir) in both() {
            kv.set("default", "k", b"v1").unwrap();
            let cas = kv.cas_current("default", "k").unwrap();
            let quiet = kv.cas_swap("default", &cas, b"v2");
            assert_eq!(
                kv.get("default", "k").unwrap().unwrap(),
                b"v2",
                "{name}: written"
            );
            match name {
                "sqlite" => assert_eq!(quiet, Ok(())),
                _ => assert_eq!(
                    quiet,
                    Err(SwapError::CasFailed),
                    "Redis always answers cas-failed"
                ),
            }
            let cas = kv.cas_current("default", "k").unwrap();
            kv.set("default", "k", b"competing").unwrap();
            assert_eq!(
                kv.cas_swap("default", &cas, b"v3"),
                Err(SwapError::CasFailed)
            );
            assert_eq!(
                kv.get("default", "k").unwrap().unwrap(),
                b"competing",
                "{name}: a competing write wins"
            );
        }
    }
}
