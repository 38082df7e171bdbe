//! The entry points the fuzz targets (`fuzz/fuzz_targets/*`) and their
//! regression test (`tests/fuzz_regressions.rs`) share: each takes arbitrary
//! bytes, feeds them to one reader of untrusted input, and checks what must
//! hold whatever the input. A panic, a hang or unbounded memory is a bug.
//!
//! | target | reads |
//! |---|---|
//! | `soap` | an Outbound Message body ([`crate::soap::parse`]) |
//! | `mapping` | a mapping file ([`crate::mapping::load::from_toml`]) |
//! | `backfill_csv` | a backfill export ([`crate::admin::backfill::read_csv`]) |
//! | `import_csv` | a references file ([`crate::admin::import::read_references`]) |
//! | `query` | a path and query: filters, cursors, limits, tokens, record references |

use crate::admin::{backfill, filter, import};
use crate::reference::RecordRef;
use crate::web::Request;

/// The names of the targets, as `fuzz/fuzz_targets/{name}.rs`.
pub const TARGETS: [&str; 5] = ["soap", "mapping", "backfill_csv", "import_csv", "query"];

/// Run the target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "soap" => soap(data),
        "mapping" => mapping(data),
        "backfill_csv" => backfill_csv(data),
        "import_csv" => import_csv(data),
        "query" => query(data),
        other => panic!("no fuzz target {other}"),
    }
}

pub fn soap(data: &[u8]) {
    if let Ok(m) = crate::soap::parse(data) {
        let total = m.notifications.len() + m.unusable.len();
        assert!((1..=crate::soap::MAX_NOTIFICATIONS).contains(&total));
        for n in &m.notifications {
            assert_eq!(n.sobject.id.len(), 18, "ids are normalised");
        }
    }
}

pub fn mapping(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::mapping::load::from_toml(text);
    }
}

pub fn backfill_csv(data: &[u8]) {
    if let Ok(file) = backfill::read_csv(data) {
        let mut last = 1;
        for (line, _) in &file.rows {
            assert!(*line > last, "lines grow: {line} after {last}");
            last = *line;
        }
    }
}

pub fn import_csv(data: &[u8]) {
    // Odd lengths read the input as a batch (first_line), even ones as a file.
    let first_line = (data.len() % 2 == 1).then_some(7);
    if let Ok(refs) = import::read_references(data, first_line) {
        let lines = refs
            .rows
            .iter()
            .map(|(l, _)| *l)
            .chain(refs.rejected.iter().map(|r| r.line));
        for line in lines {
            assert!(
                line >= first_line.unwrap_or(2),
                "a row's line is past the header: {line}"
            );
        }
        for (_, links) in &refs.rows {
            assert!(!links.is_empty(), "a good row links something");
        }
    }
}

pub fn query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    let req = Request {
        method: "GET".into(),
        path: path.into(),
        query: query.into(),
        ..Request::default()
    };
    let parsed = filter::Filter::from_query(&req);
    let _ = filter::parse_limit(req.query_param("limit"), filter::MAX_LIMIT);
    let _ = req.token_param("token");
    if let Some(c) = req.query_param("cursor") {
        let _ = filter::decode_page_cursor(&c, &parsed.clone().unwrap_or_default());
    }
    // A reference that parses prints back to itself.
    if let Ok(r) = RecordRef::parse(path) {
        assert_eq!(RecordRef::parse(&r.to_string()).ok(), Some(r));
    }
    if let Some((object, id)) = path.rsplit_once('/') {
        let _ = RecordRef::from_parts(object, id);
    }
}
