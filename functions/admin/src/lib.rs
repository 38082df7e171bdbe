//! `/admin/...`: the admin API (stats, records, and the routes to come).

use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

/// The export streams, so this one answers through the outparam.
#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    sfsync_spin::admin(req, out).await
}
