//! One Outbound Message, from request to answer: the triggers' entry point.
//!
//! [`handle_outbound_message`] is all that `record-created` and
//! `field-updated` call. In order:
//!
//! 1. Refuse, with a SOAP Fault and without writing anything: sfsync not
//!    configured, a missing or wrong `?token=`, a body that is not an Outbound
//!    Message ([`crate::soap`]), a foreign `OrganizationId`.
//! 2. For each notification ([`process_notification`]): load the record's
//!    state, drop repeats and stale deliveries, check the active mapping and
//!    the object's triggers, skip updates that change no mapped field, map,
//!    push to the destination, and write the new state in one KV write.
//!    Notifications of different records run concurrently (bounded by
//!    [`CONCURRENCY`]); those of one record run in delivery order.
//! 3. Answer `Ack true` only when every outcome is stored and none waits on
//!    a transient or configuration failure; otherwise a Fault that lists what
//!    failed, so Salesforce redelivers the message. Redelivered notifications
//!    that already synced are recognised by their id and cost nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::destination::{self, Outcome};
use crate::io::{Http, Kv, KvError};
use crate::mapping::load::check_object_for_destination;
use crate::mapping::Mapping;
use crate::record::{ErrorKind, Ignored, Status, SyncRecord, Trigger};
use crate::run::{self, Run};
use crate::settings::Settings;
use crate::soap::{self, FaultCode, Notification};
use crate::sobject::SObject;
use crate::store;
use crate::web::{Request, Response};

/// How many records of one message are pushed at the same time.
pub const CONCURRENCY: usize = 8;

/// What a function hands the core: configuration, the two I/O doors, and the
/// time of the request.
pub struct Context<'a, K, H> {
    pub settings: &'a Settings,
    pub kv: &'a K,
    pub http: &'a H,
    /// The time of the request (what records are stamped with).
    pub now: DateTime<Utc>,
    /// Time spent on this request so far (a monotonic clock).
    pub elapsed: &'a dyn Fn() -> Duration,
}

/// How long one message may spend calling the destination. Notifications not
/// started by then are left to Salesforce's redelivery, so an answer always
/// comes well within Salesforce's own wait.
pub const MESSAGE_BUDGET: Duration = Duration::from_secs(20);

/// The outcome of one notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationOutcome {
    /// `Object/SalesforceId`
    pub record: String,
    pub result: Handled,
}

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Stored with this status (and error kind when it failed).
    Stored {
        status: Status,
        error: Option<(ErrorKind, String)>,
    },
    /// Already applied (same notification id): no destination call.
    Duplicate,
    /// Older than the state already applied: no destination call.
    Stale,
    /// Could not be stored: the message must not be acknowledged.
    NotStored(KvError),
}

impl NotificationOutcome {
    /// Count this outcome in a run.
    pub fn count_in(&self, run: &mut Run) {
        match &self.result {
            Handled::Stored { status, error } => run.add(
                &self.record,
                *status,
                error.as_ref().map(|(_, m)| m.as_str()),
            ),
            Handled::Duplicate | Handled::Stale => run.counts.ignored += 1,
            Handled::NotStored(e) => run.fail(&self.record, &e.to_string()),
        }
    }

    /// Whether Salesforce must redeliver the message because of this one.
    fn needs_redelivery(&self) -> Option<String> {
        match &self.result {
            Handled::NotStored(e) => Some(format!("{}: not stored ({e})", self.record)),
            Handled::Stored {
                error: Some((ErrorKind::Transient | ErrorKind::Config, msg)),
                ..
            } => Some(format!("{}: {msg}", self.record)),
            _ => None,
        }
    }
}

/// Handle `POST /sf/created` or `/sf/updated`.
pub async fn handle_outbound_message<K: Kv, H: Http>(
    trigger: Trigger,
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Response {
    let client_fault = |msg: &str| Response::soap(500, soap::fault(FaultCode::Client, msg));
    let server_fault = |msg: &str| Response::soap(500, soap::fault(FaultCode::Server, msg));

    if req.method != "POST" {
        return Response::soap(
            405,
            soap::fault(
                FaultCode::Client,
                "this endpoint takes Salesforce Outbound Messages sent with POST",
            ),
        )
        .with_header("allow", "POST");
    }
    let settings = ctx.settings;
    let Some(expected_token) = &settings.sf_endpoint_token else {
        return server_fault(
            "sfsync refuses every message until the variable sf_endpoint_token is set; set it, then put the same value in the Outbound Message endpoint URL as ?token=",
        );
    };
    if settings.sf_organization_id.is_none() {
        return server_fault(
            "sfsync refuses every message until the variable sf_organization_id is set to this org's id (Setup > Company Information)",
        );
    }
    match req.query_param("token") {
        None => {
            return client_fault(
                "the endpoint URL has no ?token=; edit the Outbound Message endpoint URL to end with ?token=<sf_endpoint_token>",
            )
        }
        Some(token) if !expected_token.matches(&token) => {
            return client_fault(
                "the ?token= in the endpoint URL does not match sfsync's sf_endpoint_token; correct the Outbound Message endpoint URL",
            )
        }
        Some(_) => {}
    }
    let message = match soap::parse(&req.body) {
        Ok(m) => m,
        Err(e) => return client_fault(&e.to_string()),
    };
    if !settings.accepts_organization(&message.organization_id) {
        return client_fault(&format!(
            "OrganizationId {} is not the org this sfsync deployment serves (sf_organization_id); send from the right org or deploy sfsync for this one",
            message.organization_id
        ));
    }
    let (mapping, paused) = match store::sync_state(ctx.kv).await {
        Ok(state) => state,
        Err(e) => {
            return server_fault(&format!(
                "could not read sfsync's state, nothing was done; Salesforce will retry ({e})"
            ))
        }
    };

    let first = message
        .notifications
        .first()
        .map(|n| n.id.clone())
        .unwrap_or_default();
    let outcomes = process_all(trigger, message.notifications, &mapping, paused, ctx).await;
    record_run(trigger, &first, &outcomes, ctx).await;
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(NotificationOutcome::needs_redelivery)
        .collect();
    if failures.is_empty() {
        Response::soap(200, soap::ack(true))
    } else {
        const SHOWN: usize = 5;
        let mut text = format!(
            "{} of {} notifications were not synced and will be retried by Salesforce: {}",
            failures.len(),
            outcomes.len(),
            failures
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        if failures.len() > SHOWN {
            text.push_str(&format!(
                "; and {} more (see GET /admin/records?status=error)",
                failures.len() - SHOWN
            ));
        }
        server_fault(&text)
    }
}

/// Write the run of one message. Its outcomes are already stored; a run
/// that cannot be written costs history, not data, so it does not change
/// the answer to Salesforce.
async fn record_run<K: Kv, H: Http>(
    trigger: Trigger,
    salt: &str,
    outcomes: &[NotificationOutcome],
    ctx: &Context<'_, K, H>,
) {
    let mut run = Run::new(trigger, ctx.now, salt);
    for o in outcomes {
        o.count_in(&mut run);
    }
    run.finished_at = ctx.now + chrono::Duration::from_std((ctx.elapsed)()).unwrap_or_default();
    let _ = run::save(ctx.kv, &run).await;
}

/// Process every notification: records concurrently, each record's
/// notifications in order.
pub async fn process_all<K: Kv, H: Http>(
    trigger: Trigger,
    notifications: Vec<Notification>,
    mapping: &Mapping,
    paused: bool,
    ctx: &Context<'_, K, H>,
) -> Vec<NotificationOutcome> {
    // Notifications that touch the same destination record run one after
    // the other: same Salesforce record, or (Zendesk users) same email.
    let mut groups: BTreeMap<String, Vec<Notification>> = BTreeMap::new();
    for n in notifications {
        let key = match n.sobject.text("Email").map(|e| e.trim().to_lowercase()) {
            Some(email) if !email.is_empty() => format!("email/{email}"),
            _ => format!("rec/{}/{}", n.sobject.object_type, n.sobject.id),
        };
        groups.entry(key).or_default().push(n);
    }
    stream::iter(groups.into_values())
        .map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            for n in group {
                out.push(process_notification(trigger, n, mapping, paused, ctx).await);
            }
            out
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(stream::iter)
        .collect()
        .await
}

/// Process one notification and store its outcome.
pub async fn process_notification<K: Kv, H: Http>(
    trigger: Trigger,
    n: Notification,
    mapping: &Mapping,
    paused: bool,
    ctx: &Context<'_, K, H>,
) -> NotificationOutcome {
    let so = n.sobject;
    let label = format!("{}/{}", so.object_type, so.id);
    let existing = match store::load_record(ctx.kv, &so.object_type, &so.id).await {
        Ok(r) => r,
        Err(e) => {
            return NotificationOutcome {
                record: label,
                result: Handled::NotStored(e),
            }
        }
    };
    let now = ctx.now;
    let ignore = |mut record: SyncRecord, reason: &str| {
        record.last_ignored = Some(Ignored {
            reason: reason.to_string(),
            notification_id: n.id.clone(),
            trigger,
            source_modified_at: so.modified_at().map(str::to_string),
            at: now,
        });
        record
    };
    // A backfill row has no delivery id: it is deduplicated by fingerprint
    // only, so that a re-run retries the rows that failed.
    let deliveries = trigger != Trigger::Backfill;
    if let Some(record) = existing
        .as_ref()
        .filter(|r| deliveries && r.notification_ids.contains(&n.id))
    {
        let record = ignore(record.clone(), "duplicate");
        return finish(label, &n.id, record, ctx, Handled::Duplicate).await;
    }
    let mut record = existing.unwrap_or_else(|| SyncRecord::new(&so.object_type, &so.id, trigger));
    let stale = match (record.source_modified_at.as_deref(), so.modified_at()) {
        (Some(stored), Some(incoming)) => is_older(incoming, stored),
        _ => false,
    };
    if stale {
        let mut record = ignore(record, "stale");
        if deliveries {
            record.remember_notification(&n.id);
        }
        return finish(label, &n.id, record, ctx, Handled::Stale).await;
    }
    record.last_trigger = trigger;
    if deliveries {
        record.remember_notification(&n.id);
    }
    sync_record(trigger, &mut record, &so, mapping, paused, false, ctx).await;
    finish(label, &n.id, record, ctx, STORED).await
}

/// Bring one record up to date with `so`, the record as Salesforce sent it:
/// check the mapping and the object's triggers, honour pause, skip an update
/// that changes no mapped field (unless `force`, as resend does), map, push,
/// and note the outcome on `record`. The caller stores it.
pub async fn sync_record<K: Kv, H: Http>(
    trigger: Trigger,
    record: &mut SyncRecord,
    so: &SObject,
    mapping: &Mapping,
    paused: bool,
    force: bool,
    ctx: &Context<'_, K, H>,
) {
    let now = ctx.now;
    record.source_fields = so.fields.clone();
    record.source_modified_at = so.modified_at().map(str::to_string);

    let Some(object_mapping) = mapping.object(&so.object_type) else {
        record.mark_skipped(
            now,
            &format!("object {} is not in the active mapping", so.object_type),
        );
        return;
    };
    record.links = object_mapping
        .links
        .values()
        .filter_map(|field| {
            so.text(field)
                .filter(|v| !v.is_empty())
                .map(|v| (field.clone(), v.to_string()))
        })
        .collect();
    if matches!(trigger, Trigger::Created | Trigger::Updated)
        && !object_mapping.triggers.contains(&trigger)
    {
        record.mark_skipped(
            now,
            &format!(
                "the {} trigger is off for {} in the active mapping",
                trigger.as_str(),
                so.object_type
            ),
        );
        return;
    }
    let destination_problems =
        check_object_for_destination(object_mapping, ctx.settings.destination);
    if !destination_problems.is_empty() {
        let text: Vec<String> = destination_problems
            .iter()
            .map(ToString::to_string)
            .collect();
        record.mark_error(
            now,
            ErrorKind::Config,
            None,
            format!(
                "the active mapping does not fit destination {}: {}",
                ctx.settings.destination.as_str(),
                text.join("; ")
            ),
        );
        return;
    }
    if paused {
        record.status = Status::Pending;
        record.skip_reason = None;
        record.last_attempt_at = Some(now);
        return;
    }
    let fingerprint = object_mapping.fingerprint(so);
    // An update of a record never synced is synced like a create.
    // An update, or a backfilled row, whose mapped fields are what was last
    // synced has nothing to send.
    if !force
        && matches!(trigger, Trigger::Updated | Trigger::Backfill)
        && record.status != Status::Error
        && record.ever_synced
        && record.fingerprint.as_deref() == Some(fingerprint.as_str())
    {
        record.mark_skipped(
            now,
            if trigger == Trigger::Backfill {
                "already synced with these mapped fields"
            } else {
                "no mapped field changed"
            },
        );
        return;
    }
    match object_mapping.apply(so) {
        Err(e) => record.mark_error(now, ErrorKind::Permanent, None, e.to_string()),
        Ok(_) if (ctx.elapsed)() > MESSAGE_BUDGET => record.mark_error(
            now,
            ErrorKind::Transient,
            None,
            format!(
                "not attempted: this request had already spent {} s on destination calls; Salesforce redelivers the message (for resend or backfill, run it again)",
                MESSAGE_BUDGET.as_secs()
            ),
        ),
        Ok(mapped) => {
            record.destination_calls += 1;
            match destination::push(ctx, mapping, &so.object_type, &mapped, record).await {
                Outcome::Synced {
                    destination,
                    payload,
                    syncing_record,
                    fields_synced,
                    warning,
                } => {
                    record.mark_synced(now, destination);
                    record.fingerprint = Some(fingerprint);
                    record.last_payload = payload;
                    record.syncing_record = syncing_record;
                    record.fields_synced = fields_synced;
                    // A backfill reports what the first sync lacks (Accounts
                    // before Contacts); the record stays resendable.
                    if let (Trigger::Backfill, Some(w)) = (trigger, warning) {
                        record.attempts -= 1;
                        record.mark_error(now, ErrorKind::Permanent, None, w);
                    }
                }
                Outcome::Failed {
                    kind,
                    http_status,
                    message,
                } => record.mark_error(now, kind, http_status, message),
            }
        }
    }
}

/// Placeholder for "stored with the record's own status", filled in by [`finish`].
const STORED: Handled = Handled::Stored {
    status: Status::Pending,
    error: None,
};

/// Store the record. A notification that must be redelivered (transient or
/// configuration failure) is not remembered as applied, so its redelivery is
/// processed again rather than dropped as a repeat.
async fn finish<K: Kv, H: Http>(
    label: String,
    notification_id: &str,
    mut record: SyncRecord,
    ctx: &Context<'_, K, H>,
    handled: Handled,
) -> NotificationOutcome {
    let retry = record.status == Status::Error
        && record
            .last_error
            .as_ref()
            .is_some_and(|e| matches!(e.kind, ErrorKind::Transient | ErrorKind::Config));
    if retry {
        record.notification_ids.retain(|id| id != notification_id);
    }
    let result = match store::save_record(ctx.kv, &record).await {
        Err(e) => Handled::NotStored(e),
        Ok(()) => match handled {
            Handled::Stored { .. } => Handled::Stored {
                status: record.status,
                error: record
                    .last_error
                    .as_ref()
                    .filter(|_| record.status == Status::Error)
                    .map(|e| (e.kind, e.message.clone())),
            },
            other => other,
        },
    };
    NotificationOutcome {
        record: label,
        result,
    }
}

/// Whether Salesforce stamp `a` is strictly older than `b`. Unparseable
/// stamps are never called older.
fn is_older(a: &str, b: &str) -> bool {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
