//! Hostile input over a real socket (the test host's listener, or a real
//! Spin): bodies over their route's cap, declared or streamed, bodies that
//! never finish, and oversized bodies without a token — each refused before
//! (or as soon as) the cap is passed, nothing written, and the server still
//! serving the next good request.

use std::time::Duration;

use sfsync_tests::app::{TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::raw_http::{post_head, raw, Body};
use sfsync_tests::soap::{lone_contact, message};

fn still_serves(app: &TestApp, n: usize) {
    let resp = app.send_message(
        "/sf/created",
        &message(ORG_ID, &[lone_contact(n, &format!("ok{n}@example.com"))]),
    );
    assert!(resp.text().contains("<Ack>true</Ack>"), "{}", resp.text());
}

#[test]
fn bodies_over_their_cap_are_refused_without_being_read() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let message_route = format!("/sf/created?token={ENDPOINT_TOKEN}");
    let bearer = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let cases: Vec<(&str, String, Body, u16, &str)> = vec![
        (
            "a declared 2 GiB message",
            post_head(
                &message_route,
                &["Content-Type: text/xml", "Content-Length: 2147483648"],
            ),
            Body::None,
            413,
            "limit of 8388608 bytes",
        ),
        (
            "a streamed 64 MiB message with no length",
            post_head(
                &message_route,
                &["Content-Type: text/xml", "Transfer-Encoding: chunked"],
            ),
            Body::Chunked { total: 64 << 20 },
            413,
            "was not read",
        ),
        (
            "a declared 2 GiB message with a wrong token",
            post_head("/sf/created?token=wrong", &["Content-Length: 2147483648"]),
            Body::None,
            500,
            "does not match",
        ),
        (
            "a declared 2 GiB backfill without a bearer",
            post_head(
                "/admin/backfill?object=Contact",
                &["Content-Length: 2147483648"],
            ),
            Body::None,
            401,
            "Authorization",
        ),
        (
            "a declared 2 GiB backfill",
            post_head(
                "/admin/backfill?object=Contact",
                &[
                    &bearer,
                    "Content-Type: text/csv",
                    "Content-Length: 2147483648",
                ],
            ),
            Body::None,
            413,
            "limit of 64 MiB",
        ),
        (
            "a streamed 80 MiB import",
            post_head("/admin/import", &[&bearer, "Transfer-Encoding: chunked"]),
            Body::Chunked { total: 80 << 20 },
            413,
            "limit of 64 MiB",
        ),
        (
            "a streamed 8 MiB resend",
            post_head("/admin/resend", &[&bearer, "Transfer-Encoding: chunked"]),
            Body::Chunked { total: 8 << 20 },
            413,
            "limit of 1 MiB",
        ),
        (
            "a Content-Length that is not a number",
            post_head("/admin/resend", &[&bearer, "Content-Length: lots"]),
            Body::None,
            400,
            "",
        ),
    ];
    for (n, (name, head, body, status, says)) in cases.into_iter().enumerate() {
        let answer = raw(&base, &head, body);
        // hyper itself may refuse a malformed Content-Length with 400.
        assert_eq!(answer.status, status, "{name}: {}", answer.text);
        assert!(answer.text.contains(says), "{name}: {}", answer.text);
        assert!(
            answer.took < Duration::from_secs(20),
            "{name}: answered after {:?}",
            answer.took
        );
        still_serves(&app, n + 1);
    }
    let stored = app.record_keys();
    assert_eq!(stored.len(), 8, "only the good requests wrote: {stored:?}");
}

#[test]
fn a_body_that_never_finishes_is_cut_off() {
    let app = TestApp::start();
    let (base, _listener) = app.listen();
    let head = post_head(
        &format!("/sf/created?token={ENDPOINT_TOKEN}"),
        &["Content-Type: text/xml", "Content-Length: 100000"],
    );
    let answer = raw(
        &base,
        &head,
        Body::Trickle {
            total: 100_000,
            every: Duration::from_millis(500),
        },
    );
    let limit = sync_core::admission::BODY_READ_TIMEOUT;
    assert_eq!(answer.status, 408, "{}", answer.text);
    assert!(
        answer.took >= limit && answer.took < limit + Duration::from_secs(10),
        "cut off after {:?}",
        answer.took
    );
    still_serves(&app, 1);
}

/// Tokens are compared as sent, and neither they nor the Salesforce
/// SessionId are ever stored; risky tokens are warned about.
#[test]
fn secrets_are_compared_as_sent_never_stored_and_weak_ones_warned_about() {
    let mut vars = sfsync_tests::app::default_variables();
    vars.insert("sf_endpoint_token".into(), "same+token/for-both".into());
    vars.insert("admin_token".into(), "same+token/for-both".into());
    let app = TestApp::with_variables(vars);
    let msg = message(ORG_ID, &[lone_contact(1, "ana@example.com")]);
    let send = |query: &str| {
        app.request(sfsync_tests::host::TestRequest {
            method: "POST".into(),
            path_and_query: format!("/sf/created?{query}"),
            headers: vec![("content-type".into(), "text/xml".into())],
            body: msg.clone().into_bytes(),
        })
    };
    // `+` is a plus, as Salesforce sends the URL as typed; a space is not.
    assert!(send("token=same%20token%2Ffor-both")
        .text()
        .contains("does not match"));
    assert!(send("token=same+token/for-both")
        .text()
        .contains("<Ack>true</Ack>"));

    let dump = app.kv_dump();
    for (key, value) in &dump {
        let text = String::from_utf8_lossy(value);
        for secret in ["SESSIONSECRET", "same+token/for-both"] {
            assert!(!text.contains(secret), "{key} stores a secret: {text}");
        }
    }
    let stats = app
        .request(sfsync_tests::host::TestRequest {
            method: "GET".into(),
            path_and_query: "/admin/stats".into(),
            headers: vec![("authorization".into(), "Bearer same+token/for-both".into())],
            body: Vec::new(),
        })
        .json();
    let warnings = stats["warnings"].to_string();
    assert!(
        warnings.contains("admin_token equals sf_endpoint_token"),
        "{warnings}"
    );
    assert!(
        !warnings.contains("same+token"),
        "a warning never shows a value: {warnings}"
    );
}

/// One hostile request of the table.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn soap_case(name: &'static str, body: String, status: u16, says: &'static str) -> Case {
    Case {
        name,
        method: "POST",
        path: format!("/sf/created?token={ENDPOINT_TOKEN}"),
        headers: vec![("content-type", "text/xml".into())],
        body: body.into_bytes(),
        status,
        says,
    }
}

fn admin_case(
    name: &'static str,
    method: &'static str,
    path: &str,
    content_type: &str,
    body: &str,
    status: u16,
    says: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        headers: vec![
            ("authorization", format!("Bearer {ADMIN_TOKEN}")),
            ("content-type", content_type.to_string()),
        ],
        body: body.as_bytes().to_vec(),
        status,
        says,
    }
}

/// An Outbound Message with `inner` in place of its notifications.
fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG_ID}</OrganizationId>{inner}</notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

fn notification(fields: &str) -> String {
    format!(
        r#"<Notification><Id>04l000000000000001</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>"#
    )
}

fn table() -> Vec<Case> {
    let id = "<sf:Id>003000000000009AAA</sf:Id>";
    let mut cases = vec![
        // Encodings.
        soap_case("UTF-16 body", String::from_utf8_lossy(&[0xff, 0xfe, b'<', 0]).into_owned(), 500, "not"),
        soap_case("empty body", String::new(), 500, ""),
        soap_case("not XML", "hello".into(), 500, "XML"),
        soap_case("JSON instead of SOAP", "{\"a\":1}".into(), 500, "XML"),
        soap_case("truncated XML", envelope(&notification(id))[..200].to_string(), 500, "XML"),
        // Entity and DOCTYPE tricks.
        soap_case("DOCTYPE", format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", envelope("")), 500, "DOCTYPE"),
        soap_case("external entity", format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", envelope("")), 500, "DOCTYPE"),
        soap_case("undeclared entity", envelope(&notification(&format!("{id}<sf:LastName>&xxe;</sf:LastName>"))), 500, "entity"),
        soap_case("an & that starts no entity", envelope(&notification(&format!("{id}<sf:LastName>a & b</sf:LastName>"))), 500, ""),
        soap_case("a million references", envelope(&notification(&format!("{id}<sf:LastName>{}</sf:LastName>", "&amp;".repeat(200_000)))), 500, "references"),
        // Namespace tricks.
        soap_case("wrong envelope namespace", envelope("").replace("http://schemas.xmlsoap.org/soap/envelope/", "urn:evil"), 500, "Envelope"),
        soap_case("wrong outbound namespace", envelope(&notification(id)).replace("http://soap.sforce.com/2005/09/outbound", "urn:evil"), 500, "notifications"),
        soap_case("undeclared prefix", envelope("<q:Notification/>"), 500, "prefix"),
        soap_case("prefix rebound to SOAP", envelope(&notification(id)).replace("xmlns:soapenv=", "xmlns:x=\"a\" xmlns:soapenv="), 200, "Ack"),
        soap_case("a 1 MiB namespace URI", envelope(&format!("<x xmlns:q=\"{}\"/>{}", "u".repeat(1 << 20), notification(id))), 200, "Ack"),
        // Nesting and sizes.
        soap_case("deep nesting", envelope(&"<a>".repeat(100)), 500, "deeper"),
        soap_case("100k elements", envelope(&"<x/>".repeat(100_001)), 500, "elements"),
        soap_case("many attributes", envelope(&format!("<x {}/>", (0..40).map(|i| format!("a{i}=\"1\" ")).collect::<String>())), 500, "attributes"),
        soap_case("a huge field value", envelope(&notification(&format!("{id}<sf:LastName>{}</sf:LastName>", "x".repeat(600_000)))), 500, "bytes of text"),
        soap_case("a body just over 8 MiB", format!("{}{}", envelope(""), " ".repeat(8 << 20)), 413, "limit"),
        soap_case("zero notifications", envelope(""), 500, "otification"),
        soap_case("101 notifications", envelope(&(0..101).map(|n| format!(r#"<Notification><Id>04l{n:015}</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>003{n:012}AAA</sf:Id></sObject></Notification>"#)).collect::<String>()), 500, "100"),
        soap_case("two roots", format!("{}<x/>", envelope(&notification(id))), 500, "root"),
        soap_case("text outside the root", format!("{}junk", envelope(&notification(id))), 500, "outside"),
        soap_case("foreign org", envelope(&notification(id)).replace(ORG_ID, "00D000000000099AAA"), 500, "OrganizationId"),
        soap_case("no OrganizationId", envelope(&notification(id)).replace(&format!("<OrganizationId>{ORG_ID}</OrganizationId>"), ""), 500, "OrganizationId"),
        // Tokens and methods.
        Case { name: "GET on the message route", method: "GET", path: format!("/sf/created?token={ENDPOINT_TOKEN}"), headers: vec![], body: vec![], status: 405, says: "POST" },
        Case { name: "no token", method: "POST", path: "/sf/created".into(), headers: vec![], body: envelope(&notification(id)).into_bytes(), status: 500, says: "token" },
        Case { name: "token with a space for +", method: "POST", path: "/sf/created?token=sf%20endpoint".into(), headers: vec![], body: vec![], status: 500, says: "does not match" },
        Case { name: "token twice, wrong first", method: "POST", path: format!("/sf/created?token=x&token={ENDPOINT_TOKEN}"), headers: vec![], body: vec![], status: 500, says: "does not match" },
        Case { name: "a header injection attempt", method: "POST", path: format!("/sf/created?token={ENDPOINT_TOKEN}%0d%0aX-Evil:%201"), headers: vec![], body: vec![], status: 500, says: "does not match" },
        Case { name: "admin without bearer", method: "GET", path: "/admin/stats".into(), headers: vec![], body: vec![], status: 401, says: "Authorization" },
        Case { name: "admin with the endpoint token", method: "GET", path: "/admin/stats".into(), headers: vec![("authorization", format!("Bearer {ENDPOINT_TOKEN}"))], body: vec![], status: 401, says: "wrong" },
        Case { name: "admin with Basic auth", method: "GET", path: "/admin/stats".into(), headers: vec![("authorization", "Basic YTpi".into())], body: vec![], status: 401, says: "Bearer" },
    ];
    cases.push(Case {
        name: "Latin-1 bytes",
        method: "POST",
        path: format!("/sf/created?token={ENDPOINT_TOKEN}"),
        headers: vec![("content-type", "text/xml".into())],
        body: envelope(&notification(&format!(
            "{id}<sf:LastName>\u{e9}</sf:LastName>"
        )))
        .replace('\u{e9}', "\u{1}")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 1 { 0xe9 } else { b })
        .collect(),
        status: 500,
        says: "UTF-8",
    });
    cases.push(Case {
        name: "backfill not UTF-8",
        method: "POST",
        path: "/admin/backfill?object=Contact".into(),
        headers: vec![("authorization", format!("Bearer {ADMIN_TOKEN}"))],
        body: b"Id,LastName\n003000000000001AAA,\xe9\n".to_vec(),
        status: 400,
        says: "UTF-8",
    });
    // The admin API: cursors, limits, paths, CSV.
    cases.extend([
        admin_case(
            "bad cursor",
            "GET",
            "/admin/records?cursor=!!!",
            "",
            "",
            400,
            "cursor",
        ),
        admin_case(
            "cursor for another prefix",
            "GET",
            "/admin/records?cursor=cnVuLzE",
            "",
            "",
            400,
            "cursor",
        ),
        admin_case(
            "limit zero",
            "GET",
            "/admin/records?limit=0",
            "",
            "",
            400,
            "limit",
        ),
        admin_case(
            "limit huge",
            "GET",
            "/admin/records?limit=99999999999999999999",
            "",
            "",
            400,
            "limit",
        ),
        admin_case(
            "limit negative",
            "GET",
            "/admin/records?limit=-1",
            "",
            "",
            400,
            "limit",
        ),
        admin_case(
            "bad status filter",
            "GET",
            "/admin/records?status=everything",
            "",
            "",
            400,
            "status",
        ),
        admin_case(
            "bad date filter",
            "GET",
            "/admin/records?since=yesterday",
            "",
            "",
            400,
            "since",
        ),
        admin_case(
            "path traversal in a record id",
            "GET",
            "/admin/records/Contact/..%2f..%2fmapping%2fcurrent",
            "",
            "",
            404,
            "",
        ),
        admin_case(
            "dot-dot object",
            "GET",
            "/admin/records/../mapping",
            "",
            "",
            404,
            "",
        ),
        admin_case(
            "an id with a NUL",
            "GET",
            "/admin/records/Contact/003%00",
            "",
            "",
            404,
            "",
        ),
        admin_case(
            "unknown route",
            "GET",
            "/admin/../../etc/passwd",
            "",
            "",
            404,
            "",
        ),
        admin_case("bad run id", "GET", "/admin/runs/..%2f..", "", "", 404, ""),
        admin_case(
            "resend not JSON",
            "POST",
            "/admin/resend",
            "application/json",
            "{",
            400,
            "JSON",
        ),
        admin_case(
            "resend an array",
            "POST",
            "/admin/resend",
            "application/json",
            "[1,2]",
            400,
            "object",
        ),
        admin_case(
            "resend a traversal id",
            "POST",
            "/admin/resend",
            "application/json",
            "{\"records\":[\"Contact/../../x\"]}",
            400,
            "",
        ),
        admin_case(
            "resend 1001 records",
            "POST",
            "/admin/resend",
            "application/json",
            &format!(
                "{{\"records\":[{}]}}",
                (0..1001)
                    .map(|n| format!("\"Contact/003{n:012}AAA\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            400,
            "1000",
        ),
        admin_case(
            "resend unknown key",
            "POST",
            "/admin/resend",
            "application/json",
            "{\"everything\":true}",
            400,
            "unknown key",
        ),
        admin_case(
            "backfill without object",
            "POST",
            "/admin/backfill",
            "text/csv",
            "Id\n003000000000001AAA\n",
            400,
            "object",
        ),
        admin_case(
            "backfill bad object name",
            "POST",
            "/admin/backfill?object=Contact%3Bdrop",
            "text/csv",
            "Id\n",
            400,
            "object",
        ),
        admin_case(
            "backfill without an Id column, by API name or label",
            "POST",
            "/admin/backfill?object=Contact",
            "text/csv",
            "First Name,Email\nAna,a@example.com\n",
            400,
            "no Id column",
        ),
        admin_case(
            "backfill with a malformed column map",
            "POST",
            "/admin/backfill?object=Contact&columns=First%20Name",
            "text/csv",
            "First Name,Id\nAna,003000000000001AAA\n",
            400,
            "Label=ApiName",
        ),
        admin_case(
            "backfill bad quoting",
            "POST",
            "/admin/backfill?object=Contact",
            "text/csv",
            "Id,LastName\n003000000000001AAA,\"unterminated\n",
            200,
            "",
        ),
        admin_case(
            "backfill bad first_line",
            "POST",
            "/admin/backfill?object=Contact&first_line=0",
            "text/csv",
            "Id\n003000000000001AAA\n",
            400,
            "first_line",
        ),
        admin_case(
            "backfill first_line with a cursor",
            "POST",
            "/admin/backfill?object=Contact&first_line=5&cursor=abc",
            "text/csv",
            "Id\n003000000000001AAA\n",
            400,
            "cursor",
        ),
        admin_case(
            "backfill bad cursor",
            "POST",
            "/admin/backfill?object=Contact&cursor=zzz",
            "text/csv",
            "Id\n003000000000001AAA\n",
            400,
            "cursor",
        ),
        admin_case(
            "backfill huge row",
            "POST",
            "/admin/backfill?object=Contact",
            "text/csv",
            &format!("Id,LastName\n003000000000001AAA,{}\n", "x".repeat(2 << 20)),
            200,
            "",
        ),
        admin_case(
            "import unknown column",
            "POST",
            "/admin/import",
            "text/csv",
            "salesforce_id,zendesk\n1,2\n",
            400,
            "unknown column",
        ),
        admin_case(
            "import batch over 1000 rows",
            "POST",
            "/admin/import?first_line=2",
            "text/csv",
            &(0..1001).fold(
                String::from("salesforce_contact_id,zendesk_user_id\n"),
                |mut body, i| {
                    body.push_str(&format!("003{i:012}AAA,{}\n", i + 1));
                    body
                },
            ),
            400,
            "at most 1000 rows",
        ),
        admin_case(
            "import bad first_line",
            "POST",
            "/admin/import?first_line=one",
            "text/csv",
            "salesforce_contact_id,zendesk_user_id\n003000000000001AAA,1\n",
            400,
            "first_line",
        ),
        admin_case(
            "import empty",
            "POST",
            "/admin/import",
            "text/csv",
            "",
            400,
            "empty",
        ),
        admin_case(
            "mapping not TOML",
            "PUT",
            "/admin/mapping",
            "application/toml",
            "[[[",
            422,
            "",
        ),
        admin_case(
            "mapping validate garbage",
            "POST",
            "/admin/mapping/validate",
            "application/toml",
            "objects = 5",
            422,
            "",
        ),
        admin_case(
            "repair bad limit",
            "POST",
            "/admin/repair/ids?limit=9999",
            "",
            "",
            400,
            "limit",
        ),
        admin_case(
            "repair bad dry_run",
            "POST",
            "/admin/repair/ids?dry_run=maybe",
            "",
            "",
            400,
            "dry_run",
        ),
        admin_case(
            "DELETE on stats",
            "DELETE",
            "/admin/stats",
            "",
            "",
            405,
            "GET",
        ),
    ]);
    cases
}

#[test]
fn a_table_of_hostile_requests_each_answered_with_its_error_and_nothing_written() {
    let app = TestApp::start();
    let cases = table();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for (n, case) in cases.into_iter().enumerate() {
        still_serves(&app, 100 + n);
        let before = app.kv_dump();
        let resp = app.request(sfsync_tests::host::TestRequest {
            method: case.method.into(),
            path_and_query: case.path.clone(),
            headers: case
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: case.body.clone(),
        });
        let text = resp.text();
        if resp.status != case.status || !text.contains(case.says) {
            wrong.push(format!(
                "{}: {} {} -> {} {}",
                case.name,
                case.method,
                case.path.chars().take(80).collect::<String>(),
                resp.status,
                text.chars().take(300).collect::<String>()
            ));
            continue;
        }
        if resp.status >= 400 {
            let after = app.kv_dump();
            if after != before {
                wrong.push(format!("{}: refused, but the store changed", case.name));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    still_serves(&app, 99);
}
