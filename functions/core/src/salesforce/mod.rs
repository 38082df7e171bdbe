//! Salesforce as a source: reading records through its REST API, for the
//! initial load (`POST /admin/pull`) without a CSV file.
//!
//! - **Connection** ([`Client`]): the OAuth 2.0 client-credentials flow of a
//!   connected app (`sf_my_domain_url`, `sf_client_id`, `sf_client_secret`).
//!   The access token is kept in the store ([`store::SF_TOKEN_KEY`]) for
//!   [`TOKEN_KEPT_MINUTES`], so every request does not ask for one; an
//!   answer of `401 INVALID_SESSION_ID` gets a new one and the call is
//!   made once more. Every call goes to the My Domain host, the one entry
//!   `allowed_outbound_hosts` lists for it.
//! - **Budget**: each answer's `Sforce-Limit-Info: api-usage=used/limit` is
//!   read and handed back ([`ApiUsage`]).
//! - **Queries** ([`query`]): the SOQL that reads what the mapping needs,
//!   its pages, and turning records into [`crate::sobject::SObject`]s.

pub mod query;

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Context;
use crate::failure::Failure;
use crate::io::{Http, HttpRequest, Kv};
use crate::store;
use crate::web::percent_encode;

/// The REST API version sfsync speaks.
pub const API_VERSION: &str = "v62.0";

/// How long a token is reused before a new one is asked for (Salesforce's
/// shortest session timeout is 15 minutes; a 401 renews it sooner).
pub const TOKEN_KEPT_MINUTES: i64 = 10;

const WHO: &str = "Salesforce";

/// The org's daily API use, from `Sforce-Limit-Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
}

impl ApiUsage {
    /// `api-usage=18/5000`.
    pub fn parse(header: &str) -> Option<ApiUsage> {
        let value = header
            .split(';')
            .find_map(|p| p.trim().strip_prefix("api-usage="))?;
        let (used, limit) = value.split_once('/')?;
        Some(ApiUsage {
            used: used.trim().parse().ok()?,
            limit: limit.trim().parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedToken {
    access_token: String,
    at: DateTime<Utc>,
}

/// A connection to the org's REST API for one request.
pub struct Client<'c, 'a, K, H> {
    ctx: &'c Context<'a, K, H>,
    base: String,
    client_id: String,
    token: RefCell<Option<String>>,
    /// The last `Sforce-Limit-Info` seen.
    pub usage: Cell<Option<ApiUsage>>,
}

impl<'c, 'a, K: Kv, H: Http> Client<'c, 'a, K, H> {
    /// A client from the settings, or the configuration error that says
    /// which variable to set.
    pub fn new(ctx: &'c Context<'a, K, H>) -> Result<Self, Failure> {
        let s = ctx.settings;
        let missing = |v: &str| {
            Failure::config(format!(
                "reading from Salesforce needs the variable {v}; set sf_my_domain_url, sf_client_id and sf_client_secret (a connected app with the client credentials flow, see docs/salesforce-setup.md)"
            ))
        };
        let base = s
            .sf_my_domain_url
            .clone()
            .ok_or_else(|| missing("sf_my_domain_url"))?;
        let client_id = s
            .sf_client_id
            .clone()
            .ok_or_else(|| missing("sf_client_id"))?;
        if s.sf_client_secret.is_none() {
            return Err(missing("sf_client_secret"));
        }
        Ok(Client {
            ctx,
            base,
            client_id,
            token: RefCell::new(None),
            usage: Cell::new(None),
        })
    }

    /// A token: this request's, the stored one while fresh, else a new one.
    async fn token(&self, renew: bool) -> Result<String, Failure> {
        if !renew {
            if let Some(t) = self.token.borrow().clone() {
                return Ok(t);
            }
            let cached: Option<CachedToken> = self
                .ctx
                .kv
                .get(store::SF_TOKEN_KEY)
                .await
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(c) = cached {
                if self.ctx.now - c.at < Duration::minutes(TOKEN_KEPT_MINUTES) {
                    *self.token.borrow_mut() = Some(c.access_token.clone());
                    return Ok(c.access_token);
                }
            }
        }
        let secret = self
            .ctx
            .settings
            .sf_client_secret
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            percent_encode(&self.client_id),
            percent_encode(&secret)
        );
        let mut req =
            HttpRequest::json("POST", format!("{}/services/oauth2/token", self.base), None);
        req.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        req.body = body.into_bytes();
        let resp = self.ctx.outbound().send(req).await.map_err(|e| {
            Failure::transient(format!("{WHO} could not be reached for a token: {e}"))
        })?;
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if !(200..300).contains(&resp.status) {
            let why = v["error_description"]
                .as_str()
                .or(v["error"].as_str())
                .unwrap_or("no reason given");
            return Err(Failure {
                kind: crate::failure::ErrorKind::Config,
                http_status: Some(resp.status),
                message: format!(
                    "{WHO} refused a token ({}: {why}); check sf_client_id and sf_client_secret, and that the connected app enables the client credentials flow with a run-as user",
                    resp.status
                ),
            });
        }
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| Failure::transient(format!("{WHO}'s token answer has no access_token; check that sf_my_domain_url is the org's My Domain URL (Setup > My Domain), not a proxy or login page")))?
            .to_string();
        let cached = CachedToken {
            access_token: token.clone(),
            at: self.ctx.now,
        };
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            // A token that cannot be kept is asked for again next time.
            let _ = self.ctx.kv.set(store::SF_TOKEN_KEY, &bytes).await;
        }
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// `GET` a REST path (`/services/data/…`), with a new token once if the
    /// session expired. `batch` asks for that many records a page.
    pub async fn get(&self, path: &str, batch: Option<u32>) -> Result<Value, Failure> {
        let mut renewed = false;
        loop {
            let token = self.token(renewed).await?;
            let mut req = HttpRequest::json("GET", format!("{}{path}", self.base), None)
                .with_header("authorization", &format!("Bearer {token}"));
            if let Some(n) = batch {
                req = req.with_header("sforce-query-options", &format!("batchSize={n}"));
            }
            let resp = self
                .ctx
                .outbound()
                .send(req)
                .await
                .map_err(|e| Failure::transient(format!("{WHO} could not be reached: {e}")))?;
            if let Some(u) = resp
                .headers
                .get("sforce-limit-info")
                .and_then(|h| ApiUsage::parse(h))
            {
                self.usage.set(Some(u));
            }
            let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            let code = v[0]["errorCode"].as_str().unwrap_or_default().to_string();
            let message = v[0]["message"].as_str().unwrap_or_default().to_string();
            match resp.status {
                200..=299 => return Ok(v),
                401 if !renewed => {
                    renewed = true;
                    continue;
                }
                403 if code == "REQUEST_LIMIT_EXCEEDED" => {
                    return Err(Failure {
                        kind: crate::failure::ErrorKind::Transient,
                        http_status: Some(403),
                        message: format!("{WHO}'s daily API limit is used up ({message}); run again tomorrow, or raise the limit"),
                    })
                }
                status @ (429 | 500..=599) => {
                    return Err(Failure {
                        kind: crate::failure::ErrorKind::Transient,
                        http_status: Some(status),
                        message: format!("{WHO} answered {status} ({code}: {message}); run again later"),
                    })
                }
                status => {
                    return Err(Failure {
                        kind: crate::failure::ErrorKind::Permanent,
                        http_status: Some(status),
                        message: format!("{WHO} answered {status}: {code}: {message}"),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_is_read() {
        assert_eq!(
            ApiUsage::parse("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                limit: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=1/10(appName=x); api-usage=7/15000"),
            Some(ApiUsage {
                used: 7,
                limit: 15000
            })
        );
        assert_eq!(ApiUsage::parse("nonsense"), None);
    }
}
