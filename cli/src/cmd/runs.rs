//! `sfsync runs`: the run history, newest first.

use anyhow::Result;
use sync_core::admin::wire::RunsPage;

use crate::client::{enc, Client};
use crate::output::table;

pub struct RunFilter {
    pub process: Option<String>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

pub fn run(client: &Client, f: &RunFilter, json: bool) -> Result<()> {
    let mut query = String::from("limit=1000");
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
    let page: RunsPage = client.get(&format!("/admin/runs?{query}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&page.runs)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page
        .runs
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
    table(
        &[
            "run", "process", "started", "synced", "error", "skipped", "pending",
        ],
        &rows,
    );
    Ok(())
}
