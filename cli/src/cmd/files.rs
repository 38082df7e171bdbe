//! `sfsync export` (records as CSV) and `sfsync import` (references).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use sync_core::admin::wire::ImportResult;

use crate::client::Client;
use crate::FilterArgs;

pub fn export(client: &Client, output: &Path, filter: &FilterArgs) -> Result<()> {
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
    println!("wrote {rows} records to {}", output.display());
    Ok(())
}

/// Rows per import call (the server takes up to 1,000).
const IMPORT_BATCH: usize = 500;

/// Send a references file in batches read from the file as they go, so a
/// file of any size costs one batch of memory here and per call there.
pub fn import(client: &Client, file: &Path) -> Result<ExitCode> {
    let total = crate::batches::count_rows(file)?;
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
    println!("imported {imported} references");
    for r in &rejected {
        eprintln!("  line {}: {}", r.line, r.error);
    }
    if rejected.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} rows rejected; fix them and import those rows again",
            rejected.len()
        );
        Ok(ExitCode::from(2))
    }
}
