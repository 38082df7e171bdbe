//! `sfsync doctor`: `GET /admin/health`, printed as a checklist with each
//! problem's fix. Exits 1 when something blocks sync (the route answered
//! 503), 0 otherwise (warnings included).

use anyhow::{bail, Result};
use sync_core::admin::health::Health;

use crate::client::Client;
use crate::output::{Outcome, Output};

pub fn run(client: &Client, out: &Output) -> Result<Outcome> {
    if client.token().is_none() {
        return Err(crate::output::usage(
            "no admin token: pass --token, set SFSYNC_TOKEN to the value of the admin_token variable, or use a --profile",
        ));
    }
    let reply = client.send("GET", "/admin/health", None, &[])?;
    if !matches!(reply.status, 200 | 503) {
        // A refusal (401) or an sfsync without the route: the admin
        // client's error says which and what to do.
        client.admin("GET", "/admin/health", None, &[])?;
        bail!("GET /admin/health answered {}", reply.status);
    }
    let h: Health = reply.decode()?;
    if out.json {
        out.object(&h)?;
    } else {
        print(out, client, &h);
    }
    if h.healthy {
        Ok(Outcome::Done)
    } else {
        bail!(
            "{} problem(s) block sync; fix them and run sfsync doctor again",
            h.problems.len()
        )
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "FAIL"
    }
}

fn print(out: &Output, client: &Client, h: &Health) {
    out.say(format!("sfsync {} at {}", h.version, client.base()));
    let set: Vec<&str> = h
        .variables
        .iter()
        .filter(|(_, v)| *v == "set")
        .map(|(k, _)| k.as_str())
        .collect();
    let unset: Vec<&str> = h
        .variables
        .iter()
        .filter(|(_, v)| *v != "set")
        .map(|(k, _)| k.as_str())
        .collect();
    let destination = match h.destination.reachable {
        None => "dry-run: nothing is sent".to_string(),
        Some(true) => format!(
            "{}: answers with these credentials",
            h.destination.kind.as_str()
        ),
        Some(false) => format!(
            "{}: {}",
            h.destination.kind.as_str(),
            h.destination.error.as_deref().unwrap_or("no answer")
        ),
    };
    let rows = vec![
        vec![
            "variables".into(),
            "ok".into(),
            format!("set: {}; unset: {}", set.join(", "), unset.join(", ")),
        ],
        vec![
            "destination".into(),
            mark(h.destination.reachable != Some(false)).into(),
            destination,
        ],
        vec![
            "mapping".into(),
            mark(h.mapping.valid).into(),
            format!("{} ({})", h.mapping.source, h.mapping.objects.join(", ")),
        ],
        vec![
            "store".into(),
            mark(h.kv.ok).into(),
            h.kv.error
                .clone()
                .unwrap_or_else(|| "written, read and deleted a key".into()),
        ],
        vec![
            "salesforce".into(),
            mark(h.salesforce.reachable != Some(false)).into(),
            match (&h.salesforce.reachable, &h.salesforce.error) {
                (None, _) => {
                    "not configured: pull and reconcile are off (setup guide, step 9)".into()
                }
                (Some(true), _) => {
                    "the connected app gets a token: pull and reconcile can read".into()
                }
                (Some(false), e) => e.clone().unwrap_or_else(|| "no answer".into()),
            },
        ],
        vec![
            "sync".into(),
            "ok".into(),
            if h.paused { "PAUSED" } else { "running" }.into(),
        ],
        vec![
            "sizes".into(),
            "ok".into(),
            format!(
                "{} records indexed (generation {}), {} runs kept (at most {}, {} days)",
                h.index.records,
                h.index.generation,
                h.history.runs,
                h.history.retention_count,
                h.history.retention_days
            ),
        ],
    ];
    out.table(&["check", "status", "detail"], &rows);
    for p in &h.problems {
        out.say(format!("\nproblem: {}\n    fix: {}", p.what, p.fix));
    }
    for w in &h.warnings {
        out.say(format!("\nwarning: {w}"));
    }
    if h.healthy {
        out.say("\nnothing blocks sync");
    }
}
