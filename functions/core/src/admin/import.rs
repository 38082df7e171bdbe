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
//!
//! A file of any size is sent in batches, as backfill's are (the CLI does):
//! the header and at most [`MAX_ROWS`] rows, with `first_line` naming the
//! file line of the batch's first row, so that a call costs only its rows
//! and rejections name the file's own lines. Each link is written under its
//! record's lease ([`crate::lease`]), so an import never overwrites a sync
//! in progress (a busy record is rejected: import that row again).

use serde::{Deserialize, Serialize};

use super::csv_upload::{csv_reader, file_line, Lines};
use crate::context::Context;
use crate::index;
use crate::io::{Http, Kv, KvError};
use crate::lease;
use crate::record::{DestinationRef, Process, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::sobject::normalize_id;
use crate::store;

/// Rows per call when the file is sent in batches (`first_line`).
pub const MAX_ROWS: usize = 1000;

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

/// One readable row of a references file: its file line and the links it
/// asks for as (object, Salesforce id, destination id).
pub type RowLinks = (u64, Vec<(&'static str, String, String)>);

/// A references file read and checked, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct References {
    pub rows: Vec<RowLinks>,
    pub rejected: Vec<Rejected>,
    /// Records read (rows of any kind, blank ones included).
    pub records: usize,
}

/// Read a references file (or one batch of it whose first row is on file
/// line `first_line`): the header checked, each row's links or why it is
/// rejected. No I/O: the fuzz target `import_csv` runs this.
pub fn read_references(body: &[u8], first_line: Option<u64>) -> Result<References, ImportError> {
    let (text, mut reader) = csv_reader(body).map_err(ImportError::BadFile)?;
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
    let mut refs = References {
        rows: Vec::new(),
        rejected: Vec::new(),
        records: 0,
    };
    let mut lines = Lines::new(text);
    for row in reader.records() {
        refs.records += 1;
        let (line, row) = match row {
            Ok(r) => (file_line(lines.at(r.position()), first_line), r),
            Err(e) => {
                let line = file_line(lines.at(e.position()), first_line);
                refs.rejected.push(Rejected {
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
            Err(error) => refs.rejected.push(Rejected { line, error }),
            Ok(links) => refs.rows.push((line, links)),
        }
    }
    Ok(refs)
}

/// Import a references file, or one batch of it whose first row is on file
/// line `first_line`. A batch of more than [`MAX_ROWS`] rows is refused
/// whole, before anything is written.
pub async fn import<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    body: &[u8],
    first_line: Option<u64>,
) -> Result<ImportResult, ImportError> {
    let refs = read_references(body, first_line)?;
    if first_line.is_some() && refs.records > MAX_ROWS {
        return Err(ImportError::BadFile(format!(
            "{} rows in one batch; send at most {MAX_ROWS} rows per call",
            refs.records
        )));
    }
    let mut result = ImportResult {
        imported: 0,
        rejected: refs.rejected,
    };
    let generation = store::generation(ctx.kv).await?;
    for (line, links) in refs.rows {
        let mut busy = None;
        for (object, sf_id, dest_id) in links {
            let reference = RecordRef::new(object, &sf_id);
            if let Err(until) = link(ctx, generation, &reference, dest_id).await? {
                busy = Some((reference, until));
                break;
            }
        }
        match busy {
            None => result.imported += 1,
            Some((reference, until)) => result.rejected.push(Rejected {
                line,
                error: format!(
                    "{reference} is being synced right now (until {}); import this row again",
                    until.format("%H:%M:%S UTC")
                ),
            }),
        }
    }
    result.rejected.sort_by_key(|r| r.line);
    Ok(result)
}

/// Point one record at its destination record, under the record's lease.
/// `Err(until)` when another request holds the record.
async fn link<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    generation: store::Generation,
    reference: &RecordRef,
    dest_id: String,
) -> Result<Result<(), chrono::DateTime<chrono::Utc>>, KvError> {
    let held = match lease::hold(ctx, &[store::record_key(reference)]).await? {
        Ok(held) => held,
        Err(until) => return Ok(Err(until)),
    };
    let written = save_link(ctx.kv, generation, reference, dest_id).await;
    lease::release_all(ctx.kv, held).await;
    written.map(Ok)
}

async fn save_link<K: Kv>(
    kv: &K,
    generation: store::Generation,
    reference: &RecordRef,
    dest_id: String,
) -> Result<(), KvError> {
    let stored = store::load_record(kv, reference).await?;
    let before = stored.as_ref().map(index::Before::of);
    let mut record = stored.unwrap_or_else(|| {
        let mut r = SyncRecord::new(&reference.object, &reference.id, Process::Import);
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
    index::save(kv, generation, before.as_ref(), &mut record).await
}
