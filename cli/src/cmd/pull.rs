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

/// What the pages of a pull or a sweep read, summed.
#[derive(Default)]
struct Tally {
    read: u64,
    synced: u64,
    unchanged: u64,
    failures: Vec<String>,
    high: Option<String>,
    usage: Option<sync_core::salesforce::ApiUsage>,
    /// Why the server stopped early (the org's API budget).
    stopped: Option<String>,
    /// Records in Zendesk bulk jobs whose outcomes are not written yet.
    queued: u64,
    /// Bulk jobs open after the last reply.
    open_jobs: u64,
}

impl Tally {
    fn add(&mut self, reply: &PullReply) {
        self.read += reply.fetched as u64;
        self.synced += u64::from(reply.counts.synced);
        self.unchanged += u64::from(reply.counts.skipped + reply.counts.ignored);
        self.failures.extend(
            reply
                .failed
                .iter()
                .map(|f| format!("{}: {}", f.record, f.error)),
        );
        self.high = reply.high_water.clone().or(self.high.take());
        self.usage = reply.api_usage.or(self.usage);
        if reply.stopped.is_some() {
            self.stopped = reply.stopped.clone();
        }
        self.queued =
            (self.queued + reply.bulk.queued as u64).saturating_sub(reply.bulk.collected as u64);
        self.open_jobs = reply.bulk.open_jobs;
    }
}

/// Wait for the bulk jobs the pages were sent in ([`super::jobs`]).
fn collect_jobs(client: &Client, out: &Output, tally: &mut Tally) -> Result<()> {
    let got = super::jobs::wait(client, out, tally.open_jobs, tally.queued)?;
    tally.synced += got.synced;
    tally.unchanged += got.other;
    tally.failures.extend(got.failures);
    Ok(())
}

/// Call `/admin/{route}` with `first` (a query string), then with each
/// answer's cursor, until the last page; `each` sees every answer and the
/// tally so far. A page refused for now (`503` with `Retry-After`: every
/// Salesforce slot busy, or Salesforce unavailable) is asked again after
/// the wait, which `out` notes.
fn pages(
    client: &Client,
    out: &Output,
    route: &str,
    first: &str,
    limit: Option<u32>,
    mut each: impl FnMut(&PullReply, &Tally) -> Result<()>,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut path = format!("/admin/{route}?{first}");
    loop {
        if let Some(l) = limit {
            path.push_str(&format!("&limit={l}"));
        }
        let reply: PullReply = client
            .admin_patiently("POST", &path, Some("application/json"), b"", |wait, why| {
                out.note(format!("{why}; asking again in {} s", wait.as_secs()))
            })?
            .decode()?;
        tally.add(&reply);
        each(&reply, &tally)?;
        match &reply.next_cursor {
            Some(c) => path = format!("/admin/{route}?cursor={}", enc(c)),
            None => return Ok(tally),
        }
    }
}

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
    let mut first = format!("object={}", enc(&req.object));
    if let Some(s) = &since {
        first.push_str(&format!("&since={}", enc(s)));
    }
    let tally = pages(client, out, "pull", &first, Some(req.batch), |reply, t| {
        if bar.length().is_none() {
            bar.set_length(reply.total);
        }
        bar.set_position(t.read);
        bar.set_message(format!(
            "synced {}, in bulk jobs {}, unchanged {}, errors {}, {:.0}/s",
            t.synced,
            t.queued,
            t.unchanged,
            t.failures.len(),
            t.read as f64 / started.elapsed().as_secs_f64().max(0.001)
        ));
        if let Some(h) = &reply.high_water {
            std::fs::write(&state, format!("since={h}\n"))
                .with_context(|| format!("cannot save the progress to {}", state.display()))?;
        }
        Ok(())
    })?;
    let mut tally = tally;
    collect_jobs(client, out, &mut tally)?;
    let Tally {
        read: fetched,
        synced,
        unchanged: skipped,
        mut failures,
        usage,
        stopped,
        ..
    } = tally;
    match &stopped {
        // Kept: the next run goes on from the saved stamp.
        Some(why) => failures.push(why.clone()),
        None => {
            let _ = std::fs::remove_file(&state);
        }
    }
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

/// `sfsync reconcile [--object …]`: a sweep of each object (every mapped
/// one by default), page by page. Exits 3 when some records failed.
pub fn reconcile(
    client: &Client,
    out: &Output,
    objects: Vec<String>,
    lookback_minutes: Option<u32>,
) -> Result<Outcome> {
    let objects = if objects.is_empty() {
        let reply = client.send("GET", "/admin/health", None, &[])?;
        let health: sync_core::admin::health::Health = reply
            .decode()
            .context("GET /admin/health did not answer; check --url and --token")?;
        health.mapping.objects
    } else {
        objects
    };
    let started = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for object in &objects {
        let mut first = format!("object={}", enc(object));
        if let Some(l) = lookback_minutes {
            first.push_str(&format!("&lookback_minutes={l}"));
        }
        let mut t = pages(client, out, "reconcile", &first, None, |_, _| Ok(()))?;
        collect_jobs(client, out, &mut t)?;
        let (read, healed, unchanged, high) = (t.read, t.synced, t.unchanged, t.high);
        failures.extend(t.failures);
        failures.extend(t.stopped.map(|why| format!("{object}: {why}")));
        rows.push(vec![
            object.clone(),
            read.to_string(),
            healed.to_string(),
            unchanged.to_string(),
            high.clone().unwrap_or_default(),
        ]);
        totals.push(json!({"object": object, "read": read, "healed": healed, "unchanged": unchanged, "high_water": high}));
    }
    out.object(&json!({
        "objects": totals,
        "failed": failures.len(),
        "failures": failures,
        "seconds": started.elapsed().as_secs_f64(),
    }))?;
    out.table(
        &["object", "read", "healed", "unchanged", "high water"],
        &rows,
    );
    if !out.json {
        for f in failures.iter().take(20) {
            out.note(format!("  {f}"));
        }
    }
    Ok(Outcome::partial_if(!failures.is_empty()))
}
