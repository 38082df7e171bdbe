//! The Spin side of sfsync: spin-sdk implementations of `sync-core`'s I/O
//! traits, the variable reader, and the request/response conversions that
//! every function shares.
//!
//! A function crate is one `#[http_component]` that calls [`outbound_message`]
//! or [`admin`]; nothing here decides anything about a request.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::SinkExt as _;
use spin_sdk::http::{
    ErrorCode, Fields, IncomingRequest, Method, OutgoingResponse, Request, Response,
    ResponseOutparam, SendError,
};
use spin_sdk::key_value::Store;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store as wasi_store};
use sync_core::admin::error::AdminError;
use sync_core::admin::Reply;
use sync_core::admission::{self, BodyCap};
use sync_core::context::Context;
use sync_core::inbound::Refusal;
use sync_core::io::{Http, HttpError, HttpRequest, HttpResponse, Kv, KvError, Swap};
use sync_core::log::{Line, RunNote};
use sync_core::record::Process;
use sync_core::settings::{ConfigError, Settings, VariableRead};
use sync_core::web;

/// Spin's `default` key-value store: spin-sdk's `Store` for plain calls,
/// and the same store through `wasi:keyvalue` for its atomics (opened on
/// first use).
pub struct SpinKv {
    store: Store,
    bucket: RefCell<Option<wasi_store::Bucket>>,
    /// Keys listed once per request: Spin's API only lists every key.
    keys: RefCell<Option<Vec<String>>>,
}

impl SpinKv {
    pub fn open_default() -> Result<SpinKv, KvError> {
        Store::open_default()
            .map(|store| SpinKv {
                store,
                bucket: RefCell::new(None),
                keys: RefCell::new(None),
            })
            .map_err(|e| KvError(format!("cannot open the default store: {e}")))
    }
}

fn kv_err(e: spin_sdk::key_value::Error) -> KvError {
    KvError(e.to_string())
}

fn wasi_err(e: wasi_store::Error) -> KvError {
    KvError(match e {
        wasi_store::Error::NoSuchStore => "no such store".to_string(),
        wasi_store::Error::AccessDenied => "access denied".to_string(),
        wasi_store::Error::Other(m) => m,
    })
}

impl SpinKv {
    fn with_bucket<T>(
        &self,
        f: impl FnOnce(&wasi_store::Bucket) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        let mut bucket = self.bucket.borrow_mut();
        if bucket.is_none() {
            *bucket = Some(wasi_store::open("default").map_err(wasi_err)?);
        }
        match bucket.as_ref() {
            Some(b) => f(b),
            None => Err(KvError("the default store is not open".into())),
        }
    }
}

impl Kv for SpinKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.store.get(key).map_err(kv_err)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.keys.borrow_mut().take();
        self.store.set(key, value).map_err(kv_err)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.keys.borrow_mut().take();
        self.store.delete(key).map_err(kv_err)
    }

    async fn list_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        let mut cache = self.keys.borrow_mut();
        if cache.is_none() {
            let mut keys = self.store.get_keys().map_err(kv_err)?;
            keys.sort_unstable();
            *cache = Some(keys);
        }
        let keys = cache.as_deref().unwrap_or_default();
        let first_with_prefix = keys.partition_point(|k| k.as_str() < prefix);
        let start = match after {
            Some(a) => first_with_prefix.max(keys.partition_point(|k| k.as_str() <= a)),
            None => first_with_prefix,
        };
        Ok(keys[start..]
            .iter()
            .take_while(|k| k.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.keys.borrow_mut().take();
        self.with_bucket(|b| atomics::increment(b, key, delta).map_err(wasi_err))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.with_bucket(|b| {
            let found = batch::get_many(b, keys).map_err(wasi_err)?;
            Ok(found
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect())
        })
    }

    async fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.keys.borrow_mut().take();
        self.with_bucket(|b| batch::set_many(b, entries).map_err(wasi_err))
    }

    async fn swap_from(
        &self,
        key: &str,
        next: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<(Option<Vec<u8>>, Option<Swap>), KvError> {
        self.keys.borrow_mut().take();
        self.with_bucket(|b| {
            let cas = atomics::Cas::new(b, key).map_err(wasi_err)?;
            let Some(seen) = cas.current().map_err(wasi_err)? else {
                return Ok((None, None));
            };
            let Some(new) = next(&seen) else {
                return Ok((Some(seen), None));
            };
            let swapped = match atomics::swap(cas, &new) {
                Ok(()) => Swap::Done,
                Err(atomics::CasError::CasFailed(_)) => Swap::NotDone,
                Err(atomics::CasError::StoreError(e)) => return Err(wasi_err(e)),
            };
            Ok((Some(seen), Some(swapped)))
        })
    }

    async fn swap(&self, key: &str, expected: &[u8], new: &[u8]) -> Result<Swap, KvError> {
        let (_, swapped) = self
            .swap_from(key, |current| (current == expected).then(|| new.to_vec()))
            .await?;
        Ok(swapped.unwrap_or(Swap::NotDone))
    }
}

/// What went wrong on the way, in words (the host's error codes' own
/// `Debug` form costs the component several kilobytes).
fn transport_error(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) => {
            "the host name could not be resolved (DNS)"
        }
        ErrorCode::DestinationNotFound => "the destination was not found",
        ErrorCode::DestinationUnavailable => "the destination is unavailable",
        ErrorCode::DestinationIpProhibited | ErrorCode::DestinationIpUnroutable => {
            "the destination's address cannot be reached from here"
        }
        ErrorCode::ConnectionRefused => "the connection was refused",
        ErrorCode::ConnectionTerminated => "the connection was closed before an answer",
        ErrorCode::ConnectionLimitReached => "too many connections are open",
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => "TLS failed",
        ErrorCode::TlsCertificateError => "the destination's TLS certificate was refused",
        ErrorCode::HttpProtocolError => "the answer was not valid HTTP",
        ErrorCode::HttpResponseIncomplete => "the answer ended early",
        _ => "the transport failed",
    }
}

/// Outbound HTTP through the host (subject to `allowed_outbound_hosts`).
pub struct SpinHttp;

/// A timer on WASI's monotonic clock, awaited through spin-sdk's executor so
/// that other notifications of the message go on meanwhile.
struct Sleep {
    deadline: u64,
}

impl Sleep {
    fn new(duration: Duration) -> Sleep {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Sleep {
            deadline: wasi::clocks::monotonic_clock::now().saturating_add(nanos),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if wasi::clocks::monotonic_clock::now() >= self.deadline {
            return Poll::Ready(());
        }
        spin_executor::push_waker(
            wasi::clocks::monotonic_clock::subscribe_instant(self.deadline),
            cx.waker().clone(),
        );
        Poll::Pending
    }
}

impl Http for SpinHttp {
    async fn sleep(&self, duration: Duration) {
        Sleep::new(duration).await
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let timeout = request.timeout;
        let send = std::pin::pin!(self.send_now(request));
        match futures::future::select(send, std::pin::pin!(Sleep::new(timeout))).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => Err(HttpError::Timeout),
        }
    }
}

impl SpinHttp {
    /// Send, and when the body could not be written, say why. Spin checks
    /// `allowed_outbound_hosts` in the task that sends the request, so a
    /// refused call with a body can fail while the body is written (the
    /// request is already dropped), before the refusal is seen. A body-less
    /// request to the same URL then tells a refusal from a broken connection.
    async fn send_now(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.url.clone();
        let has_body = !request.body.is_empty();
        match self.send_once(request).await {
            Err(HttpError::BodyNotSent(why)) if has_body => {
                let probe = HttpRequest {
                    method: "GET".into(),
                    url,
                    headers: Vec::new(),
                    body: Vec::new(),
                    timeout: Duration::from_secs(5),
                };
                match self.send_once(probe).await {
                    Err(HttpError::Denied) => Err(HttpError::Denied),
                    _ => Err(HttpError::Connection(format!(
                        "the request body could not be sent: {why}"
                    ))),
                }
            }
            Err(HttpError::BodyNotSent(why)) => Err(HttpError::Connection(why)),
            other => other,
        }
    }

    async fn send_once(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method = match request.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_string()),
        };
        let mut builder = Request::builder();
        builder.method(method).uri(request.url);
        for (name, value) in request.headers {
            builder.header(name, value);
        }
        let outgoing = builder.body(request.body).build();
        let response: Response = spin_sdk::http::send(outgoing).await.map_err(|e| match e {
            SendError::Http(ErrorCode::HttpRequestDenied) => HttpError::Denied,
            SendError::Http(
                ErrorCode::ConnectionTimeout
                | ErrorCode::ConnectionReadTimeout
                | ErrorCode::ConnectionWriteTimeout
                | ErrorCode::HttpResponseTimeout,
            ) => HttpError::Timeout,
            SendError::Http(code) => HttpError::Connection(transport_error(&code).into()),
            SendError::Io(e) => HttpError::BodyNotSent(format!("{e:?}")),
            other => HttpError::Other(other.to_string()),
        })?;
        let headers: BTreeMap<String, String> = response
            .headers()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_string())))
            .collect();
        Ok(HttpResponse {
            status: *response.status(),
            headers,
            body: response.into_body(),
        })
    }
}

/// sfsync's settings from this component's variables.
pub fn settings() -> Result<Settings, ConfigError> {
    Settings::read(|name| match spin_sdk::variables::get(name) {
        Ok(v) => VariableRead::Value(v),
        Err(spin_sdk::variables::Error::Undefined(_)) => VariableRead::Undefined,
        Err(e) => VariableRead::Failed(e.to_string()),
    })
}

/// The current time, to the millisecond.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// spin-sdk request to the core's.
/// The head of an incoming request (no body yet) as the core sees it.
pub fn head_of(req: &IncomingRequest) -> web::Request {
    let path_with_query = req.path_with_query().unwrap_or_default();
    let (path, query) = path_with_query
        .split_once('?')
        .unwrap_or((path_with_query.as_str(), ""));
    let headers = req
        .headers()
        .entries()
        .into_iter()
        .filter_map(|(k, v)| {
            String::from_utf8(v)
                .ok()
                .map(|v| (k.to_ascii_lowercase(), v))
        })
        .collect();
    web::Request {
        method: req.method().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// Read the body into `head`, stopping at the cap or the read timeout:
/// what is over the cap is never held, and a slow sender never pins the
/// instance for long. `Err` is the answer to send.
pub async fn read_body(
    req: IncomingRequest,
    mut head: web::Request,
    cap: BodyCap,
) -> Result<web::Request, web::Response> {
    use futures::StreamExt;
    let mut stream = std::pin::pin!(req.into_body_stream());
    let deadline = Sleep::new(admission::BODY_READ_TIMEOUT);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        let next = stream.next();
        match futures::future::select(std::pin::pin!(next), deadline.as_mut()).await {
            futures::future::Either::Right(((), _)) => return Err(admission::too_slow(cap.door)),
            futures::future::Either::Left((None, _)) => return Ok(head),
            futures::future::Either::Left((Some(Err(e)), _)) => {
                return Err(admission::broken(cap.door, &e.to_debug_string()))
            }
            futures::future::Either::Left((Some(Ok(chunk)), _)) => {
                if head.body.len() + chunk.len() > cap.bytes {
                    return Err(admission::too_large(cap.door, cap.bytes));
                }
                head.body.extend_from_slice(&chunk);
            }
        }
    }
}

/// The whole request, for a function that admitted its head.
async fn admitted(
    req: IncomingRequest,
    arrival: &Arrival,
    admit: impl FnOnce(&web::Request) -> Result<BodyCap, web::Response>,
) -> Result<web::Request, web::Response> {
    let cap = admit(&arrival.head)?;
    read_body(req, arrival.head.clone(), cap).await
}

/// The core's response to spin-sdk's.
pub fn from_core(resp: web::Response) -> Response {
    let mut builder = Response::builder();
    builder.status(resp.status);
    for (name, value) in resp.headers {
        builder.header(name, value);
    }
    builder.body(resp.body).build()
}

/// Who a function answers when it cannot even start: Salesforce gets a
/// SOAP Fault (it will retry), admin tooling gets JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Salesforce,
    AdminTooling,
}

/// What every request needs: settings, the store, the clock.
pub struct Env {
    settings: Settings,
    kv: SpinKv,
    elapsed: Box<dyn Fn() -> Duration>,
}

/// A request's head and when it arrived: what its log line names.
struct Arrival {
    head: web::Request,
    started: std::time::Instant,
}

impl Arrival {
    fn of(req: &IncomingRequest) -> Arrival {
        Arrival {
            head: head_of(req),
            started: std::time::Instant::now(),
        }
    }

    /// Write the request's log line, if it has one ([`sync_core::log`]), to
    /// stdout, which Spin keeps in the component's log; then convert.
    fn answer(&self, resp: web::Response, run: Option<RunNote>) -> Response {
        if let Some(line) = Line::for_request(&self.head, &resp, run, now(), self.started.elapsed())
        {
            println!("{}", line.to_json());
        }
        from_core(resp)
    }
}

impl Env {
    /// Read the settings and open the store; `Err` is the answer to send,
    /// written by the surface's own error type.
    pub fn open(caller: Caller) -> Result<Env, web::Response> {
        let started = std::time::Instant::now();
        let settings = settings().map_err(|e| match caller {
            Caller::Salesforce => Refusal::Misconfigured(e.to_string()).into_response(),
            Caller::AdminTooling => AdminError::Misconfigured(e.to_string()).into_response(),
        })?;
        let kv = SpinKv::open_default().map_err(|e| match caller {
            Caller::Salesforce => Refusal::StateUnreadable(e).into_response(),
            Caller::AdminTooling => AdminError::StateUnreadable(e).into_response(),
        })?;
        Ok(Env {
            settings,
            kv,
            elapsed: Box::new(move || started.elapsed()),
        })
    }

    /// The core's view of this request's world.
    pub fn context(&self) -> Context<'_, SpinKv, SpinHttp> {
        Context::new(
            &self.settings,
            &self.kv,
            &SpinHttp,
            now(),
            &*self.elapsed,
            wasi::random::random::get_random_u64() as u32,
        )
    }
}

/// `record-created` and `field-updated`: one Outbound Message. The head
/// (method, token, length) is checked before the body is read.
pub async fn outbound_message(trigger: Process, req: IncomingRequest) -> Response {
    let arrival = Arrival::of(&req);
    let env = match Env::open(Caller::Salesforce) {
        Ok(env) => env,
        Err(resp) => return arrival.answer(resp, None),
    };
    let req = match admitted(req, &arrival, |h| {
        admission::admit_outbound(h, &env.settings)
    })
    .await
    {
        Ok(req) => req,
        Err(resp) => return arrival.answer(resp, None),
    };
    let ctx = env.context();
    let resp = sync_core::inbound::handle_outbound_message(trigger, &req, &ctx).await;
    arrival.answer(resp, ctx.noted_run())
}

/// `admin`: the dashboard and the reading routes of `/admin/...`. The bearer and length are
/// checked before the body is read.
pub async fn admin(req: IncomingRequest, out: ResponseOutparam) {
    let arrival = Arrival::of(&req);
    let (env, req) = match admin_request(req, &arrival).await {
        Ok(admitted) => admitted,
        Err(resp) => return send_whole(out, resp).await,
    };
    let ctx = env.context();
    match sync_core::admin::handle_streaming(&req, &ctx).await {
        Reply::Whole(resp) => send_whole(out, arrival.answer(resp, ctx.noted_run())).await,
        Reply::Export(head, mut export) => {
            // Each page of the export is written as it is read; a store
            // failure part-way cuts the body short (the client sees an
            // incomplete transfer), since the status is already sent.
            let response = OutgoingResponse::new(head_fields(&head));
            let _ = response.set_status_code(head.status);
            let mut body = response.take_body();
            out.set(response);
            loop {
                match export.next_chunk(&env.kv).await {
                    Ok(Some(chunk)) => {
                        if body.send(chunk).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let cut = web::Response::new(500, "text/csv", Vec::new())
                            .with_reason(&format!("export cut short: {e}"));
                        let _ = arrival.answer(cut, None);
                        return;
                    }
                }
            }
            let _ = body.close().await;
        }
    }
}

fn head_fields(resp: &web::Response) -> Fields {
    let entries: Vec<(String, Vec<u8>)> = resp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    Fields::from_list(&entries).unwrap_or_else(|_| Fields::new())
}

/// Write a whole response to the outparam.
async fn send_whole(out: ResponseOutparam, resp: Response) {
    let body = resp.body().to_vec();
    match OutgoingResponse::try_from(resp) {
        Ok(response) => {
            let _ = out.set_with_body(response, body).await;
        }
        Err(e) => eprintln!("sfsync admin: could not answer: {e}"),
    }
}

/// An admin request's world and its admitted request (bearer and length
/// checked before the body is read), or the answer that refuses it.
async fn admin_request(
    req: IncomingRequest,
    arrival: &Arrival,
) -> Result<(Env, web::Request), Response> {
    let env = Env::open(Caller::AdminTooling).map_err(|resp| arrival.answer(resp, None))?;
    match admitted(req, arrival, |h| admission::admit_admin(h, &env.settings)).await {
        Ok(req) => Ok((env, req)),
        Err(resp) => Err(arrival.answer(resp, None)),
    }
}

/// `admin-write`: the mapping, backfill, import and repair.
pub async fn admin_write(req: IncomingRequest) -> Response {
    let arrival = Arrival::of(&req);
    match admin_request(req, &arrival).await {
        Ok((env, req)) => {
            let ctx = env.context();
            let resp = sync_core::admin::handle_write(&req, &ctx).await;
            arrival.answer(resp, ctx.noted_run())
        }
        Err(resp) => resp,
    }
}

/// `resend`: push stored records again with the current mapping.
pub async fn resend(req: IncomingRequest) -> Response {
    let arrival = Arrival::of(&req);
    match admin_request(req, &arrival).await {
        Ok((env, req)) => {
            let ctx = env.context();
            let resp = sync_core::admin::handle_resend(&req, &ctx).await;
            arrival.answer(resp, ctx.noted_run())
        }
        Err(resp) => resp,
    }
}
