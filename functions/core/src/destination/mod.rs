//! Destinations: where a mapped record goes, and how its answer is classified.
//!
//! Each destination turns a [`Mapped`] record into requests through [`Http`]
//! and reports what it did: [`Pushed`] (with the destination ids) or a
//! [`Failure`] whose kind decides whether Salesforce must redeliver (see
//! [`classify`]).
//!
//! - [`dry_run`]: the default. Nothing leaves the host; the record ends
//!   `synced` with the payload that would have been sent.
//! - [`zendesk`]: organizations, users, multiple-organization memberships.
//! - [`webhook`]: any JSON API that upserts `PUT {url}/{table}/{key}`.

pub mod classify;
pub mod dry_run;
pub mod webhook;
pub mod zendesk;

use serde_json::Value;

use crate::budget::retry_after;

use crate::context::Context;
use crate::failure::Failure;
use crate::io::{Http, HttpError, HttpRequest, HttpResponse, Kv};
use crate::mapping::{Mapped, Mapping};
use crate::record::{DestinationRef, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::DestinationKind;

pub use crate::budget::MAX_INLINE_RETRY_AFTER;

/// A record the destination took: its ids there, and what sfsync should
/// remember about the push. A push that did not work is a [`Failure`].
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub destination: DestinationRef,
    /// The body that would have been sent (dry-run only).
    pub payload: Option<Value>,
    /// Zendesk multi-org: whether this record is its email's syncing record.
    pub syncing_record: Option<bool>,
    /// Zendesk multi-org: false when only a membership was added (rule 4).
    pub fields_synced: Option<bool>,
    /// Taken without a link it needs: the linked record whose destination
    /// record does not exist yet (a Contact's Account without an
    /// organization). The record waits for it ([`crate::waiting`]).
    pub missing_link: Option<RecordRef>,
}

impl Pushed {
    /// A plain push to `destination`, nothing more to say.
    pub fn to(destination: DestinationRef) -> Pushed {
        Pushed {
            destination,
            payload: None,
            syncing_record: None,
            fields_synced: None,
            missing_link: None,
        }
    }
}

/// Push one mapped record of `object` to the configured destination.
pub async fn push<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    mapping: &Mapping,
    object: &str,
    mapped: &Mapped,
    record: &SyncRecord,
) -> Result<Pushed, Failure> {
    match ctx.settings.destination {
        DestinationKind::DryRun => dry_run::push(object, mapped),
        DestinationKind::Webhook => {
            webhook::push(ctx.settings, &ctx.outbound(), object, mapped).await
        }
        DestinationKind::Zendesk => zendesk::push(ctx, mapping, object, mapped, record).await,
    }
}

/// What a destination answered to an authenticated call that changes
/// nothing (`GET /admin/health`, `sfsync doctor`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub kind: DestinationKind,
    /// `None` for dry-run, which has nothing to reach.
    pub reachable: Option<bool>,
    /// Why it is not reachable, in the words a failed push would record.
    pub error: Option<String>,
}

/// Call the configured destination once without changing anything there:
/// Zendesk `GET /api/v2/users/me` (it checks the credentials), the webhook
/// `HEAD {webhook_url}/` (any answer but 401, 403 or a 5xx is reachable).
pub async fn probe<K: Kv, H: Http>(ctx: &Context<'_, K, H>) -> Probe {
    let kind = ctx.settings.destination;
    let answer = match kind {
        DestinationKind::DryRun => None,
        DestinationKind::Zendesk => Some(zendesk::probe(ctx.settings, &ctx.outbound()).await),
        DestinationKind::Webhook => Some(webhook::probe(ctx.settings, &ctx.outbound()).await),
    };
    Probe {
        kind,
        reachable: answer.as_ref().map(Result::is_ok),
        error: answer.and_then(Result::err).map(|f| f.message),
    }
}

/// Send a request; when the answer is 429 or 503 with a `Retry-After` of at
/// most [`MAX_INLINE_RETRY_AFTER`], wait that long and send it once more.
/// Longer waits are left to Salesforce's redelivery.
pub async fn send_once_more_after_short_wait<H: Http>(
    http: &H,
    req: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let first = http.send(req.clone()).await?;
    if matches!(first.status, 429 | 503) {
        if let Some(wait) = retry_after(&first).filter(|w| *w <= MAX_INLINE_RETRY_AFTER) {
            http.sleep(wait).await;
            return http.send(req).await;
        }
    }
    Ok(first)
}
