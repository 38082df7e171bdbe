//! Issue 7 end to end: backfilling Accounts then Contacts from CSV exports
//! through the components into the fake Zendesk.

use serde_json::Value;
use sfsync_tests::app::TestApp;
use sfsync_tests::fake_zendesk::FakeZendesk;

fn zendesk_app(fake: &FakeZendesk) -> TestApp {
    TestApp::with_zendesk(&fake.url(), false)
}

pub fn account_id(n: usize) -> String {
    format!("001{n:012}AAA")
}

pub fn contact_id(n: usize) -> String {
    format!("003{n:012}AAA")
}

/// A Data Loader style export of `n` Accounts (quoted, CRLF, BOM).
fn accounts_csv(n: usize) -> String {
    let mut s = String::from("\u{feff}\"Id\",\"Name\",\"Website\",\"LastModifiedDate\"\r\n");
    for i in 0..n {
        s.push_str(&format!(
            "\"{}\",\"Acme {i}, Inc.\",\"acme{i}.example\",\"2026-11-01T00:00:00.000Z\"\r\n",
            account_id(i)
        ));
    }
    s
}

/// A report export of `n` Contacts spread over `accounts` Accounts (LF).
fn contacts_csv(n: usize, accounts: usize) -> String {
    let mut s = String::from("Id,AccountId,Email,FirstName,LastName,Phone\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},{},user{i}@example.com,Ana,Lima {i},\n",
            contact_id(i),
            account_id(i % accounts)
        ));
    }
    s
}

/// Run a whole backfill through the API, following next_cursor.
fn backfill(app: &TestApp, object: &str, csv: &str) -> Vec<Value> {
    let mut answers = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!(
            "/admin/backfill?object={object}&limit=500{}",
            if cursor.is_empty() {
                String::new()
            } else {
                format!("&cursor={cursor}")
            }
        );
        let resp = app.admin("POST", &path, "text/csv", csv.as_bytes().to_vec());
        assert_eq!(resp.status, 200, "{}", resp.text());
        let v = resp.json();
        let next = v["next_cursor"].as_str().map(str::to_string);
        answers.push(v);
        match next {
            Some(c) => cursor = c,
            None => return answers,
        }
    }
}

/// Collect the Zendesk bulk jobs a backfill's rows went in, until none
/// is open; how many of their records synced.
fn collect_synced(app: &TestApp) -> u64 {
    let mut synced = 0;
    for _ in 0..600 {
        let reply = app.resend(serde_json::json!({"collect": true}));
        synced += reply
            .collected
            .iter()
            .filter(|r| r.outcome == sync_core::admin::wire::ResendOutcome::Synced)
            .count() as u64;
        if reply.open_jobs == 0 {
            return synced;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("bulk jobs still open after a minute");
}

fn answers_total(answers: &[Value], key: &str) -> u64 {
    answers
        .iter()
        .map(|a| a[key].as_u64().unwrap_or_default())
        .sum()
}

fn total(answers: &[Value], key: &str) -> u64 {
    answers
        .iter()
        .map(|a| a["counts"][key].as_u64().unwrap_or_default())
        .sum()
}

#[test]
fn accounts_then_5000_contacts_land_in_their_organizations_and_a_rerun_costs_nothing() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let accounts = backfill(&app, "Account", &accounts_csv(500));
    assert_eq!(answers_total(&accounts, "queued"), 500, "sent in bulk jobs");
    assert_eq!(total(&accounts, "synced") + collect_synced(&app), 500);
    let bulk_calls =
        |fake: &FakeZendesk, path: &str| fake.log().iter().filter(|c| c.path == path).count();
    assert_eq!(
        bulk_calls(&fake, "/api/v2/organizations/create_or_update_many"),
        5,
        "a hundred organizations a call"
    );
    assert_eq!(fake.organizations().len(), 500);
    assert!(fake
        .organizations()
        .iter()
        .any(|o| o["name"] == "Acme 0, Inc." && o["external_id"] == account_id(0).as_str()));

    let csv = contacts_csv(5000, 500);
    let answers = backfill(&app, "Contact", &csv);
    assert_eq!(answers.len(), 10, "5,000 rows in batches of 500");
    assert_eq!(
        answers.last().map(|a| a["rows_done"].clone()),
        Some(Value::from(5000))
    );
    assert_eq!(
        total(&answers, "synced") + collect_synced(&app),
        5000,
        "{:?}",
        answers
            .iter()
            .map(|a| a["failed"].clone())
            .collect::<Vec<_>>()
    );
    assert!(answers
        .iter()
        .all(|a| a["rejected"].as_array().is_some_and(Vec::is_empty)));

    assert_eq!(
        bulk_calls(&fake, "/api/v2/users/create_or_update_many"),
        50,
        "a hundred users a call, not one each"
    );
    assert_eq!(bulk_calls(&fake, "/api/v2/users/create_or_update"), 0);

    // Every user is in the organization of its Account.
    let org_by_external: std::collections::HashMap<String, u64> = fake
        .organizations()
        .iter()
        .map(|o| {
            (
                o["external_id"].as_str().unwrap_or_default().to_string(),
                o["id"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let users = fake.users();
    assert_eq!(users.len(), 5000);
    for u in &users {
        let ext = u["external_id"].as_str().expect("external_id");
        let n: usize = ext[3..15].parse().expect("number");
        assert_eq!(
            u["organization_id"].as_u64(),
            org_by_external.get(&account_id(n % 500)).copied(),
            "{u}"
        );
    }

    // The same file again: no Zendesk call, everything skipped.
    fake.clear_log();
    let again = backfill(&app, "Contact", &csv);
    assert_eq!(total(&again, "skipped"), 5000);
    assert_eq!(total(&again, "synced"), 0);
    assert!(
        fake.log().is_empty(),
        "a second run called Zendesk {} times",
        fake.log().len()
    );
    let runs = app.admin_get("/admin/runs?process=backfill").json();
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1 + 10 + 10));
}

#[test]
fn contacts_before_their_accounts_wait_and_are_linked_when_the_accounts_sync() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let contacts = contacts_csv(3, 2);
    let first = backfill(&app, "Contact", &contacts);
    assert_eq!(total(&first, "error"), 3);
    let failed = first[0]["failed"].as_array().expect("failed").clone();
    assert_eq!(failed.len(), 3, "each waiting row is listed: {failed:?}");
    let v = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(0)))
        .json();
    assert_eq!(v["status"], "error");
    assert_eq!(v["last_error"]["kind"], "transient", "{v}");
    let account = format!("Account/{}", account_id(0));
    assert!(
        v["last_error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("waiting for {account}")),
        "{v}"
    );
    assert_eq!(v["waiting_for"]["record"], account.as_str(), "{v}");
    assert_eq!(v["last_trigger"], "backfill");
    let user = fake.user_by_email("user0@example.com").expect("written");
    assert!(user["organization_id"].is_null(), "{user}");

    // The Accounts arrive: every waiting Contact is linked, no rerun.
    backfill(&app, "Account", &accounts_csv(2));
    for n in 0..3 {
        let v = app
            .admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
            .json();
        assert_eq!(v["status"], "synced", "{v}");
        assert_eq!(v["last_trigger"], "link", "{v}");
        assert!(v.get("waiting_for").is_none(), "{v}");
    }
    for u in fake.users() {
        assert!(u["organization_id"].as_u64().is_some(), "{u}");
    }
    assert_eq!(fake.users().len(), 3, "no duplicate users");
    assert!(
        !app.kv_dump().iter().any(|(k, _)| k.starts_with("waiting/")),
        "the waiting lists are gone once everyone is linked"
    );
    // A rerun of the Contacts changes nothing.
    let second = backfill(&app, "Contact", &contacts);
    assert_eq!(total(&second, "skipped"), 3, "{second:?}");
}

#[test]
fn bad_rows_are_rejected_with_their_line_and_good_rows_kept() {
    let app = TestApp::start();
    let csv = "Id,Email,FirstName,LastName\r\n003000000000001AAA,a@example.com,Ana,Lima\r\n,b@example.com,Bo,Berg\r\n003NOTANID,c@example.com,Cy,Cole\r\n001000000000001AAA,d@example.com,Di,Dahl\r\n003000000000002AAA,e@example.com,Ed,Eck\r\n";
    let answers = backfill(&app, "Contact", csv);
    let rejected = answers[0]["rejected"].as_array().expect("rejected").clone();
    let lines: Vec<u64> = rejected.iter().filter_map(|r| r["line"].as_u64()).collect();
    assert_eq!(lines, vec![3, 4, 5]);
    assert!(rejected[2]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("not a Contact id"));
    assert_eq!(total(&answers, "synced"), 2);

    let cases = [
        (
            "/admin/backfill",
            "Id\n003000000000001AAA\n",
            "name the object",
        ),
        (
            "/admin/backfill?object=Contact",
            "Email\na@b.c\n",
            "no Id column",
        ),
        (
            "/admin/backfill?object=Contact&limit=0",
            "Id\n003000000000001AAA\n",
            "out of range",
        ),
        (
            "/admin/backfill?object=Contact&cursor=abc",
            "Id\n003000000000001AAA\n",
            "malformed cursor",
        ),
    ];
    for (path, body, says) in cases {
        let resp = app.admin("POST", path, "text/csv", body);
        assert_eq!(resp.status, 400, "{path}");
        assert!(
            resp.json()["error"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{path}: {}",
            resp.text()
        );
    }
    // A cursor from one file does not continue another.
    let big = contacts_csv(3, 1);
    let first = app
        .admin(
            "POST",
            "/admin/backfill?object=Contact&limit=1",
            "text/csv",
            big.clone(),
        )
        .json();
    let cursor = first["next_cursor"].as_str().expect("cursor").to_string();
    let other = app.admin(
        "POST",
        &format!("/admin/backfill?object=Contact&limit=1&cursor={cursor}"),
        "text/csv",
        big.replace("Lima", "Lyma"),
    );
    assert_eq!(other.status, 400);
    assert!(other.text().contains("another file"));
}

/// interfaces.md, "Salesforce ids": a report export with 15-character ids
/// and an Outbound Message with the 18-character form are one record — one
/// sfsync record, one Zendesk user, `external_id` in the 18-character form.
#[test]
fn fifteen_and_eighteen_character_ids_are_one_record() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let short = "003000000000077";
    let long = "003000000000077AAA";
    let csv = format!("Id,Email,FirstName,LastName\n{short},same@example.com,Ana,Lima\n");
    let answers = backfill(&app, "Contact", &csv);
    assert_eq!(total(&answers, "synced"), 1, "{answers:?}");
    let user = fake.user_by_email("same@example.com").expect("created");
    assert_eq!(
        user["external_id"], long,
        "external_id is the 18-character id"
    );

    let mut update = sfsync_tests::soap::contact(77, "same@example.com");
    update.fields.retain(|(k, _)| *k != "AccountId");
    for (k, v) in &mut update.fields {
        if *k == "FirstName" {
            *v = Some("Bia".into());
        }
    }
    let resp = app.send_message(
        "/sf/updated",
        &sfsync_tests::soap::message(sfsync_tests::app::ORG_ID, &[update]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert_eq!(fake.users().len(), 1, "{:?}", fake.users());
    let keys = app.record_keys();
    assert_eq!(keys, vec![format!("rec/Contact/{long}")]);
    // The admin API finds it by either form; a resend by the short form and
    // an imported reference with it reach the same record.
    for id in [short, long] {
        let resp = app.admin_get(&format!("/admin/records/Contact/{id}"));
        assert_eq!(resp.status, 200, "{id}: {}", resp.text());
    }
    let resp = app.admin(
        "POST",
        "/admin/resend",
        "application/json",
        format!("{{\"records\":[\"Contact/{short}\"]}}"),
    );
    let reply: sync_core::admin::wire::ResendReply = resp.typed();
    assert_eq!(
        reply.results[0].record.to_string(),
        format!("Contact/{long}")
    );
    assert_eq!(
        reply.results[0].outcome,
        sync_core::admin::wire::ResendOutcome::Synced
    );
    let user_id = user["id"].as_u64().expect("id");
    let resp = app.admin(
        "POST",
        "/admin/import",
        "text/csv",
        format!("salesforce_contact_id,zendesk_user_id\n{short},{user_id}\n"),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let keys = app.record_keys();
    assert_eq!(
        keys,
        vec![format!("rec/Contact/{long}")],
        "still one record"
    );
}

/// A row older than the stored state, or without a stamp while the stored
/// state has one, is not applied, and the reply says which row and why.
#[test]
fn rows_that_cannot_win_over_newer_data_are_listed_with_why() {
    let app = TestApp::start();
    let id = contact_id(5);
    let stamped = format!(
        "Id,Email,FirstName,LastName,LastModifiedDate\n{id},ana@example.com,Ana,Lima,2026-11-20T10:00:00.000Z\n"
    );
    backfill(&app, "Contact", &stamped);
    let old_and_unstamped = format!(
        "Id,Email,FirstName,LastName,LastModifiedDate\n{id},ana@example.com,Old,Lima,2026-11-01T00:00:00.000Z\n{id},ana@example.com,Nostamp,Lima,\n"
    );
    let answers = backfill(&app, "Contact", &old_and_unstamped);
    let rows = answers[0]["not_applied"]
        .as_array()
        .expect("not_applied")
        .clone();
    assert_eq!(rows.len(), 2, "{answers:?}");
    assert_eq!(rows[0]["line"], 2);
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("older"),
        "{rows:?}"
    );
    assert_eq!(rows[1]["line"], 3);
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be ordered"),
        "{rows:?}"
    );
    let v = app
        .admin_get(&format!("/admin/records/Contact/{id}"))
        .json();
    assert_eq!(v["source_modified_at"], "2026-11-20T10:00:00.000Z", "{v}");
}
