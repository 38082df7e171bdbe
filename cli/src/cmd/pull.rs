//! `sfsync pull --object Contact [--since …]`: the initial load straight
//! from Salesforce's REST API, page by page, with a progress bar. After each
//! page the last `SystemModstamp` read is saved in `--state FILE`
//! (`sfsync-pull-{Object}.state` by default), so an interrupted pull run
//! again goes on from there (`--restart` starts over); the file is removed
//! when the pull is done. Exits 3 when some records failed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sync_core::admin::wire::PullReply;

use crate::client::{enc, Client};
use crate::output::{Outcome, Output};

/// What `sfsync pull` was asked.
pub struct Request {
    pub object: String,
    pub since: Option<String>,
    pub batch: u32,
    pub state: Option<PathBuf>,
    pub restart: bool,
}

pub fn run(client: &Client, out: &Output, req: &Request) -> Result<Outcome> {
    let state = req
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("sfsync-pull-{}.state", req.object)));
    let saved = if req.restart {
        None
    } else {
        std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| t.trim().strip_prefix("since=").map(str::to_string))
    };
    let since = match (&saved, &req.since) {
        (Some(s), _) => {
            out.note(format!(
                "resuming from SystemModstamp {s} (saved in {}; --restart to start over)",
                state.display()
            ));
            Some(s.clone())
        }
        (None, s) => s.clone(),
    };
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::no_length()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} records {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut fetched, mut synced, mut skipped) = (0u64, 0u64, 0u64);
    let mut failures: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut usage = None;
    loop {
        let mut path = match &cursor {
            Some(c) => format!("/admin/pull?cursor={}", enc(c)),
            None => format!("/admin/pull?object={}", enc(&req.object)),
        };
        path.push_str(&format!("&limit={}", req.batch));
        if cursor.is_none() {
            if let Some(s) = &since {
                path.push_str(&format!("&since={}", enc(s)));
            }
        }
        let reply: PullReply = client.send_typed("POST", &path, "application/json", b"")?;
        if bar.length().is_none() {
            bar.set_length(reply.total);
        }
        fetched += reply.fetched as u64;
        synced += u64::from(reply.counts.synced);
        skipped += u64::from(reply.counts.skipped + reply.counts.ignored);
        failures.extend(
            reply
                .failed
                .iter()
                .map(|f| format!("{}: {}", f.record, f.error)),
        );
        usage = reply.api_usage.or(usage);
        bar.set_position(fetched);
        bar.set_message(format!(
            "synced {synced}, unchanged {skipped}, errors {}, {:.0}/s",
            failures.len(),
            fetched as f64 / started.elapsed().as_secs_f64().max(0.001)
        ));
        if let Some(h) = &reply.high_water {
            std::fs::write(&state, format!("since={h}\n"))
                .with_context(|| format!("cannot save the progress to {}", state.display()))?;
        }
        match reply.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let _ = std::fs::remove_file(&state);
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    out.object(&json!({
        "object": req.object,
        "fetched": fetched,
        "synced": synced,
        "unchanged": skipped,
        "failed": failures.len(),
        "failures": failures,
        "seconds": seconds,
        "api_usage": usage,
    }))?;
    out.say(format!(
        "pulled {fetched} {} records: {synced} synced, {skipped} unchanged, {} failed, in {seconds:.1} s",
        req.object,
        failures.len()
    ));
    if let Some(u) = usage {
        out.say(format!(
            "Salesforce API use today: {} of {}",
            u.used, u.limit
        ));
    }
    if !out.json {
        for f in failures.iter().take(20) {
            out.note(format!("  {f}"));
        }
    }
    Ok(Outcome::partial_if(!failures.is_empty()))
}
