//! `POST /admin/import`: pre-link Salesforce records to existing destination
//! records from a CSV of references, before their first sync.
//!
//! Columns (any subset, header row first): `salesforce_contact_id`,
//! `salesforce_lead_id`, `salesforce_account_id`, `zendesk_user_id`,
//! `zendesk_organization_id`. A Contact or Lead id links to the user id, an
//! Account id to the organization id. The first sync of a linked record
//! updates that destination record instead of matching by email or
//! external id. Bad rows are reported with their line (the header is line
//! 1) and reason; good rows are kept.

use serde::{Deserialize, Serialize};

use crate::io::{Kv, KvError};
use crate::record::{DestinationRef, Process, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::sobject::normalize_id;
use crate::store;

pub const COLUMNS: &[&str] = &[
    "salesforce_contact_id",
    "salesforce_lead_id",
    "salesforce_account_id",
    "zendesk_user_id",
    "zendesk_organization_id",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub line: u64,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub imported: usize,
    pub rejected: Vec<Rejected>,
}

/// Why the whole file was refused (nothing imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    BadFile(String),
    #[error(transparent)]
    Kv(#[from] KvError),
}

fn zendesk_id(s: &str, column: &str) -> Result<String, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n.to_string()),
        _ => Err(format!("{column} \"{s}\" is not a positive integer")),
    }
}

/// The links one row asks for: (object, Salesforce id, destination id).
fn links(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String, String)>, String> {
    let user = get("zendesk_user_id")
        .map(|u| zendesk_id(&u, "zendesk_user_id"))
        .transpose()?;
    let org = get("zendesk_organization_id")
        .map(|o| zendesk_id(&o, "zendesk_organization_id"))
        .transpose()?;
    let mut out = Vec::new();
    let mut any_sf = false;
    for (column, object, dest) in [
        ("salesforce_contact_id", "Contact", &user),
        ("salesforce_lead_id", "Lead", &user),
        ("salesforce_account_id", "Account", &org),
    ] {
        if let Some(id) = get(column) {
            any_sf = true;
            let Some(id) = normalize_id(&id) else {
                return Err(format!(
                    "{column} \"{id}\" is not a Salesforce id (15 or 18 letters and digits)"
                ));
            };
            if let Some(d) = dest {
                out.push((object, id, d.clone()));
            }
        }
    }
    if !any_sf {
        return Err("no Salesforce id: fill salesforce_contact_id, salesforce_lead_id or salesforce_account_id".into());
    }
    if out.is_empty() {
        return Err("no destination id for its Salesforce id: fill zendesk_user_id (Contacts, Leads) or zendesk_organization_id (Accounts)".into());
    }
    Ok(out)
}

/// Import a references file.
pub async fn import<K: Kv>(kv: &K, body: &[u8]) -> Result<ImportResult, ImportError> {
    let (text, mut reader) = super::backfill::csv_reader(body).map_err(ImportError::BadFile)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::BadFile(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(ImportError::BadFile(format!(
            "the file is empty; the first line must be a header with some of: {}",
            COLUMNS.join(", ")
        )));
    }
    let unknown: Vec<&String> = headers
        .iter()
        .filter(|h| !COLUMNS.contains(&h.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(ImportError::BadFile(format!(
            "unknown column(s) {}; the header may use only: {}",
            unknown
                .iter()
                .map(|h| format!("\"{h}\""))
                .collect::<Vec<_>>()
                .join(", "),
            COLUMNS.join(", ")
        )));
    }
    let mut result = ImportResult {
        imported: 0,
        rejected: Vec::new(),
    };
    let mut lines = super::backfill::Lines::new(text);
    for row in reader.records() {
        let (line, row) = match row {
            Ok(r) => (lines.at(r.position()), r),
            Err(e) => {
                let line = lines.at(e.position());
                result.rejected.push(Rejected {
                    line,
                    error: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |name: &str| -> Option<String> {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| row.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        match links(&get) {
            Err(error) => result.rejected.push(Rejected { line, error }),
            Ok(links) => {
                for (object, sf_id, dest_id) in links {
                    let mut record = store::load_record(kv, &RecordRef::new(object, &sf_id))
                        .await?
                        .unwrap_or_else(|| {
                            let mut r = SyncRecord::new(object, &sf_id, Process::Import);
                            r.status = Status::Pending;
                            r.skip_reason = None;
                            r.last_attempt_at = None;
                            r
                        });
                    let organization_ids = record
                        .destination
                        .as_ref()
                        .map(|d| d.organization_ids.clone())
                        .unwrap_or_default();
                    record.destination = Some(DestinationRef {
                        kind: DestinationKind::Zendesk,
                        id: Some(dest_id),
                        organization_ids,
                    });
                    store::save_record(kv, &record).await?;
                }
                result.imported += 1;
            }
        }
    }
    Ok(result)
}
