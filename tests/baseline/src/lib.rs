//! The baseline the benchmarks compare sfsync with, built in the same run:
//! `/kv` reads one key of the default store and writes it back changed (what
//! the simplest stateful handler does per request), `/empty` answers
//! without touching anything (an empty spin-sdk component's cost, for the
//! cold-start comparison).

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    if req.path_with_query().unwrap_or_default().starts_with("/kv") {
        let Ok(store) = Store::open_default() else {
            return Response::new(500, "no store");
        };
        let n = store
            .get("baseline/counter")
            .ok()
            .flatten()
            .map_or(0, |v| v.len());
        if store
            .set("baseline/counter", &vec![b'x'; n % 64 + 1])
            .is_err()
        {
            return Response::new(500, "set failed");
        }
    }
    Response::new(200, "ok")
}
