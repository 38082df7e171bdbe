//! How the CLI prints: aligned tables for people, one JSON value for scripts.

use std::fmt::Display;

/// Print `rows` under `headers` (upper-cased), columns aligned, cells cut at
/// 60 characters.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count().min(60));
            }
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(60).collect();
                format!("{c:<w$}", w = widths.get(i).copied().unwrap_or_default())
            })
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A cell for an optional value: empty when absent.
pub fn cell<T: Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A time as the API gives it, to the second.
pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    cell(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}
