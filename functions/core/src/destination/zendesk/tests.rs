//! The Zendesk destination against a scripted `Http`: which calls each
//! situation of multi-org.md makes, in which order, with which bodies, and
//! what it records. (The e2e tests run the same flows against the fake
//! Zendesk through the built components.)

use std::collections::BTreeMap;

use futures::executor::block_on;
use serde_json::{json, Value};

use super::push;
use crate::context::Context;
use crate::failure::ErrorKind;
use crate::io::HttpResponse;
use crate::mapping::Mapping;
use crate::memory::{settings_from, MemoryKv, ScriptedHttp};
use crate::record::{DestinationRef, Process, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::{DestinationKind, Settings};
use crate::sobject::{FieldValue, SObject};
use crate::store::{self, EmailEntry};

const CONTACT: &str = "003000000000001AAA";
const ACCOUNT: &str = "001000000000001AAA";

fn settings(multi_org: bool) -> Settings {
    let pairs = [
        ("destination", "zendesk"),
        ("zendesk_url", "https://acme.zendesk.com"),
        ("zendesk_email", "agent@acme.example"),
        ("zendesk_api_token", "tok"),
        (
            "zendesk_multi_org",
            if multi_org { "true" } else { "false" },
        ),
    ];
    settings_from(&pairs)
}

fn reply(status: u16, body: Value) -> Result<HttpResponse, crate::io::HttpError> {
    Ok(HttpResponse {
        status,
        headers: BTreeMap::new(),
        body: body.to_string().into_bytes(),
    })
}

fn contact(account: Option<&str>) -> SObject {
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("Id", CONTACT),
        ("Email", "Ana@Example.com"),
        ("FirstName", "Ana"),
        ("LastName", "Lima"),
    ] {
        fields.insert(k.to_string(), FieldValue::Text(v.to_string()));
    }
    if let Some(a) = account {
        fields.insert("AccountId".into(), FieldValue::Text(a.to_string()));
    }
    SObject {
        object_type: "Contact".into(),
        id: CONTACT.into(),
        fields,
    }
}

/// A call as the tests read it: method, path and query, JSON body.
type Call = (String, String, Value);
type Replies = Vec<Result<HttpResponse, crate::io::HttpError>>;

/// Push the Contact with `replies` scripted; the calls made and the outcome.
fn run(
    multi_org: bool,
    kv: &MemoryKv,
    record: &SyncRecord,
    so: &SObject,
    replies: Replies,
) -> (Vec<Call>, Result<super::Pushed, crate::failure::Failure>) {
    let settings = settings(multi_org);
    let http = ScriptedHttp::default();
    *http.replies.borrow_mut() = replies;
    let mapping = Mapping::bundled();
    let mapped = mapping
        .object("Contact")
        .expect("Contact")
        .apply(so)
        .expect("maps");
    let ctx = Context::new(
        &settings,
        kv,
        &http,
        chrono::DateTime::from_timestamp(0, 0).expect("epoch"),
        &|| std::time::Duration::ZERO,
        1,
    );
    let out = block_on(push(&ctx, &mapping, "Contact", &mapped, record));
    let calls = http
        .sent
        .borrow()
        .iter()
        .map(|r| {
            let path = r
                .url
                .trim_start_matches("https://acme.zendesk.com")
                .to_string();
            let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.method.clone(), path, body)
        })
        .collect();
    (calls, out)
}

fn account_synced_as(kv: &MemoryKv, organization: u64) {
    let mut account = SyncRecord::new("Account", ACCOUNT, Process::Created);
    account.destination = Some(DestinationRef {
        kind: DestinationKind::Zendesk,
        id: Some(organization.to_string()),
        organization_ids: Vec::new(),
    });
    block_on(crate::index::save(
        kv,
        store::Generation::default(),
        None,
        &mut account,
    ))
    .expect("saved");
}

#[test]
fn single_org_creates_the_user_with_its_organization() {
    let kv = MemoryKv::new();
    account_synced_as(&kv, 77);
    let record = SyncRecord::new("Contact", CONTACT, Process::Created);
    let (calls, out) = run(
        false,
        &kv,
        &record,
        &contact(Some(ACCOUNT)),
        vec![reply(201, json!({"user": {"id": 9001}}))],
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (method, path, body) = &calls[0];
    assert_eq!(
        (method.as_str(), path.as_str()),
        ("POST", "/api/v2/users/create_or_update")
    );
    assert_eq!(body["user"]["organization_id"], 77);
    assert_eq!(body["user"]["external_id"], CONTACT);
    assert_eq!(body["user"]["email"], "ana@example.com");
    let pushed = out.expect("synced");
    assert_eq!(pushed.destination.id.as_deref(), Some("9001"));
    assert_eq!(pushed.destination.organization_ids, vec!["77"]);
    assert_eq!((pushed.syncing_record, pushed.fields_synced), (None, None));
    assert_eq!(pushed.missing_link, None);
    let entry = block_on(store::load_email(&kv, "ana@example.com")).expect("read");
    assert_eq!(
        entry,
        Some(EmailEntry {
            user_id: "9001".into(),
            syncing_record: None
        })
    );
}

#[test]
fn single_org_updates_the_linked_user_and_recreates_a_deleted_one() {
    let kv = MemoryKv::new();
    let mut record = SyncRecord::new("Contact", CONTACT, Process::Updated);
    record.destination = Some(DestinationRef {
        kind: DestinationKind::Zendesk,
        id: Some("9001".into()),
        organization_ids: Vec::new(),
    });
    let (calls, out) = run(
        false,
        &kv,
        &record,
        &contact(None),
        vec![reply(200, json!({"user": {"id": 9001}}))],
    );
    assert_eq!(
        calls
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        ["PUT /api/v2/users/9001"]
    );
    assert_eq!(out.expect("synced").destination.id.as_deref(), Some("9001"));

    let (calls, out) = run(
        false,
        &kv,
        &record,
        &contact(None),
        vec![
            reply(404, json!({"error": "RecordNotFound"})),
            reply(201, json!({"user": {"id": 9002}})),
        ],
    );
    assert_eq!(
        calls
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        [
            "PUT /api/v2/users/9001",
            "POST /api/v2/users/create_or_update"
        ]
    );
    assert_eq!(out.expect("synced").destination.id.as_deref(), Some("9002"));
}

#[test]
fn a_contact_whose_account_has_no_organization_is_synced_in_part() {
    let kv = MemoryKv::new();
    let record = SyncRecord::new("Contact", CONTACT, Process::Created);
    let (calls, out) = run(
        false,
        &kv,
        &record,
        &contact(Some(ACCOUNT)),
        vec![
            reply(200, json!({"organizations": []})),
            reply(201, json!({"user": {"id": 9001}})),
        ],
    );
    assert!(
        calls[0]
            .1
            .starts_with("/api/v2/organizations/search?external_id="),
        "{calls:?}"
    );
    assert!(
        calls[1].2["user"].get("organization_id").is_none(),
        "{calls:?}"
    );
    assert_eq!(
        out.expect("synced").missing_link,
        Some(RecordRef::new("Account", ACCOUNT)),
        "says which record is missing"
    );
}

#[test]
fn multi_org_adds_a_membership_and_keeps_the_other_default() {
    // Situation 4 of multi-org.md: the user exists with another default
    // organization; the Contact's Account's organization is added as a
    // membership and the user's fields are left alone.
    let kv = MemoryKv::new();
    account_synced_as(&kv, 77);
    let record = SyncRecord::new("Contact", CONTACT, Process::Created);
    let (calls, out) = run(
        true,
        &kv,
        &record,
        &contact(Some(ACCOUNT)),
        vec![
            reply(200, json!({"users": []})),
            reply(
                200,
                json!({"users": [{"id": 5, "email": "ana@example.com", "organization_id": 88}]}),
            ),
            reply(
                200,
                json!({"organization_memberships": [{"id": 1, "organization_id": 88, "default": true}]}),
            ),
            reply(201, json!({"organization_membership": {"id": 2}})),
        ],
    );
    let shape: Vec<String> = calls
        .iter()
        .map(|(m, p, _)| format!("{m} {}", p.split('?').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        shape,
        [
            "GET /api/v2/users/search",
            "GET /api/v2/users/search",
            "GET /api/v2/users/5/organization_memberships",
            "POST /api/v2/organization_memberships",
        ]
    );
    assert_eq!(
        calls[3].2["organization_membership"],
        json!({"user_id": 5, "organization_id": 77})
    );
    let pushed = out.expect("synced");
    assert_eq!(
        pushed.fields_synced,
        Some(false),
        "rule 4: the fields are not the default org's"
    );
    assert_eq!(pushed.destination.organization_ids, vec!["88", "77"]);
    assert_eq!(pushed.syncing_record, Some(false));
}

#[test]
fn failures_are_classified_and_stop_the_flow() {
    let kv = MemoryKv::new();
    let record = SyncRecord::new("Contact", CONTACT, Process::Created);
    let (calls, out) = run(
        false,
        &kv,
        &record,
        &contact(None),
        vec![reply(
            422,
            json!({"error": "RecordInvalid", "details": {"email": [{"description": "Email: ana@example.com is already being used by another user"}]}}),
        )],
    );
    assert_eq!(calls.len(), 1);
    let failure = out.expect_err("refused");
    assert_eq!(
        (failure.kind, failure.http_status),
        (ErrorKind::Permanent, Some(422))
    );
    assert!(
        failure.message.contains("already being used"),
        "{}",
        failure.message
    );
    assert!(block_on(store::load_email(&kv, "ana@example.com"))
        .expect("read")
        .is_none());
}
