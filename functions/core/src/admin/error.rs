//! [`AdminError`]: every way an admin call can fail, and the one place
//! ([`AdminError::into_response`]) where each becomes its HTTP status and
//! its JSON body ([`super::wire::ErrorReply`]: what is wrong and how to fix
//! it). Routes return `Result<Response, AdminError>`; a store that cannot be
//! read converts with `?`.

use crate::io::KvError;
use crate::web::Response;

use super::wire::{ErrorReply, ProblemView};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// 401: no or wrong bearer token (or none configured).
    Unauthorized(String),
    /// 400: the request itself is wrong; the text says how to fix it.
    BadRequest(String),
    /// 404: no such record, run or route.
    NotFound(String),
    /// 405: the route exists with other methods.
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: &'static str,
    },
    /// 409: not now (e.g. resend while paused).
    Conflict(String),
    /// 422: a mapping with problems, each listed.
    Unprocessable(String, Vec<ProblemView>),
    /// 413: the body is over the route's cap; it was not read.
    PayloadTooLarge(String),
    /// 408: the body did not arrive in time.
    RequestTimeout(String),
    /// 503: the store could not be read or written; nothing was changed.
    StateUnreadable(KvError),
    /// 500: a variable holds a value sfsync cannot work with.
    Misconfigured(String),
    /// 502: a system sfsync calls (Salesforce, for a pull) answered with an
    /// error; the text is its words and what to do.
    Upstream(String),
    /// 503 with `Retry-After`: not now, nothing was changed; the text says
    /// why (every Salesforce slot taken, Salesforce unavailable).
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
}

impl From<KvError> for AdminError {
    fn from(e: KvError) -> AdminError {
        AdminError::StateUnreadable(e)
    }
}

impl AdminError {
    pub fn into_response(self) -> Response {
        let reply = |status: u16, error: String, problems: Vec<ProblemView>| {
            Response::json(
                status,
                &ErrorReply {
                    error: error.clone(),
                    problems,
                },
            )
            .with_reason(&error)
        };
        match self {
            AdminError::Unauthorized(m) => {
                reply(401, m, Vec::new()).with_header("www-authenticate", "Bearer")
            }
            AdminError::BadRequest(m) => reply(400, m, Vec::new()),
            AdminError::NotFound(m) => reply(404, m, Vec::new()),
            AdminError::MethodNotAllowed {
                method,
                path,
                allowed,
            } => reply(
                405,
                format!("{method} is not allowed on {path}; use {allowed}"),
                Vec::new(),
            )
            .with_header("allow", allowed),
            AdminError::Conflict(m) => reply(409, m, Vec::new()),
            AdminError::PayloadTooLarge(m) => reply(413, m, Vec::new()),
            AdminError::RequestTimeout(m) => reply(408, m, Vec::new()),
            AdminError::Unprocessable(m, problems) => reply(422, m, problems),
            AdminError::Misconfigured(m) => {
                reply(500, format!("sfsync is misconfigured: {m}"), Vec::new())
            }
            AdminError::Upstream(m) => reply(502, m, Vec::new()),
            AdminError::Unavailable {
                message,
                retry_after_secs,
            } => reply(503, message, Vec::new())
                .with_header("retry-after", &retry_after_secs.to_string()),
            AdminError::StateUnreadable(e) => reply(
                503,
                format!("could not read sfsync's state; nothing was changed, try again ({e})"),
                Vec::new(),
            ),
        }
    }
}
