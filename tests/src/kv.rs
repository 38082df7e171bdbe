//! Spin's key-value store on SQLite, with Spin's own schema
//! (`spin_key_value(store, key, value)`), so the file a test leaves behind
//! can be read the same way whether the test host or a real `spin up` wrote
//! it. One connection behind a mutex, like Spin: operations run one at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// The store file of a state directory, where Spin puts it.
pub fn db_path(state_dir: &Path) -> PathBuf {
    state_dir.join("sqlite_key_value.db")
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

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "store mutex poisoned".to_string())?;
        f(&conn).map_err(|e| e.to_string())
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|c| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()
        })
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![store, key, value])
            .map(|_| ())
        })
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
}

/// Every `(key, value)` of the `default` store in a SQLite file written by
/// the test host or by Spin; empty when the file does not exist yet (Spin
/// creates it lazily).
pub fn dump(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open(path)?;
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'spin_key_value'",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare("SELECT key, value FROM spin_key_value WHERE store = 'default' ORDER BY key")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Write many entries into the `default` store in one transaction.
pub fn seed(path: &Path, entries: &[(String, Vec<u8>)]) -> Result<()> {
    let kv = SqliteKv::open(path)?;
    let mut conn = kv
        .conn
        .lock()
        .map_err(|_| anyhow::anyhow!("store mutex poisoned"))?;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO spin_key_value (store, key, value) VALUES ('default', ?1, ?2) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
        )?;
        for (k, v) in entries {
            stmt.execute(params![k, v])?;
        }
    }
    tx.commit()?;
    Ok(())
}
