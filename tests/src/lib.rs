//! sfsync's end-to-end test support: a small Spin-like host that runs the
//! built components ([`host`]), and the one test-facing API ([`app`]) that
//! drives either it or a real `spin up` (when `SPIN_BIN` is set).
//!
//! | module | owns |
//! |---|---|
//! | [`manifest`] | reading spin.toml |
//! | [`router`] | Spin's route matching |
//! | [`kv`] | the key-value store on SQLite, Spin's schema |
//! | [`outbound`] | `allowed_outbound_hosts` checks |
//! | [`host`] | wasmtime: instances, bindings from `wit/`, requests, listening |
//! | [`app`] | `TestApp`: start, request, restart, read the store |
//! | [`soap`] | building Outbound Messages for tests |

pub mod app;
pub mod host;
pub mod kv;
pub mod manifest;
pub mod outbound;
pub mod router;
pub mod soap;
