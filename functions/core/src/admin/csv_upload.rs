//! Reading an uploaded CSV file, for backfill and import alike: the
//! encoding rules ([`csv_reader`]), the file line of each row counted in one
//! pass ([`Lines`]), and the batch form the CLI sends ([`first_line`]): the
//! header and only the batch's rows, with the file line of its first row in
//! the query, so that every call reads only its own rows and errors still
//! name the line of the file the admin has open.

use super::error::AdminError;
use crate::web::Request;

/// A CSV reader over an uploaded file (UTF-8, with or without a BOM, rows of
/// any length), and the file's text for [`Lines`]. Backfill and import
/// read their files this way.
pub fn csv_reader(body: &[u8]) -> Result<(&str, csv::Reader<&[u8]>), String> {
    let text = std::str::from_utf8(body).map_err(|_| {
        "the file is not UTF-8; export it as CSV in UTF-8 (Data Loader: Settings > Use UTF-8)"
            .to_string()
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    Ok((text, reader))
}

/// The 1-based line each CSV record starts on (the header is line 1),
/// counted from the text itself whatever the line endings (with CRLF the csv
/// reader may place a record at its leading line break). Records come in
/// file order, so each count goes on from the last one: reading a file costs
/// one pass, not one pass per row.
pub struct Lines<'a> {
    bytes: &'a [u8],
    /// Bytes counted so far, and the newlines among them.
    counted: usize,
    newlines: u64,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines {
            bytes: text.as_bytes(),
            counted: 0,
            newlines: 0,
        }
    }

    /// The line of the record at `pos` (positions in file order).
    pub fn at(&mut self, pos: Option<&csv::Position>) -> u64 {
        let mut byte = pos
            .map(|p| p.byte() as usize)
            .unwrap_or_default()
            .min(self.bytes.len());
        while byte < self.bytes.len() && matches!(self.bytes[byte], b'\r' | b'\n') {
            byte += 1;
        }
        if byte < self.counted {
            // Out of order (never, from one reader): count from the start.
            self.counted = 0;
            self.newlines = 0;
        }
        // A line ends at LF, CRLF, or a CR alone (as the csv reader reads
        // them): count every LF and every CR not followed by one.
        let span = &self.bytes[self.counted..byte];
        self.newlines += span
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                **b == b'\n'
                    || (**b == b'\r' && self.bytes.get(self.counted + i + 1) != Some(&b'\n'))
            })
            .count() as u64;
        self.counted = byte;
        self.newlines + 1
    }
}

/// The `first_line` query parameter of a batch: the file line of the batch's
/// first row (2 or more: the header is line 1). `None` for a whole file.
pub fn first_line(req: &Request) -> Result<Option<u64>, AdminError> {
    match req.query_param("first_line").filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) => match l.parse::<u64>() {
            Ok(n) if n >= 2 => Ok(Some(n)),
            _ => Err(AdminError::BadRequest(format!(
                "first_line \"{l}\" must be the file line of the batch's first row (2 or more: the header is line 1)"
            ))),
        },
    }
}

/// The file line of a row that is on line `body_line` of a batch whose
/// first row is on file line `first_line` (body line 2, after the header).
pub fn file_line(body_line: u64, first_line: Option<u64>) -> u64 {
    match first_line {
        Some(first) => body_line + first - 2,
        None => body_line,
    }
}
