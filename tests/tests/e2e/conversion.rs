//! Lead conversion end to end: a Lead that sfsync synced converts in
//! Salesforce, and its Zendesk user follows the Contact it became — one
//! user, whichever message comes first, and whatever the Contact's email.

use serde_json::Value;
use sfsync_tests::app::{TestApp, ORG_ID};
use sfsync_tests::fake_zendesk::FakeZendesk;
use sfsync_tests::soap::{contact_id, lone_contact, message, Record};

fn lead_id(n: usize) -> String {
    format!("00Q{n:012}EAA")
}

/// Lead `n` as its Outbound Message sends it; `converted_to` adds the
/// conversion fields (the setup guide adds them to the Lead's message).
fn lead(
    n: usize,
    email: &str,
    converted_to: Option<usize>,
    notification: usize,
) -> Record<'static> {
    let mut fields = vec![
        ("Id", Some(lead_id(n))),
        ("Email", Some(email.to_string())),
        ("FirstName", Some(format!("Lea{n}"))),
        ("LastName", Some("Prospect".into())),
        ("Phone", None),
        ("Company", Some("Initech".into())),
        ("IsConverted", Some(converted_to.is_some().to_string())),
        ("ConvertedContactId", converted_to.map(contact_id)),
        (
            "LastModifiedDate",
            Some(format!("2026-11-20T10:{notification:02}:00.000Z")),
        ),
    ];
    if converted_to.is_none() {
        fields.retain(|(k, _)| *k != "ConvertedContactId");
    }
    Record {
        object: "Lead",
        notification_id: format!("04lL{n:06}{notification:08}"),
        fields,
    }
}

/// The Contact the conversion made, saved after the conversion.
fn converted_contact(n: usize, email: &str) -> Record<'static> {
    let mut c = lone_contact(n, email);
    for f in c.fields.iter_mut() {
        if f.0 == "LastModifiedDate" {
            f.1 = Some("2026-11-20T11:00:00.000Z".into());
        }
    }
    c
}

fn send(app: &TestApp, route: &str, record: Record) {
    let resp = app.send_message(route, &message(ORG_ID, &[record]));
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
}

fn view(app: &TestApp, object: &str, id: &str) -> Value {
    let resp = app.admin_get(&format!("/admin/records/{object}/{id}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn user_id(v: &Value) -> String {
    v["destination"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn users_with(fake: &FakeZendesk, external_id: &str) -> Vec<Value> {
    fake.users()
        .into_iter()
        .filter(|u| u["external_id"] == external_id)
        .collect()
}

#[test]
fn a_converted_lead_hands_its_user_to_the_contact_whichever_comes_first() {
    for multi_org in [false, true] {
        let case = format!("multi-org {multi_org}");
        let fake = FakeZendesk::start(multi_org);
        let app = TestApp::with_zendesk(&fake.url(), multi_org);

        // 1. The conversion first: the Lead's user becomes the Contact's,
        //    and the Contact's own message updates that same user.
        send(&app, "/sf/created", lead(1, "lea1@example.com", None, 1));
        let lead_user = user_id(&view(&app, "Lead", &lead_id(1)));
        send(&app, "/sf/updated", lead(1, "lea1@example.com", Some(1), 2));
        let l = view(&app, "Lead", &lead_id(1));
        assert_eq!(l["status"], "skipped", "{case}: {l}");
        assert_eq!(l["converted_to"], format!("Contact/{}", contact_id(1)));
        assert!(
            l["skip_reason"]
                .as_str()
                .unwrap_or_default()
                .contains("converted to Contact/"),
            "{l}"
        );
        let handed = users_with(&fake, &contact_id(1));
        assert_eq!(handed.len(), 1, "{case}: the user is the Contact's now");
        assert_eq!(handed[0]["id"].to_string(), lead_user);
        let c = view(&app, "Contact", &contact_id(1));
        assert_eq!(c["converted_from"], format!("Lead/{}", lead_id(1)), "{c}");
        assert_eq!(user_id(&c), lead_user);
        send(
            &app,
            "/sf/created",
            converted_contact(1, "lea1@example.com"),
        );
        let c = view(&app, "Contact", &contact_id(1));
        assert_eq!(
            (c["status"].as_str(), user_id(&c)),
            (Some("synced"), lead_user.clone()),
            "{case}: {c}"
        );
        assert_eq!(fake.users().len(), 1, "{case}: no second user");
        assert_eq!(users_with(&fake, &contact_id(1))[0]["name"], "Ana1 Lima");

        // 2. The Contact first, with another email: a second user for a
        //    moment, and the conversion merges the Lead's into it.
        send(&app, "/sf/created", lead(2, "old2@example.com", None, 1));
        send(
            &app,
            "/sf/created",
            converted_contact(2, "new2@example.com"),
        );
        assert_eq!(fake.users().len(), 3);
        let contact_user = user_id(&view(&app, "Contact", &contact_id(2)));
        fake.clear_log();
        send(&app, "/sf/updated", lead(2, "old2@example.com", Some(2), 2));
        assert_eq!(
            fake.count("PUT", "/api/v2/users/"),
            1,
            "{case}: one merge call"
        );
        assert_eq!(fake.users().len(), 2, "{case}: merged");
        assert!(fake.user_by_email("old2@example.com").is_none());
        let l = view(&app, "Lead", &lead_id(2));
        assert_eq!(user_id(&l), contact_user, "{case}: {l}");

        // 3. The Contact first, with the Lead's email: already one user;
        //    the conversion calls nothing.
        send(&app, "/sf/created", lead(3, "lea3@example.com", None, 1));
        send(
            &app,
            "/sf/created",
            converted_contact(3, "lea3@example.com"),
        );
        assert_eq!(fake.users().len(), 3);
        fake.clear_log();
        send(&app, "/sf/updated", lead(3, "lea3@example.com", Some(3), 2));
        assert!(fake.log().is_empty(), "{case}: {:?}", fake.log());
        assert_eq!(users_with(&fake, &contact_id(3)).len(), 1);

        // 4. A Lead converted before it ever synced makes no user.
        send(&app, "/sf/created", lead(4, "lea4@example.com", Some(4), 1));
        assert!(fake.user_by_email("lea4@example.com").is_none(), "{case}");
        assert_eq!(view(&app, "Lead", &lead_id(4))["status"], "skipped");

        // 5. From then on the Lead changes nothing, even from a message
        //    without the conversion fields, or a resend.
        fake.clear_log();
        let mut late = lead(1, "lea1@example.com", None, 3);
        late.fields.retain(|(k, _)| *k != "IsConverted");
        send(&app, "/sf/updated", late);
        let reply = app.resend(serde_json::json!({"records": [format!("Lead/{}", lead_id(1))]}));
        assert_eq!(reply.results.len(), 1, "{reply:?}");
        assert!(fake.log().is_empty(), "{case}: {:?}", fake.log());
        assert_eq!(users_with(&fake, &contact_id(1))[0]["name"], "Ana1 Lima");
    }
}
