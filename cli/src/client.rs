//! The admin API over HTTP, with errors that say what to do.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A response with any status.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| anyhow!("sfsync answered something that is not JSON ({e})"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
        }
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
            Err(ureq::Error::Transport(t)) => bail!(
                "cannot reach sfsync at {}: {t}\nhint: is it running (spin up)? Set --url or SFSYNC_URL to its address",
                self.base
            ),
        };
        let status = resp.status();
        let mut body = Vec::new();
        resp.into_reader().read_to_end(&mut body)?;
        Ok(Reply { status, body })
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
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let message = reply
            .json()
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| reply.text());
        let mut text = format!("{method} {path} failed ({}): {message}", reply.status);
        if let Ok(v) = reply.json() {
            for p in v
                .get("problems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                text.push_str(&format!(
                    "\n  {}: {}",
                    p.get("path").and_then(Value::as_str).unwrap_or_default(),
                    p.get("message").and_then(Value::as_str).unwrap_or_default()
                ));
            }
        }
        if reply.status == 401 {
            text.push_str("\nhint: check --token / SFSYNC_TOKEN against the admin_token variable");
        }
        bail!(text)
    }

    pub fn get_json(&self, path: &str) -> Result<Value> {
        self.admin("GET", path, None, &[])?.json()
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
