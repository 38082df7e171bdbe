//! `sfsync backfill`: send a Salesforce CSV export in batches — each the
//! header and its own rows, with the file line of its first row — with a
//! progress bar, saving the next row in `FILE.sfsync-cursor` so that running
//! the same command again resumes. Exits 2 when rows were rejected or failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sync_core::admin::wire::BackfillReply;

use sync_core::admin::backfill::{csv_reader, Lines};

use crate::client::{enc, Client};

fn cursor_file(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sfsync-cursor");
    PathBuf::from(name)
}

/// A file cut into rows: the header (with its line break) and where each
/// row starts, with its file line. Read once; each batch is then sent as
/// the header and its own rows, with the line of its first row, so that
/// every call costs only its rows.
struct Rows<'a> {
    text: &'a str,
    header: &'a str,
    starts: Vec<usize>,
    lines: Vec<u64>,
}

impl<'a> Rows<'a> {
    fn read(body: &'a [u8]) -> Result<Rows<'a>> {
        let (text, mut reader) = csv_reader(body).map_err(anyhow::Error::msg)?;
        reader
            .headers()
            .map_err(|e| anyhow::anyhow!("the header row cannot be read: {e}"))?;
        let mut counter = Lines::new(text);
        let (mut starts, mut lines) = (Vec::new(), Vec::new());
        let bytes = text.as_bytes();
        for record in reader.records() {
            let record = record.map_err(|e| {
                anyhow::anyhow!("line {}: unreadable CSV ({e})", counter.at(e.position()))
            })?;
            let mut at = record.position().map_or(0, |p| p.byte() as usize);
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            lines.push(counter.at(record.position()));
            starts.push(at);
        }
        let header_end = starts.first().copied().unwrap_or(text.len());
        Ok(Rows {
            text,
            header: &text[..header_end],
            starts,
            lines,
        })
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The body of rows `from..to`, and the file line of the first.
    fn batch(&self, from: usize, to: usize) -> (String, u64) {
        let end = self.starts.get(to).copied().unwrap_or(self.text.len());
        let mut body = String::with_capacity(self.header.len() + end - self.starts[from]);
        body.push_str(self.header);
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body.push_str(&self.text[self.starts[from]..end]);
        (body, self.lines[from])
    }
}

pub fn run(
    client: &Client,
    object: &str,
    file: &Path,
    batch: usize,
    restart: bool,
) -> Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows =
        Rows::read(&body).with_context(|| format!("{} is not a CSV export", file.display()))?;
    let state = cursor_file(file);
    let saved: Option<usize> = if restart {
        None
    } else {
        std::fs::read_to_string(&state).ok().and_then(|c| {
            let row = c
                .trim()
                .strip_prefix("next_row=")
                .and_then(|n| n.parse().ok());
            if row.is_none() {
                eprintln!("{} is from an older sfsync; starting over", state.display());
            }
            row
        })
    };
    let mut next = saved.unwrap_or(0).min(rows.len());
    if next > 0 {
        eprintln!(
            "resuming at row {} of {} (saved in {}; --restart to start over)",
            next + 1,
            rows.len(),
            state.display()
        );
    }
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(next as u64);
    let started = Instant::now();
    let (mut synced, mut skipped, mut done_here) = (0u64, 0u64, 0u64);
    let mut problems: Vec<String> = Vec::new();
    let mut not_applied: Vec<String> = Vec::new();
    let batch = batch.clamp(1, 1000);
    while next < rows.len() {
        let to = (next + batch).min(rows.len());
        let (chunk, first_line) = rows.batch(next, to);
        let path = format!(
            "/admin/backfill?object={}&first_line={first_line}",
            enc(object)
        );
        let reply: BackfillReply =
            client.send_typed("POST", &path, "text/csv", chunk.as_bytes())?;
        let c = &reply.counts;
        synced += u64::from(c.synced);
        skipped += u64::from(c.skipped + c.ignored);
        done_here += (to - next) as u64;
        for r in &reply.rejected {
            problems.push(format!("line {}: rejected: {}", r.line, r.error));
        }
        for f in &reply.not_applied {
            not_applied.push(format!(
                "line {} ({}): {}",
                f.line,
                f.record,
                f.error.as_deref().unwrap_or_default()
            ));
        }
        for f in reply.failed.iter().chain(&reply.busy) {
            problems.push(format!(
                "line {} ({}): {}",
                f.line,
                f.record,
                f.error.as_deref().unwrap_or_default()
            ));
        }
        next = to;
        bar.set_position(next as u64);
        let rate = done_here as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "synced {synced}, skipped {skipped}, errors {}, {rate:.0} rows/s",
            problems.len()
        ));
        if next < rows.len() {
            std::fs::write(&state, format!("next_row={next}\n"))
                .with_context(|| format!("cannot save the progress to {}", state.display()))?;
        }
    }
    let _ = std::fs::remove_file(&state);
    bar.finish_and_clear();
    println!(
        "backfilled {object} from {}: {synced} synced, {skipped} skipped (unchanged), {} rejected or failed, in {:.1} s",
        file.display(),
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    if !not_applied.is_empty() {
        println!(
            "{} rows not applied (the stored state is newer, or the row has no stamp):",
            not_applied.len()
        );
        for n in not_applied.iter().take(10) {
            println!("  {n}");
        }
    }
    for p in problems.iter().take(30) {
        eprintln!("  {p}");
    }
    if problems.len() > 30 {
        eprintln!(
            "  … and {} more (sfsync records --status error)",
            problems.len() - 30
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::Rows;
    use sync_core::admin::backfill::read_csv;

    #[test]
    fn batches_carry_the_header_their_rows_and_their_first_line() {
        // BOM, CRLF, and a quoted field over two lines (row 2 spans lines 3-4).
        let file = "\u{feff}Id,Description\r\n003000000000001AAA,one\r\n003000000000002AAA,\"two\r\nlines\"\r\n003000000000003AAA,three\r\n003000000000004AAA,four\r\n";
        let rows = Rows::read(file.as_bytes()).expect("rows");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows.lines, vec![2, 3, 5, 6]);
        let (body, first) = rows.batch(1, 3);
        assert_eq!(first, 3);
        let parsed = read_csv(body.as_bytes()).expect("a CSV of its own");
        let ids: Vec<&str> = parsed.rows.iter().map(|(_, c)| c[0].as_str()).collect();
        assert_eq!(ids, ["003000000000002AAA", "003000000000003AAA"]);
        assert_eq!(parsed.rows[1].1[0], "003000000000003AAA");
        // The server adds first_line - 2 to the body's own lines.
        let file_lines: Vec<u64> = parsed.rows.iter().map(|(l, _)| l + first - 2).collect();
        assert_eq!(file_lines, vec![3, 5]);
        let (last, first) = rows.batch(3, 4);
        assert_eq!(first, 6);
        assert!(last.ends_with("four\r\n"), "{last:?}");
    }
}
