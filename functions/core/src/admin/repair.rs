//! `POST /admin/repair/ids?dry_run=&limit=&cursor=`: undo what 15-character
//! Salesforce ids did before every entry point normalised them.
//!
//! Two kinds of damage, both repaired record by record, in key order, a page
//! at a time (follow `next_cursor`; the CLI's `sfsync repair-ids` does):
//!
//! 1. **In sfsync's store**: a record kept under its 15-character id
//!    (`rec/Contact/003000000000001`) beside, or instead of, the
//!    18-character one. It is merged into the 18-character key: the state
//!    with the newer `LastModifiedDate` is kept, with the other's destination
//!    link when it has none, and the short key is removed.
//! 2. **In Zendesk**: a user or organization whose `external_id` is the
//!    15-character form ([`crate::destination::zendesk::repair`]). Its
//!    `external_id` is rewritten to the 18-character form. When a record with
//!    the 18-character form exists too, both are reported as a conflict for a
//!    person to merge in Zendesk, and nothing is changed.
//!
//! `dry_run=true` reports what would be done and changes nothing. Each
//! record is repaired under its lease; a busy one is reported and left for
//! the next run. The call is recorded as a run (process `repair`).

use serde::{Deserialize, Serialize};

use super::error::AdminError;
use super::filter;
use crate::context::Context;
use crate::destination::zendesk::api::Client;
use crate::destination::zendesk::repair::{repair, IdRepair};
use crate::index;
use crate::io::{Http, Kv};
use crate::lease;
use crate::mapping::ZendeskEntity;
use crate::record::{Process, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::run::Run;
use crate::settings::DestinationKind;
use crate::sobject::normalize_id;
use crate::store;
use crate::web::{Request, Response};

/// Records per call when `limit` is not given, and at most.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;

/// One record's repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repaired {
    pub record: RecordRef,
    /// What was (or on a dry run would be) done.
    pub action: String,
}

/// The answer of `POST /admin/repair/ids`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReply {
    pub run_id: String,
    pub dry_run: bool,
    /// Records looked at in this call.
    pub checked: usize,
    /// Store records merged from a 15-character key.
    pub merged: Vec<Repaired>,
    /// Destination records whose `external_id` was rewritten.
    pub rewritten: Vec<Repaired>,
    /// Left alone: needs a person (two destination records), or busy.
    pub conflicts: Vec<Repaired>,
    /// Could not be checked (the destination's or the store's error).
    pub errors: Vec<Repaired>,
    pub next_cursor: Option<String>,
}

struct Query {
    dry_run: bool,
    limit: usize,
    after: Option<String>,
}

fn parse(req: &Request) -> Result<Query, String> {
    let get = |k: &str| req.query_param(k).filter(|v| !v.is_empty());
    let dry_run = match get("dry_run").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("dry_run \"{other}\" must be true or false")),
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        raw => filter::parse_limit(raw, MAX_LIMIT)?,
    };
    let after = get("cursor")
        .map(|c| filter::decode_cursor(&c, store::RECORD_PREFIX))
        .transpose()?;
    Ok(Query {
        dry_run,
        limit,
        after,
    })
}

/// Handle `POST /admin/repair/ids`.
pub async fn handle<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let q = parse(req).map_err(AdminError::BadRequest)?;
    let mapping = store::active_mapping(ctx.kv).await?;
    let outbound = ctx.outbound();
    let client = match ctx.settings.destination {
        DestinationKind::Zendesk => Some(
            Client::new(ctx.settings, &outbound)
                .map_err(|f| AdminError::Misconfigured(f.message))?,
        ),
        DestinationKind::DryRun | DestinationKind::Webhook => None,
    };
    let keys = store::scan(ctx.kv, store::RECORD_PREFIX, q.after.as_deref(), q.limit).await?;
    let mut reply = RepairReply {
        run_id: String::new(),
        dry_run: q.dry_run,
        checked: 0,
        merged: Vec::new(),
        rewritten: Vec::new(),
        conflicts: Vec::new(),
        errors: Vec::new(),
        next_cursor: None,
    };
    let mut last = None;
    for key in &keys {
        if ctx.budget.remaining((ctx.elapsed)()).is_err() {
            break;
        }
        last = Some(key.clone());
        reply.checked += 1;
        let Some(record) = store::load_record_at(ctx.kv, key).await? else {
            continue;
        };
        let Some(id18) = normalize_id(&record.salesforce_id) else {
            continue;
        };
        let long = RecordRef::new(&record.object, &id18);
        let short_key = (record.salesforce_id != id18).then(|| key.clone());
        let mut guarded = vec![store::record_key(&long)];
        guarded.extend(short_key.clone());
        let held = match lease::hold(ctx, &guarded).await? {
            Ok(held) => held,
            Err(until) => {
                reply.conflicts.push(Repaired {
                    record: long,
                    action: crate::pipeline::busy_message(&until),
                });
                continue;
            }
        };
        let outcome = repair_one(
            ctx,
            &client,
            &mapping,
            record,
            long.clone(),
            short_key,
            q.dry_run,
        )
        .await;
        lease::release_all(ctx.kv, held).await;
        match outcome {
            Ok((merged, destination)) => {
                if let Some(action) = merged {
                    reply.merged.push(Repaired {
                        record: long.clone(),
                        action,
                    });
                }
                match destination {
                    Some(Found::Rewritten(action)) => reply.rewritten.push(Repaired {
                        record: long,
                        action,
                    }),
                    Some(Found::Conflict(action)) => reply.conflicts.push(Repaired {
                        record: long,
                        action,
                    }),
                    None => {}
                }
            }
            Err(action) => reply.errors.push(Repaired {
                record: long,
                action,
            }),
        }
    }
    if last.is_some() && (keys.len() == q.limit || last.as_ref() != keys.last()) {
        reply.next_cursor = last.as_deref().map(filter::encode_cursor);
    }
    let mut run = Run::new(
        Process::Repair,
        ctx.now,
        keys.first().map_or("", String::as_str),
    );
    for r in reply.merged.iter().chain(&reply.rewritten) {
        run.add(&r.record.to_string(), Status::Synced, None);
    }
    for r in reply.conflicts.iter().chain(&reply.errors) {
        run.add(&r.record.to_string(), Status::Error, Some(&r.action));
    }
    run.finished_at = ctx.current_time();
    if !q.dry_run {
        crate::history::keep(ctx, &mut run).await?;
    }
    reply.run_id = run.id;
    Ok(Response::json(200, &reply))
}

enum Found {
    Rewritten(String),
    Conflict(String),
}

/// Repair one record: merge a short key, then the destination record. What
/// was done to each, if anything.
async fn repair_one<K: Kv, H: Http, C: Http>(
    ctx: &Context<'_, K, H>,
    client: &Option<Client<'_, C>>,
    mapping: &crate::mapping::Mapping,
    record: SyncRecord,
    long: RecordRef,
    short_key: Option<String>,
    dry_run: bool,
) -> Result<(Option<String>, Option<Found>), String> {
    let mut merged = None;
    if let Some(short_key) = &short_key {
        let existing = store::load_record(ctx.kv, &long)
            .await
            .map_err(|e| e.to_string())?;
        let action = match &existing {
            Some(_) => format!("merged {short_key} into {}", store::record_key(&long)),
            None => format!("moved {short_key} to {}", store::record_key(&long)),
        };
        if !dry_run {
            // The kept record takes the 18-character record's index slots;
            // the 15-character one leaves the counts.
            let before = existing.as_ref().map(index::Before::of);
            let slots = existing.as_ref().and_then(|r| r.index.clone());
            let forgotten = index::forget(&record);
            let mut kept = merge(record, existing, &long.id);
            kept.index = slots;
            let generation = store::generation(ctx.kv).await.map_err(|e| e.to_string())?;
            index::save(ctx.kv, generation, before.as_ref(), &mut kept)
                .await
                .map_err(|e| e.to_string())?;
            ctx.kv.delete(short_key).await.map_err(|e| e.to_string())?;
            let _ = index::settle(ctx.kv, &forgotten).await;
        }
        merged = Some(action);
    }
    let entity = mapping
        .object(&long.object)
        .and_then(|o| ZendeskEntity::parse(&o.entity));
    let destination = match (client, entity) {
        (Some(client), Some(entity)) => {
            match repair(client, entity, &long.id, dry_run).await {
                Ok(IdRepair::Clean) => None,
                Ok(IdRepair::Rewritten { destination_id }) => Some(Found::Rewritten(format!(
                    "Zendesk {} {destination_id}: external_id {} -> {}",
                    entity.as_str(),
                    &long.id[..15],
                    long.id
                ))),
                Ok(IdRepair::Conflict { short, long: other }) => Some(Found::Conflict(format!(
                    "two Zendesk {}s: {short} (external_id {}) and {other} (external_id {}); merge them in Zendesk, then run the repair again",
                    entity.as_str(),
                    &long.id[..15],
                    long.id
                ))),
                Err(f) => return Err(f.message),
            }
        }
        _ => None,
    };
    Ok((merged, destination))
}

/// The record to keep under the 18-character key: the newer state, with a
/// destination link from either.
fn merge(short: SyncRecord, long: Option<SyncRecord>, id18: &str) -> SyncRecord {
    let mut short = short;
    short.salesforce_id = id18.to_string();
    let Some(long) = long else {
        return short;
    };
    let newer = |a: &SyncRecord, b: &SyncRecord| {
        let stamp = |r: &SyncRecord| {
            r.source_modified_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        };
        stamp(a) > stamp(b)
    };
    let (mut kept, other) = if newer(&short, &long) {
        (short, long)
    } else {
        (long, short)
    };
    if kept.destination.is_none() {
        kept.destination = other.destination;
    }
    for id in other.notification_ids {
        kept.remember_notification(&id);
    }
    kept
}
