//! The mapping at run time: `GET /admin/mapping` (the active TOML),
//! `PUT /admin/mapping` (validate, then activate, keeping the replaced
//! version), `POST /admin/mapping/validate`, `GET /admin/mapping/history`.
//!
//! A mapping is checked in full — its own rules and its fit with the
//! configured destination — and one with any problem is never activated:
//! `422 {"error":"mapping has N problems","problems":[{"path","message"}]}`.

use serde_json::json;

use crate::context::Context;
use crate::io::{Http, Kv};
use crate::mapping::load::check_for_destination;
use crate::mapping::{Mapping, Problem, DEFAULT_MAPPING_TOML};
use crate::settings::Settings;
use crate::store::{self, StoredMapping};
use crate::web::{Request, Response};

use super::error::AdminError;
use super::wire::ProblemView;

/// `GET /admin/mapping`: the active mapping as TOML.
pub async fn get<K: Kv>(kv: &K) -> Result<Response, AdminError> {
    Ok(match store::stored_mapping(kv).await? {
        Some(m) => Response::new(200, "application/toml", m.toml)
            .with_header("x-sfsync-mapping-source", "stored")
            .with_header("x-sfsync-mapping-updated-at", &m.updated_at.to_rfc3339())
            .with_header("x-sfsync-mapping-updated-by", &m.updated_by),
        None => Response::new(200, "application/toml", DEFAULT_MAPPING_TOML)
            .with_header("x-sfsync-mapping-source", "bundled"),
    })
}

/// Check a mapping body.
fn check(req: &Request, settings: &Settings) -> Result<(String, Mapping), AdminError> {
    let text = String::from_utf8(req.body.clone()).map_err(|_| {
        AdminError::BadRequest(
            "the mapping must be UTF-8 TOML text (Content-Type: application/toml)".into(),
        )
    })?;
    if text.trim().is_empty() {
        return Err(AdminError::BadRequest(
            "empty body: send the mapping as TOML, in the format of config/mapping.toml".into(),
        ));
    }
    let problems: Vec<Problem> = match Mapping::from_toml(&text) {
        Err(e) => e.0,
        Ok(m) => {
            let p = check_for_destination(&m, settings.destination);
            if p.is_empty() {
                return Ok((text, m));
            }
            p
        }
    };
    Err(AdminError::Unprocessable(
        format!(
            "mapping has {} problem{}; nothing was changed",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ),
        problems
            .iter()
            .map(|p| ProblemView {
                path: p.path.clone(),
                message: p.message.clone(),
            })
            .collect(),
    ))
}

fn summary(m: &Mapping) -> serde_json::Value {
    json!(m
        .objects
        .values()
        .map(|o| json!({
            "object": o.object,
            "entity": o.entity,
            "key": o.key,
            "triggers": o.triggers.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "fields": o.fields.keys().collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

/// `POST /admin/mapping/validate`.
pub fn validate(req: &Request, settings: &Settings) -> Response {
    match check(req, settings).map_err(AdminError::into_response) {
        Ok((_, m)) => Response::json(200, &json!({"valid": true, "objects": summary(&m)})),
        Err(resp) => resp,
    }
}

/// `PUT /admin/mapping`. Who: the `X-Sfsync-User` header (the CLI sends the
/// local user name), else `admin`.
pub async fn put<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let (text, mapping) = check(req, ctx.settings)?;
    let by = req
        .header("x-sfsync-user")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or("admin")
        .chars()
        .take(100)
        .collect::<String>();
    let stored = StoredMapping {
        toml: text,
        updated_at: ctx.now,
        updated_by: by,
        compiled: Some(mapping.clone()),
    };
    let kept = store::put_mapping(ctx.kv, &stored).await?;
    Ok(Response::json(
        200,
        &json!({
            "active": true,
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
            "previous_versions": kept,
            "objects": summary(&mapping),
        }),
    ))
}

/// `GET /admin/mapping/history`: replaced versions, newest first.
pub async fn history<K: Kv>(kv: &K) -> Result<Response, AdminError> {
    let versions = store::mapping_history(kv).await?;
    Ok(Response::json(200, &json!({ "versions": versions })))
}
