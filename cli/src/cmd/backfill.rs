//! `sfsync backfill`: send a Salesforce CSV export in batches, with a
//! progress bar, saving the cursor in `FILE.sfsync-cursor` so that running
//! the same command again resumes. Exits 2 when rows were rejected or failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sync_core::admin::wire::BackfillReply;

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
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let state = cursor_file(file);
    let mut cursor: Option<String> = if restart {
        None
    } else {
        std::fs::read_to_string(&state)
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
    };
    if cursor.is_some() {
        eprintln!(
            "resuming from the last batch (saved in {}; --restart to start over)",
            state.display()
        );
    }
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut synced, mut skipped, mut done_here) = (0u64, 0u64, 0u64);
    let mut problems: Vec<String> = Vec::new();
    let mut not_applied: Vec<String> = Vec::new();
    loop {
        let mut path = format!(
            "/admin/backfill?object={}&limit={}",
            enc(object),
            batch.clamp(1, 1000)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let reply: BackfillReply = client.send_typed("POST", &path, "text/csv", &body)?;
        bar.set_length(reply.rows_total as u64);
        bar.set_position(reply.rows_done as u64);
        let c = &reply.counts;
        synced += u64::from(c.synced);
        skipped += u64::from(c.skipped + c.ignored);
        done_here += u64::from(c.synced + c.skipped + c.ignored + c.error + c.pending)
            + reply.rejected.len() as u64;
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
        let rate = done_here as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "synced {synced}, skipped {skipped}, errors {}, {rate:.0} rows/s",
            problems.len()
        ));
        match reply.next_cursor {
            Some(c) => {
                std::fs::write(&state, &c)
                    .with_context(|| format!("cannot save the cursor to {}", state.display()))?;
                cursor = Some(c);
            }
            None => break,
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
