//! `POST /admin/pull` end to end: the components read records from the fake
//! Salesforce's REST API (token, SOQL pages, limit headers, expired tokens,
//! errors) and sync them to the fake Zendesk.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sfsync_tests::app::{zendesk_variables, TestApp};
use sfsync_tests::fake_salesforce::{FakeSalesforce, CLIENT_ID, CLIENT_SECRET};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sync_core::admin::wire::{PullReply, ResendOutcome, ResendResult};

fn app_for(zendesk: &FakeZendesk, sf: &FakeSalesforce) -> TestApp {
    let mut vars = zendesk_variables(&zendesk.url(), false);
    vars.insert("sf_my_domain_url".into(), sf.url());
    vars.insert("sf_client_id".into(), CLIENT_ID.into());
    vars.insert("sf_client_secret".into(), CLIENT_SECRET.into());
    TestApp::with_variables(vars)
}

fn stamp(i: usize) -> String {
    format!(
        "2020-11-{:02}T{:02}:{:02}:00.000+0000",
        1 + i / 1440,
        i / 60 % 24,
        i % 60
    )
}

/// Now, as Salesforce writes a `SystemModstamp`.
fn now_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S.000+0000")
        .to_string()
}

fn account_id(a: usize) -> String {
    format!("001{a:012}AAA")
}

fn contact_id(n: usize) -> String {
    format!("003{n:012}AAA")
}

fn seed(sf: &FakeSalesforce, accounts: usize, contacts: usize) {
    for a in 0..accounts {
        sf.upsert(
            "Account",
            json!({"Id": account_id(a), "Name": format!("Org {a}"), "Description": null, "Website": null,
                   "LastModifiedDate": stamp(a), "SystemModstamp": stamp(a)}),
        );
    }
    for n in 0..contacts {
        sf.upsert(
            "Contact",
            json!({"Id": contact_id(n), "FirstName": format!("C{n}"), "LastName": "Pull",
                   "Email": format!("c{n}@example.com"), "Phone": null, "AccountId": account_id(n % accounts),
                   "LastModifiedDate": stamp(n), "SystemModstamp": stamp(n)}),
        );
    }
}

/// Call `route` (`pull` or `reconcile`) to the end, following
/// next_cursor; the replies.
fn follow(app: &TestApp, route: &str, query: &str) -> Vec<PullReply> {
    let mut replies = Vec::new();
    let mut path = format!("/admin/{route}?{query}");
    loop {
        let resp = app.admin("POST", &path, "application/json", "");
        assert_eq!(resp.status, 200, "{}", resp.text());
        let reply: PullReply = resp.typed();
        let next = reply.next_cursor.clone();
        replies.push(reply);
        match next {
            Some(c) => path = format!("/admin/{route}?cursor={c}&limit=2000"),
            None => return replies,
        }
    }
}

fn pull_all(app: &TestApp, query: &str) -> Vec<PullReply> {
    follow(app, "pull", query)
}

/// Collect the Zendesk bulk jobs pages were sent in, until none is open;
/// the outcomes written.
fn collect_all(app: &TestApp) -> Vec<ResendResult> {
    let mut collected = Vec::new();
    for _ in 0..600 {
        let reply = app.resend(json!({"collect": true}));
        collected.extend(reply.collected);
        if reply.open_jobs == 0 {
            return collected;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("bulk jobs still open after a minute");
}

/// How many of `outcomes` synced.
fn synced_of(outcomes: &[ResendResult]) -> usize {
    outcomes
        .iter()
        .filter(|r| r.outcome == ResendOutcome::Synced)
        .count()
}

/// The external ids of the users a Zendesk call log wrote, one by one or in bulk.
fn users_written(log: &[sfsync_tests::fake_zendesk::Logged]) -> Vec<String> {
    log.iter()
        .filter(|c| c.method != "GET")
        .flat_map(|c| {
            let one = c.body["user"]["external_id"].as_str().map(str::to_string);
            let many = c.body["users"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u["external_id"].as_str().map(str::to_string))
                .collect::<Vec<_>>();
            one.into_iter().chain(many)
        })
        .collect()
}

#[test]
fn an_initial_pull_lands_every_contact_in_its_organization() {
    const CONTACTS: usize = 20_000;
    let zendesk = FakeZendesk::start(false);
    let sf = FakeSalesforce::start();
    seed(&sf, 25, CONTACTS);
    let app = app_for(&zendesk, &sf);

    let accounts = pull_all(&app, "object=Account");
    assert_eq!(accounts.iter().map(|r| r.bulk.queued).sum::<usize>(), 25);
    assert_eq!(synced_of(&collect_all(&app)), 25, "organizations first");
    let contacts = pull_all(&app, "object=Contact&limit=2000");
    assert_eq!(
        contacts.len(),
        CONTACTS.div_ceil(2000),
        "pages of at most 2000"
    );
    assert_eq!(contacts[0].total, CONTACTS as u64);
    let failed: Vec<_> = contacts.iter().flat_map(|r| &r.failed).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let queued: usize = contacts.iter().map(|r| r.bulk.queued).sum();
    assert_eq!(queued, CONTACTS, "every Contact goes in a bulk job");
    // Each page collects the jobs of the pages before; the rest after.
    let on_the_way: u32 = contacts.iter().map(|r| r.counts.synced).sum();
    let collected = synced_of(&collect_all(&app));
    assert_eq!(on_the_way as usize + collected, CONTACTS, "and ends synced");
    // A hundred users a call: 200 calls, not 20,000.
    let per_record = zendesk
        .log()
        .iter()
        .filter(|c| c.path == "/api/v2/users/create_or_update")
        .count();
    let in_bulk = zendesk
        .log()
        .iter()
        .filter(|c| c.path == "/api/v2/users/create_or_update_many")
        .count();
    assert_eq!((per_record, in_bulk), (0, CONTACTS / 100));
    assert!(contacts[0].api_usage.is_some(), "Sforce-Limit-Info is read");
    assert_eq!(
        contacts.last().and_then(|r| r.high_water.as_deref()),
        Some(stamp(CONTACTS - 1).as_str())
    );

    // Every user is in the organization of its Account.
    let orgs: BTreeMap<String, u64> = zendesk
        .organizations()
        .iter()
        .filter_map(|o| Some((o["external_id"].as_str()?.to_string(), o["id"].as_u64()?)))
        .collect();
    let users = zendesk.users();
    assert_eq!(users.len(), CONTACTS);
    for u in &users {
        let n: usize = u["external_id"].as_str().unwrap_or_default()[3..15]
            .parse()
            .unwrap_or(0);
        assert_eq!(
            u["organization_id"].as_u64(),
            orgs.get(&account_id(n % 25)).copied(),
            "{u}"
        );
    }
    // Only what the mapping reads, in stamp order.
    let q = sf.queries();
    assert!(q.iter().any(|q| q == "SELECT AccountId,Email,FirstName,Id,LastModifiedDate,LastName,Phone,SystemModstamp FROM Contact ORDER BY SystemModstamp, Id"), "{q:?}");
    let run = app
        .admin_get(&format!("/admin/runs/{}", contacts[0].run_id))
        .json();
    assert_eq!(run["process"], "pull");

    // A second pull with nothing changed calls Zendesk for nothing.
    zendesk.clear_log();
    let again = pull_all(&app, "object=Contact&limit=2000");
    assert_eq!(again.iter().map(|r| r.counts.synced).sum::<u32>(), 0);
    assert!(zendesk.log().is_empty(), "{:?}", zendesk.log().len());
}

#[test]
fn the_token_is_kept_renewed_when_it_expires_and_errors_say_what_to_do() {
    let zendesk = FakeZendesk::start(false);
    let sf = FakeSalesforce::start();
    seed(&sf, 2, 450);
    let app = app_for(&zendesk, &sf);
    pull_all(&app, "object=Account");
    let first = app.admin(
        "POST",
        "/admin/pull?object=Contact&limit=200",
        "application/json",
        "",
    );
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(sf.token_calls(), 1, "one token for several calls");
    sf.expire_tokens();
    let reply: PullReply = first.typed();
    let next = app.admin(
        "POST",
        &format!(
            "/admin/pull?cursor={}&limit=200",
            reply.next_cursor.expect("more")
        ),
        "application/json",
        "",
    );
    assert_eq!(
        next.status,
        200,
        "an expired session is renewed: {}",
        next.text()
    );
    assert_eq!(sf.token_calls(), 2);

    // Since: only what changed at or after the stamp.
    let since: PullReply = app
        .admin(
            "POST",
            "/admin/pull?object=Contact&since=2020-11-01T07:00:00Z&limit=2000",
            "application/json",
            "",
        )
        .typed();
    assert_eq!(since.total, 450 - 420);

    // Past the API budget (80 % by default): the page is synced, the run
    // stops there and says why.
    sf.set_api_usage(85, 100);
    let stopped: PullReply = app
        .admin(
            "POST",
            "/admin/pull?object=Contact&limit=200",
            "application/json",
            "",
        )
        .typed();
    assert!(stopped.next_cursor.is_none(), "no further page");
    assert!(
        stopped
            .stopped
            .as_deref()
            .unwrap_or_default()
            .contains("sf_api_budget_percent"),
        "{stopped:?}"
    );
    assert!(stopped.failed.iter().any(|f| f.record == "api budget"));
    sf.set_api_usage(0, 1_000_000);

    // A 503 is asked again within the call.
    sf.fail_next_queries(&[503]);
    let again = app.admin("POST", "/admin/pull?object=Contact", "application/json", "");
    assert_eq!(again.status, 200, "{}", again.text());
    sf.set_api_usage(100, 100);
    let spent = app.admin("POST", "/admin/pull?object=Contact", "application/json", "");
    assert_eq!(spent.status, 502);
    assert!(spent.text().contains("daily API limit"), "{}", spent.text());

    let unmapped = app.admin(
        "POST",
        "/admin/pull?object=Opportunity",
        "application/json",
        "",
    );
    assert_eq!(unmapped.status, 400);
    assert!(
        unmapped.text().contains("no object Opportunity"),
        "{}",
        unmapped.text()
    );
    let dump = app.kv_dump();
    assert!(
        dump.iter().any(|(k, _)| k == "state/sf-token"),
        "the token is kept between calls"
    );
    for secret in [CLIENT_SECRET, "00Dfake!token"] {
        assert!(!app.all_logs().contains(secret), "a log holds {secret}");
        let needle = secret.as_bytes();
        for (key, value) in &dump {
            assert!(
                !value.windows(needle.len()).any(|w| w == needle),
                "the store holds {secret} in the clear under {key}"
            );
        }
    }
}

#[test]
fn without_the_connected_app_variables_a_pull_names_them() {
    let zendesk = FakeZendesk::start(false);
    let app = TestApp::with_zendesk(&zendesk.url(), false);
    let resp = app.admin("POST", "/admin/pull?object=Contact", "application/json", "");
    assert_eq!(resp.status, 500, "{}", resp.text());
    let body: Value = resp.json();
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("sf_my_domain_url"),
        "{body}"
    );
}

/// A reconcile sweep after changes made while the triggers were off heals
/// exactly those records, reads but does not push the ones whose mapped
/// fields did not change, and a second sweep calls the destination for
/// nothing.
#[test]
fn a_sweep_heals_exactly_what_changed_while_the_triggers_were_off() {
    let zendesk = FakeZendesk::start(false);
    let sf = FakeSalesforce::start();
    seed(&sf, 3, 1_000);
    let app = app_for(&zendesk, &sf);
    pull_all(&app, "object=Account");
    pull_all(&app, "object=Contact&limit=2000");
    assert_eq!(synced_of(&collect_all(&app)), 1_000);

    let sweep = |app: &TestApp| follow(app, "reconcile", "object=Contact");
    // Nothing changed in the last day: nothing read, nothing called.
    zendesk.clear_log();
    let first = sweep(&app);
    assert_eq!(first.iter().map(|r| r.fetched).sum::<usize>(), 0);
    assert!(zendesk.log().is_empty());

    // While the triggers were off: 300 Contacts changed a mapped field, 50
    // were saved with no mapped change.
    let now = now_stamp();
    for n in 0..350 {
        let changed = n < 300;
        sf.upsert(
            "Contact",
            json!({"Id": contact_id(n), "FirstName": if changed { format!("Renamed{n}") } else { format!("C{n}") },
                   "LastName": "Pull", "Email": format!("c{n}@example.com"), "Phone": null,
                   "AccountId": account_id(n % 3), "LastModifiedDate": now, "SystemModstamp": now}),
        );
    }
    zendesk.clear_log();
    let healed = sweep(&app);
    let read: usize = healed.iter().map(|r| r.fetched).sum();
    let queued: usize = healed.iter().map(|r| r.bulk.queued).sum();
    assert_eq!((read, queued), (350, 300), "{healed:?}");
    assert_eq!(synced_of(&collect_all(&app)), 300);
    let touched: std::collections::BTreeSet<String> =
        users_written(&zendesk.log()).into_iter().collect();
    let expected: std::collections::BTreeSet<String> = (0..300).map(contact_id).collect();
    assert_eq!(touched, expected, "exactly the changed records were pushed");
    let one = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(7)))
        .json();
    assert!(
        one["healed_at"].is_string(),
        "the record says a sweep healed it: {one}"
    );
    assert_eq!(one["last_trigger"], "reconcile");
    let same = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(320)))
        .json();
    assert!(same.get("healed_at").is_none(), "{same}");
    let run = app
        .admin_get(&format!("/admin/runs/{}", healed[0].run_id))
        .json();
    assert_eq!(run["process"], "reconcile");

    // Again, with no change: the lookback reads the same records, and
    // nothing is pushed.
    zendesk.clear_log();
    let again = sweep(&app);
    assert_eq!(again.iter().map(|r| r.counts.synced).sum::<u32>(), 0);
    assert!(zendesk.log().is_empty(), "{}", zendesk.log().len());
}

/// Pulls run at once never have more than `sf_max_concurrent_requests`
/// requests at Salesforce together, whichever instance sends them; a call
/// that finds every slot taken for too long is refused for now (503, with
/// `Retry-After`), changing nothing. A Salesforce that answers 429 or 503
/// is asked again within the call; one that keeps failing is handed back
/// the same way.
#[test]
fn concurrent_pulls_keep_to_the_bound_and_an_unavailable_salesforce_is_retried() {
    const BOUND: u32 = 2;
    let zendesk = FakeZendesk::start(false);
    let sf = FakeSalesforce::start();
    seed(&sf, 2, 400);
    let mut vars = zendesk_variables(&zendesk.url(), false);
    vars.insert("sf_my_domain_url".into(), sf.url());
    vars.insert("sf_client_id".into(), CLIENT_ID.into());
    vars.insert("sf_client_secret".into(), CLIENT_SECRET.into());
    vars.insert("sf_max_concurrent_requests".into(), BOUND.to_string());
    let app = TestApp::with_variables(vars);
    pull_all(&app, "object=Account");

    sf.set_delay(std::time::Duration::from_millis(700));
    let answers: Vec<(u16, Option<String>, String)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let r = app.admin(
                        "POST",
                        "/admin/pull?object=Contact&limit=200",
                        "application/json",
                        "",
                    );
                    (
                        r.status,
                        r.header("retry-after").map(str::to_string),
                        r.text(),
                    )
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().expect("a call"))
            .collect()
    });
    assert!(
        sf.peak_in_flight() <= BOUND,
        "{} requests at once",
        sf.peak_in_flight()
    );
    assert_eq!(sf.peak_in_flight(), BOUND, "the calls overlapped");
    let mut refused = 0;
    for (status, retry_after, text) in &answers {
        match status {
            200 => {}
            503 => {
                refused += 1;
                assert!(retry_after.is_some(), "{text}");
                assert!(text.contains("sf_max_concurrent_requests"), "{text}");
            }
            other => panic!("{other}: {text}"),
        }
    }
    assert!(refused < answers.len(), "{answers:?}");

    sf.set_delay(std::time::Duration::ZERO);
    sf.fail_next_queries(&[429, 503]);
    let retried = app.admin(
        "POST",
        "/admin/pull?object=Contact&limit=200",
        "application/json",
        "",
    );
    assert_eq!(retried.status, 200, "{}", retried.text());
    sf.fail_next_queries(&[503, 503, 503]);
    let down = app.admin(
        "POST",
        "/admin/pull?object=Contact&limit=200",
        "application/json",
        "",
    );
    assert_eq!(down.status, 503, "{}", down.text());
    assert_eq!(down.header("retry-after"), Some("30"));
    assert!(down.text().contains("run again later"), "{}", down.text());
}

/// A conversion seen by a sweep (the Lead's message lost, or never sent):
/// the Lead's user follows the Contact, and the Contact's sweep updates that
/// user instead of making a second one.
#[test]
fn a_sweep_that_sees_a_lead_converted_hands_its_user_to_the_contact() {
    let zendesk = FakeZendesk::start(false);
    let sf = FakeSalesforce::start();
    let lead_id = |n: usize| format!("00Q{n:012}EAA");
    let lead = |n: usize, converted: bool, stamp: &str| {
        json!({"Id": lead_id(n), "FirstName": format!("Lea{n}"), "LastName": "Prospect",
               "Email": format!("lea{n}@example.com"), "Phone": null, "Company": "Initech",
               "IsConverted": converted, "ConvertedContactId": if converted { Value::from(contact_id(n)) } else { Value::Null },
               "LastModifiedDate": stamp, "SystemModstamp": stamp})
    };
    for n in 0..5 {
        sf.upsert("Lead", lead(n, false, &stamp(n)));
    }
    let app = app_for(&zendesk, &sf);
    pull_all(&app, "object=Lead");
    assert_eq!(zendesk.users().len(), 5);
    let lead_user = app
        .admin_get(&format!("/admin/records/Lead/{}", lead_id(1)))
        .json()["destination"]["id"]
        .clone();
    assert!(
        sf.queries()
            .iter()
            .all(|q| q.contains("IsConverted") && q.contains("ConvertedContactId")),
        "a pull of Leads reads the conversion fields: {:?}",
        sf.queries()
    );

    // Lead 1 converts (another email on the Contact); no message arrives.
    let now = now_stamp();
    sf.upsert("Lead", lead(1, true, &now));
    sf.upsert(
        "Account",
        json!({"Id": account_id(0), "Name": "Org 0", "Description": null, "Website": null,
               "LastModifiedDate": now, "SystemModstamp": now}),
    );
    sf.upsert(
        "Contact",
        json!({"Id": contact_id(1), "FirstName": "Lea1", "LastName": "Customer",
               "Email": "lea1@work.example.com", "Phone": null, "AccountId": account_id(0),
               "LastModifiedDate": now, "SystemModstamp": now}),
    );
    let swept = follow(&app, "reconcile", "object=Lead");
    assert_eq!(swept.iter().map(|r| r.fetched).sum::<usize>(), 1);
    let l = app
        .admin_get(&format!("/admin/records/Lead/{}", lead_id(1)))
        .json();
    assert_eq!(
        l["converted_to"],
        format!("Contact/{}", contact_id(1)),
        "{l}"
    );
    follow(&app, "reconcile", "object=Account");
    follow(&app, "reconcile", "object=Contact");
    assert_eq!(zendesk.users().len(), 5, "no second user");
    let c = app
        .admin_get(&format!("/admin/records/Contact/{}", contact_id(1)))
        .json();
    assert_eq!(c["destination"]["id"], lead_user, "{c}");
    assert_eq!(c["status"], "synced", "{c}");
    let user = zendesk
        .user_by_email("lea1@work.example.com")
        .expect("the Contact's email");
    assert_eq!(user["external_id"], contact_id(1));
    assert_eq!(user["name"], "Lea1 Customer");
    assert!(user["organization_id"].is_u64(), "{user}");

    // A second sweep: the converted Lead costs nothing.
    zendesk.clear_log();
    follow(&app, "reconcile", "object=Lead");
    assert!(zendesk.log().is_empty(), "{:?}", zendesk.log());
}
