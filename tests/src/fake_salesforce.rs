//! A fake Salesforce for the pull and reconcile tests, on 127.0.0.1: the
//! OAuth 2.0 client-credentials token endpoint and the REST query API over a
//! seeded data set, as the real one answers.
//!
//! - `POST /services/oauth2/token` (form body `grant_type=client_credentials`,
//!   `client_id`, `client_secret`) → `{"access_token","instance_url",
//!   "token_type":"Bearer","issued_at"}`, or `400 {"error":"invalid_client",…}`.
//! - `GET /services/data/v{N}/query?q=SOQL` → `{"totalSize","done","records",
//!   "nextRecordsUrl"}`; each record carries `attributes` and the selected
//!   fields. The SOQL understood is what sfsync sends: `SELECT f, … FROM Obj
//!   [WHERE SystemModstamp >= T] ORDER BY SystemModstamp, Id`. Pages follow
//!   `Sforce-Query-Options: batchSize=N` (200 to 2000, default 2000).
//! - `GET /services/data/v{N}/query/{locator}-{offset}` → the next page.
//! - Every answer carries `Sforce-Limit-Info: api-usage=used/limit`.
//! - It counts the requests it answers at once ([`FakeSalesforce::
//!   peak_in_flight`]), each made to take [`FakeSalesforce::set_delay`].
//! - Expired tokens answer `401 [{"errorCode":"INVALID_SESSION_ID"}]`; past
//!   the daily limit, `403 [{"errorCode":"REQUEST_LIMIT_EXCEEDED"}]`; injected
//!   faults answer `429`/`503`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};

pub const CLIENT_ID: &str = "3MVG9fake.client.id";
pub const CLIENT_SECRET: &str = "fake-client-secret-e2e";

/// One seeded record: its object, fields, and `SystemModstamp`.
#[derive(Debug, Clone)]
pub struct SfRecord {
    pub object: String,
    pub fields: BTreeMap<String, Value>,
}

impl SfRecord {
    fn stamp(&self) -> String {
        self.fields
            .get("SystemModstamp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
    fn id(&self) -> String {
        self.fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Default)]
struct State {
    records: Vec<SfRecord>,
    tokens: Vec<String>,
    issued: u64,
    api_used: u64,
    api_limit: u64,
    /// Open query locators: the ids of the result, in order.
    locators: BTreeMap<String, (Vec<usize>, Vec<String>)>,
    next_locator: u64,
    /// Statuses to answer the next query calls with, and the
    /// `Retry-After` each asks for.
    faults: Vec<(u16, Option<u64>)>,
    queries: Vec<String>,
    token_calls: u64,
    /// How long each answer takes.
    delay: std::time::Duration,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: u32,
    peak_in_flight: u32,
}

/// The running fake.
pub struct FakeSalesforce {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    _server: crate::loopback::Server,
}

impl FakeSalesforce {
    pub fn start() -> FakeSalesforce {
        let state = Arc::new(Mutex::new(State {
            api_limit: 1_000_000,
            ..State::default()
        }));
        let shared = state.clone();
        let server = crate::loopback::serve(move |req| serve(shared.clone(), req));
        FakeSalesforce {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:{port}`, the value for `sf_my_domain_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add or replace a record (by Id).
    pub fn upsert(&self, object: &str, fields: Value) {
        let fields: BTreeMap<String, Value> = fields
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut s = self.lock();
        let id = fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        s.records.retain(|r| !(r.object == object && r.id() == id));
        s.records.push(SfRecord {
            object: object.into(),
            fields,
        });
    }

    /// Make every token issued so far expired.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The daily API limit, and how much of it is used.
    pub fn set_api_usage(&self, used: u64, limit: u64) {
        let mut s = self.lock();
        s.api_used = used;
        s.api_limit = limit;
    }

    /// Answer the next query calls with these statuses, in order.
    pub fn fail_next_queries(&self, statuses: &[u16]) {
        self.lock()
            .faults
            .extend(statuses.iter().map(|&status| (status, None)));
    }

    /// The same, each answer asking to wait `retry_after_secs`.
    pub fn fail_next_queries_asking(&self, statuses: &[u16], retry_after_secs: u64) {
        self.lock().faults.extend(
            statuses
                .iter()
                .map(|&status| (status, Some(retry_after_secs))),
        );
    }

    /// The SOQL of every query call so far.
    pub fn queries(&self) -> Vec<String> {
        self.lock().queries.clone()
    }

    /// How many tokens were asked for.
    pub fn token_calls(&self) -> u64 {
        self.lock().token_calls
    }

    /// Make every answer take this long (to see requests overlap).
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.lock().delay = delay;
    }

    /// The most requests (tokens included) that were being answered at once.
    pub fn peak_in_flight(&self) -> u32 {
        self.lock().peak_in_flight
    }

    /// API calls made (tokens excluded), as Sforce-Limit-Info counts them.
    pub fn api_used(&self) -> u64 {
        self.lock().api_used
    }
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of sfsync's SOQL: fields, object, lower bound.
fn parse_soql(q: &str) -> Option<(Vec<String>, String, Option<String>)> {
    let rest = q.strip_prefix("SELECT ")?;
    let (fields, rest) = rest.split_once(" FROM ")?;
    let fields = fields.split(',').map(|f| f.trim().to_string()).collect();
    let (object, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let since = rest
        .split_once("WHERE SystemModstamp >= ")
        .map(|(_, r)| r.split(' ').next().unwrap_or_default().to_string());
    Some((fields, object.to_string(), since))
}

/// A date-time to the second (`2026-11-20T10:15:00`), for comparing the
/// record form (`.000+0000`) with the literal form (`Z`); both are UTC.
fn at_second(t: &str) -> String {
    t.get(..19).unwrap_or(t).to_string()
}

fn page(s: &mut State, locator: &str, offset: usize, batch: usize) -> Value {
    let Some((indices, fields)) = s.locators.get(locator).cloned() else {
        return json!([{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}]);
    };
    let end = (offset + batch).min(indices.len());
    let records: Vec<Value> = indices[offset..end]
        .iter()
        .map(|&i| {
            let r = &s.records[i];
            let mut out = Map::new();
            out.insert(
                "attributes".into(),
                json!({"type": r.object, "url": format!("/services/data/v62.0/sobjects/{}/{}", r.object, r.id())}),
            );
            for f in &fields {
                out.insert(f.clone(), r.fields.get(f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect();
    let done = end >= indices.len();
    let mut reply = json!({"totalSize": indices.len(), "done": done, "records": records});
    if !done {
        reply["nextRecordsUrl"] = json!(format!("/services/data/v62.0/query/{locator}-{end}"));
    }
    reply
}

async fn serve(
    state: Arc<Mutex<State>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let auth = header("authorization");
    let batch = header("sforce-query-options")
        .strip_prefix("batchSize=")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(2000)
        .clamp(200, 2000);
    let delay = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.in_flight += 1;
        s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
        s.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    s.in_flight -= 1;
    let mut retry_after = None;
    let (status, reply) = if parts.method == "POST" && path == "/services/oauth2/token" {
        s.token_calls += 1;
        let f = form(&body);
        if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
            (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
            )
        } else if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
        {
            (
                400,
                json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
            )
        } else {
            s.issued += 1;
            let token = format!("00Dfake!token{}", s.issued);
            s.tokens.push(token.clone());
            (
                200,
                json!({"access_token": token, "instance_url": format!("http://{}", header("host")), "token_type": "Bearer", "issued_at": "1764650000000", "signature": "fake"}),
            )
        }
    } else if !s.tokens.iter().any(|t| auth == format!("Bearer {t}")) {
        (
            401,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        )
    } else if s.api_used >= s.api_limit {
        (
            403,
            json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
        )
    } else if !s.faults.is_empty() {
        s.api_used += 1;
        let (status, wait) = s.faults.remove(0);
        retry_after = wait;
        (
            status,
            json!([{"message": "injected", "errorCode": "SERVER_UNAVAILABLE"}]),
        )
    } else if parts.method == "GET"
        && path.starts_with("/services/data/")
        && path.ends_with("/query")
    {
        s.api_used += 1;
        let q = form(query.as_bytes()).get("q").cloned().unwrap_or_default();
        s.queries.push(q.clone());
        match parse_soql(&q) {
            None => (
                400,
                json!([{"message": format!("unexpected SOQL: {q}"), "errorCode": "MALFORMED_QUERY"}]),
            ),
            Some((fields, object, since)) => {
                let mut indices: Vec<usize> = (0..s.records.len())
                    .filter(|&i| s.records[i].object == object)
                    .filter(|&i| {
                        since
                            .as_deref()
                            .is_none_or(|t| at_second(&s.records[i].stamp()) >= at_second(t))
                    })
                    .collect();
                indices.sort_by_key(|&i| (s.records[i].stamp(), s.records[i].id()));
                s.next_locator += 1;
                let locator = format!("01gfake{}", s.next_locator);
                s.locators.insert(locator.clone(), (indices, fields));
                (200, page(&mut s, &locator, 0, batch))
            }
        }
    } else if parts.method == "GET" && path.contains("/query/") {
        s.api_used += 1;
        let tail = path.rsplit('/').next().unwrap_or_default();
        let (locator, offset) = tail.rsplit_once('-').unwrap_or((tail, "0"));
        let reply = page(&mut s, locator, offset.parse().unwrap_or(0), batch);
        (if reply.is_array() { 400 } else { 200 }, reply)
    } else {
        (
            404,
            json!([{"message": format!("no route {path}"), "errorCode": "NOT_FOUND"}]),
        )
    };
    let limit = format!("api-usage={}/{}", s.api_used, s.api_limit);
    drop(s);
    let mut builder = hyper::Response::builder();
    if let Some(secs) = retry_after {
        builder = builder.header("retry-after", secs.to_string());
    }
    builder
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .header("sforce-limit-info", limit)
        .body(Full::new(Bytes::from(reply.to_string())))
        .map_err(|e| std::io::Error::other(e.to_string()))
}
