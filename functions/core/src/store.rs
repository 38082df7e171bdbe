//! What sfsync keeps in the key-value store, and under which keys.
//!
//! | key | value |
//! |---|---|
//! | `rec/{Object}/{SalesforceId}` | a [`SyncRecord`] as JSON |
//! | `mapping/current` | the active mapping's TOML, when an admin replaced the bundled one |
//! | `state/paused` | present while sync is paused |
//!
//! Each record is one key, so writing it is atomic. Listing walks key
//! prefixes with a cursor: the store has no secondary indexes.

use crate::io::{Kv, KvError};
use crate::mapping::Mapping;
use crate::record::{record_key, SyncRecord};

pub const RECORD_PREFIX: &str = "rec/";
pub const MAPPING_KEY: &str = "mapping/current";
pub const PAUSED_KEY: &str = "state/paused";

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

/// The active mapping: the admin's, if one was put, else the bundled one.
pub async fn active_mapping<K: Kv>(kv: &K) -> Result<Mapping, KvError> {
    match kv.get(MAPPING_KEY).await? {
        None => Ok(Mapping::bundled()),
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| KvError(format!("{MAPPING_KEY} is not UTF-8")))?;
            Mapping::from_toml(&text)
                .map_err(|e| KvError(format!("{MAPPING_KEY} does not load: {e}")))
        }
    }
}

/// Whether sync is paused.
pub async fn is_paused<K: Kv>(kv: &K) -> Result<bool, KvError> {
    Ok(kv.get(PAUSED_KEY).await?.is_some())
}
