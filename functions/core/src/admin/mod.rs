//! The admin API (`/admin/...`): auth and routing. Each group of routes has
//! its module: [`filter`] (record lists, cursors), [`stats`], [`mapping`],
//! [`runs`], [`export`], [`import`], [`resend`], [`backfill`], [`repair`].
//!
//! Three functions serve the API, each carrying only its own routes' code:
//!
//! | function | routes | entry point |
//! |---|---|---|
//! | `admin` | the dashboard, health, stats, records, runs, export, mapping, pause, resume, reindex | [`handle_streaming`] |
//! | `admin-write` | backfill, pull, import, repair ([`is_write_path`]) | [`handle_write`] |
//! | `resend` | resend | [`handle_resend`] |
//!
//! [`handle`] answers all of them, for hosts that serve every route from one
//! function, and for tests.
//!
//! Every route but the dashboard page needs `Authorization: Bearer
//! {admin_token}`, checked once by [`authorize`] before any route runs, in
//! every function alike; while `admin_token` is unset the API refuses
//! everything. Errors are `{"error": "what is wrong and how to fix it"}`.

pub mod backfill;
pub mod columns;
pub mod csv_upload;
pub mod error;
pub mod export;
pub mod filter;
pub mod health;
pub mod import;
pub mod mapping;
pub mod pull;
pub mod reindex;
pub mod repair;
pub mod resend;
pub mod runs;
pub mod stats;
pub mod wire;

/// The dashboard: one static page, no external assets, no build step.
pub const DASHBOARD: &str = include_str!("dashboard.html");

use serde_json::json;

use crate::context::Context;
use crate::io::{Http, Kv};
use crate::reference::RecordRef;
use crate::settings::Settings;
use crate::store;
use crate::web::{Request, Response};
use error::AdminError;

/// Check the bearer token.
pub fn authorize(settings: &Settings, req: &Request) -> Result<(), AdminError> {
    let unauthorized = |msg: &str| Err(AdminError::Unauthorized(msg.to_string()));
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

/// Handle `POST /admin/resend` (the `resend` function).
pub async fn handle_resend<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    let answer = match authorize(ctx.settings, req) {
        Ok(()) => resend::handle(req, ctx).await,
        Err(e) => Err(e),
    };
    answer.unwrap_or_else(AdminError::into_response)
}

/// Whether a request asks for the dashboard page, which loads without a
/// token (it asks for one and sends it with every data call).
pub fn is_dashboard(req: &Request) -> bool {
    req.method == "GET"
        && matches!(
            req.path.as_str(),
            "/admin" | "/admin/" | "/admin/index.html"
        )
}

/// What the admin function answers: a whole response, or the head of a
/// streamed CSV export and the export to write after it.
pub enum Reply {
    Whole(Response),
    Export(Response, export::Export),
}

/// Handle any `/admin/...` request, with the export streamed (the `admin`
/// function writes [`Reply::Export`]'s pieces as they come).
pub async fn handle_streaming<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Reply {
    let path = req.path.trim_end_matches('/');
    if req.method == "GET" && path == "/admin/export.csv" {
        return match authorize(ctx.settings, req).and_then(|()| export_head(req)) {
            Ok((head, export)) => Reply::Export(head, export),
            Err(e) => Reply::Whole(e.into_response()),
        };
    }
    Reply::Whole(handle_read(req, ctx).await)
}

/// Handle a route of the `admin-write` function: backfill, import and
/// repair ([`is_write_path`]). Kept apart from the `admin` function's routes
/// so that neither component carries the other's code (the write routes
/// bring the sync pipeline and the CSV readers; the admin function the
/// mapping parser and the dashboard).
pub async fn handle_write<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    let answer = match authorize(ctx.settings, req) {
        Ok(()) => route_write(req, ctx).await,
        Err(e) => Err(e),
    };
    answer.unwrap_or_else(AdminError::into_response)
}

/// The `/admin/...` paths the `admin-write` function serves (its routes in
/// `spin.toml`): `backfill`, `import`, `repair/…`.
pub fn is_write_path(path: &str) -> bool {
    let rest = path.strip_prefix("/admin").unwrap_or(path);
    let first = rest.split('/').find(|s| !s.is_empty()).unwrap_or("");
    matches!(
        first,
        "backfill" | "import" | "repair" | "pull" | "reconcile"
    )
}

fn segments_of(req: &Request) -> (&str, Vec<&str>) {
    let path = req.path.trim_end_matches('/');
    let rest = path.strip_prefix("/admin").unwrap_or(path);
    (path, rest.split('/').filter(|s| !s.is_empty()).collect())
}

fn no_route(method: &str, path: &str) -> AdminError {
    AdminError::NotFound(format!(
        "no admin route {method} {path}; see the README for the admin API"
    ))
}

/// Handle any `/admin/...` request, the write routes included (the export
/// as one body): every admin route in one place, for hosts that serve them
/// all from one function, and for tests.
pub async fn handle<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    if is_write_path(&req.path) {
        return handle_write(req, ctx).await;
    }
    handle_read(req, ctx).await
}

/// Handle a route of the `admin` function (the export as one body).
async fn handle_read<K: Kv, H: Http>(req: &Request, ctx: &Context<'_, K, H>) -> Response {
    if is_dashboard(req) {
        return Response::new(200, "text/html; charset=utf-8", DASHBOARD)
            .with_header(
                "content-security-policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
            )
            .with_header("cache-control", "no-store");
    }
    route(req, ctx)
        .await
        .unwrap_or_else(AdminError::into_response)
}

async fn route<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    authorize(ctx.settings, req)?;
    let kv = ctx.kv;
    let (path, segments) = segments_of(req);
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["stats"]) => {
            let mut stats = stats::compute(kv).await?;
            stats.warnings = ctx.settings.warnings();
            Ok(Response::json(200, &stats))
        }
        ("GET", ["health"]) => health::handle(ctx).await,
        ("GET", ["records", object, id]) => record_view(ctx, object, id).await,
        ("GET", ["records"]) => records(req, kv).await,
        ("GET", ["runs"]) => runs::list(req, ctx).await,
        ("GET", ["runs", id]) => runs::one(ctx, id).await,
        ("GET", ["export.csv"]) => export(req, kv).await,
        ("POST", ["pause"]) => {
            store::set_paused(kv, Some(ctx.now)).await?;
            Ok(Response::json(
                200,
                &json!({"paused": true, "note": "notifications are acknowledged and recorded as pending; POST /admin/resume, then resend status=pending"}),
            ))
        }
        ("POST", ["resume"]) => {
            store::set_paused(kv, None).await?;
            Ok(Response::json(
                200,
                &json!({"paused": false, "note": "resend the records left pending: POST /admin/resend {\"filter\":{\"status\":\"pending\"}}"}),
            ))
        }
        (
            _,
            ["stats"]
            | ["health"]
            | ["records"]
            | ["records", _, _]
            | ["runs"]
            | ["runs", _]
            | ["export.csv"],
        ) => Err(method_not_allowed(method, path, "GET")),
        // `POST /admin/resend` is the resend function's own route; a path
        // that reaches this one instead (a trailing slash) is told so.
        ("POST", ["resend"]) => Err(AdminError::NotFound(
            "resend is POST /admin/resend, without a trailing slash".into(),
        )),
        ("GET", ["mapping"]) => mapping::get(kv).await,
        ("PUT", ["mapping"]) => mapping::put(req, ctx).await,
        ("POST", ["mapping", "validate"]) => Ok(mapping::validate(req, ctx.settings)),
        ("GET", ["mapping", "history"]) => mapping::history(kv).await,
        (_, ["mapping"]) => Err(method_not_allowed(method, path, "GET, PUT")),
        (_, ["mapping", "validate"]) => Err(method_not_allowed(method, path, "POST")),
        (_, ["mapping", "history"]) => Err(method_not_allowed(method, path, "GET")),
        ("POST", ["reindex"]) => reindex::handle(req, ctx).await,
        (_, ["pause"] | ["resume"] | ["resend"] | ["reindex"]) => {
            Err(method_not_allowed(method, path, "POST"))
        }
        _ => Err(no_route(method, path)),
    }
}

/// The routes of the `admin-write` function.
async fn route_write<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let (path, segments) = segments_of(req);
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("POST", ["import"]) => import(req, ctx).await,
        (_, ["import"]) => Err(method_not_allowed(method, path, "POST")),
        ("POST", ["backfill"]) => backfill::handle(req, ctx).await,
        ("POST", ["pull"]) => pull::handle(req, ctx, pull::Mode::Pull).await,
        ("POST", ["reconcile"]) => pull::handle(req, ctx, pull::Mode::Sweep).await,
        (_, ["pull"] | ["reconcile"]) => Err(method_not_allowed(method, path, "POST")),
        (_, ["backfill"]) => Err(method_not_allowed(method, path, "POST")),
        ("POST", ["repair", "ids"]) => repair::handle(req, ctx).await,
        (_, ["repair", "ids"]) => Err(method_not_allowed(method, path, "POST")),
        _ => Err(no_route(method, path)),
    }
}

async fn records<K: Kv>(req: &Request, kv: &K) -> Result<Response, AdminError> {
    let parsed = filter::Filter::from_query(req).and_then(|f| {
        let limit = filter::parse_limit(
            req.query_param("limit").filter(|l| !l.is_empty()),
            filter::MAX_LIMIT,
        )?;
        let cursor = req
            .query_param("cursor")
            .filter(|c| !c.is_empty())
            .map(|c| filter::decode_page_cursor(&c, &f))
            .transpose()?;
        Ok((f, limit, cursor))
    });
    let (f, limit, cursor) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(AdminError::BadRequest(e)),
    };
    let (records, next) = filter::page(kv, &f, limit, cursor.as_ref()).await?;
    Ok(Response::json(
        200,
        &wire::RecordsPage {
            records: records.iter().map(|r| r.view()).collect(),
            next_cursor: next.as_ref().map(filter::encode_page_cursor),
        },
    ))
}

/// The export's checks, headers and state, before any record is read.
fn export_head(req: &Request) -> Result<(Response, export::Export), AdminError> {
    for key in ["limit", "cursor"] {
        if req.query_param(key).is_some_and(|v| !v.is_empty()) {
            return Err(AdminError::BadRequest(format!(
                "{key} does not apply to the export, which holds every matching record; remove it"
            )));
        }
    }
    let f = filter::Filter::from_query(req).map_err(AdminError::BadRequest)?;
    let head = Response::new(200, "text/csv; charset=utf-8", Vec::new()).with_header(
        "content-disposition",
        "attachment; filename=\"sfsync-records.csv\"",
    );
    Ok((head, export::Export::new(f)))
}

async fn export<K: Kv>(req: &Request, kv: &K) -> Result<Response, AdminError> {
    let (mut head, mut export) = export_head(req)?;
    while let Some(chunk) = export.next_chunk(kv).await? {
        head.body.extend(chunk);
    }
    Ok(head)
}

async fn import<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let first_line = csv_upload::first_line(req)?;
    match import::import(ctx, &req.body, first_line).await {
        Ok(result) => Ok(Response::json(200, &result)),
        Err(import::ImportError::BadFile(e)) => Err(AdminError::BadRequest(e)),
        Err(import::ImportError::Kv(e)) => Err(e.into()),
    }
}

fn method_not_allowed(method: &str, path: &str, allowed: &'static str) -> AdminError {
    AdminError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_string(),
        allowed,
    }
}

/// Where a record opens: in Salesforce (the instance the messages named,
/// then the id) and at the destination (Zendesk's agent page of the user
/// or organization).
async fn open_links<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    record: &crate::record::SyncRecord,
) -> Result<std::collections::BTreeMap<String, String>, AdminError> {
    let mut links = std::collections::BTreeMap::new();
    if let Some(instance) = store::sf_instance(ctx.kv).await? {
        links.insert(
            "salesforce".into(),
            format!(
                "{instance}/{}",
                crate::web::percent_encode(&record.salesforce_id)
            ),
        );
    }
    let zendesk = record
        .destination
        .as_ref()
        .filter(|d| d.kind == crate::settings::DestinationKind::Zendesk)
        .and_then(|d| d.id.as_deref())
        .zip(ctx.settings.zendesk_url.as_deref());
    if let Some((id, base)) = zendesk {
        let mapping = store::active_mapping(ctx.kv).await.ok();
        let entity = mapping
            .as_ref()
            .and_then(|m| m.object(&record.object))
            .and_then(|o| crate::mapping::ZendeskEntity::parse(&o.entity));
        let page = match entity {
            Some(crate::mapping::ZendeskEntity::Organization) => "organizations",
            _ => "users",
        };
        links.insert(
            "destination".into(),
            format!("{base}/agent/{page}/{}", crate::web::percent_encode(id)),
        );
    }
    Ok(links)
}

async fn record_view<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    object: &str,
    id: &str,
) -> Result<Response, AdminError> {
    let reference = RecordRef::from_parts(object, id);
    match store::load_record(ctx.kv, &reference).await? {
        Some(record) => {
            let mut view = record.view();
            view.open = open_links(ctx, &record).await?;
            Ok(Response::json(200, &view))
        }
        None => Err(AdminError::NotFound(format!(
            "no record {reference}: sfsync has received no notification for it"
        ))),
    }
}
