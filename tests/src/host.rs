//! A small Spin-like host for the built `.wasm` components — test-only.
//!
//! It does what `spin up` does for sfsync, no more: routes from spin.toml,
//! the Spin headers a component receives, a fresh instance per request, the
//! `fermyon:spin` key-value (on SQLite, [`crate::kv`]) and variables
//! interfaces generated from `wit/`, WASI 0.2 and `wasi:http` from
//! wasmtime-wasi(-http), and outbound HTTP limited to each component's
//! `allowed_outbound_hosts` ([`crate::outbound`]).
//!
//! [`Host::handle`] runs a request in process; [`Host::listen`] serves
//! 127.0.0.1 on a free port.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use anyhow::{anyhow, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::kv::{KvConfig, KvStore, SwapError};
use crate::manifest::{expand, Manifest};
use crate::outbound::{check_at_load, AllowedHosts, SpinRules};
use crate::router::{RouteMatch, Router};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sfsync:host/function",
        with: {
            "fermyon:spin/key-value.store": super::KvHandle,
            "wasi:keyvalue/store.bucket": super::KvHandle,
            "wasi:keyvalue/atomics.cas": super::CasHandle,
        },
        imports: { default: trappable },
    });
}

use bindings::fermyon::spin::{key_value, variables};
use bindings::wasi::keyvalue::{atomics as wasi_atomics, batch as wasi_batch, store as wasi_kv};

/// An open key-value store of one instance.
pub struct KvHandle {
    label: String,
}

/// A compare-and-swap in progress: its store and what `current` saw.
pub struct CasHandle {
    label: String,
    cas: crate::kv::Cas,
}

/// A request as the tests write it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    /// Path and query, e.g. `/sf/created?token=x`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response as the tests read it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as one of the admin API's typed answers
    /// (`sync_core::admin::wire`), the same types the API writes.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not a {} ({e}): {}",
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Per-instance state, as Spin keeps it.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHooks,
    kv: KvStore,
    kv_labels: Vec<String>,
    component: String,
    variables: BTreeMap<String, String>,
    failing_variables: Vec<String>,
    kv_faults: Arc<KvFaults>,
}

/// Injected key-value failures, shared by every instance of one host:
/// the host counts every key-value call of every component, and fails the
/// ones asked for (`other("injected fault …")`), as a store that cannot be
/// reached answers.
#[derive(Debug, Default)]
pub struct KvFaults {
    calls: std::sync::atomic::AtomicUsize,
    writes: std::sync::atomic::AtomicUsize,
    fail_at: std::sync::Mutex<std::collections::BTreeSet<usize>>,
}

impl KvFaults {
    /// Key-value calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Key-value calls so far that write (set, delete, increment, swap and
    /// their batches): on Spin's SQLite store each is a transaction of its
    /// own, committed to disk, and costs far more than a read.
    pub fn writes(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Fail the `nth` key-value call from now (1 is the next one).
    pub fn fail_call(&self, nth: usize) {
        let at = self.calls() + nth;
        if let Ok(mut set) = self.fail_at.lock() {
            set.insert(at);
        }
    }

    fn next(&self, write: bool) -> Option<String> {
        if write {
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let hit = self
            .fail_at
            .lock()
            .map(|mut s| s.remove(&n))
            .unwrap_or(false);
        hit.then(|| format!("injected fault: key-value call {n} failed"))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// Outbound HTTP: denied unless `allowed_outbound_hosts` allows it.
struct OutboundHooks {
    allowed: AllowedHosts,
    component: String,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16();
        if !self.allowed.allows(&scheme, &host, port) {
            eprintln!(
                "test host: component {} denied outbound request to {scheme}://{host}{}: not in allowed_outbound_hosts ({:?})",
                self.component,
                port.map(|p| format!(":{p}")).unwrap_or_default(),
                self.allowed
            );
            // As Spin does: the request goes to the sending task, which
            // checks the allowed hosts and drops it — so a guest still
            // writing the body may see its stream closed first.
            return Box::new(async move {
                drop(request);
                Err(wasmtime_wasi_http::Error::HttpRequestDenied)
            });
        }
        drop(fut);
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

impl key_value::Host for HostState {}

impl HostState {
    /// The store label of an open store handle.
    fn label(&self, handle: &Resource<KvHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(handle)?.label.clone())
    }

    /// One key-value call of a guest: counted, failed when a fault was
    /// injected for it, else run on the store.
    fn kv_call<T>(
        &self,
        write: bool,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&KvStore) -> Result<T, String>,
    ) -> Result<T, String> {
        if kv_trace() {
            eprintln!("kv {}: {}", self.component, what());
        }
        match self.kv_faults.next(write) {
            Some(e) => Err(e),
            None => f(&self.kv),
        }
    }

    fn open_store(&mut self, label: String) -> wasmtime::Result<Option<Resource<KvHandle>>> {
        if !self.kv_labels.contains(&label) {
            return Ok(None);
        }
        Ok(Some(self.table.push(KvHandle { label })?))
    }
}

impl key_value::HostStore for HostState {
    fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KvHandle>, key_value::Error>> {
        Ok(self
            .open_store(label)?
            .ok_or(key_value::Error::AccessDenied))
    }

    fn get(
        &mut self,
        store: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, key_value::Error>> {
        let label = self.label(&store)?;
        Ok(self
            .kv_call(false, || format!("get {key}"), |kv| kv.get(&label, &key))
            .map_err(key_value::Error::Other))
    }

    fn set(
        &mut self,
        store: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let label = self.label(&store)?;
        Ok(self
            .kv_call(
                true,
                || format!("set {key}"),
                |kv| kv.set(&label, &key, &value),
            )
            .map_err(key_value::Error::Other))
    }

    fn delete(
        &mut self,
        store: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let label = self.label(&store)?;
        Ok(self
            .kv_call(
                true,
                || format!("delete {key}"),
                |kv| kv.delete(&label, &key),
            )
            .map_err(key_value::Error::Other))
    }

    fn exists(
        &mut self,
        store: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, key_value::Error>> {
        let label = self.label(&store)?;
        Ok(self
            .kv_call(
                false,
                || format!("exists {key}"),
                |kv| kv.get(&label, &key).map(|v| v.is_some()),
            )
            .map_err(key_value::Error::Other))
    }

    fn get_keys(
        &mut self,
        store: Resource<KvHandle>,
    ) -> wasmtime::Result<Result<Vec<String>, key_value::Error>> {
        let label = self.label(&store)?;
        Ok(self
            .kv_call(false, || "list keys".to_string(), |kv| kv.keys(&label))
            .map_err(key_value::Error::Other))
    }

    fn drop(&mut self, store: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

// wasi:keyvalue 0.2.0-draft2 over the same store and labels (spin-host.md
// §6, §10): each backend's own increment form and swap answer.

impl wasi_kv::Host for HostState {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<KvHandle>, wasi_kv::Error>> {
        Ok(self
            .open_store(identifier)?
            .ok_or(wasi_kv::Error::AccessDenied))
    }
}

impl wasi_kv::HostBucket for HostState {
    fn get(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(false, || format!("get {key}"), |kv| kv.get(&label, &key))
            .map_err(wasi_kv::Error::Other))
    }

    fn set(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                true,
                || format!("set {key}"),
                |kv| kv.set(&label, &key, &value),
            )
            .map_err(wasi_kv::Error::Other))
    }

    fn delete(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                true,
                || format!("delete {key}"),
                |kv| kv.delete(&label, &key),
            )
            .map_err(wasi_kv::Error::Other))
    }

    fn exists(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                false,
                || format!("exists {key}"),
                |kv| kv.get(&label, &key).map(|v| v.is_some()),
            )
            .map_err(wasi_kv::Error::Other))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<KvHandle>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_kv::KeyResponse, wasi_kv::Error>> {
        if cursor.is_some() {
            return Ok(Err(wasi_kv::Error::Other(
                "list_keys: cursor not supported".into(),
            )));
        }
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(false, || "list keys".to_string(), |kv| kv.keys(&label))
            .map(|keys| wasi_kv::KeyResponse { keys, cursor: None })
            .map_err(wasi_kv::Error::Other))
    }

    fn drop(&mut self, bucket: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl wasi_atomics::Host for HostState {
    fn increment(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        match self.kv_call(
            true,
            || format!("increment {key} {delta}"),
            |kv| kv.increment(&label, &key, delta),
        ) {
            Ok(v) => Ok(Ok(v)),
            // Spin's SQLite host panics on a value that is not 8 bytes: the
            // request fails with 500 (and real Spin's store is poisoned).
            Err(e) if e.starts_with("the host would panic") => Err(wasmtime::format_err!("{e}")),
            Err(e) => Ok(Err(wasi_kv::Error::Other(e))),
        }
    }

    fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_atomics::CasError>> {
        let handle = self.table.delete(cas)?;
        let store_error = |e| wasi_atomics::CasError::StoreError(wasi_kv::Error::Other(e));
        Ok(
            match self.kv_call(
                true,
                || format!("swap {}", handle.cas.key),
                |kv| Ok(kv.cas_swap(&handle.label, &handle.cas, &value)),
            ) {
                Err(e) | Ok(Err(SwapError::Other(e))) => Err(store_error(e)),
                Ok(Ok(())) => Ok(()),
                Ok(Err(SwapError::CasFailed)) => {
                    match self.kv.cas_current(&handle.label, &handle.cas.key) {
                        Ok(fresh) => {
                            let fresh = self.table.push(CasHandle {
                                label: handle.label,
                                cas: fresh,
                            })?;
                            Err(wasi_atomics::CasError::CasFailed(fresh))
                        }
                        Err(e) => Err(store_error(e)),
                    }
                }
            },
        )
    }
}

impl wasi_atomics::HostCas for HostState {
    fn new(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<CasHandle>, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        match self.kv_call(
            false,
            || format!("cas {key}"),
            |kv| kv.cas_current(&label, &key),
        ) {
            Ok(cas) => Ok(Ok(self.table.push(CasHandle { label, cas })?)),
            Err(e) => Ok(Err(wasi_kv::Error::Other(e))),
        }
    }

    fn current(
        &mut self,
        cas: Resource<CasHandle>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        Ok(Ok(self.table.get(&cas)?.cas.current.clone()))
    }

    fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl wasi_batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<KvHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                false,
                || format!("get_many {} {:?}", keys.len(), keys.first()),
                |kv| kv.get_many(&label, &keys),
            )
            .map(|found| found.into_iter().map(|(k, v)| (k, Some(v))).collect())
            .map_err(wasi_kv::Error::Other))
    }

    fn set_many(
        &mut self,
        bucket: Resource<KvHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                true,
                || {
                    format!(
                        "set_many {} {:?}",
                        key_values.len(),
                        key_values
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                    )
                },
                |kv| kv.set_many(&label, &key_values),
            )
            .map_err(wasi_kv::Error::Other))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<KvHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .kv_call(
                true,
                || format!("delete_many {:?}", keys),
                |kv| kv.delete_many(&label, &keys),
            )
            .map_err(wasi_kv::Error::Other))
    }
}

/// `SFSYNC_TEST_KV_TRACE=1`: print every key-value call to stderr (which
/// component, which operation and key), to see what a request costs.
fn kv_trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SFSYNC_TEST_KV_TRACE").is_some_and(|v| v == "1"))
}

/// Spin's variable names: `a-z`, `0-9`, `_`, starting with a letter, no `__`,
/// not ending with `_`.
fn valid_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl variables::Host for HostState {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if !valid_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(format!(
                "invalid variable name {name:?}"
            ))));
        }
        if self.failing_variables.contains(&name) {
            return Ok(Err(variables::Error::Provider(format!(
                "the provider of {name:?} is unreachable"
            ))));
        }
        Ok(self.variables.get(&name).cloned().ok_or_else(|| {
            variables::Error::Undefined(format!("no variable for {:?}.{name:?}", self.component))
        }))
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap_or_else(|e| panic!("wasmtime engine: {e}"))
    })
}

/// Compile a component once per process (and again only if the file changes).
fn compile(path: &Path) -> Result<Component> {
    type Cache = Mutex<HashMap<PathBuf, (SystemTime, Component)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("{} is missing: build the components first", path.display()))?;
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .map_err(|_| anyhow!("component cache poisoned"))?;
    if let Some((at, component)) = cache.get(path) {
        if *at == modified {
            return Ok(component.clone());
        }
    }
    let component = Component::from_file(engine(), path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", path.display()))?;
    cache.insert(path.to_path_buf(), (modified, component.clone()));
    Ok(component)
}

struct ComponentRuntime {
    pre: ProxyPre<HostState>,
    kv_labels: Vec<String>,
    variables: BTreeMap<String, String>,
    allowed: AllowedHosts,
}

/// How the app runs: which Spin release's rules the test host applies,
/// where the `default` key-value store lives, and which manifest is loaded
/// (the host's `start` takes it explicitly; `spin up` gets it as `-f`).
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub rules: SpinRules,
    pub kv: KvConfig,
    pub manifest: PathBuf,
    /// The runtime-config file `kv` was read from, if any (`spin up` gets it
    /// as `--runtime-config-file`).
    pub runtime_config: Option<PathBuf>,
    /// Variables whose provider fails (`provider(…)` errors), as a Vault
    /// that cannot be reached would.
    pub failing_variables: Vec<String>,
}

/// A running app: the components of one spin.toml over one state directory.
pub struct Host {
    router: Router,
    components: HashMap<String, ComponentRuntime>,
    kv: KvStore,
    failing_variables: Vec<String>,
    /// Key-value faults to inject ([`KvFaults`]).
    pub kv_faults: Arc<KvFaults>,
    /// `<state dir>/logs`: each component's stdout and stderr, as Spin
    /// keeps them (`<id>_stdout.txt`, `<id>_stderr.txt`).
    log_dir: PathBuf,
}

impl Host {
    /// Load `spin.toml` and check it as the chosen Spin version does, resolve
    /// variables (manifest defaults overridden by `overrides`), compile and
    /// link every component, open the store. A load failure reads like
    /// Spin's: `Failed to load component …`.
    pub fn start(
        manifest_path: &Path,
        state_dir: &Path,
        overrides: &BTreeMap<String, String>,
        options: &HostOptions,
    ) -> Result<Host> {
        let manifest = Manifest::load(manifest_path)?;
        for (id, decl) in &manifest.component {
            check_at_load(
                &decl.allowed_outbound_hosts,
                &manifest.variables,
                options.rules,
            )
            .map_err(|e| {
                anyhow!(
                    "Failed to load application ({}): Failed to load component `{id}`: {e}",
                    options.rules
                )
            })?;
        }
        let mut values = BTreeMap::new();
        for (name, decl) in &manifest.variables {
            match overrides.get(name).or(decl.default.as_ref()) {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                None => {
                    return Err(anyhow!(
                        "no provider resolved required variable(s): [{name}]"
                    ))
                }
            }
        }
        for name in overrides.keys() {
            if !manifest.variables.contains_key(name) {
                return Err(anyhow!("variable {name} is not declared in spin.toml"));
            }
        }
        let mut linker: Linker<HostState> = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::Function::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;

        let mut components = HashMap::new();
        for (id, decl) in &manifest.component {
            let path = manifest
                .source_path(id)
                .ok_or_else(|| anyhow!("component {id} has no source"))?;
            let component = compile(&path)?;
            let pre = ProxyPre::new(
                linker
                    .instantiate_pre(&component)
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("linking component {id}"))?,
            )?;
            for label in &decl.key_value_stores {
                if label != "default" {
                    return Err(anyhow!(
                        "unknown key_value_stores label {label:?} for component {id:?}"
                    ));
                }
            }
            let variables = decl
                .variables
                .iter()
                .map(|(k, t)| Ok((k.clone(), expand(t, &values)?)))
                .collect::<Result<BTreeMap<_, _>>>()?;
            components.insert(
                id.clone(),
                ComponentRuntime {
                    pre,
                    kv_labels: decl.key_value_stores.clone(),
                    variables,
                    allowed: AllowedHosts::resolve(
                        &decl.allowed_outbound_hosts,
                        &values,
                        options.rules,
                    ),
                },
            );
        }
        let router = Router::new(
            manifest
                .trigger
                .http
                .iter()
                .map(|t| (t.route.clone(), t.component.clone())),
        );
        Ok(Host {
            router,
            components,
            kv: KvStore::open(&options.kv, state_dir)?,
            failing_variables: options.failing_variables.clone(),
            kv_faults: Arc::default(),
            log_dir: {
                let dir = state_dir.join("logs");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                dir
            },
        })
    }

    /// A component's log file, opened to append: every instance of it
    /// writes to the same file, line by line, as under Spin.
    fn log_file(&self, component: &str, stream: &str) -> Result<wasmtime_wasi::cli::OutputFile> {
        let path = self.log_dir.join(format!("{component}_{stream}.txt"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(wasmtime_wasi::cli::OutputFile::new(file))
    }

    /// Run one request through its component.
    pub async fn handle(
        &self,
        req: TestRequest,
        client: SocketAddr,
        authority: &str,
    ) -> Result<TestResponse> {
        let mut req = req;
        let body = Full::new(Bytes::from(std::mem::take(&mut req.body)));
        self.handle_streaming(req, body, client, authority).await
    }

    /// Run one request whose body arrives as `body` streams it: the guest
    /// reads it as it comes, as on Spin (which sets no body limit). The
    /// response body is read whole.
    pub async fn handle_streaming<B>(
        &self,
        req: TestRequest,
        body: B,
        client: SocketAddr,
        authority: &str,
    ) -> Result<TestResponse>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let (parts, body, task) = match self.answer(req, body, client, authority).await? {
            Answer::Ready(resp) => return Ok(resp),
            Answer::Streaming { parts, body, task } => (parts, body, task),
        };
        let body = body
            .collect()
            .await
            .map_err(|e| anyhow!("reading the component's body: {e:?}"))?
            .to_bytes();
        if let Ok(Err(e)) = task.await {
            eprintln!("test host: component failed after responding: {e:?}");
        }
        Ok(TestResponse {
            status: parts.status.as_u16(),
            headers: header_pairs(&parts.headers),
            body: body.to_vec(),
        })
    }

    /// Run one request: an answer of the host's own, or the component's
    /// response head with its body still streaming from the guest.
    async fn answer<B>(
        &self,
        req: TestRequest,
        body: B,
        client: SocketAddr,
        authority: &str,
    ) -> Result<Answer>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let path = req.path_and_query.split('?').next().unwrap_or_default();
        if path.starts_with("/.well-known/spin/") {
            return Ok(Answer::Ready(match path {
                "/.well-known/spin/health" => TestResponse {
                    status: 200,
                    headers: vec![],
                    body: b"OK".to_vec(),
                },
                _ => empty(404),
            }));
        }
        let Some(matched) = self.router.route(path) else {
            return Ok(Answer::Ready(empty(404)));
        };
        let runtime = self
            .components
            .get(&matched.component)
            .ok_or_else(|| anyhow!("no component {}", matched.component))?;

        let mut builder = hyper::Request::builder()
            .method(req.method.as_str())
            .uri(format!("http://{authority}{}", req.path_and_query));
        const STRIPPED: &[&str] = &[
            "host",
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
            "http2-settings",
        ];
        for (k, v) in &req.headers {
            if !STRIPPED.contains(&k.to_ascii_lowercase().as_str()) {
                builder = builder.header(k, v);
            }
        }
        for (k, v) in spin_headers(&matched, &req.path_and_query, client, authority) {
            builder = builder.header(k, v);
        }
        let hyper_req = builder.body(body)?;

        let state = HostState {
            wasi: WasiCtx::builder()
                .stdout(self.log_file(&matched.component, "stdout")?)
                .stderr(self.log_file(&matched.component, "stderr")?)
                .build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundHooks {
                allowed: runtime.allowed.clone(),
                component: matched.component.clone(),
            },
            kv: self.kv.clone(),
            kv_labels: runtime.kv_labels.clone(),
            component: matched.component.clone(),
            variables: runtime.variables.clone(),
            failing_variables: self.failing_variables.clone(),
            kv_faults: Arc::clone(&self.kv_faults),
        };
        let mut store = Store::new(engine(), state);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, hyper_req)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let pre = runtime.pre.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });
        let response = match receiver.await {
            Ok(Ok(resp)) => resp,
            Ok(Err(code)) => {
                eprintln!("test host: component set an error response: {code:?}");
                return Ok(Answer::Ready(empty(500)));
            }
            Err(_) => {
                // The guest trapped or returned without a response: Spin answers 500.
                match task.await {
                    Ok(Err(e)) => eprintln!("test host: component failed: {e:?}"),
                    Ok(Ok(())) => eprintln!("test host: guest failed to produce a response"),
                    Err(e) => eprintln!("test host: task failed: {e}"),
                }
                return Ok(Answer::Ready(empty(500)));
            }
        };
        let (parts, body) = response.into_parts();
        Ok(Answer::Streaming { parts, body, task })
    }

    /// Serve on 127.0.0.1 (a free port) until the returned handle is dropped.
    pub async fn listen(self: Arc<Self>) -> Result<Listener> {
        self.listen_on(([127, 0, 0, 1], 0).into()).await
    }

    /// Serve on `addr` until the returned handle is dropped.
    pub async fn listen_on(self: Arc<Self>, addr: SocketAddr) -> Result<Listener> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stop_rx => break,
                    a = listener.accept() => a,
                };
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let host = self.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let host = host.clone();
                        async move { host.serve_hyper(req, peer, addr).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Listener {
            addr,
            _stop: stop_tx,
        })
    }

    async fn serve_hyper(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<hyper::Response<ServedBody>> {
        let (parts, body) = req.into_parts();
        let authority = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| local.to_string());
        let test_req = TestRequest {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
            headers: parts
                .headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.to_string(), v.to_string())))
                .collect(),
            body: Vec::new(),
        };
        // The body is passed on as the guest writes it, as Spin does: a
        // client sees the first bytes of a long export at once.
        let (status, headers, body): (u16, Vec<(String, String)>, ServedBody) =
            match self.answer(test_req, body, peer, &authority).await {
                Ok(Answer::Ready(resp)) => (resp.status, resp.headers, whole(resp.body)),
                Ok(Answer::Streaming { parts, body, task }) => {
                    tokio::spawn(async move {
                        if let Ok(Err(e)) = task.await {
                            eprintln!("test host: component failed after responding: {e:?}");
                        }
                    });
                    let headers = header_pairs(&parts.headers);
                    (parts.status.as_u16(), headers, passed_on(body).await)
                }
                Err(e) => {
                    eprintln!("test host: {e:?}");
                    (500, empty(500).headers, whole(Vec::new()))
                }
            };
        let mut builder = hyper::Response::builder().status(status);
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        Ok(builder.body(body)?)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A body sent in one piece.
fn whole(body: Vec<u8>) -> ServedBody {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// How much of a guest's body is gathered before the head goes out.
const FIRST_WRITE: usize = 64 * 1024;

/// A guest's body as the listener sends it: whole when it ends within its
/// first [`FIRST_WRITE`] bytes (a fault or an error goes out in one write
/// with the head, so a client that is still sending a refused body reads it
/// before the connection closes), else that much and then the rest as the
/// guest writes it.
async fn passed_on(mut body: wasmtime_wasi_http::p2::body::HyperOutgoingBody) -> ServedBody {
    let mut first = Vec::new();
    while first.len() < FIRST_WRITE {
        match body.frame().await {
            None => return whole(first),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    first.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                eprintln!("test host: the component's body failed: {e:?}");
                break;
            }
        }
    }
    let head = futures::stream::once(async move {
        Ok::<_, BoxError>(hyper::body::Frame::data(Bytes::from(first)))
    });
    let rest =
        http_body_util::BodyStream::new(body.map_err(|e| -> BoxError { format!("{e:?}").into() }));
    http_body_util::StreamBody::new(futures::StreamExt::chain(head, rest)).boxed_unsync()
}

/// What the listener sends: a whole body, or the guest's as it streams.
type ServedBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// A request's answer before its body is read.
enum Answer {
    /// The host's own (health, no route, the guest failed to answer).
    Ready(TestResponse),
    /// The component's head, its body still coming.
    Streaming {
        parts: hyper::http::response::Parts,
        body: wasmtime_wasi_http::p2::body::HyperOutgoingBody,
        task: tokio::task::JoinHandle<wasmtime::Result<()>>,
    },
}

/// A loopback listener; stops when dropped.
pub struct Listener {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn empty(status: u16) -> TestResponse {
    TestResponse {
        status,
        headers: vec![("content-length".into(), "0".into())],
        body: Vec::new(),
    }
}

/// The headers Spin appends for a matched route.
fn spin_headers(
    m: &RouteMatch,
    path_and_query: &str,
    client: SocketAddr,
    authority: &str,
) -> Vec<(String, String)> {
    let matched_route = m.raw_route.trim_end_matches('/').to_string();
    let component_route = m
        .raw_route
        .strip_suffix("/...")
        .unwrap_or(&m.raw_route)
        .to_string();
    let mut headers = vec![
        (
            "spin-full-url".into(),
            format!("http://{authority}{path_and_query}"),
        ),
        ("spin-path-info".into(), m.path_info.clone()),
        ("spin-matched-route".into(), matched_route),
        ("spin-raw-component-route".into(), m.raw_route.clone()),
        ("spin-component-route".into(), component_route),
        ("spin-base-path".into(), "/".into()),
        ("spin-client-addr".into(), client.to_string()),
    ];
    for (name, value) in &m.params {
        headers.push((
            format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            ),
            value.clone(),
        ));
    }
    headers
}

/// The interfaces a built component imports, by name.
pub fn component_imports(path: &Path) -> Result<Vec<String>> {
    let component = compile(path)?;
    Ok(component
        .component_type()
        .imports(engine())
        .map(|(name, _)| name.to_string())
        .collect())
}

/// The interfaces a built component exports, by name.
pub fn component_exports(path: &Path) -> Result<Vec<String>> {
    let component = compile(path)?;
    Ok(component
        .component_type()
        .exports(engine())
        .map(|(name, _)| name.to_string())
        .collect())
}
