//! A fake JSON upsert API for the webhook destination: records every
//! request (method, path, Authorization header, JSON body) and answers the
//! queued statuses, then 200. Listens on 127.0.0.1, stops when dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    statuses: VecDeque<u16>,
}

pub struct FakeWebhook {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: crate::loopback::Server,
}

impl FakeWebhook {
    pub fn start() -> FakeWebhook {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = crate::loopback::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let state = shared.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                s.received.push(Received {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    authorization: parts
                        .headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let status = s.statuses.pop_front().unwrap_or(200);
                hyper::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(format!(
                        "{{\"message\":\"status {status}\"}}"
                    ))))
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
        });
        FakeWebhook {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer the next requests with these statuses.
    pub fn reply_with(&self, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .statuses
            .extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .received
            .clone()
    }
}
