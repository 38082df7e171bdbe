//! Filters, limits and cursors shared by the record list, export and resend.
//!
//! Pages walk the record index ([`crate::index`]): the log of the status
//! filter, object by object. A cursor is the last slot examined,
//! base64url-encoded: opaque to callers, stable while records are written
//! (a log only grows, and each record is live in one slot of it), and
//! checked when it comes back. A page examines at most [`SCAN_BUDGET`]
//! slots, so a narrow filter (a search text, a date range) may return fewer
//! than `limit` records with a `next_cursor`: keep following it until it is
//! null.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

pub use crate::index::Position;
use crate::index::{self, Log, Reach};
use crate::io::{Kv, KvError};
use crate::record::{Status, SyncRecord};
use crate::web::Request;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Keys examined per page at most.
pub const SCAN_BUDGET: u64 = 5000;

/// `status` filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Ever synced.
    Synced,
    /// Last attempt failed.
    Error,
    Skipped,
    Pending,
}

/// Which records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<StatusFilter>,
    pub object: Option<String>,
    /// Lower-cased search text.
    pub q: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn parse_status(s: &str) -> Result<StatusFilter, String> {
    match s {
        "synced" => Ok(StatusFilter::Synced),
        "error" => Ok(StatusFilter::Error),
        "skipped" => Ok(StatusFilter::Skipped),
        "pending" => Ok(StatusFilter::Pending),
        other => Err(format!(
            "unknown status \"{other}\"; use synced (ever synced), error (last attempt failed), skipped or pending"
        )),
    }
}

/// `2026-11-20T10:15:00Z` or `2026-11-20` (midnight UTC).
pub fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{name} \"{s}\" is not an ISO 8601 date or date-time, e.g. 2026-11-20 or 2026-11-20T10:15:00Z"))
}

impl Filter {
    /// From `?status=&object=&q=&since=&until=`.
    pub fn from_query(req: &Request) -> Result<Filter, String> {
        Self::build(|k| req.query_param(k).filter(|v| !v.is_empty()))
    }

    /// From a JSON object with the same keys.
    pub fn from_json(v: &Value) -> Result<Filter, String> {
        if !v.is_object() {
            return Err(
                "filter must be a JSON object, e.g. {\"status\":\"error\",\"object\":\"Contact\"}"
                    .into(),
            );
        }
        for key in v.as_object().into_iter().flat_map(|o| o.keys()) {
            if !["status", "object", "q", "since", "until"].contains(&key.as_str()) {
                return Err(format!(
                    "unknown filter key \"{key}\"; use status, object, q, since, until"
                ));
            }
        }
        Self::build(|k| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        })
    }

    fn build(get: impl Fn(&str) -> Option<String>) -> Result<Filter, String> {
        let object = get("object");
        if let Some(o) = &object {
            if !crate::sobject::is_api_name(o) {
                return Err(format!(
                    "object \"{o}\" is not a Salesforce object API name, e.g. Contact"
                ));
            }
        }
        let since = get("since").map(|s| parse_time("since", &s)).transpose()?;
        let until = get("until").map(|s| parse_time("until", &s)).transpose()?;
        if let (Some(a), Some(b)) = (since, until) {
            if a > b {
                return Err("since is after until; swap them".into());
            }
        }
        Ok(Filter {
            status: get("status").map(|s| parse_status(&s)).transpose()?,
            object,
            q: get("q").map(|q| q.to_lowercase()),
            since,
            until,
        })
    }

    pub fn matches(&self, r: &SyncRecord) -> bool {
        let status_ok = match self.status {
            None => true,
            Some(StatusFilter::Synced) => r.ever_synced,
            Some(StatusFilter::Error) => r.status == Status::Error,
            Some(StatusFilter::Skipped) => r.status == Status::Skipped,
            Some(StatusFilter::Pending) => r.status == Status::Pending,
        };
        let object_ok = self.object.as_ref().is_none_or(|o| *o == r.object);
        let since_ok = self
            .since
            .is_none_or(|s| r.last_attempt_at.is_some_and(|t| t >= s));
        let until_ok = self
            .until
            .is_none_or(|u| r.last_attempt_at.is_some_and(|t| t <= u));
        status_ok
            && object_ok
            && since_ok
            && until_ok
            && self.q.as_ref().is_none_or(|q| text_matches(r, q))
    }

    /// The index log that holds every record the status filter accepts.
    fn log(&self) -> Log {
        match self.status {
            None => Log::All,
            Some(StatusFilter::Synced) => Log::Synced,
            Some(StatusFilter::Error) => Log::Error,
            Some(StatusFilter::Skipped) => Log::Skipped,
            Some(StatusFilter::Pending) => Log::Pending,
        }
    }
}

/// `q`: Salesforce id, destination id, email or name, case-insensitive.
fn text_matches(r: &SyncRecord, q: &str) -> bool {
    let mut haystack: Vec<&str> = vec![&r.salesforce_id];
    if let Some(id) = r.destination.as_ref().and_then(|d| d.id.as_deref()) {
        haystack.push(id);
    }
    for field in ["Email", "Name", "FirstName", "LastName", "Company"] {
        if let Some(v) = r.source_fields.get(field).and_then(|v| v.as_text()) {
            haystack.push(v);
        }
    }
    haystack.iter().any(|h| h.to_lowercase().contains(q))
}

/// `limit`: default 100, 1 to 1000.
pub fn parse_limit(raw: Option<String>, max: usize) -> Result<usize, String> {
    match raw {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit \"{s}\" is out of range; use a number from 1 to {max}"
            )),
        },
    }
}

pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// Decode a cursor issued for keys under `prefix`.
pub fn decode_cursor(cursor: &str, prefix: &str) -> Result<String, String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|k| k.starts_with(prefix))
        .ok_or_else(|| "malformed cursor; pass back the next_cursor of the previous page unchanged, or omit it to start over".to_string())
}

/// The prefix of a record page's cursor.
pub const PAGE_CURSOR_PREFIX: &str = "ix:";

/// Read a record page's cursor back, for a page of `filter`: a cursor
/// issued for another status or object is refused (it walks another log).
pub fn decode_page_cursor(cursor: &str, filter: &Filter) -> Result<Position, String> {
    let at = decode_cursor(cursor, PAGE_CURSOR_PREFIX).and_then(|c| {
        c.strip_prefix(PAGE_CURSOR_PREFIX)
            .and_then(Position::parse)
            .ok_or_else(|| "malformed cursor; pass back the next_cursor of the previous page unchanged, or omit it to start over".to_string())
    })?;
    if at.log != filter.log() || filter.object.as_ref().is_some_and(|o| *o != at.object) {
        return Err("this cursor belongs to a listing with another status or object filter; send the same status and object as the page it came from, or omit the cursor to start over".into());
    }
    Ok(at)
}

/// A record page's cursor, as [`decode_page_cursor`] reads it.
pub fn encode_page_cursor(at: &Position) -> String {
    encode_cursor(&format!("{PAGE_CURSOR_PREFIX}{}", at.encode()))
}

/// One page of matching records, and where the next page starts. Walks
/// the index log the status filter names (every record without one), of
/// the filter's object or of each object in turn.
pub async fn page<K: Kv>(
    kv: &K,
    filter: &Filter,
    limit: usize,
    cursor: Option<&Position>,
) -> Result<(Vec<SyncRecord>, Option<Position>), KvError> {
    let log = filter.log();
    let reach = Reach {
        limit,
        budget: SCAN_BUDGET,
    };
    let generation = crate::store::generation(kv).await?.number;
    let keep = |r: &SyncRecord| filter.matches(r);
    let walked = index::walk(
        kv,
        generation,
        log,
        filter.object.as_deref(),
        cursor,
        reach,
        &keep,
    )
    .await?;
    Ok((walked.records, walked.next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inputs_are_named() {
        let cases = [
            ("status=broken", "unknown status \"broken\""),
            ("since=yesterday", "since \"yesterday\" is not an ISO 8601"),
            ("since=2026-11-21&until=2026-11-20", "since is after until"),
            ("object=Not%20One", "is not a Salesforce object API name"),
        ];
        for (query, says) in cases {
            let req = Request {
                query: query.into(),
                ..Request::default()
            };
            let err = Filter::from_query(&req).expect_err(query);
            assert!(err.contains(says), "{query}: {err}");
        }
        assert!(parse_limit(Some("0".into()), MAX_LIMIT).is_err());
        assert!(parse_limit(Some("1001".into()), MAX_LIMIT).is_err());
        assert_eq!(parse_limit(None, MAX_LIMIT), Ok(100));
        assert!(decode_cursor("%%%", "rec/").is_err());
        assert!(decode_cursor(&encode_cursor("run/x"), "rec/").is_err());
        assert_eq!(
            decode_cursor(&encode_cursor("rec/Contact/1"), "rec/").as_deref(),
            Ok("rec/Contact/1")
        );
        assert!(Filter::from_json(&serde_json::json!({"stauts": "error"})).is_err());
    }
}
