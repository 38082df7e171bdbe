//! Requests written by hand on a TCP socket, for what a normal client will
//! not send: a declared body that never comes, a chunked body of any size
//! streamed from one small buffer, a body trickled a byte at a time. The
//! answer is read whatever the server does with the rest of the body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How the body is sent after the head.
pub enum Body {
    /// Nothing at all (the head may still declare a length).
    None,
    /// `total` bytes, chunked, as fast as the server takes them.
    Chunked { total: usize },
    /// One byte every `every`, up to `total`.
    Trickle { total: usize, every: Duration },
}

pub struct Answer {
    pub status: u16,
    pub text: String,
    pub took: Duration,
}

/// Send a request by hand and read the answer, whatever the server does
/// with the rest of the body.
pub fn raw(base: &str, head: &str, body: Body) -> Answer {
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

pub fn post_head(path: &str, headers: &[&str]) -> String {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}
