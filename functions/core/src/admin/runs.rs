//! `GET /admin/runs` and `GET /admin/runs/{id}`: the run history.
//!
//! Filters: `process` (created, updated, resend, backfill, …), `status`
//! (`failed`: runs with failures, `ok`: the others), `since`/`until` on the
//! start time, `limit` and `cursor`; `order=asc` for oldest first. Runs come
//! newest first by default, from the
//! history's ring ([`crate::history`]): a page reads a bounded number of
//! runs, whatever the filter or the store's size, and may come back short
//! with a `next_cursor` to go on.

use super::error::AdminError;
use crate::admin::filter::{decode_cursor, encode_cursor, parse_limit, parse_time, MAX_LIMIT};
use crate::context::Context;
use crate::history::{self, Order};
use crate::io::{Http, Kv};
use crate::record::Process;
use crate::run::Run;
use crate::web::{Request, Response};

/// What a runs cursor names: the run number to go on from, and the order.
const CURSOR_PREFIX: &str = "runs/from/";

struct RunFilter {
    process: Option<Process>,
    failed: Option<bool>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

type Query = (RunFilter, usize, Order, Option<u64>);

fn parse(req: &Request) -> Result<Query, String> {
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
    let order = match get("order").as_deref() {
        None | Some("desc") => Order::NewestFirst,
        Some("asc") => Order::OldestFirst,
        Some(other) => {
            return Err(format!(
                "unknown order \"{other}\"; use desc (newest first, the default) or asc"
            ))
        }
    };
    let cursor = get("cursor")
        .map(|c| {
            decode_cursor(&c, CURSOR_PREFIX).and_then(|k| {
                let (dir, n) = k[CURSOR_PREFIX.len()..].split_once('/').unwrap_or(("", ""));
                match (dir, n.parse::<u64>()) {
                    ("desc", Ok(n)) if order == Order::NewestFirst => Ok(n),
                    ("asc", Ok(n)) if order == Order::OldestFirst => Ok(n),
                    ("desc" | "asc", Ok(_)) => Err("this cursor is for the other order; pass the same order as for the first page".to_string()),
                    _ => Err("malformed cursor; pass back the next_cursor of the previous page unchanged, or omit it to start over".to_string()),
                }
            })
        })
        .transpose()?;
    Ok((
        RunFilter {
            process,
            failed,
            since,
            until,
        },
        limit,
        order,
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

pub async fn list<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let (f, limit, order, cursor) = match parse(req) {
        Ok(p) => p,
        Err(e) => return Err(AdminError::BadRequest(e)),
    };
    let (runs, next) = history::page(
        ctx.kv,
        &ctx.settings.history,
        ctx.now,
        |r| f.matches(r),
        limit,
        order,
        cursor,
    )
    .await?;
    let dir = match order {
        Order::NewestFirst => "desc",
        Order::OldestFirst => "asc",
    };
    Ok(Response::json(
        200,
        &super::wire::RunsPage {
            runs,
            next_cursor: next.map(|n| encode_cursor(&format!("{CURSOR_PREFIX}{dir}/{n}"))),
        },
    ))
}

pub async fn one<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    id: &str,
) -> Result<Response, AdminError> {
    match history::load(ctx.kv, &ctx.settings.history, ctx.now, id).await? {
        Some(r) => Ok(Response::json(200, &r)),
        None => Err(AdminError::NotFound(format!(
            "no run {id} (runs are kept for run_retention_days, at most run_retention_count of them); list runs with GET /admin/runs"
        ))),
    }
}
