//! The admin API (`/admin/...`): auth and routing. Each group of routes has
//! its module: [`stats`], [`mapping`].
//!
//! Every route needs `Authorization: Bearer {admin_token}`; while
//! `admin_token` is unset the API refuses everything. Errors are
//! `{"error": "what is wrong and how to fix it"}`.

pub mod mapping;
pub mod stats;

use crate::engine::Context;
use crate::io::{Http, Kv, KvError};
use crate::settings::Settings;
use crate::store;
use crate::web::{Request, Response};

/// Check the bearer token. `Err` is the 401 to send.
pub fn authorize(settings: &Settings, req: &Request) -> Result<(), Response> {
    let unauthorized =
        |msg: &str| Err(Response::error(401, msg).with_header("www-authenticate", "Bearer"));
    let Some(expected) = &settings.admin_token else {
        return unauthorized(
            "the admin API is disabled until the variable admin_token is set; set it and send Authorization: Bearer <admin_token>",
        );
    };
    let Some(header) = req.header("authorization") else {
        return unauthorized(
            "missing Authorization header; send Authorization: Bearer <admin_token>",
        );
    };
    let presented = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim);
    match presented {
        None => unauthorized("the Authorization header must be Bearer <admin_token>"),
        Some(token) if expected.matches(token) => Ok(()),
        Some(_) => unauthorized("wrong admin token; send the value of the variable admin_token"),
    }
}

/// Handle any `/admin/...` request other than resend.
pub async fn handle<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    if let Err(resp) = authorize(ctx.settings, req) {
        return resp;
    }
    let kv = ctx.kv;
    let path = req.path.trim_end_matches('/');
    let rest = path.strip_prefix("/admin").unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method.as_str();
    let result = match (method, segments.as_slice()) {
        ("GET", ["stats"]) => stats::compute(kv).await.map(|s| Response::json(200, &s)),
        ("GET", ["records", object, id]) => record_view(kv, object, id).await,
        ("GET", ["mapping"]) => mapping::get(kv).await,
        ("PUT", ["mapping"]) => mapping::put(req, ctx).await,
        ("POST", ["mapping", "validate"]) => Ok(mapping::validate(req, ctx.settings)),
        ("GET", ["mapping", "history"]) => mapping::history(kv).await,
        (_, ["mapping"]) => Ok(method_not_allowed(method, path, "GET, PUT")),
        (_, ["mapping", "validate"]) => Ok(method_not_allowed(method, path, "POST")),
        (_, ["mapping", "history"]) => Ok(method_not_allowed(method, path, "GET")),
        (_, ["stats"]) | (_, ["records", _, _]) => Ok(method_not_allowed(method, path, "GET")),
        (
            _,
            ["records"]
            | ["runs", ..]
            | ["export.csv"]
            | ["import"]
            | ["mapping", ..]
            | ["pause"]
            | ["resume"]
            | ["backfill"]
            | [],
        ) => Ok(Response::error(
            501,
            &format!("{path} is part of the admin API but not built in this version of sfsync"),
        )),
        _ => Ok(Response::error(
            404,
            &format!("no admin route {method} {path}; see the README for the admin API"),
        )),
    };
    result.unwrap_or_else(|e| {
        Response::error(
            503,
            &format!("could not read sfsync's state; try again ({e})"),
        )
    })
}

fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Response {
    Response::error(
        405,
        &format!("{method} is not allowed on {path}; use {allowed}"),
    )
    .with_header("allow", allowed)
}

async fn record_view<K: Kv>(kv: &K, object: &str, id: &str) -> Result<Response, KvError> {
    Ok(match store::load_record(kv, object, id).await? {
        Some(record) => Response::json(200, &record.view()),
        None => Response::error(
            404,
            &format!("no record {object}/{id}: sfsync has received no notification for it"),
        ),
    })
}
