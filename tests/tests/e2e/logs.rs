//! The log lines an operator reads (`<state dir>/logs/<component>_stdout.txt`
//! under Spin): one JSON line per message, resend, backfill and admin change,
//! naming the run and the first failure, never a secret.

use serde_json::{json, Value};
use sfsync_tests::app::{TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::fake_zendesk::{FakeZendesk, API_TOKEN};
use sfsync_tests::soap::{contact, contact_id, message};

fn lines_for(app: &TestApp, component: &str, request: &str) -> Vec<Value> {
    app.log_lines(component)
        .into_iter()
        .filter(|l| l["request"] == request)
        .collect()
}

/// A message with a failing record logs one line that names the run and the
/// record, and the record the line names is the one the admin API shows
/// failing: the way from a log line to a failing record.
#[test]
fn a_message_logs_its_run_and_first_failure() {
    let app = TestApp::start();
    let mut nameless = contact(2, "nameless@example.com");
    nameless
        .fields
        .retain(|(k, _)| !matches!(*k, "FirstName" | "LastName"));
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "ana@example.com"), nameless]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());

    let lines = lines_for(&app, "record-created", "POST /sf/created");
    assert_eq!(lines.len(), 1, "one line per message: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["status"], 200);
    assert_eq!(line["level"], "warn", "a record failed: {line}");
    assert_eq!(line["run"]["process"], "created");
    assert_eq!(line["run"]["counts"]["synced"], 1);
    assert_eq!(line["run"]["counts"]["error"], 1);
    assert!(line["duration_ms"].is_u64(), "{line}");
    let failing = line["run"]["first_failure"]["record"]
        .as_str()
        .expect("the first failure's record");
    assert_eq!(failing, format!("Contact/{}", contact_id(2)));
    assert!(
        line["run"]["first_failure"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("FirstName, LastName"),
        "what is wrong with the record: {line}"
    );
    // From the line to the record and the run.
    let record = app.admin_get(&format!("/admin/records/{failing}")).json();
    assert_eq!(record["status"], "error");
    let run_id = line["run"]["id"].as_str().expect("run id");
    assert_eq!(app.admin_get(&format!("/admin/runs/{run_id}")).status, 200);
}

/// Refused messages log why, at warn or error, without the token they
/// carried.
#[test]
fn a_refused_message_logs_the_reason_it_was_given() {
    let app = TestApp::start();
    let resp = app.post(
        "/sf/updated?token=not-the-token",
        "text/xml",
        message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    assert_eq!(resp.status, 500);
    let lines = lines_for(&app, "field-updated", "POST /sf/updated");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "error");
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not match"),
        "{}",
        lines[0]
    );
    assert!(lines[0].get("run").is_none());
    let foreign = app.send_message(
        "/sf/updated",
        &message("00D000000000099AAA", &[contact(1, "a@example.com")]),
    );
    assert_eq!(foreign.status, 500);
    let lines = lines_for(&app, "field-updated", "POST /sf/updated");
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("00D000000000099AAA"));
}

/// Admin changes log a line each; successful reads do not (the dashboard
/// polls); a refused read does.
#[test]
fn admin_changes_and_failures_log_reads_do_not() {
    let app = TestApp::start();
    app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    for _ in 0..3 {
        assert_eq!(app.admin_get("/admin/stats").status, 200);
    }
    assert_eq!(
        app.admin("POST", "/admin/pause", "application/json", "{}")
            .status,
        200
    );
    assert_eq!(
        app.admin_get_with("/admin/stats", Some("wrong")).status,
        401
    );
    assert_eq!(
        app.admin("POST", "/admin/resume", "application/json", "{}")
            .status,
        200
    );
    let reply = app.resend(json!({"records": [format!("Contact/{}", contact_id(1))]}));
    assert!(!reply.run_id.is_empty());

    let admin = app.log_lines("admin");
    let requests: Vec<&str> = admin.iter().filter_map(|l| l["request"].as_str()).collect();
    assert_eq!(
        requests,
        [
            "POST /admin/pause",
            "GET /admin/stats",
            "POST /admin/resume"
        ],
        "{admin:?}"
    );
    assert_eq!(admin[0]["level"], "info");
    assert_eq!(admin[1]["status"], 401);
    assert_eq!(admin[1]["level"], "warn");

    let resend = lines_for(&app, "resend", "POST /admin/resend");
    assert_eq!(resend.len(), 1, "{resend:?}");
    assert_eq!(resend[0]["run"]["process"], "resend");
    assert_eq!(resend[0]["run"]["id"], reply.run_id.as_str());
}

/// A backfill logs its run; no log of any component holds a token or the
/// message's SessionId.
#[test]
fn backfill_logs_its_run_and_no_log_holds_a_secret() {
    let fake = FakeZendesk::start(false);
    let app = TestApp::with_zendesk(&fake.url(), false);
    app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    let csv = format!(
        "Id,FirstName,LastName,Email\n{},Bea,Silva,bea@example.com\n",
        contact_id(7)
    );
    let resp = app.admin("POST", "/admin/backfill?object=Contact", "text/csv", csv);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let lines = lines_for(&app, "admin-write", "POST /admin/backfill");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["run"]["process"], "backfill");
    assert_eq!(lines[0]["run"]["counts"]["synced"], 1);

    let logs = app.all_logs();
    assert!(!logs.is_empty());
    for secret in [ENDPOINT_TOKEN, ADMIN_TOKEN, API_TOKEN, "SESSIONSECRET"] {
        assert!(!logs.contains(secret), "a log holds {secret}:\n{logs}");
    }
}
