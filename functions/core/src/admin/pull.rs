//! `POST /admin/pull?object={Object}&since=&limit=&cursor=`: the initial
//! load straight from Salesforce, without a CSV file. One call reads one
//! page of the object's records through the REST query API
//! ([`crate::salesforce`]) and syncs each through the same pipeline as a
//! backfill row (skipped when its mapped fields already synced), as a run
//! with process `pull`. On Zendesk, a page of [`crate::bulk::MIN_RECORDS`]
//! or more goes as a resend does ([`crate::bulk::sync_rows`]): what must
//! be pushed is sent a hundred users or organizations a call, answered
//! `queued`, and written when a later call (the next page, a sweep, or
//! `POST /admin/resend {"collect":true}`) collects the job. The answer's `next_cursor` goes on with the next
//! page (Salesforce's query locator, kept about 15 minutes); `high_water`,
//! the last `SystemModstamp` read, is where a later pull goes on from with
//! `since` if the locator has expired (`sfsync pull` does both).
//!
//! `POST /admin/reconcile?object={Object}&lookback_minutes=&cursor=` is the
//! same read as a **sweep** (process `reconcile`): it starts from the
//! object's high-water mark (`state/sweep/{Object}`, the last
//! `SystemModstamp` the previous sweep read) minus a lookback window
//! (default [`DEFAULT_LOOKBACK_MINUTES`], for records saved while the last
//! sweep ran), or, before any sweep, from [`FIRST_SWEEP_HOURS`] ago. A
//! record whose mapped fields match what was synced costs nothing; one that
//! differs is synced and marked `healed_at`. The mark moves on when the
//! sweep's last page is read. Run it on a schedule (the README shows how).
//!
//! Both stop early, with `stopped` saying why and no `next_cursor`, once
//! the org has used `sf_api_budget_percent` of its daily API requests (read
//! from `Sforce-Limit-Info`): the rest of the day's allowance is left to
//! the org's other tools. The run lists it as a failure of `api budget`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::error::AdminError;
use crate::bulk::BulkProgress;
use crate::context::Context;
use crate::failure::ErrorKind;
use crate::io::{Http, Kv};
use crate::pipeline::SyncState;
use crate::record::{Process, Status};
use crate::run::{FailedItem, Run, RunCounts};
use crate::salesforce::slots::{self, SlotError};
use crate::salesforce::{query, ApiUsage, Client, SalesforceError};
use crate::web::{Request, Response};

pub const DEFAULT_BATCH: u32 = 500;
/// How far before the last sweep's mark the next sweep starts.
pub const DEFAULT_LOOKBACK_MINUTES: i64 = 10;
/// Where the first sweep of an object starts: what Outbound Messages may
/// still redeliver is younger than this.
pub const FIRST_SWEEP_HOURS: i64 = 24;

/// A pull (initial load) or a reconcile sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pull,
    Sweep,
}
pub const BATCH_RANGE: std::ops::RangeInclusive<u32> = 200..=2000;

/// `POST /admin/pull`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullReply {
    pub run_id: String,
    pub object: String,
    /// Records the query matches in all (Salesforce's `totalSize`).
    pub total: u64,
    /// Records read by this call.
    pub fetched: usize,
    pub counts: RunCounts,
    pub failed: Vec<FailedItem>,
    pub next_cursor: Option<String>,
    /// The last `SystemModstamp` read: `since` for a later pull.
    pub high_water: Option<String>,
    pub api_usage: Option<ApiUsage>,
    /// Why the run stopped before the last page (the org's API budget):
    /// no `next_cursor`; run again later, from `high_water`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// On Zendesk: this page's records in bulk jobs, and the jobs open.
    #[serde(flatten)]
    pub bulk: BulkProgress,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    object: String,
    next: String,
    /// The highest stamp read so far (a sweep stores it at its end).
    #[serde(default)]
    high: Option<String>,
}

/// What the admin API answers when Salesforce was not read: a missing
/// variable is sfsync's configuration (500); no free slot, or Salesforce
/// unavailable for now, is 503 with `Retry-After` (nothing was changed, the
/// same call goes on); anything else is Salesforce's answer (502).
fn upstream(e: SalesforceError) -> AdminError {
    match e {
        SalesforceError::Unconfigured(m) => AdminError::Misconfigured(m),
        SalesforceError::NoSlot(SlotError::Store(e)) => AdminError::StateUnreadable(e),
        SalesforceError::NoSlot(busy) => AdminError::Unavailable {
            message: busy.to_string(),
            retry_after_secs: slots::RETRY_AFTER_SECS,
        },
        SalesforceError::Failed {
            failure,
            retry_after,
        } if failure.kind == ErrorKind::Transient && failure.http_status != Some(403) => {
            AdminError::Unavailable {
                message: failure.message,
                retry_after_secs: retry_after
                    .map_or(UNAVAILABLE_RETRY_AFTER_SECS, |d| d.as_secs().max(1)),
            }
        }
        SalesforceError::Failed { failure, .. } => AdminError::Upstream(failure.message),
    }
}

/// How long a caller waits after Salesforce was unavailable, unless it said.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 30;

fn bad(message: impl Into<String>) -> AdminError {
    AdminError::BadRequest(message.into())
}

pub async fn handle<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
    mode: Mode,
) -> Result<Response, AdminError> {
    let param = |k: &str| req.query_param(k).filter(|v| !v.is_empty());
    let cursor: Option<Cursor> = match param("cursor") {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(&c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| bad("malformed cursor; pass back the next_cursor of the previous pull unchanged, or start again with since=<its high_water>"))?,
        ),
    };
    let object = match (&cursor, param("object")) {
        (Some(c), _) => c.object.clone(),
        (None, Some(o)) => o,
        (None, None) => {
            return Err(bad(match mode {
                Mode::Pull => "name the object: POST /admin/pull?object=Contact (and since=2026-11-20 to read only what changed since)",
                Mode::Sweep => "name the object: POST /admin/reconcile?object=Contact (sfsync reconcile sweeps every mapped object)",
            }))
        }
    };
    let batch = match param("limit") {
        None => DEFAULT_BATCH,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| BATCH_RANGE.contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "limit \"{l}\" is out of range; use 200 to 2000 records a call"
                ))
            })?,
    };
    let since = match mode {
        Mode::Pull => param("since")
            .map(|s| query::since_literal(&s))
            .transpose()
            .map_err(bad)?,
        Mode::Sweep => {
            let lookback = match param("lookback_minutes") {
                None => DEFAULT_LOOKBACK_MINUTES,
                Some(l) => l
                    .parse::<i64>()
                    .ok()
                    .filter(|m| (0..=10_080).contains(m))
                    .ok_or_else(|| {
                        bad(format!(
                            "lookback_minutes \"{l}\" is out of range; use 0 to 10080 (a week)"
                        ))
                    })?,
            };
            let mark = crate::store::sweep_mark(ctx.kv, &object).await?;
            let start = match mark.as_deref().and_then(|m| query::since_literal(m).ok()) {
                Some(m) => {
                    chrono::DateTime::parse_from_rfc3339(&m)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .unwrap_or(ctx.now)
                        - chrono::Duration::minutes(lookback)
                }
                None => ctx.now - chrono::Duration::hours(FIRST_SWEEP_HOURS),
            };
            Some(start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
    };
    let process = match mode {
        Mode::Pull => Process::Pull,
        Mode::Sweep => Process::Reconcile,
    };
    let mut state = SyncState::load(ctx.kv).await?;
    if state.paused {
        return Err(AdminError::Conflict(
            "sync is paused: nothing can be pushed; POST /admin/resume first, then pull or reconcile".into(),
        ));
    }
    let Some(mapping) = state.mapping.object(&object) else {
        return Err(bad(format!(
            "the active mapping has no object {object}; it maps {}",
            state
                .mapping
                .objects
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let client = Client::new(ctx).map_err(upstream)?;
    let path = match &cursor {
        Some(c) => c.next.clone(),
        None => query::path(&query::soql(mapping, since.as_deref())),
    };
    let answer = client.get(&path, Some(batch)).await.map_err(upstream)?;
    let page = query::page(&object, &answer).map_err(|f| upstream(f.into()))?;

    let mut run = Run::new(process, ctx.now, &path);
    state.name_run(&run);
    let fetched = page.records.len() + page.unusable.len();
    let synced = crate::bulk::sync_rows(ctx, &state, process, page.records).await?;
    state.number_run(&mut run);
    synced.count_in(&mut run);
    for (id, why) in &page.unusable {
        run.note(&format!("{object}/{id}"), Status::Error, why);
    }
    let budget = ctx.settings.sf_api_budget_percent;
    let stopped = client
        .usage
        .get()
        .filter(|u| page.next.is_some() && u.limit > 0 && u.used * 100 >= u.limit * budget)
        .map(|u| {
            format!(
                "stopped: the org has used {} of its {} daily API requests, past sf_api_budget_percent ({budget} %); run again later (from high_water), or raise the variable",
                u.used, u.limit
            )
        });
    if let Some(why) = &stopped {
        run.fail("api budget", why);
    }
    run.finished_at = ctx.current_time();
    let _ = crate::history::keep(ctx, &mut run).await;
    let finished = page.next.is_none();
    let next = if stopped.is_some() { None } else { page.next };
    let high = match (cursor.and_then(|c| c.high), page.last_stamp.clone()) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if mode == Mode::Sweep && finished {
        if let Some(h) = &high {
            crate::store::set_sweep_mark(ctx.kv, &object, h).await?;
        }
    }
    let next_cursor = next.map(|next| {
        let c = Cursor {
            object: object.clone(),
            next,
            high: high.clone(),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
    });
    Ok(Response::json(
        200,
        &PullReply {
            run_id: run.id.clone(),
            object,
            total: page.total,
            fetched,
            counts: run.counts.clone(),
            failed: run.failed.clone(),
            next_cursor,
            high_water: page.last_stamp,
            api_usage: client.usage.get(),
            stopped,
            bulk: synced.progress(),
        },
    ))
}
