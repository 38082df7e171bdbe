//! Benchmark: what the admin API costs as the store grows. The same figures
//! at 10,000 and at 1,000,000 records (and as many runs), through the built
//! components on the test host: a filtered page of 100, stats, a page of
//! runs, and the first MiB of the CSV export — each in time and in
//! key-value calls. Read through the record index, none of them may grow
//! with the store; the ratio column says whether they do.
//!
//! The store is seeded with the core's own index code (natively, in memory,
//! then written to the app's SQLite file in one transaction), as if every
//! record had been synced: 10 % errors, 10 % skipped, 10 % pending.
//!
//! Run: `./scripts/bench` (`--small` for 10,000 and 100,000).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use sfsync_tests::app::{default_variables, TestApp, ADMIN_TOKEN};
use sync_core::failure::{ErrorKind, Failure};
use sync_core::history;
use sync_core::index;
use sync_core::memory::MemoryKv;
use sync_core::record::{DestinationRef, Process, Status, SyncRecord};
use sync_core::run::Run;
use sync_core::settings::DestinationKind;
use sync_core::settings::HistoryLimits;
use sync_core::store::Generation;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000 + secs, 0).unwrap_or_default()
}

/// The store after `n` records and `n` runs.
fn seeded(n: usize) -> Vec<(String, Vec<u8>)> {
    let kv = MemoryKv::new();
    for i in 0..n {
        let object = if i % 7 == 0 { "Account" } else { "Contact" };
        let id = format!("{}{i:012}AAA", if i % 7 == 0 { "001" } else { "003" });
        let mut r = SyncRecord::new(object, &id, Process::Created);
        r.status = match i % 10 {
            0 => Status::Error,
            1 => Status::Skipped,
            2 => Status::Pending,
            _ => Status::Synced,
        };
        r.ever_synced = r.status != Status::Pending;
        r.last_attempt_at = Some(at(i as i64));
        r.last_synced_at = r.ever_synced.then(|| at(i as i64));
        r.first_synced_at = r.last_synced_at;
        r.attempts = 1;
        r.destination_calls = 1;
        if r.status == Status::Error {
            let says = format!("Email: user{i}@example.com is already being used by another user (Zendesk 422 RecordInvalid); merge the two users or change the email in Salesforce");
            r.mark_error(at(i as i64), Failure::new(ErrorKind::Permanent, says));
        }
        r.destination = Some(DestinationRef {
            kind: DestinationKind::Zendesk,
            id: Some((9000 + i).to_string()),
            organization_ids: Vec::new(),
        });
        block_on(index::save(&kv, Generation::default(), None, &mut r)).expect("seeded");
    }
    let limits = HistoryLimits {
        kept: n as u64,
        max_age_days: 3650,
    };
    for i in 0..n {
        let mut run = Run::new(Process::Created, at(i as i64), &i.to_string());
        run.add(&format!("Contact/003{i:012}AAA"), Status::Synced, None);
        block_on(history::record(&kv, &limits, at(i as i64), &mut run)).expect("run");
    }
    kv.map.into_inner().into_iter().collect()
}

struct Figure {
    ms: f64,
    kv_calls: usize,
}

fn measure(app: &TestApp, f: impl FnOnce()) -> Figure {
    let faults = app
        .kv_faults()
        .expect("the test host counts key-value calls");
    let calls = faults.calls();
    let start = Instant::now();
    f();
    Figure {
        ms: start.elapsed().as_secs_f64() * 1000.0,
        kv_calls: faults.calls() - calls,
    }
}

/// Read the export until its first MiB has arrived, then hang up.
fn first_mib(base: &str) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    write!(
        s,
        "GET /admin/export.csv HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {ADMIN_TOKEN}\r\nconnection: close\r\n\r\n"
    )
    .expect("request");
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while got < (1 << 20) + 4096 {
        match s.read(&mut buf) {
            Ok(0) => panic!("the export ended before its first MiB ({got} bytes)"),
            Ok(k) => got += k,
            Err(e) => panic!("reading the export: {e}"),
        }
    }
}

fn figures(n: usize) -> BTreeMap<&'static str, Figure> {
    let entries = seeded(n);
    let mut variables = default_variables();
    variables.insert("run_retention_count".into(), n.max(100).to_string());
    variables.insert("run_retention_days".into(), "3650".into());
    let app = TestApp::with_options(variables, None, sfsync_tests::app::Store::Sqlite);
    let started = Instant::now();
    app.kv_seed(&entries);
    eprintln!(
        "seeded {n} records and {n} runs ({} keys) in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    drop(entries);
    let (base, _listener) = app.listen();
    let mut out = BTreeMap::new();
    // Warm: the first request compiles nothing more, but fills caches.
    app.admin_get("/admin/stats");
    for (name, query) in [
        (
            "filtered page of 100 (status=error&object=Contact)",
            "status=error&object=Contact",
        ),
        ("filtered page of 100 (status=error)", "status=error"),
    ] {
        let figure = measure(&app, || {
            let page = app
                .admin_get(&format!("/admin/records?{query}&limit=100"))
                .json();
            assert_eq!(page["records"].as_array().map(Vec::len), Some(100));
        });
        out.insert(name, figure);
    }
    out.insert(
        "stats",
        measure(&app, || {
            let stats = app.admin_get("/admin/stats").json();
            assert_eq!(stats["total"], n);
            assert_eq!(stats["error"], n / 10);
        }),
    );
    out.insert(
        "runs, newest 100",
        measure(&app, || {
            let runs = app.admin_get("/admin/runs?limit=100").json();
            assert_eq!(runs["runs"].as_array().map(Vec::len), Some(100));
        }),
    );
    out.insert(
        "first MiB of the export",
        measure(&app, || first_mib(&base)),
    );
    out
}

fn main() {
    let small = std::env::args().any(|a| a == "--small");
    let (a, b) = if small {
        (10_000, 100_000)
    } else {
        (10_000, 1_000_000)
    };
    let fa = figures(a);
    let fb = figures(b);
    println!("admin API as the store grows (test host, SQLite, one run each):");
    println!(
        "  {:<52} {:>16} {:>16} {:>7} {:>7}",
        "",
        format!("{a} records"),
        format!("{b} records"),
        "time",
        "calls"
    );
    for (name, x) in &fa {
        let y = &fb[name];
        println!(
            "  {name:<52} {:>7.1} ms {:>4} kv {:>7.1} ms {:>4} kv {:>6.2}x {:>6.2}x",
            x.ms,
            x.kv_calls,
            y.ms,
            y.kv_calls,
            y.ms / x.ms,
            y.kv_calls as f64 / x.kv_calls.max(1) as f64
        );
    }
}
