//! Benchmark: a resend of 50,000 Contacts to Zendesk at an Enterprise
//! account's 700 requests a minute, through the built components on the
//! test host and the fake Zendesk (which enforces the limit and runs bulk
//! jobs a second after they are queued).
//!
//! - Bulk: the way `sfsync resend --object Contact --batch 1000` sends it,
//!   pages of 1,000, then collecting until no job is open. Prints the time,
//!   the destination calls and the calls per record.
//! - Per record, the baseline in the same run: 300 of the same records
//!   resent in calls of 19 (below the bulk threshold), without a rate
//!   limit; prints its calls per record and the time the 50,000 would take
//!   at 700 calls a minute.
//!
//! The store is seeded with the core's own code (records synced before,
//! each with its lease key, 500 Accounts with organizations) and written to
//! the app's SQLite file; the fake Zendesk holds the same users and
//! organizations.
//!
//! Run: `./scripts/bench` (`cargo run --release -p sfsync-tests --example
//! bench_resend -- [records]`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use serde_json::json;
use sfsync_tests::app::{zendesk_variables, Store, TestApp};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sync_core::admin::wire::{ResendOutcome, ResendReply};
use sync_core::index;
use sync_core::memory::{Backend, MemoryKv};
use sync_core::record::{DestinationRef, Process, SyncRecord};
use sync_core::settings::DestinationKind;
use sync_core::sobject::FieldValue;
use sync_core::store::{self, Generation};

const ACCOUNTS: usize = 500;
const RATE: u32 = 700;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000 + secs, 0).unwrap_or_default()
}

fn account_id(a: usize) -> String {
    format!("001{a:012}AAA")
}

fn contact_id(i: usize) -> String {
    format!("003{i:012}AAA")
}

/// The store after `n` Contacts (and their Accounts) synced to `fake`.
fn seeded(n: usize, fake: &FakeZendesk, backend: Backend) -> Vec<(String, Vec<u8>)> {
    let kv = MemoryKv::with_backend(backend);
    let free = match backend {
        Backend::Sqlite => 0i64.to_le_bytes().to_vec(),
        Backend::Redis => b"0".to_vec(),
    };
    let text = |s: String| FieldValue::Text(s);
    let mut orgs = Vec::new();
    let save = |mut r: SyncRecord, zendesk: u64, orgs: Vec<String>| {
        r.status = sync_core::record::Status::Synced;
        r.ever_synced = true;
        r.last_synced_at = Some(at(0));
        r.first_synced_at = Some(at(0));
        r.attempts = 1;
        r.destination_calls = 1;
        r.synced_to = None;
        r.destination = Some(DestinationRef {
            kind: DestinationKind::Zendesk,
            id: Some(zendesk.to_string()),
            organization_ids: orgs,
        });
        let key = store::record_key(&r.reference());
        block_on(index::save(&kv, Generation::default(), None, &mut r)).expect("seeded");
        // Records synced before have their lease key (free).
        block_on(sync_core::io::Kv::set(&kv, &store::lease_key(&key), &free)).expect("lease");
    };
    for a in 0..ACCOUNTS {
        let id = account_id(a);
        let org = fake.seed_organization(&format!("Account {a}"), Some(&id));
        orgs.push(org);
        let mut r = SyncRecord::new("Account", &id, Process::Created);
        r.source_fields = BTreeMap::from([
            ("Id".into(), text(id.clone())),
            ("Name".into(), text(format!("Account {a}"))),
        ]);
        save(r, org, Vec::new());
    }
    for i in 0..n {
        let id = contact_id(i);
        let email = format!("person{i}@example.com");
        let org = orgs[i % ACCOUNTS];
        let user = fake.seed_user(&format!("Person {i}"), &email, Some(org));
        fake.set_user_external_id(user, &id);
        // The user's email entry, and its lease key, as its sync left them.
        let entry = store::EmailEntry {
            user_id: user.to_string(),
            syncing_record: None,
        };
        let email_key = store::email_key(&email);
        block_on(sync_core::io::Kv::set(
            &kv,
            &email_key,
            &serde_json::to_vec(&entry).expect("entry"),
        ))
        .expect("email");
        block_on(sync_core::io::Kv::set(
            &kv,
            &store::lease_key(&email_key),
            &free,
        ))
        .expect("email lease");
        let mut r = SyncRecord::new("Contact", &id, Process::Created);
        r.source_fields = BTreeMap::from([
            ("Id".into(), text(id.clone())),
            ("AccountId".into(), text(account_id(i % ACCOUNTS))),
            ("Email".into(), text(email)),
            ("FirstName".into(), text("Person".into())),
            ("LastName".into(), text(format!("{i}"))),
            (
                "LastModifiedDate".into(),
                text("2026-11-20T10:15:00.000Z".into()),
            ),
        ]);
        r.links = BTreeMap::from([("AccountId".into(), account_id(i % ACCOUNTS))]);
        save(r, user, vec![org.to_string()]);
    }
    kv.map.into_inner().into_iter().collect()
}

fn resend(app: &TestApp, body: serde_json::Value) -> ResendReply {
    app.resend(body)
}

#[derive(Default)]
struct Tally {
    synced: usize,
    other: usize,
}

impl Tally {
    fn add(&mut self, results: &[sync_core::admin::wire::ResendResult]) {
        for r in results {
            match r.outcome {
                ResendOutcome::Queued => {}
                ResendOutcome::Synced => self.synced += 1,
                _ => {
                    if self.other < 3 {
                        eprintln!(
                            "  {}: {:?} {}",
                            r.record,
                            r.outcome,
                            r.error.as_deref().unwrap_or("")
                        );
                    }
                    self.other += 1
                }
            }
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let fake = FakeZendesk::start(false);
    fake.set_job_delay(Duration::from_secs(1));
    let store = match std::env::var("SFSYNC_TEST_REDIS_URL") {
        Ok(url) if std::env::var("SFSYNC_TEST_KV").as_deref() == Ok("redis") => Store::Redis(url),
        _ => Store::Sqlite,
    };
    let (store_name, backend) = match &store {
        Store::Redis(_) => ("Redis", Backend::Redis),
        _ => ("SQLite", Backend::Sqlite),
    };
    let started = Instant::now();
    let entries = seeded(n, &fake, backend);
    let variables = zendesk_variables(&fake.url(), false);
    let app = TestApp::with_options(variables, None, store);
    app.kv_seed(&entries);
    eprintln!(
        "seeded {n} Contacts and {ACCOUNTS} Accounts ({} keys) in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    drop(entries);

    // Per record, the baseline: 300 records in calls of 19, no limit.
    fake.clear_log();
    let sample = 300.min(n);
    let refs: Vec<String> = (0..sample)
        .map(|i| format!("Contact/{}", contact_id(i)))
        .collect();
    let t = Instant::now();
    let mut tally = Tally::default();
    for chunk in refs.chunks(19) {
        tally.add(&resend(&app, json!({ "records": chunk })).results);
    }
    let per_record_secs = t.elapsed().as_secs_f64();
    let per_record_calls = fake.log().len() as f64 / sample as f64;
    assert_eq!(tally.synced, sample, "the per-record sample synced");

    // Bulk, at 700 a minute.
    fake.set_rate_limit(Some(RATE));
    fake.clear_log();
    let faults = app
        .kv_faults()
        .expect("the test host counts key-value calls");
    let (kv_before, writes_before) = (faults.calls(), faults.writes());
    let t = Instant::now();
    let mut tally = Tally::default();
    let mut cursor: Option<String> = None;
    let mut open;
    loop {
        let mut body = json!({"filter": {"object": "Contact"}, "limit": 1000});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = resend(&app, body);
        tally.add(&reply.results);
        tally.add(&reply.collected);
        open = reply.open_jobs;
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            eprintln!(
                "  page at {:.1} s: {} results, {} collected, {open} jobs open",
                t.elapsed().as_secs_f64(),
                reply.results.len(),
                reply.collected.len()
            );
        }
        match reply.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    while open > 0 {
        std::thread::sleep(Duration::from_secs(1));
        let reply = resend(&app, json!({"collect": true}));
        tally.add(&reply.collected);
        open = reply.open_jobs;
        assert!(t.elapsed() < Duration::from_secs(900), "jobs never ended");
    }
    let bulk_secs = t.elapsed().as_secs_f64();
    let calls = fake.log().len();
    let refused = fake.rate_limited();
    let bulk_calls = fake.count("POST", "/api/v2/users/create_or_update_many");
    let polls = fake.count("GET", "/api/v2/job_statuses/show_many");
    let (kv, writes) = (faults.calls() - kv_before, faults.writes() - writes_before);

    let projected_min = per_record_calls * n as f64 / RATE as f64;
    let (write_us, _) = sfsync_tests::kv::sqlite_costs();
    println!(
        "resend of {n} Contacts to Zendesk at {RATE} calls a minute (test host, {store_name}; one SQLite write here: {:.2} ms):",
        write_us / 1000.0
    );
    println!(
        "  bulk:       {bulk_secs:>7.1} s, {calls} calls ({bulk_calls} create_or_update_many, {polls} job polls, {refused} refused), {:.4} calls/record; {} synced, {} other",
        calls as f64 / n as f64,
        tally.synced,
        tally.other
    );
    println!(
        "              {:.1} key-value calls and {:.2} writes per record",
        kv as f64 / n as f64,
        writes as f64 / n as f64
    );
    println!(
        "  per record: {per_record_calls:.2} calls/record (measured on {sample} records in {per_record_secs:.1} s, no limit) -> {projected_min:.0} min for {n} at {RATE}/min"
    );
    println!(
        "  bulk / per record: {:.4}x the calls, {:.4}x the time",
        (calls as f64 / n as f64) / per_record_calls,
        bulk_secs / (projected_min * 60.0).max(per_record_secs * n as f64 / sample as f64)
    );
}
