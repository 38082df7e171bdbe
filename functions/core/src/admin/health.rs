//! `GET /admin/health`: is this deployment able to sync, and if not, why and
//! what to do. `sfsync doctor` prints it; an operator's monitoring can poll
//! it (`200` when nothing blocks sync, `503` with the same body when
//! something does). Liveness is Spin's own `/.well-known/spin/health`.
//!
//! It checks, in one call: which variables are set (never their values);
//! the destination, with one authenticated call that changes nothing
//! ([`crate::destination::probe`]); the active mapping, parsed and checked
//! against the destination as a put would; the store, with a write, a read
//! and a delete of its own key; the pause; and the sizes of the record index
//! and the run history; and, when the connected app's variables are set,
//! that Salesforce issues a token (pull and reconcile need it; a cached
//! token costs no call, a new one costs none of the org's API requests).
//! Each thing that blocks sync is a [`Problem`] with its fix; what is only
//! risky is a warning — a Salesforce that cannot be read is one: the
//! Outbound Messages still sync.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::destination::{self, Probe};
use crate::io::{Http, Kv, KvError};
use crate::mapping::load::check_for_destination;
use crate::mapping::Mapping;
use crate::salesforce::Client;
use crate::settings::{DestinationKind, VARIABLES};
use crate::store;
use crate::web::Response;

use super::error::AdminError;
use super::wire::ProblemView;

/// The key the store check writes, reads and deletes.
pub const PROBE_KEY: &str = "health/probe";

/// sfsync's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub version: String,
    /// No [`Problem`]: messages are taken and records reach the destination.
    pub healthy: bool,
    /// Every variable sfsync reads: `set` or `unset`.
    pub variables: BTreeMap<String, String>,
    pub destination: Probe,
    pub mapping: MappingHealth,
    pub kv: KvHealth,
    pub paused: bool,
    pub history: HistorySize,
    pub index: IndexSize,
    /// What blocks sync, each with its fix.
    pub problems: Vec<Problem>,
    /// What is risky but does not block sync.
    pub warnings: Vec<String>,
    /// Reading from Salesforce (pull, reconcile).
    #[serde(default)]
    pub salesforce: SalesforceHealth,
}

/// Whether pulls and sweeps can read from Salesforce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceHealth {
    /// `sf_my_domain_url`, `sf_client_id` and `sf_client_secret` are set.
    pub configured: bool,
    /// Whether it issued a token (`None`: not configured, not asked).
    pub reachable: Option<bool>,
    pub error: Option<String>,
}

/// Ask for a token when the connected app is configured; a half-configured
/// one is a warning that names what is missing.
async fn check_salesforce<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    warnings: &mut Vec<String>,
) -> SalesforceHealth {
    let s = ctx.settings;
    let set = [
        s.sf_my_domain_url.is_some(),
        s.sf_client_id.is_some(),
        s.sf_client_secret.is_some(),
    ];
    if set.iter().all(|v| !v) {
        return SalesforceHealth::default();
    }
    let answer = match Client::new(ctx) {
        Ok(client) => client.check().await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(()) => SalesforceHealth {
            configured: true,
            reachable: Some(true),
            error: None,
        },
        Err(e) => {
            warnings.push(format!(
                "pull and reconcile cannot read from Salesforce: {e} (Outbound Messages still sync)"
            ));
            SalesforceHealth {
                configured: set.iter().all(|v| *v),
                reachable: Some(false),
                error: Some(e.to_string()),
            }
        }
    }
}

/// One thing that blocks sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub what: String,
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingHealth {
    /// `bundled` (config/mapping.toml) or `uploaded` (an admin's put).
    pub source: String,
    pub valid: bool,
    pub objects: Vec<String>,
    pub problems: Vec<ProblemView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvHealth {
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySize {
    /// Runs kept (at most `run_retention_count`).
    pub runs: u64,
    pub newest_run: u64,
    pub retention_count: u64,
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSize {
    /// Records the index counts (what stats and lists read).
    pub records: u64,
    pub generation: u64,
}

async fn check_kv<K: Kv>(kv: &K, stamp: &str) -> Result<(), KvError> {
    kv.set(PROBE_KEY, stamp.as_bytes()).await?;
    let read = kv.get(PROBE_KEY).await?;
    kv.delete(PROBE_KEY).await?;
    if read.as_deref() != Some(stamp.as_bytes()) {
        return Err(KvError(
            "a value written was not read back: another sfsync on the same store wrote at the same moment, or the store does not keep writes; call again".into(),
        ));
    }
    Ok(())
}

async fn check_mapping<K: Kv>(
    kv: &K,
    destination: DestinationKind,
) -> Result<MappingHealth, KvError> {
    let stored = store::stored_mapping(kv).await?;
    let (source, parsed, compiled) = match &stored {
        None => ("bundled", Ok(Mapping::bundled()), true),
        Some(s) => (
            "uploaded",
            Mapping::from_toml(&s.toml),
            s.compiled.is_some(),
        ),
    };
    let mut problems: Vec<ProblemView> = Vec::new();
    let mut objects = Vec::new();
    match parsed {
        Err(e) => problems.extend(e.0.iter().map(ProblemView::from)),
        Ok(m) => {
            objects = m.objects.keys().cloned().collect();
            problems.extend(
                check_for_destination(&m, destination)
                    .iter()
                    .map(ProblemView::from),
            );
        }
    }
    if !compiled {
        problems.push(ProblemView {
            path: store::MAPPING_KEY.into(),
            message: store::UNCOMPILED_MAPPING.into(),
        });
    }
    Ok(MappingHealth {
        source: source.into(),
        valid: problems.is_empty(),
        objects,
        problems,
    })
}

/// Check everything; the answer is `200` or `503` with the same body.
pub async fn handle<K: Kv, H: Http>(ctx: &Context<'_, K, H>) -> Result<Response, AdminError> {
    let health = check(ctx).await;
    let status = if health.healthy { 200 } else { 503 };
    Ok(Response::json(status, &health))
}

/// The whole check.
pub async fn check<K: Kv, H: Http>(ctx: &Context<'_, K, H>) -> Health {
    let settings = ctx.settings;
    let mut problems = Vec::new();
    let mut warnings = settings.warnings();
    let variables = VARIABLES
        .iter()
        .map(|v| {
            let state = if settings.set_variables.contains(v) {
                "set"
            } else {
                "unset"
            };
            (v.to_string(), state.to_string())
        })
        .collect();
    if settings.sf_organization_id.is_none() {
        problems.push(Problem {
            what: "sf_organization_id is not set: every Outbound Message is refused".into(),
            fix: "set the variable sf_organization_id to the org's id (Setup > Company Information > Organization ID)".into(),
        });
    }
    if settings.sf_endpoint_token.is_none() {
        problems.push(Problem {
            what: "sf_endpoint_token is not set: every Outbound Message is refused".into(),
            fix: "set sf_endpoint_token to a long random value (openssl rand -hex 24) and end the Outbound Message endpoint URL with ?token=<that value>".into(),
        });
    }

    let stamp = format!("{}", ctx.now.timestamp_micros());
    let kv = match check_kv(ctx.kv, &stamp).await {
        Ok(()) => KvHealth {
            ok: true,
            error: None,
        },
        Err(e) => {
            problems.push(Problem {
                what: format!("the key-value store cannot be written and read: {e}"),
                fix: "check the store: the SQLite file's disk and permissions (spin up), or the Redis URL and server in the runtime config".into(),
            });
            KvHealth {
                ok: false,
                error: Some(e.0),
            }
        }
    };

    let mapping = match check_mapping(ctx.kv, settings.destination).await {
        Ok(m) => m,
        Err(e) => MappingHealth {
            source: "unknown".into(),
            valid: false,
            objects: Vec::new(),
            problems: vec![ProblemView {
                path: store::MAPPING_KEY.into(),
                message: format!("could not be read: {e}"),
            }],
        },
    };
    if !mapping.valid {
        problems.push(Problem {
            what: format!(
                "the active mapping has {} problem(s): {}",
                mapping.problems.len(),
                mapping
                    .problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            fix: "fix the file and put it again: sfsync mapping validate mapping.toml, then sfsync mapping put mapping.toml".into(),
        });
    }

    let destination = destination::probe(ctx).await;
    if destination.reachable == Some(false) {
        let fix = match settings.destination {
            DestinationKind::Zendesk => "check zendesk_url (https://<subdomain>.zendesk.com), zendesk_email (an agent's email) and zendesk_api_token (Admin Center > Apps and integrations > Zendesk API)",
            _ => "check webhook_url (scheme://host[:port], reachable from the Spin host) and webhook_auth",
        };
        problems.push(Problem {
            what: format!(
                "the destination did not take an authenticated call: {}",
                destination.error.as_deref().unwrap_or("no answer")
            ),
            fix: fix.into(),
        });
    }

    let salesforce = check_salesforce(ctx, &mut warnings).await;
    let paused = store::is_paused(ctx.kv).await.unwrap_or(false);
    if paused {
        warnings.push("sync is paused: notifications are recorded as pending and nothing is pushed; sfsync resume, then sfsync resend --status pending".into());
    }
    let (runs, newest_run) = crate::history::size(ctx.kv, &settings.history)
        .await
        .unwrap_or_default();
    let index = match super::stats::compute(ctx.kv).await {
        Ok(stats) => IndexSize {
            records: stats.counts.total,
            generation: stats.index.number,
        },
        Err(_) => IndexSize {
            records: 0,
            generation: 0,
        },
    };
    Health {
        version: VERSION.into(),
        healthy: problems.is_empty(),
        variables,
        destination,
        mapping,
        kv,
        paused,
        history: HistorySize {
            runs,
            newest_run,
            retention_count: settings.history.kept,
            retention_days: settings.history.max_age_days,
        },
        index,
        problems,
        warnings,
        salesforce,
    }
}
