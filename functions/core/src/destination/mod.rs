//! Destinations: where a mapped record goes, and how its answer is classified.
//!
//! Each destination turns a [`Mapped`] record into requests through [`Http`]
//! and reports an [`Outcome`]: synced (with the destination ids) or failed
//! (with an [`ErrorKind`] that decides whether Salesforce must redeliver).
//!
//! - [`dry_run`]: the default. Nothing leaves the host; the record ends
//!   `synced` with the payload that would have been sent.
//! - Zendesk and webhook: not built yet; choosing one is reported as a
//!   configuration error on every record so that nothing is silently dropped.

pub mod dry_run;

use serde_json::Value;

use crate::io::Http;
use crate::mapping::Mapped;
use crate::record::{DestinationRef, ErrorKind};
use crate::settings::{DestinationKind, Settings};

/// What pushing one record produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Synced {
        destination: DestinationRef,
        /// The body that was (or, dry-run, would have been) sent.
        payload: Option<Value>,
    },
    Failed {
        kind: ErrorKind,
        http_status: Option<u16>,
        message: String,
    },
}

/// Push one mapped record of `object` to the configured destination.
pub async fn push<H: Http>(
    settings: &Settings,
    _http: &H,
    object: &str,
    mapped: &Mapped,
) -> Outcome {
    match settings.destination {
        DestinationKind::DryRun => dry_run::push(object, mapped),
        other => Outcome::Failed {
            kind: ErrorKind::Config,
            http_status: None,
            message: format!(
                "destination \"{}\" is not available in this version of sfsync; set destination to dry-run",
                other.as_str()
            ),
        },
    }
}
