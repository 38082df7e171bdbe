//! Initial load: `POST /admin/backfill?object={Object}&cursor=&limit=` with
//! a CSV export of existing Salesforce records (a report export, or a Data
//! Export / Data Loader extract). Each row becomes a source record of that
//! object and goes through the same [`pipeline`] as a notification, as an
//! [`Arrival::Row`] (mapping, destination, status, run history with process
//! `backfill`); a Contact synced without its Account's organization waits
//! for it as a notification would ([`crate::waiting`]): listed in `failed`
//! while it waits, linked by itself when the Account syncs.
//!
//! - The header row holds field API names (`Id,Email,FirstName,…`). UTF-8
//!   with or without a BOM, CRLF or LF, Data Loader's quoting.
//! - An empty cell is a null field (that is how exports write nulls); a
//!   column that is not in the file is an absent field.
//! - Rows without `Id`, with an invalid id, or with another object's id
//!   prefix are rejected with their line; good rows are kept.
//! - A record already synced with the same fingerprint is skipped, so a
//!   second run costs no destination call.
//! - The file is processed `limit` rows per request (default 200); the
//!   answer's `next_cursor`, sent back with the *same* file, continues.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::csv_upload::{file_line, first_line};
use super::error::AdminError;
use crate::context::Context;
use crate::io::{Http, Kv};
use crate::pipeline::{self, Arrival, Outcome, SyncInput, SyncOptions, SyncState};
use crate::record::{Process, Status};
use crate::reference::RecordRef;
use crate::run::{Run, RunCounts};
use crate::sobject::{is_api_name, is_salesforce_id, FieldValue, SObject};
use crate::web::{Request, Response};

pub use super::csv_upload::{csv_reader, Lines};

pub const DEFAULT_ROWS: usize = 200;
pub const MAX_ROWS: usize = 1000;

/// A parsed export.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvFile {
    pub headers: Vec<String>,
    /// (1-based line where the row starts, cells)
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Read an export. The error says what is wrong with the file as a whole.
pub fn read_csv(body: &[u8]) -> Result<CsvFile, String> {
    let (text, mut reader) = csv_reader(body)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header row cannot be read: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("the file is empty; the first line must name the fields, e.g. Id,Email,FirstName,LastName".into());
    }
    if let Some(bad) = headers.iter().find(|h| !is_api_name(h)) {
        return Err(format!("header \"{bad}\" is not a Salesforce field API name; export with API names (Data Loader does), not labels"));
    }
    if !headers.iter().any(|h| h == "Id") {
        return Err("the header has no Id column; export the records with their Id".into());
    }
    let mut lines = Lines::new(text);
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                if r.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                rows.push((
                    lines.at(r.position()),
                    r.iter().map(str::to_string).collect(),
                ));
            }
            Err(e) => {
                return Err(format!(
                    "line {}: unreadable CSV ({e})",
                    lines.at(e.position())
                ))
            }
        }
    }
    Ok(CsvFile { headers, rows })
}

/// Key prefixes of standard objects' ids.
fn known_prefix(object: &str) -> Option<&'static str> {
    match object {
        "Account" => Some("001"),
        "Contact" => Some("003"),
        "Lead" => Some("00Q"),
        "Opportunity" => Some("006"),
        "Case" => Some("500"),
        "User" => Some("005"),
        _ => None,
    }
}

impl CsvFile {
    /// The row as a record of `object`, or why it is rejected. Cells beyond
    /// the header are ignored; an empty cell is null.
    fn sobject(
        &self,
        object: &str,
        prefix: Option<&str>,
        cells: &[String],
    ) -> Result<SObject, String> {
        let mut fields = std::collections::BTreeMap::new();
        for (name, value) in self.headers.iter().zip(cells) {
            let v = if value.is_empty() {
                FieldValue::Null
            } else {
                FieldValue::Text(value.clone())
            };
            fields.insert(name.clone(), v);
        }
        let id = match fields.get("Id") {
            Some(FieldValue::Text(id)) => id.trim().to_string(),
            _ => return Err("no Id".into()),
        };
        if !is_salesforce_id(&id) {
            return Err(format!(
                "Id \"{id}\" is not a Salesforce id (15 or 18 letters and digits)"
            ));
        }
        if let Some(p) = prefix {
            if !id.starts_with(p) {
                return Err(format!("Id {id} is not a {object} id (those start with {p}); export {object} records only, or pass the right ?object="));
            }
        }
        SObject::new(object.to_string(), &id, fields).ok_or_else(|| {
            format!("Id \"{id}\" is not a Salesforce id (15 or 18 letters and digits)")
        })
    }
}

/// A row refused before syncing: its file line and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub line: u64,
    pub error: String,
}

/// A row that synced with an error (or could not be stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRow {
    pub line: u64,
    pub record: RecordRef,
    pub error: Option<String>,
}

/// The answer of `POST /admin/backfill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillReply {
    pub run_id: String,
    pub object: String,
    pub rows_total: usize,
    pub rows_done: usize,
    pub counts: RunCounts,
    pub rejected: Vec<RejectedRow>,
    pub failed: Vec<FailedRow>,
    /// Rows whose record another request was syncing: nothing was done to
    /// them; send their lines again.
    #[serde(default)]
    pub busy: Vec<FailedRow>,
    /// Rows not applied because they are older than the stored state, or
    /// carry no stamp to order them by while the stored state has one; the
    /// error says which.
    #[serde(default)]
    pub not_applied: Vec<FailedRow>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    file: String,
    row: usize,
}

fn file_hash(body: &[u8]) -> String {
    Sha256::digest(body)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Handle `POST /admin/backfill`.
pub async fn handle<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let Some(object) = req.query_param("object").filter(|o| !o.is_empty()) else {
        return Err(AdminError::BadRequest(
            "name the object: POST /admin/backfill?object=Contact with the CSV export of Contacts"
                .into(),
        ));
    };
    if !is_api_name(&object) {
        return Err(AdminError::BadRequest(format!(
            "object \"{object}\" is not a Salesforce object API name, e.g. Contact"
        )));
    }
    let limit = match req.query_param("limit").filter(|l| !l.is_empty()) {
        None => DEFAULT_ROWS,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_ROWS).contains(&n) => n,
            _ => {
                return Err(AdminError::BadRequest(format!(
                    "limit \"{l}\" is out of range; use 1 to {MAX_ROWS} rows per call"
                )))
            }
        },
    };
    // A batch of a file: the header and only this batch's rows, the first
    // of them on file line `first_line` (the CLI sends batches this way, so
    // each call reads only its rows).
    let first_line = first_line(req)?;
    let mut file = match read_csv(&req.body) {
        Ok(f) => f,
        Err(e) => return Err(AdminError::BadRequest(e)),
    };
    let hash = file_hash(&req.body);
    if let Some(first) = first_line {
        if req.query_param("cursor").is_some_and(|c| !c.is_empty()) {
            return Err(AdminError::BadRequest(
                "a batch sent with first_line carries its own rows; drop the cursor".into(),
            ));
        }
        if file.rows.len() > MAX_ROWS {
            return Err(AdminError::BadRequest(format!(
                "{} rows in one batch; send at most {MAX_ROWS} rows per call",
                file.rows.len()
            )));
        }
        // Body line 2 is file line `first`.
        for (line, _) in &mut file.rows {
            *line = file_line(*line, Some(first));
        }
    }
    let limit = if first_line.is_some() {
        file.rows.len().max(1)
    } else {
        limit
    };
    let start = match req.query_param("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            let cursor: Option<Cursor> = URL_SAFE_NO_PAD
                .decode(&c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match cursor {
                Some(cur) if cur.file == hash && cur.row <= file.rows.len() => cur.row,
                Some(_) => return Err(AdminError::BadRequest("this cursor belongs to another file; send the same file again with it, or start without a cursor".into())),
                None => return Err(AdminError::BadRequest("malformed cursor; pass back the next_cursor of the previous answer unchanged".into())),
            }
        }
    };
    let state = SyncState::load(ctx.kv).await?;
    // The id prefix of this object: known for standard objects, else that of
    // the file's first valid id.
    let prefix: Option<String> = known_prefix(&object).map(str::to_string).or_else(|| {
        let id_col = file.headers.iter().position(|h| h == "Id")?;
        file.rows
            .iter()
            .filter_map(|(_, cells)| cells.get(id_col))
            .find(|id| is_salesforce_id(id.trim()))
            .map(|id| id.trim()[..3].to_string())
    });
    let end = (start + limit).min(file.rows.len());
    let mut rejected = Vec::new();
    let mut work = Vec::new();
    for (line, cells) in &file.rows[start..end] {
        match file.sobject(&object, prefix.as_deref(), cells) {
            Ok(so) => work.push((*line, so)),
            Err(error) => rejected.push(RejectedRow { line: *line, error }),
        }
    }
    let (lines, inputs): (Vec<u64>, Vec<SyncInput>) = work
        .into_iter()
        .map(|(line, sobject)| {
            let input = SyncInput {
                process: Process::Backfill,
                arrival: Arrival::Row { sobject },
                options: SyncOptions { force: false },
            };
            (line, input)
        })
        .unzip();
    let outcomes = pipeline::sync_all(inputs, &state, ctx).await;
    let mut run = Run::new(Process::Backfill, ctx.now, &format!("{hash}-{start}"));
    let mut failed = Vec::new();
    let mut busy = Vec::new();
    let mut not_applied = Vec::new();
    for (line, o) in lines.iter().zip(&outcomes) {
        o.count_in(&mut run);
        if let Outcome::Stale { why } = &o.outcome {
            not_applied.push(FailedRow {
                line: *line,
                record: o.record.clone(),
                error: Some(why.clone()),
            });
            continue;
        }
        if let Outcome::Busy { until } = &o.outcome {
            busy.push(FailedRow {
                line: *line,
                record: o.record.clone(),
                error: Some(pipeline::busy_message(until)),
            });
            continue;
        }
        let error = match &o.outcome {
            Outcome::Stored {
                status: Status::Error,
                failure,
                ..
            } => Some(failure.as_ref().map(|f| f.message.clone())),
            Outcome::NotStored(e) => Some(Some(format!("not stored: {e}"))),
            _ => None,
        };
        if let Some(error) = error {
            failed.push(FailedRow {
                line: *line,
                record: o.record.clone(),
                error,
            });
        }
    }
    for r in &rejected {
        run.fail(&format!("line {}", r.line), &r.error);
    }
    run.finished_at = ctx.current_time();
    let _ = crate::history::keep(ctx, &mut run).await;
    let next_cursor = (end < file.rows.len()).then(|| {
        URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Cursor {
                file: hash.clone(),
                row: end,
            })
            .unwrap_or_default(),
        )
    });
    Ok(Response::json(
        200,
        &BackfillReply {
            run_id: run.id,
            object,
            rows_total: file.rows.len(),
            rows_done: end,
            counts: run.counts,
            rejected,
            failed,
            busy,
            not_applied,
            next_cursor,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_exports() {
        // (name, file, rows, expected fields of the first row)
        type Case<'a> = (&'a str, &'a [u8], usize, &'a [(&'a str, Option<&'a str>)]);
        let cases: &[Case] = &[
            ("LF", b"Id,Email,FirstName\n003000000000001AAA,a@b.c,Ana\n", 1, &[("Email", Some("a@b.c")), ("FirstName", Some("Ana"))]),
            ("CRLF", b"Id,Email\r\n003000000000001AAA,a@b.c\r\n", 1, &[("Email", Some("a@b.c"))]),
            ("BOM", b"\xef\xbb\xbfId,Email\n003000000000001AAA,a@b.c\n", 1, &[("Email", Some("a@b.c"))]),
            ("Data Loader quoting", b"\"Id\",\"Name\",\"Description\"\n\"001000000000001AAA\",\"Smith, \"\"Jr\"\" & Co\",\"two\nlines\"\n", 1, &[("Name", Some("Smith, \"Jr\" & Co")), ("Description", Some("two\nlines"))]),
            ("empty cell is null", b"Id,Phone,Email\n003000000000001AAA,,a@b.c\n", 1, &[("Phone", None), ("Email", Some("a@b.c"))]),
            ("blank lines skipped", b"Id,Email\n\n003000000000001AAA,a@b.c\n\n", 1, &[("Email", Some("a@b.c"))]),
        ];
        for (name, body, rows, fields) in cases {
            let f = read_csv(body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(f.rows.len(), *rows, "{name}");
            let so = f.sobject("Contact", None, &f.rows[0].1).expect(name);
            for (field, want) in *fields {
                assert_eq!(
                    so.fields.get(*field).map(|v| v.as_text()),
                    Some(*want),
                    "{name}: {field}"
                );
            }
            assert!(
                !so.fields.contains_key("LastName"),
                "{name}: a missing column is absent, not null"
            );
        }
    }

    #[test]
    fn lines_and_rejections() {
        let body = b"Id,Email\r\n003000000000001AAA,a@b.c\r\n,nobody@b.c\r\n003BAD,x@b.c\r\n001000000000001AAA,acct@b.c\r\n\"003000000000002AAA\",\"multi\r\nline\"\r\n003000000000003AAA,ok@b.c\r\n";
        let f = read_csv(body).expect("reads");
        let lines: Vec<u64> = f.rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 8]);
        let results: Vec<Result<SObject, String>> = f
            .rows
            .iter()
            .map(|(_, c)| f.sobject("Contact", Some("003"), c))
            .collect();
        assert!(results[0].is_ok());
        assert_eq!(results[1].as_ref().err().map(String::as_str), Some("no Id"));
        assert!(results[2]
            .as_ref()
            .err()
            .is_some_and(|e| e.contains("not a Salesforce id")));
        assert!(results[3]
            .as_ref()
            .err()
            .is_some_and(|e| e.contains("not a Contact id")));
        assert!(results[4].is_ok() && results[5].is_ok());
    }

    #[test]
    fn bad_files_are_refused_whole() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"Email,Name\na@b.c,Ana\n", "no Id column"),
            (
                b"Id,First Name\n003000000000001AAA,Ana\n",
                "not a Salesforce field API name",
            ),
            (b"Id,Email\n\xff\xfe\n", "not UTF-8"),
        ];
        for (body, says) in cases {
            let err = read_csv(body).expect_err(says);
            assert!(err.contains(says), "{err}");
        }
    }
}
