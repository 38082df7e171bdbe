//! `POST /admin/resend`: push records again, without touching Salesforce.
//!
//! Body `{"records":["Contact/003…", …]}` or
//! `{"filter":{"status":"error","object":"Contact"},"limit":200,"cursor":…}`.
//! Each record's last received source fields are re-mapped with the
//! *current* mapping and pushed regardless of fingerprint, so a fixed
//! mapping or a fixed destination heals records. Every outcome is written to
//! the record and returned; unknown records are reported, never invented.
//! The invocation is recorded as a run (process `resend`).

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::admin::authorize;
use crate::admin::filter::{self, Filter};
use crate::engine::{sync_record, Context, CONCURRENCY};
use crate::io::{Http, Kv};
use crate::mapping::Mapping;
use crate::record::{Status, Trigger};
use crate::run::{self, Run};
use crate::sobject::SObject;
use crate::store;
use crate::web::{Request, Response};

/// The most records one resend call takes.
pub const MAX_RECORDS: usize = 1000;
/// The default page size with a filter.
pub const DEFAULT_LIMIT: usize = 200;

/// One record's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResendResult {
    pub record: String,
    /// `synced`, `error`, `skipped`, `pending` or `unknown`.
    pub outcome: String,
    pub error: Option<String>,
}

enum Targets {
    List(Vec<(String, String)>),
    Filter {
        filter: Filter,
        limit: usize,
        cursor: Option<String>,
    },
}

fn parse(body: &[u8]) -> Result<Targets, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not JSON ({e}); send {{\"records\":[\"Contact/003…\"]}} or {{\"filter\":{{\"status\":\"error\"}}}}")
    })?;
    let obj = v.as_object().ok_or("the body must be a JSON object")?;
    for key in obj.keys() {
        if !["records", "filter", "limit", "cursor"].contains(&key.as_str()) {
            return Err(format!(
                "unknown key \"{key}\"; use records, or filter with limit and cursor"
            ));
        }
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
                    let s = i.as_str().unwrap_or_default();
                    match s.split_once('/') {
                        Some((o, id)) if crate::mapping::load::is_api_name(o) && crate::sobject::is_salesforce_id(id) => {
                            Ok((o.to_string(), id.to_string()))
                        }
                        _ => Err(format!("\"{}\" is not a record reference; write \"Object/SalesforceId\", e.g. \"Contact/003000000000001AAA\"", i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))),
                    }
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
                Some(Value::String(c)) => Some(filter::decode_cursor(c, store::RECORD_PREFIX)?),
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

/// Handle `POST /admin/resend`.
pub async fn handle<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    if let Err(resp) = authorize(ctx.settings, req) {
        return resp;
    }
    if req.method != "POST" {
        return Response::error(405, "use POST /admin/resend with a JSON body")
            .with_header("allow", "POST");
    }
    let targets = match parse(&req.body) {
        Ok(t) => t,
        Err(e) => return Response::error(400, &e),
    };
    let (mapping, paused) = match store::sync_state(ctx.kv).await {
        Ok(s) => s,
        Err(e) => {
            return Response::error(
                503,
                &format!("could not read sfsync's state; try again ({e})"),
            )
        }
    };
    if paused {
        return Response::error(
            409,
            "sync is paused: nothing can be pushed; POST /admin/resume first, then resend",
        );
    }
    let (refs, next_cursor) = match targets {
        Targets::List(refs) => (refs, None),
        Targets::Filter {
            filter,
            limit,
            cursor,
        } => match filter::page(ctx.kv, &filter, limit, cursor.as_deref()).await {
            Ok((records, next)) => (
                records
                    .into_iter()
                    .map(|r| (r.object, r.salesforce_id))
                    .collect(),
                next,
            ),
            Err(e) => {
                return Response::error(
                    503,
                    &format!("could not read sfsync's state; try again ({e})"),
                )
            }
        },
    };
    let salt = refs
        .first()
        .map(|(o, id)| format!("{o}/{id}"))
        .unwrap_or_default();
    let results: Vec<ResendResult> = stream::iter(refs)
        .map(|(object, id)| resend_one(object, id, &mapping, ctx))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut run = Run::new(Trigger::Resend, ctx.now, &salt);
    for r in &results {
        match r.outcome.as_str() {
            "synced" => run.add(&r.record, Status::Synced, None),
            "skipped" => run.add(&r.record, Status::Skipped, None),
            "pending" => run.add(&r.record, Status::Pending, None),
            _ => run.add(&r.record, Status::Error, r.error.as_deref()),
        }
    }
    run.finished_at = ctx.now + chrono::Duration::from_std((ctx.elapsed)()).unwrap_or_default();
    let _ = run::save(ctx.kv, &run).await;
    Response::json(
        200,
        &json!({ "run_id": run.id, "results": results, "next_cursor": next_cursor }),
    )
}

async fn resend_one<K: Kv, H: Http>(
    object: String,
    id: String,
    mapping: &Mapping,
    ctx: &Context<'_, K, H>,
) -> ResendResult {
    let label = format!("{object}/{id}");
    let result = |outcome: &str, error: Option<String>| ResendResult {
        record: label.clone(),
        outcome: outcome.to_string(),
        error,
    };
    let mut record = match store::load_record(ctx.kv, &object, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return result(
                "unknown",
                Some(format!(
                    "no record {label}: sfsync has received nothing for it"
                )),
            )
        }
        Err(e) => return result("error", Some(e.to_string())),
    };
    if record.source_fields.is_empty() {
        return result(
            "skipped",
            Some("nothing received from Salesforce for this record yet; update it in Salesforce or backfill it".into()),
        );
    }
    let so = SObject {
        object_type: object.clone(),
        id: id.clone(),
        fields: record.source_fields.clone(),
    };
    record.last_trigger = Trigger::Resend;
    sync_record(Trigger::Resend, &mut record, &so, mapping, false, true, ctx).await;
    if let Err(e) = store::save_record(ctx.kv, &record).await {
        return result("error", Some(format!("not stored: {e}")));
    }
    let error = (record.status == Status::Error)
        .then(|| record.last_error.as_ref().map(|e| e.message.clone()))
        .flatten()
        .or_else(|| record.skip_reason.clone());
    result(record.status.as_str(), error)
}
