//! How the CLI prints, by one rule for every command:
//!
//! - **People** get tables ([`comfy_table`]) and sentences on stdout, and
//!   progress and notes on stderr. Statuses are coloured only when stdout is
//!   a terminal and `NO_COLOR` is unset.
//! - **Scripts** (`--json`) get JSON on stdout and nothing else there: a
//!   command that lists (records, runs, failures of a resend) prints **one
//!   JSON object per line**; any other prints **one JSON object**, on one
//!   line. Notes still go to stderr.
//!
//! Exit codes are [`Outcome`]'s: 0 done, 1 error, 2 usage (a wrong flag,
//! a refused confirmation), 3 done but some records failed.

use std::fmt::Display;
use std::io::IsTerminal as _;

use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde::Serialize;

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Some records failed or were rejected: exit code 3.
    Partial,
}

impl Outcome {
    pub fn partial_if(failed: bool) -> Outcome {
        if failed {
            Outcome::Partial
        } else {
            Outcome::Done
        }
    }
}

/// A mistake in how the command was called (exit code 2), as opposed to a
/// failure while doing it (1).
#[derive(Debug)]
pub struct Usage(pub String);

impl Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A usage error to return with `?` or `Err(...)`.
pub fn usage(text: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(text.into()))
}

/// Where a command prints.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    color: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        let color = !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Output { json, color }
    }

    /// The command's one JSON object (`--json` only).
    pub fn object(&self, value: &impl Serialize) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(value)?);
        }
        Ok(())
    }

    /// One item of a list, one line each (`--json` only).
    pub fn item(&self, value: &impl Serialize) -> anyhow::Result<()> {
        self.object(value)
    }

    /// A sentence for people (not printed with `--json`).
    pub fn say(&self, text: impl Display) {
        if !self.json {
            println!("{text}");
        }
    }

    /// A note on stderr, in both modes.
    pub fn note(&self, text: impl Display) {
        eprintln!("{text}");
    }

    /// A table for people: `headers`, then `rows`; long cells wrap to the
    /// terminal's width. A column named `status` is coloured.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let mut t = Table::new();
        t.load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(headers.iter().map(|h| h.to_uppercase()));
        if !std::io::stdout().is_terminal() {
            // No terminal, no width: keep each row on one line.
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        for c in t.column_iter_mut() {
            c.set_padding((0, 2));
        }
        let status_col = headers.iter().position(|h| *h == "status");
        for row in rows {
            t.add_row(row.iter().enumerate().map(|(i, c)| {
                let cell = Cell::new(c);
                match (self.color, Some(i) == status_col, c.as_str()) {
                    (true, true, "error" | "failed") => cell.fg(Color::Red),
                    (true, true, "synced" | "ok") => cell.fg(Color::Green),
                    (true, true, "pending" | "skipped") => cell.fg(Color::Yellow),
                    _ => cell,
                }
            }));
        }
        for line in t.lines() {
            println!("{}", line.trim_end());
        }
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

/// Ask before acting on `count` records (more than [`CONFIRM_OVER`]) unless
/// `yes`. Without a terminal to ask on, refuse: a script passes `--yes`.
pub fn confirm(yes: bool, count: Option<u64>, what: &str) -> anyhow::Result<()> {
    let over = match count {
        Some(n) if n <= CONFIRM_OVER => return Ok(()),
        Some(n) => format!("{n}"),
        None => format!("possibly more than {CONFIRM_OVER}"),
    };
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "this would {what} {over} records; pass --yes to go ahead without a question (or --dry-run to see them first)"
        )));
    }
    eprint!("{what} {over} records? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(usage("not confirmed; nothing was done"))
    }
}

/// Acting on more records than this asks first.
pub const CONFIRM_OVER: u64 = 100;
