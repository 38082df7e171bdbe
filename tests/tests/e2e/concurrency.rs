//! Every change arrives once and last, with two nodes on one store.
//!
//! Over 200 deliveries for 20 records — created and updated messages with
//! interleaved `LastModifiedDate`s, duplicates, redeliveries, resends and
//! backfills — are fired in parallel at two app instances sharing one store
//! (a SQLite file, then a Redis database), against the fake Zendesk, which
//! serves requests concurrently with some latency. Whatever was not
//! acknowledged is delivered again, as Salesforce (or the CLI, for a `busy`
//! resend or backfill row) does. Afterwards, for every record:
//! the destination holds the newest source state, the stored fingerprint
//! is that state's, every Contact is in its Account's organization (their
//! messages race), no user or organization exists twice, and every
//! acknowledged notification is recorded on its record.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use sfsync_tests::app::{zendesk_variables, Store, TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sfsync_tests::soap::{message, Record};
use sync_core::admin::wire::{BackfillReply, ResendOutcome, ResendReply};
use sync_core::mapping::Mapping;
use sync_core::record::{Status, SyncRecord};
use sync_core::sobject::{FieldValue, SObject};

const ACCOUNTS: usize = 6;
const CONTACTS: usize = 14;
const VERSIONS: usize = 5;

/// One test record: an Account (`n < ACCOUNTS`) or a Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rec(usize);

impl Rec {
    fn all() -> impl Iterator<Item = Rec> {
        (0..ACCOUNTS + CONTACTS).map(Rec)
    }

    fn object(self) -> &'static str {
        if self.0 < ACCOUNTS {
            "Account"
        } else {
            "Contact"
        }
    }

    fn id(self) -> String {
        match self.object() {
            "Account" => format!("001{:012}AAA", self.0 + 100),
            _ => format!("003{:012}AAA", self.0 + 100),
        }
    }

    /// Some Contacts have no email: Zendesk finds them by external id only.
    fn email(self) -> Option<String> {
        (self.object() == "Contact" && !self.0.is_multiple_of(4))
            .then(|| format!("c{}@example.com", self.0))
    }

    /// A Contact's Account: its messages race the Contact's.
    fn account(self) -> Rec {
        Rec(self.0 % ACCOUNTS)
    }

    fn stamp(version: usize) -> String {
        format!("2026-11-20T10:{:02}:00.000Z", 10 + version)
    }

    /// The record's fields at `version`, as Salesforce sends them.
    fn fields(self, version: usize) -> Vec<(&'static str, Option<String>)> {
        let mut f = vec![("Id", Some(self.id()))];
        match self.object() {
            "Account" => f.push(("Name", Some(format!("Acme {} v{version}", self.0)))),
            _ => {
                f.push(("AccountId", Some(self.account().id())));
                if let Some(e) = self.email() {
                    f.push(("Email", Some(e)));
                }
                f.push(("FirstName", Some(format!("Ana{}", self.0))));
                f.push(("LastName", Some(format!("Lima-{version}"))));
            }
        }
        f.push(("LastModifiedDate", Some(Rec::stamp(version))));
        f
    }

    fn notification(self, version: usize) -> Record<'static> {
        Record {
            object: self.object(),
            notification_id: format!("04l{:012}{version:03}", self.0),
            fields: self.fields(version),
        }
    }

    /// What the destination must hold in the end: the name of the newest
    /// version.
    fn newest_name(self) -> String {
        match self.object() {
            "Account" => format!("Acme {} v{VERSIONS}", self.0),
            _ => format!("Ana{} Lima-{VERSIONS}", self.0),
        }
    }

    fn newest_sobject(self) -> SObject {
        let fields = self
            .fields(VERSIONS)
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), FieldValue::Text(v))))
            .collect();
        SObject::new(self.object().into(), &self.id(), fields).expect("valid id")
    }
}

#[derive(Debug, Clone)]
enum Delivery {
    Message {
        route: &'static str,
        notifications: Vec<(Rec, usize)>,
    },
    Resend(Vec<Rec>),
    Backfill {
        object: &'static str,
        version: usize,
    },
}

/// The deliveries, in a shuffled order (the same every run).
fn deliveries() -> Vec<Delivery> {
    let mut out = Vec::new();
    let updated = |notifications| Delivery::Message {
        route: "/sf/updated",
        notifications,
    };
    for r in Rec::all() {
        out.push(Delivery::Message {
            route: "/sf/created",
            notifications: vec![(r, 1)],
        });
        for v in 2..=VERSIONS {
            out.push(updated(vec![(r, v)]));
        }
        // Redeliveries and duplicates of what was already sent.
        out.push(Delivery::Message {
            route: "/sf/created",
            notifications: vec![(r, 1)],
        });
        out.push(updated(vec![(r, 2)]));
        out.push(updated(vec![(r, 3)]));
        out.push(updated(vec![(r, VERSIONS)]));
        out.push(Delivery::Resend(vec![r]));
    }
    // Messages of several records, as Salesforce batches them.
    for pair in Rec::all().collect::<Vec<_>>().chunks(2) {
        out.push(updated(pair.iter().map(|r| (*r, 4)).collect()));
    }
    out.push(Delivery::Resend(
        Rec::all().filter(|r| r.0.is_multiple_of(3)).collect(),
    ));
    // An old export (stale) and a current one (unchanged).
    out.push(Delivery::Backfill {
        object: "Contact",
        version: 2,
    });
    out.push(Delivery::Backfill {
        object: "Account",
        version: VERSIONS,
    });
    let mut seed: u64 = 0x5EED;
    for i in (1..out.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.swap(i, (seed >> 33) as usize % (i + 1));
    }
    out
}

fn csv(object: &str, version: usize) -> String {
    let recs: Vec<Rec> = Rec::all().filter(|r| r.object() == object).collect();
    let columns: Vec<&str> = recs[0].fields(version).iter().map(|(k, _)| *k).collect();
    let mut text = columns.join(",") + "\n";
    for r in recs {
        let row: BTreeMap<&str, String> = r
            .fields(version)
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(c).cloned().unwrap_or_default())
            .collect();
        text += &(cells.join(",") + "\n");
    }
    text
}

/// Deliver once. `Ok` when the sender is done with it: acknowledged (a
/// message), or every record answered other than busy.
fn deliver(app: &TestApp, d: &Delivery, acknowledged: &Mutex<Vec<(Rec, usize)>>) -> bool {
    match d {
        Delivery::Message {
            route,
            notifications,
        } => {
            let records: Vec<Record> = notifications
                .iter()
                .map(|(r, v)| r.notification(*v))
                .collect();
            let resp = app.send_message(route, &message(ORG_ID, &records));
            let acked = resp.status == 200 && resp.text().contains("<Ack>true</Ack>");
            if acked {
                acknowledged.lock().expect("lock").extend(notifications);
            } else {
                let text = resp.text();
                let reason = text
                    .split("<faultstring>")
                    .nth(1)
                    .and_then(|t| t.split("</faultstring>").next())
                    .unwrap_or(&text);
                eprintln!("not acknowledged: {reason}");
                assert!(
                    resp.text().contains("soapenv:Fault") || resp.text().contains("Fault"),
                    "a delivery not acknowledged must be a SOAP Fault: {} {}",
                    resp.status,
                    resp.text()
                );
            }
            acked
        }
        Delivery::Resend(recs) => {
            let ids: Vec<String> = recs
                .iter()
                .map(|r| format!("{}/{}", r.object(), r.id()))
                .collect();
            let resp = app.admin(
                "POST",
                "/admin/resend",
                "application/json",
                json!({ "records": ids }).to_string(),
            );
            assert_eq!(resp.status, 200, "{}", resp.text());
            let reply: ResendReply = resp.typed();
            reply
                .results
                .iter()
                .all(|r| r.outcome != ResendOutcome::Busy)
        }
        Delivery::Backfill { object, version } => {
            let resp = app.admin(
                "POST",
                &format!("/admin/backfill?object={object}"),
                "text/csv",
                csv(object, *version),
            );
            assert_eq!(resp.status, 200, "{}", resp.text());
            let reply: BackfillReply = resp.typed();
            assert!(reply.rejected.is_empty(), "{:?}", reply.rejected);
            reply.busy.is_empty()
        }
    }
}

fn fire_at_two_nodes(store: Store) {
    let fake = FakeZendesk::start(false);
    fake.set_latency(Duration::from_millis(5));
    let first = TestApp::with_options(zendesk_variables(&fake.url(), false), None, store);
    let second = first.another_node();
    let nodes = [&first, &second];
    let all = deliveries();
    assert!(all.len() >= 200, "{} deliveries", all.len());

    let acknowledged = Mutex::new(Vec::new());
    let mut pending: Vec<Delivery> = all.clone();
    let mut rounds = 0;
    let mut refused = 0usize;
    while !pending.is_empty() {
        rounds += 1;
        assert!(
            rounds <= 30,
            "still not delivered after 30 rounds: {pending:?}"
        );
        let next = AtomicUsize::new(0);
        let again = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(d) = pending.get(i) else { break };
                    if !deliver(nodes[i % 2], d, &acknowledged) {
                        again.lock().expect("lock").push(d.clone());
                    }
                });
            }
        });
        pending = again.into_inner().expect("lock");
        refused += pending.len();
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    eprintln!(
        "{} deliveries to two nodes: {refused} not acknowledged (or busy) and delivered again, {rounds} rounds",
        all.len()
    );

    let users = fake.users();
    let orgs = fake.organizations();
    let stored: BTreeMap<String, SyncRecord> = first
        .kv_dump()
        .into_iter()
        .filter(|(k, _)| k.starts_with("rec/"))
        .map(|(k, v)| (k, serde_json::from_slice(&v).expect("a record")))
        .collect();
    let mapping = Mapping::bundled();
    let acknowledged = acknowledged.into_inner().expect("lock");
    for r in Rec::all() {
        let key = format!("rec/{}/{}", r.object(), r.id());
        let record = stored
            .get(&key)
            .unwrap_or_else(|| panic!("{key} not stored"));
        let at_destination: Vec<&Value> = match r.object() {
            "Account" => orgs
                .iter()
                .filter(|o| o["external_id"] == json!(r.id()))
                .collect(),
            _ => users
                .iter()
                .filter(|u| u["external_id"] == json!(r.id()))
                .collect(),
        };
        assert_eq!(
            at_destination.len(),
            1,
            "{key}: exactly one destination record, found {at_destination:?}"
        );
        assert_eq!(
            at_destination[0]["name"],
            json!(r.newest_name()),
            "{key}: the destination holds the newest state"
        );
        // Synced, or skipped by a later arrival that changed nothing mapped.
        let unchanged = record.status == Status::Skipped
            && record.skip_reason.as_deref() == Some("no mapped field changed");
        assert!(
            record.ever_synced && (record.status == Status::Synced || unchanged),
            "{key}: {record:?}"
        );
        if r.object() == "Contact" {
            let account_org = orgs
                .iter()
                .find(|o| o["external_id"] == json!(r.account().id()))
                .map(|o| o["id"].clone());
            assert_eq!(
                Some(at_destination[0]["organization_id"].clone()),
                account_org,
                "{key}: in its Account's organization"
            );
        }
        assert_eq!(
            record.source_modified_at.as_deref(),
            Some(Rec::stamp(VERSIONS).as_str())
        );
        let newest = r.newest_sobject();
        let fingerprint = mapping
            .object(r.object())
            .expect("mapped")
            .fingerprint(&newest);
        assert_eq!(
            record.fingerprint.as_deref(),
            Some(fingerprint.as_str()),
            "{key}: the stored fingerprint is the newest state's"
        );
        assert_eq!(
            record.destination.as_ref().and_then(|d| d.id.clone()),
            at_destination[0]["id"].as_u64().map(|id| id.to_string()),
            "{key}: linked to the one destination record"
        );
        for (_, v) in acknowledged.iter().filter(|(a, _)| *a == r) {
            let id = r.notification(*v).notification_id;
            assert!(
                record.notification_ids.contains(&id),
                "{key}: acknowledged notification {id} is not recorded: {:?}",
                record.notification_ids
            );
        }
    }
    assert_eq!(users.len(), CONTACTS, "no user twice");
    assert_eq!(orgs.len(), ACCOUNTS, "no organization twice");
    // The record index, written by both nodes at once, counts and lists each
    // record once.
    let stats = first.admin_get("/admin/stats").json();
    assert_eq!(stats["total"], CONTACTS + ACCOUNTS, "{stats}");
    assert_eq!(stats["synced"], CONTACTS + ACCOUNTS, "{stats}");
    assert_eq!(stats["error"], 0, "{stats}");
    let listed = second.record_pages("", 7);
    let unique: std::collections::BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a record listed twice");
    assert_eq!(listed.len(), CONTACTS + ACCOUNTS);
    // Leases are given back: none is held once everything answered.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for (k, v) in first
        .kv_dump()
        .into_iter()
        .filter(|(k, _)| k.starts_with("lease/"))
    {
        let value = match <[u8; 8]>::try_from(v.as_slice()) {
            Ok(raw) => i64::from_le_bytes(raw),
            Err(_) => String::from_utf8_lossy(&v).parse().expect("a counter"),
        };
        assert!(value == 0 || (value >> 24) < now, "{k} still held");
    }
}

#[test]
fn two_nodes_on_one_sqlite_file_keep_every_record_newest_and_single() {
    fire_at_two_nodes(Store::Sqlite);
}

#[test]
fn two_nodes_on_one_redis_keep_every_record_newest_and_single() {
    let Some(base) = sfsync_tests::kv::test_redis_url() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: scripts/test starts Redis and sets SFSYNC_TEST_REDIS_URL"
        );
        eprintln!("skipped: no SFSYNC_TEST_REDIS_URL (scripts/test starts a Redis)");
        return;
    };
    let url = sfsync_tests::kv::fresh_redis_database(&base).expect("a Redis database");
    fire_at_two_nodes(Store::Redis(url));
}

/// A lease as the store keeps it: 8 bytes little-endian on SQLite, decimal
/// text on Redis (`sync_core::lease`).
fn planted_lease(app: &TestApp, expires_in: i64) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let value = ((now + expires_in) << 24) | 77;
    match app.redis_url() {
        Some(_) => value.to_string().into_bytes(),
        None => value.to_le_bytes().to_vec(),
    }
}

#[test]
fn a_dead_holder_blocks_its_record_only_until_its_lease_expires() {
    use sfsync_tests::soap::{contact, contact_id};
    let app = TestApp::start();
    let id = contact_id(1);
    let lease = format!("lease/rec/Contact/{id}");
    let created = message(ORG_ID, &[contact(1, "ana@example.com")]);

    // A holder that died 20 s into its lease: the record is busy, the
    // message is refused so that Salesforce retries, and nothing is stored.
    app.kv_seed(&[(lease.clone(), planted_lease(&app, 40))]);
    let resp = app.send_message("/sf/created", &created);
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(resp.text().contains("busy"), "{}", resp.text());
    assert_eq!(
        app.admin_get(&format!("/admin/records/Contact/{id}"))
            .status,
        404
    );

    // Its lease expired: the redelivery goes through.
    app.kv_seed(&[(lease.clone(), planted_lease(&app, -1))]);
    let resp = app.send_message("/sf/created", &created);
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());

    // Resend and backfill answer a busy record per record.
    app.kv_seed(&[(lease.clone(), planted_lease(&app, 40))]);
    let resp = app.admin(
        "POST",
        "/admin/resend",
        "application/json",
        json!({ "records": [format!("Contact/{id}")] }).to_string(),
    );
    let reply: ResendReply = resp.typed();
    assert_eq!(reply.results[0].outcome, ResendOutcome::Busy, "{reply:?}");
    let resp = app.admin(
        "POST",
        "/admin/backfill?object=Contact",
        "text/csv",
        format!("Id,Email,FirstName,LastName\n{id},ana@example.com,Ana,Lima\n003000000000002AAA,bo@example.com,Bo,Berg\n"),
    );
    let reply: BackfillReply = resp.typed();
    assert_eq!(reply.busy.len(), 1, "{reply:?}");
    assert_eq!(reply.busy[0].line, 2);
    assert_eq!(reply.counts.synced, 1, "the other row is synced: {reply:?}");
}
