//! The admin API (`/admin/...`): auth, routing, and the read side of the
//! records — stats and one record's view.
//!
//! Every route needs `Authorization: Bearer {admin_token}`; while
//! `admin_token` is unset the API refuses everything. Errors are
//! `{"error": "what is wrong and how to fix it"}`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::io::{Kv, KvError};
use crate::record::Status;
use crate::settings::Settings;
use crate::store;
use crate::web::{Request, Response};

/// Keys read per listing call when scanning records.
const SCAN_PAGE: usize = 500;

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
pub async fn handle<K: Kv>(req: &Request, settings: &Settings, kv: &K) -> Response {
    if let Err(resp) = authorize(settings, req) {
        return resp;
    }
    let path = req.path.trim_end_matches('/');
    let rest = path.strip_prefix("/admin").unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method.as_str();
    let result = match (method, segments.as_slice()) {
        ("GET", ["stats"]) => stats(kv).await.map(|s| Response::json(200, &s)),
        ("GET", ["records", object, id]) => record_view(kv, object, id).await,
        (_, ["stats"]) | (_, ["records", _, _]) => Ok(Response::error(
            405,
            &format!("{method} is not allowed on {path}; use GET"),
        )
        .with_header("allow", "GET")),
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

async fn record_view<K: Kv>(kv: &K, object: &str, id: &str) -> Result<Response, KvError> {
    Ok(match store::load_record(kv, object, id).await? {
        Some(record) => Response::json(200, &record.view()),
        None => Response::error(
            404,
            &format!("no record {object}/{id}: sfsync has received no notification for it"),
        ),
    })
}

/// Counts by status, overall and per object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: u64,
    pub synced: u64,
    pub error: u64,
    pub skipped: u64,
    pub pending: u64,
}

/// `GET /admin/stats`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    #[serde(flatten)]
    pub counts: Counts,
    pub by_object: BTreeMap<String, Counts>,
    pub paused: bool,
}

impl Counts {
    fn add(&mut self, status: Status, ever_synced: bool) {
        self.total += 1;
        if ever_synced {
            self.synced += 1;
        }
        match status {
            Status::Error => self.error += 1,
            Status::Skipped => self.skipped += 1,
            Status::Pending => self.pending += 1,
            Status::Synced => {}
        }
    }
}

/// Count every record. `synced` counts ever-synced records and `error` those
/// whose last attempt failed, so the two overlap.
pub async fn stats<K: Kv>(kv: &K) -> Result<Stats, KvError> {
    let mut stats = Stats {
        paused: store::is_paused(kv).await?,
        ..Stats::default()
    };
    let mut after: Option<String> = None;
    loop {
        let keys = kv
            .list_keys(store::RECORD_PREFIX, after.as_deref(), SCAN_PAGE)
            .await?;
        for key in &keys {
            if let Some(record) = store::decode_record(key, kv.get(key).await?)? {
                stats.counts.add(record.status, record.ever_synced);
                stats
                    .by_object
                    .entry(record.object.clone())
                    .or_default()
                    .add(record.status, record.ever_synced);
            }
        }
        if keys.len() < SCAN_PAGE {
            break;
        }
        after = keys.last().cloned();
    }
    Ok(stats)
}
