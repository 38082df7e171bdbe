//! `GET /admin/export.csv`: every record matching the filters as CSV
//! (RFC 4180 quoting), header row first, in the column order of the
//! contract.
//!
//! The export streams: [`Export`] hands out the CSV one page of records at
//! a time ([`filter::MAX_LIMIT`]), and the admin function writes each piece
//! to the response as it comes, so an export of any size holds one page in
//! memory. Errors found before the first byte (a bad filter) are answered
//! as JSON; a store failure in the middle can only cut the response short,
//! which a client sees as an incomplete transfer.

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
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
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

/// An export in progress: the filter and where the next piece starts.
#[derive(Debug, Clone)]
pub struct Export {
    filter: Filter,
    cursor: Option<filter::Position>,
    header_sent: bool,
    done: bool,
}

fn write_rows<'a>(
    rows: impl Iterator<Item = Vec<String>>,
    header: Option<&'a [&'a str]>,
) -> Result<Vec<u8>, KvError> {
    let err = |e: csv::Error| KvError(format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(h) = header {
        w.write_record(h).map_err(err)?;
    }
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| KvError(format!("writing CSV: {e}")))
}

impl Export {
    pub fn new(filter: Filter) -> Export {
        Export {
            filter,
            cursor: None,
            header_sent: false,
            done: false,
        }
    }

    /// The next piece of the CSV — the header with the first page, then a
    /// page at a time — or `None` when everything was handed out.
    pub async fn next_chunk<K: Kv>(&mut self, kv: &K) -> Result<Option<Vec<u8>>, KvError> {
        if self.done {
            return Ok(None);
        }
        let (records, next) =
            filter::page(kv, &self.filter, filter::MAX_LIMIT, self.cursor.as_ref()).await?;
        self.cursor = next;
        self.done = self.cursor.is_none();
        let header = (!self.header_sent).then_some(COLUMNS);
        self.header_sent = true;
        write_rows(records.iter().map(row), header).map(Some)
    }
}

/// The whole export at once (tests, and callers that want one body).
pub async fn csv<K: Kv>(kv: &K, filter: &Filter) -> Result<Vec<u8>, KvError> {
    let mut export = Export::new(filter.clone());
    let mut out = Vec::new();
    while let Some(chunk) = export.next_chunk(kv).await? {
        out.extend(chunk);
    }
    Ok(out)
}
