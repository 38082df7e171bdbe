//! `sfsync backfill`: send a Salesforce CSV export in batches — each the
//! header and its own rows, with the file line of its first row, read from
//! the file as they go ([`crate::batches`]) — with a progress bar, saving the
//! next row in `FILE.sfsync-cursor` so that running the same command again
//! resumes. Exits 2 when rows were rejected or failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sync_core::admin::wire::BackfillReply;

use crate::batches::{count_rows, Batches};
use crate::client::{enc, Client};

fn cursor_file(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sfsync-cursor");
    PathBuf::from(name)
}

pub fn run(
    client: &Client,
    object: &str,
    file: &Path,
    batch: usize,
    restart: bool,
) -> Result<ExitCode> {
    let total = count_rows(file)?;
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
    if next > 0 {
        eprintln!(
            "resuming at row {} of {} (saved in {}; --restart to start over)",
            next + 1,
            total,
            state.display()
        );
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(next as u64);
    let started = Instant::now();
    let (mut synced, mut skipped, mut done_here) = (0u64, 0u64, 0u64);
    let mut problems: Vec<String> = Vec::new();
    let mut not_applied: Vec<String> = Vec::new();
    let batch = batch.clamp(1, 1000);
    batches.skip(next)?;
    while let Some(chunk) = batches.next_batch(batch)? {
        let to = next + chunk.rows;
        let path = format!(
            "/admin/backfill?object={}&first_line={}",
            enc(object),
            chunk.first_line
        );
        let reply: BackfillReply = client.send_typed("POST", &path, "text/csv", &chunk.body)?;
        let c = &reply.counts;
        synced += u64::from(c.synced);
        skipped += u64::from(c.skipped + c.ignored);
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
            "synced {synced}, skipped {skipped}, errors {}, {rate:.0} rows/s",
            problems.len()
        ));
        if next < total {
            std::fs::write(&state, format!("next_row={next}\n"))
                .with_context(|| format!("cannot save the progress to {}", state.display()))?;
        }
    }
    let _ = std::fs::remove_file(&state);
    bar.finish_and_clear();
    println!(
        "backfilled {object} from {}: {synced} synced, {skipped} skipped (unchanged), {} rejected or failed, in {:.1} s",
        file.display(),
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    if !not_applied.is_empty() {
        println!(
            "{} rows not applied (the stored state is newer, or the row has no stamp):",
            not_applied.len()
        );
        for n in not_applied.iter().take(10) {
            println!("  {n}");
        }
    }
    for p in problems.iter().take(30) {
        eprintln!("  {p}");
    }
    if problems.len() > 30 {
        eprintln!(
            "  … and {} more (sfsync records --status error)",
            problems.len() - 30
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
