//! `POST /sf/created`: Salesforce Outbound Messages sent when a record is created.

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;
use sync_core::record::Process;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    sfsync_spin::outbound_message(Process::Created, req).await
}
