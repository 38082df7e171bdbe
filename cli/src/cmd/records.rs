//! `sfsync records` (a filtered list, page by page) and `sfsync show`.

use anyhow::{anyhow, Result};
use sync_core::admin::wire::{RecordView, RecordsPage};
use sync_core::reference::RecordRef;

use crate::client::{enc, Client};
use crate::output::{cell, table, time};
use crate::FilterArgs;

fn row(r: &RecordView) -> Vec<String> {
    vec![
        r.reference().to_string(),
        r.status.as_str().to_string(),
        if r.ever_synced { "yes" } else { "no" }.to_string(),
        cell(r.destination.as_ref().and_then(|d| d.id.as_deref())),
        time(r.last_synced_at),
        cell(
            r.last_error
                .as_ref()
                .map(|e| e.failure.message.replace('\n', " ")),
        ),
    ]
}

pub fn list(
    client: &Client,
    filter: &FilterArgs,
    limit: usize,
    all: bool,
    json: bool,
) -> Result<()> {
    let mut cursor: Option<String> = None;
    let mut printed = 0;
    loop {
        let mut path = format!("/admin/records?limit={limit}{}", filter.query());
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page: RecordsPage = client.get(&path)?;
        if json {
            for r in &page.records {
                println!("{}", serde_json::to_string(r)?);
            }
        } else if !page.records.is_empty() {
            let rows: Vec<Vec<String>> = page.records.iter().map(row).collect();
            table(
                &[
                    "record",
                    "status",
                    "ever synced",
                    "destination id",
                    "last synced",
                    "last error",
                ],
                &rows,
            );
        }
        printed += page.records.len();
        match page.next_cursor {
            Some(c) if all => cursor = Some(c),
            Some(c) => {
                if !json {
                    eprintln!("more: --all, or the API with cursor={c}");
                }
                break;
            }
            None => break,
        }
    }
    if !json && printed == 0 {
        eprintln!("no records match");
    }
    Ok(())
}

pub fn show(client: &Client, record: &str) -> Result<()> {
    let r = RecordRef::parse(record).map_err(|e| anyhow!("{e}"))?;
    let view: RecordView =
        client.get(&format!("/admin/records/{}/{}", enc(&r.object), enc(&r.id)))?;
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(())
}
