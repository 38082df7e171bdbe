//! Salesforce as a source: reading records through its REST API, for the
//! initial load (`POST /admin/pull`) without a CSV file.
//!
//! - **Connection** ([`Client`]): the OAuth 2.0 client-credentials flow of a
//!   connected app (`sf_my_domain_url`, `sf_client_id`, `sf_client_secret`).
//!   The access token is kept in the store ([`store::SF_TOKEN_KEY`]),
//!   sealed ([`token_cache`]), for [`TOKEN_KEPT_MINUTES`], so every
//!   request does not ask for one; an
//!   answer of `401 INVALID_SESSION_ID` gets a new one and the call is
//!   made once more. Every call goes to the My Domain host, the one entry
//!   `allowed_outbound_hosts` lists for it.
//! - **Budget**: each answer's `Sforce-Limit-Info: api-usage=used/limit` is
//!   read and handed back ([`ApiUsage`]).
//! - **Concurrency** ([`slots`]): every request first takes one of
//!   `sf_max_concurrent_requests` slots shared by every instance and node.
//! - **Retries**: an answer of `429` or `5xx` (or no answer) is tried again
//!   twice in the same call, after its `Retry-After` when that is short
//!   ([`RETRY_WAITS`] otherwise), then handed back as
//!   [`SalesforceError::Failed`] of kind transient. `403
//!   REQUEST_LIMIT_EXCEEDED` (the day's API requests are used up) is not
//!   tried again.
//! - **Queries** ([`query`]): the SOQL that reads what the mapping needs,
//!   its pages, and turning records into [`crate::sobject::SObject`]s.

pub mod query;
pub mod slots;
pub mod token_cache;

use std::cell::{Cell, RefCell};

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::time::Duration as StdDuration;

use crate::context::Context;
use crate::failure::{ErrorKind, Failure};
use crate::io::{Http, HttpRequest, HttpResponse, Kv};
use crate::store;
use crate::web::percent_encode;

/// The REST API version sfsync speaks.
pub const API_VERSION: &str = "v62.0";

/// How long a token is reused before a new one is asked for (Salesforce's
/// shortest session timeout is 15 minutes; a 401 renews it sooner).
pub const TOKEN_KEPT_MINUTES: i64 = 10;

const WHO: &str = "Salesforce";

/// The waits before the second and third try of a request Salesforce
/// answered `429`/`5xx`, unless its `Retry-After` says (at most
/// [`MAX_RETRY_AFTER`]).
pub const RETRY_WAITS: [StdDuration; 2] = [StdDuration::from_secs(1), StdDuration::from_secs(3)];

/// The longest `Retry-After` waited for within a call; a longer one is
/// handed to the caller.
pub const MAX_RETRY_AFTER: StdDuration = StdDuration::from_secs(5);

/// Why a read from Salesforce did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalesforceError {
    /// A connected-app variable is missing; the text names it.
    #[error("{0}")]
    Unconfigured(String),
    /// Every slot is taken ([`slots`]), or the store could not be read.
    #[error(transparent)]
    NoSlot(#[from] slots::SlotError),
    /// Salesforce refused, failed or could not be reached. A transient
    /// kind may be tried again later; `retry_after` is what it asked for.
    #[error("{}", .failure.message)]
    Failed {
        failure: Failure,
        retry_after: Option<StdDuration>,
    },
}

impl From<Failure> for SalesforceError {
    fn from(failure: Failure) -> Self {
        SalesforceError::Failed {
            failure,
            retry_after: None,
        }
    }
}
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
    pub fn new(ctx: &'c Context<'a, K, H>) -> Result<Self, SalesforceError> {
        let s = ctx.settings;
        let missing = |v: &str| {
            SalesforceError::Unconfigured(format!(
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
    /// Whether Salesforce issues a token (the stored one while fresh): a
    /// check that spends none of the org's API requests.
    pub async fn check(&self) -> Result<(), SalesforceError> {
        self.token(false).await.map(|_| ())
    }

    /// The consumer secret (checked present by [`Client::new`]).
    fn secret(&self) -> &str {
        self.ctx
            .settings
            .sf_client_secret
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or_default()
    }

    /// Send one request under a slot ([`slots`]); the slot is given back
    /// as soon as the answer is in.
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, SalesforceError> {
        let slot = slots::take(self.ctx, self.ctx.settings.sf_max_concurrent_requests).await?;
        let sent = self.ctx.outbound().send(req).await;
        slots::give_back(self.ctx.kv, slot).await;
        sent.map_err(|e| {
            Failure::transient(format!(
                "{WHO} could not be reached ({e}); check sf_my_domain_url and that this host may call it, then run again"
            ))
            .into()
        })
    }

    async fn token(&self, renew: bool) -> Result<String, SalesforceError> {
        if !renew {
            if let Some(t) = self.token.borrow().clone() {
                return Ok(t);
            }
            let cached = self
                .ctx
                .kv
                .get(store::SF_TOKEN_KEY)
                .await
                .ok()
                .flatten()
                .and_then(|b| token_cache::open(&self.client_id, self.secret(), &b));
            if let Some((token, at)) = cached {
                if self.ctx.now - at < Duration::minutes(TOKEN_KEPT_MINUTES) {
                    *self.token.borrow_mut() = Some(token.clone());
                    return Ok(token);
                }
            }
        }
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            percent_encode(&self.client_id),
            percent_encode(self.secret())
        );
        let mut req =
            HttpRequest::json("POST", format!("{}/services/oauth2/token", self.base), None);
        req.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        req.body = body.into_bytes();
        let resp = self.send(req).await?;
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if !(200..300).contains(&resp.status) {
            let why = v["error_description"]
                .as_str()
                .or(v["error"].as_str())
                .unwrap_or("no reason given");
            return Err(Failure {
                kind: ErrorKind::Config,
                http_status: Some(resp.status),
                message: format!(
                    "{WHO} refused a token ({}: {why}); check sf_client_id and sf_client_secret, and that the connected app enables the client credentials flow with a run-as user",
                    resp.status
                ),
            }
            .into());
        }
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| Failure::transient(format!("{WHO}'s token answer has no access_token; check that sf_my_domain_url is the org's My Domain URL (Setup > My Domain), not a proxy or login page")))?
            .to_string();
        let sealed = token_cache::seal(
            &self.client_id,
            self.secret(),
            &token,
            self.ctx.now,
            self.ctx.next_lease_token(),
        );
        if let Some(bytes) = sealed.and_then(|s| serde_json::to_vec(&s).ok()) {
            // A token that cannot be kept is asked for again next time.
            let _ = self.ctx.kv.set(store::SF_TOKEN_KEY, &bytes).await;
        }
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// `GET` a REST path (`/services/data/…`), with a new token once if the
    /// session expired, and twice more after a `429`/`5xx` or no answer.
    /// `batch` asks for that many records a page.
    pub async fn get(&self, path: &str, batch: Option<u32>) -> Result<Value, SalesforceError> {
        let mut renewed = false;
        let mut waits = RETRY_WAITS.iter();
        loop {
            let token = self.token(renewed).await?;
            let mut req = HttpRequest::json("GET", format!("{}{path}", self.base), None)
                .with_header("authorization", &format!("Bearer {token}"));
            if let Some(n) = batch {
                req = req.with_header("sforce-query-options", &format!("batchSize={n}"));
            }
            let answer = match self.send(req).await {
                Ok(resp) => self.read(resp),
                Err(e) => Err(e),
            };
            let retry = match &answer {
                Err(SalesforceError::Failed {
                    failure,
                    retry_after,
                }) if failure.kind == ErrorKind::Transient && failure.http_status != Some(403) => {
                    match (retry_after, waits.next()) {
                        (Some(asked), Some(_)) if *asked <= MAX_RETRY_AFTER => Some(*asked),
                        (None, Some(wait)) => Some(*wait),
                        _ => None,
                    }
                }
                Err(SalesforceError::Failed { failure, .. })
                    if failure.http_status == Some(401) && !renewed =>
                {
                    renewed = true;
                    continue;
                }
                _ => None,
            };
            match retry {
                Some(wait)
                    if self
                        .ctx
                        .budget
                        .remaining((self.ctx.elapsed)() + wait)
                        .is_ok() =>
                {
                    self.ctx.http.sleep(wait).await;
                }
                _ => return answer,
            }
        }
    }

    /// Read one answer: its limit header, then its body or its error.
    fn read(&self, resp: HttpResponse) -> Result<Value, SalesforceError> {
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
        let failed = |kind, message: String| {
            Err(SalesforceError::Failed {
                failure: Failure {
                    kind,
                    http_status: Some(resp.status),
                    message,
                },
                retry_after: crate::budget::retry_after(&resp),
            })
        };
        match resp.status {
            200..=299 => Ok(v),
            401 => failed(
                ErrorKind::Config,
                format!("{WHO} refused the session ({code}: {message}) even with a new token; check that the connected app's run-as user is active and has API Enabled"),
            ),
            403 if code == "REQUEST_LIMIT_EXCEEDED" => failed(
                ErrorKind::Transient,
                format!("{WHO}'s daily API limit is used up ({message}); run again tomorrow, or raise the limit"),
            ),
            status @ (429 | 500..=599) => failed(
                ErrorKind::Transient,
                format!("{WHO} answered {status} ({code}: {message}) three times; run again later"),
            ),
            status => failed(
                ErrorKind::Permanent,
                format!("{WHO} answered {status}: {code}: {message}; check that the run-as user can read the object and every field the mapping reads (sfsync mapping get lists them)"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::io::HttpError;
    use crate::memory::{settings_from, MemoryKv, ScriptedHttp};

    fn answer(
        status: u16,
        retry_after: Option<&str>,
        body: &str,
    ) -> Result<HttpResponse, HttpError> {
        let mut headers = BTreeMap::new();
        headers.insert(
            "sforce-limit-info".to_string(),
            "api-usage=5/100".to_string(),
        );
        if let Some(r) = retry_after {
            headers.insert("retry-after".to_string(), r.to_string());
        }
        Ok(HttpResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        })
    }

    /// `get` against scripted answers (the first is the token's).
    fn get_with(
        replies: Vec<Result<HttpResponse, HttpError>>,
    ) -> (Result<Value, SalesforceError>, ScriptedHttp) {
        let kv = MemoryKv::default();
        let http = ScriptedHttp::default();
        *http.replies.borrow_mut() = replies;
        let settings = settings_from(&[
            ("sf_my_domain_url", "https://acme.my.salesforce.com"),
            ("sf_client_id", "id"),
            ("sf_client_secret", "secret"),
        ]);
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let elapsed = || StdDuration::ZERO;
        let ctx = Context::new(&settings, &kv, &http, now, &elapsed, 7);
        let got = futures::executor::block_on(async {
            let client = Client::new(&ctx)?;
            client.get("/services/data/v62.0/query?q=x", None).await
        });
        (got, http)
    }

    const TOKEN: &str = r#"{"access_token":"tok"}"#;
    const BUSY: &str = r#"[{"errorCode":"SERVER_UNAVAILABLE","message":"down"}]"#;

    #[test]
    fn an_unavailable_salesforce_is_tried_twice_more_after_its_retry_after() {
        let (got, http) = get_with(vec![
            answer(200, None, TOKEN),
            answer(503, Some("2"), BUSY),
            answer(429, None, BUSY),
            answer(200, None, r#"{"records":[]}"#),
        ]);
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(
            *http.slept.borrow(),
            vec![StdDuration::from_secs(2), RETRY_WAITS[1]],
            "Retry-After first, then the fixed wait"
        );
    }

    #[test]
    fn the_third_failure_is_handed_back_as_transient_and_a_spent_day_is_not_retried() {
        let (got, http) = get_with(vec![
            answer(200, None, TOKEN),
            answer(503, None, BUSY),
            answer(503, None, BUSY),
            answer(503, Some("120"), BUSY),
        ]);
        match got {
            Err(SalesforceError::Failed {
                failure,
                retry_after,
            }) => {
                assert_eq!(failure.kind, ErrorKind::Transient);
                assert!(failure.message.contains("run again later"), "{failure:?}");
                assert_eq!(retry_after, Some(StdDuration::from_secs(120)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(http.sent.borrow().len(), 4);

        let (got, http) = get_with(vec![
            answer(200, None, TOKEN),
            answer(
                403,
                None,
                r#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]"#,
            ),
        ]);
        assert!(
            matches!(&got, Err(SalesforceError::Failed { failure, .. }) if failure.message.contains("daily API limit")),
            "{got:?}"
        );
        assert_eq!(http.sent.borrow().len(), 2, "not tried again");
        assert!(http.slept.borrow().is_empty());
    }

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
