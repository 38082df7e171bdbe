//! Issue 4 end to end: the Zendesk destination against the fake Zendesk —
//! the seven multi-organization situations in both modes, the Ack policy
//! with permanent and transient failures, redelivery, duplicates and
//! out-of-order deliveries, rate limits and dropped connections.

use serde_json::Value;
use sfsync_tests::app::{default_variables, TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::{FakeZendesk, AGENT_EMAIL, API_TOKEN};
use sfsync_tests::soap::{contact, contact_id, lone_contact, message, Record};

const ACCOUNT: &str = "001000000000001AAA";

fn app_for(fake: &FakeZendesk, multi_org: bool) -> TestApp {
    TestApp::with_zendesk(&fake.url(), multi_org)
}

fn view(app: &TestApp, object: &str, id: &str) -> Value {
    let resp = app.admin_get(&format!("/admin/records/{object}/{id}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn the_seven_multi_org_situations_in_both_modes() {
    // (situation, has account, organization exists, user exists with: None = no user, Some(false) = no org, Some(true) = another default org)
    let situations: [(u8, bool, bool, Option<bool>); 7] = [
        (1, false, false, Some(false)),
        (2, false, false, None),
        (3, true, true, Some(false)),
        (4, true, true, Some(true)),
        (5, true, false, Some(false)),
        (6, true, true, None),
        (7, true, false, None),
    ];
    for multi_org in [false, true] {
        for (n, has_account, org_exists, existing) in situations {
            let case = format!("situation {n}, multi-org {multi_org}");
            let fake = FakeZendesk::start(multi_org);
            let org = org_exists.then(|| fake.seed_organization("Acme", Some(ACCOUNT)));
            let other = fake.seed_organization("Other Corp", Some("001000000000009AAA"));
            let seeded = existing.map(|other_default| {
                fake.seed_user(
                    "Old Name",
                    "ana@example.com",
                    other_default.then_some(other),
                )
            });
            let app = app_for(&fake, multi_org);
            let record = if has_account {
                contact(1, "Ana@Example.com")
            } else {
                lone_contact(1, "Ana@Example.com")
            };
            let resp = app.send_message("/sf/created", &message(ORG_ID, &[record]));
            // An Account without an organization yet (5, 7): the user is
            // written without it and the Contact waits, retried by Salesforce.
            let waits = has_account && !org_exists;
            assert_eq!(
                resp.text().contains("<Ack>true</Ack>"),
                !waits,
                "{case}: {}",
                resp.text()
            );

            let users = fake.users();
            assert_eq!(users.len(), 1, "{case}: one user per email: {users:?}");
            let user = &users[0];
            let user_id = user["id"].as_u64().expect("id");
            if let Some(seeded) = seeded {
                assert_eq!(user_id, seeded, "{case}: matched the existing user");
            }
            let memberships = fake.memberships_of(user_id);
            let in_org = org.is_some_and(|o| memberships.iter().any(|(m, _)| *m == o));
            let default_org = memberships.iter().find(|(_, d)| *d).map(|(m, _)| *m);
            let fields_synced = user["name"] == "Ana1 Lima";
            // What multi-org.md's table says, per situation and mode.
            let (want_in_org, want_default, want_fields) = match (n, multi_org) {
                (3, _) | (6, _) => (true, org, true),
                (4, false) => (true, org, true),
                (4, true) => (true, Some(other), false),
                (_, _) => (false, existing.and_then(|d| d.then_some(other)), true),
            };
            assert_eq!(
                in_org, want_in_org,
                "{case}: membership of the Account's organization: {memberships:?}"
            );
            assert_eq!(default_org, want_default, "{case}: default organization");
            assert_eq!(fields_synced, want_fields, "{case}: fields synced: {user}");

            let v = view(&app, "Contact", &contact_id(1));
            if waits {
                assert_eq!(v["status"], "error", "{case}: {v}");
                assert_eq!(v["waiting_for"]["record"], format!("Account/{ACCOUNT}"));
            } else {
                assert_eq!(v["status"], "synced", "{case}: {v}");
            }
            assert_eq!(v["destination"]["kind"], "zendesk");
            assert_eq!(v["destination"]["id"], user_id.to_string());
            if multi_org {
                assert_eq!(v["fields_synced"], want_fields, "{case}");
                assert_eq!(v["syncing_record"], want_fields && want_in_org, "{case}");
                // Multi-org never sends organization_id when updating an existing user.
                for l in fake
                    .log()
                    .iter()
                    .filter(|l| l.method == "PUT" && l.path.starts_with("/api/v2/users/"))
                {
                    assert!(
                        l.body["user"].get("organization_id").is_none(),
                        "{case}: {:?}",
                        l.body
                    );
                }
            } else {
                assert_eq!(v["syncing_record"], Value::Null, "{case}");
            }
        }
    }
}

#[test]
fn accounts_become_organizations_and_contacts_join_them() {
    let fake = FakeZendesk::start(true);
    let app = app_for(&fake, true);
    let account = Record {
        object: "Account",
        notification_id: "04l00000000000A001".into(),
        fields: vec![
            ("Id", Some(ACCOUNT.into())),
            ("Name", Some("Acme & Sons".into())),
            ("Website", Some("acme.example".into())),
            ("LastModifiedDate", Some("2026-11-20T10:00:00.000Z".into())),
        ],
    };
    let resp = app.send_message("/sf/created", &message(ORG_ID, &[account]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let orgs = fake.organizations();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["name"], "Acme & Sons");
    assert_eq!(orgs[0]["external_id"], ACCOUNT);
    assert_eq!(orgs[0]["organization_fields"]["website"], "acme.example");
    let org_id = orgs[0]["id"].as_u64().expect("org id");
    assert_eq!(
        view(&app, "Account", ACCOUNT)["destination"]["id"],
        org_id.to_string()
    );

    // Two Contacts share an email and the Account: one user, one membership,
    // the first is the syncing record.
    fake.clear_log();
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(1, "ana@example.com")]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"));
    assert_eq!(
        fake.count("GET", "/api/v2/organizations/search"),
        0,
        "the synced Account's id is known"
    );
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(2, "ANA@example.com")]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"));
    let users = fake.users();
    assert_eq!(users.len(), 1);
    let uid = users[0]["id"].as_u64().expect("uid");
    assert_eq!(fake.memberships_of(uid), vec![(org_id, true)]);
    let first = view(&app, "Contact", &contact_id(1));
    let second = view(&app, "Contact", &contact_id(2));
    assert_eq!(first["syncing_record"], true);
    assert_eq!(second["syncing_record"], false);
    assert_eq!(
        first["destination"]["organization_ids"],
        serde_json::json!([org_id.to_string()])
    );

    // Updating the Account updates the same organization.
    let renamed = Record {
        object: "Account",
        notification_id: "04l00000000000A002".into(),
        fields: vec![
            ("Id", Some(ACCOUNT.into())),
            ("Name", Some("Acme Group".into())),
            ("Website", Some("acme.example".into())),
            ("LastModifiedDate", Some("2026-11-21T10:00:00.000Z".into())),
        ],
    };
    assert!(app
        .send_message("/sf/updated", &message(ORG_ID, &[renamed]))
        .text()
        .contains("<Ack>true</Ack>"));
    assert_eq!(fake.organizations().len(), 1);
    assert_eq!(fake.organizations()[0]["name"], "Acme Group");
    assert_eq!(
        fake.count("PUT", &format!("/api/v2/organizations/{org_id}")),
        1
    );
}

#[test]
fn failures_follow_the_ack_policy_and_redelivery_costs_only_what_failed() {
    let fake = FakeZendesk::start(false);
    // Contact 7 exists with another email; its new email belongs to someone else: 422.
    let taken = fake.seed_user("Someone Else", "taken@example.com", None);
    {
        let app = app_for(&fake, false);
        let mut seven = lone_contact(7, "seven-old@example.com");
        seven.notification_id = "04l00000000000S007".into();
        assert!(app
            .send_message("/sf/created", &message(ORG_ID, &[seven]))
            .text()
            .contains("<Ack>true</Ack>"));
    }
    let app = app_for(&fake, false);
    let records: Vec<Record> = (0..100)
        .map(|n| match n {
            7 => lone_contact(7, "taken@example.com"),
            _ => lone_contact(n, &format!("user{n}@example.com")),
        })
        .collect();
    let xml = message(ORG_ID, &records);
    // Contact 42 fails once with 503 (no Retry-After, so no retry inside the request).
    fake.fail_next_matching(
        "/api/v2/users/create_or_update",
        Some("user42@example.com"),
        1,
        503,
        None,
    );
    fake.clear_log();
    let resp = app.send_message("/sf/created", &xml);
    assert_eq!(
        resp.status, 500,
        "a transient failure must not be acknowledged"
    );
    let text = resp.text();
    assert!(
        text.contains("soapenv:Fault") && text.contains(&contact_id(42)),
        "{text}"
    );
    assert!(
        !text.contains(&contact_id(7)),
        "a permanent error is not retried: {text}"
    );

    let seven = view(&app, "Contact", &contact_id(7));
    assert_eq!(seven["status"], "error");
    assert_eq!(seven["last_error"]["kind"], "permanent");
    assert_eq!(seven["last_error"]["http_status"], 422);
    assert!(
        seven["last_error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Email: taken@example.com is already being used by another user"),
        "{seven}"
    );
    let forty_two = view(&app, "Contact", &contact_id(42));
    assert_eq!(
        (
            forty_two["status"].as_str(),
            forty_two["last_error"]["kind"].as_str()
        ),
        (Some("error"), Some("transient"))
    );
    let stats = app.admin_get("/admin/stats").json();
    assert_eq!(
        (stats["synced"].as_u64(), stats["error"].as_u64()),
        (Some(98), Some(2)),
        "{stats}"
    );

    // Salesforce redelivers the same message: only Contact 42 calls Zendesk.
    fake.clear_log();
    let resp = app.send_message("/sf/created", &xml);
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let calls = fake.log();
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|c| c.body.to_string().contains("user42@example.com") || c.method == "GET"),
        "only the 503 record may call again: {calls:?}"
    );
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update"), 1);
    assert_eq!(view(&app, "Contact", &contact_id(42))["status"], "synced");
    // No duplicates: one Zendesk user per Salesforce record, plus the seeded one.
    assert_eq!(fake.users().len(), 100 + 1);
    assert!(fake.users().iter().any(|u| u["id"] == taken));
}

#[test]
fn duplicate_and_out_of_order_deliveries_create_no_duplicates() {
    let fake = FakeZendesk::start(false);
    let app = app_for(&fake, false);
    let version = |n: usize, minute: u32, email: &str| {
        let mut r = lone_contact(n, email);
        r.notification_id = format!("04l{n:03}{minute:012}");
        r.fields.retain(|(k, _)| *k != "LastModifiedDate");
        r.fields.push((
            "LastModifiedDate",
            Some(format!("2026-11-20T10:{minute:02}:00.000Z")),
        ));
        r
    };
    let newest: Vec<Record> = (0..10)
        .map(|n| version(n, 30, &format!("new{n}@example.com")))
        .collect();
    let older: Vec<Record> = (0..10)
        .map(|n| version(n, 10, &format!("old{n}@example.com")))
        .collect();
    for (route, records) in [
        ("/sf/updated", &newest),
        ("/sf/created", &older),
        ("/sf/updated", &newest),
        ("/sf/created", &older),
    ] {
        let resp = app.send_message(route, &message(ORG_ID, records));
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    }
    let users = fake.users();
    assert_eq!(users.len(), 10, "{users:?}");
    assert!(users
        .iter()
        .all(|u| u["email"].as_str().unwrap_or_default().starts_with("new")));
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update"), 10);
}

#[test]
fn rate_limits_credentials_and_broken_connections() {
    // A short Retry-After is waited for once inside the request.
    let fake = FakeZendesk::start(false);
    let app = app_for(&fake, false);
    fake.fail_next_matching("/api/v2/users/create_or_update", None, 1, 429, Some(1));
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(1, "a@example.com")]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update"), 2);

    // A long one is left to Salesforce's redelivery.
    fake.set_rate_limit(Some(0));
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(2, "b@example.com")]),
    );
    assert_eq!(resp.status, 500);
    assert!(resp.text().contains("rate limit"), "{}", resp.text());
    let v = view(&app, "Contact", &contact_id(2));
    assert_eq!(
        (
            v["last_error"]["kind"].as_str(),
            v["last_error"]["http_status"].as_u64()
        ),
        (Some("transient"), Some(429))
    );
    fake.set_rate_limit(None);

    // A dropped connection is transient.
    fake.drop_next("/api/v2/users/create_or_update", 1);
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(3, "c@example.com")]),
    );
    assert_eq!(resp.status, 500);
    assert_eq!(
        view(&app, "Contact", &contact_id(3))["last_error"]["kind"],
        "transient"
    );

    // Wrong credentials are a configuration error, not acknowledged.
    let mut vars = default_variables();
    for (k, v) in [
        ("destination", "zendesk".to_string()),
        ("zendesk_url", fake.url()),
        ("zendesk_email", AGENT_EMAIL.into()),
        ("zendesk_api_token", "wrong".into()),
    ] {
        vars.insert(k.into(), v);
    }
    let wrong = TestApp::with_variables(vars);
    let resp = wrong.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(4, "d@example.com")]),
    );
    assert_eq!(resp.status, 500);
    let v = view(&wrong, "Contact", &contact_id(4));
    assert_eq!(
        (
            v["last_error"]["kind"].as_str(),
            v["last_error"]["http_status"].as_u64()
        ),
        (Some("config"), Some(401))
    );
    assert!(v["last_error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Couldn't authenticate you"));
}

#[test]
fn a_zendesk_url_with_a_path_is_refused_by_name() {
    let fake = FakeZendesk::start(false);
    let mut vars = default_variables();
    for (k, v) in [
        ("destination", "zendesk".to_string()),
        ("zendesk_url", format!("{}/api/v2", fake.url())),
        ("zendesk_email", AGENT_EMAIL.into()),
        ("zendesk_api_token", API_TOKEN.into()),
    ] {
        vars.insert(k.into(), v);
    }
    let app = TestApp::with_variables(vars);
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(1, "a@example.com")]),
    );
    assert_eq!(resp.status, 500);
    assert!(resp.text().contains("zendesk_url"), "{}", resp.text());
    assert!(app.kv_dump().is_empty());
    assert!(fake.log().is_empty());
}

/// interfaces.md, "Absent, null and empty": an Outbound Message that does
/// not select `Phone` leaves the Zendesk phone alone; one that sends it nil
/// clears it.
#[test]
fn a_field_the_message_does_not_send_is_left_alone_in_zendesk() {
    let fake = FakeZendesk::start(false);
    let app = app_for(&fake, false);
    let mut first = lone_contact(31, "phone@example.com");
    first
        .fields
        .retain(|(name, _)| *name != "Phone" && *name != "LastModifiedDate");
    first
        .fields
        .push(("Phone", Some("+55 11 5555-0100".into())));
    first
        .fields
        .push(("LastModifiedDate", Some("2026-11-20T10:00:00.000Z".into())));
    let resp = app.send_message("/sf/created", &message(ORG_ID, &[first]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let user = fake.user_by_email("phone@example.com").expect("created");
    assert_eq!(user["phone"], "+55 11 5555-0100");

    // An update that does not carry Phone at all: the name changes, the
    // phone stays.
    let mut update = lone_contact(31, "phone@example.com");
    update.notification_id = "04l000000000003102".into();
    update.fields.retain(|(name, _)| *name != "Phone");
    for (name, value) in &mut update.fields {
        match *name {
            "FirstName" => *value = Some("Renamed".into()),
            "LastModifiedDate" => *value = Some("2026-11-20T11:00:00.000Z".into()),
            _ => {}
        }
    }
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[update]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let user = fake
        .user_by_email("phone@example.com")
        .expect("still there");
    assert_eq!(user["phone"], "+55 11 5555-0100", "{user}");
    assert!(
        user["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Renamed"),
        "{user}"
    );

    // Sent as nil: cleared.
    let mut cleared = lone_contact(31, "phone@example.com");
    cleared.notification_id = "04l000000000003103".into();
    for (name, value) in &mut cleared.fields {
        match *name {
            "Phone" => *value = None,
            "LastModifiedDate" => *value = Some("2026-11-20T12:00:00.000Z".into()),
            _ => {}
        }
    }
    if !cleared.fields.iter().any(|(n, _)| *n == "Phone") {
        cleared.fields.push(("Phone", None));
    }
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[cleared]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let user = fake
        .user_by_email("phone@example.com")
        .expect("still there");
    assert_eq!(user["phone"], Value::Null, "{user}");
}

fn account_record(id: &str, name: &str, n: usize) -> Record<'static> {
    Record {
        object: "Account",
        notification_id: format!("04l00000000000B{n:03}"),
        fields: vec![
            ("Id", Some(id.to_string())),
            ("Name", Some(name.to_string())),
            ("LastModifiedDate", Some("2026-11-20T10:00:00.000Z".into())),
        ],
    }
}

#[test]
fn a_contact_before_its_account_is_retried_then_linked_when_the_account_syncs() {
    for multi_org in [false, true] {
        let fake = FakeZendesk::start(multi_org);
        let app = app_for(&fake, multi_org);
        // Lead conversion: the Contact's message comes first.
        let contact_message = message(ORG_ID, &[contact(1, "ana@example.com")]);
        for arrival in 1..=2 {
            let resp = app.send_message("/sf/created", &contact_message);
            assert_eq!(resp.status, 500, "{}", resp.text());
            assert!(
                resp.text()
                    .contains(&format!("waiting for Account/{ACCOUNT}")),
                "the Fault says why: {}",
                resp.text()
            );
            let v = view(&app, "Contact", &contact_id(1));
            assert_eq!(v["waiting_for"]["arrivals"], arrival, "{v}");
            assert_eq!(v["last_error"]["kind"], "transient");
        }
        let user = fake.user_by_email("ana@example.com").expect("written");
        assert!(user["organization_id"].is_null(), "{user}");

        // The Account's message: acknowledged, and the Contact linked by it.
        let resp = app.send_message(
            "/sf/created",
            &message(ORG_ID, &[account_record(ACCOUNT, "Acme", 1)]),
        );
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
        let org = fake.organizations()[0]["id"].as_u64().expect("org");
        let v = view(&app, "Contact", &contact_id(1));
        assert_eq!(v["status"], "synced", "multi-org {multi_org}: {v}");
        assert_eq!(v["last_trigger"], "link");
        assert!(v.get("waiting_for").is_none(), "{v}");
        let user = fake.user_by_email("ana@example.com").expect("user");
        assert_eq!(user["organization_id"].as_u64(), Some(org), "{user}");
        assert_eq!(fake.users().len(), 1);
        // Salesforce's next redelivery is acknowledged.
        let resp = app.send_message("/sf/created", &contact_message);
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());

        // An Account that never syncs: retried for ten arrivals, then an
        // error that says what to do, and acknowledged.
        let mut orphan = contact(2, "bo@example.com");
        for field in orphan.fields.iter_mut() {
            if field.0 == "AccountId" {
                field.1 = Some("001000000000002AAA".into());
            }
        }
        let orphan_message = message(ORG_ID, &[orphan]);
        for arrival in 1..=waiting_arrivals() {
            let resp = app.send_message("/sf/created", &orphan_message);
            let acked = resp.text().contains("<Ack>true</Ack>");
            assert_eq!(
                acked,
                arrival == waiting_arrivals(),
                "arrival {arrival}: {}",
                resp.text()
            );
        }
        let v = view(&app, "Contact", &contact_id(2));
        assert_eq!(v["status"], "error");
        assert_eq!(v["last_error"]["kind"], "permanent", "{v}");
        assert!(
            v["last_error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("linked automatically"),
            "{v}"
        );
        // Even then, the Account's sync links it.
        app.send_message(
            "/sf/created",
            &message(
                ORG_ID,
                &[account_record("001000000000002AAA", "Bo Corp", 2)],
            ),
        );
        assert_eq!(view(&app, "Contact", &contact_id(2))["status"], "synced");
    }
}

fn waiting_arrivals() -> u32 {
    sync_core::waiting::WAIT_ARRIVALS
}

/// A Contact whose email changes: the user gets the new email, and the
/// `email/` entry of the old one is removed (another person may use that
/// email later), while the new one names the same user.
#[test]
fn an_email_change_leaves_no_entry_for_the_old_email() {
    let fake = FakeZendesk::start(false);
    let app = app_for(&fake, false);
    let first = lone_contact(1, "old@example.com");
    let resp = app.send_message("/sf/created", &message(ORG_ID, &[first]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let mut changed = lone_contact(1, "new@example.com");
    changed.notification_id = "04l0000000000EM001".into();
    for (k, v) in changed.fields.iter_mut() {
        if *k == "LastModifiedDate" {
            *v = Some("2026-11-21T10:15:00.000Z".into());
        }
    }
    let resp = app.send_message("/sf/updated", &message(ORG_ID, &[changed]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    let record = view(&app, "Contact", &contact_id(1));
    assert_eq!(record["status"], "synced", "{record}");
    let user = record["destination"]["id"]
        .as_str()
        .expect("user id")
        .to_string();
    let entries: Vec<(String, Value)> = app
        .kv_dump()
        .into_iter()
        .filter(|(k, _)| k.starts_with("email/"))
        .map(|(k, v)| (k, serde_json::from_slice(&v).expect("entry")))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, "email/new@example.com");
    assert_eq!(entries[0].1["user_id"], user.as_str());
    let users = fake.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["email"], "new@example.com");
}
