//! `sfsync backfill`: send a Salesforce CSV export in batches — each the
//! header and its own rows, with the file line of its first row, read from
//! the file as they go ([`crate::batches`]) — with a progress bar, saving the
//! next row in `FILE.sfsync-cursor` so that running the same command again
//! resumes. A report export's labels are matched to API names by the
//! server (`--columns` names the others). More than 100 rows ask first
//! (`--yes` does not); `--dry-run` reads the file, maps its first rows with
//! the active mapping and prints what would be sent, sending nothing.
//! Exits 3 when rows were rejected or failed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sync_core::admin::wire::BackfillReply;
use sync_core::admin::{backfill, columns};
use sync_core::mapping::Mapping;

use crate::batches::{count_rows, Batches};
use crate::client::{enc, Client};
use crate::output::{confirm, usage, Outcome, Output};

/// What `sfsync backfill` was asked.
pub struct Request {
    pub object: String,
    pub file: PathBuf,
    pub batch: usize,
    pub restart: bool,
    pub columns: Option<String>,
    pub dry_run: bool,
    pub yes: bool,
}

/// Rows `--dry-run` maps and prints.
const DRY_RUN_ROWS: usize = 3;

/// `--dry-run`: the file's columns as the server will read them, and what
/// the first rows would send (sync-core's [`backfill::preview`] over the
/// file's first batch and the active mapping).
fn dry_run(client: &Client, out: &Output, req: &Request, total: usize) -> Result<Outcome> {
    let toml = client.admin("GET", "/admin/mapping", None, &[])?.text();
    let mapping = Mapping::from_toml(&toml)
        .map_err(|e| anyhow::anyhow!("the active mapping does not load here: {e}"))?;
    let explicit = match &req.columns {
        Some(c) => columns::parse_map(c).map_err(usage)?,
        None => BTreeMap::new(),
    };
    let mut batches = Batches::open(&req.file)
        .with_context(|| format!("{} is not a CSV export", req.file.display()))?;
    let body = batches
        .next_batch(DRY_RUN_ROWS)?
        .map(|b| b.body)
        .unwrap_or_default();
    let preview = backfill::preview(&body, &req.object, &mapping, &explicit).map_err(usage)?;
    if out.json {
        out.object(&json!({
            "dry_run": true,
            "object": req.object,
            "rows": total,
            "columns": preview.columns.iter().map(|(c, f)| json!({"column": c, "field": f})).collect::<Vec<_>>(),
            "unmapped_columns": preview.unmapped_columns,
            "first_rows": preview.rows,
        }))?;
        return Ok(Outcome::Done);
    }
    out.say(format!(
        "{}: {total} rows of {} (nothing was sent)",
        req.file.display(),
        req.object
    ));
    let rows: Vec<Vec<String>> = preview
        .columns
        .iter()
        .map(|(h, n)| vec![h.clone(), n.clone().unwrap_or_else(|| "(left out)".into())])
        .collect();
    out.table(&["column", "field"], &rows);
    for u in &preview.unmapped_columns {
        out.say(format!(
            "column {u:?} matches no field the mapping reads; --columns \"{u}=ApiName\" to use it"
        ));
    }
    for r in &preview.rows {
        out.say(format!(
            "\nline {} ({}) would send:\n{}",
            r.line,
            r.id,
            serde_json::to_string_pretty(&r.would_send)?
        ));
    }
    Ok(Outcome::Done)
}

fn cursor_file(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sfsync-cursor");
    PathBuf::from(name)
}

pub fn run(client: &Client, out: &Output, req: &Request) -> Result<Outcome> {
    let (object, file, batch, restart) = (
        req.object.as_str(),
        req.file.as_path(),
        req.batch,
        req.restart,
    );
    if let Some(c) = &req.columns {
        columns::parse_map(c).map_err(usage)?;
    }
    let total = count_rows(file)?;
    if req.dry_run {
        return dry_run(client, out, req, total);
    }
    let mut batches =
        Batches::open(file).with_context(|| format!("{} is not a CSV export", file.display()))?;
    let state = cursor_file(file);
    let saved: Option<usize> = if restart {
        None
    } else {
        std::fs::read_to_string(&state).ok().and_then(|c| {
            let row = c
                .trim()
                .strip_prefix("next_row=")
                .and_then(|n| n.parse().ok());
            if row.is_none() {
                eprintln!("{} is from an older sfsync; starting over", state.display());
            }
            row
        })
    };
    let mut next = saved.unwrap_or(0).min(total);
    confirm(req.yes, Some((total - next) as u64), "backfill")?;
    if next > 0 {
        eprintln!(
            "resuming at row {} of {} (saved in {}; --restart to start over)",
            next + 1,
            total,
            state.display()
        );
    }
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(next as u64);
    let started = Instant::now();
    let (mut synced, mut skipped, mut done_here) = (0u64, 0u64, 0u64);
    // Rows in Zendesk bulk jobs not collected yet, and the jobs open.
    let (mut queued, mut open_jobs) = (0u64, 0u64);
    let mut problems: Vec<String> = Vec::new();
    let mut not_applied: Vec<String> = Vec::new();
    let mut unmapped: Vec<String> = Vec::new();
    let batch = batch.clamp(1, 1000);
    batches.skip(next)?;
    while let Some(chunk) = batches.next_batch(batch)? {
        let to = next + chunk.rows;
        let mut path = format!(
            "/admin/backfill?object={}&first_line={}",
            enc(object),
            chunk.first_line
        );
        if let Some(c) = &req.columns {
            path.push_str(&format!("&columns={}", enc(c)));
        }
        let reply: BackfillReply = client.send_typed("POST", &path, "text/csv", &chunk.body)?;
        for u in &reply.unmapped_columns {
            if !unmapped.contains(u) {
                unmapped.push(u.clone());
            }
        }
        let c = &reply.counts;
        synced += u64::from(c.synced);
        skipped += u64::from(c.skipped + c.ignored);
        queued = (queued + reply.bulk.queued as u64).saturating_sub(reply.bulk.collected as u64);
        open_jobs = reply.bulk.open_jobs;
        done_here += (to - next) as u64;
        for r in &reply.rejected {
            problems.push(format!("line {}: rejected: {}", r.line, r.error));
        }
        for f in &reply.not_applied {
            not_applied.push(format!(
                "line {} ({}): {}",
                f.line,
                f.record,
                f.error.as_deref().unwrap_or_default()
            ));
        }
        for f in reply.failed.iter().chain(&reply.busy) {
            problems.push(format!(
                "line {} ({}): {}",
                f.line,
                f.record,
                f.error.as_deref().unwrap_or_default()
            ));
        }
        next = to;
        bar.set_position(next as u64);
        let rate = done_here as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "synced {synced}, in bulk jobs {queued}, skipped {skipped}, errors {}, {rate:.0} rows/s",
            problems.len()
        ));
        if next < total {
            std::fs::write(&state, format!("next_row={next}\n"))
                .with_context(|| format!("cannot save the progress to {}", state.display()))?;
        }
    }
    let _ = std::fs::remove_file(&state);
    bar.finish_and_clear();
    let got = super::jobs::wait(client, out, open_jobs, queued)?;
    synced += got.synced;
    skipped += got.other;
    problems.extend(got.failures);
    let seconds = started.elapsed().as_secs_f64();
    out.object(&json!({
        "object": object,
        "file": file.display().to_string(),
        "synced": synced,
        "skipped": skipped,
        "failed": problems.len(),
        "seconds": seconds,
        "problems": problems,
        "not_applied": not_applied,
        "unmapped_columns": unmapped,
    }))?;
    out.say(format!(
        "backfilled {object} from {}: {synced} synced, {skipped} skipped (unchanged), {} rejected or failed, in {seconds:.1} s",
        file.display(),
        problems.len(),
    ));
    for u in &unmapped {
        out.note(format!(
            "column {u:?} matches no field the mapping reads and was left out; --columns \"{u}=ApiName\" to use it"
        ));
    }
    if !not_applied.is_empty() {
        out.say(format!(
            "{} rows not applied (the stored state is newer, or the row has no stamp):",
            not_applied.len()
        ));
        for n in not_applied.iter().take(10) {
            out.say(format!("  {n}"));
        }
    }
    if !out.json {
        for p in problems.iter().take(30) {
            out.note(format!("  {p}"));
        }
        if problems.len() > 30 {
            out.note(format!(
                "  … and {} more (sfsync records --status error)",
                problems.len() - 30
            ));
        }
    }
    Ok(Outcome::partial_if(!problems.is_empty()))
}
