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
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeWebhook {
    pub fn start() -> FakeWebhook {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stop_rx => break,
                        a = listener.accept() => a,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let state = shared.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let state = state.clone();
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
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        FakeWebhook {
            addr,
            state,
            _stop: stop_tx,
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
