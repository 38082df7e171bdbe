//! Benchmark: how many Outbound Messages sfsync takes per second, next to a
//! baseline component built in the same run (`tests/baseline`: one
//! key-value get and one set per request), on the same host and store.
//!
//! - 1-notification messages (every one a new record) against the
//!   baseline's requests/s: the ratio is what sfsync's own work costs.
//! - 100-notification messages: notifications/s, and the cost per
//!   notification against the 1-notification case (it should stay flat).
//! - Key-value calls per message (counted by the test host).
//! - Cold start: each component's size, and the time from starting the host
//!   to the first answer, next to the baseline's empty route.
//!
//! Load: `CONNECTIONS` keep-alive connections for `SECONDS` each, dry-run
//! destination, SQLite store (or Redis with `SFSYNC_TEST_KV=redis`).
//! Run: `./scripts/bench`, or
//! `cargo run --release -p sfsync-tests --example bench_throughput`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sfsync_tests::app::{root, Store, TestApp, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::soap::{lone_contact, message};

const CONNECTIONS: usize = 16;
const SECONDS: u64 = 8;

/// Send requests from `CONNECTIONS` threads for `SECONDS`; `request(n)`
/// gives the path and body of the n-th request overall. Answers requests/s.
fn hammer(base: &str, request: impl Fn(usize) -> (String, String) + Send + Sync + 'static) -> f64 {
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS);
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (base, request, next, failed) = (
                base.to_string(),
                Arc::clone(&request),
                Arc::clone(&next),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .max_idle_connections_per_host(1)
                    .build();
                let mut done = 0usize;
                while Instant::now() < until {
                    let (path, body) = request(next.fetch_add(1, Ordering::SeqCst));
                    let answer = agent
                        .post(&format!("{base}{path}"))
                        .set("content-type", "text/xml; charset=utf-8")
                        .set("soapaction", "\"\"")
                        .send_string(&body);
                    match answer {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.into_string();
                            done += 1;
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                done
            })
        })
        .collect();
    let done: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let took = started.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::SeqCst);
    assert_eq!(failed, 0, "{failed} requests failed");
    done as f64 / took
}

/// A message of `size` new Contacts: request `n` never repeats a record.
fn new_records(size: usize) -> impl Fn(usize) -> (String, String) + Send + Sync {
    move |n| {
        let records: Vec<_> = (0..size)
            .map(|i| {
                let id = n * size + i;
                lone_contact(id, &format!("t{id}@example.com"))
            })
            .collect();
        (
            format!("/sf/created?token={ENDPOINT_TOKEN}"),
            message(ORG_ID, &records),
        )
    }
}

/// Key-value calls, and of them writes, per message of `size` new records.
fn kv_calls_per_message(app: &TestApp, size: usize, from: usize) -> Option<(f64, f64)> {
    let faults = app.kv_faults()?;
    let request = new_records(size);
    let (calls, writes) = (faults.calls(), faults.writes());
    for n in from..from + 10 {
        let (_, body) = request(n);
        let resp = app.send_message("/sf/created", &body);
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    }
    Some((
        (faults.calls() - calls) as f64 / 10.0,
        (faults.writes() - writes) as f64 / 10.0,
    ))
}

/// What one write and one read cost on Spin's SQLite store (the default),
/// in microseconds: each write is a transaction committed to disk, which is
/// what bounds a message's rate on this store.
fn size_of(file: &str) -> u64 {
    std::fs::metadata(root().join("target/wasm32-wasip2/release").join(file))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// The host's start (compiling the components, as `spin up` does), then
/// the first answer of `method path` and the median of the next ten, in
/// seconds.
fn cold_start(
    start: impl Fn() -> TestApp,
    method: &str,
    path: &str,
    body: impl Fn(usize) -> String,
) -> (f64, f64, f64) {
    let begun = Instant::now();
    let app = start();
    let started = begun.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for i in 0..11 {
        let body = body(i);
        let t = Instant::now();
        let resp = app.request(sfsync_tests::host::TestRequest {
            method: method.into(),
            path_and_query: path.into(),
            headers: vec![("content-type".into(), "text/xml; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        });
        // A refused message is a SOAP Fault: 500 with a Fault body.
        assert!(
            resp.status < 500 || resp.text().contains("<soapenv:Fault>"),
            "{}",
            resp.text()
        );
        times.push(t.elapsed().as_secs_f64());
    }
    let first = times.remove(0);
    times.sort_by(f64::total_cmp);
    (started, first, times[times.len() / 2])
}

fn main() {
    let baseline_manifest = root().join("tests/baseline/spin.toml");
    let baseline = || {
        TestApp::try_with_manifest(
            &baseline_manifest,
            Default::default(),
            None,
            Store::FromEnv,
        )
        .unwrap_or_else(|e| panic!("baseline: {e} (build it: cargo build --target wasm32-wasip2 --release -p bench-baseline)"))
    };

    // Cold start first, before anything is warm.
    // The same message again after the first is a repeat: still a full
    // request through the component.
    // Every message new records, the first as the next ten.
    let sfsync_cold = cold_start(
        TestApp::start,
        "POST",
        &format!("/sf/created?token={ENDPOINT_TOKEN}"),
        |i| new_records(1)(9_000_000 + i).1,
    );
    let empty_cold = cold_start(baseline, "GET", "/empty", |_| String::new());
    let (_, one) = new_records(1)(9_100_000);
    // Each component's first answer to a request it refuses before any
    // key-value call: what starting the component costs, apart from the
    // store's writes.
    let refused: Vec<(&str, (f64, f64, f64))> = [
        ("record_created.wasm", "POST", "/sf/created?token=wrong"),
        ("field_updated.wasm", "POST", "/sf/updated?token=wrong"),
        ("resend.wasm", "POST", "/admin/resend"),
        ("admin.wasm", "GET", "/admin/stats"),
        ("admin_write.wasm", "POST", "/admin/backfill"),
    ]
    .into_iter()
    .map(|(file, method, path)| {
        (
            file,
            cold_start(TestApp::start, method, path, |_| one.clone()),
        )
    })
    .collect();

    let base_app = baseline();
    let (base_url, _base_listener) = base_app.listen();
    let base_rps = hammer(&base_url, |_| ("/kv".to_string(), String::new()));

    let app = TestApp::start();
    let (url, _listener) = app.listen();
    let one_rps = hammer(&url, new_records(1));
    let hundred_rps = hammer(&url, |n| new_records(100)(1_000_000 + n));
    let calls_1 = kv_calls_per_message(&app, 1, 8_000_000);
    let calls_100 = kv_calls_per_message(&app, 100, 80_000);

    println!(
        "Outbound Messages on the test host ({CONNECTIONS} connections, {SECONDS} s each, dry-run, new records):"
    );
    println!("  baseline: key-value get + set       {base_rps:>8.0} requests/s");
    println!(
        "  1-notification messages             {one_rps:>8.0} requests/s   {:>5.0} % of the baseline",
        100.0 * one_rps / base_rps
    );
    println!(
        "  100-notification messages           {:>8.0} notifications/s ({hundred_rps:.1} messages/s)",
        hundred_rps * 100.0
    );
    println!(
        "  cost per notification, 100 vs 1     {:>8.2}x (1.00 is flat)",
        (1.0 / (hundred_rps * 100.0)) / (1.0 / one_rps)
    );
    if let (Some((c1, w1)), Some((c100, w100))) = (calls_1, calls_100) {
        println!("  key-value calls per message         {c1:>8.1} (1 notification)   {c100:.1} (100: {:.2} each)", c100 / 100.0);
        println!("  of them writes                      {w1:>8.1} (1 notification)   {w100:.1} (100: {:.2} each)", w100 / 100.0);
        println!("  baseline key-value calls            {:>8} (1 write)", 2);
        let (write, read) = sfsync_tests::kv::sqlite_costs();
        println!(
            "  SQLite store: one write {write:.0} us, one read {read:.0} us ({:.0}x): a message's rate is bound by its writes",
            write / read
        );
        println!(
            "  write-bound ceiling, 1 / (writes x write cost): {:>6.0} requests/s (1 notification), {:.0} notifications/s (100)",
            1e6 / (w1 * write),
            100.0 * 1e6 / (w100 * write)
        );
    }
    println!(
        "cold start: host start (compiles every component), first answer, then warm (median):"
    );
    let (s0, f0, w0) = empty_cold;
    let (s1, f1, w1) = sfsync_cold;
    println!(
        "  baseline, empty route     start {:>7.0} ms  first {:>6.1} ms  warm {:>6.1} ms  {:>8} bytes",
        s0 * 1000.0,
        f0 * 1000.0,
        w0 * 1000.0,
        size_of("bench_baseline.wasm")
    );
    println!(
        "  sfsync, one new record    start {:>7.0} ms  first {:>6.1} ms  warm {:>6.1} ms  {:>8} bytes (record-created)",
        s1 * 1000.0,
        f1 * 1000.0,
        w1 * 1000.0,
        size_of("record_created.wasm")
    );
    println!(
        "  first answer, sfsync / baseline   {:.2}x; what the first costs over the next, sfsync {:.1} ms, baseline {:.1} ms",
        f1 / f0,
        (f1 - w1) * 1000.0,
        (f0 - w0) * 1000.0
    );
    println!("  each component's first answer to a request refused before any key-value call:");
    for (file, (_, first, warm)) in &refused {
        println!(
            "  {file:<22} {:>8} bytes  first {:>6.1} ms  warm {:>6.1} ms  first / baseline's first {:>5.2}x",
            size_of(file),
            first * 1000.0,
            warm * 1000.0,
            first / f0
        );
    }
}
