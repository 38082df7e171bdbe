//! Benchmark: one Outbound Message of 100 new Contacts, synced to the fake
//! Zendesk answering every call after 50 ms, through the built components on
//! the test host. Compared, in the same run, with the time those 100 calls
//! take one after the other (100 × 50 ms) and with the same message on the
//! dry-run destination (sfsync's own cost, no network).
//!
//! Run: `./scripts/bench` (or `cargo run -p sfsync-tests --example bench_message`).

use std::time::{Duration, Instant};

use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sfsync_tests::soap::{contact, message, Record};

const LATENCY: Duration = Duration::from_millis(50);
const ROUNDS: usize = 3;

fn records(round: usize) -> String {
    let records: Vec<Record> = (0..100)
        .map(|i| {
            let n = round * 1000 + i;
            let mut r = contact(n, &format!("bench{n}@example.com"));
            r.fields.retain(|(k, _)| *k != "AccountId");
            r
        })
        .collect();
    message(ORG_ID, &records)
}

fn time_message(app: &TestApp, xml: &str) -> Duration {
    let start = Instant::now();
    let resp = app.send_message("/sf/created", xml);
    let took = start.elapsed();
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let fake = FakeZendesk::start(false);
    fake.set_latency(LATENCY);
    let zendesk = TestApp::with_zendesk(&fake.url(), false);
    let dry = TestApp::start();
    // Warm up both (first-request costs are not what is measured).
    time_message(&zendesk, &records(900));
    time_message(&dry, &records(900));

    let mut with_zendesk = Vec::new();
    let mut dry_run = Vec::new();
    for round in 0..ROUNDS {
        fake.clear_log();
        with_zendesk.push(time_message(&zendesk, &records(round)));
        assert_eq!(fake.count("POST", "/api/v2/users/create_or_update"), 100);
        dry_run.push(time_message(&dry, &records(round)));
    }
    let serial = LATENCY * 100;
    let z = median(with_zendesk);
    let d = median(dry_run);
    println!(
        "100-notification message, fake Zendesk with {} ms per call (median of {ROUNDS}):",
        LATENCY.as_millis()
    );
    println!(
        "  sfsync (concurrency {}):   {:>6} ms",
        sync_core::pipeline::CONCURRENCY,
        z.as_millis()
    );
    println!(
        "  100 calls one by one:        {:>6} ms",
        serial.as_millis()
    );
    println!("  same message, dry-run:       {:>6} ms", d.as_millis());
    println!(
        "  speed-up over one by one:    {:>6.1}x",
        serial.as_secs_f64() / z.as_secs_f64()
    );
}
