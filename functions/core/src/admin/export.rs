//! `GET /admin/export.csv`: every record matching the filters as CSV
//! (RFC 4180 quoting), header row first, in the column order of the
//! contract.

use crate::admin::filter::{self, Filter};
use crate::io::{Kv, KvError};
use crate::record::SyncRecord;

pub const COLUMNS: &[&str] = &[
    "object",
    "salesforce_id",
    "destination_kind",
    "destination_id",
    "organization_ids",
    "status",
    "ever_synced",
    "first_synced_at",
    "last_synced_at",
    "last_attempt_at",
    "attempts",
    "last_trigger",
    "last_error_kind",
    "last_error_http_status",
    "last_error_message",
];

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn row(r: &SyncRecord) -> Vec<String> {
    let d = r.destination.as_ref();
    let e = r.last_error.as_ref();
    vec![
        r.object.clone(),
        r.salesforce_id.clone(),
        d.map(|d| d.kind.as_str().to_string()).unwrap_or_default(),
        d.and_then(|d| d.id.clone()).unwrap_or_default(),
        d.map(|d| d.organization_ids.join(";")).unwrap_or_default(),
        r.status.as_str().to_string(),
        r.ever_synced.to_string(),
        time(r.first_synced_at),
        time(r.last_synced_at),
        time(r.last_attempt_at),
        r.attempts.to_string(),
        r.last_trigger.as_str().to_string(),
        e.map(|e| e.failure.kind.as_str().to_string())
            .unwrap_or_default(),
        e.and_then(|e| e.failure.http_status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        e.map(|e| e.failure.message.clone()).unwrap_or_default(),
    ]
}

/// The whole export.
pub async fn csv<K: Kv>(kv: &K, filter: &Filter) -> Result<Vec<u8>, KvError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| KvError(format!("writing CSV: {e}"));
    w.write_record(COLUMNS).map_err(err)?;
    let mut cursor: Option<String> = None;
    loop {
        let (records, next) =
            filter::page(kv, filter, filter::MAX_LIMIT, cursor.as_deref()).await?;
        for r in &records {
            w.write_record(row(r)).map_err(err)?;
        }
        match next {
            Some(c) => cursor = filter::decode_cursor(&c, crate::store::RECORD_PREFIX).ok(),
            None => break,
        }
        if cursor.is_none() {
            break;
        }
    }
    w.into_inner()
        .map_err(|e| KvError(format!("writing CSV: {e}")))
}
