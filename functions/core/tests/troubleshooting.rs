//! The troubleshooting table of `docs/salesforce-setup.md` lists every
//! message sfsync gives a caller: each SOAP Fault text, admin API error,
//! configuration error and error a sync stores on a record. This test
//! finds the messages in the source and fails, naming them, when one is
//! missing from the table — so a new message cannot ship undocumented.
//!
//! A message is a string literal in one of the files below that reads like
//! one: `what is wrong; what to do` (a `"; "`, 30 characters or more), or a
//! literal of 25 or more characters handed to an error constructor
//! (`AdminError::…(`, `fault(`, `Failure::…(`, `#[error(`, …). What the table
//! must hold is the message's longest fixed piece (the text between its
//! `{placeholders}` and quotes).

use std::path::Path;

const FILES: &[&str] = &[
    "src/inbound.rs",
    "src/soap.rs",
    "src/admission.rs",
    "src/settings.rs",
    "src/store.rs",
    "src/destination/classify.rs",
    "src/destination/webhook.rs",
    "src/destination/zendesk/api.rs",
    "src/destination/zendesk/mod.rs",
    "src/pipeline.rs",
    "src/salesforce/mod.rs",
    "src/salesforce/query.rs",
    "src/salesforce/slots.rs",
    "src/conversion.rs",
    "src/record.rs",
];

/// Files where every longer literal is a caller-facing message.
const ALL_LITERALS: &[&str] = &["src/inbound.rs", "src/store.rs"];

/// Literals that match the pattern but are not messages to a caller.
const NOT_MESSAGES: &[&str] = &[
    "default-src 'none'",
    "attachment; filename",
    "notifications are acknowledged and recorded as pending; POST",
    "; and {} more",
    "sync is paused: notifications are recorded as pending and nothing is pushed; sfsync resume",
    "resend the records left pending",
];

const CONTEXTS: &[&str] = &[
    "fault(",
    "client(",
    "server(",
    "unauthorized(",
    "message:",
    "#[error(",
    "BadRequest(",
];

/// The string literals of `src` (no raw strings), with the text before each.
fn literals(src: &str) -> Vec<(String, String)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('"', '\'') or a lifetime: skip what could
                // hide a quote.
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') {
                    i += 4;
                } else {
                    i += 1;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let before_start = src[..i].char_indices().rev().nth(60).map_or(0, |(k, _)| k);
                out.push((
                    src[before_start..i].to_string(),
                    src[start..j.min(bytes.len())].to_string(),
                ));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn in_context(before: &str) -> bool {
    let trimmed = before.trim_end().trim_end_matches('(').trim_end();
    let trimmed = trimmed
        .trim_end_matches("&format!")
        .trim_end_matches("format!")
        .trim_end();
    CONTEXTS
        .iter()
        .any(|c| trimmed.ends_with(c.trim_end_matches('(')) || before.trim_end().ends_with(c))
        || before.contains("AdminError::") && before.trim_end().ends_with('(')
        || before.contains("Failure::") && before.trim_end().ends_with('(')
}

/// The longest piece of a message between placeholders and quotes.
fn fixed_piece(message: &str) -> String {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
                pieces.push(std::mem::take(&mut current));
            }
            '{' => {
                depth += 1;
                pieces.push(std::mem::take(&mut current));
            }
            '}' => {
                depth = (depth - 1).max(0);
            }
            _ if depth > 0 => {}
            c => current.push(c),
        }
    }
    pieces.push(current);
    pieces
        .into_iter()
        .map(|p| p.trim().to_string())
        .max_by_key(|p| p.chars().count())
        .unwrap_or_default()
}

fn messages() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    let mut admin: Vec<String> = std::fs::read_dir(root.join("src/admin"))
        .expect("src/admin")
        .filter_map(|e| e.ok())
        .map(|e| format!("src/admin/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".rs"))
        .collect();
    admin.sort();
    files.extend(admin);
    let mut out: Vec<(String, String)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(root.join(&file)).expect("source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (before, lit) in literals(code) {
            let long = lit.chars().count();
            let message = (lit.contains("; ") && long >= 30)
                || (long >= 25 && in_context(&before))
                || (ALL_LITERALS.contains(&file.as_str()) && long >= 25 && lit.contains(' '));
            if message
                && !lit.contains('\n')
                && !NOT_MESSAGES.iter().any(|n| lit.contains(n))
                && !out.iter().any(|(_, l)| *l == lit)
            {
                out.push((file.clone(), lit));
            }
        }
    }
    out
}

#[test]
fn every_message_is_in_the_troubleshooting_table() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/salesforce-setup.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/salesforce-setup.md");
    let table = doc
        .split("## Troubleshooting")
        .nth(1)
        .expect("a Troubleshooting section");
    let found = messages();
    assert!(
        found.len() > 80,
        "the scan finds the messages ({} found)",
        found.len()
    );
    let missing: Vec<String> = found
        .iter()
        .filter_map(|(file, lit)| {
            let piece = fixed_piece(lit);
            (piece.chars().count() >= 12 && !table.contains(&piece))
                .then(|| format!("{file}: {lit}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{} message(s) missing from the troubleshooting table of docs/salesforce-setup.md; add a row for each (message, where it shows, cause, fix):\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn the_scan_reads_messages_as_they_are_written() {
    assert_eq!(
        fixed_piece("OrganizationId {org} is not the org this sfsync deployment serves"),
        "is not the org this sfsync deployment serves"
    );
    assert_eq!(
        fixed_piece("limit \\\"{l}\\\" is out of range; use 1"),
        "is out of range; use 1"
    );
    let lits = literals("x = '\"'; AdminError::BadRequest(\"a; b\".into()) // \"no\"\n");
    assert_eq!(lits.len(), 1);
    assert_eq!(lits[0].1, "a; b");
}
