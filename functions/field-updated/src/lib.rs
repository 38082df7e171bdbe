//! `POST /sf/updated`: Salesforce Outbound Messages sent when a record is updated.
//! A sync happens only when a mapped field changed (the core decides).

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;
use sync_core::record::Process;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    sfsync_spin::outbound_message(Process::Updated, req).await
}
