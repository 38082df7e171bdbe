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

pub fn import(client: &Client, file: &Path) -> Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let result: ImportResult = client.send_typed("POST", "/admin/import", "text/csv", &body)?;
    println!("imported {} references", result.imported);
    for r in &result.rejected {
        eprintln!("  line {}: {}", r.line, r.error);
    }
    if result.rejected.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} rows rejected; fix them and import those rows again",
            result.rejected.len()
        );
        Ok(ExitCode::from(2))
    }
}
