//! `sync-core`: everything sfsync decides, with no I/O of its own.
//!
//! The Spin functions are thin glue around this crate: they turn the HTTP
//! request into a [`web::Request`], build the Spin-backed [`io::Kv`] and
//! [`io::Http`], read [`settings::Settings`] from Spin variables, call one
//! entry point, and write the [`web::Response`] back.
//!
//! Where each rule lives, from the bottom up (a module uses only those above
//! it in this table):
//!
//! | module | owns |
//! |---|---|
//! | [`io`] | the `Kv` and `Http` traits |
//! | [`web`] | the request and response types the functions convert |
//! | [`sobject`] | a Salesforce record: fields that are absent, null or text; ids and API names |
//! | [`budget`] | the request's deadline and the destination's "wait", for every call |
//! | [`settings`] | the variables: destination, org id, tokens; secrets |
//! | [`soap`] | reading Outbound Messages; Ack and SOAP Fault answers |
//! | [`reference`](mod@reference) | `Object/SalesforceId`, parsed and printed in one place |
//! | [`failure`] | the one failure type, from the destination to the record view |
//! | [`record`] | `SyncRecord`, its transitions, skip and ignore reasons, the record view |
//! | [`run`] | the history of trigger, resend and backfill invocations |
//! | [`log`] | the one JSON line each message, resend, backfill and admin change writes to stdout |
//! | [`context`] | one request's world: settings, `Kv`, `Http`, clock, the run it wrote |
//! | [`mapping`] | the mapping file: checks, applying it, fingerprints |
//! | [`store`] | every key and prefix in the key-value store, and decoding |
//! | [`counter`] | counters the store increments, in each backend's form |
//! | [`index`] | the record index: per-object logs of slots and counters that pages and stats read instead of listing keys |
//! | [`history`] | where runs are kept: a ring bounded by count and age, newest first |
//! | [`lease`] | one request at a time per record, across instances and nodes |
//! | [`waiting`] | Contacts waiting for their Account's organization, linked when it syncs |
//! | [`destination`] | pushing a mapped record: dry-run, Zendesk, webhook |
//! | [`salesforce`] | reading records from Salesforce's REST API: the sealed token, SOQL, pages, the API budget, the concurrency bound |
//! | [`conversion`] | a converted Lead: its destination user handed to the Contact it became |
//! | [`pipeline`] | the sync of one record, which every entry point runs |
//! | [`admission`] | what a request must show before its body is read; body caps per route |
//! | [`inbound`] | the Outbound Message endpoint and the Ack policy |
//! | [`admin`] | the admin API behind one auth check: records and filters, stats, mapping, runs, export, import, pause, resend, backfill; its JSON as types in [`admin::wire`] |
//!
//! (Module docs may link downwards to name who calls them; code never
//! imports upwards.)

pub mod admin;
pub mod admission;
pub mod budget;
pub mod bulk;
pub mod context;
pub mod conversion;
pub mod counter;
pub mod destination;
pub mod failure;
pub mod history;
pub mod inbound;
pub mod index;
pub mod io;
pub mod lease;
pub mod log;
pub mod mapping;
pub mod pacing;
pub mod pipeline;
pub mod record;
pub mod reference;
pub mod run;
pub mod salesforce;
pub mod settings;
pub mod soap;
pub mod sobject;
pub mod store;
pub mod waiting;
pub mod web;

#[cfg(any(test, feature = "memory"))]
pub mod memory;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_entry;
