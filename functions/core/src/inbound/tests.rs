//! The Outbound Message endpoint and the pipeline behind it, against in-memory I/O: what a trigger stores and answers.

use super::*;
use crate::budget::REQUEST_DEADLINE;
use crate::memory::{MemoryKv, ScriptedHttp};
use crate::record::IgnoreReason;
use crate::record::{ErrorKind, Status, SyncRecord};
use crate::settings::DestinationKind;
use crate::settings::Settings;
use crate::web::Request;
use chrono::{DateTime, Utc};
use futures::executor::block_on;

const ORG: &str = "00D000000000062EAA";
const TOKEN: &str = "endpoint-token-1";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut all: Vec<(String, String)> = vec![
        ("sf_organization_id".into(), ORG[..15].into()),
        ("sf_endpoint_token".into(), TOKEN.into()),
        ("admin_token".into(), "admin".into()),
    ];
    for (k, v) in pairs {
        all.retain(|(name, _)| name != k);
        all.push((k.to_string(), v.to_string()));
    }
    Settings::load(|name| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("settings")
}

fn contact(notification_id: &str, id: &str, email: &str, modified: &str) -> String {
    format!(
        r#"<Notification><Id>{notification_id}</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{id}</sf:Id><sf:Email>{email}</sf:Email><sf:FirstName>Ana</sf:FirstName><sf:LastName>Lima</sf:LastName><sf:Phone xsi:nil="true"/><sf:LastModifiedDate>{modified}</sf:LastModifiedDate><sf:Zz_Note__c>{notification_id}</sf:Zz_Note__c></sObject></Notification>"#
    )
}

fn message(org: &str, notifications: &[String]) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId><SessionId>SESSION-SECRET</SessionId>{}</notifications></soapenv:Body></soapenv:Envelope>"#,
        notifications.concat()
    )
    .into_bytes()
}

fn post(query: &str, body: Vec<u8>) -> Request {
    Request {
        method: "POST".into(),
        path: "/sf/created".into(),
        query: query.into(),
        headers: vec![("content-type".into(), "text/xml".into())],
        body,
    }
}

fn run(trigger: Process, settings: &Settings, kv: &MemoryKv, req: &Request) -> Response {
    let http = ScriptedHttp::default();
    let now = DateTime::parse_from_rfc3339("2026-11-20T10:15:01Z")
        .expect("time")
        .with_timezone(&Utc);
    let ctx = Context::new(settings, kv, &http, now, &|| std::time::Duration::ZERO, 1);
    block_on(handle_outbound_message(trigger, req, &ctx))
}

fn stored(kv: &MemoryKv, object: &str, id: &str) -> SyncRecord {
    let bytes = kv
        .snapshot()
        .get(&format!("rec/{object}/{id}"))
        .cloned()
        .unwrap_or_else(|| panic!("{object}/{id} not stored"));
    serde_json::from_slice(&bytes).expect("record")
}

fn body(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

#[test]
fn created_message_is_synced_dry_run_and_acknowledged() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let ids = [
        "003000000000001AAA",
        "003000000000002AAA",
        "003000000000003AAA",
    ];
    let ns: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            contact(
                &format!("04l00000000000{i}AAA"),
                id,
                "Ana@Example.com",
                "2026-11-20T10:15:00.000Z",
            )
        })
        .collect();
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), message(ORG, &ns)),
    );
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert!(body(&resp).contains("<Ack>true</Ack>"));
    for id in ids {
        let r = stored(&kv, "Contact", id);
        assert_eq!(r.status, Status::Synced);
        assert!(r.ever_synced);
        assert_eq!(r.attempts, 1);
        let dest = r.destination.expect("destination");
        assert_eq!(dest.kind, DestinationKind::DryRun);
        assert_eq!(dest.id.as_deref(), Some(format!("Contact/{id}").as_str()));
        let payload = r.last_payload.expect("payload");
        assert_eq!(payload["fields"]["email"], "ana@example.com");
        assert_eq!(payload["fields"]["name"], "Ana Lima");
        assert!(r.fingerprint.is_some());
    }
    let everything = format!("{:?}", kv.snapshot());
    assert!(!everything.contains("SESSION-SECRET"), "session id stored");
}

#[test]
fn refusals_write_nothing() {
    let good = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    let cases: Vec<(&str, Settings, Request, &str)> = vec![
        (
            "wrong token",
            settings(&[]),
            post("token=nope", good.clone()),
            "does not match",
        ),
        (
            "no token",
            settings(&[]),
            post("", good.clone()),
            "no ?token=",
        ),
        (
            "unset endpoint token",
            settings(&[("sf_endpoint_token", "")]),
            post(&format!("token={TOKEN}"), good.clone()),
            "sf_endpoint_token is set",
        ),
        (
            "unset org id",
            settings(&[("sf_organization_id", "")]),
            post(&format!("token={TOKEN}"), good.clone()),
            "sf_organization_id is set",
        ),
        (
            "foreign org",
            settings(&[]),
            post(
                &format!("token={TOKEN}"),
                message(
                    "00D000000000099EAA",
                    &[contact(
                        "04l1",
                        "003000000000001AAA",
                        "a@b.c",
                        "2026-11-20T10:15:00.000Z",
                    )],
                ),
            ),
            "is not the org",
        ),
        (
            "not XML",
            settings(&[]),
            post(&format!("token={TOKEN}"), b"hello".to_vec()),
            "not well-formed XML",
        ),
    ];
    for (name, s, req, says) in cases {
        let kv = MemoryKv::new();
        let resp = run(Process::Created, &s, &kv, &req);
        assert_eq!(resp.status, 500, "{name}");
        let text = body(&resp);
        assert!(text.contains("<soapenv:Fault>"), "{name}: {text}");
        assert!(text.contains(says), "{name}: {text}");
        assert!(kv.snapshot().is_empty(), "{name}: wrote something");
    }
}

#[test]
fn update_without_mapped_change_is_skipped_and_keeps_history() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let q = format!("token={TOKEN}");
    let first = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    assert_eq!(run(Process::Created, &s, &kv, &post(&q, first)).status, 200);
    // Only the unmapped Zz_Note__c differs (it carries the notification id).
    let same = message(
        ORG,
        &[contact(
            "04l2",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:16:00.000Z",
        )],
    );
    assert_eq!(run(Process::Updated, &s, &kv, &post(&q, same)).status, 200);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(r.status, Status::Skipped);
    assert_eq!(r.skip_reason.as_deref(), Some("no mapped field changed"));
    assert!(r.ever_synced);
    assert_eq!(r.attempts, 1);
    assert!(r.last_synced_at.is_some());

    let changed = message(
        ORG,
        &[contact(
            "04l3",
            "003000000000001AAA",
            "new@b.c",
            "2026-11-20T10:17:00.000Z",
        )],
    );
    assert_eq!(
        run(Process::Updated, &s, &kv, &post(&q, changed)).status,
        200
    );
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(r.status, Status::Synced);
    assert_eq!(r.attempts, 2);
}

#[test]
fn repeats_and_stale_deliveries_are_ignored_visibly() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let q = format!("token={TOKEN}");
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    assert_eq!(
        run(Process::Created, &s, &kv, &post(&q, m.clone())).status,
        200
    );
    let first = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(run(Process::Created, &s, &kv, &post(&q, m)).status, 200);
    let mut repeat = stored(&kv, "Contact", "003000000000001AAA");
    let ignored = repeat.last_ignored.take().expect("the repeat is visible");
    assert_eq!(
        (ignored.reason, ignored.notification_id.as_str()),
        (IgnoreReason::Duplicate, "04l1")
    );
    assert_eq!(repeat, first, "a repeat changed more than last_ignored");

    let old = message(
        ORG,
        &[contact(
            "04l0",
            "003000000000001AAA",
            "old@b.c",
            "2026-11-20T09:00:00.000Z",
        )],
    );
    assert_eq!(run(Process::Updated, &s, &kv, &post(&q, old)).status, 200);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(
        r.status,
        Status::Synced,
        "a stale delivery is not an attempt"
    );
    assert_eq!(r.destination_calls, 1);
    let ignored = r.last_ignored.expect("the stale delivery is visible");
    assert_eq!(ignored.reason, IgnoreReason::Stale);
    assert_eq!(
        ignored.source_modified_at.as_deref(),
        Some("2026-11-20T09:00:00.000Z")
    );
    assert_eq!(
        r.source_fields.get("Email").and_then(|v| v.as_text()),
        Some("a@b.c")
    );
}

#[test]
fn an_update_of_a_record_never_seen_syncs_and_trigger_switches_apply() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let q = format!("token={TOKEN}");
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    assert_eq!(run(Process::Updated, &s, &kv, &post(&q, m)).status, 200);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!((r.status, r.destination_calls), (Status::Synced, 1));

    let only_created = "[objects.Contact]\nentity = \"user\"\ntriggers = [\"created\"]\n[objects.Contact.fields]\nemail = \"Email\"\n";
    let stored_mapping = crate::store::StoredMapping {
        toml: only_created.into(),
        updated_at: DateTime::from_timestamp(0, 0).expect("epoch"),
        updated_by: "test".into(),
        compiled: Some(crate::mapping::Mapping::from_toml(only_created).expect("valid")),
    };
    block_on(crate::store::put_mapping(&kv, &stored_mapping)).expect("put");
    let m = message(
        ORG,
        &[contact(
            "04l2",
            "003000000000001AAA",
            "new@b.c",
            "2026-11-20T10:16:00.000Z",
        )],
    );
    assert_eq!(run(Process::Updated, &s, &kv, &post(&q, m)).status, 200);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(r.status, Status::Skipped);
    assert_eq!(
        r.skip_reason.as_deref(),
        Some("the updated trigger is off for Contact in the active mapping")
    );
    assert_eq!(r.destination_calls, 1);
}

#[test]
fn unmapped_object_is_skipped_with_its_reason() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let n = r#"<Notification><Id>04l9</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>006000000000001AAA</sf:Id><sf:Name>Deal</sf:Name></sObject></Notification>"#;
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), message(ORG, &[n.to_string()])),
    );
    assert_eq!(resp.status, 200);
    let r = stored(&kv, "Opportunity", "006000000000001AAA");
    assert_eq!(r.status, Status::Skipped);
    assert_eq!(
        r.skip_reason.as_deref(),
        Some("object Opportunity is not in the active mapping")
    );
}

#[test]
fn a_record_the_mapping_cannot_map_is_an_error_and_acknowledged() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let n = r#"<Notification><Id>04l9</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>003000000000009AAA</sf:Id><sf:Email>x@y.z</sf:Email></sObject></Notification>"#;
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), message(ORG, &[n.to_string()])),
    );
    assert_eq!(resp.status, 200, "a permanent error is acknowledged");
    let r = stored(&kv, "Contact", "003000000000009AAA");
    assert_eq!(r.status, Status::Error);
    let err = r.last_error.expect("error");
    assert_eq!(err.failure.kind, ErrorKind::Permanent);
    assert!(
        err.failure.message.contains("FirstName, LastName"),
        "{}",
        err.failure.message
    );
}

#[test]
fn a_store_that_cannot_write_is_never_acknowledged() {
    let kv = MemoryKv::new();
    *kv.fail_writes.borrow_mut() = Some("disk full".into());
    let s = settings(&[]);
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), m),
    );
    assert_eq!(resp.status, 500);
    let text = body(&resp);
    assert!(
        text.contains("soapenv:Server") && text.contains("disk full"),
        "{text}"
    );
}

#[test]
fn an_unconfigured_destination_is_not_acknowledged_and_is_retried_on_redelivery() {
    let kv = MemoryKv::new();
    let s = settings(&[("destination", "zendesk")]);
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), m),
    );
    assert_eq!(resp.status, 500);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(r.status, Status::Error);
    assert_eq!(
        r.last_error.map(|e| e.failure.kind),
        Some(ErrorKind::Config)
    );
    // Redelivered once dry-run is chosen: processed again, not dropped as a repeat.
    let s = settings(&[]);
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), m),
    );
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert_eq!(
        stored(&kv, "Contact", "003000000000001AAA").status,
        Status::Synced
    );
}

#[test]
fn past_the_request_deadline_nothing_more_is_pushed_and_the_message_is_redelivered() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let http = ScriptedHttp::default();
    let ctx = Context::new(
        &s,
        &kv,
        &http,
        DateTime::from_timestamp(0, 0).expect("epoch"),
        &|| REQUEST_DEADLINE + std::time::Duration::from_secs(1),
        1,
    );
    let m = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    let resp = block_on(handle_outbound_message(
        Process::Created,
        &post(&format!("token={TOKEN}"), m),
        &ctx,
    ));
    assert_eq!(resp.status, 500);
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!((r.status, r.destination_calls), (Status::Error, 0));
    assert_eq!(
        r.last_error.map(|e| e.failure.kind),
        Some(ErrorKind::Transient)
    );
    assert!(
        r.notification_ids.is_empty(),
        "must be processed again on redelivery"
    );
}

/// interfaces.md, "One bad notification never blocks the others": a
/// 100-notification message with a deleted record and a malformed
/// notification is acknowledged, the 98 others synced, the two visible.
#[test]
fn one_bad_notification_never_blocks_the_others() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    let mut notifications: Vec<String> = (1..=98)
        .map(|n| {
            contact(
                &format!("04l{n:015}"),
                &format!("003{n:012}AAA"),
                &format!("c{n}@example.com"),
                "2026-11-20T10:15:00.000Z",
            )
        })
        .collect();
    // Deleted before delivery: the sObject carries only its Id.
    notifications.insert(10, r#"<Notification><Id>04l999999999999991</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>003999999999991AAA</sf:Id></sObject></Notification>"#.to_string());
    // Malformed: no sObject Id, so no record to put it on.
    notifications.insert(50, r#"<Notification><Id>04l999999999999992</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Email>x@example.com</sf:Email></sObject></Notification>"#.to_string());
    assert_eq!(notifications.len(), 100);
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), message(ORG, &notifications)),
    );
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert!(body(&resp).contains("<Ack>true</Ack>"));
    for n in [1, 50, 98] {
        let r = stored(&kv, "Contact", &format!("003{n:012}AAA"));
        assert_eq!(r.status, Status::Synced, "record {n}");
    }
    let deleted = stored(&kv, "Contact", "003999999999991AAA");
    assert_eq!(deleted.status, Status::Skipped);
    assert_eq!(
        deleted.skip_reason.as_deref(),
        Some("record deleted in Salesforce before delivery")
    );
    assert_eq!(deleted.destination_calls, 0, "nothing is pushed for it");
    let runs: Vec<crate::run::Run> = kv
        .snapshot()
        .iter()
        .filter(|(k, _)| k.starts_with(crate::history::SLOT_PREFIX))
        .map(|(_, v)| {
            let slot: serde_json::Value = serde_json::from_slice(v).expect("a slot");
            serde_json::from_value(slot["run"].clone()).expect("a run")
        })
        .collect();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        (run.counts.synced, run.counts.skipped, run.counts.error),
        (98, 1, 1)
    );
    assert_eq!(run.failed.len(), 1, "{:?}", run.failed);
    assert_eq!(run.failed[0].record, "notification 04l999999999999992");
    assert!(
        run.failed[0].error.contains("no Id field"),
        "{}",
        run.failed[0].error
    );

    // A redelivery of the same message: every notification is a repeat.
    let again = run_again(&s, &kv, &notifications);
    assert!(again.contains("<Ack>true</Ack>"), "{again}");
}

fn run_again(s: &Settings, kv: &MemoryKv, notifications: &[String]) -> String {
    let resp = run(
        Process::Created,
        s,
        kv,
        &post(&format!("token={TOKEN}"), message(ORG, notifications)),
    );
    body(&resp)
}

/// A record synced on dry-run is not "already synced" once Zendesk is
/// configured: the first unchanged update after the switch pushes it.
#[test]
fn a_destination_switch_is_not_skipped_as_already_synced() {
    let kv = MemoryKv::new();
    let q = format!("token={TOKEN}");
    let dry = settings(&[]);
    let first = message(
        ORG,
        &[contact(
            "04l1",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:15:00.000Z",
        )],
    );
    assert_eq!(
        run(Process::Created, &dry, &kv, &post(&q, first)).status,
        200
    );
    let webhook = settings(&[
        ("destination", "webhook"),
        ("webhook_url", "https://hooks.example.com"),
    ]);
    let same = message(
        ORG,
        &[contact(
            "04l2",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:16:00.000Z",
        )],
    );
    assert_eq!(
        run(Process::Updated, &webhook, &kv, &post(&q, same)).status,
        200
    );
    let r = stored(&kv, "Contact", "003000000000001AAA");
    assert_eq!(r.status, Status::Synced, "{:?}", r.skip_reason);
    assert_eq!(
        r.destination.map(|d| d.kind),
        Some(DestinationKind::Webhook)
    );
    assert_eq!(
        r.synced_to.as_deref(),
        Some("webhook https://hooks.example.com")
    );
    // Unchanged again, same destination: skipped.
    let again = message(
        ORG,
        &[contact(
            "04l3",
            "003000000000001AAA",
            "a@b.c",
            "2026-11-20T10:17:00.000Z",
        )],
    );
    assert_eq!(
        run(Process::Updated, &webhook, &kv, &post(&q, again)).status,
        200
    );
    assert_eq!(
        stored(&kv, "Contact", "003000000000001AAA").status,
        Status::Skipped
    );
}

/// An unusable notification with no record to be stored on is kept only in
/// the message's run: when the run cannot be written, the message is not
/// acknowledged, so the notification is not lost. A message without such a
/// notification is still acknowledged (its outcomes are on its records).
#[test]
fn an_unplaced_notification_is_never_acknowledged_unstored() {
    let kv = MemoryKv::new();
    let s = settings(&[]);
    *kv.fail_prefix.borrow_mut() = Some(crate::history::SLOT_PREFIX.into());
    let malformed = r#"<Notification><Id>04l999999999999992</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Email>x@example.com</sf:Email></sObject></Notification>"#;
    let good = contact(
        "04l1",
        "003000000000001AAA",
        "a@b.c",
        "2026-11-20T10:15:00.000Z",
    );
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(
            &format!("token={TOKEN}"),
            message(ORG, &[good.clone(), malformed.to_string()]),
        ),
    );
    assert_eq!(resp.status, 500, "{}", body(&resp));
    assert!(
        body(&resp).contains("notification 04l999999999999992: not stored"),
        "{}",
        body(&resp)
    );

    let only_good = contact(
        "04l2",
        "003000000000002AAA",
        "b@b.c",
        "2026-11-20T10:15:00.000Z",
    );
    let resp = run(
        Process::Created,
        &s,
        &kv,
        &post(&format!("token={TOKEN}"), message(ORG, &[only_good])),
    );
    assert!(body(&resp).contains("<Ack>true</Ack>"), "{}", body(&resp));
}
