//! The Outbound Message endpoint: `POST /sf/created` and `POST /sf/updated`,
//! all that the `record-created` and `field-updated` functions call
//! ([`handle_outbound_message`]). In order:
//!
//! 1. Refuse, with a SOAP Fault and without writing anything: sfsync not
//!    configured, a missing or wrong `?token=`, a body that is not an Outbound
//!    Message ([`crate::soap`]), a foreign `OrganizationId` ([`Refusal`]).
//! 2. Turn each notification into a [`SyncInput`] and run them through the
//!    [`pipeline`]: records concurrently, each record's notifications in
//!    delivery order. A notification that cannot be used on its own (the
//!    record was deleted before delivery, or it is malformed) never refuses
//!    the message: it is recorded on its record when the record is known,
//!    else listed in the run.
//! 3. Answer `Ack true` only when every outcome is stored and none waits on
//!    a transient or configuration failure; otherwise a Fault that lists what
//!    failed, so Salesforce redelivers the message. Redelivered notifications
//!    that already synced are recognised by their id and cost nothing.

use crate::context::Context;
use crate::io::{Http, Kv, KvError};
use crate::pipeline::{self, Arrival, Outcome, SyncInput, SyncOptions, SyncOutcome, SyncState};
use crate::record::{Process, Status};
use crate::reference::RecordRef;
use crate::run::Run;
use crate::soap::{self, FaultCode, SoapError, UnusableNotification};
use crate::web::{Request, Response};

/// Why a message is refused as a whole. Each becomes its Fault in
/// [`Refusal::into_response`], the one place this surface writes errors.
#[derive(Debug)]
pub enum Refusal {
    NotPost,
    NoEndpointToken,
    NoOrganizationId,
    NoToken,
    WrongToken,
    NotAMessage(SoapError),
    /// The body is over the cap (413), read no further.
    TooLarge {
        limit: usize,
    },
    /// The body did not arrive in time (408).
    TooSlow {
        secs: u64,
    },
    ForeignOrganization(String),
    StateUnreadable(KvError),
    /// A variable holds a value sfsync cannot work with.
    Misconfigured(String),
    /// Some notifications must be delivered again: (failures, out of how many).
    NotSynced(Vec<String>, usize),
}

/// How many failures a Fault lists before "and N more".
const SHOWN: usize = 5;

impl Refusal {
    pub fn into_response(self) -> Response {
        let client = |msg: &str| fault(500, FaultCode::Client, msg);
        let server = |msg: &str| fault(500, FaultCode::Server, msg);
        match self {
            Refusal::NotPost => fault(
                405,
                FaultCode::Client,
                "this endpoint takes Salesforce Outbound Messages sent with POST",
            )
            .with_header("allow", "POST"),
            Refusal::NoEndpointToken => server(
                "sfsync refuses every message until the variable sf_endpoint_token is set; set it, then put the same value in the Outbound Message endpoint URL as ?token=",
            ),
            Refusal::NoOrganizationId => server(
                "sfsync refuses every message until the variable sf_organization_id is set to this org's id (Setup > Company Information)",
            ),
            Refusal::NoToken => client(
                "the endpoint URL has no ?token=; edit the Outbound Message endpoint URL to end with ?token=<sf_endpoint_token>",
            ),
            Refusal::WrongToken => client(
                "the ?token= in the endpoint URL does not match sfsync's sf_endpoint_token; correct the Outbound Message endpoint URL",
            ),
            Refusal::NotAMessage(e) => client(&e.to_string()),
            Refusal::TooLarge { limit } => fault(
                413,
                FaultCode::Client,
                &format!(
                    "message body is over sfsync's limit of {limit} bytes and was not read; send fewer or smaller notifications"
                ),
            ),
            Refusal::TooSlow { secs } => fault(
                408,
                FaultCode::Client,
                &format!("the message body did not arrive within {secs} s; Salesforce will retry"),
            ),
            Refusal::ForeignOrganization(org) => client(&format!(
                "OrganizationId {org} is not the org this sfsync deployment serves (sf_organization_id); send from the right org or deploy sfsync for this one"
            )),
            Refusal::StateUnreadable(e) => server(&format!(
                "could not read sfsync's state, nothing was done; Salesforce will retry ({e})"
            )),
            Refusal::Misconfigured(m) => server(&format!(
                "sfsync is misconfigured: {m}; Salesforce will retry"
            )),
            Refusal::NotSynced(failures, total) => {
                let mut text = format!(
                    "{} of {total} notifications were not synced and will be retried by Salesforce: {}",
                    failures.len(),
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
                server(&text)
            }
        }
    }
}

/// A SOAP Fault answer, its text kept as the log line's reason.
fn fault(status: u16, code: FaultCode, msg: &str) -> Response {
    Response::soap(status, soap::fault(code, msg)).with_reason(msg)
}

/// What a message must show before its body is read: `POST`, sfsync
/// configured, the right `?token=` (compared as sent). The functions check
/// it from the head alone ([`crate::admission`]); [`handle_outbound_message`]
/// checks it again for callers that did not.
pub fn check_head(req: &Request, settings: &crate::settings::Settings) -> Result<(), Refusal> {
    if req.method != "POST" {
        return Err(Refusal::NotPost);
    }
    let expected = settings
        .sf_endpoint_token
        .as_ref()
        .ok_or(Refusal::NoEndpointToken)?;
    if settings.sf_organization_id.is_none() {
        return Err(Refusal::NoOrganizationId);
    }
    match req.token_param("token") {
        None => Err(Refusal::NoToken),
        Some(token) if !expected.matches(&token) => Err(Refusal::WrongToken),
        Some(_) => Ok(()),
    }
}

/// Handle `POST /sf/created` (`Process::Created`) or `/sf/updated`.
pub async fn handle_outbound_message<K: Kv, H: Http>(
    process: Process,
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Response {
    match receive(process, req, ctx).await {
        Ok(()) => Response::soap(200, soap::ack(true)),
        Err(refusal) => refusal.into_response(),
    }
}

async fn receive<K: Kv, H: Http>(
    process: Process,
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<(), Refusal> {
    let settings = ctx.settings;
    check_head(req, settings)?;
    let message = soap::parse(&req.body).map_err(|e| match e {
        SoapError::TooLarge { limit, .. } => Refusal::TooLarge { limit },
        e => Refusal::NotAMessage(e),
    })?;
    if !settings.accepts_organization(&message.organization_id) {
        return Err(Refusal::ForeignOrganization(message.organization_id));
    }
    let mut state = SyncState::load(ctx.kv)
        .await
        .map_err(Refusal::StateUnreadable)?;

    let salt = message
        .notifications
        .first()
        .map(|n| n.id.clone())
        .or_else(|| message.unusable.first().map(UnusableNotification::label))
        .unwrap_or_default();
    let options = SyncOptions {
        force: process == Process::Created,
        stage: false,
    };
    let mut inputs: Vec<SyncInput> = message
        .notifications
        .into_iter()
        .map(|n| SyncInput {
            process,
            arrival: Arrival::Notification {
                id: n.id,
                sobject: n.sobject,
            },
            options,
        })
        .collect();
    // Unusable notifications never refuse the message: those whose record is
    // known are recorded on it; the others are listed in the run.
    let mut unplaced = Vec::new();
    for u in message.unusable {
        match u.record {
            Some((object, id)) => inputs.push(SyncInput {
                process,
                arrival: Arrival::Unusable {
                    id: u.id,
                    record: RecordRef::new(object, id),
                    problem: u.problem,
                },
                options,
            }),
            None => unplaced.push(u),
        }
    }
    if message.instance_url.is_some() && message.instance_url != state.sf_instance {
        // Only for links to records: a failure costs nothing else.
        if let Some(url) = &message.instance_url {
            let _ = crate::store::set_sf_instance(ctx.kv, url).await;
        }
    }
    let mut run = Run::new(process, ctx.now, &salt);
    state.name_run(&run);
    let outcomes = pipeline::sync_all(inputs, &state, ctx).await;
    state.number_run(&mut run);
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter_map(SyncOutcome::needs_redelivery)
        .collect();
    // Every outcome but the unplaced notifications' is on its record: for
    // those the run is the only place they are kept, so a run that cannot be
    // written means they are not stored, and the message is not acknowledged.
    if let Err(e) = record_run(run, &outcomes, &unplaced, ctx).await {
        failures.extend(
            unplaced
                .iter()
                .map(|u| format!("{}: not stored ({e})", u.label())),
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Refusal::NotSynced(
            failures,
            outcomes.len() + unplaced.len(),
        ))
    }
}

/// Write the run of one message. The outcomes of its records are already
/// stored, so for them a run that cannot be written costs history, not data;
/// the caller decides what the error means for the unplaced notifications.
/// A redelivery whose every notification was a repeat adds no run: nothing
/// happened.
async fn record_run<K: Kv, H: Http>(
    mut run: Run,
    outcomes: &[SyncOutcome],
    unplaced: &[UnusableNotification],
    ctx: &Context<'_, K, H>,
) -> Result<(), KvError> {
    if unplaced.is_empty() && outcomes.iter().all(|o| o.outcome == Outcome::Repeat) {
        return Ok(());
    }
    for o in outcomes {
        o.count_in(&mut run);
    }
    for u in unplaced {
        let counted = if u.problem.is_deletion() {
            Status::Skipped
        } else {
            Status::Error
        };
        run.note(&u.label(), counted, &u.problem.to_string());
    }
    run.finished_at = ctx.current_time();
    crate::history::keep(ctx, &mut run).await
}

#[cfg(test)]
mod tests;
