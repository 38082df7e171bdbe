//! `sfsync repair-ids`: find records written with a 15-character Salesforce
//! id (in sfsync's store and as Zendesk `external_id`) and rewrite them to
//! the 18-character form, a page at a time. `--dry-run` only reports.
//! Exits 3 when some records need a person (conflicts) or failed.

use anyhow::Result;
use sync_core::admin::wire::{RepairReply, Repaired};

use serde_json::json;

use crate::client::{enc, Client};
use crate::output::{Outcome, Output};

pub fn run(
    client: &Client,
    out: &Output,
    dry_run: bool,
    batch: usize,
    yes: bool,
) -> Result<Outcome> {
    if !dry_run {
        let st: sync_core::admin::wire::Stats = client.get("/admin/stats")?;
        crate::output::confirm(yes, Some(st.counts.total), "check and repair")?;
    }
    let mut cursor: Option<String> = None;
    let (mut checked, mut merged, mut rewritten) = (0usize, Vec::new(), Vec::new());
    let (mut conflicts, mut errors): (Vec<Repaired>, Vec<Repaired>) = (Vec::new(), Vec::new());
    loop {
        let mut path = format!(
            "/admin/repair/ids?dry_run={dry_run}&limit={}",
            batch.clamp(1, 500)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let reply: RepairReply = client.send_typed("POST", &path, "application/json", b"")?;
        checked += reply.checked;
        merged.extend(reply.merged);
        rewritten.extend(reply.rewritten);
        conflicts.extend(reply.conflicts);
        errors.extend(reply.errors);
        if !out.json {
            eprint!("\rchecked {checked} records");
        }
        match reply.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if !out.json {
        eprintln!();
    }
    out.object(&json!({
        "dry_run": dry_run,
        "checked": checked,
        "merged": merged,
        "rewritten": rewritten,
        "conflicts": conflicts,
        "errors": errors,
    }))?;
    let verb = if dry_run { "would be" } else { "were" };
    out.say(format!(
        "checked {checked} records: {} store records {verb} merged, {} Zendesk records {verb} rewritten, {} need a person, {} failed",
        merged.len(),
        rewritten.len(),
        conflicts.len(),
        errors.len()
    ));
    for (label, list) in [
        ("merged", &merged),
        ("rewritten", &rewritten),
        ("conflict", &conflicts),
        ("failed", &errors),
    ] {
        for r in list {
            out.say(format!("  {label} {}: {}", r.record, r.action));
        }
    }
    Ok(Outcome::partial_if(
        !conflicts.is_empty() || !errors.is_empty(),
    ))
}
