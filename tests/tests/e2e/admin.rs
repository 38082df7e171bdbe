//! Issue 5 end to end: record lists and filters, stats, resend, run history,
//! CSV export and import, pause and resume, and the errors of every route.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sfsync_tests::host::TestRequest;
use sfsync_tests::soap::{contact, contact_id, message, Record};

fn ack(app: &TestApp, route: &str, records: &[Record]) {
    let resp = app.send_message(route, &message(ORG_ID, records));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
}

/// A Contact the default mapping cannot map (no name): a permanent error.
fn nameless(n: usize) -> Record<'static> {
    let mut r = contact(n, &format!("nameless{n}@example.com"));
    r.fields
        .retain(|(k, _)| !matches!(*k, "FirstName" | "LastName"));
    r
}

fn opportunity(n: usize) -> Record<'static> {
    Record {
        object: "Opportunity",
        notification_id: format!("04l0000000000OP{n:03}"),
        fields: vec![("Id", Some(format!("006{n:012}AAA")))],
    }
}

fn json_post(app: &TestApp, path: &str, body: Value) -> sfsync_tests::host::TestResponse {
    app.admin("POST", path, "application/json", body.to_string())
}

/// Every record of a listing, following next_cursor.
fn all_pages(app: &TestApp, query: &str, limit: usize) -> Vec<String> {
    app.record_pages(query, limit)
}

#[test]
fn lists_filter_page_and_agree_with_stats() {
    let app = TestApp::start();
    let synced: Vec<Record> = (0..30)
        .map(|n| contact(n, &format!("User{n}@Example.com")))
        .collect();
    ack(&app, "/sf/created", &synced);
    ack(
        &app,
        "/sf/created",
        &[nameless(100), nameless(101), opportunity(1)],
    );
    assert_eq!(json_post(&app, "/admin/pause", json!({})).status, 200);
    ack(&app, "/sf/created", &[contact(200, "paused@example.com")]);
    assert_eq!(json_post(&app, "/admin/resume", json!({})).status, 200);

    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], 34);
    for (status, want) in [("synced", 30), ("error", 2), ("skipped", 1), ("pending", 1)] {
        let listed = all_pages(&app, &format!("&status={status}"), 7);
        assert_eq!(listed.len(), want, "status={status}");
        assert_eq!(stats[status], want, "stats {status}");
    }
    assert_eq!(
        all_pages(&app, "&object=Opportunity", 10),
        vec![format!("Opportunity/006{:012}AAA", 1)]
    );
    assert_eq!(
        all_pages(&app, "&q=USER7%40example", 10),
        vec![format!("Contact/{}", contact_id(7))]
    );
    assert_eq!(
        all_pages(&app, &format!("&q={}", &contact_id(12)[5..]), 10),
        vec![format!("Contact/{}", contact_id(12))]
    );
    assert_eq!(
        all_pages(&app, &format!("&q=contact%2F{}", contact_id(4)), 100).len(),
        1,
        "q matches the destination id"
    );
    assert_eq!(
        all_pages(&app, "&since=2000-01-01&until=2100-01-01", 1000).len(),
        34
    );
    assert_eq!(all_pages(&app, "&since=2100-01-01", 1000).len(), 0);

    // Paging while records are written: every record exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut written = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/records?object=Contact&limit=5&cursor={c}"),
            None => "/admin/records?object=Contact&limit=5".to_string(),
        };
        let page = app.admin_get(&path).json();
        for r in page["records"].as_array().expect("records") {
            seen.push(r["salesforce_id"].as_str().unwrap_or_default().to_string());
        }
        if written < 3 {
            // A new record before the cursor, one after it, and an update.
            ack(
                &app,
                "/sf/created",
                &[contact(
                    500 + written,
                    &format!("late{written}@example.com"),
                )],
            );
            written += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a record came twice: {seen:?}");
    // The order is stable: a listing now has the records seen in the same
    // order (the late ones somewhere among them).
    let again: Vec<String> = all_pages(&app, "&object=Contact", 1000)
        .into_iter()
        .filter_map(|r| r.strip_prefix("Contact/").map(str::to_string))
        .filter(|id| seen.contains(id))
        .collect();
    assert_eq!(again, seen, "not in a stable order");
    for n in 0..30 {
        assert!(seen.contains(&contact_id(n)), "{} missing", contact_id(n));
    }
}

#[test]
fn bad_inputs_are_4xx_json_that_names_the_fix() {
    let app = TestApp::start();
    // (method, path, content type, body, status, what the error says)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/admin/records?status=broken",
            "",
            vec![],
            400,
            "unknown status",
        ),
        (
            "GET",
            "/admin/records?cursor=%%%",
            "",
            vec![],
            400,
            "malformed cursor",
        ),
        ("GET", "/admin/records?limit=0", "", vec![], 400, "limit"),
        (
            "GET",
            "/admin/records?limit=5000",
            "",
            vec![],
            400,
            "1 to 1000",
        ),
        (
            "GET",
            "/admin/records?since=last-week",
            "",
            vec![],
            400,
            "ISO 8601",
        ),
        (
            "GET",
            "/admin/runs?process=deleted",
            "",
            vec![],
            400,
            "unknown process",
        ),
        ("GET", "/admin/runs?status=meh", "", vec![], 400, "failed"),
        ("GET", "/admin/runs?order=sideways", "", vec![], 400, "asc"),
        ("GET", "/admin/runs/nope", "", vec![], 404, "no run"),
        (
            "GET",
            "/admin/export.csv?status=nope",
            "",
            vec![],
            400,
            "unknown status",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{not json".to_vec(),
            400,
            "not JSON",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{\"records\":[\"Contact-003\"]}".to_vec(),
            400,
            "Object/SalesforceId",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{\"filter\":{\"status\":\"errors\"}}".to_vec(),
            400,
            "unknown status",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{\"filter\":{},\"limit\":0}".to_vec(),
            400,
            "limit",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{\"filter\":{},\"cursor\":\"zz\"}".to_vec(),
            400,
            "malformed cursor",
        ),
        (
            "POST",
            "/admin/resend",
            "application/json",
            b"{}".to_vec(),
            400,
            "nothing to resend",
        ),
        (
            "POST",
            "/admin/import",
            "text/csv",
            b"zendesk_user_id,colour\n1,red\n".to_vec(),
            400,
            "unknown column",
        ),
        (
            "POST",
            "/admin/import",
            "text/csv",
            vec![0xff, 0xfe],
            400,
            "UTF-8",
        ),
        ("GET", "/admin/resend", "", vec![], 405, "POST"),
        ("PUT", "/admin/pause", "", vec![], 405, "POST"),
    ];
    for (method, path, ct, body, status, says) in cases {
        let resp = app.admin(method, path, ct, body);
        assert_eq!(resp.status, status, "{method} {path}: {}", resp.text());
        let err = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            err.contains(says),
            "{method} {path}: {err:?} does not say {says:?}"
        );
    }
    // Every route needs the bearer token.
    for (method, path) in [
        ("GET", "/admin/records"),
        ("GET", "/admin/runs"),
        ("GET", "/admin/runs/x"),
        ("GET", "/admin/export.csv"),
        ("POST", "/admin/import"),
        ("POST", "/admin/pause"),
        ("POST", "/admin/resume"),
        ("POST", "/admin/resend"),
        ("GET", "/admin/mapping"),
        ("PUT", "/admin/mapping"),
        ("POST", "/admin/mapping/validate"),
        ("GET", "/admin/mapping/history"),
        ("GET", "/admin/stats"),
    ] {
        let resp = app.request(TestRequest {
            method: method.into(),
            path_and_query: path.into(),
            headers: vec![("authorization".into(), "Bearer wrong".into())],
            body: vec![],
        });
        assert_eq!(resp.status, 401, "{method} {path}");
    }
    assert!(app.kv_dump().is_empty(), "a refused call wrote something");
}

#[test]
fn resend_heals_records_after_a_mapping_fix_and_reports_unknown_ones() {
    let app = TestApp::start();
    ack(
        &app,
        "/sf/created",
        &[nameless(1), nameless(2), contact(3, "ok@example.com")],
    );
    assert_eq!(app.admin_get("/admin/stats").json()["error"], 2);
    // Fix the mapping: name is no longer required.
    let fixed = sfsync_tests::app::bundled_contact_mapping().replace(", required = true", "");
    assert_eq!(
        app.admin("PUT", "/admin/mapping", "application/toml", fixed)
            .status,
        200
    );

    let resp = json_post(
        &app,
        "/admin/resend",
        json!({"filter": {"status": "error"}, "limit": 1}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let first = resp.json();
    assert_eq!(first["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["results"][0]["outcome"], "synced");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second batch")
        .to_string();
    let second = json_post(
        &app,
        "/admin/resend",
        json!({"filter": {"status": "error"}, "limit": 1, "cursor": cursor}),
    )
    .json();
    assert_eq!(second["results"][0]["outcome"], "synced", "{second}");
    assert_eq!(app.admin_get("/admin/stats").json()["error"], 0);
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(
        (v["status"].as_str(), v["last_trigger"].as_str()),
        (Some("synced"), Some("resend"))
    );

    // By list, with an unknown record: reported, not invented.
    let unknown = "Contact/003999999999999AAA";
    let resp = json_post(
        &app,
        "/admin/resend",
        json!({"records": [format!("Contact/{}", contact_id(3)), unknown]}),
    )
    .json();
    assert_eq!(resp["results"][0]["outcome"], "synced");
    assert_eq!(resp["results"][1]["outcome"], "unknown");
    assert_eq!(
        app.admin_get(&format!("/admin/records/{unknown}")).status,
        404
    );
    // A resend pushes even when nothing changed.
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(3)))
        .json();
    assert_eq!(v["destination_calls"], 2);
}

#[test]
fn runs_are_recorded_filtered_and_their_failures_resent() {
    let app = TestApp::start();
    ack(
        &app,
        "/sf/created",
        &[contact(1, "a@example.com"), nameless(2)],
    );
    ack(&app, "/sf/updated", &[contact(3, "c@example.com")]);
    let runs = app.admin_get("/admin/runs").json();
    let runs = runs["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["process"], "updated", "newest first");
    assert_eq!(runs[1]["process"], "created");
    assert_eq!(runs[1]["counts"]["synced"], 1);
    assert_eq!(runs[1]["counts"]["error"], 1);
    assert_eq!(
        runs[1]["failed"][0]["record"],
        format!("Contact/{}", contact_id(2)).as_str()
    );
    assert!(runs[1]["failed"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("required"));

    let failed = app.admin_get("/admin/runs?status=failed").json();
    assert_eq!(failed["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.admin_get("/admin/runs?status=ok&process=updated")
            .json()["runs"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.admin_get("/admin/runs?process=resend").json()["runs"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.admin_get("/admin/runs?since=2100-01-01").json()["runs"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let id = failed["runs"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        app.admin_get(&format!("/admin/runs/{id}")).json()["id"],
        id.as_str()
    );

    // The failed items of a run go straight back to resend.
    let items: Vec<Value> = failed["runs"][0]["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| f["record"].clone())
        .collect();
    let resent = json_post(&app, "/admin/resend", json!({ "records": items })).json();
    assert_eq!(
        resent["results"][0]["outcome"], "error",
        "still failing: the mapping was not fixed"
    );
    let resend_runs = app.admin_get("/admin/runs?process=resend").json();
    assert_eq!(resend_runs["runs"][0]["id"], resent["run_id"]);
    assert_eq!(resend_runs["runs"][0]["counts"]["error"], 1);
}

/// The history keeps the newest `run_retention_count` runs, lists them newest first
/// with a cursor, and a redelivery that only repeats adds none.
#[test]
fn the_run_history_is_bounded_and_newest_first() {
    let mut variables = sfsync_tests::app::default_variables();
    variables.insert("run_retention_count".into(), "100".into());
    let app = TestApp::with_variables(variables);
    for i in 0..110 {
        ack(
            &app,
            "/sf/updated",
            &[contact(i, &format!("u{i}@example.com"))],
        );
    }
    // Salesforce delivers the last message again: every notification repeats.
    ack(&app, "/sf/updated", &[contact(109, "u109@example.com")]);
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .admin_get(&format!("/admin/runs?limit=30{cursor}"))
            .json();
        for r in page["runs"].as_array().expect("runs") {
            ids.push(r["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        ids.len(),
        100,
        "the newest run_retention_count runs: {ids:?}"
    );
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| {
        std::cmp::Reverse(
            id.rsplit_once("-r")
                .map(|(_, n)| n.parse::<u64>().unwrap_or(0)),
        )
    });
    assert_eq!(ids, sorted, "newest first");
    assert!(
        ids[0].ends_with("-r110"),
        "no run for the repeat: {}",
        ids[0]
    );
    let slots = app
        .kv_dump()
        .into_iter()
        .filter(|(k, _)| k.starts_with("runs/slot/"))
        .count();
    assert_eq!(slots, 100, "older runs were overwritten, not kept");
    let oldest = app.admin_get("/admin/runs?limit=2&order=asc").json();
    assert_eq!(
        oldest["runs"][0]["id"],
        ids[99].as_str(),
        "order=asc: the oldest kept"
    );
    assert_eq!(oldest["runs"][1]["id"], ids[98].as_str());
    let next = oldest["next_cursor"].as_str().expect("more");
    let again = app.admin_get(&format!("/admin/runs?limit=1&order=asc&cursor={next}"));
    assert_eq!(again.json()["runs"][0]["id"], ids[97].as_str());
    let crossed = app.admin_get(&format!("/admin/runs?cursor={next}"));
    assert_eq!(crossed.status, 400, "{}", crossed.text());
}

/// An export larger than one page streams page after page: the header
/// once, every record once, a filter applied across pages, and a bad filter
/// still answered as JSON before anything is sent.
#[test]
fn a_large_export_streams_every_record_once() {
    let app = TestApp::start();
    for m in 0..11 {
        let records: Vec<Record> = (0..100)
            .map(|i| {
                let n = m * 100 + i;
                contact(n, &format!("e{n}@example.com"))
            })
            .collect();
        ack(&app, "/sf/created", &records);
    }
    ack(&app, "/sf/created", &[nameless(5_000)]);
    let resp = app.admin_get("/admin/export.csv");
    assert_eq!(resp.status, 200);
    let mut reader = csv::Reader::from_reader(resp.body.as_slice());
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[1].to_string())
        .collect();
    assert_eq!(ids.len(), 1_101, "every record, the header once");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 1_101, "no record twice");
    let errors = app.admin_get("/admin/export.csv?status=error");
    let rows = errors.body.iter().filter(|b| **b == b'\n').count();
    assert_eq!(rows, 2, "the header and the one failed record");
    let bad = app.admin_get("/admin/export.csv?status=sideways");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("\"error\""), "{}", bad.text());
}

#[test]
fn export_is_rfc4180_csv_of_the_record_view() {
    let app = TestApp::start();
    ack(
        &app,
        "/sf/created",
        &[contact(1, "a@example.com"), nameless(2)],
    );
    let resp = app.admin_get("/admin/export.csv");
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(resp.body.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(headers.join(","), "object,salesforce_id,destination_kind,destination_id,organization_ids,status,ever_synced,first_synced_at,last_synced_at,last_attempt_at,attempts,last_trigger,last_error_kind,last_error_http_status,last_error_message");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][1], contact_id(1).as_str());
    assert_eq!(&rows[0][5], "synced");
    assert_eq!(&rows[0][2], "dry-run");
    assert_eq!(&rows[1][5], "error");
    assert_eq!(&rows[1][12], "permanent");
    assert!(
        rows[1][14].contains("FirstName, LastName"),
        "a message with commas survives quoting: {:?}",
        &rows[1][14]
    );
    for row in &rows {
        let view = app
            .admin_get(&format!("/admin/records/{}/{}", &row[0], &row[1]))
            .json();
        for (column, cell) in headers.iter().zip(row.iter()) {
            let expected = match column.as_str() {
                "destination_kind" => view["destination"]["kind"].clone(),
                "destination_id" => view["destination"]["id"].clone(),
                "organization_ids" => serde_json::json!(view["destination"]["organization_ids"]
                    .as_array()
                    .map(|ids| ids
                        .iter()
                        .filter_map(|i| i.as_str())
                        .collect::<Vec<_>>()
                        .join(";"))
                    .unwrap_or_default()),
                "last_error_kind" => view["last_error"]["kind"].clone(),
                "last_error_http_status" => view["last_error"]["http_status"].clone(),
                "last_error_message" => view["last_error"]["message"].clone(),
                other => view[other].clone(),
            };
            let expected = match expected {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
            assert_eq!(
                cell, expected,
                "column {column} of {} disagrees with the record view",
                &row[1]
            );
        }
    }
    let errors = app.admin_get("/admin/export.csv?status=error");
    assert_eq!(
        csv::Reader::from_reader(errors.body.as_slice())
            .records()
            .count(),
        1
    );
}

fn zendesk_app(fake: &FakeZendesk) -> TestApp {
    TestApp::with_zendesk(&fake.url(), false)
}

#[test]
fn imported_references_link_the_first_sync_and_bad_rows_are_reported() {
    let fake = FakeZendesk::start(false);
    let linked = fake.seed_user("Legacy Name", "legacy@old-domain.example", None);
    let app = zendesk_app(&fake);
    let csv = format!(
        "\u{feff}salesforce_contact_id,zendesk_user_id\r\n{},{linked}\r\n,12\r\n003BAD,5\r\n{},-4\r\n{},\r\n",
        contact_id(1),
        contact_id(2),
        contact_id(3),
    );
    let resp = app.admin("POST", "/admin/import", "text/csv", csv);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let result = resp.json();
    assert_eq!(result["imported"], 1);
    let rejected = result["rejected"].as_array().expect("rejected");
    let lines: Vec<u64> = rejected.iter().filter_map(|r| r["line"].as_u64()).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{rejected:?}");
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("no Salesforce id"));
    assert!(rejected[1]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("not a Salesforce id"));
    assert!(rejected[2]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("positive integer"));
    assert!(rejected[3]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("no destination id"));

    // The first sync updates the linked user, although the email differs.
    let mut r = contact(1, "ana@new-domain.example");
    r.fields.retain(|(k, _)| *k != "AccountId");
    ack(&app, "/sf/created", &[r]);
    assert_eq!(fake.count("PUT", &format!("/api/v2/users/{linked}")), 1);
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update"), 0);
    let users = fake.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["name"], "Ana1 Lima");
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(v["destination"]["id"], linked.to_string());
}

#[test]
fn nothing_that_arrives_while_paused_is_lost() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let paused = json_post(&app, "/admin/pause", json!({}));
    assert_eq!(paused.status, 200);
    assert_eq!(app.admin_get("/admin/stats").json()["paused"], true);
    let lone = |n: usize| {
        let mut r = contact(n, &format!("p{n}@example.com"));
        r.fields.retain(|(k, _)| *k != "AccountId");
        r
    };
    ack(&app, "/sf/created", &[lone(1), lone(2)]);
    ack(&app, "/sf/updated", &[lone(3)]);
    assert!(fake.log().is_empty(), "something was pushed while paused");
    assert_eq!(app.admin_get("/admin/stats").json()["pending"], 3);
    let refused = json_post(
        &app,
        "/admin/resend",
        json!({"filter": {"status": "pending"}}),
    );
    assert_eq!(refused.status, 409, "resend while paused");

    assert_eq!(json_post(&app, "/admin/resume", json!({})).status, 200);
    let resp = json_post(
        &app,
        "/admin/resend",
        json!({"filter": {"status": "pending"}}),
    )
    .json();
    assert_eq!(resp["results"].as_array().map(Vec::len), Some(3), "{resp}");
    assert!(
        resp["results"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["outcome"] == "synced"),
        "{resp}"
    );
    assert_eq!(fake.users().len(), 3);
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(
        (
            stats["pending"].as_u64(),
            stats["synced"].as_u64(),
            stats["paused"].as_bool()
        ),
        (Some(0), Some(3), Some(false))
    );
}

/// Stats and lists read the record index. Records stored by a version
/// without it are neither counted nor listed until `reindex` enters them;
/// a rebuild gives exact counts, and a second one (walking the first one's
/// index instead of listing keys) gives the same.
#[test]
fn the_record_index_counts_lists_and_is_rebuilt() {
    let app = TestApp::start();
    let records: Vec<Record> = (0..20)
        .map(|n| contact(n, &format!("ix{n}@example.com")))
        .collect();
    ack(&app, "/sf/created", &records);
    ack(&app, "/sf/created", &[nameless(300), nameless(301)]);

    // Five records as an earlier version stored them: no index entry.
    let (_, sample) = app
        .kv_dump()
        .into_iter()
        .find(|(k, _)| k.starts_with("rec/Contact/"))
        .expect("a stored record");
    let mut legacy = Vec::new();
    for n in 900..905 {
        let mut v: Value = serde_json::from_slice(&sample).expect("record json");
        let id = contact_id(n);
        v["salesforce_id"] = json!(id);
        v["status"] = json!(if n % 2 == 0 { "error" } else { "synced" });
        v.as_object_mut().map(|o| o.remove("index"));
        legacy.push((format!("rec/Contact/{id}"), v.to_string().into_bytes()));
    }
    app.kv_seed(&legacy);
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], 22, "{stats}");
    assert_eq!(stats["by_object"]["Contact"]["error"], 2, "{stats}");
    assert_eq!(all_pages(&app, "", 7).len(), 22);

    let rebuild = |from: &str| -> (u64, u64) {
        let mut indexed = 0;
        let mut path = format!("/admin/reindex{from}");
        loop {
            let resp = json_post(&app, &path, json!({}));
            assert_eq!(resp.status, 200, "{}", resp.text());
            let reply = resp.json();
            indexed += reply["indexed"].as_u64().expect("indexed");
            match reply["next_cursor"].as_str() {
                Some(c) => path = format!("/admin/reindex?cursor={c}"),
                None => return (indexed, reply["generation"].as_u64().expect("generation")),
            }
        }
    };
    assert_eq!(stats["index"]["number"], 0, "{stats}");
    assert_eq!(rebuild(""), (27, 1), "the first rebuild lists the keys");
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], 27, "{stats}");
    assert_eq!(stats["index"]["number"], 1, "{stats}");
    assert!(stats["index"]["since"].is_string(), "{stats}");
    assert_eq!(stats["error"], 2 + 3, "{stats}");
    let listed = all_pages(&app, "", 4);
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), 27);
    assert_eq!(all_pages(&app, "&status=error", 2).len(), 5);

    // Syncs after the rebuild count in the new generation.
    ack(&app, "/sf/created", &[contact(400, "after@example.com")]);
    ack(
        &app,
        "/sf/updated",
        &[{
            let mut r = contact(0, "ix0-new@example.com");
            r.notification_id = "04l0000000000UP000".into();
            r
        }],
    );
    assert_eq!(app.admin_get("/admin/stats").json()["total"], 28);

    assert_eq!(
        rebuild(""),
        (28, 2),
        "the second rebuild walks the first one's index"
    );
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], 28, "{stats}");
    assert_eq!(stats["error"], 5, "{stats}");
    assert_eq!(all_pages(&app, "&status=synced", 3).len(), 26);

    // A cursor walks one status's list: another filter's is refused.
    let errors = app.admin_get("/admin/records?status=error&limit=2").json();
    let cursor = errors["next_cursor"].as_str().expect("more errors");
    let crossed = app.admin_get(&format!("/admin/records?status=synced&cursor={cursor}"));
    assert_eq!(crossed.status, 400, "{}", crossed.text());
    assert!(
        crossed.text().contains("another status or object filter"),
        "{}",
        crossed.text()
    );

    let bad = json_post(&app, "/admin/reindex?cursor=bm9wZQ", json!({}));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("malformed cursor"), "{}", bad.text());
    let wrong = json_post(&app, "/admin/reindex?from=elsewhere", json!({}));
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert_eq!(app.admin_get("/admin/reindex").status, 405);
}

/// A record view says where the record opens: Salesforce (the instance of
/// the messages' EnterpriseUrl) and the Zendesk agent page of its user or
/// organization; and which runs wrote it, newest last.
#[test]
fn a_record_view_links_to_salesforce_and_zendesk_and_names_its_runs() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let account = Record {
        object: "Account",
        notification_id: "04l0000000000AC001".into(),
        fields: vec![
            ("Id", Some("001000000000001AAA".into())),
            ("Name", Some("Acme".into())),
        ],
    };
    ack(&app, "/sf/created", &[account]);
    ack(&app, "/sf/created", &[contact(1, "ana@example.com")]);
    let resent = app.resend(json!({"records": [format!("Contact/{}", contact_id(1))]}));

    let user = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    let user_id = user["destination"]["id"].as_str().expect("a Zendesk user");
    assert_eq!(
        user["open"]["destination"],
        format!("{}/agent/users/{user_id}", fake.url().trim_end_matches('/'))
    );
    assert_eq!(
        user["open"]["salesforce"],
        format!("https://example.my.salesforce.com/{}", contact_id(1))
    );
    let runs: Vec<&str> = user["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0].contains("-created-"), "{runs:?}");
    assert_eq!(
        runs[1], resent.run_id,
        "the resend that wrote it, newest last"
    );
    for id in &runs {
        assert_eq!(
            app.admin_get(&format!("/admin/runs/{id}")).status,
            200,
            "{id} is kept"
        );
    }

    let org = app
        .admin_get("/admin/records/Account/001000000000001AAA")
        .json();
    let org_id = org["destination"]["id"].as_str().expect("an organization");
    assert!(
        org["open"]["destination"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/agent/organizations/{org_id}")),
        "{org}"
    );
}
