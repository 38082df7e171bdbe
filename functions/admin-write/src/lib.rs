//! `/admin/mapping/...`, `/admin/backfill`, `/admin/import` and
//! `/admin/repair/...`: the admin routes that bring records or a mapping in.

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    sfsync_spin::admin_write(req).await
}
