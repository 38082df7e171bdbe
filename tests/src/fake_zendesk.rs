//! A fake Zendesk for the end-to-end tests: a real HTTP server on 127.0.0.1
//! that keeps state and answers like the subset of the Support API sfsync
//! uses (`shared/specs/zendesk-api.md`), including its errors.
//!
//! It keeps organizations (names unique), users (emails unique,
//! case-insensitive), memberships with a default, and job statuses, in
//! either multi-organization mode; checks `email/token:token` Basic auth;
//! enforces a per-minute rate limit with 429 and `Retry-After` (and says
//! what is left in `X-Rate-Limit-Remaining`); runs bulk jobs later, as
//! Zendesk does (queued, then done; at most 30 open, the last 100 kept); and takes
//! faults: fail the next N calls to a path with a status, add latency, drop
//! connections. Every request is logged so tests can count calls. It stops
//! when dropped.
//!
//! Beyond the spec's subset, it merges end users as Zendesk's "Merge End
//! Users" call does: `PUT /api/v2/users/{source}/merge` with
//! `{"user":{"id":target}}` answers `200 {"user":{…target}}`, `source` is
//! gone and its memberships move to `target`; `404` when `source` does not
//! exist, `422` when `target` does not or either is an agent.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

#[derive(Debug, Clone)]
struct Fault {
    path_contains: String,
    /// Only requests whose body contains this text.
    body_contains: Option<String>,
    remaining: u32,
    /// `None` drops the connection.
    status: Option<u16>,
    retry_after: Option<u64>,
}

/// A fault for one call, counted from when it is set ([`FakeZendesk::fail_call`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFault {
    /// Answer with this status (and `Retry-After`, seconds), do nothing.
    Status(u16, Option<u64>),
    /// The same, answered at once, ahead of the latency other calls wait:
    /// the fault reaches sfsync while the calls started with it are still
    /// under way.
    StatusAtOnce(u16, Option<u64>),
    /// Drop the connection without an answer (a reset).
    Reset,
    /// Answer only after this long (a hang, to a client with a timeout).
    Hang(Duration),
}

/// A bulk job: its inputs until it has run, then its results.
#[derive(Debug, Clone)]
struct Job {
    entity: &'static str,
    due: Instant,
    inputs: Vec<Value>,
    results: Option<Vec<Value>>,
}

/// Zendesk lets an account have this many bulk jobs queued or running.
pub const MAX_OPEN_JOBS: usize = 30;
/// Zendesk lists only this many job statuses.
pub const JOBS_KEPT: usize = 100;

#[derive(Debug, Default)]
struct State {
    /// Requests served so far, and faults by request number.
    served: usize,
    call_faults: Vec<(usize, CallFault)>,
    next_id: u64,
    orgs: BTreeMap<u64, Map<String, Value>>,
    users: BTreeMap<u64, Map<String, Value>>,
    /// (membership id, user id, organization id, default)
    /// By user: (membership id, user id, organization id, default).
    memberships: HashMap<u64, Vec<(u64, u64, u64, bool)>>,
    /// Bulk jobs by id: queued until `due`, then done (their work applied).
    jobs: BTreeMap<u64, Job>,
    /// How long a bulk job takes.
    job_delay: Duration,
    /// Users by external id and by lower-case email; organizations by
    /// external id (the fake holds tens of thousands in the benchmarks).
    user_ext: HashMap<String, u64>,
    user_email: HashMap<String, u64>,
    org_ext: HashMap<String, u64>,
    multi_org: bool,
    credentials: (String, String),
    rate_limit: Option<u32>,
    window: Option<(Instant, u32)>,
    /// Calls refused for the rate limit.
    limited: usize,
    faults: Vec<Fault>,
    latency: Duration,
    log: Vec<Logged>,
}

/// A running fake Zendesk.
pub struct FakeZendesk {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: crate::loopback::Server,
}

pub const AGENT_EMAIL: &str = "agent@acme.example";
pub const API_TOKEN: &str = "zendesk-token-e2e";

type Reply = (u16, Value);

fn not_found() -> Reply {
    (
        404,
        json!({"error": "RecordNotFound", "description": "Not found"}),
    )
}

fn invalid(field: &str, description: String, error: &str) -> Reply {
    (
        422,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
               "details": {field: [{"description": description, "error": error}]}}),
    )
}

impl FakeZendesk {
    /// Start on 127.0.0.1 on a free port.
    pub fn start(multi_org: bool) -> FakeZendesk {
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            job_delay: Duration::from_millis(300),
            multi_org,
            credentials: (AGENT_EMAIL.into(), API_TOKEN.into()),
            ..State::default()
        }));
        let shared = state.clone();
        let server = crate::loopback::serve(move |req| serve(shared.clone(), req));
        FakeZendesk {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:{port}`, the value for `zendesk_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state, with every bulk job that is due done.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        run_due_jobs(&mut s);
        s
    }

    /// How long a bulk job stays queued before Zendesk does it.
    pub fn set_job_delay(&self, delay: Duration) {
        self.lock().job_delay = delay;
    }

    /// Forget every job status (Zendesk keeps them about an hour).
    pub fn forget_jobs(&self) {
        self.lock().jobs.clear();
    }

    /// Fail the next `n` requests whose path contains `path` with `status`.
    pub fn fail_next(&self, path: &str, n: u32, status: u16) {
        self.fail_next_matching(path, None, n, status, None);
    }

    /// Fail the next `n` requests to `path` whose body contains `body`
    /// (any body when `None`), with `status` and an optional `Retry-After`.
    pub fn fail_next_matching(
        &self,
        path: &str,
        body: Option<&str>,
        n: u32,
        status: u16,
        retry_after: Option<u64>,
    ) {
        self.lock().faults.push(Fault {
            path_contains: path.into(),
            body_contains: body.map(str::to_string),
            remaining: n,
            status: Some(status),
            retry_after,
        });
    }

    /// Drop the connection of the next `n` requests whose path contains `path`.
    pub fn drop_next(&self, path: &str, n: u32) {
        self.lock().faults.push(Fault {
            path_contains: path.into(),
            body_contains: None,
            remaining: n,
            status: None,
            retry_after: None,
        });
    }

    /// Fault the `nth` request from now (1 is the next one), whatever its
    /// path.
    pub fn fail_call(&self, nth: usize, fault: CallFault) {
        let mut s = self.lock();
        let at = s.served + nth;
        s.call_faults.push((at, fault));
    }

    /// How many calls were refused for the rate limit.
    pub fn rate_limited(&self) -> usize {
        self.lock().limited
    }

    /// How many requests were served so far.
    pub fn served(&self) -> usize {
        self.lock().served
    }

    /// Delay every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Allow at most `per_minute` requests a minute (429 beyond).
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        let mut s = self.lock();
        s.rate_limit = per_minute;
        s.window = None;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// Requests so far with this method whose path starts with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|l| l.method == method && l.path.starts_with(prefix))
            .count()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Every user as the API shows it.
    pub fn users(&self) -> Vec<Value> {
        let s = self.lock();
        s.users.keys().map(|id| user_json(&s, *id)).collect()
    }

    pub fn organizations(&self) -> Vec<Value> {
        let s = self.lock();
        s.orgs.values().map(|o| Value::Object(o.clone())).collect()
    }

    pub fn user_by_email(&self, email: &str) -> Option<Value> {
        let s = self.lock();
        find_user_by_email(&s, email).map(|id| user_json(&s, id))
    }

    /// `(organization id, default)` of a user's memberships.
    pub fn memberships_of(&self, user_id: u64) -> Vec<(u64, bool)> {
        self.lock()
            .memberships
            .get(&user_id)
            .into_iter()
            .flatten()
            .map(|m| (m.2, m.3))
            .collect()
    }

    /// Add a user directly (as if made in Zendesk); returns its id.
    pub fn seed_user(&self, name: &str, email: &str, organization: Option<u64>) -> u64 {
        let mut s = self.lock();
        let id = next_id(&mut s);
        let mut u = Map::new();
        u.insert("id".into(), json!(id));
        u.insert("name".into(), json!(name));
        u.insert("email".into(), json!(email));
        s.users.insert(id, u);
        reindex_user(&mut s, id, (None, None));
        if let Some(org) = organization {
            add_membership(&mut s, id, org);
        }
        id
    }

    /// Set a user's `external_id` directly (as an old sync left it).
    pub fn set_user_external_id(&self, id: u64, external_id: &str) {
        let mut s = self.lock();
        let before = indexed(&s, id);
        if let Some(u) = s.users.get_mut(&id) {
            u.insert("external_id".into(), json!(external_id));
        }
        reindex_user(&mut s, id, before);
    }

    /// Add an organization directly; returns its id.
    pub fn seed_organization(&self, name: &str, external_id: Option<&str>) -> u64 {
        let mut s = self.lock();
        let id = next_id(&mut s);
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        o.insert("name".into(), json!(name));
        o.insert("external_id".into(), json!(external_id));
        s.orgs.insert(id, o);
        if let Some(e) = external_id {
            s.org_ext.insert(e.to_string(), id);
        }
        id
    }
}

fn next_id(s: &mut State) -> u64 {
    s.next_id += 1;
    s.next_id
}

fn find_user_by_email(s: &State, email: &str) -> Option<u64> {
    s.user_email.get(&email.trim().to_lowercase()).copied()
}

fn find_user_by_external_id(s: &State, ext: &str) -> Option<u64> {
    s.user_ext.get(ext).copied()
}

fn find_org_by_external_id(s: &State, ext: &str) -> Option<u64> {
    s.org_ext.get(ext).copied()
}

/// A user's external id and lower-case email, as indexed.
fn indexed(s: &State, id: u64) -> (Option<String>, Option<String>) {
    let u = s.users.get(&id);
    let text = |k: &str| {
        u.and_then(|u| u.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    (text("external_id"), text("email").map(|e| e.to_lowercase()))
}

/// Keep the user indexes in step after user `id` changed from `before`.
fn reindex_user(s: &mut State, id: u64, before: (Option<String>, Option<String>)) {
    let (ext, email) = indexed(s, id);
    if let Some(old) = before.0.filter(|o| Some(o) != ext.as_ref()) {
        if s.user_ext.get(&old) == Some(&id) {
            s.user_ext.remove(&old);
        }
    }
    if let Some(old) = before.1.filter(|o| Some(o) != email.as_ref()) {
        if s.user_email.get(&old) == Some(&id) {
            s.user_email.remove(&old);
        }
    }
    if let Some(e) = ext {
        s.user_ext.insert(e, id);
    }
    if let Some(e) = email {
        s.user_email.insert(e, id);
    }
}

/// Do every bulk job that is due: apply its inputs, keep its results.
fn run_due_jobs(s: &mut State) {
    let now = Instant::now();
    let due: Vec<u64> = s
        .jobs
        .iter()
        .filter(|(_, j)| j.results.is_none() && j.due <= now)
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        let Some(job) = s.jobs.get(&id).cloned() else {
            continue;
        };
        let results: Vec<Value> = job
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let reply = if job.entity == "users" {
                    upsert_user(s, None, Some(input))
                } else {
                    upsert_org(s, None, Some(input))
                };
                match reply {
                    (status @ (200 | 201), v) => {
                        let key = if job.entity == "users" { "user" } else { "organization" };
                        json!({"index": i, "id": v[key]["id"], "action": if status == 201 {"created"} else {"updated"}, "success": true, "status": if status == 201 {"Created"} else {"Updated"}})
                    }
                    (_, v) => json!({"index": i, "error": v["error"], "details": v["details"]}),
                }
            })
            .collect();
        if let Some(j) = s.jobs.get_mut(&id) {
            j.results = Some(results);
            j.inputs.clear();
        }
    }
    // Only the last JOBS_KEPT statuses are kept.
    while s.jobs.len() > JOBS_KEPT {
        let Some(oldest) = s.jobs.keys().next().copied() else {
            break;
        };
        s.jobs.remove(&oldest);
    }
}

fn job_json(id: u64, job: &Job) -> Value {
    let url = format!("/api/v2/job_statuses/{id}.json");
    match &job.results {
        None => {
            json!({"id": id.to_string(), "url": url, "status": "queued", "total": job.inputs.len(), "progress": 0, "results": null})
        }
        Some(results) => {
            json!({"id": id.to_string(), "url": url, "status": "completed", "total": results.len(), "progress": results.len(), "results": results})
        }
    }
}

/// `{users|organizations}/create_or_update_many`: queue a job.
fn queue_job(s: &mut State, entity: &'static str, body: &Value) -> Reply {
    let inputs = body
        .get(entity)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if inputs.is_empty() {
        return (
            400,
            json!({"error": "InvalidEndpoint", "description": format!("{entity} is required")}),
        );
    }
    if inputs.len() > 100 {
        return (
            400,
            json!({"error": "TooManyRecords", "description": format!("at most 100 {entity}")}),
        );
    }
    let open = s.jobs.values().filter(|j| j.results.is_none()).count();
    if open >= MAX_OPEN_JOBS {
        return (
            429,
            json!({"error": "TooManyJobs", "description": format!("at most {MAX_OPEN_JOBS} jobs may be queued or running")}),
        );
    }
    let id = next_id(s);
    let job = Job {
        entity,
        due: Instant::now() + s.job_delay,
        inputs,
        results: None,
    };
    let reply = json!({"job_status": job_json(id, &job)});
    s.jobs.insert(id, job);
    (200, reply)
}

fn user_json(s: &State, id: u64) -> Value {
    let mut u = s.users.get(&id).cloned().unwrap_or_default();
    let default = s
        .memberships
        .get(&id)
        .into_iter()
        .flatten()
        .find(|m| m.3)
        .map(|m| m.2);
    u.insert("organization_id".into(), json!(default));
    Value::Object(u)
}

/// A user's first membership is its default; without multi-org a user has
/// one organization, which a new one replaces.
fn add_membership(s: &mut State, user_id: u64, org_id: u64) -> u64 {
    let multi_org = s.multi_org;
    let list = s.memberships.entry(user_id).or_default();
    if !multi_org {
        list.retain(|m| m.2 == org_id);
    }
    if let Some(m) = list.iter().find(|m| m.2 == org_id) {
        return m.0;
    }
    let is_first = list.is_empty();
    let id = next_id(s);
    s.memberships
        .entry(user_id)
        .or_default()
        .push((id, user_id, org_id, is_first));
    id
}

fn merge(target: &mut Map<String, Value>, fields: &Map<String, Value>) {
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("organization_fields" | "user_fields", Value::Object(custom)) => {
                let entry = target.entry(k.clone()).or_insert_with(|| json!({}));
                if let Value::Object(existing) = entry {
                    for (ck, cv) in custom {
                        existing.insert(ck.clone(), cv.clone());
                    }
                }
            }
            ("id" | "organization_id", _) => {}
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
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
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    let (latency, fault) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.log.push(Logged {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: json_body.clone(),
        });
        s.served += 1;
        let n = s.served;
        let fault = s
            .call_faults
            .iter()
            .position(|(at, _)| *at == n)
            .map(|i| s.call_faults.remove(i).1);
        (s.latency, fault)
    };
    let fault = match fault {
        Some(CallFault::StatusAtOnce(status, retry_after)) => {
            Some(CallFault::Status(status, retry_after))
        }
        other => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            other
        }
    };
    match fault {
        Some(CallFault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "fault: reset",
            ))
        }
        Some(CallFault::Status(status, retry_after)) => {
            let mut builder = hyper::Response::builder()
                .status(status)
                .header("content-type", "application/json; charset=utf-8");
            if let Some(r) = retry_after {
                builder = builder.header("retry-after", r.to_string());
            }
            let reply = json!({"error": "InjectedFault", "description": format!("fault injected: {status}")});
            return builder
                .body(Full::new(Bytes::from(reply.to_string())))
                .map_err(|e| std::io::Error::other(e.to_string()));
        }
        Some(CallFault::Hang(d)) => tokio::time::sleep(d).await,
        Some(CallFault::StatusAtOnce(..)) | None => {}
    }
    let (status, reply, headers) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        match pre_checks(&mut s, &path, &String::from_utf8_lossy(&body), &auth) {
            Err(None) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault: drop",
                ))
            }
            Err(Some((status, reply, headers))) => (status, reply, headers),
            Ok(()) => {
                run_due_jobs(&mut s);
                let (status, reply) = route(&mut s, &method, &path, &query, &json_body);
                (status, reply, rate_headers(&s))
            }
        }
    };
    let mut builder = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8");
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(Bytes::from(reply.to_string())))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

type Rejection = Option<(u16, Value, Vec<(String, String)>)>;

/// `X-Rate-Limit` and `X-Rate-Limit-Remaining`, when a limit is set.
fn rate_headers(s: &State) -> Vec<(String, String)> {
    let Some(limit) = s.rate_limit else {
        return Vec::new();
    };
    let used = s.window.map_or(0, |(_, count)| count);
    vec![
        ("x-rate-limit".into(), limit.to_string()),
        (
            "x-rate-limit-remaining".into(),
            limit.saturating_sub(used).to_string(),
        ),
    ]
}

/// Faults, auth and rate limit. `Err(None)` drops the connection.
fn pre_checks(s: &mut State, path: &str, body: &str, auth: &str) -> Result<(), Rejection> {
    if let Some(f) = s.faults.iter_mut().find(|f| {
        f.remaining > 0
            && path.contains(&f.path_contains)
            && f.body_contains
                .as_ref()
                .is_none_or(|b| body.contains(b.as_str()))
    }) {
        f.remaining -= 1;
        return match f.status {
            None => Err(None),
            Some(status) => {
                let headers = f
                    .retry_after
                    .map(|r| vec![("retry-after".to_string(), r.to_string())])
                    .unwrap_or_default();
                Err(Some((
                    status,
                    json!({"error": "InjectedFault", "description": format!("injected {status}")}),
                    headers,
                )))
            }
        };
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}/token:{}", s.credentials.0, s.credentials.1))
    );
    if auth != expected {
        return Err(Some((
            401,
            json!({"error": "Couldn't authenticate you"}),
            Vec::new(),
        )));
    }
    if let Some(limit) = s.rate_limit {
        let now = Instant::now();
        let (start, count) = match s.window {
            Some((start, count)) if now.duration_since(start) < Duration::from_secs(60) => {
                (start, count)
            }
            _ => (now, 0),
        };
        if count >= limit {
            let wait = 60u64
                .saturating_sub(now.duration_since(start).as_secs())
                .max(1);
            s.window = Some((start, count));
            s.limited += 1;
            return Err(Some((
                429,
                json!({"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"}),
                vec![
                    ("retry-after".into(), wait.to_string()),
                    ("x-rate-limit".into(), limit.to_string()),
                    ("x-rate-limit-remaining".into(), "0".into()),
                ],
            )));
        }
        s.window = Some((start, count + 1));
    }
    Ok(())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let bytes = v.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() {
                    if let Ok(b) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                }
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

fn route(s: &mut State, method: &str, path: &str, query: &str, body: &Value) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["api", "v2", "organizations", "create_or_update"]) => {
            upsert_org(s, None, body.get("organization"))
        }
        ("PUT", ["api", "v2", "organizations", id]) => match id.parse::<u64>() {
            Ok(id) if s.orgs.contains_key(&id) => upsert_org(s, Some(id), body.get("organization")),
            _ => not_found(),
        },
        ("GET", ["api", "v2", "organizations", "search"]) => {
            let ext = query_param(query, "external_id").unwrap_or_default();
            let found: Vec<Value> = find_org_by_external_id(s, &ext)
                .and_then(|id| s.orgs.get(&id))
                .map(|o| vec![Value::Object(o.clone())])
                .unwrap_or_default();
            (200, json!({"organizations": found, "count": found.len()}))
        }
        ("POST", ["api", "v2", "users", "create_or_update"]) => {
            upsert_user(s, None, body.get("user"))
        }
        ("POST", ["api", "v2", "users", "create_or_update_many"]) => queue_job(s, "users", body),
        ("POST", ["api", "v2", "organizations", "create_or_update_many"]) => {
            queue_job(s, "organizations", body)
        }
        ("GET", ["api", "v2", "job_statuses", "show_many"]) => {
            let ids = query_param(query, "ids").unwrap_or_default();
            let ids: Vec<u64> = ids
                .split(',')
                .filter_map(|i| i.trim().parse().ok())
                .collect();
            if ids.len() > 100 {
                return (
                    400,
                    json!({"error": "InvalidValue", "description": "at most 100 ids"}),
                );
            }
            let list: Vec<Value> = ids
                .iter()
                .filter_map(|id| s.jobs.get(id).map(|j| job_json(*id, j)))
                .collect();
            (200, json!({"job_statuses": list}))
        }
        ("GET", ["api", "v2", "job_statuses", id]) => {
            let id = id
                .trim_end_matches(".json")
                .parse::<u64>()
                .unwrap_or_default();
            match s.jobs.get(&id) {
                Some(job) => (200, json!({"job_status": job_json(id, job)})),
                None => not_found(),
            }
        }
        ("GET", ["api", "v2", "users", "search"]) => {
            let found = if let Some(ext) = query_param(query, "external_id") {
                find_user_by_external_id(s, &ext)
            } else if let Some(q) = query_param(query, "query") {
                q.strip_prefix("email:")
                    .and_then(|e| find_user_by_email(s, e))
            } else {
                None
            };
            let users: Vec<Value> = found.map(|id| vec![user_json(s, id)]).unwrap_or_default();
            (200, json!({"users": users, "count": users.len()}))
        }
        ("GET", ["api", "v2", "users", "me" | "me.json"]) => (
            200,
            json!({"user": {"id": 1, "email": s.credentials.0, "role": "admin", "name": "sfsync agent"}}),
        ),
        ("GET", ["api", "v2", "users", id]) => match id.parse::<u64>() {
            Ok(id) if s.users.contains_key(&id) => (200, json!({"user": user_json(s, id)})),
            _ => not_found(),
        },
        ("PUT", ["api", "v2", "users", id]) => match id.parse::<u64>() {
            Ok(id) if s.users.contains_key(&id) => upsert_user(s, Some(id), body.get("user")),
            _ => not_found(),
        },
        ("PUT", ["api", "v2", "users", source, "merge"]) => {
            let target = body
                .get("user")
                .and_then(|u| u.get("id"))
                .and_then(Value::as_u64);
            let Ok(source) = source.parse::<u64>() else {
                return not_found();
            };
            if !s.users.contains_key(&source) {
                return not_found();
            }
            let role = |s: &State, id: u64| {
                s.users
                    .get(&id)
                    .and_then(|u| u.get("role"))
                    .and_then(Value::as_str)
                    .unwrap_or("end-user")
                    .to_string()
            };
            match target {
                Some(t) if t != source && s.users.contains_key(&t) => {
                    if role(s, source) != "end-user" || role(s, t) != "end-user" {
                        return invalid(
                            "id",
                            "Only end users can be merged".into(),
                            "InvalidValue",
                        );
                    }
                    // The source is gone; its memberships move to the target.
                    let (ext, email) = indexed(s, source);
                    s.users.remove(&source);
                    if let Some(e) = ext.filter(|e| s.user_ext.get(e) == Some(&source)) {
                        s.user_ext.remove(&e);
                    }
                    if let Some(e) = email.filter(|e| s.user_email.get(e) == Some(&source)) {
                        s.user_email.remove(&e);
                    }
                    let moved = s.memberships.remove(&source).unwrap_or_default();
                    for (_, _, org, _) in moved {
                        let has = s
                            .memberships
                            .get(&t)
                            .is_some_and(|l| l.iter().any(|m| m.2 == org));
                        if !has {
                            add_membership(s, t, org);
                        }
                    }
                    (200, json!({"user": user_json(s, t)}))
                }
                _ => invalid(
                    "id",
                    "The user to merge into does not exist".into(),
                    "InvalidValue",
                ),
            }
        }
        ("GET", ["api", "v2", "users", id, "organization_memberships"]) => {
            match id.parse::<u64>() {
                Ok(id) if s.users.contains_key(&id) => {
                    let list: Vec<Value> = s
                    .memberships
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .map(|m| json!({"id": m.0, "user_id": m.1, "organization_id": m.2, "default": m.3}))
                    .collect();
                    (200, json!({"organization_memberships": list}))
                }
                _ => not_found(),
            }
        }
        ("POST", ["api", "v2", "organization_memberships"]) => {
            let m = body.get("organization_membership");
            let user = m.and_then(|m| m.get("user_id")).and_then(Value::as_u64);
            let org = m
                .and_then(|m| m.get("organization_id"))
                .and_then(Value::as_u64);
            match (user, org) {
                (Some(u), Some(o)) if s.users.contains_key(&u) && s.orgs.contains_key(&o) => {
                    let of_user = s.memberships.get(&u).cloned().unwrap_or_default();
                    if of_user.iter().any(|m| m.2 == o) {
                        return invalid(
                            "user_id",
                            "User is already a member of this organization".into(),
                            "DuplicateValue",
                        );
                    }
                    if !s.multi_org && !of_user.is_empty() {
                        return invalid(
                            "organization_id",
                            "Multiple organizations is not enabled for this account".into(),
                            "InvalidValue",
                        );
                    }
                    let id = add_membership(s, u, o);
                    let default = s
                        .memberships
                        .get(&u)
                        .into_iter()
                        .flatten()
                        .any(|m| m.0 == id && m.3);
                    (
                        201,
                        json!({"organization_membership": {"id": id, "user_id": u, "organization_id": o, "default": default}}),
                    )
                }
                _ => invalid(
                    "organization_id",
                    "Organization or user does not exist".into(),
                    "InvalidValue",
                ),
            }
        }
        ("PUT", ["api", "v2", "users", uid, "organization_memberships", mid, "make_default"]) => {
            let (Ok(uid), Ok(mid)) = (uid.parse::<u64>(), mid.parse::<u64>()) else {
                return not_found();
            };
            let Some(list) = s
                .memberships
                .get_mut(&uid)
                .filter(|l| l.iter().any(|m| m.0 == mid))
            else {
                return not_found();
            };
            for m in list.iter_mut() {
                m.3 = m.0 == mid;
            }
            (200, json!({"organization_memberships": []}))
        }
        _ => not_found(),
    }
}

fn upsert_org(s: &mut State, id: Option<u64>, org: Option<&Value>) -> Reply {
    let Some(Value::Object(fields)) = org else {
        return (
            400,
            json!({"error": "InvalidEndpoint", "description": "organization is required"}),
        );
    };
    let target = id
        .or_else(|| {
            fields
                .get("id")
                .and_then(Value::as_u64)
                .filter(|i| s.orgs.contains_key(i))
        })
        .or_else(|| {
            fields
                .get("external_id")
                .and_then(Value::as_str)
                .and_then(|e| find_org_by_external_id(s, e))
        });
    let name = fields.get("name").and_then(Value::as_str);
    if target.is_none() && name.is_none_or(|n| n.trim().is_empty()) {
        return invalid("name", "Name: cannot be blank".into(), "BlankValue");
    }
    if let Some(n) = name {
        let taken = s.orgs.iter().any(|(oid, o)| {
            Some(*oid) != target
                && o.get("name").and_then(Value::as_str).map(str::to_lowercase)
                    == Some(n.to_lowercase())
        });
        if taken {
            return invalid(
                "name",
                format!("Name: {n} has already been taken"),
                "DuplicateValue",
            );
        }
    }
    let (status, oid) = match target {
        Some(oid) => (200, oid),
        None => {
            let oid = next_id(s);
            let mut o = Map::new();
            o.insert("id".into(), json!(oid));
            s.orgs.insert(oid, o);
            (201, oid)
        }
    };
    let old_ext = s
        .orgs
        .get(&oid)
        .and_then(|o| o.get("external_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(o) = s.orgs.get_mut(&oid) {
        merge(o, fields);
    }
    if let Some(old) = old_ext {
        if s.org_ext.get(&old) == Some(&oid) {
            s.org_ext.remove(&old);
        }
    }
    if let Some(e) = s
        .orgs
        .get(&oid)
        .and_then(|o| o.get("external_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        s.org_ext.insert(e, oid);
    }
    (
        status,
        json!({"organization": s.orgs.get(&oid).cloned().map(Value::Object)}),
    )
}

fn upsert_user(s: &mut State, id: Option<u64>, user: Option<&Value>) -> Reply {
    let Some(Value::Object(fields)) = user else {
        return (
            400,
            json!({"error": "InvalidEndpoint", "description": "user is required"}),
        );
    };
    let email = fields
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_string);
    let target = id
        .or_else(|| {
            fields
                .get("external_id")
                .and_then(Value::as_str)
                .and_then(|e| find_user_by_external_id(s, e))
        })
        .or_else(|| email.as_deref().and_then(|e| find_user_by_email(s, e)));
    if let Some(e) = &email {
        if let Some(owner) = find_user_by_email(s, e) {
            if Some(owner) != target {
                return invalid(
                    "email",
                    format!("Email: {e} is already being used by another user"),
                    "DuplicateValue",
                );
            }
        }
    }
    if target.is_none()
        && fields
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|n| n.trim().is_empty())
    {
        return invalid("name", "Name: cannot be blank".into(), "BlankValue");
    }
    let org = fields.get("organization_id").and_then(Value::as_u64);
    if let Some(o) = org {
        if !s.orgs.contains_key(&o) {
            return invalid(
                "organization_id",
                format!("Organization: {o} does not exist"),
                "InvalidValue",
            );
        }
    }
    let (status, uid) = match target {
        Some(uid) => (200, uid),
        None => {
            let uid = next_id(s);
            let mut u = Map::new();
            u.insert("id".into(), json!(uid));
            s.users.insert(uid, u);
            (201, uid)
        }
    };
    let before = indexed(s, uid);
    if let Some(u) = s.users.get_mut(&uid) {
        merge(u, fields);
    }
    reindex_user(s, uid, before);
    if let Some(o) = org {
        add_membership(s, uid, o);
    }
    (status, json!({"user": user_json(s, uid)}))
}
