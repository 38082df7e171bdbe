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
