//! The `sfsync` CLI against the built components (test host listening on
//! 127.0.0.1, or a real Spin with SPIN_BIN) and the fake Zendesk.

use std::process::Command;

use sfsync_tests::app::{TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run `sfsync` with no profile, config file or connection variables but
/// `envs`.
fn run_sfsync(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(args)
        .env_remove("SFSYNC_TOKEN")
        .env_remove("SFSYNC_URL")
        .env_remove("SFSYNC_PROFILE")
        .env("SFSYNC_CONFIG", "/nonexistent/sfsync/config.toml")
        .envs(envs.iter().copied())
        .output()
        .expect("run sfsync");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `sfsync --url base …` with the app's tokens.
fn sfsync(base: &str, args: &[&str]) -> Out {
    let args: Vec<&str> = ["--url", base]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    run_sfsync(
        &args,
        &[
            ("SFSYNC_TOKEN", ADMIN_TOKEN),
            ("SFSYNC_ENDPOINT_TOKEN", ENDPOINT_TOKEN),
            ("SFSYNC_ORG_ID", ORG_ID),
        ],
    )
}

fn zendesk_app(fake: &FakeZendesk) -> TestApp {
    TestApp::with_zendesk(&fake.url(), false)
}

#[test]
fn every_subcommand_against_the_app_and_the_fake_zendesk() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let (base, _listener) = app.listen();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();

    // send-sample: two contacts, one of them failing with a 503 once.
    std::fs::write(
        path("contacts.toml"),
        "[[records]]\nobject = \"Contact\"\nnulls = [\"Phone\"]\n[records.fields]\nId = \"003000000000001AAA\"\nEmail = \"ana@example.com\"\nFirstName = \"Ana\"\nLastName = \"Lima\"\n\n[[records]]\nobject = \"Contact\"\n[records.fields]\nId = \"003000000000002AAA\"\nEmail = \"bo@example.com\"\nFirstName = \"Bo\"\nLastName = \"Berg\"\n",
    )
    .expect("write");
    fake.fail_next_matching(
        "/api/v2/users/create_or_update",
        Some("bo@example.com"),
        1,
        503,
        None,
    );
    let out = sfsync(&base, &["send-sample", &path("contacts.toml")]);
    assert_ne!(out.code, 0, "a 503 is not acknowledged: {}", out.stdout);
    assert!(
        out.stderr.contains("did not acknowledge") && out.stderr.contains("503"),
        "{}",
        out.stderr
    );

    let out = sfsync(&base, &["status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("TOTAL")
            && out.stdout.lines().any(|l| l.starts_with("all")
                && l.split_whitespace().collect::<Vec<_>>() == ["all", "2", "1", "1", "0", "0"]),
        "{}",
        out.stdout
    );
    let out = sfsync(&base, &["status", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(stats["error"], 1);

    let out = sfsync(&base, &["records", "--status", "error"]);
    assert!(
        out.stdout.contains("Contact/003000000000002AAA")
            && !out.stdout.contains("003000000000001AAA"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("503"),
        "the last error is shown: {}",
        out.stdout
    );
    let out = sfsync(&base, &["records", "--json", "--all", "--limit", "1"]);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);

    let out = sfsync(&base, &["show", "Contact/003000000000001AAA", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(view["status"], "synced");
    let out = sfsync(&base, &["show", "Contact/003000000000001AAA"]);
    assert!(
        out.stdout.contains("status") && out.stdout.contains("synced") && !out.stdout.contains('{'),
        "a readable panel, not JSON: {}",
        out.stdout
    );

    // resend by filter heals the 503 record.
    let out = sfsync(&base, &["resend", "--status", "error"]);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("resent 1: 1 synced, 0 failed"),
        "{}",
        out.stdout
    );
    assert_eq!(fake.users().len(), 2);
    let out = sfsync(
        &base,
        &[
            "resend",
            "Contact/003000000000001AAA",
            "Contact/003999999999999AAA",
        ],
    );
    assert_eq!(
        out.code, 3,
        "an unknown record is a failure: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("003999999999999AAA: unknown"),
        "{}",
        out.stderr
    );

    let out = sfsync(&base, &["export", "-o", &path("export.csv")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let csv = std::fs::read_to_string(path("export.csv")).expect("csv");
    assert!(csv.starts_with("object,salesforce_id,"));
    assert_eq!(csv.lines().count(), 3);

    std::fs::write(
        path("refs.csv"),
        "salesforce_contact_id,zendesk_user_id\n003000000000003AAA,42\nbad,1\n",
    )
    .expect("write");
    let out = sfsync(&base, &["import", &path("refs.csv")]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(
        out.stdout.contains("imported 1") && out.stderr.contains("line 3"),
        "{} {}",
        out.stdout,
        out.stderr
    );

    let out = sfsync(&base, &["mapping", "get"]);
    assert!(out.stdout.contains("[objects.Contact]"));
    std::fs::write(path("bad.toml"), "[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = { from = \"Email\", transforms = [\"lowercase\"] }\n").expect("write");
    let out = sfsync(&base, &["mapping", "validate", &path("bad.toml")]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("objects.Contact.fields.email")
            && out.stderr.contains("did you mean \"lower\""),
        "{}",
        out.stderr
    );
    std::fs::write(path("good.toml"), out_mapping(&base)).expect("write");
    assert_eq!(
        sfsync(&base, &["mapping", "validate", &path("good.toml")]).code,
        0
    );
    let out = sfsync(&base, &["mapping", "put", &path("good.toml")]);
    assert!(out.stdout.contains("mapping active"), "{}", out.stderr);

    assert!(sfsync(&base, &["pause"]).stdout.contains("paused"));
    assert!(sfsync(&base, &["status"]).stdout.contains("PAUSED"));
    assert!(sfsync(&base, &["resume"]).stdout.contains("resumed"));

    let out = sfsync(&base, &["runs"]);
    assert!(
        out.stdout.contains("created") && out.stdout.contains("resend"),
        "{}",
        out.stdout
    );
    let out = sfsync(&base, &["runs", "--status", "failed", "--json"]);
    let runs: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(!runs.is_empty());

    // Two sent Contacts and the imported one: a rebuild enters all three.
    let out = sfsync(&base, &["reindex"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("index generation 1 built: 3 records entered"),
        "{}",
        out.stdout
    );
    let stats = sfsync(&base, &["status", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).expect("json");
    assert_eq!(stats["total"], 3, "{stats}");
}

fn out_mapping(base: &str) -> String {
    sfsync(base, &["mapping", "get"]).stdout
}

#[test]
fn errors_say_what_to_do_and_every_subcommand_has_an_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["--url", "http://127.0.0.1:9", "status"])
        .env("SFSYNC_TOKEN", "x")
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach http://127.0.0.1:9/admin/stats")
            && err.contains("refused")
            && err.contains("hint: nothing accepts connections at 127.0.0.1:9"),
        "{err}"
    );

    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["--url", &base, "status"])
        .env_remove("SFSYNC_TOKEN")
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SFSYNC_TOKEN"));
    let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["--url", &base, "--token", "wrong", "status"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401") && err.contains("admin_token"), "{err}");

    for sub in [
        "status",
        "records",
        "show",
        "resend",
        "export",
        "import",
        "mapping get",
        "mapping put",
        "mapping validate",
        "pause",
        "resume",
        "runs",
        "send-sample",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
            .args(&args)
            .output()
            .expect("run");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "sfsync {sub} --help has no example:\n{help}"
        );
    }
}

#[test]
fn backfill_shows_a_summary_and_resumes_from_the_saved_cursor() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("contacts.csv");
    let mut csv = String::from("Id,Email,FirstName,LastName\n");
    for i in 0..25 {
        csv.push_str(&format!("003{i:012}AAA,u{i}@example.com,Ana,Lima {i}\n"));
    }
    csv.push_str("003BAD,x@example.com,X,Y\n");
    std::fs::write(&file, &csv).expect("write");

    // An earlier run stopped after the first batch of 10: its progress is
    // saved.
    let first_ten: String = csv.lines().take(11).map(|l| format!("{l}\n")).collect();
    let first = app.admin(
        "POST",
        "/admin/backfill?object=Contact&first_line=2",
        "text/csv",
        first_ten,
    );
    assert_eq!(first.status, 200, "{}", first.text());
    std::fs::write(
        dir.path().join("contacts.csv.sfsync-cursor"),
        "next_row=10\n",
    )
    .expect("write cursor");

    let file_arg = file.to_string_lossy().into_owned();
    let out = sfsync(
        &base,
        &[
            "backfill", "--object", "Contact", &file_arg, "--batch", "10",
        ],
    );
    assert_eq!(
        out.code, 3,
        "a rejected row makes the exit code 3: {} {}",
        out.stdout, out.stderr
    );
    assert!(out.stderr.contains("resuming"), "{}", out.stderr);
    assert!(
        out.stdout.contains("15 synced, 0 skipped"),
        "only the rest was sent: {}",
        out.stdout
    );
    assert!(out.stderr.contains("line 27: rejected"), "{}", out.stderr);
    assert!(
        !dir.path().join("contacts.csv.sfsync-cursor").exists(),
        "the cursor is removed when done"
    );
    assert_eq!(app.admin_get("/admin/stats").json()["synced"], 25);

    // Again from the start: nothing to send.
    let out = sfsync(
        &base,
        &["backfill", "--object", "Contact", &file_arg, "--restart"],
    );
    assert!(
        out.stdout.contains("0 synced, 25 skipped"),
        "{}",
        out.stdout
    );
}

/// A references file larger than one call is sent in batches read from the
/// file as they go; every rejection names the line of the file itself, even
/// after a quoted field over two lines and in the last batch.
#[test]
fn import_sends_a_large_file_in_batches_with_the_files_own_lines() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("refs.csv");
    let mut csv = String::from("salesforce_contact_id,zendesk_user_id\r\n");
    let mut line = 2;
    let mut bad_lines = Vec::new();
    for i in 0..1_205u64 {
        if i == 3 {
            // A quoted id over two lines: the rows after it are one line on.
            csv.push_str(&format!("003{i:012}AAA,\"{}\r\n\"\r\n", i + 1));
            line += 2;
        } else if i == 700 || i == 1_204 {
            csv.push_str(&format!("003{i:012}AAA,not-a-number\r\n"));
            bad_lines.push(line);
            line += 1;
        } else {
            csv.push_str(&format!("003{i:012}AAA,{}\r\n", i + 1));
            line += 1;
        }
    }
    std::fs::write(&file, &csv).expect("write");
    let refused = sfsync(&base, &["import", &file.to_string_lossy()]);
    assert_eq!(
        refused.code, 2,
        "over 100 rows ask first: {}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let out = sfsync(&base, &["import", &file.to_string_lossy(), "--yes"]);
    assert_eq!(out.code, 3, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("imported 1203 references"),
        "{}",
        out.stdout
    );
    for l in &bad_lines {
        assert!(
            out.stderr.contains(&format!("line {l}: zendesk_user_id")),
            "line {l} is named: {}",
            out.stderr
        );
    }
    assert_eq!(bad_lines, vec![703, 1207]);
    // A row of the last batch is linked.
    let view = app
        .admin_get("/admin/records/Contact/003000000001203AAA")
        .json();
    assert_eq!(view["destination"]["id"], "1204", "{view}");
}

/// HTTPS through a local TLS endpoint whose certificate a private CA
/// signed: trusted with `--ca-cert` (or `SFSYNC_CA_CERT`), refused without,
/// with an error that names the URL and the certificate as the cause.
#[test]
fn https_with_a_private_ca() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let upstream = base
        .trim_start_matches("http://")
        .parse()
        .expect("listener address");
    let tls = sfsync_tests::tls::TlsProxy::start(upstream);
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem()).expect("writing the CA");
    let url = tls.url();

    let out = sfsync(
        &url,
        &[
            "--ca-cert",
            ca.to_str().expect("utf-8 path"),
            "status",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"total\""), "{}", out.stdout);

    let out = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["--url", &url, "status"])
        .env("SFSYNC_TOKEN", ADMIN_TOKEN)
        .env("SFSYNC_CA_CERT", &ca)
        .output()
        .expect("run sfsync");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sfsync(&url, &["status"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains(&format!("cannot reach {url}/admin/stats"))
            && out.stderr.to_ascii_lowercase().contains("certificate")
            && out.stderr.contains("--ca-cert"),
        "{}",
        out.stderr
    );

    let bad = dir.path().join("not-a-cert.pem");
    std::fs::write(&bad, "hello").expect("write");
    let out = sfsync(&url, &["--ca-cert", bad.to_str().expect("utf-8"), "status"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("holds no certificate"),
        "{}",
        out.stderr
    );
}

/// What a backfill of 15-character ids left before ids were normalised: a
/// store record under the short key and Zendesk records with the short
/// `external_id`. `sfsync repair-ids` reports it (`--dry-run`), repairs it,
/// leaves a conflict to a person, and a second run finds nothing to do.
#[test]
fn repair_ids_rewrites_what_15_character_ids_left_behind() {
    use sync_core::record::{DestinationRef, Process, SyncRecord};
    use sync_core::settings::DestinationKind;

    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let (base, _listener) = app.listen();
    let (c1, c2, c3) = (
        "003000000000001AAA",
        "003000000000002AAA",
        "003000000000003AAA",
    );
    // Contact 1: stored under its 15-character key, its user rewritten to
    // the short form. Contact 2: stored right, its user under the short form.
    // Contact 3: two users, one under each form.
    let u1 = fake.seed_user("Ana Lima", "ana@example.com", None);
    fake.set_user_external_id(u1, &c1[..15]);
    let u2 = fake.seed_user("Bo Berg", "bo@example.com", None);
    fake.set_user_external_id(u2, &c2[..15]);
    let u3 = fake.seed_user("Cy Cole", "cy@example.com", None);
    fake.set_user_external_id(u3, &c3[..15]);
    let u3b = fake.seed_user("Cy Cole", "cy2@example.com", None);
    fake.set_user_external_id(u3b, c3);
    let org = fake.seed_organization("Acme", Some(&"001000000000001AAA"[..15]));
    let stored = |id: &str, user: u64| {
        let mut r = SyncRecord::new("Contact", id, Process::Backfill);
        r.destination = Some(DestinationRef {
            kind: DestinationKind::Zendesk,
            id: Some(user.to_string()),
            organization_ids: Vec::new(),
        });
        r.ever_synced = true;
        serde_json::to_vec(&r).expect("json")
    };
    let mut account = SyncRecord::new("Account", "001000000000001AAA", Process::Backfill);
    account.ever_synced = true;
    app.kv_seed(&[
        (format!("rec/Contact/{}", &c1[..15]), stored(&c1[..15], u1)),
        (format!("rec/Contact/{c2}"), stored(c2, u2)),
        (format!("rec/Contact/{c3}"), stored(c3, u3b)),
        (
            "rec/Account/001000000000001AAA".into(),
            serde_json::to_vec(&account).expect("json"),
        ),
    ]);

    let dry = sfsync(&base, &["repair-ids", "--dry-run", "--batch", "2"]);
    assert_eq!(
        dry.code, 3,
        "a conflict needs a person: {}{}",
        dry.stdout, dry.stderr
    );
    assert!(
        dry.stdout.contains("1 store records would be merged")
            && dry.stdout.contains("3 Zendesk records would be rewritten")
            && dry.stdout.contains("1 need a person"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&format!("{u3}")) && dry.stdout.contains(&format!("{u3b}")));
    let ext = |id: u64| {
        fake.users()
            .into_iter()
            .find(|u| u["id"] == id)
            .map(|u| u["external_id"].clone())
            .expect("user")
    };
    assert_eq!(ext(u1), c1[..15], "a dry run changes nothing");
    assert!(app
        .kv_dump()
        .iter()
        .any(|(k, _)| k == &format!("rec/Contact/{}", &c1[..15])));

    let real = sfsync(&base, &["repair-ids"]);
    assert_eq!(real.code, 3, "{}{}", real.stdout, real.stderr);
    assert_eq!(ext(u1), c1);
    assert_eq!(ext(u2), c2);
    assert_eq!(ext(u3), c3[..15], "the conflict is left alone");
    assert_eq!(
        fake.organizations()[0]["external_id"],
        "001000000000001AAA",
        "organization {org} rewritten"
    );
    let keys: Vec<String> = app.kv_dump().into_iter().map(|(k, _)| k).collect();
    assert!(
        !keys.contains(&format!("rec/Contact/{}", &c1[..15])),
        "{keys:?}"
    );
    let view = app
        .admin_get(&format!("/admin/records/Contact/{c1}"))
        .json();
    assert_eq!(view["destination"]["id"], u1.to_string(), "{view}");
    let runs = app.admin_get("/admin/runs?process=repair").json();
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");

    let again = sfsync(&base, &["repair-ids"]);
    assert!(
        again.stdout.contains(
            "0 store records were merged, 0 Zendesk records were rewritten, 1 need a person"
        ),
        "{}",
        again.stdout
    );
}

#[test]
fn a_bulk_resend_waits_for_its_jobs_and_counts_every_record() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let (base, _listener) = app.listen();
    let contacts: Vec<_> = (1..=60)
        .map(|i| sfsync_tests::soap::lone_contact(i, &format!("p{i}@example.com")))
        .collect();
    let resp = app.send_message(
        "/sf/created",
        &sfsync_tests::soap::message(ORG_ID, &contacts),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    // One of them will be refused in its job: its email is someone else's.
    fake.seed_user("Other", "taken@example.com", None);
    let id = sfsync_tests::soap::contact_id(9);
    let mut moved = sfsync_tests::soap::lone_contact(9, "taken@example.com");
    moved.notification_id = "04l000000000000999".into();
    app.send_message(
        "/sf/updated",
        &sfsync_tests::soap::message(ORG_ID, &[moved]),
    );
    fake.clear_log();

    let out = sfsync(&base, &["resend", "--object", "Contact", "--batch", "1000"]);
    assert_eq!(
        out.code, 3,
        "one record failed: {} {}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.contains("resent 60: 59 synced, 1 failed"),
        "{} {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains(&id) && out.stderr.contains("bulk job"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.count("POST", "/api/v2/users/create_or_update_many"), 1);
    let out = sfsync(&base, &["resend", "--collect"]);
    assert_eq!(
        out.code, 0,
        "nothing left to collect: {} {}",
        out.stdout, out.stderr
    );
}

fn json_lines(out: &Out) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// One rule for --json (one object, or one per line for lists), the exit
/// codes, profiles, completions, and no colour without a terminal.
#[test]
fn json_exit_codes_profiles_and_completions_follow_one_rule() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let contacts: Vec<_> = (1..=3)
        .map(|i| sfsync_tests::soap::contact(i, &format!("c{i}@example.com")))
        .collect();
    app.send_message(
        "/sf/created",
        &sfsync_tests::soap::message(ORG_ID, &contacts),
    );
    let dir = tempfile::tempdir().expect("tempdir");

    // Objects: one line each.
    for args in [
        &["status", "--json"][..],
        &["pause", "--json"],
        &["resume", "--json"],
        &["mapping", "get", "--json"],
        &["doctor", "--json"],
        &["show", "Contact/003000000000001AAA", "--json"],
        &["reindex", "--json"],
    ] {
        let out = sfsync(&base, args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(
            json_lines(&out).len(),
            1,
            "{args:?}: one object: {}",
            out.stdout
        );
    }
    let export = dir.path().join("e.csv").to_string_lossy().into_owned();
    let out = sfsync(&base, &["export", "-o", &export, "--json"]);
    assert_eq!(json_lines(&out)[0]["records"], 3);
    // Lists: one object per record or run.
    let out = sfsync(&base, &["records", "--json"]);
    assert_eq!(json_lines(&out).len(), 3);
    let out = sfsync(&base, &["runs", "--json"]);
    assert!(json_lines(&out).iter().all(|r| r["process"].is_string()));

    // Tables without a terminal: no colour codes, one row a line.
    let out = sfsync(&base, &["records"]);
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);

    // Exit codes: 2 for usage.
    assert_eq!(sfsync(&base, &["resend"]).code, 2);
    assert_eq!(sfsync(&base, &["--no-such-flag", "status"]).code, 2);
    assert_eq!(sfsync(&base, &["show", "not-a-record"]).code, 2);
    assert_eq!(
        sfsync("http://127.0.0.1:9", &["status"]).code,
        1,
        "unreachable is an error"
    );

    // Completions.
    for shell in ["bash", "zsh", "fish"] {
        let out = run_sfsync(&["completions", shell], &[]);
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("resend") && out.stdout.contains("doctor"),
            "{shell}"
        );
    }

    // Profiles: URL and token from the config file, the token from a file.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).expect("write");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "default = \"local\"\n[profiles.local]\nurl = \"{base}\"\ntoken_file = \"{}\"\n[profiles.byenv]\nurl = \"{base}\"\ntoken_env = \"MY_SFSYNC_TOKEN\"\n",
            token_file.display()
        ),
    )
    .expect("write");
    let cfg = config.to_string_lossy().into_owned();
    let out = run_sfsync(&["--config", &cfg, "status", "--json"], &[]);
    assert_eq!(out.code, 0, "the default profile: {}", out.stderr);
    assert_eq!(json_lines(&out)[0]["total"], 3);
    let out = run_sfsync(
        &["--profile", "byenv", "status"],
        &[
            ("SFSYNC_CONFIG", cfg.as_str()),
            ("MY_SFSYNC_TOKEN", ADMIN_TOKEN),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_sfsync(&["--config", &cfg, "--profile", "prod", "status"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("local, byenv") || out.stderr.contains("byenv, local"),
        "{}",
        out.stderr
    );
}

/// More than 100 records ask first; without a terminal the command refuses
/// and says to pass --yes; --dry-run says what would be sent and sends
/// nothing.
#[test]
fn acting_on_many_records_asks_first_and_dry_run_sends_nothing() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let contacts: Vec<_> = (1..=120)
        .map(|i| sfsync_tests::soap::contact(i, &format!("m{i}@example.com")))
        .collect();
    for part in contacts.chunks(60) {
        let resp = app.send_message("/sf/created", &sfsync_tests::soap::message(ORG_ID, part));
        assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
    }
    assert_eq!(app.admin_get("/admin/stats").json()["synced"], 120);
    let runs_before = app.admin_get("/admin/runs").json()["runs"]
        .as_array()
        .map(Vec::len);

    let out = sfsync(&base, &["resend", "--status", "synced"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("120 records") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    let out = sfsync(&base, &["resend", "--status", "synced", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("would resend 120 records"),
        "{}",
        out.stdout
    );
    assert_eq!(
        app.admin_get("/admin/runs").json()["runs"]
            .as_array()
            .map(Vec::len),
        runs_before,
        "a dry run sends nothing"
    );
    let out = sfsync(&base, &["resend", "--status", "synced", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("resent 120"), "{}", out.stdout);
}

/// A report export (labels, a footer) backfills; --dry-run shows the
/// columns and what the first rows would send; a column that matches no
/// field is named.
#[test]
fn a_report_export_backfills_through_its_labels() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.csv");
    let mut csv = String::from("\u{feff}\"Contact ID\",\"First Name\",\"Last Name\",\"Email\",\"Account ID\",\"Fax Number\"\n");
    for i in 1..=5 {
        csv.push_str(&format!(
            "\"{}\",\"Ana{i}\",\"Lima\",\"ana{i}@example.com\",\"\",\"\"\n",
            sfsync_tests::soap::contact_id(i)
        ));
    }
    csv.push_str("\n\"Confidential Information - Do Not Distribute\"\n\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\n");
    std::fs::write(&file, csv).expect("write");
    let f = file.to_string_lossy().into_owned();

    let out = sfsync(&base, &["backfill", "--object", "Contact", &f, "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("First Name") && out.stdout.contains("FirstName"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"Fax Number\" matches no field"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"name\": \"Ana1 Lima\""),
        "what would be sent: {}",
        out.stdout
    );
    assert_eq!(
        app.admin_get("/admin/stats").json()["total"],
        0,
        "nothing was sent"
    );

    let out = sfsync(&base, &["backfill", "--object", "Contact", &f]);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("5 synced"),
        "the footer is not rows: {}",
        out.stdout
    );
    assert!(out.stderr.contains("Fax Number"), "{}", out.stderr);
    let view = app
        .admin_get(&format!(
            "/admin/records/Contact/{}",
            sfsync_tests::soap::contact_id(2)
        ))
        .json();
    assert_eq!(
        view["last_payload"]["fields"]["name"], "Ana2 Lima",
        "{view}"
    );

    let out = sfsync(
        &base,
        &[
            "backfill",
            "--object",
            "Contact",
            &f,
            "--columns",
            "Fax Number",
        ],
    );
    assert_eq!(
        out.code, 2,
        "a bad column map is a usage error: {}",
        out.stderr
    );
}

/// `sfsync doctor`: a checklist, exit 0 when nothing blocks sync; each
/// problem with its fix and exit 1 when something does.
#[test]
fn doctor_prints_each_problem_with_its_fix() {
    let fake = FakeZendesk::start(false);
    let app = zendesk_app(&fake);
    let (base, _listener) = app.listen();
    let out = sfsync(&base, &["doctor"]);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("nothing blocks sync"), "{}", out.stdout);
    assert!(out.stdout.contains("zendesk: answers"), "{}", out.stdout);

    let mut vars = sfsync_tests::app::zendesk_variables(&fake.url(), false);
    vars.insert("zendesk_api_token".into(), "wrong-token-wrong-token".into());
    let broken = TestApp::with_variables(vars);
    let (base, _listener) = broken.listen();
    let out = sfsync(&base, &["doctor"]);
    assert_eq!(out.code, 1, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("problem:") && out.stdout.contains("fix:"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("wrong-token-wrong-token"),
        "never a secret"
    );
}

/// `sfsync pull`: page after page with a summary; a saved stamp resumes.
#[test]
fn pull_reads_every_page_and_resumes_from_the_saved_stamp() {
    use sfsync_tests::fake_salesforce::{FakeSalesforce, CLIENT_ID, CLIENT_SECRET};
    let sf = FakeSalesforce::start();
    for n in 0..450usize {
        let stamp = format!("2026-11-01T{:02}:{:02}:00.000+0000", n / 60, n % 60);
        sf.upsert(
            "Contact",
            serde_json::json!({"Id": format!("003{n:012}AAA"), "FirstName": "P", "LastName": format!("L{n}"),
                "Email": format!("p{n}@example.com"), "Phone": null, "AccountId": null,
                "LastModifiedDate": stamp, "SystemModstamp": stamp}),
        );
    }
    let mut vars = sfsync_tests::app::default_variables();
    vars.insert("sf_my_domain_url".into(), sf.url());
    vars.insert("sf_client_id".into(), CLIENT_ID.into());
    vars.insert("sf_client_secret".into(), CLIENT_SECRET.into());
    let app = TestApp::with_variables(vars);
    let (base, _listener) = app.listen();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("pull.state");
    let state_arg = state.to_string_lossy().into_owned();

    let out = sfsync(
        &base,
        &[
            "pull", "--object", "Contact", "--batch", "200", "--state", &state_arg,
        ],
    );
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("pulled 450 Contact records: 450 synced"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Salesforce API use today"),
        "{}",
        out.stdout
    );
    assert!(!state.exists(), "done: no progress file left");

    // An interrupted pull left its stamp: the next one reads from there.
    std::fs::write(&state, "since=2026-11-01T07:00:00.000+0000\n").expect("write");
    let out = sfsync(
        &base,
        &[
            "pull", "--object", "Contact", "--state", &state_arg, "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("resuming from SystemModstamp"),
        "{}",
        out.stderr
    );
    let summary: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one object");
    assert_eq!(summary["fetched"], 30);
    assert_eq!(summary["unchanged"], 30, "already synced: nothing to send");

    // A sweep of every mapped object: nothing changed in the last day.
    let out = sfsync(&base, &["reconcile", "--json"]);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    let sweep: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one object");
    let objects: Vec<&str> = sweep["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["object"].as_str())
        .collect();
    assert_eq!(objects, ["Account", "Contact", "Lead"]);
    assert_eq!(sweep["failed"], 0);

    // Salesforce unavailable for longer than the call's own tries: the
    // page is refused for now (503, Retry-After), and the CLI waits and
    // asks again by itself.
    sf.fail_next_queries_asking(&[503, 503, 503], 1);
    let out = sfsync(
        &base,
        &["pull", "--object", "Contact", "--state", &state_arg],
    );
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("three times; run again later; asking again in 1 s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("pulled 450 Contact records"),
        "{}",
        out.stdout
    );
}
