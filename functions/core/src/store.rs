//! What sfsync keeps in the key-value store, and under which keys. Every key
//! and prefix is written here and nowhere else.
//!
//! | key | value |
//! |---|---|
//! | `rec/{Object}/{SalesforceId}` | a [`SyncRecord`] as JSON |
//! | `email/{lowercased email}` | an [`EmailEntry`]: the Zendesk user of that email and its syncing record |
//! | `run/{id}` | a [`Run`] (the id starts with its start time, so key order is time order) |
//! | `mapping/current` | the active mapping ([`StoredMapping`]: TOML, who, when), when an admin replaced the bundled one |
//! | `mapping/history/{when}` | the versions it replaced, newest kept, at most [`MAPPING_HISTORY_KEPT`] |
//! | `state/paused` | present while sync is paused (the time it was paused) |
//! | `state/sf-instance` | the org's instance URL, from the last message that named it (for links to records) |
//! | `state/sf-token` | the REST API access token of a pull, and when it was issued (kept minutes, renewed on 401) |
//! | `state/sweep/{Object}` | the last `SystemModstamp` a finished reconcile sweep of the object read |
//! | `health/probe` | written, read and deleted by `GET /admin/health` |
//! | `ix/generation` | the record index's current [`Generation`] |
//! | `ix/rebuild` | where a [`Rebuild`] of the index goes on, while it has records left |
//! | `ix/{generation}/…` | the record index ([`crate::index`]): per object, numbered slots and counters |
//!
//! Each record is one key, so writing it is atomic. Admin pages, stats and
//! exports find records through the index sfsync keeps beside them
//! ([`crate::index`]); only maintenance (rebuilding that index, repairing
//! ids) lists keys ([`scan`]), because Spin's key-value API can only list
//! every key of the store at once.
//!
//! One rule for a value that does not decode: it is an error that names the
//! key ([`decode`]), never skipped and never silently replaced, because
//! replacing it would lose what it held.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::io::{Kv, KvError};
use crate::mapping::Mapping;
use crate::record::SyncRecord;
use crate::reference::RecordRef;
use crate::run::Run;

pub const RECORD_PREFIX: &str = "rec/";
pub const EMAIL_PREFIX: &str = "email/";
pub const RUN_PREFIX: &str = "run/";
pub const MAPPING_KEY: &str = "mapping/current";
pub const PAUSED_KEY: &str = "state/paused";
/// The Salesforce REST API's access token and when it was issued
/// ([`crate::salesforce`]): short-lived, renewed on expiry.
pub const SF_TOKEN_KEY: &str = "state/sf-token";
/// The org's instance URL (`https://acme.my.salesforce.com`).
pub const SF_INSTANCE_KEY: &str = "state/sf-instance";
pub const MAPPING_HISTORY_PREFIX: &str = "mapping/history/";
pub const LEASE_PREFIX: &str = "lease/";
pub const WAITING_PREFIX: &str = "waiting/";
pub const GENERATION_KEY: &str = "ix/generation";

/// Which copy of the record index is current. A rebuild starts the next
/// one; records are counted and listed in the current one only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub number: u64,
    /// When it became current (absent for the first, which always was).
    pub since: Option<DateTime<Utc>>,
}

/// The key of a rebuild's progress ([`crate::admin::reindex`]): the
/// position it goes on from, while it has records left to enter.
pub const REBUILD_KEY: &str = "ix/rebuild";

/// Where the rebuild of `generation` goes on (an opaque cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rebuild {
    pub generation: u64,
    pub cursor: String,
}

/// The rebuild in progress, if one stopped before its end.
pub async fn rebuild_in_progress<K: Kv>(kv: &K) -> Result<Option<Rebuild>, KvError> {
    load_json(kv, REBUILD_KEY).await
}

/// Note where the rebuild goes on, or (`None`) that it is done.
pub async fn set_rebuild<K: Kv>(kv: &K, rebuild: Option<&Rebuild>) -> Result<(), KvError> {
    match rebuild {
        Some(r) => save_json(kv, REBUILD_KEY, r).await,
        None => kv.delete(REBUILD_KEY).await,
    }
}

/// The key of one index entry: `leaf` is a slot number, `n` (slots handed
/// out) or `out` (members that left).
pub fn index_key(generation: u64, object: &str, log: &str, leaf: &str) -> String {
    format!("ix/{generation}/{object}/{log}/{leaf}")
}

/// The counter of destination calls made for an object's records.
pub fn calls_key(generation: u64, object: &str) -> String {
    format!("ix/{generation}/{object}/calls")
}

/// The registry of objects that have records: `n`, or a slot number. (A
/// leading underscore: no Salesforce object's API name starts with one.)
pub fn objects_key(generation: u64, leaf: &str) -> String {
    format!("ix/{generation}/_objects/{leaf}")
}

/// The current generation of the index.
pub async fn generation<K: Kv>(kv: &K) -> Result<Generation, KvError> {
    Ok(load_json(kv, GENERATION_KEY).await?.unwrap_or_default())
}

/// Make `generation` the current one.
pub async fn set_generation<K: Kv>(kv: &K, generation: &Generation) -> Result<(), KvError> {
    save_json(kv, GENERATION_KEY, generation).await
}

/// The key of a record.
pub fn record_key(record: &RecordRef) -> String {
    format!("{RECORD_PREFIX}{}/{}", record.object, record.id)
}

/// The key of an email's entry (the email trimmed and lowercased).
pub fn email_key(email: &str) -> String {
    format!("{EMAIL_PREFIX}{}", email.trim().to_lowercase())
}

/// The key of the lease ([`crate::lease`]) that guards `key` (a record's,
/// an email entry's, a waiting list's): a counter, written only through the
/// store's atomics.
pub fn lease_key(key: &str) -> String {
    format!("{LEASE_PREFIX}{key}")
}

/// The key of the records waiting for the destination record of `linked`
/// (Contacts waiting for their Account's organization, [`crate::waiting`]).
pub fn waiting_key(linked: &RecordRef) -> String {
    format!("{WAITING_PREFIX}{}/{}", linked.object, linked.id)
}

/// The records waiting for `linked`, oldest first.
pub async fn load_waiting<K: Kv>(kv: &K, linked: &RecordRef) -> Result<Vec<RecordRef>, KvError> {
    let key = waiting_key(linked);
    match kv.get(&key).await? {
        None => Ok(Vec::new()),
        Some(bytes) => decode(&key, &bytes),
    }
}

/// Write the waiting list of `linked` (removed when empty).
pub async fn save_waiting<K: Kv>(
    kv: &K,
    linked: &RecordRef,
    waiting: &[RecordRef],
) -> Result<(), KvError> {
    let key = waiting_key(linked);
    if waiting.is_empty() {
        return kv.delete(&key).await;
    }
    kv.set(&key, &encode(&key, &waiting)?).await
}

/// The key of a run.
pub fn run_key(id: &str) -> String {
    format!("{RUN_PREFIX}{id}")
}

/// What sfsync remembers per email (Zendesk users are one per email).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailEntry {
    pub user_id: String,
    /// `Object/SalesforceId` of the syncing record, once there is one.
    pub syncing_record: Option<String>,
}

/// Decode a stored JSON value; the error names the key.
pub fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(bytes)
        .map_err(|e| KvError(format!("stored value of {key} is unreadable: {e}")))
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(value).map_err(|e| KvError(format!("could not encode {key}: {e}")))
}

async fn load_json<K: Kv, T: for<'de> Deserialize<'de>>(
    kv: &K,
    key: &str,
) -> Result<Option<T>, KvError> {
    match kv.get(key).await? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

async fn save_json<K: Kv, T: Serialize>(kv: &K, key: &str, value: &T) -> Result<(), KvError> {
    kv.set(key, &encode(key, value)?).await
}

/// Up to `limit` keys under `prefix`, in key order, after `after`.
pub async fn scan<K: Kv>(
    kv: &K,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, KvError> {
    kv.list_keys(prefix, after, limit).await
}

/// An email's entry, if any.
pub async fn load_email<K: Kv>(kv: &K, email: &str) -> Result<Option<EmailEntry>, KvError> {
    load_json(kv, &email_key(email)).await
}

/// Write an email's entry.
pub async fn save_email<K: Kv>(kv: &K, email: &str, entry: &EmailEntry) -> Result<(), KvError> {
    save_json(kv, &email_key(email), entry).await
}

/// Write a run.
pub async fn save_run<K: Kv>(kv: &K, run: &Run) -> Result<(), KvError> {
    save_json(kv, &run_key(&run.id), run).await
}

/// A run by id, if kept.
pub async fn load_run<K: Kv>(kv: &K, id: &str) -> Result<Option<Run>, KvError> {
    load_json(kv, &run_key(id)).await
}

/// Read the run stored under `key` (from [`scan`]ning [`RUN_PREFIX`]).
pub async fn load_run_at<K: Kv>(kv: &K, key: &str) -> Result<Option<Run>, KvError> {
    load_json(kv, key).await
}

/// Pause sync (from `at`) or resume it.
pub async fn set_paused<K: Kv>(kv: &K, at: Option<DateTime<Utc>>) -> Result<(), KvError> {
    match at {
        Some(at) => kv.set(PAUSED_KEY, at.to_rfc3339().as_bytes()).await,
        None => kv.delete(PAUSED_KEY).await,
    }
}
/// How many replaced mapping versions are kept.
pub const MAPPING_HISTORY_KEPT: usize = 50;

/// A mapping an admin put, with who and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMapping {
    pub toml: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// The TOML as checked when it was put, so that syncs read it without
    /// the TOML parser (which only `admin-write` carries). Absent in
    /// mappings put by sfsync before 0.2 and in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled: Option<Mapping>,
}

/// Load a record; `None` when never seen.
pub async fn load_record<K: Kv>(kv: &K, record: &RecordRef) -> Result<Option<SyncRecord>, KvError> {
    load_json(kv, &record_key(record)).await
}

/// Read the record stored under `key` (a key from [`scan`]ning
/// [`RECORD_PREFIX`]); `None` when it was removed meanwhile.
pub async fn load_record_at<K: Kv>(kv: &K, key: &str) -> Result<Option<SyncRecord>, KvError> {
    load_json(kv, key).await
}

/// A record as the key and value to write, in the batch that also holds
/// its index entries: records are written only with them
/// ([`crate::index::save`], the pipeline), never alone.
pub fn record_entry(record: &SyncRecord) -> Result<(String, Vec<u8>), KvError> {
    let key = record_key(&record.reference());
    let value = encode(&key, record)?;
    Ok((key, value))
}

/// The mapping an admin put, if any.
pub async fn stored_mapping<K: Kv>(kv: &K) -> Result<Option<StoredMapping>, KvError> {
    load_json(kv, MAPPING_KEY).await
}

/// The active mapping: the admin's, if one was put, else the bundled one.
pub async fn active_mapping<K: Kv>(kv: &K) -> Result<Mapping, KvError> {
    mapping_from(kv.get(MAPPING_KEY).await?.as_deref())
}

/// What an upgraded deployment's syncs answer while its mapping was put by
/// a version that stored only the TOML.
pub const UNCOMPILED_MAPPING: &str = "the active mapping was put by an sfsync older than 0.2 and must be put again once: sfsync mapping get > mapping.toml && sfsync mapping put mapping.toml (nothing is lost meanwhile: messages are retried by Salesforce)";

fn mapping_from(stored: Option<&[u8]>) -> Result<Mapping, KvError> {
    match stored {
        None => Ok(Mapping::bundled()),
        Some(bytes) => {
            let stored: StoredMapping = decode(MAPPING_KEY, bytes)?;
            stored
                .compiled
                .ok_or_else(|| KvError(UNCOMPILED_MAPPING.to_string()))
        }
    }
}

/// What every sync reads first, in one call.
pub struct SyncSettings {
    pub mapping: Mapping,
    pub paused: bool,
    pub generation: Generation,
    pub sf_instance: Option<String>,
}

/// The org's instance URL, if a message named it.
pub async fn sf_instance<K: Kv>(kv: &K) -> Result<Option<String>, KvError> {
    Ok(kv
        .get(SF_INSTANCE_KEY)
        .await?
        .and_then(|b| String::from_utf8(b).ok()))
}

/// The key of an object's reconcile high-water mark.
pub fn sweep_key(object: &str) -> String {
    format!("state/sweep/{object}")
}

/// The last `SystemModstamp` a finished sweep of `object` read.
pub async fn sweep_mark<K: Kv>(kv: &K, object: &str) -> Result<Option<String>, KvError> {
    Ok(kv
        .get(&sweep_key(object))
        .await?
        .and_then(|b| String::from_utf8(b).ok()))
}

/// Move `object`'s reconcile high-water mark.
pub async fn set_sweep_mark<K: Kv>(kv: &K, object: &str, stamp: &str) -> Result<(), KvError> {
    kv.set(&sweep_key(object), stamp.as_bytes()).await
}

/// Remember the org's instance URL.
pub async fn set_sf_instance<K: Kv>(kv: &K, url: &str) -> Result<(), KvError> {
    kv.set(SF_INSTANCE_KEY, url.as_bytes()).await
}

/// What every sync reads first — the active mapping, whether sync is
/// paused, the index generation, the org's instance — in one call.
pub async fn sync_settings<K: Kv>(kv: &K) -> Result<SyncSettings, KvError> {
    let found = kv
        .get_many(&[
            MAPPING_KEY.to_string(),
            PAUSED_KEY.to_string(),
            GENERATION_KEY.to_string(),
            SF_INSTANCE_KEY.to_string(),
        ])
        .await?;
    let value = |key: &str| {
        found
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    let generation = match value(GENERATION_KEY) {
        Some(bytes) => decode(GENERATION_KEY, bytes)?,
        None => Generation::default(),
    };
    Ok(SyncSettings {
        mapping: mapping_from(value(MAPPING_KEY))?,
        paused: value(PAUSED_KEY).is_some(),
        generation,
        sf_instance: value(SF_INSTANCE_KEY).and_then(|b| String::from_utf8(b.to_vec()).ok()),
    })
}

/// Make `new` the active mapping, keeping the one it replaces in the history.
/// Returns how many earlier versions are kept.
pub async fn put_mapping<K: Kv>(kv: &K, new: &StoredMapping) -> Result<usize, KvError> {
    if let Some(mut old) = stored_mapping(kv).await? {
        old.compiled = None;
        let key = format!(
            "{MAPPING_HISTORY_PREFIX}{}",
            old.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        save_json(kv, &key, &old).await?;
    }
    save_json(kv, MAPPING_KEY, new).await?;
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

/// Whether sync is paused.
pub async fn is_paused<K: Kv>(kv: &K) -> Result<bool, KvError> {
    Ok(kv.get(PAUSED_KEY).await?.is_some())
}
