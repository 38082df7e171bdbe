//! What sfsync keeps in the key-value store, and under which keys.
//!
//! | key | value |
//! |---|---|
//! | `rec/{Object}/{SalesforceId}` | a [`SyncRecord`] as JSON |
//! | `mapping/current` | the active mapping ([`StoredMapping`]: TOML, who, when), when an admin replaced the bundled one |
//! | `mapping/history/{when}` | the versions it replaced, newest kept, at most [`MAPPING_HISTORY_KEPT`] |
//! | `state/paused` | present while sync is paused |
//!
//! Each record is one key, so writing it is atomic. Listing walks key
//! prefixes with a cursor: the store has no secondary indexes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::io::{Kv, KvError};
use crate::mapping::Mapping;
use crate::record::{record_key, SyncRecord};

pub const RECORD_PREFIX: &str = "rec/";
pub const MAPPING_KEY: &str = "mapping/current";
pub const PAUSED_KEY: &str = "state/paused";
pub const MAPPING_HISTORY_PREFIX: &str = "mapping/history/";
/// How many replaced mapping versions are kept.
pub const MAPPING_HISTORY_KEPT: usize = 50;

/// A mapping an admin put, with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMapping {
    pub toml: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Load a record; `None` when never seen.
pub async fn load_record<K: Kv>(
    kv: &K,
    object: &str,
    salesforce_id: &str,
) -> Result<Option<SyncRecord>, KvError> {
    let key = record_key(object, salesforce_id);
    decode_record(&key, kv.get(&key).await?)
}

/// Decode a stored record. A value that does not decode is an error, never
/// silently replaced: it would lose the record's history.
pub fn decode_record(key: &str, value: Option<Vec<u8>>) -> Result<Option<SyncRecord>, KvError> {
    match value {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| KvError(format!("stored value of {key} is not a sync record: {e}"))),
    }
}

/// Write a record (one atomic write).
pub async fn save_record<K: Kv>(kv: &K, record: &SyncRecord) -> Result<(), KvError> {
    let bytes = serde_json::to_vec(record)
        .map_err(|e| KvError(format!("could not encode {}: {e}", record.key())))?;
    kv.set(&record.key(), &bytes).await
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(bytes)
        .map_err(|e| KvError(format!("stored value of {key} is unreadable: {e}")))
}

/// The mapping an admin put, if any.
pub async fn stored_mapping<K: Kv>(kv: &K) -> Result<Option<StoredMapping>, KvError> {
    match kv.get(MAPPING_KEY).await? {
        None => Ok(None),
        Some(bytes) => decode(MAPPING_KEY, &bytes).map(Some),
    }
}

/// The active mapping: the admin's, if one was put, else the bundled one.
pub async fn active_mapping<K: Kv>(kv: &K) -> Result<Mapping, KvError> {
    match stored_mapping(kv).await? {
        None => Ok(Mapping::bundled()),
        Some(stored) => Mapping::from_toml(&stored.toml)
            .map_err(|e| KvError(format!("{MAPPING_KEY} does not load: {e}"))),
    }
}

/// Make `new` the active mapping, keeping the one it replaces in the history.
/// Returns how many earlier versions are kept.
pub async fn put_mapping<K: Kv>(kv: &K, new: &StoredMapping) -> Result<usize, KvError> {
    if let Some(old) = stored_mapping(kv).await? {
        let key = format!(
            "{MAPPING_HISTORY_PREFIX}{}",
            old.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let bytes = serde_json::to_vec(&old).map_err(|e| KvError(e.to_string()))?;
        kv.set(&key, &bytes).await?;
    }
    let bytes = serde_json::to_vec(new).map_err(|e| KvError(e.to_string()))?;
    kv.set(MAPPING_KEY, &bytes).await?;
    let keys = kv
        .list_keys(MAPPING_HISTORY_PREFIX, None, usize::MAX)
        .await?;
    let excess = keys.len().saturating_sub(MAPPING_HISTORY_KEPT);
    for key in &keys[..excess] {
        kv.delete(key).await?;
    }
    Ok(keys.len() - excess)
}

/// The replaced versions, newest first.
pub async fn mapping_history<K: Kv>(kv: &K) -> Result<Vec<StoredMapping>, KvError> {
    let keys = kv
        .list_keys(MAPPING_HISTORY_PREFIX, None, usize::MAX)
        .await?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys.iter().rev() {
        if let Some(bytes) = kv.get(key).await? {
            out.push(decode(key, &bytes)?);
        }
    }
    Ok(out)
}

/// What every sync needs before it starts: the active mapping and whether
/// sync is paused.
pub async fn sync_state<K: Kv>(kv: &K) -> Result<(Mapping, bool), KvError> {
    Ok((active_mapping(kv).await?, is_paused(kv).await?))
}

/// Whether sync is paused.
pub async fn is_paused<K: Kv>(kv: &K) -> Result<bool, KvError> {
    Ok(kv.get(PAUSED_KEY).await?.is_some())
}
