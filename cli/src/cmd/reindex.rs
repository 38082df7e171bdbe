//! `sfsync reindex`: rebuild the record index that stats, record pages and
//! exports read, a batch at a time, following the route's cursor. Run it
//! once after upgrading from a version without the index, or whenever the
//! counts look wrong. `--from-keys` finds records by listing every key
//! (what the first rebuild always does).

use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use sync_core::admin::wire::{ReindexReply, Stats};

use serde_json::json;

use crate::client::{enc, Client};
use crate::output::Output;

pub fn run(client: &Client, out: &Output, from_keys: bool) -> Result<()> {
    let before: Stats = client.get("/admin/stats")?;
    let bar = ProgressBar::new(before.counts.total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut cursor: Option<String> = None;
    let (mut indexed, mut already) = (0usize, 0usize);
    let generation = loop {
        let mut path = String::from("/admin/reindex");
        match &cursor {
            Some(c) => path.push_str(&format!("?cursor={}", enc(c))),
            None if from_keys => path.push_str("?from=keys"),
            None => {}
        }
        let reply: ReindexReply = client.send_typed("POST", &path, "application/json", b"")?;
        indexed += reply.indexed;
        already += reply.already;
        bar.set_position((indexed + already) as u64);
        if bar.length().is_some_and(|l| l < bar.position()) {
            bar.set_length(bar.position());
        }
        match reply.next_cursor {
            Some(c) => {
                if reply.indexed + reply.already == 0 {
                    // A record was being synced: give it a moment.
                    std::thread::sleep(Duration::from_millis(500));
                }
                cursor = Some(c);
            }
            None => break reply.generation,
        }
    };
    bar.finish_and_clear();
    out.object(&json!({"generation": generation, "indexed": indexed, "already": already}))?;
    out.say(format!(
        "index generation {generation} built: {indexed} records entered, {already} already in it (written while it was built)"
    ));
    Ok(())
}
