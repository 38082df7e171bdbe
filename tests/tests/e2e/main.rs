//! Every end-to-end test of sfsync in one test binary, so wasmtime and the
//! test host are compiled and linked once. One module per area; each starts
//! the built components on the test host (or a real Spin with `SPIN_BIN`)
//! through `sfsync_tests::app::TestApp`.
//!
//! | module | covers |
//! |---|---|
//! | [`contract`] | the host contract: component imports, the manifest under each Spin release's rules, many nodes on Redis, process cleanup |
//! | [`concurrency`] | two nodes on one store under 200+ parallel deliveries: newest state, no duplicates, nothing lost |
//! | [`faults`] | the fault matrix: the store failing at each call, the destination failing each way at each call |
//! | [`health`] | `GET /admin/health`: variables, destination, mapping, store, sizes |
//! | [`hostile`] | hostile requests over a real socket: bodies over their cap, declared or streamed; slow bodies |
//! | [`skeleton`] | routes, refusals, Acks and the store, end to end |
//! | [`mapping`] | the field mapping, run-time mapping changes, updates |
//! | [`zendesk`] | the Zendesk destination and the multi-org rules |
//! | [`webhook`] | the webhook destination |
//! | [`admin`] | the admin API: records, stats, resend, runs, export, import, pause |
//! | [`backfill`] | backfill from Salesforce CSV exports |
//! | [`pull`] | the initial load from Salesforce's REST API (the fake Salesforce) |
//! | [`conversion`] | Lead conversion: the Lead's Zendesk user follows its Contact, in either order |
//! | [`dashboard`] | the dashboard page in headless Chromium |
//! | [`logs`] | the log line of each message, resend, backfill and admin change |

mod admin;
mod backfill;
mod bulk;
mod concurrency;
mod contract;
mod conversion;
mod dashboard;
mod faults;
mod health;
mod hostile;
mod logs;
mod mapping;
mod pull;
mod skeleton;
mod webhook;
mod zendesk;
