//! End to end through the built components: an Outbound Message goes in, a
//! sync record comes out of the key-value store through the admin API.
//! Runs on the test host, or on a real Spin when `SPIN_BIN` is set.

use sfsync_tests::app::{default_variables, TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::host::TestRequest;
use sfsync_tests::soap::{contact, contact_id, message};

fn three_contacts() -> String {
    message(
        ORG_ID,
        &[
            contact(1, "ana1@example.com"),
            contact(2, "Ana2@Example.com"),
            contact(3, "ana3@example.com"),
        ],
    )
}

#[test]
fn created_message_is_acknowledged_and_its_records_survive_a_restart() {
    let mut app = TestApp::start();
    let resp = app.send_message("/sf/created", &three_contacts());
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert!(resp
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/xml"));

    let check = |app: &TestApp| {
        for n in 1..=3 {
            let id = contact_id(n);
            let resp = app.admin_get(&format!("/admin/records/Contact/{id}"));
            assert_eq!(resp.status, 200, "{}", resp.text());
            let view = resp.json();
            assert_eq!(view["object"], "Contact");
            assert_eq!(view["salesforce_id"], id.as_str());
            assert_eq!(view["status"], "synced");
            assert_eq!(view["ever_synced"], true);
            assert_eq!(view["attempts"], 1);
            assert_eq!(view["last_trigger"], "created");
            assert_eq!(view["last_error"], serde_json::Value::Null);
            assert_eq!(view["links"]["AccountId"], "001000000000001AAA");
            assert_eq!(view["destination"]["kind"], "dry-run");
            assert_eq!(view["destination"]["id"], format!("Contact/{id}").as_str());
            assert_eq!(
                view["last_payload"]["fields"]["email"],
                format!("ana{n}@example.com").as_str()
            );
            assert_eq!(
                view["last_payload"]["fields"]["name"],
                format!("Ana{n} Lima").as_str()
            );
            assert!(view["last_synced_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')));
        }
        let stats = app.admin_get("/admin/stats").json();
        assert_eq!(stats["total"], 3);
        assert_eq!(stats["synced"], 3);
        assert_eq!(stats["error"], 0);
        assert_eq!(stats["by_object"]["Contact"]["synced"], 3);
        assert_eq!(stats["paused"], false);
    };
    check(&app);
    app.restart();
    check(&app);

    let stored = format!("{:?}", app.kv_dump());
    assert!(
        !stored.contains("E2ESESSIONSECRET"),
        "the SessionId was stored"
    );
}

#[test]
fn refused_messages_get_a_fault_and_leave_the_store_unchanged() {
    let app = TestApp::start();
    // One record already there, so "unchanged" is about a non-empty store.
    assert_eq!(
        app.send_message(
            "/sf/created",
            &message(ORG_ID, &[contact(9, "x@example.com")])
        )
        .status,
        200
    );
    let before = app.kv_dump();
    assert!(!before.is_empty());

    let good = three_contacts();
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        good.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
    );
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "wrong token",
            "/sf/created?token=wrong".into(),
            good.clone(),
            "does not match",
        ),
        ("no token", "/sf/created".into(), good.clone(), "no ?token="),
        (
            "wrong org id",
            format!("/sf/created?token={ENDPOINT_TOKEN}"),
            message("00D000000000099EAA", &[contact(1, "a@example.com")]),
            "00D000000000099EAA",
        ),
        (
            "DOCTYPE body",
            format!("/sf/created?token={ENDPOINT_TOKEN}"),
            doctype,
            "DOCTYPE",
        ),
        (
            "non-XML body",
            format!("/sf/created?token={ENDPOINT_TOKEN}"),
            "{\"not\":\"xml\"}".into(),
            "XML",
        ),
        (
            "wrong token on updated",
            "/sf/updated?token=wrong".into(),
            good.clone(),
            "does not match",
        ),
    ];
    for (name, path, body, says) in cases {
        let resp = app.post(&path, "text/xml; charset=utf-8", body);
        assert_eq!(resp.status, 500, "{name}: {}", resp.text());
        let text = resp.text();
        assert!(
            text.contains("<soapenv:Fault>") && text.contains("<faultstring>"),
            "{name}: {text}"
        );
        assert!(
            text.contains(says),
            "{name}: fault does not say {says:?}: {text}"
        );
        assert_eq!(app.kv_dump(), before, "{name}: the store changed");
    }
}

#[test]
fn an_unset_endpoint_token_refuses_everything() {
    let mut vars = default_variables();
    vars.insert("sf_endpoint_token".into(), String::new());
    let app = TestApp::with_variables(vars);
    for token in ["", "anything"] {
        let resp = app.post(
            &format!("/sf/created?token={token}"),
            "text/xml",
            three_contacts(),
        );
        assert_eq!(resp.status, 500);
        assert!(resp.text().contains("sf_endpoint_token"), "{}", resp.text());
    }
    assert!(app.kv_dump().is_empty(), "something was written");
}

#[test]
fn the_admin_api_needs_the_bearer_token() {
    let app = TestApp::start();
    for (token, why) in [
        (None, "missing"),
        (Some("wrong"), "wrong"),
        (Some(""), "empty"),
    ] {
        for path in [
            "/admin/stats",
            "/admin/records/Contact/003000000000001AAA",
            "/admin/records",
        ] {
            let resp = app.admin_get_with(path, token);
            assert_eq!(resp.status, 401, "{why} token on {path}: {}", resp.text());
            let err = resp.json();
            assert!(
                err["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("admin_token") || e.contains("Bearer")),
                "{err}"
            );
        }
    }
    let resend = app.request(TestRequest {
        method: "POST".into(),
        path_and_query: "/admin/resend".into(),
        headers: vec![],
        body: b"{}".to_vec(),
    });
    assert_eq!(resend.status, 401, "resend without a token");
    assert_eq!(app.admin_get("/admin/stats").status, 200);
    let missing = app.admin_get("/admin/records/Contact/003000000000404AAA");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("003000000000404AAA")));
}

#[test]
fn an_unset_admin_token_refuses_the_admin_api() {
    let mut vars = default_variables();
    vars.insert("admin_token".into(), String::new());
    let app = TestApp::with_variables(vars);
    for token in [None, Some(""), Some(ADMIN_TOKEN)] {
        let resp = app.admin_get_with("/admin/stats", token);
        assert_eq!(resp.status, 401);
        assert!(resp.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("admin_token is set")));
    }
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = TestApp::start();
    let missing = app.admin_get("/admin/nothing-here");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("/admin/nothing-here")));
    assert_eq!(
        app.admin_get("/nowhere").status,
        404,
        "no route: Spin's empty 404"
    );
    let wrong = app.admin("DELETE", "/admin/stats", "", "");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET"));
    let page = app.admin_get("/admin");
    assert!(
        page.text().contains("<title>sfsync</title>"),
        "the dashboard at /admin"
    );
}

#[test]
fn an_update_that_changes_no_mapped_field_is_skipped() {
    let app = TestApp::start();
    assert_eq!(
        app.send_message(
            "/sf/created",
            &message(ORG_ID, &[contact(1, "a@example.com")])
        )
        .status,
        200
    );
    let mut again = contact(1, "a@example.com");
    again.notification_id = "04l000000000000999".into();
    again.fields.push(("Zz_Note__c", Some("unmapped".into())));
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[again]));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let view = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(view["status"], "skipped");
    assert_eq!(view["skip_reason"], "no mapped field changed");
    assert_eq!(view["ever_synced"], true);
    assert_eq!(view["last_trigger"], "updated");
}

#[test]
fn the_app_serves_http_on_loopback() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let resp = sfsync_tests::app::http_request(
        &base,
        TestRequest {
            method: "POST".into(),
            path_and_query: format!("/sf/created?token={ENDPOINT_TOKEN}"),
            headers: vec![("content-type".into(), "text/xml".into())],
            body: three_contacts().into_bytes(),
        },
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let stats = sfsync_tests::app::http_request(
        &base,
        TestRequest {
            method: "GET".into(),
            path_and_query: "/admin/stats/".into(),
            headers: vec![("authorization".into(), format!("Bearer {ADMIN_TOKEN}"))],
            body: vec![],
        },
    );
    assert_eq!(stats.status, 200, "{}", stats.text());
    assert_eq!(stats.json()["total"], 3);
}

#[test]
fn the_readme_sample_message_syncs() {
    let app = TestApp::start();
    let xml =
        std::fs::read_to_string(sfsync_tests::app::root().join("examples/contact-created.xml"))
            .expect("examples/contact-created.xml");
    let resp = app.send_message("/sf/created", &xml);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let view = app
        .admin_get("/admin/records/Contact/003000000000001AAA")
        .json();
    assert_eq!(view["status"], "synced");
    assert_eq!(
        view["last_payload"]["fields"]["email"],
        "ana.lima@example.com"
    );
    assert_eq!(
        view["last_payload"]["fields"]["phone"],
        serde_json::Value::Null
    );
}

/// interfaces.md, "One bad notification never blocks the others", through
/// the built components: a deleted record and a malformed notification in a
/// message of good ones; the message is acknowledged, the good ones synced,
/// the two visible where an admin looks.
#[test]
fn a_deleted_record_and_a_malformed_notification_do_not_block_the_message() {
    use sfsync_tests::soap::{contact, contact_id, message, Record};
    use sync_core::admin::wire::{RecordView, RunsPage};
    use sync_core::record::Status;

    let app = TestApp::start();
    let deleted = Record {
        object: "Contact",
        notification_id: "04l000000000000901".into(),
        fields: vec![("Id", Some(contact_id(901)))],
    };
    let malformed = Record {
        object: "Contact",
        notification_id: "04l000000000000902".into(),
        fields: vec![("Email", Some("nobody@example.com".into()))],
    };
    let body = message(
        ORG_ID,
        &[
            contact(1, "a1@example.com"),
            deleted,
            contact(2, "a2@example.com"),
            malformed,
            contact(3, "a3@example.com"),
        ],
    );
    let resp = app.send_message("/sf/created", &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    for n in [1, 2, 3] {
        let v: RecordView = app
            .admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
            .typed();
        assert_eq!(v.status, Status::Synced, "{v:?}");
    }
    let gone: RecordView = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(901)))
        .typed();
    assert_eq!(gone.status, Status::Skipped);
    assert_eq!(
        gone.skip_reason.as_deref(),
        Some("record deleted in Salesforce before delivery")
    );
    let runs: RunsPage = app.admin_get("/admin/runs").typed();
    let run = &runs.runs[0];
    assert_eq!(
        (run.counts.synced, run.counts.skipped, run.counts.error),
        (3, 1, 1)
    );
    assert_eq!(run.failed[0].record, "notification 04l000000000000902");
    // The same message again is all repeats, still acknowledged.
    let again = app.send_message("/sf/created", &body);
    assert!(again.text().contains("<Ack>true</Ack>"), "{}", again.text());
}
