//! The fault matrix: one Contact's first sync (multi-organization Zendesk,
//! its Account already synced: several destination calls and many
//! key-value calls), with one fault injected per cell — the key-value store
//! failing on each of its calls, the destination answering 400, 500, 429,
//! resetting or hanging at each of its calls. In every cell: no notification
//! is acknowledged whose outcome is not stored, and a redelivery heals every
//! cell that was not acknowledged.

use std::time::{Duration, Instant};

use serde_json::Value;
use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::{CallFault, FakeZendesk};
use sfsync_tests::soap::{contact, contact_id, message, Record};

const ACCOUNT: &str = "001000000000001AAA";

fn account() -> Record<'static> {
    Record {
        object: "Account",
        notification_id: "04l0000000000F0001".into(),
        fields: vec![
            ("Id", Some(ACCOUNT.into())),
            ("Name", Some("Acme".into())),
            ("LastModifiedDate", Some("2026-11-20T10:00:00.000Z".into())),
        ],
    }
}

fn acked(text: &str) -> bool {
    text.contains("<Ack>true</Ack>")
}

struct Rig {
    fake: FakeZendesk,
    app: TestApp,
    org: u64,
    next: usize,
}

impl Rig {
    fn start() -> Rig {
        let fake = FakeZendesk::start(true);
        let app = TestApp::with_zendesk(&fake.url(), true);
        let resp = app.send_message("/sf/created", &message(ORG_ID, &[account()]));
        assert!(acked(&resp.text()), "{}", resp.text());
        let org = fake.organizations()[0]["id"].as_u64().expect("org");
        Rig {
            fake,
            app,
            org,
            next: 100,
        }
    }

    /// A new Contact's message, and its number.
    fn next_contact(&mut self) -> (usize, String) {
        self.next += 1;
        let n = self.next;
        (
            n,
            message(ORG_ID, &[contact(n, &format!("c{n}@example.com"))]),
        )
    }

    fn view(&self, n: usize) -> Option<Value> {
        let resp = self
            .app
            .admin_get(&format!("/admin/records/Contact/{}", contact_id(n)));
        (resp.status == 200).then(|| resp.json())
    }

    /// The invariant of every cell, after a delivery answered `text`.
    fn check(&self, cell: &str, n: usize, message: &str, text: &str) {
        let notification = contact(n, "").notification_id;
        if acked(text) {
            let v = self
                .view(n)
                .unwrap_or_else(|| panic!("{cell}: acknowledged, but nothing stored"));
            let ids: Vec<String> =
                serde_json::from_value(v["notification_ids"].clone()).unwrap_or_default();
            assert!(
                ids.contains(&notification),
                "{cell}: acknowledged, but the outcome is not recorded: {v}"
            );
            if v["status"] == "error" {
                assert_eq!(
                    v["last_error"]["kind"], "permanent",
                    "{cell}: only a permanent failure is acknowledged: {v}"
                );
            } else {
                self.healed(cell, n);
            }
            return;
        }
        assert!(
            text.contains("Fault"),
            "{cell}: neither Ack nor Fault: {text}"
        );
        // Salesforce redelivers; with the fault gone it heals.
        let again = self.app.send_message("/sf/created", message);
        assert!(
            acked(&again.text()),
            "{cell}: the redelivery did not heal it: {}",
            again.text()
        );
        self.healed(cell, n);
    }

    /// The Contact is synced: one user, in the Account's organization.
    fn healed(&self, cell: &str, n: usize) {
        let v = self.view(n).expect("stored");
        assert_eq!(v["status"], "synced", "{cell}: {v}");
        let email = format!("c{n}@example.com");
        let users: Vec<Value> = self
            .fake
            .users()
            .into_iter()
            .filter(|u| u["email"] == email.as_str())
            .collect();
        assert_eq!(users.len(), 1, "{cell}: exactly one user: {users:?}");
        let uid = users[0]["id"].as_u64().expect("uid");
        assert!(
            self.fake
                .memberships_of(uid)
                .iter()
                .any(|(o, _)| *o == self.org),
            "{cell}: in the Account's organization"
        );
    }
}

#[test]
fn every_key_value_call_of_a_sync_failing_in_turn() {
    let mut rig = Rig::start();
    if rig.app.kv_faults().is_none() {
        eprintln!("skipped: a real spin cannot fail a chosen key-value call");
        return;
    }
    let count = |rig: &Rig| rig.app.kv_faults().map_or(0, |f| f.calls());
    // How many key-value calls one clean sync makes (after a first one:
    // the first record of an object also enters it in the index's registry).
    let (_, first) = rig.next_contact();
    assert!(acked(&rig.app.send_message("/sf/created", &first).text()));
    let (_, clean) = rig.next_contact();
    let before = count(&rig);
    assert!(acked(&rig.app.send_message("/sf/created", &clean).text()));
    let calls = count(&rig) - before;
    assert!(calls >= 8, "a sync makes {calls} key-value calls");
    eprintln!("one sync: {calls} key-value calls; failing each in turn");
    let mut acknowledged = 0;
    for k in 1..=calls {
        let (n, msg) = rig.next_contact();
        let faults = rig.app.kv_faults().expect("test host");
        faults.fail_call(k);
        let text = rig.app.send_message("/sf/created", &msg).text();
        acknowledged += usize::from(acked(&text));
        rig.check(&format!("key-value call {k} of {calls}"), n, &msg, &text);
    }
    eprintln!(
        "{acknowledged} of {calls} cells acknowledged at once, the rest healed by redelivery"
    );
    // The record index counted each stored record once, whichever call
    // failed: a failed write gave its slots back.
    let stored = rig.app.record_keys().len();
    let stats = rig.app.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], stored, "{stats}");
    assert_eq!(stats["synced"], stored, "{stats}");
}

#[test]
fn every_destination_call_of_a_sync_failing_each_way() {
    let mut rig = Rig::start();
    let (_, clean) = rig.next_contact();
    let before = rig.fake.served();
    assert!(acked(&rig.app.send_message("/sf/created", &clean).text()));
    let calls = rig.fake.served() - before;
    assert!(calls >= 3, "a multi-org sync makes {calls} calls");
    let kinds = [
        ("400", CallFault::Status(400, None)),
        ("500", CallFault::Status(500, None)),
        ("429 Retry-After 30", CallFault::Status(429, Some(30))),
        ("reset", CallFault::Reset),
        ("hang", CallFault::Hang(Duration::from_secs(15))),
    ];
    for (name, fault) in kinds {
        for i in 1..=calls {
            let (n, msg) = rig.next_contact();
            rig.fake.fail_call(i, fault.clone());
            let started = Instant::now();
            let text = rig.app.send_message("/sf/created", &msg).text();
            assert!(
                started.elapsed() < Duration::from_secs(14),
                "{name} at call {i}: answered after {:?}",
                started.elapsed()
            );
            rig.check(&format!("{name} at call {i} of {calls}"), n, &msg, &text);
        }
    }
}

fn lone_contacts(from: usize, count: usize) -> String {
    let records: Vec<Record> = (from..from + count)
        .map(|n| sfsync_tests::soap::lone_contact(n, &format!("d{n}@example.com")))
        .collect();
    message(ORG_ID, &records)
}

#[test]
fn a_slow_destination_never_holds_a_message_past_its_deadline() {
    let fake = FakeZendesk::start(false);
    let app = TestApp::with_zendesk(&fake.url(), false);
    // Every call takes 9 s: three waves of eight would need 27 s.
    fake.set_latency(Duration::from_secs(9));
    let msg = lone_contacts(1, 24);
    let started = Instant::now();
    let resp = app.send_message("/sf/created", &msg);
    let took = started.elapsed();
    let deadline = sync_core::budget::REQUEST_DEADLINE;
    assert!(
        took < deadline + Duration::from_secs(3),
        "answered after {took:?}; the deadline is {deadline:?}"
    );
    assert!(resp.text().contains("Fault"), "{}", resp.text());
    let views: Vec<Value> = (1..=24)
        .map(|n| {
            app.admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
                .json()
        })
        .collect();
    let synced = views.iter().filter(|v| v["status"] == "synced").count();
    assert!(synced >= 16, "two waves fit: {synced} synced");
    for v in views.iter().filter(|v| v["status"] != "synced") {
        assert_eq!(v["last_error"]["kind"], "transient", "{v}");
    }
    eprintln!("24 notifications at 9 s a call: answered in {took:?}, {synced} synced");

    // Salesforce redelivers once the destination is fast again.
    fake.set_latency(Duration::ZERO);
    let again = app.send_message("/sf/created", &msg);
    assert!(acked(&again.text()), "{}", again.text());
    assert_eq!(fake.users().len(), 24);
}

#[test]
fn after_a_long_retry_after_the_message_makes_no_more_calls() {
    let fake = FakeZendesk::start(false);
    let app = TestApp::with_zendesk(&fake.url(), false);
    fake.set_latency(Duration::from_millis(300));
    // The 429 comes back while the other calls of the first wave are still
    // under way (a success answered first would start the next wave's
    // call before the 429 is known, which is no fault of sfsync's).
    fake.fail_call(1, CallFault::StatusAtOnce(429, Some(30)));
    let before = fake.served();
    let resp = app.send_message("/sf/created", &lone_contacts(1, 20));
    let calls = fake.served() - before;
    assert!(resp.text().contains("Fault"), "{}", resp.text());
    assert!(
        calls <= sync_core::pipeline::CONCURRENCY,
        "only the calls already under way when the 429 came: {calls}"
    );
    let waiting = (1..=20)
        .map(|n| {
            app.admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
                .json()
        })
        .filter(|v| {
            v["last_error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("asked to wait 30 s"))
        })
        .count();
    assert!(
        waiting >= 20 - calls,
        "the records not called say why: {waiting}"
    );
}
