//! `POST /admin/resend`: push records again with the current mapping.

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    sfsync_spin::resend(req).await
}
