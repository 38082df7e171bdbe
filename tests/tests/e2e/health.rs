//! `GET /admin/health`: what blocks sync and how to fix it, through the real
//! admin component (its destination call included), never a secret's value.

use serde_json::Value;
use sfsync_tests::app::{default_variables, TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::fake_zendesk::{FakeZendesk, API_TOKEN};
use sfsync_tests::soap::{contact, message};

fn health(app: &TestApp) -> (u16, Value) {
    let resp = app.admin_get("/admin/health");
    (resp.status, resp.json())
}

fn problems(h: &Value) -> String {
    h["problems"].to_string()
}

#[test]
fn a_dry_run_deployment_is_healthy_and_says_what_is_set() {
    let app = TestApp::start();
    let (status, h) = health(&app);
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["healthy"], true);
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["variables"]["sf_endpoint_token"], "set");
    assert_eq!(h["variables"]["admin_token"], "set");
    assert_eq!(h["variables"]["zendesk_api_token"], "unset");
    assert_eq!(
        h["variables"]["zendesk_url"], "unset",
        "the inert default is not a value"
    );
    assert_eq!(h["destination"]["kind"], "dry-run");
    assert_eq!(h["destination"]["reachable"], Value::Null);
    assert_eq!(h["mapping"]["source"], "bundled");
    assert_eq!(h["mapping"]["valid"], true);
    assert_eq!(h["kv"]["ok"], true);
    assert_eq!(h["paused"], false);
    assert!(
        !app.kv_dump().iter().any(|(k, _)| k == "health/probe"),
        "the probe key is removed"
    );

    app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    app.admin("POST", "/admin/pause", "application/json", "{}");
    let (status, h) = health(&app);
    assert_eq!(status, 200, "a pause is a choice, not a fault: {h}");
    assert_eq!(h["paused"], true);
    assert!(h["warnings"].to_string().contains("paused"), "{h}");
    assert_eq!(h["index"]["records"], 1);
    assert_eq!(h["history"]["runs"], 1);
    let text = app.admin_get("/admin/health").text();
    for secret in [ENDPOINT_TOKEN, ADMIN_TOKEN] {
        assert!(!text.contains(secret), "health shows a secret: {text}");
    }
}

#[test]
fn zendesk_is_called_once_with_the_credentials_and_a_refusal_blocks() {
    let fake = FakeZendesk::start(false);
    let app = TestApp::with_zendesk(&fake.url(), false);
    fake.clear_log();
    let (status, h) = health(&app);
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["destination"]["kind"], "zendesk");
    assert_eq!(h["destination"]["reachable"], true);
    let calls: Vec<String> = fake
        .log()
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert_eq!(
        calls,
        ["GET /api/v2/users/me"],
        "one call that changes nothing"
    );
    assert!(!app.admin_get("/admin/health").text().contains(API_TOKEN));

    let mut vars = sfsync_tests::app::zendesk_variables(&fake.url(), false);
    vars.insert("zendesk_api_token".into(), "not-the-token".into());
    let wrong = TestApp::with_variables(vars);
    let (status, h) = health(&wrong);
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["healthy"], false);
    assert_eq!(h["destination"]["reachable"], false);
    assert!(h["destination"]["error"].to_string().contains("401"), "{h}");
    assert!(
        problems(&h).contains("zendesk_api_token"),
        "the fix names the variable: {h}"
    );
}

#[test]
fn missing_salesforce_variables_and_warnings_are_reported() {
    let mut vars = default_variables();
    vars.remove("sf_endpoint_token");
    vars.insert("zendesk_email".into(), "agent@example.com".into());
    let app = TestApp::with_variables(vars);
    let (status, h) = health(&app);
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["variables"]["sf_endpoint_token"], "unset");
    assert!(problems(&h).contains("sf_endpoint_token is not set"), "{h}");
    assert!(h["warnings"].to_string().contains("dry-run"), "{h}");
}

/// A mapping stored by an sfsync before 0.2 (TOML only): health says what
/// to do, messages are refused with the same words (Salesforce retries),
/// and putting the mapping again heals both.
#[test]
fn a_mapping_from_an_older_version_is_reported_until_put_again() {
    let app = TestApp::start();
    let toml = "[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = \"Email\"\nname = { template = \"{FirstName} {LastName}\" }\n";
    let legacy = serde_json::json!({"toml": toml, "updated_at": "2026-11-01T00:00:00Z", "updated_by": "admin"});
    app.kv_seed(&[("mapping/current".into(), legacy.to_string().into_bytes())]);
    let (status, h) = health(&app);
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["mapping"]["source"], "uploaded");
    assert!(problems(&h).contains("sfsync mapping put"), "{h}");
    let refused = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    assert_eq!(refused.status, 500);
    assert!(
        refused.text().contains("sfsync mapping put"),
        "{}",
        refused.text()
    );

    let put = app.admin("PUT", "/admin/mapping", "application/toml", toml);
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(health(&app).0, 200);
    let taken = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "a@example.com")]),
    );
    assert!(taken.text().contains("<Ack>true</Ack>"), "{}", taken.text());
}

/// With the connected app configured, health asks Salesforce for a token
/// (pull and reconcile need one); one refused is a warning with Salesforce's
/// words, not a reason to take the deployment out of rotation.
#[test]
fn the_connected_app_is_checked_with_a_token_and_a_refusal_warns() {
    use sfsync_tests::fake_salesforce::{FakeSalesforce, CLIENT_ID, CLIENT_SECRET};
    let sf = FakeSalesforce::start();
    let with_secret = |secret: &str| {
        let mut vars = default_variables();
        vars.insert("sf_my_domain_url".into(), sf.url());
        vars.insert("sf_client_id".into(), CLIENT_ID.into());
        vars.insert("sf_client_secret".into(), secret.into());
        TestApp::with_variables(vars)
    };
    let app = TestApp::start();
    let (_, h) = health(&app);
    assert_eq!(h["salesforce"]["configured"], false, "{h}");
    assert_eq!(h["salesforce"]["reachable"], Value::Null);

    let app = with_secret(CLIENT_SECRET);
    let (status, h) = health(&app);
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["salesforce"]["reachable"], true, "{h}");
    assert_eq!(sf.token_calls(), 1);
    health(&app);
    assert_eq!(sf.token_calls(), 1, "the kept token is used again");
    assert_eq!(sf.api_used(), 0, "no API request of the org's is spent");

    let app = with_secret("a-wrong-secret-value");
    let (status, h) = health(&app);
    assert_eq!(status, 200, "the messages still sync: {h}");
    assert_eq!(h["salesforce"]["reachable"], false, "{h}");
    let warnings = h["warnings"].to_string();
    assert!(
        warnings.contains("refused a token") && warnings.contains("sf_client_secret"),
        "{warnings}"
    );
    assert!(!app
        .admin_get("/admin/health")
        .text()
        .contains("a-wrong-secret-value"));
}
