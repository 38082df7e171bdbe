//! The admin API's JSON, as types: what the routes send, and what the
//! `sfsync` CLI and the end-to-end tests read back — one definition for both
//! sides, so a renamed field breaks the build rather than a user's script.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/stats` | [`Stats`] |
//! | `GET /admin/records` | [`RecordsPage`] of [`RecordView`] |
//! | `GET /admin/records/{Object}/{Id}` | [`RecordView`] |
//! | `POST /admin/resend` | [`ResendReply`] |
//! | `POST /admin/backfill` | [`BackfillReply`] |
//! | `GET /admin/runs` | [`RunsPage`] of [`Run`]; `GET /admin/runs/{id}` a [`Run`] |
//! | `POST /admin/import` | [`ImportResult`] |
//! | `POST /admin/reindex` | [`ReindexReply`] |
//! | any error | [`ErrorReply`] |

use serde::{Deserialize, Serialize};

pub use super::backfill::{BackfillReply, FailedRow, RejectedRow};
pub use super::import::{ImportResult, Rejected};
pub use super::pull::PullReply;
pub use super::reindex::ReindexReply;
pub use super::repair::{RepairReply, Repaired};
pub use super::resend::{ResendOutcome, ResendReply, ResendResult};
pub use super::stats::{Counts, Stats};
pub use crate::record::RecordView;
pub use crate::run::{Run, RunCounts};

/// A page of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsPage {
    pub records: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsPage {
    pub runs: Vec<Run>,
    pub next_cursor: Option<String>,
}

/// One problem of a refused mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemView {
    pub path: String,
    pub message: String,
}

impl From<&crate::mapping::Problem> for ProblemView {
    fn from(p: &crate::mapping::Problem) -> ProblemView {
        ProblemView {
            path: p.path.clone(),
            message: p.message.clone(),
        }
    }
}

/// Every error of the admin API: what is wrong and how to fix it, and for a
/// refused mapping each of its problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemView>,
}
