//! Benchmark: a 2 GiB body — declared with `Content-Length`, and chunked
//! with no length — sent to each route with a valid token, through the
//! built components on the test host's listener. Prints the process's peak
//! memory (VmHWM, the test host and this client together) after each, next
//! to the idle baseline measured in the same run: a body over its route's
//! cap is refused at the cap, never held.
//!
//! Run: `./scripts/bench` (or `cargo run -p sfsync-tests --example bench_hostile`).

use std::time::Duration;

use sfsync_tests::app::{TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::raw_http::{post_head, raw, Body};
use sfsync_tests::soap::{lone_contact, message};

const GIB2: usize = 2 << 30;

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    // Warm up: one good message, so that the components are compiled.
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(1, "a@example.com")]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"));
    let idle = peak_mib();
    let bearer = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let message_route = format!("/sf/created?token={ENDPOINT_TOKEN}");
    let routes: [(&str, String, Vec<&str>); 3] = [
        ("/sf/created", message_route, vec!["Content-Type: text/xml"]),
        (
            "/admin/backfill",
            "/admin/backfill?object=Contact".into(),
            vec![bearer.as_str(), "Content-Type: text/csv"],
        ),
        (
            "/admin/resend",
            "/admin/resend".into(),
            vec![bearer.as_str()],
        ),
    ];
    println!("2 GiB bodies, peak memory of the whole process (idle after start: {idle:.0} MiB):");
    for (name, path, headers) in &routes {
        let declared = format!("Content-Length: {GIB2}");
        let mut h = headers.clone();
        h.push(&declared);
        let a = raw(&base, &post_head(path, &h), Body::None);
        println!(
            "  {name:<16} declared 2 GiB    -> {} in {:>6.1} ms, peak {:.0} MiB",
            a.status,
            a.took.as_secs_f64() * 1000.0,
            peak_mib()
        );
        let mut h = headers.clone();
        h.push("Transfer-Encoding: chunked");
        let a = raw(&base, &post_head(path, &h), Body::Chunked { total: GIB2 });
        println!(
            "  {name:<16} chunked 2 GiB     -> {} in {:>6.1} ms, peak {:.0} MiB",
            a.status,
            a.took.as_secs_f64() * 1000.0,
            peak_mib()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "  peak over idle: {:.0} MiB (a 2 GiB body held would add 2048 MiB)",
        peak_mib() - idle
    );
}
