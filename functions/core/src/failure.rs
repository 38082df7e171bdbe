//! [`Failure`]: the one shape of "it did not work", from the destination's
//! answer to the record view. A destination classifies its answer into a
//! `Failure` ([`crate::destination::classify`]), the pipeline records it on
//! the record (as its `last_error`, with the time), a run lists it, and the
//! Outbound Message answer decides from its [`ErrorKind`] whether Salesforce
//! must deliver again.

use serde::{Deserialize, Serialize};

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The data or the request is wrong; retrying the same thing fails again.
    /// Acknowledged; the admin fixes it and resends.
    Permanent,
    /// Worth retrying: rate limit, server error, timeout, connection.
    /// Salesforce redelivers.
    Transient,
    /// sfsync's configuration (credentials, URL, mapping) must be fixed.
    /// Salesforce redelivers, so nothing is lost while it is.
    Config,
    /// The notification or row itself could not be used (malformed, no
    /// record id). Acknowledged: sending it again would not help.
    Invalid,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Permanent => "permanent",
            ErrorKind::Transient => "transient",
            ErrorKind::Config => "config",
            ErrorKind::Invalid => "invalid",
        }
    }

    /// Whether the sender must deliver again (the outcome is not final).
    pub fn needs_redelivery(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Config)
    }
}

/// A failed attempt, in the destination's own words where it gave any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: ErrorKind,
    /// The destination's HTTP status, when it answered.
    pub http_status: Option<u16>,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            http_status: None,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Config, message)
    }

    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Permanent, message)
    }

    pub fn transient(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Transient, message)
    }
}
