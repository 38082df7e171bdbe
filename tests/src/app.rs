//! `TestApp`: the one API the end-to-end tests use, whichever host runs the
//! components.
//!
//! - Without `SPIN_BIN`, the components run in this process on the test host
//!   ([`crate::host`]); [`TestApp::listen`] also serves them on 127.0.0.1.
//! - With `SPIN_BIN=/path/to/spin`, the same tests start
//!   `spin up --listen 127.0.0.1:{free port}` on the built app with a
//!   temporary state directory and the variables as `SPIN_VARIABLE_*`, and
//!   talk HTTP to it.
//!
//! Both keep the key-value store in `{state dir}/sqlite_key_value.db`, so
//! [`TestApp::kv_dump`] reads the store the same way for both.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::host::{Host, HostOptions, Listener, TestRequest, TestResponse};
use crate::kv::{KvConfig, KvStore};
use crate::outbound::SpinRules;

/// The workspace root (where spin.toml is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The components the manifest names.
pub const COMPONENTS: &[&str] = &[
    "record-created",
    "field-updated",
    "resend",
    "admin",
    "admin-write",
];

/// Build the components for wasm32-wasip2 (once per test process), so the
/// tests never run a stale `.wasm`. Cargo makes this a no-op when up to date.
pub fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(root())
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"]);
        for c in COMPONENTS {
            cmd.args(["-p", c]);
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("could not run cargo to build the components: {e}"));
        assert!(
            status.success(),
            "building the components failed; is the target installed? (rustup target add wasm32-wasip2)"
        );
    });
}

/// The variables every test starts from: a configured org and tokens, dry-run.
pub const ORG_ID: &str = "00D000000000062EAA";
pub const ENDPOINT_TOKEN: &str = "sf-endpoint-token-e2e";
pub const ADMIN_TOKEN: &str = "admin-token-e2e";

pub fn default_variables() -> BTreeMap<String, String> {
    [
        ("sf_organization_id", &ORG_ID[..15]),
        ("sf_endpoint_token", ENDPOINT_TOKEN),
        ("admin_token", ADMIN_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// [`default_variables`] with the Zendesk destination pointed at
/// `zendesk_url` (the fake Zendesk's credentials), multi-org on or off.
pub fn zendesk_variables(zendesk_url: &str, multi_org: bool) -> BTreeMap<String, String> {
    let mut vars = default_variables();
    for (k, v) in [
        ("destination", "zendesk"),
        ("zendesk_url", zendesk_url),
        ("zendesk_email", crate::fake_zendesk::AGENT_EMAIL),
        ("zendesk_api_token", crate::fake_zendesk::API_TOKEN),
        (
            "zendesk_multi_org",
            if multi_org { "true" } else { "false" },
        ),
    ] {
        vars.insert(k.into(), v.into());
    }
    vars
}

enum Backend {
    TestHost {
        runtime: tokio::runtime::Runtime,
        host: Arc<Host>,
    },
    Spin {
        process: SpinProcess,
        addr: SocketAddr,
    },
}

/// Which store a [`TestApp`] runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// `SFSYNC_TEST_KV=redis` (with `SFSYNC_TEST_REDIS_URL`) gives each app a
    /// fresh Redis database; otherwise SQLite in the app's state directory.
    FromEnv,
    Sqlite,
    /// This Redis URL (several apps may share it: many nodes, one store).
    Redis(String),
}

/// A running sfsync app over its own temporary state directory.
pub struct TestApp {
    backend: Backend,
    /// Shared by the nodes of one deployment ([`TestApp::another_node`]).
    state: Arc<tempfile::TempDir>,
    variables: BTreeMap<String, String>,
    options: HostOptions,
}

impl TestApp {
    /// Start with [`default_variables`].
    pub fn start() -> TestApp {
        TestApp::with_variables(default_variables())
    }

    /// Start with exactly these variable values (spin.toml defaults for the rest).
    pub fn with_variables(variables: BTreeMap<String, String>) -> TestApp {
        TestApp::with_options(variables, None, Store::FromEnv)
    }

    /// Start with these variables under a chosen Spin version's rules (the
    /// test host only; `None` is `SFSYNC_SPIN_RULES`, 4.0 when unset) on a
    /// chosen store. Panics when the app does not start.
    pub fn with_options(
        variables: BTreeMap<String, String>,
        rules: Option<SpinRules>,
        store: Store,
    ) -> TestApp {
        TestApp::try_with_options(variables, rules, store).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`TestApp::with_options`], with the host's refusal to start as `Err`.
    pub fn try_with_options(
        variables: BTreeMap<String, String>,
        rules: Option<SpinRules>,
        store: Store,
    ) -> Result<TestApp, String> {
        TestApp::try_with_manifest(&root().join("spin.toml"), variables, rules, store)
    }

    /// As [`TestApp::try_with_options`], from another manifest than the
    /// project's `spin.toml` (its `source` paths relative to it).
    pub fn try_with_manifest(
        manifest: &Path,
        variables: BTreeMap<String, String>,
        rules: Option<SpinRules>,
        store: Store,
    ) -> Result<TestApp, String> {
        ensure_built();
        let state = tempfile::Builder::new()
            .prefix("sfsync-e2e-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let redis = match store {
            Store::Sqlite => None,
            Store::Redis(url) => Some(url),
            Store::FromEnv => match (
                std::env::var("SFSYNC_TEST_KV").as_deref(),
                crate::kv::test_redis_url(),
            ) {
                (Ok("redis"), Some(base)) => {
                    Some(crate::kv::fresh_redis_database(&base).map_err(|e| format!("{e:#}"))?)
                }
                (Ok("redis"), None) => return Err(
                    "SFSYNC_TEST_KV=redis needs SFSYNC_TEST_REDIS_URL (scripts/test starts one)"
                        .into(),
                ),
                _ => None,
            },
        };
        // A Redis store is configured the way an operator does it: the
        // shipped runtime-config file with the URL filled in.
        let (kv, runtime_config) = match redis {
            None => (KvConfig::Sqlite, None),
            Some(url) => {
                let path = state.path().join("runtime-config.toml");
                std::fs::write(&path, redis_runtime_config(&url)?)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                let kv = KvConfig::from_runtime_config(&text).map_err(|e| format!("{e:#}"))?;
                (kv, Some(path))
            }
        };
        let options = HostOptions {
            rules: rules.unwrap_or_else(SpinRules::from_env),
            kv,
            manifest: manifest.to_path_buf(),
            runtime_config,
            failing_variables: Vec::new(),
        };
        let backend = start_backend(state.path(), &variables, &options)?;
        Ok(TestApp {
            backend,
            state: Arc::new(state),
            variables,
            options,
        })
    }

    /// A second node of the same deployment: the same variables and
    /// manifest over the same store — the same SQLite file (as two `spin up`
    /// on one state directory) or the same Redis database.
    pub fn another_node(&self) -> TestApp {
        let backend = start_backend(self.state.path(), &self.variables, &self.options)
            .unwrap_or_else(|e| panic!("{e}"));
        TestApp {
            backend,
            state: Arc::clone(&self.state),
            variables: self.variables.clone(),
            options: self.options.clone(),
        }
    }

    /// On the test host: these variables' provider fails (as an unreachable
    /// Vault would), from now on. Not available on a real `spin`.
    pub fn with_failing_variables(
        variables: BTreeMap<String, String>,
        failing: &[&str],
    ) -> Option<TestApp> {
        if spin_bin().is_some() {
            return None;
        }
        let mut app = TestApp::with_variables(variables);
        app.options.failing_variables = failing.iter().map(|s| s.to_string()).collect();
        app.restart();
        Some(app)
    }

    /// The log lines a component wrote to its stdout so far, each parsed as
    /// JSON (`<state dir>/logs/<component>_stdout.txt`, where Spin keeps
    /// them too). A line that is not JSON fails the test: sfsync writes
    /// only JSON lines.
    pub fn log_lines(&self, component: &str) -> Vec<serde_json::Value> {
        let path = self
            .state
            .path()
            .join("logs")
            .join(format!("{component}_stdout.txt"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {l}", path.display()))
            })
            .collect()
    }

    /// Everything the components logged, stdout and stderr, as text.
    pub fn all_logs(&self) -> String {
        let dir = self.state.path().join("logs");
        let mut out = String::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        out
    }

    /// The Redis URL this app's store is on, if any.
    pub fn redis_url(&self) -> Option<&str> {
        match &self.options.kv {
            KvConfig::Redis(url) => Some(url),
            KvConfig::Sqlite => None,
        }
    }

    /// Start with the Zendesk destination pointed at `zendesk_url` (the fake
    /// Zendesk's credentials), multi-org on or off.
    pub fn with_zendesk(zendesk_url: &str, multi_org: bool) -> TestApp {
        TestApp::with_variables(zendesk_variables(zendesk_url, multi_org))
    }

    /// The test host's key-value fault injection (`None` on a real `spin`,
    /// which cannot fail a chosen call).
    pub fn kv_faults(&self) -> Option<&crate::host::KvFaults> {
        match &self.backend {
            Backend::TestHost { host, .. } => Some(&host.kv_faults),
            Backend::Spin { .. } => None,
        }
    }

    /// Whether the components run on the test host (which can apply a
    /// chosen Spin version's rules) rather than a real `spin`.
    pub fn on_test_host(&self) -> bool {
        matches!(self.backend, Backend::TestHost { .. })
    }

    /// Which host runs the components.
    pub fn host_name(&self) -> &'static str {
        match self.backend {
            Backend::TestHost { .. } => "test host",
            Backend::Spin { .. } => "spin",
        }
    }

    /// Stop and start again over the same state directory.
    pub fn restart(&mut self) {
        if let Backend::Spin { process, .. } = &mut self.backend {
            process.stop();
        }
        self.backend = start_backend(self.state.path(), &self.variables, &self.options)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Send a request.
    pub fn request(&self, req: TestRequest) -> TestResponse {
        match &self.backend {
            Backend::TestHost { runtime, host } => {
                let client: SocketAddr = ([127, 0, 0, 1], 50000).into();
                runtime
                    .block_on(host.handle(req, client, "127.0.0.1:3000"))
                    .unwrap_or_else(|e| panic!("test host: {e:?}"))
            }
            Backend::Spin { addr, .. } => http_request(&format!("http://{addr}"), req),
        }
    }

    /// `POST` a body to a path (with query).
    pub fn post(
        &self,
        path_and_query: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> TestResponse {
        self.request(TestRequest {
            method: "POST".into(),
            path_and_query: path_and_query.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        })
    }

    /// Send an Outbound Message to `/sf/created` or `/sf/updated` with the
    /// right token.
    pub fn send_message(&self, route: &str, xml: &str) -> TestResponse {
        let mut req = TestRequest {
            method: "POST".into(),
            path_and_query: format!("{route}?token={ENDPOINT_TOKEN}"),
            headers: vec![
                ("content-type".into(), "text/xml; charset=utf-8".into()),
                ("soapaction".into(), "\"\"".into()),
            ],
            body: xml.as_bytes().to_vec(),
        };
        req.headers
            .push(("user-agent".into(), "Jakarta Commons-HttpClient/3.1".into()));
        self.request(req)
    }

    /// `GET` an admin path with the configured admin token.
    pub fn admin_get(&self, path_and_query: &str) -> TestResponse {
        self.admin_get_with(path_and_query, Some(ADMIN_TOKEN))
    }

    /// `GET` an admin path with the given bearer token (or none).
    pub fn admin_get_with(&self, path_and_query: &str, token: Option<&str>) -> TestResponse {
        let mut headers = Vec::new();
        if let Some(t) = token {
            headers.push(("authorization".into(), format!("Bearer {t}")));
        }
        self.request(TestRequest {
            method: "GET".into(),
            path_and_query: path_and_query.into(),
            headers,
            body: Vec::new(),
        })
    }

    /// Any admin request with the configured admin token.
    pub fn admin(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> TestResponse {
        self.request(TestRequest {
            method: method.into(),
            path_and_query: path_and_query.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {ADMIN_TOKEN}")),
                ("content-type".into(), content_type.into()),
                ("x-sfsync-user".into(), "e2e".into()),
            ],
            body: body.into(),
        })
    }

    /// `POST /admin/resend` with this JSON body; the reply, which must be a 200.
    pub fn resend(&self, body: serde_json::Value) -> sync_core::admin::wire::ResendReply {
        let resp = self.admin(
            "POST",
            "/admin/resend",
            "application/json",
            body.to_string(),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        serde_json::from_slice(&resp.body).expect("a resend reply")
    }

    /// Write entries straight into the `default` store (to seed benchmarks);
    /// the app reads them like its own.
    pub fn kv_seed(&self, entries: &[(String, Vec<u8>)]) {
        self.store()
            .set_many("default", entries)
            .unwrap_or_else(|e| panic!("seeding the store: {e}"));
    }

    /// Every key and value of the `default` store, in key order.
    pub fn kv_dump(&self) -> Vec<(String, Vec<u8>)> {
        match &self.options.kv {
            KvConfig::Sqlite => crate::kv::dump(&crate::kv::db_path(self.state.path())),
            KvConfig::Redis(_) => self.store().dump().map_err(anyhow::Error::msg),
        }
        .unwrap_or_else(|e| panic!("reading the store: {e}"))
    }

    /// Every record of `GET /admin/records?limit={limit}{query}` as
    /// `Object/SalesforceId`, following `next_cursor` page by page.
    pub fn record_pages(&self, query: &str, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/admin/records?limit={limit}{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.admin_get(&path);
            assert_eq!(page.status, 200, "{}", page.text());
            let page = page.json();
            for r in page["records"].as_array().expect("records") {
                out.push(format!(
                    "{}/{}",
                    r["object"].as_str().unwrap_or_default(),
                    r["salesforce_id"].as_str().unwrap_or_default()
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// The keys of the stored records (`rec/…`), in key order.
    pub fn record_keys(&self) -> Vec<String> {
        self.kv_dump()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("rec/"))
            .collect()
    }

    /// The app's store, opened from outside as another client would.
    fn store(&self) -> KvStore {
        KvStore::open(&self.options.kv, self.state.path())
            .unwrap_or_else(|e| panic!("opening the store: {e}"))
    }

    /// Serve the test host on 127.0.0.1 and return its base URL; with Spin,
    /// Spin's own listener. The listener stops when the handle is dropped.
    pub fn listen(&self) -> (String, Option<Listener>) {
        match &self.backend {
            Backend::TestHost { runtime, host } => {
                let listener = runtime
                    .block_on(host.clone().listen())
                    .unwrap_or_else(|e| panic!("listen: {e}"));
                (format!("http://{}", listener.addr), Some(listener))
            }
            Backend::Spin { addr, .. } => (format!("http://{addr}"), None),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Backend::Spin { process, .. } = &mut self.backend {
            process.stop();
        }
    }
}

/// The `spin` binary the suite runs against, if `SPIN_BIN` names one.
pub fn spin_bin() -> Option<PathBuf> {
    std::env::var_os("SPIN_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
}

fn start_backend(
    state_dir: &Path,
    variables: &BTreeMap<String, String>,
    options: &HostOptions,
) -> Result<Backend, String> {
    match spin_bin() {
        Some(bin) => start_spin(&bin, state_dir, variables, options),
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio: {e}"))?;
            let host = Host::start(&options.manifest, state_dir, variables, options)
                .map_err(|e| format!("test host: {e:#}"))?;
            Ok(Backend::TestHost {
                runtime,
                host: Arc::new(host),
            })
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// `deploy/runtime-config.redis.toml`, as shipped, with its Redis URL
/// replaced by `url`.
pub fn redis_runtime_config(url: &str) -> Result<String, String> {
    let path = root().join("deploy/runtime-config.redis.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let default = table
        .get_mut("key_value_store")
        .and_then(|s| s.get_mut("default"))
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| format!("{} has no [key_value_store.default]", path.display()))?;
    default.insert("url".into(), toml::Value::String(url.to_string()));
    toml::to_string(&table).map_err(|e| e.to_string())
}

fn start_spin(
    bin: &Path,
    state_dir: &Path,
    variables: &BTreeMap<String, String>,
    options: &HostOptions,
) -> Result<Backend, String> {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut cmd = Command::new(bin);
    cmd.current_dir(root())
        .arg("up")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--state-dir")
        .arg(state_dir)
        .arg("-f")
        .arg(&options.manifest);
    if let Some(rc) = &options.runtime_config {
        cmd.arg("--runtime-config-file").arg(rc);
    }
    for (k, v) in variables {
        cmd.env(format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v);
    }
    let log = state_dir.join(format!("spin-up-{}.log", addr.port()));
    let mut process = SpinProcess::spawn(cmd, &log)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = TestRequest {
            method: "GET".into(),
            path_and_query: "/.well-known/spin/health".into(),
            ..TestRequest::default()
        };
        if std::net::TcpStream::connect(addr).is_ok()
            && http_request(&format!("http://{addr}"), health).status == 200
        {
            return Ok(Backend::Spin { process, addr });
        }
        if let Some(status) = process.exited() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("spin up exited early with {status}:\n{text}"));
        }
        if Instant::now() > deadline {
            process.stop();
            return Err(format!("spin up did not answer on {addr} within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A `spin up` (or any command) in a process group of its own, with its
/// output in a file rather than the test's pipes. `spin up` runs the app in
/// a `spin trigger http` child; stopping kills the whole group, waits until
/// no process of it is left, and only then returns. Each live group is
/// listed as a file in `SFSYNC_TEST_PROCESS_DIR` (set by `scripts/test`),
/// which checks after the run that none survived.
pub struct SpinProcess {
    child: Child,
    pgid: i32,
    marker: Option<PathBuf>,
}

impl SpinProcess {
    pub fn spawn(mut cmd: Command, log: &Path) -> Result<SpinProcess, String> {
        use std::os::unix::process::CommandExt as _;
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
        let pgid = i32::try_from(child.id()).map_err(|e| e.to_string())?;
        let marker = std::env::var_os("SFSYNC_TEST_PROCESS_DIR").map(|d| {
            let path = Path::new(&d).join(pgid.to_string());
            let _ = std::fs::write(&path, format!("{:?}\n", cmd.get_program()));
            path
        });
        Ok(SpinProcess {
            child,
            pgid,
            marker,
        })
    }

    /// The process group id (the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether any process of the group is still alive (zombies, which
    /// only wait for their parent to reap them, do not count).
    pub fn group_alive(pgid: i32) -> bool {
        !group_members(pgid).is_empty()
    }

    /// SIGTERM to the group, then SIGKILL after 5 s; returns when the group is gone.
    pub fn stop(&mut self) {
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-self.pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && Self::group_alive(self.pgid) {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && Self::group_alive(self.pgid) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(marker) = self.marker.take() {
            if !Self::group_alive(self.pgid) {
                let _ = std::fs::remove_file(marker);
            }
        }
    }
}

/// The live (non-zombie) processes of a process group, from `/proc`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces.
            let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
            state != Some("Z") && pgrp == Some(pgid)
        })
        .collect()
}

impl Drop for SpinProcess {
    fn drop(&mut self) {
        if self.marker.is_some() || Self::group_alive(self.pgid) {
            self.stop();
        }
    }
}

/// One HTTP request over loopback.
pub fn http_request(base: &str, req: TestRequest) -> TestResponse {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let mut r = agent.request(&req.method, &format!("{base}{}", req.path_and_query));
    for (k, v) in &req.headers {
        r = r.set(k, v);
    }
    let result = if req.body.is_empty() && req.method == "GET" {
        r.call()
    } else {
        r.send_bytes(&req.body)
    };
    let resp = match result {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{} {}: {e}", req.method, req.path_and_query),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .unwrap_or_else(|e| panic!("reading the body: {e}"));
    TestResponse {
        status,
        headers,
        body,
    }
}

/// The bundled mapping's `[objects.Contact]` part alone, ending with its
/// fields table, so a test can append rules to it.
pub fn bundled_contact_mapping() -> String {
    "[objects.Contact]\nentity = \"user\"\nlinks = { organization = \"AccountId\" }\n[objects.Contact.fields]\nemail = { from = \"Email\", transforms = [\"trim\", \"lower\"] }\nname = { template = \"{FirstName} {LastName}\", required = true }\nphone = { from = \"Phone\", transforms = [\"trim\"] }\n".to_string()
}
