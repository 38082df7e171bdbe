//! `sync-core`: everything sfsync decides, with no I/O of its own.
//!
//! The Spin functions are thin glue around this crate: they turn the HTTP
//! request into a [`web::Request`], build the Spin-backed [`io::Kv`] and
//! [`io::Http`], read [`settings::Settings`] from Spin variables, call one
//! entry point, and write the [`web::Response`] back.
//!
//! Where each rule lives:
//!
//! | module | owns |
//! |---|---|
//! | [`soap`] | reading Outbound Messages; Ack and SOAP Fault answers |
//! | [`sobject`] | a Salesforce record: fields that are absent, null or text |
//! | [`settings`] | the variables: destination, org id, tokens; secrets |
//! | [`mapping`] | the mapping file: checks, applying it, fingerprints |
//! | [`record`] | `SyncRecord`, its transitions, and the admin record view |
//! | [`store`] | which key holds what in the key-value store |
//! | [`destination`] | pushing a mapped record: dry-run (Zendesk, webhook next) |
//! | [`engine`] | one Outbound Message end to end, and the Ack policy |
//! | [`resend`] | pushing stored records again with the current mapping |
//! | [`backfill`] | the initial load from a Salesforce CSV export |
//! | [`run`] | the history of trigger and resend invocations |
//! | [`admin`] | the admin API: auth, records and filters, stats, mapping, runs, export, import, pause |
//! | [`web`] | the request and response types the functions convert |
//! | [`io`] | the `Kv` and `Http` traits |

pub mod admin;
pub mod backfill;
pub mod destination;
pub mod engine;
pub mod io;
pub mod mapping;
pub mod record;
pub mod resend;
pub mod run;
pub mod settings;
pub mod soap;
pub mod sobject;
pub mod store;
pub mod web;

#[cfg(any(test, feature = "memory"))]
pub mod memory;
