//! sfsync's end-to-end test support: a small Spin-like host that runs the
//! built components ([`host`]), and the one test-facing API ([`app`]) that
//! drives either it or a real `spin up` (when `SPIN_BIN` is set).
//!
//! | module | owns |
//! |---|---|
//! | [`manifest`] | reading spin.toml |
//! | [`router`] | Spin's route matching |
//! | [`kv`] | the key-value store on SQLite (Spin's schema) or Redis (Spin's Redis store) |
//! | [`outbound`] | `allowed_outbound_hosts` checks, by Spin release (3.3, 4.0, 4.1) |
//! | [`host`] | wasmtime: instances, bindings from `wit/`, requests, listening |
//! | [`app`] | `TestApp`: start, request, restart, read the store |
//! | [`soap`] | building Outbound Messages for tests |
//! | [`raw_http`] | hand-written requests on a socket: declared-but-missing, chunked, trickled bodies |
//! | [`loopback`] | the small HTTP server the fakes run on 127.0.0.1 |
//! | [`fake_zendesk`] | a stateful fake Zendesk on 127.0.0.1, with faults |
//! | [`fake_webhook`] | a recording JSON API on 127.0.0.1 |
//! | [`tls`] | a TLS endpoint with a test CA in front of a listener |
//! | [`webdriver`] | headless Chromium through chromedriver, for the dashboard |

pub mod app;
pub mod fake_salesforce;
pub mod fake_webhook;
pub mod fake_zendesk;
pub mod host;
pub mod kv;
pub mod loopback;
pub mod manifest;
pub mod outbound;
pub mod raw_http;
pub mod router;
pub mod soap;
pub mod tls;
pub mod webdriver;
