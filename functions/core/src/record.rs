//! `SyncRecord`: what sfsync knows about one Salesforce record, stored as one
//! JSON value (under its [`crate::store::record_key`]) so that one write is
//! atomic.
//!
//! The record keeps the last outcome (`status`), the history that matters to
//! an admin (`ever_synced`, first/last sync, attempts, last error), the
//! destination ids, and what resend needs (the last source fields received,
//! their fingerprint, the last notification ids and modification stamp).
//! [`RecordView`] is the JSON shape the admin API shows (interfaces.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::sobject::FieldValue;

/// How many notification ids a record remembers for deduplication.
pub const NOTIFICATION_IDS_KEPT: usize = 20;

/// Which entry point (a process, in the run history) brought a record in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    Created,
    Updated,
    Resend,
    Backfill,
    /// A reference imported before the first sync.
    Import,
    /// Linked automatically when the record it waited for (a Contact's
    /// Account) synced.
    Link,
    /// The id repair (`POST /admin/repair/ids`).
    Repair,
    /// Read from Salesforce's REST API (`POST /admin/pull`).
    Pull,
    /// A reconcile sweep (`POST /admin/reconcile`): what changed in
    /// Salesforce since the last sweep, synced where it differs.
    Reconcile,
}

impl Process {
    pub fn as_str(self) -> &'static str {
        match self {
            Process::Created => "created",
            Process::Updated => "updated",
            Process::Resend => "resend",
            Process::Backfill => "backfill",
            Process::Import => "import",
            Process::Link => "link",
            Process::Repair => "repair",
            Process::Pull => "pull",
            Process::Reconcile => "reconcile",
        }
    }

    /// Every process, in the order the docs list them.
    pub const ALL: [Process; 9] = [
        Process::Created,
        Process::Updated,
        Process::Resend,
        Process::Backfill,
        Process::Import,
        Process::Link,
        Process::Repair,
        Process::Pull,
        Process::Reconcile,
    ];

    /// The process named `name` (its JSON form).
    pub fn parse(name: &str) -> Option<Process> {
        Process::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The outcome of the last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Synced,
    Error,
    Skipped,
    Pending,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Synced => "synced",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pending => "pending",
        }
    }
}

pub use crate::failure::{ErrorKind, Failure};

/// The last error, with when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    #[serde(flatten)]
    pub failure: Failure,
    pub at: DateTime<Utc>,
}

/// The destination record this Salesforce record is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationRef {
    pub kind: DestinationKind,
    pub id: Option<String>,
    #[serde(default)]
    pub organization_ids: Vec<String>,
}

/// Everything stored for one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub object: String,
    pub salesforce_id: String,
    /// Linked Salesforce ids by field name, e.g. `AccountId`.
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    pub destination: Option<DestinationRef>,
    pub status: Status,
    pub skip_reason: Option<String>,
    pub ever_synced: bool,
    pub first_synced_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<LastError>,
    pub attempts: u32,
    pub last_trigger: Process,
    pub syncing_record: Option<bool>,
    pub fields_synced: Option<bool>,
    /// Fingerprint of the mapped source fields last synced.
    pub fingerprint: Option<String>,
    /// Where that sync went ([`crate::settings::Settings::destination_identity`]):
    /// an unchanged record is skipped only when it already went *there*.
    #[serde(default)]
    pub synced_to: Option<String>,
    /// The last source fields received (what resend re-maps).
    #[serde(default)]
    pub source_fields: BTreeMap<String, FieldValue>,
    /// `LastModifiedDate` of the last delivery applied.
    pub source_modified_at: Option<String>,
    /// `SystemModstamp` of the last delivery applied (kept apart: another clock).
    #[serde(default)]
    pub source_system_modstamp: Option<String>,
    /// The latest notification ids applied, newest last.
    #[serde(default)]
    pub notification_ids: Vec<String>,
    /// With the dry-run destination: what would have been sent.
    pub last_payload: Option<Value>,
    /// How many calls to the destination this record has cost.
    #[serde(default)]
    pub destination_calls: u32,
    /// The last delivery that was recognised and ignored (a repeat of an
    /// applied notification, or older than the state already applied).
    #[serde(default)]
    pub last_ignored: Option<Ignored>,
    /// The linked record whose destination record this one still lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<Waiting>,
    /// Where the record is entered in the record index ([`crate::index`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexSlots>,
    /// The runs that wrote this record, newest last, at most [`RUNS_KEPT`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
    /// When a reconcile sweep last found it differing from what was synced
    /// and synced it: a change the Outbound Messages had not brought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed_at: Option<DateTime<Utc>>,
    /// On a converted Lead: the Contact it became, which took over its
    /// destination record ([`crate::conversion`]). Set once the hand-over
    /// is done; from then on the Lead pushes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_to: Option<RecordRef>,
    /// On that Contact: the Lead whose destination record it took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<RecordRef>,
}

/// How many run ids a record keeps.
pub const RUNS_KEPT: usize = 10;

impl SyncRecord {
    /// Note that the run `id` wrote this record.
    pub fn note_run(&mut self, id: &str) {
        if self.runs.last().map(String::as_str) == Some(id) {
            return;
        }
        self.runs.push(id.to_string());
        let excess = self.runs.len().saturating_sub(RUNS_KEPT);
        self.runs.drain(..excess);
    }
}

/// The slots a record holds in one generation of the record index
/// ([`crate::index`], which hands them out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSlots {
    pub generation: u64,
    pub all: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced: Option<u64>,
    /// In the log of its status (`error`, `skipped`, `pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u64>,
}

/// A record synced without a link it needs (a Contact whose Account has no
/// organization yet), and since when ([`crate::waiting`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The linked Salesforce record, e.g. `Account/001…`.
    pub record: RecordRef,
    pub since: DateTime<Utc>,
    /// How many arrivals found it still missing.
    pub arrivals: u32,
}

/// Why a sync had nothing to do. Shown as the record's `skip_reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The active mapping has no rules for this object.
    ObjectNotMapped { object: String },
    /// The mapping switched this trigger off for the object.
    TriggerOff { process: Process, object: String },
    /// The mapped fields are what was last synced.
    Unchanged,
    /// The record was deleted in Salesforce before the notification was
    /// delivered (its sObject carries no data).
    DeletedBeforeDelivery,
    /// A converted Lead: its Contact syncs the destination record now.
    Converted { contact: RecordRef },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::ObjectNotMapped { object } => {
                write!(f, "object {object} is not in the active mapping")
            }
            SkipReason::TriggerOff { process, object } => write!(
                f,
                "the {} trigger is off for {object} in the active mapping",
                process.as_str()
            ),
            SkipReason::Unchanged => f.write_str("no mapped field changed"),
            SkipReason::DeletedBeforeDelivery => {
                f.write_str("record deleted in Salesforce before delivery")
            }
            SkipReason::Converted { contact } => write!(
                f,
                "converted to {contact}, which syncs the destination record from now on"
            ),
        }
    }
}

/// Why a delivery changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IgnoreReason {
    /// The same notification id was applied already (a redelivery).
    Duplicate,
    /// Older (`LastModifiedDate`) than the state already applied.
    Stale,
}

/// A delivery that changed nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    pub reason: IgnoreReason,
    pub notification_id: String,
    pub trigger: Process,
    /// The delivery's `LastModifiedDate`/`SystemModstamp`, if sent.
    pub source_modified_at: Option<String>,
    pub at: DateTime<Utc>,
}

impl SyncRecord {
    /// A record seen for the first time.
    pub fn new(object: &str, salesforce_id: &str, trigger: Process) -> SyncRecord {
        SyncRecord {
            object: object.to_string(),
            salesforce_id: salesforce_id.to_string(),
            links: BTreeMap::new(),
            destination: None,
            status: Status::Pending,
            skip_reason: None,
            ever_synced: false,
            first_synced_at: None,
            last_synced_at: None,
            last_attempt_at: None,
            last_error: None,
            attempts: 0,
            last_trigger: trigger,
            syncing_record: None,
            fields_synced: None,
            fingerprint: None,
            synced_to: None,
            source_fields: BTreeMap::new(),
            source_modified_at: None,
            source_system_modstamp: None,
            notification_ids: Vec::new(),
            last_payload: None,
            destination_calls: 0,
            last_ignored: None,
            waiting_for: None,
            index: None,
            runs: Vec::new(),
            healed_at: None,
            converted_to: None,
            converted_from: None,
        }
    }

    /// `Object/SalesforceId`.
    pub fn reference(&self) -> RecordRef {
        RecordRef::new(&self.object, &self.salesforce_id)
    }

    /// Remember a notification id (bounded, oldest dropped).
    pub fn remember_notification(&mut self, id: &str) {
        if !self.notification_ids.iter().any(|n| n == id) {
            self.notification_ids.push(id.to_string());
        }
        let excess = self
            .notification_ids
            .len()
            .saturating_sub(NOTIFICATION_IDS_KEPT);
        self.notification_ids.drain(..excess);
    }

    /// A successful sync at `now`.
    pub fn mark_synced(&mut self, now: DateTime<Utc>, destination: DestinationRef) {
        self.status = Status::Synced;
        self.skip_reason = None;
        self.ever_synced = true;
        self.first_synced_at.get_or_insert(now);
        self.last_synced_at = Some(now);
        self.last_attempt_at = Some(now);
        self.last_error = None;
        self.attempts += 1;
        self.destination = Some(destination);
    }

    /// A failed attempt at `now`. `ever_synced` and the sync times are kept.
    pub fn mark_error(&mut self, now: DateTime<Utc>, failure: Failure) {
        self.status = Status::Error;
        self.skip_reason = None;
        self.last_attempt_at = Some(now);
        self.attempts += 1;
        self.last_error = Some(LastError { failure, at: now });
    }

    /// A sync the destination could only do in part (e.g. a user created
    /// without its organization): linked and counted as synced once, yet
    /// shown as an error to resend, with `failure` saying what is missing.
    pub fn mark_partly_synced(
        &mut self,
        now: DateTime<Utc>,
        destination: DestinationRef,
        failure: Failure,
    ) {
        self.mark_synced(now, destination);
        self.status = Status::Error;
        self.last_error = Some(LastError { failure, at: now });
    }

    /// The failure of the last attempt, when it failed.
    pub fn current_failure(&self) -> Option<&Failure> {
        self.last_error
            .as_ref()
            .filter(|_| self.status == Status::Error)
            .map(|e| &e.failure)
    }

    /// Nothing to do this time, with the reason.
    pub fn mark_skipped(&mut self, now: DateTime<Utc>, reason: SkipReason) {
        self.status = Status::Skipped;
        self.skip_reason = Some(reason.to_string());
        self.last_attempt_at = Some(now);
    }

    /// The admin API's view of this record.
    pub fn view(&self) -> RecordView {
        RecordView {
            object: self.object.clone(),
            salesforce_id: self.salesforce_id.clone(),
            links: self.links.clone(),
            destination: self.destination.clone(),
            status: self.status,
            skip_reason: self.skip_reason.clone(),
            ever_synced: self.ever_synced,
            first_synced_at: self.first_synced_at,
            last_synced_at: self.last_synced_at,
            last_attempt_at: self.last_attempt_at,
            last_error: self.last_error.clone(),
            attempts: self.attempts,
            last_trigger: self.last_trigger,
            syncing_record: self.syncing_record,
            fields_synced: self.fields_synced,
            source_modified_at: self.source_modified_at.clone(),
            notification_ids: self.notification_ids.clone(),
            last_payload: self.last_payload.clone(),
            destination_calls: self.destination_calls,
            last_ignored: self.last_ignored.clone(),
            waiting_for: self.waiting_for.clone(),
            runs: self.runs.clone(),
            healed_at: self.healed_at,
            converted_to: self.converted_to.clone(),
            converted_from: self.converted_from.clone(),
            open: BTreeMap::new(),
        }
    }
}

/// The record view of interfaces.md: what the admin API sends and what
/// the CLI and the tests read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    pub object: String,
    pub salesforce_id: String,
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    pub destination: Option<DestinationRef>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    pub ever_synced: bool,
    pub first_synced_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<LastError>,
    pub attempts: u32,
    pub last_trigger: Process,
    pub syncing_record: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields_synced: Option<bool>,
    pub source_modified_at: Option<String>,
    #[serde(default)]
    pub notification_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payload: Option<Value>,
    #[serde(default)]
    pub destination_calls: u32,
    pub last_ignored: Option<Ignored>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<Waiting>,
    /// The runs that wrote this record, newest last.
    #[serde(default)]
    pub runs: Vec<String>,
    /// When a reconcile sweep last healed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed_at: Option<DateTime<Utc>>,
    /// A converted Lead: the Contact it became (which syncs the user now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_to: Option<RecordRef>,
    /// A Contact converted from a Lead: that Lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<RecordRef>,
    /// Where to open the record: `salesforce` (the org's instance, learnt
    /// from the messages) and `destination` (e.g. the Zendesk agent page).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<String, String>,
}

impl RecordView {
    /// `Object/SalesforceId`.
    pub fn reference(&self) -> RecordRef {
        RecordRef::new(&self.object, &self.salesforce_id)
    }
}
