//! Benchmark: backfill 500 Accounts, then a 5,000-row Contact export, into
//! the fake Zendesk (answering at once) through the built components on the
//! test host; prints rows/s, counting until the Zendesk bulk jobs the rows
//! went in are collected. Baseline in the same run: the same Contact file
//! on the dry-run destination (sfsync's own cost per row).
//!
//! Then the growth with file size on dry-run (`--growth`): rows/s for files
//! of 5,000, 50,000 and 200,000 rows, sent the way `sfsync backfill` sends
//! them (each batch the header and its own rows, `first_line`), next to the
//! same files sent whole with a cursor (each call parses the whole file).
//! The first rate must not fall as the file grows.
//!
//! Run: `./scripts/bench`.

use std::time::{Duration, Instant};

use sfsync_tests::app::TestApp;
use sfsync_tests::fake_zendesk::FakeZendesk;

fn csv(header: &str, rows: impl Iterator<Item = String>) -> String {
    let mut s = format!("{header}\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    s
}

fn run(app: &TestApp, object: &str, body: &str) -> Duration {
    let start = Instant::now();
    let mut cursor = String::new();
    loop {
        let path = format!(
            "/admin/backfill?object={object}&limit=500{}",
            if cursor.is_empty() {
                String::new()
            } else {
                format!("&cursor={cursor}")
            }
        );
        let v = app
            .admin("POST", &path, "text/csv", body.as_bytes().to_vec())
            .json();
        assert!(v["failed"].as_array().is_some_and(Vec::is_empty), "{v}");
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => {
                collect(app);
                return start.elapsed();
            }
        }
    }
}

/// Wait for the Zendesk bulk jobs the rows went in (none on dry-run), as
/// `sfsync backfill` does: the time counts until every outcome is written.
fn collect(app: &TestApp) {
    loop {
        let reply = app.resend(serde_json::json!({"collect": true}));
        if reply.open_jobs == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Send `body` in batches of 500 rows, each the header and its rows.
fn run_batched(app: &TestApp, object: &str, body: &str) -> Duration {
    let mut lines = body.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let rows: Vec<&str> = lines.collect();
    let start = Instant::now();
    for (i, chunk) in rows.chunks(500).enumerate() {
        let mut batch = format!("{header}\n");
        for r in chunk {
            batch.push_str(r);
            batch.push('\n');
        }
        let path = format!("/admin/backfill?object={object}&first_line={}", 2 + i * 500);
        let v = app
            .admin("POST", &path, "text/csv", batch.into_bytes())
            .json();
        assert!(v["failed"].as_array().is_some_and(Vec::is_empty), "{v}");
    }
    start.elapsed()
}

fn contacts_file(n: usize) -> String {
    csv(
        "Id,Email,FirstName,LastName",
        (0..n).map(|i| format!("003{i:012}AAA,user{i}@example.com,Ana,Lima {i}")),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--growth") {
        return growth();
    }
    let accounts = csv(
        "Id,Name",
        (0..500).map(|i| format!("001{i:012}AAA,Acme {i}")),
    );
    let contacts = csv(
        "Id,AccountId,Email,FirstName,LastName",
        (0..5000).map(|i| {
            format!(
                "003{i:012}AAA,001{:012}AAA,user{i}@example.com,Ana,Lima {i}",
                i % 500
            )
        }),
    );
    let fake = FakeZendesk::start(false);
    let zendesk = TestApp::with_zendesk(&fake.url(), false);
    let t_accounts = run(&zendesk, "Account", &accounts);
    let t_contacts = run(&zendesk, "Contact", &contacts);
    assert_eq!(fake.users().len(), 5000);
    let t_rerun = run(&zendesk, "Contact", &contacts);
    // The same load against a Zendesk that takes 100 ms a call, as a real
    // one does: what the number of calls costs.
    let slow = FakeZendesk::start(false);
    slow.set_latency(Duration::from_millis(100));
    let slow_app = TestApp::with_zendesk(&slow.url(), false);
    run(&slow_app, "Account", &accounts);
    slow.clear_log();
    let t_slow = run(&slow_app, "Contact", &contacts);
    let slow_calls = slow.log().len();
    let dry = TestApp::start();
    let t_dry = run(&dry, "Contact", &contacts);
    let rate = |n: f64, d: Duration| n / d.as_secs_f64();
    println!("backfill through the components (test host, fake Zendesk without latency, one run):");
    println!(
        "  500 Accounts                      {:>6} ms  {:>6.0} rows/s",
        t_accounts.as_millis(),
        rate(500.0, t_accounts)
    );
    println!(
        "  5,000 Contacts                    {:>6} ms  {:>6.0} rows/s",
        t_contacts.as_millis(),
        rate(5000.0, t_contacts)
    );
    println!(
        "  same 5,000 again (no calls)       {:>6} ms  {:>6.0} rows/s",
        t_rerun.as_millis(),
        rate(5000.0, t_rerun)
    );
    println!(
        "  5,000 Contacts, 100 ms a call     {:>6} ms  {:>6.0} rows/s  ({slow_calls} Zendesk calls)",
        t_slow.as_millis(),
        rate(5000.0, t_slow)
    );
    println!(
        "  baseline: 5,000 on dry-run        {:>6} ms  {:>6.0} rows/s",
        t_dry.as_millis(),
        rate(5000.0, t_dry)
    );
    println!(
        "  Zendesk / dry-run time ratio      {:>6.1}x",
        t_contacts.as_secs_f64() / t_dry.as_secs_f64()
    );
}

fn growth() {
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("backfill on dry-run by file size (test host, one run each):");
    println!("  rows     batched (first_line)   whole file + cursor");
    for n in [5_000, 50_000, 200_000] {
        let file = contacts_file(n);
        let batched = run_batched(&TestApp::start(), "Contact", &file);
        let whole = if n <= 5_000 {
            let t = run(&TestApp::start(), "Contact", &file);
            format!("{:>8.0} rows/s", rate(n, t))
        } else {
            "   (skipped)".to_string()
        };
        println!("  {n:>6}   {:>8.0} rows/s        {whole}", rate(n, batched));
    }
}
