//! Issue 3 end to end: the mapping changed at run time through the admin
//! API, field-updated syncing exactly when a mapped field changed, repeats
//! and stale deliveries, and a bulk re-sync of 1,000 records.

use serde_json::Value;
use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::soap::{contact, contact_id, message, Record};

const TOML: &str = "application/toml";

fn view(app: &TestApp, object: &str, id: &str) -> Value {
    let resp = app.admin_get(&format!("/admin/records/{object}/{id}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn calls(app: &TestApp) -> u64 {
    app.admin_get("/admin/stats").json()["destination_calls"]
        .as_u64()
        .expect("destination_calls")
}

fn ack(app: &TestApp, route: &str, records: &[Record]) {
    let resp = app.send_message(route, &message(ORG_ID, records));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("<Ack>true</Ack>"));
}

const CUSTOM: &str = r#"
[objects.Contact]
entity = "user"
triggers = ["created", "updated"]
links = { organization = "AccountId" }
[objects.Contact.fields]
email = { from = "Email", transforms = ["trim", "lower"] }
name = { template = "{FirstName} {LastName}", required = true }
"user_fields.sync" = { from = "Sync_with_Zendesk__c", type = "boolean", default = "false" }

[objects.Event_Registration__c]
entity = "registrations"
triggers = ["created"]
[objects.Event_Registration__c.fields]
attended = { from = "Attended__c", type = "boolean" }
status = { from = "Status__c", map = { Confirmed = "yes", Cancelled = "no" }, fallback = "maybe" }
"#;

#[test]
fn the_mapping_is_read_checked_and_replaced_at_run_time() {
    let app = TestApp::start();
    let bundled = app.admin_get("/admin/mapping");
    assert_eq!(bundled.status, 200);
    assert_eq!(bundled.header("x-sfsync-mapping-source"), Some("bundled"));
    assert!(bundled.text().contains("[objects.Account]"));

    let bad = "[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = { from = \"Email\", transforms = [\"lowercase\"] }\nname = { template = \"Hello\" }\n";
    for (method, path) in [
        ("POST", "/admin/mapping/validate"),
        ("PUT", "/admin/mapping"),
    ] {
        let resp = app.admin(method, path, TOML, bad);
        assert_eq!(resp.status, 422, "{method} {path}: {}", resp.text());
        let body = resp.json();
        assert_eq!(body["error"], "mapping has 2 problems; nothing was changed");
        assert_eq!(body["problems"][0]["path"], "objects.Contact.fields.email");
        assert!(body["problems"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("(did you mean \"lower\"?)"));
        assert_eq!(body["problems"][1]["path"], "objects.Contact.fields.name");
    }
    assert_eq!(
        app.admin_get("/admin/mapping")
            .header("x-sfsync-mapping-source"),
        Some("bundled"),
        "a bad PUT changed the mapping"
    );
    assert_eq!(app.admin("PUT", "/admin/mapping", TOML, "").status, 400);
    assert_eq!(app.admin("DELETE", "/admin/mapping", TOML, "").status, 405);

    let ok = app.admin("POST", "/admin/mapping/validate", TOML, CUSTOM);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["valid"], true);
    assert_eq!(
        app.admin_get("/admin/mapping")
            .header("x-sfsync-mapping-source"),
        Some("bundled"),
        "validate activated it"
    );

    let put = app.admin("PUT", "/admin/mapping", TOML, CUSTOM);
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["previous_versions"], 0);
    let active = app.admin_get("/admin/mapping");
    assert_eq!(active.text(), CUSTOM);
    assert_eq!(active.header("x-sfsync-mapping-updated-by"), Some("e2e"));

    // A second put keeps the first in the history.
    let second = CUSTOM.replace(
        "triggers = [\"created\"]\n[objects.Event",
        "triggers = [\"created\", \"updated\"]\n[objects.Event",
    );
    assert_eq!(
        app.admin("PUT", "/admin/mapping", TOML, second.clone())
            .json()["previous_versions"],
        1
    );
    let history = app.admin_get("/admin/mapping/history").json();
    assert_eq!(history["versions"][0]["toml"], CUSTOM);
    assert_eq!(history["versions"][0]["updated_by"], "e2e");
    assert_eq!(app.admin_get("/admin/mapping").text(), second);
}

#[test]
fn objects_and_triggers_outside_the_mapping_are_skipped_with_the_reason() {
    let app = TestApp::start();
    assert_eq!(app.admin("PUT", "/admin/mapping", TOML, CUSTOM).status, 200);
    let account = Record {
        object: "Account",
        notification_id: "04l000000000000A01".into(),
        fields: vec![
            ("Id", Some("001000000000001AAA".into())),
            ("Name", Some("Acme".into())),
        ],
    };
    let registration = |n: &str, status: &str| Record {
        object: "Event_Registration__c",
        notification_id: format!("04l00000000000R{n}"),
        fields: vec![
            ("Id", Some("a01000000000001AAA".into())),
            ("Attended__c", Some("true".into())),
            ("Status__c", Some(status.into())),
        ],
    };
    ack(
        &app,
        "/sf/created",
        &[account, registration("001", "Waitlist")],
    );
    let a = view(&app, "Account", "001000000000001AAA");
    assert_eq!(a["status"], "skipped");
    assert_eq!(
        a["skip_reason"],
        "object Account is not in the active mapping"
    );
    assert_eq!(a["destination_calls"], 0);
    let r = view(&app, "Event_Registration__c", "a01000000000001AAA");
    assert_eq!(r["status"], "synced");
    assert_eq!(r["last_payload"]["entity"], "registrations");
    assert_eq!(r["last_payload"]["fields"]["attended"], true);
    assert_eq!(r["last_payload"]["fields"]["status"], "maybe");

    ack(&app, "/sf/updated", &[registration("002", "Confirmed")]);
    let r = view(&app, "Event_Registration__c", "a01000000000001AAA");
    assert_eq!(r["status"], "skipped");
    assert_eq!(
        r["skip_reason"],
        "the updated trigger is off for Event_Registration__c in the active mapping"
    );
    assert_eq!(
        r["destination_calls"], 1,
        "a trigger that is off reached the destination"
    );
    assert_eq!(r["ever_synced"], true);
}

#[test]
fn field_updated_syncs_exactly_when_a_mapped_field_changed() {
    let app = TestApp::start();
    ack(&app, "/sf/created", &[contact(1, "ana@example.com")]);
    let created = view(&app, "Contact", &contact_id(1));
    let synced_at = created["last_synced_at"].clone();

    // Only unmapped fields and the stamp change: skipped, nothing lost.
    let mut same = contact(1, "ana@example.com");
    same.notification_id = "04l00000000000U001".into();
    same.fields.retain(|(k, _)| *k != "LastModifiedDate");
    same.fields
        .push(("LastModifiedDate", Some("2026-11-20T11:00:00.000Z".into())));
    same.fields.push(("Zz_Internal__c", Some("changed".into())));
    ack(&app, "/sf/updated", &[same]);
    let v = view(&app, "Contact", &contact_id(1));
    assert_eq!(v["status"], "skipped");
    assert_eq!(v["skip_reason"], "no mapped field changed");
    assert_eq!(v["ever_synced"], true);
    assert_eq!(v["last_synced_at"], synced_at);
    assert_eq!(v["destination_calls"], 1);

    // A mapped field changes: synced.
    let mut changed = contact(1, "ana.lima@example.com");
    changed.notification_id = "04l00000000000U002".into();
    changed.fields.retain(|(k, _)| *k != "LastModifiedDate");
    changed
        .fields
        .push(("LastModifiedDate", Some("2026-11-20T12:00:00.000Z".into())));
    ack(&app, "/sf/updated", &[changed]);
    let v = view(&app, "Contact", &contact_id(1));
    assert_eq!(v["status"], "synced");
    assert_eq!(v["destination_calls"], 2);
    assert_eq!(v["last_payload"]["fields"]["email"], "ana.lima@example.com");

    // An update for a record never seen is synced as a create.
    ack(&app, "/sf/updated", &[contact(2, "new@example.com")]);
    let v = view(&app, "Contact", &contact_id(2));
    assert_eq!(
        (v["status"].as_str(), v["destination_calls"].as_u64()),
        (Some("synced"), Some(1))
    );

    // After the mapping starts reading Title, the next update syncs once.
    let wider = format!(
        "{}title = {{ from = \"Title\" }}\n",
        sfsync_tests::app::bundled_contact_mapping()
    );
    assert_eq!(app.admin("PUT", "/admin/mapping", TOML, wider).status, 200);
    for (n, expect_calls) in [(3, 3), (4, 3)] {
        let mut again = contact(1, "ana.lima@example.com");
        again.notification_id = format!("04l00000000000U00{n}");
        again.fields.retain(|(k, _)| *k != "LastModifiedDate");
        again.fields.push((
            "LastModifiedDate",
            Some(format!("2026-11-20T1{n}:00:00.000Z")),
        ));
        again.fields.push(("Title", Some("CTO".into())));
        ack(&app, "/sf/updated", &[again]);
        let v = view(&app, "Contact", &contact_id(1));
        assert_eq!(v["destination_calls"], expect_calls, "update {n}");
    }
    assert_eq!(
        view(&app, "Contact", &contact_id(1))["last_payload"]["fields"]["title"],
        "CTO"
    );
}

#[test]
fn repeats_and_out_of_order_deliveries_make_no_destination_call() {
    let app = TestApp::start();
    let mut newer = contact(1, "new@example.com");
    newer.fields.retain(|(k, _)| *k != "LastModifiedDate");
    newer
        .fields
        .push(("LastModifiedDate", Some("2026-11-20T12:00:00.000Z".into())));
    ack(&app, "/sf/updated", &[newer]);
    // The same notification again: a repeat.
    let mut repeat = contact(1, "new@example.com");
    repeat.fields.retain(|(k, _)| *k != "LastModifiedDate");
    repeat
        .fields
        .push(("LastModifiedDate", Some("2026-11-20T12:00:00.000Z".into())));
    ack(&app, "/sf/updated", &[repeat]);
    let v = view(&app, "Contact", &contact_id(1));
    assert_eq!(v["destination_calls"], 1);
    assert_eq!(v["last_ignored"]["reason"], "duplicate");
    // An older state arriving late: stale.
    let mut older = contact(1, "old@example.com");
    older.notification_id = "04l00000000000OLD1".into();
    ack(&app, "/sf/created", &[older]);
    let v = view(&app, "Contact", &contact_id(1));
    assert_eq!(v["destination_calls"], 1);
    assert_eq!(v["status"], "synced");
    assert_eq!(v["last_ignored"]["reason"], "stale");
    assert_eq!(v["last_ignored"]["notification_id"], "04l00000000000OLD1");
    assert_eq!(v["last_payload"]["fields"]["email"], "new@example.com");
}

#[test]
fn flipping_a_mapped_checkbox_on_1000_records_resyncs_each_once() {
    let app = TestApp::start();
    let mapping = format!(
        "{}\"user_fields.sync_with_zendesk\" = {{ from = \"Sync_with_Zendesk__c\", type = \"boolean\" }}\n",
        sfsync_tests::app::bundled_contact_mapping()
    );
    assert_eq!(
        app.admin("PUT", "/admin/mapping", TOML, mapping).status,
        200
    );
    let batch = |round: usize, flag: &str, stamp: &str| -> Vec<String> {
        (0..10)
            .map(|m| {
                let records: Vec<Record> = (0..100)
                    .map(|i| {
                        let n = m * 100 + i;
                        let mut r = contact(n, &format!("user{n}@example.com"));
                        r.notification_id = format!("04l{round}{n:014}");
                        r.fields.retain(|(k, _)| *k != "LastModifiedDate");
                        r.fields.push(("LastModifiedDate", Some(stamp.into())));
                        r.fields.push(("Sync_with_Zendesk__c", Some(flag.into())));
                        r
                    })
                    .collect();
                message(ORG_ID, &records)
            })
            .collect()
    };
    for xml in batch(1, "false", "2026-11-20T10:00:00.000Z") {
        assert!(app
            .send_message("/sf/created", &xml)
            .text()
            .contains("<Ack>true</Ack>"));
    }
    assert_eq!(calls(&app), 1000);
    let flipped = batch(2, "true", "2026-11-20T11:00:00.000Z");
    for xml in &flipped {
        assert!(app
            .send_message("/sf/updated", xml)
            .text()
            .contains("<Ack>true</Ack>"));
    }
    assert_eq!(
        calls(&app),
        2000,
        "flipping the checkbox must re-sync all 1,000"
    );
    for xml in &flipped {
        assert!(app
            .send_message("/sf/updated", xml)
            .text()
            .contains("<Ack>true</Ack>"));
    }
    assert_eq!(
        calls(&app),
        2000,
        "sending the same messages again must sync nothing"
    );
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(
        (stats["total"].as_u64(), stats["synced"].as_u64()),
        (Some(1000), Some(1000))
    );
    let v = view(&app, "Contact", &contact_id(999));
    assert_eq!(
        v["last_payload"]["fields"]["user_fields"]["sync_with_zendesk"],
        true
    );
}
