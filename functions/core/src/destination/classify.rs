//! What a destination's answer means for the record and for Salesforce.
//!
//! | answer | kind | Salesforce |
//! |---|---|---|
//! | 2xx | success | acknowledged |
//! | 401, 403 | `config`: credentials or permissions must be fixed | redelivers |
//! | 408, 409, 423, 429, 5xx, timeout, connection error | `transient` (409 and 423: another write to the same record was in progress) | redelivers |
//! | other 4xx (e.g. 422) | `permanent`, with the destination's own message | acknowledged; the admin fixes and resends |
//! | not called: past the request's deadline, or after a long `Retry-After` ([`crate::budget`]) | `transient` | redelivers |
//! | refused by the host | `config`: the URL variable is not in `allowed_outbound_hosts` | redelivers |

use serde_json::Value;

use crate::failure::ErrorKind;
use crate::io::{HttpError, HttpResponse};

pub use crate::failure::Failure;

/// Classify a non-2xx answer. `who` names the destination in messages.
pub fn status_failure(who: &str, resp: &HttpResponse) -> Failure {
    let status = resp.status;
    let detail = error_message(&resp.body);
    let kind = match status {
        401 | 403 => ErrorKind::Config,
        408 | 409 | 423 | 429 => ErrorKind::Transient,
        s if s >= 500 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    };
    let message = match status {
        401 => {
            format!("{who} refused the credentials (401: {detail}); check the credential variables")
        }
        403 => format!("{who} forbids this call (403: {detail}); check the account's permissions"),
        429 => format!("{who} rate limit reached (429: {detail}); Salesforce will redeliver"),
        _ => format!("{who} answered {status}: {detail}"),
    };
    Failure {
        kind,
        http_status: Some(status),
        message,
    }
}

/// Classify a call that got no answer. `url_variable` names the variable
/// whose host must be allowed; `blank_url_variables` are the URL variables
/// set to an empty value, which released Spin versions treat as a malformed
/// `allowed_outbound_hosts` entry that denies every call.
pub fn transport_failure(
    who: &str,
    url_variable: &str,
    blank_url_variables: &[&str],
    e: &HttpError,
) -> Failure {
    match e {
        HttpError::Denied => {
            let mut message = format!(
                "the host refused the call to {who}: {url_variable} must be exactly scheme://host[:port] (no path) so that it is in allowed_outbound_hosts"
            );
            for blank in blank_url_variables {
                message.push_str(&format!(
                    "; {blank} is set to an empty value, which Spin 3.x and 4.0.x read as a malformed allowed_outbound_hosts entry that denies every call: remove the variable (its default is inert) instead of setting it to \"\""
                ));
            }
            Failure::config(message)
        }
        HttpError::NotAttempted(why) => Failure::transient(format!(
            "{who} not called: {why}; Salesforce redelivers the message (for resend or backfill, run it again)"
        )),
        other => Failure::transient(format!("{who} could not be reached: {other}")),
    }
}

/// The destination's own words: for Zendesk's `{"error","description",
/// "details":{field:[{"description"}]}}` the details' descriptions; else a
/// `description`, `error` or `message` field; else the body's text.
pub fn error_message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            "no details given".into()
        } else {
            text.chars().take(500).collect()
        };
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(details) = v.get("details").and_then(Value::as_object) {
        for items in details.values() {
            for item in items.as_array().into_iter().flatten() {
                if let Some(d) = item.get("description").and_then(Value::as_str) {
                    parts.push(d.to_string());
                }
            }
        }
    }
    if parts.is_empty() {
        for key in ["description", "message", "error"] {
            match v.get(key) {
                Some(Value::String(s)) => {
                    parts.push(s.clone());
                    break;
                }
                Some(Value::Object(o)) => {
                    if let Some(Value::String(s)) = o.get("message").or_else(|| o.get("title")) {
                        parts.push(s.clone());
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        v.to_string().chars().take(500).collect()
    } else {
        let head = v
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| parts.iter().all(|p| p != e));
        match head {
            Some(h) => format!("{h}: {}", parts.join("; ")),
            None => parts.join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn resp(status: u16, body: &str, retry_after: Option<&str>) -> HttpResponse {
        let mut headers = BTreeMap::new();
        if let Some(r) = retry_after {
            headers.insert("retry-after".to_string(), r.to_string());
        }
        HttpResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_are_classified() {
        let cases = [
            (400, ErrorKind::Permanent),
            (404, ErrorKind::Permanent),
            (409, ErrorKind::Transient),
            (423, ErrorKind::Transient),
            (422, ErrorKind::Permanent),
            (401, ErrorKind::Config),
            (403, ErrorKind::Config),
            (408, ErrorKind::Transient),
            (429, ErrorKind::Transient),
            (500, ErrorKind::Transient),
            (503, ErrorKind::Transient),
        ];
        for (status, kind) in cases {
            let f = status_failure("Zendesk", &resp(status, "{}", None));
            assert_eq!((f.kind, f.http_status), (kind, Some(status)), "{status}");
        }
        assert_eq!(
            transport_failure("Zendesk", "zendesk_url", &[], &HttpError::Denied).kind,
            ErrorKind::Config
        );
        assert_eq!(
            transport_failure("Zendesk", "zendesk_url", &[], &HttpError::Timeout).kind,
            ErrorKind::Transient
        );
        let blank = transport_failure(
            "Zendesk",
            "zendesk_url",
            &["webhook_url"],
            &HttpError::Denied,
        );
        assert!(
            blank
                .message
                .contains("webhook_url is set to an empty value"),
            "{}",
            blank.message
        );
    }

    #[test]
    fn the_destinations_own_words_are_kept() {
        let cases = [
            (
                r#"{"error":"RecordInvalid","description":"Record validation errors","details":{"email":[{"description":"Email: ana@example.com is already being used by another user","error":"DuplicateValue"}]}}"#,
                "RecordInvalid: Email: ana@example.com is already being used by another user",
            ),
            (
                r#"{"error":"RecordNotFound","description":"Not found"}"#,
                "RecordNotFound: Not found",
            ),
            (
                r#"{"error":"Couldn't authenticate you"}"#,
                "Couldn't authenticate you",
            ),
            (r#"{"message":"table is read-only"}"#, "table is read-only"),
            ("upstream exploded", "upstream exploded"),
            ("", "no details given"),
        ];
        for (body, want) in cases {
            assert_eq!(error_message(body.as_bytes()), want);
        }
    }
}
