//! The admin API (`/admin/...`): auth and routing. Each group of routes has
//! its module: [`filter`] (record lists, cursors), [`stats`], [`mapping`],
//! [`runs`], [`export`], [`import`], [`resend`], [`backfill`].
//!
//! Every route but the dashboard page needs `Authorization: Bearer
//! {admin_token}`, checked once by [`authorize`] before any route runs, for
//! the `admin` function ([`handle`]) and the `resend` function
//! ([`handle_resend`]) alike; while `admin_token` is unset the API refuses
//! everything. Errors are `{"error": "what is wrong and how to fix it"}`.

pub mod backfill;
pub mod export;
pub mod filter;
pub mod import;
pub mod mapping;
pub mod resend;
pub mod runs;
pub mod stats;
pub mod wire;

/// The dashboard: one static page, no external assets, no build step.
pub const DASHBOARD: &str = include_str!("dashboard.html");

use serde_json::json;

use crate::context::Context;
use crate::io::{Http, Kv, KvError};
use crate::reference::RecordRef;
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

/// The answer when the store cannot be read: nothing was done, try again.
pub fn state_unreadable(e: &KvError) -> Response {
    Response::error(
        503,
        &format!("could not read sfsync's state; nothing was changed, try again ({e})"),
    )
}

/// Handle `POST /admin/resend` (the `resend` function).
pub async fn handle_resend<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    if let Err(resp) = authorize(ctx.settings, req) {
        return resp;
    }
    resend::handle(req, ctx).await
}

/// Handle any `/admin/...` request (the `admin` function).
pub async fn handle<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    // The dashboard page loads without a token; it asks for one and sends it
    // with every data call.
    if req.method == "GET"
        && matches!(
            req.path.as_str(),
            "/admin" | "/admin/" | "/admin/index.html"
        )
    {
        return Response::new(200, "text/html; charset=utf-8", DASHBOARD)
            .with_header(
                "content-security-policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
            )
            .with_header("cache-control", "no-store");
    }
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
        ("GET", ["records"]) => records(req, kv).await,
        ("GET", ["runs"]) => runs::list(req, kv).await,
        ("GET", ["runs", id]) => runs::one(kv, id).await,
        ("GET", ["export.csv"]) => export(req, kv).await,
        ("POST", ["import"]) => import(req, kv).await,
        ("POST", ["pause"]) => store::set_paused(kv, Some(ctx.now)).await.map(|()| {
            Response::json(200, &json!({"paused": true, "note": "notifications are acknowledged and recorded as pending; POST /admin/resume, then resend status=pending"}))
        }),
        ("POST", ["resume"]) => store::set_paused(kv, None).await.map(|()| {
            Response::json(200, &json!({"paused": false, "note": "resend the records left pending: POST /admin/resend {\"filter\":{\"status\":\"pending\"}}"}))
        }),
        ("GET", ["mapping"]) => mapping::get(kv).await,
        ("PUT", ["mapping"]) => mapping::put(req, ctx).await,
        ("POST", ["mapping", "validate"]) => Ok(mapping::validate(req, ctx.settings)),
        ("GET", ["mapping", "history"]) => mapping::history(kv).await,
        (_, ["mapping"]) => Ok(method_not_allowed(method, path, "GET, PUT")),
        (_, ["mapping", "validate"]) => Ok(method_not_allowed(method, path, "POST")),
        (_, ["mapping", "history"]) => Ok(method_not_allowed(method, path, "GET")),
        (_, ["stats"] | ["records"] | ["records", _, _] | ["runs"] | ["runs", _] | ["export.csv"]) => {
            Ok(method_not_allowed(method, path, "GET"))
        }
        ("POST", ["resend"]) => Ok(resend::handle(req, ctx).await),
        (_, ["import"] | ["pause"] | ["resume"] | ["resend"]) => Ok(method_not_allowed(method, path, "POST")),
        ("POST", ["backfill"]) => Ok(backfill::handle(req, ctx).await),
        (_, ["backfill"]) => Ok(method_not_allowed(method, path, "POST")),
        _ => Ok(Response::error(
            404,
            &format!("no admin route {method} {path}; see the README for the admin API"),
        )),
    };
    result.unwrap_or_else(|e| state_unreadable(&e))
}

async fn records<K: Kv>(req: &Request, kv: &K) -> Result<Response, KvError> {
    let parsed = filter::Filter::from_query(req).and_then(|f| {
        let limit = filter::parse_limit(
            req.query_param("limit").filter(|l| !l.is_empty()),
            filter::MAX_LIMIT,
        )?;
        let cursor = req
            .query_param("cursor")
            .filter(|c| !c.is_empty())
            .map(|c| filter::decode_cursor(&c, store::RECORD_PREFIX))
            .transpose()?;
        Ok((f, limit, cursor))
    });
    let (f, limit, cursor) = match parsed {
        Ok(p) => p,
        Err(e) => return Ok(Response::error(400, &e)),
    };
    let (records, next) = filter::page(kv, &f, limit, cursor.as_deref()).await?;
    Ok(Response::json(
        200,
        &wire::RecordsPage {
            records: records.iter().map(|r| r.view()).collect(),
            next_cursor: next,
        },
    ))
}

async fn export<K: Kv>(req: &Request, kv: &K) -> Result<Response, KvError> {
    for key in ["limit", "cursor"] {
        if req.query_param(key).is_some_and(|v| !v.is_empty()) {
            return Ok(Response::error(400, &format!("{key} does not apply to the export, which holds every matching record; remove it")));
        }
    }
    let f = match filter::Filter::from_query(req) {
        Ok(f) => f,
        Err(e) => return Ok(Response::error(400, &e)),
    };
    let body = export::csv(kv, &f).await?;
    Ok(
        Response::new(200, "text/csv; charset=utf-8", body).with_header(
            "content-disposition",
            "attachment; filename=\"sfsync-records.csv\"",
        ),
    )
}

async fn import<K: Kv>(req: &Request, kv: &K) -> Result<Response, KvError> {
    match import::import(kv, &req.body).await {
        Ok(result) => Ok(Response::json(200, &result)),
        Err(import::ImportError::BadFile(e)) => Ok(Response::error(400, &e)),
        Err(import::ImportError::Kv(e)) => Err(e),
    }
}

fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Response {
    Response::error(
        405,
        &format!("{method} is not allowed on {path}; use {allowed}"),
    )
    .with_header("allow", allowed)
}

async fn record_view<K: Kv>(kv: &K, object: &str, id: &str) -> Result<Response, KvError> {
    let reference = RecordRef::new(object.to_string(), id.to_string());
    Ok(match store::load_record(kv, &reference).await? {
        Some(record) => Response::json(200, &record.view()),
        None => Response::error(
            404,
            &format!("no record {reference}: sfsync has received no notification for it"),
        ),
    })
}
