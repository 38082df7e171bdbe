//! Bulk resend on Zendesk (issue 14, item 4), against the fake Zendesk's
//! job semantics: records go a hundred to a call, their outcomes are written
//! when the jobs' answers are collected, a record changed while its job
//! ran is pushed again, a job Zendesk forgot is said on its records, the
//! multi-organization rules keep their own path, and the rate limit's pace
//! is shared by every node.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sfsync_tests::soap::{contact, contact_id, message, Record};
use sync_core::admin::wire::{ResendOutcome, ResendReply};

const ACCOUNT: &str = "001000000000001AAA";

fn account() -> Record<'static> {
    Record {
        object: "Account",
        notification_id: "04l00000000000A001".into(),
        fields: vec![
            ("Id", Some(ACCOUNT.into())),
            ("Name", Some("Acme".into())),
            ("LastModifiedDate", Some("2026-11-20T10:00:00.000Z".into())),
        ],
    }
}

/// An app on the fake Zendesk with an Account and `n` of its Contacts
/// synced one by one, as the triggers do.
fn synced(n: usize, multi_org: bool) -> (FakeZendesk, TestApp) {
    let fake = FakeZendesk::start(multi_org);
    let app = TestApp::with_zendesk(&fake.url(), multi_org);
    let resp = app.send_message("/sf/created", &message(ORG_ID, &[account()]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let contacts: Vec<Record> = (1..=n)
        .map(|i| contact(i, &format!("person{i}@example.com")))
        .collect();
    for chunk in contacts.chunks(100) {
        let resp = app.send_message("/sf/created", &message(ORG_ID, chunk));
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    }
    assert_eq!(fake.users().len(), n);
    fake.clear_log();
    (fake, app)
}

fn resend(app: &TestApp, body: serde_json::Value) -> ResendReply {
    app.resend(body)
}

/// Collect until no job is open; every record collected.
fn collect_all(app: &TestApp) -> Vec<sync_core::admin::wire::ResendResult> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    loop {
        let reply = resend(app, json!({"collect": true}));
        out.extend(reply.collected);
        if reply.open_jobs == 0 {
            return out;
        }
        assert!(Instant::now() < deadline, "jobs still open after 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn view(app: &TestApp, id: &str) -> Value {
    let resp = app.admin_get(&format!("/admin/records/Contact/{id}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn a_large_resend_goes_a_hundred_to_a_call_and_every_record_gets_its_outcome() {
    let (fake, app) = synced(150, false);
    // Zendesk will refuse one record: its new email belongs to someone else.
    fake.seed_user("Someone Else", "someone@example.com", None);
    let renamed = Record {
        fields: contact(7, "someone@example.com").fields,
        notification_id: "04l000000000000777".into(),
        ..contact(7, "x")
    };
    // The Contact's new email arrives while Zendesk refuses it per record.
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[renamed]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert_eq!(view(&app, &contact_id(7))["status"], "error");
    fake.clear_log();

    let reply = resend(
        &app,
        json!({"filter": {"object": "Contact"}, "limit": 1000}),
    );
    assert_eq!(reply.results.len(), 150);
    assert!(
        reply
            .results
            .iter()
            .all(|r| r.outcome == ResendOutcome::Queued),
        "{:?}",
        reply
            .results
            .iter()
            .find(|r| r.outcome != ResendOutcome::Queued)
    );
    assert_eq!(reply.open_jobs, 2, "150 records: two jobs");
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update_many"), 2);
    assert!(
        fake.log()
            .iter()
            .all(|l| l.path != "/api/v2/users/create_or_update"
                && !l.path.starts_with("/api/v2/users/1")),
        "no per-record call"
    );

    let collected = collect_all(&app);
    assert_eq!(collected.len(), 150, "each record's answer, once");
    let errors: Vec<_> = collected
        .iter()
        .filter(|r| r.outcome != ResendOutcome::Synced)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].record.id, contact_id(7));
    assert_eq!(errors[0].outcome, ResendOutcome::Error);
    let refused = view(&app, &contact_id(7));
    assert_eq!(refused["status"], "error");
    let says = refused["last_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        says.contains("bulk job") && says.contains("already being used"),
        "{says}"
    );
    let one = view(&app, &contact_id(42));
    assert_eq!(one["status"], "synced");
    // Every call: 2 bulk calls, and the polls (one call each, for both jobs).
    let calls = fake.log().len();
    assert!(
        calls <= 2 + 4,
        "{calls} calls for 150 records: {:?}",
        fake.log().iter().map(|l| &l.path).collect::<Vec<_>>()
    );
    assert!(fake.count("GET", "/api/v2/job_statuses/show_many") >= 1);
    // Users keep their organization (sent as organization_id).
    let org = fake.organizations()[0]["id"].as_u64().expect("org");
    let user = fake.user_by_email("person42@example.com").expect("user");
    assert_eq!(user["organization_id"], org);

    // A second collect finds nothing, and adds no run.
    let runs = app.admin_get("/admin/runs?limit=100").json()["runs"]
        .as_array()
        .map(Vec::len);
    let reply = resend(&app, json!({"collect": true}));
    assert!(reply.collected.is_empty() && reply.open_jobs == 0);
    assert_eq!(
        app.admin_get("/admin/runs?limit=100").json()["runs"]
            .as_array()
            .map(Vec::len),
        runs
    );
}

#[test]
fn a_record_changed_while_its_job_ran_is_pushed_again_so_zendesk_has_the_newer_fields() {
    let (fake, app) = synced(30, false);
    fake.set_job_delay(Duration::from_millis(1500));
    let reply = resend(
        &app,
        json!({"filter": {"object": "Contact"}, "limit": 1000}),
    );
    assert_eq!(reply.open_jobs, 1);
    // Contact 3 changes in Salesforce: pushed at once, before the job runs.
    let mut newer = contact(3, "person3@example.com");
    newer.notification_id = "04l000000000000333".into();
    for (k, v) in &mut newer.fields {
        match *k {
            "FirstName" => *v = Some("Newer".into()),
            "LastModifiedDate" => *v = Some("2026-11-25T10:00:00.000Z".into()),
            _ => {}
        }
    }
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[newer]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    std::thread::sleep(Duration::from_millis(1700));
    // The job ran after that push, and wrote the older name back.
    let user = fake.user_by_email("person3@example.com").expect("user");
    assert_eq!(user["name"], "Ana3 Lima", "the job wrote the older fields");
    fake.clear_log();
    let collected = collect_all(&app);
    assert_eq!(collected.len(), 30);
    assert!(collected.iter().all(|r| r.outcome == ResendOutcome::Synced));
    let user = fake.user_by_email("person3@example.com").expect("user");
    assert_eq!(user["name"], "Newer Lima", "pushed again after the job");
    let pushes = fake.log().iter().filter(|l| l.method != "GET").count();
    assert_eq!(pushes, 1, "only the changed record is pushed again");
}

#[test]
fn a_job_zendesk_forgot_is_said_on_its_records_and_a_resend_heals_them() {
    let (fake, app) = synced(25, false);
    fake.set_job_delay(Duration::from_secs(60));
    let reply = resend(
        &app,
        json!({"filter": {"object": "Contact"}, "limit": 1000}),
    );
    assert_eq!(reply.open_jobs, 1);
    fake.forget_jobs();
    let collected = collect_all(&app);
    assert_eq!(collected.len(), 25);
    assert!(collected.iter().all(|r| r.outcome == ResendOutcome::Error));
    let lost = view(&app, &contact_id(5));
    let says = lost["last_error"]["message"].as_str().unwrap_or_default();
    assert!(says.contains("no longer has bulk job"), "{says}");
    assert_eq!(lost["last_error"]["kind"], "transient");

    fake.set_job_delay(Duration::from_millis(100));
    let reply = resend(&app, json!({"filter": {"status": "error"}, "limit": 1000}));
    assert_eq!(reply.results.len(), 25);
    let collected = collect_all(&app);
    assert!(collected.iter().all(|r| r.outcome == ResendOutcome::Synced));
    assert_eq!(app.admin_get("/admin/stats").json()["error"], 0);
}

#[test]
fn with_multiple_organizations_only_syncing_records_go_in_bulk() {
    // Contacts 1..=24 have their own emails; 25 and 26 share one: 25 is the
    // syncing record, 26 only holds a membership (rule 4) and must keep
    // the per-record rules.
    let fake = FakeZendesk::start(true);
    let app = TestApp::with_zendesk(&fake.url(), true);
    let resp = app.send_message("/sf/created", &message(ORG_ID, &[account()]));
    assert!(resp.text().contains("<Ack>true</Ack>"));
    let mut contacts: Vec<Record> = (1..=25)
        .map(|i| contact(i, &format!("person{i}@example.com")))
        .collect();
    contacts.push(contact(26, "person25@example.com"));
    let resp = app.send_message("/sf/created", &message(ORG_ID, &contacts));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert_eq!(fake.users().len(), 25);
    fake.clear_log();

    let reply = resend(
        &app,
        json!({"filter": {"object": "Contact"}, "limit": 1000}),
    );
    let queued = reply
        .results
        .iter()
        .filter(|r| r.outcome == ResendOutcome::Queued)
        .count();
    assert_eq!(queued, 25, "{:?}", reply.results);
    let direct: Vec<_> = reply
        .results
        .iter()
        .filter(|r| r.outcome != ResendOutcome::Queued)
        .collect();
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].record.id, contact_id(26));
    assert_eq!(direct[0].outcome, ResendOutcome::Synced, "{direct:?}");
    let bulk = fake
        .log()
        .into_iter()
        .find(|l| l.path == "/api/v2/users/create_or_update_many")
        .expect("a bulk call");
    let users = bulk.body["users"].as_array().cloned().unwrap_or_default();
    assert!(
        users.iter().all(|u| u.get("organization_id").is_none()),
        "with multi-org, bulk calls never set a user's organization: {users:?}"
    );
    let collected = collect_all(&app);
    assert_eq!(collected.len(), 25);
    assert!(collected.iter().all(|r| r.outcome == ResendOutcome::Synced));
    let org = fake.organizations()[0]["id"].as_u64().expect("org");
    let shared = fake.user_by_email("person25@example.com").expect("user");
    let uid = shared["id"].as_u64().expect("uid");
    assert_eq!(fake.memberships_of(uid), vec![(org, true)]);
    assert_eq!(view(&app, &contact_id(25))["syncing_record"], true);
    assert_eq!(view(&app, &contact_id(26))["syncing_record"], false);
}

#[test]
fn near_the_rate_limit_every_node_holds_off_and_says_when_to_run_again() {
    let (fake, app) = synced(40, false);
    // 12 calls a minute: bulk calls leave the last 2 to everyone else.
    fake.set_rate_limit(Some(12));
    let other_node = app.another_node();
    let page = |k: usize| {
        let records: Vec<String> = (1..=20)
            .map(|i| format!("Contact/{}", contact_id(i + 20 * (k % 2))))
            .collect();
        json!({ "records": records })
    };
    let held_off = |reply: &ResendReply| {
        reply
            .results
            .iter()
            .find_map(|r| r.error.clone().filter(|e| e.contains("run again in")))
    };
    // The nodes take turns until one holds off.
    let mut held = None;
    for round in 0..12 {
        let node = if round % 2 == 0 { &app } else { &other_node };
        let reply = resend(node, page(round));
        if let Some(said) = held_off(&reply) {
            held = Some((round, said, reply));
            break;
        }
    }
    let (round, said, reply) = held.expect("a node held off before the limit");
    assert!(said.contains("calls a minute are left"), "{said}");
    assert!(
        reply
            .results
            .iter()
            .all(|r| r.outcome == ResendOutcome::Error),
        "{:?}",
        reply.results
    );
    assert_eq!(
        view(&app, &contact_id(1 + 20 * (round % 2)))["last_error"]["kind"],
        "transient"
    );
    // The other node reads the same pace: it holds off too, without a call.
    let logged = fake.log().len();
    let node = if round % 2 == 0 { &other_node } else { &app };
    let reply = resend(node, page(round + 1));
    assert!(held_off(&reply).is_some(), "{:?}", reply.results);
    assert!(
        fake.log()[logged..]
            .iter()
            .all(|l| !l.path.contains("create_or_update_many")),
        "no bulk call from the other node"
    );
    assert_eq!(fake.rate_limited(), 0, "Zendesk never had to refuse a call");
}
