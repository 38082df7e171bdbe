//! `GET /admin/runs` and `GET /admin/runs/{id}`: the run history.
//!
//! Filters: `process` (created, updated, resend, backfill), `status`
//! (`failed`: runs with failures, `ok`: the others), `since`/`until` on the
//! start time, `limit` and `cursor`. Runs come oldest first (their ids start
//! with the start time).

use super::error::AdminError;
use crate::admin::filter::{decode_cursor, encode_cursor, parse_limit, parse_time, MAX_LIMIT};
use crate::io::Kv;
use crate::record::Process;
use crate::run::Run;
use crate::store::{self, RUN_PREFIX};
use crate::web::{Request, Response};

struct RunFilter {
    process: Option<Process>,
    failed: Option<bool>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse(req: &Request) -> Result<(RunFilter, usize, Option<String>), String> {
    let get = |k: &str| req.query_param(k).filter(|v| !v.is_empty());
    let process = match get("process").as_deref() {
        None => None,
        Some(name) => match Process::parse(name) {
            Some(p) => Some(p),
            None => {
                let names: Vec<&str> = Process::ALL.iter().map(|p| p.as_str()).collect();
                return Err(format!(
                    "unknown process \"{name}\"; use one of {}",
                    names.join(", ")
                ));
            }
        },
    };
    let failed = match get("status").as_deref() {
        None => None,
        Some("failed") => Some(true),
        Some("ok") => Some(false),
        Some(other) => {
            return Err(format!(
                "unknown status \"{other}\"; use failed (runs with failures) or ok"
            ))
        }
    };
    let since = get("since").map(|s| parse_time("since", &s)).transpose()?;
    let until = get("until").map(|s| parse_time("until", &s)).transpose()?;
    let limit = parse_limit(get("limit"), MAX_LIMIT)?;
    let cursor = get("cursor")
        .map(|c| decode_cursor(&c, RUN_PREFIX))
        .transpose()?;
    Ok((
        RunFilter {
            process,
            failed,
            since,
            until,
        },
        limit,
        cursor,
    ))
}

impl RunFilter {
    fn matches(&self, r: &Run) -> bool {
        self.process.is_none_or(|p| p == r.process)
            && self.failed.is_none_or(|f| f == r.has_failures())
            && self.since.is_none_or(|s| r.started_at >= s)
            && self.until.is_none_or(|u| r.started_at <= u)
    }
}

pub async fn list<K: Kv>(req: &Request, kv: &K) -> Result<Response, AdminError> {
    let (f, limit, cursor) = match parse(req) {
        Ok(p) => p,
        Err(e) => return Err(AdminError::BadRequest(e)),
    };
    let mut after = cursor;
    let mut runs = Vec::new();
    let mut next = None;
    'scan: loop {
        let keys = store::scan(kv, RUN_PREFIX, after.as_deref(), 200).await?;
        let done = keys.len() < 200;
        for key in keys {
            if let Some(r) = store::load_run_at(kv, &key).await? {
                if f.matches(&r) {
                    runs.push(r);
                }
            }
            after = Some(key);
            if runs.len() >= limit {
                if !store::scan(kv, RUN_PREFIX, after.as_deref(), 1)
                    .await?
                    .is_empty()
                {
                    next = after.as_deref().map(encode_cursor);
                }
                break 'scan;
            }
        }
        if done {
            break;
        }
    }
    Ok(Response::json(
        200,
        &super::wire::RunsPage {
            runs,
            next_cursor: next,
        },
    ))
}

pub async fn one<K: Kv>(kv: &K, id: &str) -> Result<Response, AdminError> {
    match store::load_run(kv, id).await? {
        Some(r) => Ok(Response::json(200, &r)),
        None => Err(AdminError::NotFound(format!(
            "no run {id}; list runs with GET /admin/runs"
        ))),
    }
}
