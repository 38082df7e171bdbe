//! `/admin/...`: the admin API (stats, records, and the routes to come).

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    sfsync_spin::admin(req).await
}
