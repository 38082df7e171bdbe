//! `sfsync status`, `sfsync pause`, `sfsync resume`.

use anyhow::Result;
use serde_json::{json, Value};
use sync_core::admin::wire::{Counts, Stats};

use crate::client::Client;
use crate::output::Output;

pub fn status(client: &Client, out: &Output) -> Result<()> {
    let st: Stats = client.get("/admin/stats")?;
    if out.json {
        return out.object(&st);
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
    out.table(
        &["object", "total", "synced", "error", "skipped", "pending"],
        &rows,
    );
    if st.paused {
        out.say("\nsync is PAUSED: notifications are recorded as pending (sfsync resume)");
    }
    for w in &st.warnings {
        out.note(format!("warning: {w}"));
    }
    Ok(())
}

pub fn pause(client: &Client, out: &Output) -> Result<()> {
    let reply: Value = client.post_json("/admin/pause", &json!({}))?;
    out.object(&reply)?;
    out.say("paused: notifications are recorded as pending; nothing is pushed");
    Ok(())
}

pub fn resume(client: &Client, out: &Output) -> Result<()> {
    let reply: Value = client.post_json("/admin/resume", &json!({}))?;
    out.object(&reply)?;
    out.say("resumed; to push what arrived meanwhile: sfsync resend --status pending");
    Ok(())
}
