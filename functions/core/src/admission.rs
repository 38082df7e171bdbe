//! What a request must show before its body is read: the method, the route,
//! the token (or bearer) and a `Content-Length` within the route's cap.
//!
//! Spin sets no body limit of its own, and a buffered request would hold a
//! multi-GiB upload in memory before anything is checked. So the functions
//! read only the request's head first and ask [`admit_outbound`] or
//! [`admit_admin`]; a request they refuse is answered without its body ever
//! being read. An admitted one gets its body cap ([`BodyCap`]): the glue
//! streams the body and stops at the cap ([`too_large`]) or when the body
//! takes longer than [`BODY_READ_TIMEOUT`] to arrive ([`too_slow`]).
//!
//! | route | cap |
//! |---|---|
//! | `POST /sf/created`, `/sf/updated` | 8 MiB ([`crate::soap::MAX_BODY_BYTES`]) |
//! | `POST /admin/backfill`, `/admin/import` | 64 MiB ([`FILE_BODY_CAP`]) |
//! | every other admin route | 1 MiB ([`JSON_BODY_CAP`]) |

use std::time::Duration;

use crate::admin::{self, error::AdminError};
use crate::inbound::Refusal;
use crate::settings::Settings;
use crate::soap;
use crate::web::{Request, Response};

/// Backfill and import files.
pub const FILE_BODY_CAP: usize = 64 * 1024 * 1024;
/// Every other admin body (JSON, mapping TOML).
pub const JSON_BODY_CAP: usize = 1024 * 1024;
/// The longest a body may take to arrive: a slow upload never pins an
/// instance for long.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Which answer a refused body gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Salesforce: a SOAP Fault.
    Outbound,
    /// Admin tooling: JSON `{"error"}`.
    Admin,
}

/// How much body an admitted request may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyCap {
    pub door: Door,
    pub bytes: usize,
}

/// The `Content-Length` a request declares: `Err` when it is not a number.
fn declared_length(head: &Request) -> Result<Option<u64>, String> {
    match head.header("content-length") {
        None => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            format!("Content-Length \"{v}\" is not a number of bytes; send the body's length")
        }),
    }
}

/// `POST /sf/created` or `/sf/updated`: method, configuration, token, length.
pub fn admit_outbound(head: &Request, settings: &Settings) -> Result<BodyCap, Response> {
    let refuse = |r: Refusal| Err(r.into_response());
    if let Err(r) = crate::inbound::check_head(head, settings) {
        return refuse(r);
    }
    let cap = soap::MAX_BODY_BYTES;
    match declared_length(head) {
        Err(e) => refuse(Refusal::NotAMessage(soap::SoapError::NotXml(e))),
        Ok(Some(n)) if n > cap as u64 => Err(too_large(Door::Outbound, cap)),
        Ok(_) => Ok(BodyCap {
            door: Door::Outbound,
            bytes: cap,
        }),
    }
}

/// Any `/admin/...` route: the bearer (the dashboard page needs none), then
/// the route's cap.
pub fn admit_admin(head: &Request, settings: &Settings) -> Result<BodyCap, Response> {
    if !admin::is_dashboard(head) {
        admin::authorize(settings, head).map_err(AdminError::into_response)?;
    }
    let path = head.path.trim_end_matches('/');
    let cap = if matches!(path, "/admin/backfill" | "/admin/import") {
        FILE_BODY_CAP
    } else {
        JSON_BODY_CAP
    };
    match declared_length(head) {
        Err(e) => Err(AdminError::BadRequest(e).into_response()),
        Ok(Some(n)) if n > cap as u64 => Err(too_large(Door::Admin, cap)),
        Ok(_) => Ok(BodyCap {
            door: Door::Admin,
            bytes: cap,
        }),
    }
}

/// The answer to a body over its cap (413), read no further.
pub fn too_large(door: Door, cap: usize) -> Response {
    let mib = cap / (1024 * 1024);
    match door {
        Door::Outbound => Refusal::TooLarge { limit: cap }.into_response(),
        Door::Admin => AdminError::PayloadTooLarge(format!(
            "the body is over this route's limit of {mib} MiB; send less (backfill in batches: sfsync backfill does)"
        ))
        .into_response(),
    }
}

/// The answer to a body that took longer than [`BODY_READ_TIMEOUT`] (408).
pub fn too_slow(door: Door) -> Response {
    let secs = BODY_READ_TIMEOUT.as_secs();
    match door {
        Door::Outbound => Refusal::TooSlow { secs }.into_response(),
        Door::Admin => AdminError::RequestTimeout(format!(
            "the body did not arrive within {secs} s; send it again"
        ))
        .into_response(),
    }
}

/// The answer to a body whose stream broke (the client went away).
pub fn broken(door: Door, why: &str) -> Response {
    match door {
        Door::Outbound => Refusal::NotAMessage(soap::SoapError::NotXml(format!(
            "the body could not be read: {why}"
        )))
        .into_response(),
        Door::Admin => {
            AdminError::BadRequest(format!("the body could not be read ({why}); send it again"))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::settings_from;

    fn head(method: &str, path: &str, query: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn settings() -> Settings {
        settings_from(&[
            ("sf_organization_id", "00D000000000062"),
            ("sf_endpoint_token", "tok+en/with=chars"),
            ("admin_token", "admin-token-for-tests"),
        ])
    }

    #[test]
    fn the_token_and_length_are_checked_before_the_body() {
        let s = settings();
        let ok = head(
            "POST",
            "/sf/created",
            "token=tok+en%2Fwith%3Dchars",
            &[("content-length", "100")],
        );
        assert_eq!(
            admit_outbound(&ok, &s),
            Ok(BodyCap {
                door: Door::Outbound,
                bytes: soap::MAX_BODY_BYTES
            })
        );
        // `+` is compared as sent, not read as a space.
        let spaced = head("POST", "/sf/created", "token=tok%20en%2Fwith%3Dchars", &[]);
        assert_eq!(admit_outbound(&spaced, &s).map_err(|r| r.status), Err(500));
        let huge = head(
            "POST",
            "/sf/created",
            "token=tok+en%2Fwith%3Dchars",
            &[("content-length", "2147483648")],
        );
        let r = admit_outbound(&huge, &s).expect_err("too large");
        assert_eq!(r.status, 413);
        assert!(String::from_utf8_lossy(&r.body).contains("Fault"));
        let wrong = head(
            "POST",
            "/sf/created",
            "token=nope",
            &[("content-length", "2147483648")],
        );
        assert_eq!(
            admit_outbound(&wrong, &s).map_err(|r| r.status),
            Err(500),
            "the token comes first"
        );
        assert_eq!(
            admit_outbound(&head("GET", "/sf/created", "", &[]), &s).map_err(|r| r.status),
            Err(405)
        );
    }

    #[test]
    fn admin_routes_check_the_bearer_then_their_cap() {
        let s = settings();
        let bearer = ("authorization", "Bearer admin-token-for-tests");
        let anon = head(
            "POST",
            "/admin/backfill",
            "object=Contact",
            &[("content-length", "999999999999")],
        );
        assert_eq!(admit_admin(&anon, &s).map_err(|r| r.status), Err(401));
        let big_file = head(
            "POST",
            "/admin/backfill",
            "",
            &[bearer, ("content-length", "67108865")],
        );
        assert_eq!(admit_admin(&big_file, &s).map_err(|r| r.status), Err(413));
        let file = head(
            "POST",
            "/admin/backfill",
            "",
            &[bearer, ("content-length", "67108864")],
        );
        assert_eq!(admit_admin(&file, &s).map(|c| c.bytes), Ok(FILE_BODY_CAP));
        let json = head(
            "POST",
            "/admin/resend",
            "",
            &[bearer, ("content-length", "2000000")],
        );
        assert_eq!(admit_admin(&json, &s).map_err(|r| r.status), Err(413));
        let bad = head(
            "POST",
            "/admin/resend",
            "",
            &[bearer, ("content-length", "ten")],
        );
        assert_eq!(admit_admin(&bad, &s).map_err(|r| r.status), Err(400));
        let page = head("GET", "/admin/", "", &[]);
        assert!(
            admit_admin(&page, &s).is_ok(),
            "the dashboard page needs no token"
        );
    }
}
