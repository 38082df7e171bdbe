//! The webhook destination end to end against a recording JSON API.

use sfsync_tests::app::{default_variables, TestApp, ORG_ID};
use sfsync_tests::fake_webhook::FakeWebhook;
use sfsync_tests::soap::{contact, contact_id, message};

fn app_for(hook: &FakeWebhook) -> TestApp {
    let mut vars = default_variables();
    vars.insert("destination".into(), "webhook".into());
    vars.insert("webhook_url".into(), hook.url());
    vars.insert("webhook_auth".into(), "Bearer hook-secret".into());
    TestApp::with_variables(vars)
}

#[test]
fn records_are_put_by_table_and_key_with_the_auth_header() {
    let hook = FakeWebhook::start();
    let app = app_for(&hook);
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "Ana@Example.com")]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "PUT");
    assert_eq!(got[0].path, format!("/user/{}", contact_id(1)));
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer hook-secret"));
    assert_eq!(got[0].body["object"], "Contact");
    assert_eq!(got[0].body["key"], contact_id(1).as_str());
    assert_eq!(got[0].body["fields"]["email"], "ana@example.com");
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(v["destination"]["kind"], "webhook");
    assert_eq!(
        v["destination"]["id"],
        format!("user/{}", contact_id(1)).as_str()
    );
    let stored = format!("{:?}", app.kv_dump());
    assert!(
        !stored.contains("hook-secret"),
        "the webhook secret was stored"
    );
}

#[test]
fn failures_are_classified_like_every_destination() {
    let hook = FakeWebhook::start();
    let app = app_for(&hook);
    // 204: success; 400: permanent, acknowledged; 500: transient, redelivered; 401: config.
    let cases = [
        (204, 200, "synced", None),
        (400, 200, "error", Some("permanent")),
        (500, 500, "error", Some("transient")),
        (401, 500, "error", Some("config")),
    ];
    for (n, (answer, status, record_status, kind)) in cases.into_iter().enumerate() {
        hook.reply_with(&[answer]);
        let resp = app.send_message(
            "/sf/created",
            &message(ORG_ID, &[contact(n, &format!("u{n}@example.com"))]),
        );
        assert_eq!(
            resp.status,
            status,
            "webhook answered {answer}: {}",
            resp.text()
        );
        let v = app
            .admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
            .json();
        assert_eq!(v["status"], record_status, "{answer}");
        assert_eq!(v["last_error"]["kind"].as_str(), kind, "{answer}");
        if answer == 400 {
            assert!(
                v["last_error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("status 400"),
                "{v}"
            );
        }
    }
}

#[test]
fn resend_heals_records_once_the_destination_is_fixed() {
    let hook = FakeWebhook::start();
    let app = app_for(&hook);
    hook.reply_with(&[503]);
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    assert_eq!(resp.status, 500);
    let resent = app.admin(
        "POST",
        "/admin/resend",
        "application/json",
        serde_json::json!({"filter": {"status": "error"}}).to_string(),
    );
    assert_eq!(resent.status, 200, "{}", resent.text());
    assert_eq!(resent.json()["results"][0]["outcome"], "synced");
    assert_eq!(hook.received().len(), 2);
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(
        (v["status"].as_str(), v["last_error"].is_null()),
        (Some("synced"), true)
    );
}
