//! A CSV file cut into batches without reading it whole, for `backfill` and
//! `import`: each batch is the file's header and the next rows exactly as
//! they are in the file (quoting, line breaks inside fields, CRLF), with the
//! file line of its first row, which the server adds to its own line count
//! (`first_line`) so that every error names a line of the file the admin
//! has open.
//!
//! Two handles read the file front to back: a CSV reader that finds where
//! each record starts, and a plain one that copies the bytes between two
//! starts into the batch. Memory is one batch, whatever the file's size.
//!
//! Lines are counted as the server counts them
//! (`sync_core::admin::csv_upload::Lines`): a line ends at LF, CRLF or a CR
//! alone, and a record the CSV reader places at the LF of a CRLF starts
//! after it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, Result};

/// One batch: the header and its rows, ready to send.
pub struct Batch {
    pub body: Vec<u8>,
    /// The file line of the batch's first row.
    pub first_line: u64,
    pub rows: usize,
}

pub struct Batches {
    records: csv::Reader<BufReader<File>>,
    record: csv::ByteRecord,
    /// Where the next unsent record starts, or `None` at the end.
    next_start: Option<u64>,
    raw: BufReader<File>,
    /// Bytes of the file copied or counted so far.
    consumed: u64,
    lines: LineEnds,
    header: Vec<u8>,
}

fn reader(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(file)))
}

/// The number of rows after the header (one pass, nothing kept).
pub fn count_rows(path: &Path) -> Result<usize> {
    let mut records = reader(path)?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while records
        .read_byte_record(&mut record)
        .with_context(|| format!("{} is not a readable CSV file", path.display()))?
    {
        rows += 1;
    }
    Ok(rows)
}

impl Batches {
    pub fn open(path: &Path) -> Result<Batches> {
        let mut records = reader(path)?;
        records
            .byte_headers()
            .with_context(|| format!("the header row of {} cannot be read", path.display()))?;
        let raw = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut batches = Batches {
            records,
            record: csv::ByteRecord::new(),
            next_start: None,
            raw: BufReader::new(raw),
            consumed: 0,
            lines: LineEnds::default(),
            header: Vec::new(),
        };
        batches.advance()?;
        let header_end = batches.next_start.unwrap_or(u64::MAX);
        let mut header = batches.copy_to(header_end)?;
        let line_breaks = batches.take_line_breaks()?;
        header.extend_from_slice(&line_breaks);
        if !header.ends_with(b"\n") && !header.ends_with(b"\r") {
            header.push(b'\n');
        }
        batches.header = header;
        Ok(batches)
    }

    /// Read the next record's start into `next_start`.
    fn advance(&mut self) -> Result<()> {
        let more = self
            .records
            .read_byte_record(&mut self.record)
            .context("the file cannot be read as CSV")?;
        self.next_start = more.then(|| self.record.position().map_or(0, |p| p.byte()));
        Ok(())
    }

    /// Copy the file's bytes from where the last copy ended to `end`,
    /// counting their line ends.
    fn copy_to(&mut self, end: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        (&mut self.raw)
            .take(end.saturating_sub(self.consumed))
            .read_to_end(&mut out)
            .context("the file cannot be read")?;
        self.consumed += out.len() as u64;
        self.lines.count(&out);
        Ok(out)
    }

    /// Consume the line breaks the next record's start may point at (the
    /// LF of a CRLF), so that the record starts at its first cell.
    fn take_line_breaks(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let buf = self.raw.fill_buf().context("the file cannot be read")?;
            match buf.first() {
                Some(b @ (b'\r' | b'\n')) => {
                    let b = *b;
                    self.raw.consume(1);
                    self.consumed += 1;
                    self.lines.count(&[b]);
                    out.push(b);
                }
                _ => return Ok(out),
            }
        }
    }

    /// Skip `rows` rows (to resume), counting their lines.
    pub fn skip(&mut self, rows: usize) -> Result<()> {
        for _ in 0..rows {
            if self.next_start.is_none() {
                break;
            }
            self.advance()?;
            // Copy in pieces of at most one record: memory stays bounded.
            let end = self.next_start.unwrap_or(u64::MAX);
            self.copy_to(end)?;
        }
        self.take_line_breaks()?;
        Ok(())
    }

    /// The next batch of at most `rows` rows, or `None` at the end.
    pub fn next_batch(&mut self, rows: usize) -> Result<Option<Batch>> {
        if self.next_start.is_none() {
            return Ok(None);
        }
        self.take_line_breaks()?;
        let first_line = self.lines.line();
        let mut taken = 0;
        while taken < rows.max(1) && self.next_start.is_some() {
            self.advance()?;
            taken += 1;
        }
        let end = self.next_start.unwrap_or(u64::MAX);
        let mut body = self.header.clone();
        body.extend_from_slice(&self.copy_to(end)?);
        Ok(Some(Batch {
            body,
            first_line,
            rows: taken,
        }))
    }
}

/// Line ends counted over bytes fed in file order: LF, CRLF (once), or a CR
/// alone.
#[derive(Default)]
struct LineEnds {
    ends: u64,
    /// The last byte fed was a CR: a line end unless an LF follows.
    pending_cr: bool,
}

impl LineEnds {
    fn count(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.pending_cr && b != b'\n' {
                self.ends += 1;
            }
            self.pending_cr = b == b'\r';
            if b == b'\n' {
                self.ends += 1;
            }
        }
    }

    /// The 1-based line of the next byte (which is not an LF).
    fn line(&self) -> u64 {
        self.ends + u64::from(self.pending_cr) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::admin::backfill::read_csv;

    fn file(text: &str) -> tempfile::TempPath {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut f, text.as_bytes()).expect("write");
        f.into_temp_path()
    }

    /// What the server makes of a batch: (file line, first cell) per row.
    fn served(batch: &Batch) -> Vec<(u64, String)> {
        let parsed = read_csv(&batch.body).expect("a CSV of its own");
        parsed
            .rows
            .iter()
            .map(|(l, c)| (l + batch.first_line - 2, c[0].clone()))
            .collect()
    }

    #[test]
    fn batches_carry_the_header_their_rows_and_their_file_lines() {
        // BOM, CRLF, and a quoted field over two lines (row 2 spans lines 3-4).
        let path = file("\u{feff}Id,Description\r\n003000000000001AAA,one\r\n003000000000002AAA,\"two\r\nlines\"\r\n003000000000003AAA,three\r\n003000000000004AAA,four\r\n");
        assert_eq!(count_rows(&path).expect("count"), 4);
        let mut batches = Batches::open(&path).expect("open");
        let mut all = Vec::new();
        while let Some(b) = batches.next_batch(2).expect("batch") {
            assert!(b.body.starts_with("\u{feff}Id,Description\r\n".as_bytes()));
            all.extend(served(&b));
        }
        let lines: Vec<u64> = all.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3, 5, 6]);
        assert_eq!(all[1].1, "003000000000002AAA");
        assert_eq!(all[3].1, "003000000000004AAA");
    }

    #[test]
    fn any_line_ending_and_blank_lines_keep_the_file_lines() {
        for text in [
            "Id\n001000000000001AAA\n\n001000000000002AAA\n001000000000003AAA",
            "Id\r001000000000001AAA\r\r001000000000002AAA\r001000000000003AAA\r",
            "Id\r\n001000000000001AAA\r\n\r\n001000000000002AAA\r\n001000000000003AAA\r\n",
        ] {
            let path = file(text);
            for size in [1, 2, 5] {
                let mut batches = Batches::open(&path).expect("open");
                let mut lines = Vec::new();
                while let Some(b) = batches.next_batch(size).expect("batch") {
                    lines.extend(served(&b).into_iter().map(|(l, _)| l));
                }
                assert_eq!(lines, vec![2, 4, 5], "{text:?} in batches of {size}");
            }
        }
    }

    #[test]
    fn skipping_resumes_at_the_same_rows_and_lines() {
        let path = file(
            "Id,Name\n001000000000001AAA,\"a\nb\"\n001000000000002AAA,c\n001000000000003AAA,d\n",
        );
        let mut batches = Batches::open(&path).expect("open");
        batches.skip(1).expect("skip");
        let b = batches.next_batch(10).expect("batch").expect("rows left");
        assert_eq!(b.rows, 2);
        assert_eq!(
            served(&b),
            vec![
                (4, "001000000000002AAA".to_string()),
                (5, "001000000000003AAA".to_string())
            ]
        );
        assert!(batches.next_batch(10).expect("end").is_none());
    }

    #[test]
    fn a_header_alone_has_no_batch() {
        let path = file("Id,Name\n");
        assert_eq!(count_rows(&path).expect("count"), 0);
        assert!(Batches::open(&path)
            .expect("open")
            .next_batch(10)
            .expect("batch")
            .is_none());
    }
}
