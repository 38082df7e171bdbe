//! Benchmark: the admin API over 50,000 records, through the built
//! components on the test host: stats, a filtered list page, a full paging
//! pass, and the CSV export. The baseline, measured in the same run, is
//! reading the same 50,000 values straight from the SQLite store (no
//! component), so the ratio shows what the admin API adds.
//!
//! Run: `./scripts/bench`.

use std::time::{Duration, Instant};

use serde_json::json;
use sfsync_tests::app::TestApp;

const RECORDS: usize = 50_000;

fn record(n: usize) -> (String, Vec<u8>) {
    let id = format!("003{n:012}AAA");
    let status = match n % 10 {
        0 => "error",
        1 => "skipped",
        2 => "pending",
        _ => "synced",
    };
    let value = json!({
        "object": "Contact",
        "salesforce_id": id,
        "links": {"AccountId": "001000000000001AAA"},
        "destination": {"kind": "zendesk", "id": (9000 + n).to_string(), "organization_ids": ["77"]},
        "status": status,
        "skip_reason": if status == "skipped" { Some("no mapped field changed") } else { None },
        "ever_synced": status != "pending",
        "first_synced_at": "2026-11-20T10:15:01Z",
        "last_synced_at": "2026-11-20T10:15:01Z",
        "last_attempt_at": "2026-11-20T10:15:01Z",
        "last_error": if status == "error" { Some(json!({"kind": "permanent", "http_status": 422, "message": "Email: x is already being used by another user", "at": "2026-11-20T10:15:01Z"})) } else { None },
        "attempts": 1,
        "last_trigger": "created",
        "syncing_record": null,
        "fields_synced": null,
        "fingerprint": "0123456789abcdef0123456789abcdef",
        "source_fields": {"Id": id, "Email": format!("user{n}@example.com"), "FirstName": "Ana", "LastName": format!("Lima {n}"), "Phone": null},
        "source_modified_at": "2026-11-20T10:15:00.000Z",
        "notification_ids": [format!("04l{n:015}")],
        "last_payload": null,
        "destination_calls": 1,
        "last_ignored": null
    });
    (format!("rec/Contact/{id}"), value.to_string().into_bytes())
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    let app = TestApp::start();
    let entries: Vec<(String, Vec<u8>)> = (0..RECORDS).map(record).collect();
    let ((), seed) = timed(|| app.kv_seed(&entries));
    println!("seeded {RECORDS} records in {} ms", seed.as_millis());

    let (dump, baseline) = timed(|| app.kv_dump());
    assert_eq!(dump.len(), RECORDS);

    let (stats, t_stats) = timed(|| app.admin_get("/admin/stats").json());
    assert_eq!(stats["total"], RECORDS);
    let (page, t_page) = timed(|| {
        app.admin_get("/admin/records?status=error&limit=100")
            .json()
    });
    assert_eq!(page["records"].as_array().map(Vec::len), Some(100));
    let (count, t_all) = timed(|| {
        let mut count = 0;
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/admin/records?limit=1000&cursor={c}"),
                None => "/admin/records?limit=1000".to_string(),
            };
            let page = app.admin_get(&path).json();
            count += page["records"].as_array().map(Vec::len).unwrap_or_default();
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break count,
            }
        }
    });
    assert_eq!(count, RECORDS);
    let (export, t_export) = timed(|| app.admin_get("/admin/export.csv"));
    assert_eq!(export.status, 200);
    let lines = export.body.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, RECORDS + 1);

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    println!("admin API over {RECORDS} records (test host, one run):");
    println!(
        "  baseline: read every value from SQLite   {:>7} ms",
        baseline.as_millis()
    );
    println!(
        "  GET /admin/stats                          {:>7} ms  ({:.1}x baseline)",
        t_stats.as_millis(),
        ratio(t_stats)
    );
    println!(
        "  GET /admin/records?status=error&limit=100 {:>7} ms",
        t_page.as_millis()
    );
    println!(
        "  full paging pass, limit=1000              {:>7} ms  ({:.1}x baseline)",
        t_all.as_millis(),
        ratio(t_all)
    );
    println!(
        "  GET /admin/export.csv ({} KiB)          {:>7} ms  ({:.1}x baseline)",
        export.body.len() / 1024,
        t_export.as_millis(),
        ratio(t_export)
    );
}
