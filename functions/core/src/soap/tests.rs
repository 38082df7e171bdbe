//! Table-driven tests of the Outbound Message reader and the answers.

use super::*;

const ORG: &str = "00D000000000062EAA";

/// A notification with the given sObject inner XML, using the `sf` prefix.
fn notification(id: &str, object: &str, fields: &str) -> String {
    format!(
        r#"<Notification><Id>{id}</Id><sObject xsi:type="sf:{object}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>"#
    )
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{ORG}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId>00Dsecret!AQ0AQLIVESESSION</SessionId>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/00D000000000062</EnterpriseUrl>
   {inner}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn contact(id: &str) -> String {
    notification(
        "04l000000000001AAA",
        "Contact",
        &format!("<sf:Id>{id}</sf:Id><sf:Email>ana@example.com</sf:Email>"),
    )
}

/// What a successful parse must yield, checked field by field.
struct Expect {
    notifications: usize,
    object: &'static str,
    fields: &'static [(&'static str, Option<Option<&'static str>>)],
}

#[test]
fn accepted_messages() {
    let prefix_free = format!(
        r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><n:notifications xmlns:n="http://soap.sforce.com/2005/09/outbound"><n:OrganizationId>{ORG}</n:OrganizationId><n:Notification><n:Id>04l1</n:Id><n:sObject xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:type="q:Lead" xmlns:q="urn:sobject.enterprise.soap.sforce.com"><q:Id>00Q000000000001AAA</q:Id><q:Company>Acme</q:Company></n:sObject></n:Notification></n:notifications></Body></Envelope>"#
    );
    let hundred: String = (0..100)
        .map(|i| contact(&format!("003000000000{i:03}AAA")))
        .collect();
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "the sample of the spec",
            envelope(&notification(
                "04l000000000001AAA",
                "Contact",
                r#"<sf:Id>003000000000001AAA</sf:Id><sf:Email>ana@example.com</sf:Email><sf:Phone xsi:nil="true"/><sf:FirstName></sf:FirstName>"#,
            )),
            Expect {
                notifications: 1,
                object: "Contact",
                fields: &[
                    ("Email", Some(Some("ana@example.com"))),
                    ("Phone", Some(None)),
                    ("FirstName", Some(Some(""))),
                    ("LastName", None),
                    ("SessionId", None),
                ],
            },
        ),
        (
            "other prefixes, same namespaces",
            prefix_free,
            Expect {
                notifications: 1,
                object: "Lead",
                fields: &[("Company", Some(Some("Acme")))],
            },
        ),
        (
            "entities and character references are decoded",
            envelope(&notification(
                "04l1",
                "Account",
                "<sf:Id>001000000000001AAA</sf:Id><sf:Name>Smith &amp; Sons &lt;EU&gt; &#233;&#x20AC;</sf:Name>",
            )),
            Expect {
                notifications: 1,
                object: "Account",
                fields: &[("Name", Some(Some("Smith & Sons <EU> é€")))],
            },
        ),
        (
            "CDATA keeps its text",
            envelope(&notification(
                "04l1",
                "Account",
                "<sf:Id>001000000000001AAA</sf:Id><sf:Description><![CDATA[a <b> & c]]></sf:Description>",
            )),
            Expect {
                notifications: 1,
                object: "Account",
                fields: &[("Description", Some(Some("a <b> & c")))],
            },
        ),
        (
            "whitespace inside a value is kept",
            envelope(&notification(
                "04l1",
                "Contact",
                "<sf:Id>003000000000001AAA</sf:Id><sf:FirstName>  Ana </sf:FirstName>",
            )),
            Expect {
                notifications: 1,
                object: "Contact",
                fields: &[("FirstName", Some(Some("  Ana ")))],
            },
        ),
        (
            "a custom object",
            envelope(&notification(
                "04l1",
                "Event_Registration__c",
                "<sf:Id>a01000000000001AAA</sf:Id><sf:Attended__c>true</sf:Attended__c>",
            )),
            Expect {
                notifications: 1,
                object: "Event_Registration__c",
                fields: &[("Attended__c", Some(Some("true")))],
            },
        ),
        (
            "one hundred notifications",
            envelope(&hundred),
            Expect {
                notifications: 100,
                object: "Contact",
                fields: &[("Email", Some(Some("ana@example.com")))],
            },
        ),
        (
            "a SOAP Header is allowed",
            envelope(&contact("003000000000001AAA")).replace(
                "<soapenv:Body>",
                "<soapenv:Header><x:Foo xmlns:x=\"urn:x\">1</x:Foo></soapenv:Header><soapenv:Body>",
            ),
            Expect {
                notifications: 1,
                object: "Contact",
                fields: &[],
            },
        ),
        (
            "xsi:nil on a field",
            envelope(&notification(
                "04l1",
                "Contact",
                r#"<sf:Id>003000000000001AAA</sf:Id><sf:Email xsi:nil="true"></sf:Email>"#,
            )),
            Expect {
                notifications: 1,
                object: "Contact",
                fields: &[("Email", Some(None))],
            },
        ),
    ];
    for (name, body, expect) in cases {
        let msg = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        assert_eq!(msg.organization_id, ORG, "{name}");
        assert_eq!(msg.notifications.len(), expect.notifications, "{name}");
        let first = &msg.notifications[0].sobject;
        assert_eq!(first.object_type, expect.object, "{name}");
        for (field, want) in expect.fields {
            let got = first.fields.get(*field).map(|v| v.as_text());
            assert_eq!(got, *want, "{name}: field {field}");
        }
    }
}

#[test]
fn refused_messages() {
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        envelope(&contact("003000000000001AAA"))
            .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    let billion_laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>".to_string();
    let too_many: String = (0..101)
        .map(|i| contact(&format!("003000000000{i:03}AAA")))
        .collect();
    let wrong_outbound_ns = envelope(&contact("003000000000001AAA")).replace(
        "http://soap.sforce.com/2005/09/outbound",
        "http://example.com/other",
    );
    let soap12 = envelope(&contact("003000000000001AAA")).replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let no_org = envelope(&contact("003000000000001AAA"))
        .replace(&format!("<OrganizationId>{ORG}</OrganizationId>"), "");
    let mut not_utf8 = envelope(&contact("003000000000001AAA")).into_bytes();
    not_utf8.push(0xff);
    let big = vec![b' '; MAX_BODY_BYTES + 1];

    type Check = fn(&SoapError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("DOCTYPE with external entity", doctype.into_bytes(), |e| {
            matches!(e, SoapError::Doctype)
        }),
        ("entity expansion bomb", billion_laughs.into_bytes(), |e| {
            matches!(e, SoapError::Doctype)
        }),
        ("not XML at all", b"{\"hello\": \"json\"}".to_vec(), |e| {
            matches!(e, SoapError::NotXml(_) | SoapError::NotEnvelope(_))
        }),
        ("empty body", Vec::new(), |e| {
            matches!(e, SoapError::NotXml(_))
        }),
        (
            "truncated document",
            envelope(&contact("003000000000001AAA")).as_bytes()[..200].to_vec(),
            |e| matches!(e, SoapError::NotXml(_)),
        ),
        ("mismatched end tag", b"<a><b></a></b>".to_vec(), |e| {
            matches!(e, SoapError::NotXml(_))
        }),
        (
            "undeclared entity",
            envelope(&notification(
                "04l1",
                "Contact",
                "<sf:Id>003000000000001AAA</sf:Id><sf:Name>&foo;</sf:Name>",
            ))
            .into_bytes(),
            |e| matches!(e, SoapError::NotXml(_)),
        ),
        (
            "undeclared prefix",
            envelope(&contact("003000000000001AAA"))
                .replace("xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"", "")
                .into_bytes(),
            |e| matches!(e, SoapError::NotXml(_)),
        ),
        ("not UTF-8", not_utf8, |e| matches!(e, SoapError::NotUtf8)),
        ("over the size limit", big, |e| {
            matches!(e, SoapError::TooLarge { .. })
        }),
        ("101 notifications", envelope(&too_many).into_bytes(), |e| {
            matches!(e, SoapError::TooManyNotifications(101))
        }),
        ("no notification", envelope("").into_bytes(), |e| {
            matches!(e, SoapError::NoNotifications)
        }),
        (
            "right local names, wrong namespace",
            wrong_outbound_ns.into_bytes(),
            |e| matches!(e, SoapError::NotOutboundMessage(_)),
        ),
        ("SOAP 1.2 envelope", soap12.into_bytes(), |e| {
            matches!(e, SoapError::NotEnvelope(_))
        }),
        ("no OrganizationId", no_org.into_bytes(), |e| {
            matches!(e, SoapError::MissingOrganizationId)
        }),
        (
            "two root elements",
            format!("{}<x/>", envelope(&contact("003000000000001AAA"))).into_bytes(),
            |e| matches!(e, SoapError::NotXml(_)),
        ),
        (
            "deep nesting",
            format!("{}{}", "<a>".repeat(40), "</a>".repeat(40)).into_bytes(),
            |e| matches!(e, SoapError::NotXml(_)),
        ),
    ];
    for (name, body, check) in cases {
        match parse(&body) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => {
                assert!(check(&e), "{name}: wrong refusal: {e:?}");
            }
        }
    }
}

/// Each notification that cannot be used on its own is set apart with its
/// problem; the message and its good notifications are kept.
#[test]
fn unusable_notifications_are_set_apart_not_refused() {
    const SF: &str = "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"";
    let good = contact("003000000000001AAA");
    type Case<'a> = (
        &'a str,
        String,
        Option<&'a str>,
        Option<(&'a str, &'a str)>,
        NotificationProblem,
    );
    let cases: Vec<Case> = vec![
        ("no sObject (deleted)", "<Notification><Id>04l2</Id></Notification>".into(), Some("04l2"), None, NotificationProblem::RecordDeleted),
        ("empty sObject (deleted)", format!("<Notification><Id>04l2</Id><sObject xsi:type=\"sf:Contact\" {SF}/></Notification>"), Some("04l2"), None, NotificationProblem::RecordDeleted),
        ("only the Id (deleted)", notification("04l2", "Contact", "<sf:Id>003000000000002AAA</sf:Id>"), Some("04l2"), Some(("Contact", "003000000000002AAA")), NotificationProblem::RecordDeleted),
        ("no notification Id", format!("<Notification><sObject xsi:type=\"sf:Contact\" {SF}><sf:Id>003000000000002AAA</sf:Id><sf:Email>a@b.c</sf:Email></sObject></Notification>"), None, Some(("Contact", "003000000000002AAA")), NotificationProblem::NoNotificationId),
        ("sObject without record Id", notification("04l2", "Contact", "<sf:Email>a@b.c</sf:Email>"), Some("04l2"), None, NotificationProblem::NoRecordId),
        ("record Id not a Salesforce id", notification("04l2", "Contact", "<sf:Id>003-x</sf:Id><sf:Email>a@b.c</sf:Email>"), Some("04l2"), None, NotificationProblem::NotASalesforceId("003-x".into())),
        ("sObject without xsi:type", format!("<Notification><Id>04l2</Id><sObject {SF}><sf:Id>003000000000002AAA</sf:Id><sf:Email>a@b.c</sf:Email></sObject></Notification>"), Some("04l2"), None, NotificationProblem::NoObjectType),
        ("nested field", notification("04l2", "Contact", "<sf:Id>003000000000002AAA</sf:Id><sf:Account><sf:Name>x</sf:Name></sf:Account>"), Some("04l2"), Some(("Contact", "003000000000002AAA")), NotificationProblem::NestedField("Account".into())),
    ];
    for (name, bad, id, record, problem) in cases {
        let m = parse(envelope(&format!("{good}{bad}")).as_bytes())
            .unwrap_or_else(|e| panic!("{name}: refused the whole message: {e}"));
        assert_eq!(m.notifications.len(), 1, "{name}: the good one is kept");
        assert_eq!(m.unusable.len(), 1, "{name}");
        let u = &m.unusable[0];
        assert_eq!(u.position, 2, "{name}");
        assert_eq!(u.id.as_deref(), id, "{name}");
        assert_eq!(
            u.record.as_ref().map(|(o, i)| (o.as_str(), i.as_str())),
            record,
            "{name}"
        );
        assert_eq!(u.problem, problem, "{name}");
    }
}

#[test]
fn session_id_is_never_kept() {
    let body = envelope(&contact("003000000000001AAA"));
    let msg = parse(body.as_bytes()).expect("parses");
    let debug = format!("{msg:?}");
    assert!(!debug.contains("LIVESESSION"), "session id leaked: {debug}");
}

#[test]
fn answers_are_soap() {
    let yes = ack(true);
    assert!(yes.contains("<Ack>true</Ack>"));
    assert!(yes.contains(OUTBOUND_NS));
    assert!(ack(false).contains("<Ack>false</Ack>"));
    let f = fault(FaultCode::Client, "token <wrong> & missing");
    assert!(f.contains("<faultcode>soapenv:Client</faultcode>"));
    assert!(f.contains("token &lt;wrong&gt; &amp; missing"), "{f}");
    assert!(fault(FaultCode::Server, "x").contains("soapenv:Server"));
}

#[test]
fn a_rendered_message_reads_back_the_same() {
    let msg = parse(envelope(&notification(
        "04l1",
        "Contact",
        r#"<sf:Id>003000000000001AAA</sf:Id><sf:Name>A &amp; B &lt;x&gt;</sf:Name><sf:Phone xsi:nil="true"/><sf:Empty></sf:Empty>"#,
    )).as_bytes())
    .expect("parses");
    let again = parse(render_message(&msg.organization_id, &msg.notifications).as_bytes())
        .expect("rendered message parses");
    assert_eq!(again.notifications, msg.notifications);
    assert_eq!(again.organization_id, msg.organization_id);
}

#[test]
fn hostile_shapes_are_refused_by_their_caps() {
    let refused = |body: String, says: &str| {
        let e = parse(body.as_bytes()).expect_err("refused");
        assert!(e.to_string().contains(says), "{e}");
    };
    let many_attrs: String = (0..=MAX_ATTRIBUTES)
        .map(|i| format!(" a{i}=\"x\""))
        .collect();
    refused(
        envelope(&format!("<Notification{many_attrs}/>")),
        "attributes",
    );
    refused(
        envelope(&"<Notification/>".repeat(MAX_ELEMENTS + 1)),
        "elements",
    );
    let long = "x".repeat(MAX_TEXT_BYTES + 1);
    refused(
        envelope(&notification(
            "04l000000000000001",
            "Contact",
            &format!("<sf:Id>003000000000001AAA</sf:Id><sf:Description>{long}</sf:Description>"),
        )),
        "bytes of text",
    );
    let refs = "&amp;".repeat(MAX_REFERENCES + 1);
    refused(
        envelope(&notification(
            "04l000000000000001",
            "Contact",
            &format!("<sf:Id>003000000000001AAA</sf:Id><sf:Description>{refs}</sf:Description>"),
        )),
        "references",
    );
    refused(
        envelope(&notification(
            "04l000000000000001",
            "Contact",
            "<sf:Id>003000000000001AAA</sf:Id><sf:Description>&bogus;</sf:Description>",
        )),
        "unknown entity",
    );
}

#[test]
fn references_decode_and_the_header_is_skipped() {
    let body = envelope(&notification(
        "04l000000000000001",
        "Contact",
        "<sf:Id>003000000000001AAA</sf:Id><sf:LastName>O&apos;Brien &amp; Sons &#x263A; &#65;&lt;&gt;&quot;</sf:LastName>",
    ))
    .replacen(
        "<soapenv:Body>",
        "<soapenv:Header><x:Session xmlns:x=\"urn:x\">secret-header-value</x:Session></soapenv:Header><soapenv:Body>",
        1,
    );
    let m = parse(body.as_bytes()).expect("parses");
    assert_eq!(
        m.notifications[0].sobject.fields["LastName"],
        FieldValue::Text("O'Brien & Sons \u{263A} A<>\"".into())
    );
    assert!(!format!("{m:?}").contains("secret-header-value"));
}
