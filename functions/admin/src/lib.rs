//! `/admin/...`: the admin API (stats, records, and the routes to come).

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    sfsync_spin::admin(req).await
}
