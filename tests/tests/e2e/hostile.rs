//! Hostile input over a real socket (the test host's listener, or a real
//! Spin): bodies over their route's cap, declared or streamed, bodies that
//! never finish, and oversized bodies without a token — each refused before
//! (or as soon as) the cap is passed, nothing written, and the server still
//! serving the next good request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sfsync_tests::app::{TestApp, ADMIN_TOKEN, ENDPOINT_TOKEN, ORG_ID};
use sfsync_tests::soap::{lone_contact, message};

/// How the body is sent after the head.
enum Body {
    /// Nothing at all (the head may still declare a length).
    None,
    /// `total` bytes, chunked, as fast as the server takes them.
    Chunked { total: usize },
    /// One byte every `every`, up to `total`.
    Trickle { total: usize, every: Duration },
}

struct Answer {
    status: u16,
    text: String,
    took: Duration,
}

/// Send a request by hand and read the answer, whatever the server does
/// with the rest of the body.
fn raw(base: &str, head: &str, body: Body) -> Answer {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let started = Instant::now();
    stream.write_all(head.as_bytes()).expect("head");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || match body {
        Body::None => {}
        Body::Chunked { total } => {
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < total {
                let frame = format!("{:x}\r\n", chunk.len());
                if writer.write_all(frame.as_bytes()).is_err()
                    || writer.write_all(&chunk).is_err()
                    || writer.write_all(b"\r\n").is_err()
                {
                    return;
                }
                sent += chunk.len();
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        }
        Body::Trickle { total, every } => {
            for _ in 0..total {
                if writer.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        }
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    // Read until the head and the declared body are in.
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    let took = started.elapsed();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer { status, text, took }
}

fn post_head(path: &str, headers: &[&str]) -> String {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

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
    let stored: Vec<String> = app
        .kv_dump()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("rec/"))
        .collect();
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
