//! The built components import only what `wit/world.wit` and WASI 0.2
//! provide, and export the WASI 0.2 HTTP handler: the contract every Spin
//! platform (and the test host) implements.

use sfsync_tests::app::{ensure_built, root};
use sfsync_tests::host::{component_exports, component_imports};

/// The `import x;` lines of wit/world.wit.
fn world_imports() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("wit/world.wit")).expect("wit/world.wit");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .map(|l| l.trim_end_matches(';').trim().to_string())
        .collect()
}

#[test]
fn components_import_only_the_host_contract() {
    ensure_built();
    let world = world_imports();
    assert_eq!(
        world,
        [
            "fermyon:spin/key-value@2.0.0",
            "fermyon:spin/variables@2.0.0",
            "wasi:keyvalue/store@0.2.0-draft2",
            "wasi:keyvalue/atomics@0.2.0-draft2",
            "wasi:keyvalue/batch@0.2.0-draft2",
        ]
    );
    for file in [
        "record_created",
        "field_updated",
        "resend",
        "admin",
        "admin_write",
    ] {
        let path = root().join(format!("target/wasm32-wasip2/release/{file}.wasm"));
        let imports = component_imports(&path).expect("imports");
        for name in &imports {
            let wasi_02 = name.starts_with("wasi:") && name.contains("@0.2.");
            assert!(
                wasi_02 || world.contains(name),
                "{file} imports {name}, which is neither WASI 0.2 nor in wit/world.wit"
            );
        }
        // Every function reads its settings, keeps sync status in the store
        // and takes per-record leases with its atomics.
        for needed in [
            "fermyon:spin/variables@2.0.0",
            "fermyon:spin/key-value@2.0.0",
            "wasi:keyvalue/atomics@0.2.0-draft2",
        ] {
            assert!(
                imports.iter().any(|i| i == needed),
                "{file} does not import {needed}: {imports:?}"
            );
        }
        let exports = component_exports(&path).expect("exports");
        assert!(
            exports
                .iter()
                .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
            "{file} exports {exports:?}"
        );
        eprintln!("{file}: imports {imports:?}, exports {exports:?}");
    }
}

// ---------------------------------------------------------------------------
// The manifest on every released Spin (spin-host.md §9).

use std::collections::BTreeMap;

use sfsync_tests::app::{default_variables, spin_bin, Store, TestApp, ORG_ID};
use sfsync_tests::fake_webhook::FakeWebhook;
use sfsync_tests::fake_zendesk::{self, FakeZendesk};
use sfsync_tests::outbound::SpinRules;
use sfsync_tests::soap::{contact, contact_id, lone_contact, message};
use sync_core::admin::wire::{RecordView, ResendOutcome, ResendReply, Stats};
use sync_core::record::{ErrorKind, Process, Status};
use sync_core::settings::DestinationKind;

/// The rule sets to run: all three on the test host; on a real `spin`
/// (`SPIN_BIN`), that Spin's own (shown as `None`).
fn rule_sets() -> Vec<Option<SpinRules>> {
    if spin_bin().is_some() {
        vec![None]
    } else {
        SpinRules::ALL.into_iter().map(Some).collect()
    }
}

fn with(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut vars = default_variables();
    for (k, v) in pairs {
        vars.insert(k.to_string(), v.to_string());
    }
    vars
}

/// The variables of a Zendesk-only setup (`webhook_*` left unset).
fn zendesk_only(zendesk: &FakeZendesk) -> BTreeMap<String, String> {
    with(&[
        ("destination", "zendesk"),
        ("zendesk_url", &zendesk.url()),
        ("zendesk_email", fake_zendesk::AGENT_EMAIL),
        ("zendesk_api_token", fake_zendesk::API_TOKEN),
    ])
}

/// Send one Contact through `/sf/created` and return its record view.
fn sync_one(app: &TestApp, n: usize) -> RecordView {
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(n, &format!("ana{n}@example.com"))]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    record(app, n)
}

fn record(app: &TestApp, n: usize) -> RecordView {
    app.admin_get(&format!("/admin/records/Contact/{}", contact_id(n)))
        .typed()
}

#[test]
fn loads_and_syncs_in_every_configuration_under_every_rule_set() {
    for rules in rule_sets() {
        let label = rules.map_or("the real spin".to_string(), |r| r.to_string());

        // Nothing configured: dry-run, nothing leaves.
        let app = TestApp::with_options(default_variables(), rules, Store::FromEnv);
        let v = sync_one(&app, 1);
        assert_eq!(v.status, Status::Synced, "{label}, dry-run: {v:?}");
        assert_eq!(
            v.destination.map(|d| d.kind),
            Some(DestinationKind::DryRun),
            "{label}"
        );
        drop(app);

        // Zendesk only: webhook_* left unset.
        let zendesk = FakeZendesk::start(false);
        let app = TestApp::with_options(zendesk_only(&zendesk), rules, Store::FromEnv);
        let v = sync_one(&app, 2);
        assert_eq!(v.status, Status::Synced, "{label}, Zendesk only: {v:?}");
        assert_eq!(
            v.destination.map(|d| d.kind),
            Some(DestinationKind::Zendesk),
            "{label}"
        );
        assert!(
            zendesk.user_by_email("ana2@example.com").is_some(),
            "{label}: no user in Zendesk"
        );
        drop(app);

        // Webhook only: zendesk_* left unset.
        let hook = FakeWebhook::start();
        let vars = with(&[("destination", "webhook"), ("webhook_url", &hook.url())]);
        let app = TestApp::with_options(vars, rules, Store::FromEnv);
        let v = sync_one(&app, 3);
        assert_eq!(v.status, Status::Synced, "{label}, webhook only: {v:?}");
        assert_eq!(hook.received().len(), 1, "{label}: the webhook got no call");
    }
}

/// The manifest sfsync shipped before: `""` defaults for the URLs. The test
/// host must refuse it as Spin 3.4–4.0.2 do, and deny the calls as 3.0–3.3
/// do, or the suite cannot catch that mistake again.
#[test]
fn the_rules_catch_an_empty_default_in_allowed_outbound_hosts() {
    if spin_bin().is_some() {
        eprintln!("skipped: compares the test host's rule sets, not a real spin's");
        return;
    }
    let text = std::fs::read_to_string(root().join("spin.toml")).expect("spin.toml");
    let old = text
        .replace(
            "default = \"https://zendesk-url-not-set.invalid\"",
            "default = \"\"",
        )
        .replace(
            "default = \"https://webhook-url-not-set.invalid\"",
            "default = \"\"",
        )
        .replace(
            "source = \"target/",
            &format!("source = \"{}/target/", root().display()),
        );
    assert_ne!(
        old, text,
        "spin.toml no longer has the inert defaults this test replaces"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("spin.toml");
    std::fs::write(&manifest, old).expect("writing the old manifest");

    let zendesk = FakeZendesk::start(false);
    let vars = zendesk_only(&zendesk);
    let refused = TestApp::try_with_manifest(
        &manifest,
        vars.clone(),
        Some(SpinRules::V4_0),
        Store::Sqlite,
    )
    .err()
    .expect("Spin 4.0 rules refuse to load an empty default");
    assert!(
        refused.contains("`allowed_outbound_hosts` is malformed: using default variable value(s) with template \"{{ zendesk_url }}\" results in invalid config \"\""),
        "{refused}"
    );

    let old_3 = TestApp::try_with_manifest(
        &manifest,
        vars.clone(),
        Some(SpinRules::V3_3),
        Store::Sqlite,
    )
    .expect("Spin 3.3 rules load it");
    let v = sync_one_refused(&old_3, 4);
    assert_eq!(last_failure(&v).kind, ErrorKind::Config, "{v:?}");
    assert!(
        last_failure(&v).message.contains("refused the call"),
        "{v:?}"
    );
    assert!(zendesk.user_by_email("ana4@example.com").is_none());

    let old_41 = TestApp::try_with_manifest(&manifest, vars, Some(SpinRules::V4_1), Store::Sqlite)
        .expect("Spin 4.1 rules load it");
    assert_eq!(sync_one(&old_41, 5).status, Status::Synced);
}

/// A config error is refused so that Salesforce retries; the record says why.
fn sync_one_refused(app: &TestApp, n: usize) -> RecordView {
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(n, &format!("ana{n}@example.com"))]),
    );
    assert!(!resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    record(app, n)
}

/// The last error of a record view, which must have one.
fn last_failure(v: &RecordView) -> &sync_core::failure::Failure {
    &v.last_error
        .as_ref()
        .unwrap_or_else(|| panic!("no last error: {v:?}"))
        .failure
}

/// A user who sets the unused URL variable to `""` (rather than leaving it
/// unset) breaks every call on released Spin; the record names the variable.
#[test]
fn a_blank_url_variable_is_named_when_spin_denies_the_calls() {
    for rules in rule_sets() {
        let zendesk = FakeZendesk::start(false);
        let mut vars = zendesk_only(&zendesk);
        vars.insert("webhook_url".into(), String::new());
        let app = TestApp::with_options(vars, rules, Store::FromEnv);
        let denied = rules != Some(SpinRules::V4_1) && rules.is_some();
        if !denied {
            // 4.1 skips the empty entry; a real spin may be either.
            continue;
        }
        let v = sync_one_refused(&app, 6);
        assert!(
            last_failure(&v)
                .message
                .contains("webhook_url is set to an empty value"),
            "{rules:?}: {v:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Many nodes on one Redis (spin-host.md §10).

use sfsync_tests::kv::{fresh_redis_database, test_redis_url};

#[test]
fn two_nodes_on_one_redis_share_every_record() {
    let Some(base) = test_redis_url() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: scripts/test starts Redis and sets SFSYNC_TEST_REDIS_URL"
        );
        eprintln!("skipped: no SFSYNC_TEST_REDIS_URL (./scripts/test starts a Redis)");
        return;
    };
    let url = fresh_redis_database(&base).expect("a Redis database");
    let zendesk = FakeZendesk::start(false);
    let vars = zendesk_only(&zendesk);
    let node_a = TestApp::with_options(vars.clone(), None, Store::Redis(url.clone()));
    let node_b = TestApp::with_options(vars, None, Store::Redis(url));

    // Created through A, seen through B.
    let v = sync_one(&node_a, 7);
    assert_eq!(v.status, Status::Synced, "{v:?}");
    let seen = record(&node_b, 7);
    assert_eq!(
        seen.status,
        Status::Synced,
        "node B does not see node A's record: {seen:?}"
    );
    assert_eq!(seen.destination, v.destination);

    // Updated through B: the same Zendesk user changes, no second one.
    let mut update = lone_contact(7, "ana7@example.com");
    update.notification_id = "04l000000000000777".into();
    for (name, value) in &mut update.fields {
        match *name {
            "FirstName" => *value = Some("Beatriz".into()),
            "LastModifiedDate" => *value = Some("2026-11-20T11:00:00.000Z".into()),
            _ => {}
        }
    }
    let resp = node_b.send_message("/sf/updated", &message(ORG_ID, &[update]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    assert_eq!(zendesk.users().len(), 1, "{:?}", zendesk.users());
    let user = zendesk.user_by_email("ana7@example.com").expect("the user");
    assert_eq!(user["name"], "Beatriz Lima");
    let seen = record(&node_a, 7);
    assert_eq!(seen.last_trigger, Process::Updated, "{seen:?}");

    // Resent through A: the record B updated is pushed again, to the same user.
    let resend = node_a.admin(
        "POST",
        "/admin/resend",
        "application/json",
        format!(r#"{{"records":["Contact/{}"]}}"#, contact_id(7)),
    );
    assert_eq!(resend.status, 200, "{}", resend.text());
    let reply: ResendReply = resend.typed();
    assert_eq!(reply.results[0].outcome, ResendOutcome::Synced, "{reply:?}");
    assert_eq!(zendesk.users().len(), 1);
    let stats: Stats = node_b.admin_get("/admin/stats").typed();
    assert_eq!(stats.counts.total, 1, "{stats:?}");

    // Spin's Redis store keeps plain keys, with no label prefix.
    let keys: Vec<String> = node_a.kv_dump().into_iter().map(|(k, _)| k).collect();
    assert!(
        keys.contains(&format!("rec/Contact/{}", contact_id(7))),
        "{keys:?}"
    );
}

// ---------------------------------------------------------------------------
// A `spin up` the suite starts is stopped with its whole process group.

use sfsync_tests::app::{group_members, SpinProcess};

#[test]
fn a_stopped_spin_leaves_no_process_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pidfile = dir.path().join("child.pid");
    // Like `spin up`, which runs the app in a `spin trigger http` child: here
    // a child that ignores SIGTERM, so only a kill of the group ends it.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "(trap '' TERM; exec sleep 300) & echo $! > {}; wait",
        pidfile.display()
    ));
    let process = SpinProcess::spawn(cmd, &dir.path().join("log")).expect("spawn");
    let pgid = process.pgid();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let child: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        group_members(pgid).contains(&child),
        "{:?}",
        group_members(pgid)
    );
    drop(process);
    assert_eq!(
        group_members(pgid),
        Vec::<i32>::new(),
        "processes outlived the stop"
    );
}

/// A variable provider that fails (an unreachable Vault) is a fault that
/// Salesforce retries and a 500 for the admin API, never a silent "unset"
/// (which would sync to dry-run instead of Zendesk).
#[test]
fn a_failing_variable_provider_is_refused_not_read_as_unset() {
    let vars = with(&[("destination", "zendesk")]);
    let Some(app) = TestApp::with_failing_variables(vars, &["destination"]) else {
        eprintln!("skipped: only the test host can make a provider fail");
        return;
    };
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[contact(41, "vault@example.com")]),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(
        resp.text().contains("destination") && resp.text().contains("provider"),
        "{}",
        resp.text()
    );
    assert!(app.kv_dump().is_empty(), "nothing was written");
    let admin = app.admin_get("/admin/stats");
    assert_eq!(admin.status, 500, "{}", admin.text());
    assert!(admin.text().contains("misconfigured"), "{}", admin.text());
}
