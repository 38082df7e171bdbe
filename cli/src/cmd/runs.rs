//! `sfsync runs`: the run history, newest first.

use anyhow::Result;
use sync_core::admin::wire::RunsPage;

use crate::client::{enc, Client};
use crate::output::Output;

pub struct RunFilter {
    pub process: Option<String>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The newest runs shown.
const SHOWN: usize = 1000;

pub fn run(client: &Client, out: &Output, f: &RunFilter) -> Result<()> {
    let mut query = format!("limit={SHOWN}");
    for (k, v) in [
        ("process", &f.process),
        ("status", &f.status),
        ("since", &f.since),
        ("until", &f.until),
    ] {
        if let Some(v) = v {
            query.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    // A filtered page may come back short with a cursor (the server reads a
    // bounded number of runs per call): follow it up to the limit.
    let mut runs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/admin/runs?{query}"),
            Some(c) => format!("/admin/runs?{query}&cursor={}", enc(c)),
        };
        let page: RunsPage = client.get(&path)?;
        runs.extend(page.runs);
        match page.next_cursor {
            Some(c) if runs.len() < SHOWN => cursor = Some(c),
            _ => break,
        }
    }
    runs.truncate(SHOWN);
    if out.json {
        for r in &runs {
            out.item(r)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.process.as_str().to_string(),
                r.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                r.counts.synced.to_string(),
                r.counts.error.to_string(),
                r.counts.skipped.to_string(),
                r.counts.pending.to_string(),
            ]
        })
        .collect();
    out.table(
        &[
            "run", "process", "started", "synced", "error", "skipped", "pending",
        ],
        &rows,
    );
    Ok(())
}
