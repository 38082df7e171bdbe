//! Log lines: what each request writes to its component's stdout, so that an
//! operator sees failing messages without calling the admin API.
//!
//! One JSON object per line, written by the function after it answered
//! ([`Line::for_request`] decides, [`Line::to_json`] renders):
//!
//! - every Outbound Message, acknowledged or refused;
//! - every admin request that changes something (any method but `GET`:
//!   resend, backfill, mapping, import, repair, pause, resume, reindex);
//! - every admin request that failed (status 400 or over), reads included.
//!
//! A line carries the time, a level (`info`, `warn` when some records failed
//! or the request was refused, `error` for a 5xx), the method and path (never
//! the query: the endpoint token travels there), the status, the duration,
//! and, when the request wrote a run, its id, process, counts and the first
//! failure's record and reason. A refusal carries the reason the caller was
//! given. No line ever holds a token, the SessionId or a field value beyond
//! what an error message names.
//!
//! ```text
//! {"at":"2026-12-02T05:01:02.123Z","level":"error","request":"POST /sf/created","status":500,
//!  "duration_ms":41,"run":{"id":"20261202T050102123Z-created-r88","process":"created",
//!  "counts":{"synced":2,"error":1,"skipped":0,"pending":0,"ignored":0},"failed":1,
//!  "first_failure":{"record":"Contact/003000000000001AAA","error":"Email: … is already being used"}},
//!  "reason":"1 of 3 notifications were not synced and will be retried by Salesforce: …"}
//! ```
//!
//! From the line, `sfsync show Contact/003000000000001AAA` or
//! `GET /admin/runs/{run.id}` give the whole story.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::run::{FailedItem, Run, RunCounts};
use crate::web::{Request, Response};

/// The longest reason a line carries; a longer one is cut with `…`.
const REASON_CHARS: usize = 500;

/// What a request's run adds to its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunNote {
    pub id: String,
    pub process: &'static str,
    pub counts: RunCounts,
    /// Failed items in all (`counts.error` plus refused rows and the like).
    pub failed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<FailedItem>,
}

impl RunNote {
    pub fn of(run: &Run) -> RunNote {
        RunNote {
            id: run.id.clone(),
            process: run.process.as_str(),
            counts: run.counts.clone(),
            failed: run.failed_total.max(run.failed.len() as u32),
            first_failure: run.failed.first().map(|f| FailedItem {
                record: f.record.clone(),
                error: cut(&f.error),
            }),
        }
    }
}

/// How much a line asks for attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub at: String,
    pub level: Level,
    /// `METHOD /path`, without the query.
    pub request: String,
    pub status: u16,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunNote>,
    /// What the caller was told when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn cut(s: &str) -> String {
    if s.chars().count() <= REASON_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(REASON_CHARS).collect();
    out.push('…');
    out
}

impl Line {
    /// The line for one answered request, or `None` when it is not worth
    /// one (a successful admin read: the dashboard polls).
    pub fn for_request(
        req: &Request,
        resp: &Response,
        run: Option<RunNote>,
        at: DateTime<Utc>,
        duration: Duration,
    ) -> Option<Line> {
        let message = req.path.starts_with("/sf/");
        if !message && req.method == "GET" && resp.status < 400 && run.is_none() {
            return None;
        }
        let failed = run.as_ref().is_some_and(|r| r.failed > 0);
        let level = match resp.status {
            500.. => Level::Error,
            400.. => Level::Warn,
            _ if failed => Level::Warn,
            _ => Level::Info,
        };
        Some(Line {
            at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            level,
            request: format!("{} {}", req.method, req.path),
            status: resp.status,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            run,
            reason: (resp.status >= 400)
                .then(|| resp.reason.as_deref().map(cut))
                .flatten(),
        })
    }

    /// The line as one JSON object, no newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"level\":\"error\",\"request\":{:?},\"reason\":\"could not render the log line: {e}\"}}",
                self.request
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Process, Status};

    fn req(method: &str, path: &str, query: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_message_line_names_its_run_and_first_failure_but_never_the_query() {
        let at = DateTime::from_timestamp_millis(1_764_651_662_123).unwrap_or_default();
        let mut run = Run::new(Process::Created, at, "n1");
        run.add("Contact/003000000000001AAA", Status::Synced, None);
        run.add(
            "Contact/003000000000002AAA",
            Status::Error,
            Some("Email: x is already being used"),
        );
        let resp = Response::soap(500, "<fault/>".into()).with_reason("1 of 2 not synced");
        let line = Line::for_request(
            &req("POST", "/sf/created", "token=secret-endpoint-token"),
            &resp,
            Some(RunNote::of(&run)),
            at,
            Duration::from_millis(41),
        )
        .expect("a message always logs");
        let json: serde_json::Value =
            serde_json::from_str(&line.to_json()).expect("one JSON object");
        assert_eq!(json["level"], "error");
        assert_eq!(json["request"], "POST /sf/created");
        assert_eq!(json["run"]["id"], run.id.as_str());
        assert_eq!(json["run"]["counts"]["synced"], 1);
        assert_eq!(json["run"]["failed"], 1);
        assert_eq!(
            json["run"]["first_failure"]["record"],
            "Contact/003000000000002AAA"
        );
        assert_eq!(json["reason"], "1 of 2 not synced");
        assert_eq!(json["duration_ms"], 41);
        assert!(!line.to_json().contains("secret-endpoint-token"));
    }

    #[test]
    fn admin_reads_log_only_when_they_fail() {
        let at = DateTime::from_timestamp(0, 0).unwrap_or_default();
        let ok = Response::json(200, &serde_json::json!({}));
        let d = Duration::ZERO;
        assert!(Line::for_request(&req("GET", "/admin/stats", ""), &ok, None, at, d).is_none());
        let denied = Response::json(401, &serde_json::json!({})).with_reason("wrong admin token");
        let line = Line::for_request(&req("GET", "/admin/stats", ""), &denied, None, at, d)
            .expect("a failure logs");
        assert_eq!(line.level, Level::Warn);
        assert_eq!(line.reason.as_deref(), Some("wrong admin token"));
        let paused = Line::for_request(&req("POST", "/admin/pause", ""), &ok, None, at, d)
            .expect("a change logs");
        assert_eq!(paused.level, Level::Info);
        assert_eq!(paused.reason, None);
    }

    #[test]
    fn a_long_reason_is_cut() {
        let long = "x".repeat(2_000);
        assert_eq!(cut(&long).chars().count(), REASON_CHARS + 1);
    }
}
