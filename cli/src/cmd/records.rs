//! `sfsync records` (a filtered list, page by page) and `sfsync show`.

use anyhow::Result;
use sync_core::admin::wire::{RecordView, RecordsPage};
use sync_core::reference::RecordRef;

use crate::client::{enc, Client};
use crate::output::{cell, time, Output};
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
    out: &Output,
    filter: &FilterArgs,
    limit: usize,
    all: bool,
) -> Result<()> {
    let mut cursor: Option<String> = None;
    let mut printed = 0;
    loop {
        let mut path = format!("/admin/records?limit={limit}{}", filter.query());
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page: RecordsPage = client.get(&path)?;
        for r in &page.records {
            out.item(r)?;
        }
        if !page.records.is_empty() {
            let rows: Vec<Vec<String>> = page.records.iter().map(row).collect();
            out.table(
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
                out.note(format!("more: --all, or the API with cursor={c}"));
                break;
            }
            None => break,
        }
    }
    if printed == 0 {
        out.note("no records match");
    }
    Ok(())
}

pub fn show(client: &Client, out: &Output, record: &str) -> Result<()> {
    let r = RecordRef::parse(record).map_err(|e| crate::output::usage(e.to_string()))?;
    let view: RecordView =
        client.get(&format!("/admin/records/{}/{}", enc(&r.object), enc(&r.id)))?;
    if out.json {
        return out.object(&view);
    }
    let d = view.destination.as_ref();
    let mut rows = vec![
        ("record", r.to_string()),
        ("status", view.status.as_str().to_string()),
        ("ever synced", view.ever_synced.to_string()),
        ("destination", cell(d.map(|d| d.kind.as_str()))),
        ("destination id", cell(d.and_then(|d| d.id.as_deref()))),
        (
            "organizations",
            d.map(|d| d.organization_ids.join(", ")).unwrap_or_default(),
        ),
        ("first synced", time(view.first_synced_at)),
        ("last synced", time(view.last_synced_at)),
        ("last attempt", time(view.last_attempt_at)),
        ("attempts", view.attempts.to_string()),
        ("last trigger", view.last_trigger.as_str().to_string()),
    ];
    if let Some(t) = view.healed_at {
        rows.push(("healed by a sweep", time(Some(t))));
    }
    if let Some(c) = &view.converted_to {
        rows.push(("converted to", c.to_string()));
    }
    if let Some(l) = &view.converted_from {
        rows.push(("converted from", l.to_string()));
    }
    if let Some(e) = &view.last_error {
        rows.push(("last error", e.failure.kind.as_str().to_string()));
        rows.push(("error status", cell(e.failure.http_status)));
        rows.push(("error message", e.failure.message.clone()));
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    out.table(&["field", "value"], &rows);
    out.note(format!("the whole record: sfsync show {r} --json"));
    Ok(())
}
