//! `POST /admin/resend`: push records again, without touching Salesforce.
//!
//! Body `{"records":["Contact/003…", …]}` or
//! `{"filter":{"status":"error","object":"Contact"},"limit":200,"cursor":…}`.
//! Each record's last received source fields are re-mapped with the
//! *current* mapping and pushed regardless of fingerprint, so a fixed
//! mapping or a fixed destination heals records. Every outcome is written to
//! the record and returned; unknown records are reported, never invented.
//! The invocation is recorded as a run (process `resend`).
//!
//! Each record is one [`SyncInput`] with [`Arrival::Stored`] and `force`, run
//! through the same [`pipeline`] as the triggers.
//!
//! On Zendesk, a call of [`bulk::MIN_RECORDS`] records or more sends those
//! it can in bulk calls of a hundred ([`crate::bulk`]): they are answered
//! `queued`, and their outcome is written when their job's answer is
//! collected — by the next resend call, or by `{"collect":true}` alone.
//! Every call collects first and says how many jobs are still open.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::AdminError;
use super::filter::{self, Filter};
use crate::bulk;
use crate::context::Context;
use crate::io::{Http, Kv};
use crate::pipeline::{self, Arrival, Outcome, SyncInput, SyncOptions, SyncOutcome, SyncState};
use crate::record::{Process, Status};
use crate::reference::RecordRef;
use crate::run::Run;
use crate::web::{Request, Response};

/// The most records one resend call takes.
pub const MAX_RECORDS: usize = 1000;
/// The default page size with a filter.
pub const DEFAULT_LIMIT: usize = 200;

/// What a resend did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResendOutcome {
    Synced,
    Error,
    Skipped,
    Pending,
    /// sfsync has received nothing for this record.
    Unknown,
    /// Another request is syncing the record: nothing done; resend it again.
    Busy,
    /// Sent in a bulk job: its outcome is written when the job's answer is
    /// collected (`collected` of a later call).
    Queued,
}

impl From<Status> for ResendOutcome {
    fn from(s: Status) -> ResendOutcome {
        match s {
            Status::Synced => ResendOutcome::Synced,
            Status::Error => ResendOutcome::Error,
            Status::Skipped => ResendOutcome::Skipped,
            Status::Pending => ResendOutcome::Pending,
        }
    }
}

/// One record's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResendResult {
    pub record: RecordRef,
    pub outcome: ResendOutcome,
    pub error: Option<String>,
}

impl ResendResult {
    fn of(o: &SyncOutcome) -> ResendResult {
        let (outcome, error) = match &o.outcome {
            Outcome::Stored {
                status,
                failure,
                skip_reason,
            } => (
                (*status).into(),
                failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .or_else(|| skip_reason.clone()),
            ),
            Outcome::Unknown => (
                ResendOutcome::Unknown,
                Some(format!(
                    "no record {}: sfsync has received nothing for it",
                    o.record
                )),
            ),
            Outcome::NothingToSync(reason) => (ResendOutcome::Skipped, Some(reason.clone())),
            Outcome::NotStored(e) => (ResendOutcome::Error, Some(format!("not stored: {e}"))),
            Outcome::Busy { until } => (ResendOutcome::Busy, Some(pipeline::busy_message(until))),
            // A resend is no delivery: it is never a repeat or stale.
            Outcome::Repeat | Outcome::Stale { .. } => (ResendOutcome::Skipped, None),
            // A resend stages nothing: its bulk records are prepared apart.
            Outcome::Staged => (ResendOutcome::Queued, None),
        };
        ResendResult {
            record: o.record.clone(),
            outcome,
            error,
        }
    }
}

/// The answer of `POST /admin/resend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResendReply {
    pub run_id: String,
    pub results: Vec<ResendResult>,
    pub next_cursor: Option<String>,
    /// Records of earlier bulk jobs whose answers this call wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collected: Vec<ResendResult>,
    /// Bulk jobs still waiting for Zendesk after this call.
    #[serde(default)]
    pub open_jobs: u64,
}

enum Targets {
    /// Only collect the answers of bulk jobs.
    Collect,
    List(Vec<RecordRef>),
    Filter {
        filter: Filter,
        limit: usize,
        cursor: Option<filter::Position>,
    },
}

fn parse(body: &[u8]) -> Result<Targets, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not JSON ({e}); send {{\"records\":[\"Contact/003…\"]}} or {{\"filter\":{{\"status\":\"error\"}}}}")
    })?;
    let obj = v.as_object().ok_or("the body must be a JSON object")?;
    for key in obj.keys() {
        if !["records", "filter", "limit", "cursor", "collect"].contains(&key.as_str()) {
            return Err(format!(
                "unknown key \"{key}\"; use records, or filter with limit and cursor, or collect"
            ));
        }
    }
    match obj.get("collect") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) if obj.len() == 1 => return Ok(Targets::Collect),
        Some(Value::Bool(true)) => {
            return Err("collect goes alone: send {\"collect\":true} without records or filter (every resend call collects anyway)".into())
        }
        Some(other) => return Err(format!("collect must be true or false, not {other}")),
    }
    match (obj.get("records"), obj.get("filter")) {
        (Some(_), Some(_)) => Err("give either records or filter, not both".into()),
        (Some(Value::Array(items)), None) => {
            if items.is_empty() {
                return Err("records is empty; list records as \"Object/SalesforceId\"".into());
            }
            if items.len() > MAX_RECORDS {
                return Err(format!(
                    "{} records in one call; send at most {MAX_RECORDS} per call",
                    items.len()
                ));
            }
            items
                .iter()
                .map(|i| {
                    let text = i
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string());
                    RecordRef::parse(&text).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Targets::List)
        }
        (Some(_), None) => Err("records must be a list of \"Object/SalesforceId\"".into()),
        (None, Some(f)) => {
            let filter = Filter::from_json(f)?;
            let limit = match obj.get("limit") {
                None => DEFAULT_LIMIT,
                Some(l) => match l.as_u64() {
                    Some(n) if (1..=MAX_RECORDS as u64).contains(&n) => n as usize,
                    _ => return Err(format!("limit {l} is out of range; use 1 to {MAX_RECORDS}")),
                },
            };
            let cursor = match obj.get("cursor") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(filter::decode_page_cursor(c, &filter)?),
                Some(_) => {
                    return Err("cursor must be the string next_cursor of the previous call".into())
                }
            };
            Ok(Targets::Filter {
                filter,
                limit,
                cursor,
            })
        }
        (None, None) => Err("nothing to resend; send {\"records\":[…]} or {\"filter\":{…}}".into()),
    }
}

/// Handle `POST /admin/resend` (the caller has checked the admin token).
pub async fn handle<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    if req.method != "POST" {
        return Err(AdminError::MethodNotAllowed {
            method: req.method.clone(),
            path: "/admin/resend".into(),
            allowed: "POST",
        });
    }
    let targets = match parse(&req.body) {
        Ok(t) => t,
        Err(e) => return Err(AdminError::BadRequest(e)),
    };
    let mut state = SyncState::load(ctx.kv).await?;
    if state.paused {
        return Err(AdminError::Conflict(
            "sync is paused: nothing can be pushed; POST /admin/resume first, then resend".into(),
        ));
    }
    // Named first, so that each record it writes (collected ones included)
    // names the run.
    let salt = match &targets {
        Targets::List(refs) => refs.first().map(ToString::to_string).unwrap_or_default(),
        _ => String::new(),
    };
    let mut run = Run::new(Process::Resend, ctx.now, &salt);
    state.name_run(&run);
    let collected = match ctx.settings.destination {
        crate::settings::DestinationKind::Zendesk => bulk::collect(ctx, &state).await?,
        _ => bulk::Collected::default(),
    };
    let (refs, next_cursor) = match targets {
        Targets::Collect => (Vec::new(), None),
        Targets::List(refs) => (refs, None),
        Targets::Filter {
            filter,
            limit,
            cursor,
        } => {
            let (records, next) = filter::page(ctx.kv, &filter, limit, cursor.as_ref()).await?;
            let next = next.as_ref().map(filter::encode_page_cursor);
            (records.iter().map(|r| r.reference()).collect(), next)
        }
    };
    let prepared = if bulk::applies(ctx, refs.len()) {
        bulk::prepare(ctx, &state, Process::Resend, refs.clone()).await
    } else {
        bulk::Prepared {
            bulk: Vec::new(),
            rest: refs.clone(),
        }
    };
    let inputs = prepared
        .rest
        .into_iter()
        .map(|record| SyncInput {
            process: Process::Resend,
            arrival: Arrival::Stored { record },
            options: SyncOptions {
                force: true,
                stage: false,
            },
        })
        .collect();
    let mut outcomes = pipeline::sync_all(inputs, &state, ctx).await;
    let mut submitted =
        bulk::submit(ctx, &state, Process::Resend, prepared.bulk, collected.open).await;
    let mut collected = collected;
    collected.outcomes.append(&mut submitted.collected);
    collected.open = submitted.open;
    // Records whose bulk call failed (or was held off) have it written now.
    outcomes.extend(pipeline::sync_all(submitted.not_sent, &state, ctx).await);
    state.number_run(&mut run);

    let mut results: Vec<ResendResult> = outcomes.iter().map(ResendResult::of).collect();
    for o in outcomes.iter().chain(&collected.outcomes) {
        o.count_in(&mut run);
    }
    for (record, slot) in submitted.sent {
        run.add(&record.to_string(), Status::Pending, None);
        results.push(ResendResult {
            record,
            outcome: ResendOutcome::Queued,
            error: Some(format!(
                "sent in bulk job {slot}; its outcome is written once Zendesk has done the job (the next resend call collects it)"
            )),
        });
    }
    for (record, e) in submitted.not_kept {
        let why = bulk::not_kept_message(&e);
        run.add(&record.to_string(), Status::Error, Some(&why));
        results.push(ResendResult {
            record,
            outcome: ResendOutcome::Error,
            error: Some(why),
        });
    }
    // In the order asked.
    let order: std::collections::HashMap<String, usize> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.to_string(), i))
        .collect();
    results.sort_by_key(|r| {
        order
            .get(&r.record.to_string())
            .copied()
            .unwrap_or(usize::MAX)
    });
    run.finished_at = ctx.current_time();
    // A collect that found nothing to write did nothing worth a run.
    if !(refs.is_empty() && collected.outcomes.is_empty()) {
        let _ = crate::history::keep(ctx, &mut run).await;
    }
    Ok(Response::json(
        200,
        &ResendReply {
            run_id: run.id,
            results,
            next_cursor,
            collected: collected.outcomes.iter().map(ResendResult::of).collect(),
            open_jobs: collected.open,
        },
    ))
}
