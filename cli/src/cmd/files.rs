//! `sfsync export` (records as CSV) and `sfsync import` (references).

use std::path::Path;

use anyhow::{Context as _, Result};
use sync_core::admin::wire::ImportResult;

use serde_json::json;

use crate::client::Client;
use crate::output::{Outcome, Output};
use crate::FilterArgs;

pub fn export(client: &Client, out: &Output, output: &Path, filter: &FilterArgs) -> Result<()> {
    let query: String = filter.query().trim_start_matches('&').to_string();
    let reply = client.admin("GET", &format!("/admin/export.csv?{query}"), None, &[])?;
    std::fs::write(output, &reply.body)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let rows = reply
        .body
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    out.object(&json!({"file": output.display().to_string(), "records": rows}))?;
    out.say(format!("wrote {rows} records to {}", output.display()));
    Ok(())
}

/// Rows per import call (the server takes up to 1,000).
const IMPORT_BATCH: usize = 500;

/// Send a references file in batches read from the file as they go, so a
/// file of any size costs one batch of memory here and per call there.
pub fn import(client: &Client, out: &Output, file: &Path, yes: bool) -> Result<Outcome> {
    let total = crate::batches::count_rows(file)?;
    crate::output::confirm(yes, Some(total as u64), "import references for")?;
    let mut batches = crate::batches::Batches::open(file)
        .with_context(|| format!("{} is not a CSV file", file.display()))?;
    let bar = indicatif::ProgressBar::new(total as u64);
    let (mut imported, mut rejected) = (0usize, Vec::new());
    while let Some(batch) = batches.next_batch(IMPORT_BATCH)? {
        let path = format!("/admin/import?first_line={}", batch.first_line);
        let result: ImportResult = client.send_typed("POST", &path, "text/csv", &batch.body)?;
        imported += result.imported;
        rejected.extend(result.rejected);
        bar.inc(batch.rows as u64);
    }
    bar.finish_and_clear();
    out.object(&json!({"imported": imported, "rejected": rejected}))?;
    out.say(format!("imported {imported} references"));
    for r in &rejected {
        out.note(format!("  line {}: {}", r.line, r.error));
    }
    if !rejected.is_empty() {
        out.note(format!(
            "{} rows rejected; fix them and import those rows again",
            rejected.len()
        ));
    }
    Ok(Outcome::partial_if(!rejected.is_empty()))
}
