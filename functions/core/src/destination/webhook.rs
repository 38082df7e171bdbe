//! The webhook destination: any JSON HTTP API that upserts by key.
//!
//! `PUT {webhook_url}/{table}/{key}` with `{"object","key","fields"}` and,
//! when `webhook_auth` is set, that value as the `Authorization` header. Any
//! 2xx is success; failures are classified like every destination's
//! ([`super::classify`]).

use serde_json::json;

use super::classify::{status_failure, transport_failure, Failure};
use super::{send_once_more_after_short_wait, Pushed};
use crate::io::{Http, HttpRequest};
use crate::mapping::Mapped;
use crate::record::DestinationRef;
use crate::settings::{DestinationKind, Settings};
use crate::web::percent_encode;

const WHO: &str = "the webhook";

pub async fn push<H: Http>(
    settings: &Settings,
    http: &H,
    object: &str,
    mapped: &Mapped,
) -> Result<Pushed, Failure> {
    let Some(base) = &settings.webhook_url else {
        return Err(Failure::config("destination is webhook but the variable webhook_url is not set; set it to the API's scheme://host[:port]"));
    };
    let url = format!(
        "{base}/{}/{}",
        percent_encode(&mapped.entity),
        percent_encode(&mapped.key)
    );
    let body = json!({
        "object": object,
        "key": mapped.key,
        "fields": mapped.fields,
        "links": mapped.links,
    });
    let mut req = HttpRequest::json("PUT", url, Some(&body));
    if let Some(auth) = &settings.webhook_auth {
        req = req.with_header("authorization", auth.expose());
    }
    match send_once_more_after_short_wait(http, req).await {
        Ok(resp) if (200..300).contains(&resp.status) => Ok(Pushed::to(DestinationRef {
            kind: DestinationKind::Webhook,
            id: Some(format!("{}/{}", mapped.entity, mapped.key)),
            organization_ids: Vec::new(),
        })),
        Ok(resp) => Err(status_failure(WHO, &resp)),
        Err(e) => Err(transport_failure(
            WHO,
            "webhook_url",
            &settings.blank_url_variables,
            &e,
        )),
    }
}

/// `HEAD {webhook_url}/`: whether the API answers, and takes the
/// credentials. Nothing is written; any answer but 401, 403 or a 5xx counts.
pub async fn probe<H: Http>(settings: &Settings, http: &H) -> Result<(), Failure> {
    let Some(base) = &settings.webhook_url else {
        return Err(Failure::config("destination is webhook but the variable webhook_url is not set; set it to the API's scheme://host[:port]"));
    };
    let mut req = HttpRequest::json("HEAD", format!("{base}/"), None);
    if let Some(auth) = &settings.webhook_auth {
        req = req.with_header("authorization", auth.expose());
    }
    match http.send(req).await {
        Ok(resp) if matches!(resp.status, 401 | 403) || resp.status >= 500 => {
            Err(status_failure(WHO, &resp))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(transport_failure(
            WHO,
            "webhook_url",
            &settings.blank_url_variables,
            &e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::executor::block_on;
    use serde_json::{json, Value};

    use super::*;
    use crate::failure::ErrorKind;
    use crate::io::{HttpError, HttpResponse};
    use crate::memory::{settings_from as settings, ScriptedHttp};

    fn mapped() -> Mapped {
        let mut fields = serde_json::Map::new();
        fields.insert("email".into(), json!("ana@example.com"));
        Mapped {
            entity: "user".into(),
            key: "003000000000001AAA".into(),
            fields,
            links: BTreeMap::new(),
        }
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
        Ok(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"{\"error\":\"no\"}".to_vec(),
        })
    }

    #[test]
    fn puts_by_table_and_key_with_the_auth_header() {
        let s = settings(&[
            ("webhook_url", "https://hooks.example.com"),
            ("webhook_auth", "Bearer hook-secret"),
        ]);
        let http = ScriptedHttp::default();
        let pushed = block_on(push(&s, &http, "Contact", &mapped())).expect("synced");
        assert_eq!(pushed.destination.kind, DestinationKind::Webhook);
        assert_eq!(
            pushed.destination.id.as_deref(),
            Some("user/003000000000001AAA")
        );
        let sent = http.sent.borrow();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "PUT");
        assert_eq!(
            sent[0].url,
            "https://hooks.example.com/user/003000000000001AAA"
        );
        assert!(sent[0]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer hook-secret"));
        let body: Value = serde_json::from_slice(&sent[0].body).expect("json");
        assert_eq!(body["object"], "Contact");
        assert_eq!(body["fields"]["email"], "ana@example.com");
    }

    #[test]
    fn answers_are_classified_and_a_short_retry_after_is_waited_once() {
        let s = settings(&[("webhook_url", "http://127.0.0.1:9")]);
        let cases = [
            (vec![answer(400, &[])], Some(ErrorKind::Permanent), 1),
            (vec![answer(500, &[])], Some(ErrorKind::Transient), 1),
            (vec![answer(401, &[])], Some(ErrorKind::Config), 1),
            (
                vec![answer(429, &[("retry-after", "1")]), answer(204, &[])],
                None,
                2,
            ),
            (
                vec![answer(429, &[("retry-after", "60")])],
                Some(ErrorKind::Transient),
                1,
            ),
            (vec![Err(HttpError::Denied)], Some(ErrorKind::Config), 1),
        ];
        for (replies, kind, calls) in cases {
            let http = ScriptedHttp::default();
            *http.replies.borrow_mut() = replies;
            let out = block_on(push(&s, &http, "Contact", &mapped()));
            assert_eq!(out.as_ref().err().map(|f| f.kind), kind, "{out:?}");
            assert_eq!(http.sent.borrow().len(), calls, "{out:?}");
        }
        let unset = settings(&[]);
        let out = block_on(push(&unset, &ScriptedHttp::default(), "Contact", &mapped()));
        assert!(out
            .expect_err("unset")
            .message
            .contains("webhook_url is not set"));
    }
}
