//! The admin API over HTTP or HTTPS, with errors that say what happened.
//!
//! HTTPS trusts the system's roots (as `rustls-native-certs` finds them,
//! honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`), the Mozilla roots bundled
//! in the binary when the system has none, and any extra CA given with
//! `--ca-cert` / `SFSYNC_CA_CERT` (a PEM file, for a private CA).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sync_core::admin::wire::ErrorReply;

pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A response with any status.
pub struct Reply {
    pub status: u16,
    /// `Retry-After` in seconds, when the server sent one.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Result<Value> {
        self.decode()
    }

    /// The body as one of the admin API's answers.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow!(
                "sfsync answered something this CLI does not read ({e}); are the CLI and the server the same version?"
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The TLS settings: system roots, bundled roots as a fallback, and the
/// certificates of `extra_ca` (PEM) when given.
fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = extra_ca {
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading the CA certificate file {}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
        if certs.is_empty() {
            bail!(
                "{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("a certificate in {} is not usable", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why a request got no HTTP answer, in words that name the cause.
fn transport_error(url: &str, t: &ureq::Transport) -> anyhow::Error {
    use std::error::Error as _;
    let mut causes = Vec::new();
    let mut source = t.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = e.source();
    }
    let cause = if causes.is_empty() {
        t.message()
            .map(str::to_string)
            .unwrap_or_else(|| t.kind().to_string())
    } else {
        causes.join(": ")
    };
    let lower = cause.to_ascii_lowercase();
    let hint = match t.kind() {
        ureq::ErrorKind::Dns => Some("the host name does not resolve; check --url / SFSYNC_URL".to_string()),
        ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
            Some("give --url / SFSYNC_URL as http(s)://host[:port]".to_string())
        }
        _ if lower.contains("certificate") || lower.contains("unknownissuer") => Some(
            "the server's certificate is not trusted here; pass --ca-cert FILE (or SFSYNC_CA_CERT) with the PEM of the CA that signed it".to_string(),
        ),
        _ if lower.contains("refused") => Some(format!(
            "nothing accepts connections at {}; is sfsync running there?",
            t.url().map(|u| format!("{}:{}", u.host_str().unwrap_or_default(), u.port_or_known_default().unwrap_or_default())).unwrap_or_else(|| url.to_string())
        )),
        _ => None,
    };
    let mut text = format!("cannot reach {url}: {cause}");
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}"));
    }
    anyhow!(text)
}

/// The longest wait [`Client::admin_patiently`] keeps to.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How many times [`Client::admin_patiently`] sends a call in all.
pub const MAX_TRIES: u32 = 8;

impl Client {
    /// A client for `base`; `ca_cert` adds a PEM CA to the trusted roots.
    pub fn new(base: &str, token: Option<String>, ca_cert: Option<&Path>) -> Result<Client> {
        let mut agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120));
        if base.starts_with("https://") || ca_cert.is_some() {
            agent = agent.tls_config(tls_config(ca_cert)?);
        }
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent: agent.build(),
        })
    }

    /// The admin token, if one was given.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send a request; any status comes back as a [`Reply`].
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.request(method, &url);
        if let Some(t) = &self.token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        if let Ok(user) = std::env::var("USER") {
            req = req.set("x-sfsync-user", &user);
        }
        if let Some(ct) = content_type {
            req = req.set("content-type", ct);
        }
        let result = if body.is_empty() && method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(transport_error(&url, &t)),
        };
        let status = resp.status();
        let retry_after = resp
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Vec::new();
        resp.into_reader().read_to_end(&mut body)?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// Send an admin call and insist on a 2xx; errors carry sfsync's message.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Reply> {
        if self.token.is_none() {
            bail!("no admin token\nhint: pass --token or set SFSYNC_TOKEN to the value of the admin_token variable");
        }
        let reply = self.send(method, path, content_type, body)?;
        self.insist(method, path, reply)
    }

    /// [`Client::admin`] for calls that change nothing when refused with
    /// `503` and `Retry-After` (a pull's page while Salesforce is busy):
    /// wait as asked (at most [`MAX_WAIT`] a time) and send it again, up to
    /// [`MAX_TRIES`] times; `waiting` hears each wait and why.
    pub fn admin_patiently(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        mut waiting: impl FnMut(Duration, &str),
    ) -> Result<Reply> {
        if self.token.is_none() {
            bail!("no admin token\nhint: pass --token or set SFSYNC_TOKEN to the value of the admin_token variable");
        }
        let mut tries = 1;
        loop {
            let reply = self.send(method, path, content_type, body)?;
            match reply.retry_after {
                Some(secs) if reply.status == 503 && tries < MAX_TRIES => {
                    let why = serde_json::from_slice::<ErrorReply>(&reply.body)
                        .map(|e| e.error)
                        .unwrap_or_else(|_| reply.text());
                    let wait = Duration::from_secs(secs.max(1)).min(MAX_WAIT);
                    waiting(wait, &why);
                    std::thread::sleep(wait);
                    tries += 1;
                }
                _ => return self.insist(method, path, reply),
            }
        }
    }

    /// The reply when it is a 2xx, else an error with sfsync's message.
    fn insist(&self, method: &str, path: &str, reply: Reply) -> Result<Reply> {
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let mut text = match serde_json::from_slice::<ErrorReply>(&reply.body) {
            Ok(e) => {
                let mut text = format!("{method} {path} failed ({}): {}", reply.status, e.error);
                for p in &e.problems {
                    text.push_str(&format!("\n  {}: {}", p.path, p.message));
                }
                text
            }
            Err(_) => format!(
                "{method} {path} failed ({}): {}",
                reply.status,
                reply.text()
            ),
        };
        if reply.status == 401 {
            text.push_str("\nhint: check --token / SFSYNC_TOKEN against the admin_token variable");
        }
        bail!(text)
    }

    /// `GET` an admin route and read its typed answer.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.admin("GET", path, None, &[])?.decode()
    }

    /// `POST` a JSON body to an admin route and read its typed answer.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let body = serde_json::to_vec(body)?;
        self.admin("POST", path, Some("application/json"), &body)?
            .decode()
    }

    /// Send a body of `content_type` to an admin route, read the typed answer.
    pub fn send_typed<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<T> {
        self.admin(method, path, Some(content_type), body)?.decode()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        self.admin(
            "POST",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
        )?
        .json()
    }
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    sync_core::web::percent_encode(s)
}
