//! `sfsync status`, `sfsync pause`, `sfsync resume`.

use anyhow::Result;
use serde_json::json;
use sync_core::admin::wire::{Counts, Stats};

use crate::client::Client;
use crate::output::table;

pub fn status(client: &Client, json: bool) -> Result<()> {
    let st: Stats = client.get("/admin/stats")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    let row = |name: &str, c: &Counts| {
        vec![
            name.to_string(),
            c.total.to_string(),
            c.synced.to_string(),
            c.error.to_string(),
            c.skipped.to_string(),
            c.pending.to_string(),
        ]
    };
    let mut rows = vec![row("all", &st.counts)];
    rows.extend(st.by_object.iter().map(|(o, c)| row(o, c)));
    table(
        &["object", "total", "synced", "error", "skipped", "pending"],
        &rows,
    );
    if st.paused {
        println!("\nsync is PAUSED: notifications are recorded as pending (sfsync resume)");
    }
    Ok(())
}

pub fn pause(client: &Client) -> Result<()> {
    client.post_json("/admin/pause", &json!({}))?;
    println!("paused: notifications are recorded as pending; nothing is pushed");
    Ok(())
}

pub fn resume(client: &Client) -> Result<()> {
    client.post_json("/admin/resume", &json!({}))?;
    println!("resumed; to push what arrived meanwhile: sfsync resend --status pending");
    Ok(())
}
