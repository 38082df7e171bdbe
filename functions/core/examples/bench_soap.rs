//! Benchmark: the Outbound Message reader on adversarial bodies of 8 MiB
//! (the route's cap) next to a normal 8 MiB message of 100 notifications,
//! in the same run. None may take more than a few times the normal one.
//!
//! Run: `./scripts/bench` (or `cargo run --release -p sync-core --example bench_soap`).

use std::time::{Duration, Instant};

use sync_core::soap::{self, MAX_BODY_BYTES};

const ENVELOPE_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000062EAA</OrganizationId>"#;
const ENVELOPE_TAIL: &str = "</notifications></soapenv:Body></soapenv:Envelope>";

fn fill(head: &str, unit: &str, tail: &str) -> String {
    let mut s = String::with_capacity(MAX_BODY_BYTES);
    s.push_str(head);
    while s.len() + unit.len() + tail.len() < MAX_BODY_BYTES {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

/// 100 notifications with wide Contacts, about 8 MiB in all.
fn normal() -> String {
    let mut s = String::from(ENVELOPE_HEAD);
    let field = "x".repeat(1800);
    for n in 0..100 {
        s.push_str(&format!("<Notification><Id>04l{n:015}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>003{n:012}AAA</sf:Id>"));
        for f in 0..45 {
            s.push_str(&format!("<sf:Field{f}__c>{field}</sf:Field{f}__c>"));
        }
        s.push_str("</sObject></Notification>");
    }
    s.push_str(ENVELOPE_TAIL);
    s
}

fn time(body: &str) -> (Duration, bool) {
    let mut best = Duration::MAX;
    let mut ok = false;
    for _ in 0..3 {
        let started = Instant::now();
        ok = soap::parse(body.as_bytes()).is_ok();
        best = best.min(started.elapsed());
    }
    (best, ok)
}

fn main() {
    let normal = normal();
    let ns_uri = "u".repeat(4 * 1024 * 1024);
    let cases: Vec<(&str, String)> = vec![
        (
            "attribute bomb (one element, ~600k attributes)",
            fill("<a ", "a1234567=\"x\" ", "/>"),
        ),
        (
            "namespace bomb (4 MiB URI, then elements in it)",
            fill(
                &format!("{ENVELOPE_HEAD}<x xmlns:q=\"{ns_uri}\">"),
                "<q:y/>",
                &format!("</x>{ENVELOPE_TAIL}"),
            ),
        ),
        (
            "element bomb (a million empty elements)",
            fill(ENVELOPE_HEAD, "<Notification/>", ENVELOPE_TAIL),
        ),
        (
            "entity-reference bomb (8 MiB of &amp; in one field)",
            fill(
                &format!("{ENVELOPE_HEAD}<Notification><Id>04l000000000000001</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>003000000000001AAA</sf:Id><sf:Description>"),
                "&amp;&lt;&#x41;",
                &format!("</sf:Description></sObject></Notification>{ENVELOPE_TAIL}"),
            ),
        ),
        (
            "entity references spread over 100 notifications",
            {
                let mut s = String::from(ENVELOPE_HEAD);
                let refs = "&amp;&#65;".repeat(7800);
                for n in 0..100 {
                    s.push_str(&format!("<Notification><Id>04l{n:015}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>003{n:012}AAA</sf:Id><sf:Description>{refs}</sf:Description></sObject></Notification>"));
                }
                s.push_str(ENVELOPE_TAIL);
                s
            },
        ),
        (
            "plain text of the same size, 100 notifications",
            {
                let mut s = String::from(ENVELOPE_HEAD);
                let text = "xxxxxxxxxx".repeat(7800);
                for n in 0..100 {
                    s.push_str(&format!("<Notification><Id>04l{n:015}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>003{n:012}AAA</sf:Id><sf:Description>{text}</sf:Description></sObject></Notification>"));
                }
                s.push_str(ENVELOPE_TAIL);
                s
            },
        ),
        ("deep nesting", fill("", "<a>", "")),
        (
            "a SOAP Header of 8 MiB",
            fill(
                r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>"#,
                "<h>header text</h>",
                "</soapenv:Header><soapenv:Body/></soapenv:Envelope>",
            ),
        ),
    ];
    let (base, base_ok) = time(&normal);
    assert!(base_ok, "the normal message parses");
    println!("SOAP reader on 8 MiB bodies (best of 3, release build, same run):");
    println!(
        "  {:<52} {:>8.1} ms  1.0x  ({} bytes, parsed)",
        "normal: 100 notifications",
        base.as_secs_f64() * 1000.0,
        normal.len()
    );
    for (name, body) in &cases {
        let (t, ok) = time(body);
        println!(
            "  {name:<52} {:>8.1} ms  {:.1}x  ({} bytes, {})",
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() / base.as_secs_f64(),
            body.len(),
            if ok { "parsed" } else { "refused" }
        );
    }
}
