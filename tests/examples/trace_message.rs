//! Print every key-value call one Outbound Message makes, in order: which
//! component, which operation, which key. The second of two messages of new
//! Contacts is printed (the first warms the app up and creates its counters).
//!
//! Run: `SFSYNC_TEST_KV_TRACE=1 cargo run -p sfsync-tests --example trace_message -- 100`
//! (the argument is the number of notifications; 1 by default). The host
//! prints a line per call to stderr while the variable is set.

use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::soap::{lone_contact, message};

fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    if std::env::var_os("SFSYNC_TEST_KV_TRACE").is_none() {
        eprintln!("set SFSYNC_TEST_KV_TRACE=1 to see the calls");
    }
    let app = TestApp::start();
    for n in 0..2 {
        eprintln!("---- message {} ({size} new Contacts)", n + 1);
        let records: Vec<_> = (0..size)
            .map(|i| lone_contact(1000 * (n + 1) + i, &format!("trace{n}-{i}@example.com")))
            .collect();
        let resp = app.send_message("/sf/created", &message(ORG_ID, &records));
        assert!(
            resp.text().contains("<Ack>true</Ack>"),
            "not acknowledged: {}",
            resp.text()
        );
    }
}
