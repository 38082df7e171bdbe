//! Zendesk's bulk endpoints for one record: whether it may go in a
//! `create_or_update_many` call with ninety-nine others ([`item_for`]), and
//! what a job's answer for it means ([`settle`]).
//!
//! A record goes in bulk only when the per-record rules ([`super::push`],
//! `multi-org.md`) would make exactly one upsert for it, with what sfsync
//! already knows:
//!
//! - an organization: always, matched by `id` when linked, else by
//!   `external_id`;
//! - a user without multiple organizations: when it has no Account, or its
//!   Account's organization is known from the Account's own sync (it is
//!   sent as `organization_id`, as the per-record upsert does), and it is not
//!   linked to a user sfsync never wrote (an imported link, which only
//!   `PUT users/{id}` follows);
//! - a user with multiple organizations: only one that already is its
//!   email's syncing record, linked, with its Account's organization among
//!   its memberships. Its fields are updated, its memberships left alone.
//!
//! Every other record takes the per-record path. Keeping the jobs, polling
//! them and writing their answers to the records is [`crate::bulk`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{BulkEntity, JobStatus};
use super::{linked_id, mapped_email, multi_org, remember_email, synced, with_external_id};
use crate::context::Context;
use crate::destination::Pushed;
use crate::failure::Failure;
use crate::io::{Http, Kv};
use crate::mapping::{Mapped, Mapping, ZendeskEntity};
use crate::record::{Status, SyncRecord};
use crate::reference::RecordRef;
use crate::store;

/// The most records one bulk call carries (Zendesk's own limit).
pub const PER_CALL: usize = 100;

/// A record ready for a bulk call: the body of its entry, and the
/// organization it gives a user (to remember once the job is done).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkItem {
    pub entity: BulkEntity,
    pub body: Value,
    pub organization: Option<u64>,
}

/// What a job answered for one of its records, as sfsync keeps it (Zendesk
/// forgets a job's results after about an hour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "answer")]
pub enum ItemAnswer {
    /// Created or updated: the Zendesk id.
    Done { id: u64 },
    /// Zendesk refused this record (validation): its words.
    Refused { message: String },
    /// No answer for the record (the job failed, or is gone): sync it again.
    Lost { message: String },
}

/// The bulk entry for `record`, or `None` when it must take the per-record
/// path (see the module doc).
pub fn item_for<K, H>(
    ctx: &Context<'_, K, H>,
    mapping: &Mapping,
    mapped: &Mapped,
    record: &SyncRecord,
    organizations: &Organizations,
) -> Option<BulkItem> {
    let mut body = with_external_id(mapped);
    let linked = linked_id(record);
    match ZendeskEntity::parse(&mapped.entity)? {
        ZendeskEntity::Organization => {
            if let (Some(id), Value::Object(m)) = (linked, &mut body) {
                m.insert("id".into(), json!(id));
            }
            Some(BulkItem {
                entity: BulkEntity::Organizations,
                body,
                organization: None,
            })
        }
        ZendeskEntity::User => {
            let organization = match mapped.links.get(ZendeskEntity::ORGANIZATION_LINK) {
                None => None,
                Some(account) => Some(*organizations.get(account)?),
            };
            // sfsync wrote this user's external_id on every earlier push; an
            // imported link may name a user without it.
            if linked.is_some() && !record.ever_synced {
                return None;
            }
            if multi_org(ctx, mapping) {
                let member = organization.is_none_or(|o| {
                    record
                        .destination
                        .as_ref()
                        .is_some_and(|d| d.organization_ids.contains(&o.to_string()))
                });
                let syncing = record.syncing_record == Some(true);
                if !(syncing && member && linked.is_some() && record.status != Status::Error) {
                    return None;
                }
                return Some(BulkItem {
                    entity: BulkEntity::Users,
                    body,
                    organization,
                });
            }
            if let (Some(org), Value::Object(m)) = (organization, &mut body) {
                m.insert("organization_id".into(), json!(org));
            }
            Some(BulkItem {
                entity: BulkEntity::Users,
                body,
                organization,
            })
        }
    }
}

/// The organizations of Accounts, by Salesforce id, as their own syncs
/// linked them.
pub type Organizations = std::collections::BTreeMap<String, u64>;

/// The organizations of the Accounts these mapped records link to, read in
/// one batch.
pub async fn organizations_of<'m, K: Kv>(
    kv: &K,
    mapped: impl Iterator<Item = &'m Mapped>,
) -> Organizations {
    let accounts: std::collections::BTreeSet<&str> = mapped
        .filter_map(|m| m.links.get(ZendeskEntity::ORGANIZATION_LINK))
        .map(String::as_str)
        .collect();
    let keys: Vec<String> = accounts
        .iter()
        .map(|a| store::record_key(&RecordRef::new("Account", *a)))
        .collect();
    let mut out = Organizations::new();
    for chunk in keys.chunks(100) {
        let Ok(found) = kv.get_many(chunk).await else {
            continue;
        };
        for (key, bytes) in found {
            if let Ok(account) = store::decode::<SyncRecord>(&key, &bytes) {
                if let Some(org) = linked_id(&account) {
                    out.insert(account.salesforce_id, org);
                }
            }
        }
    }
    out
}

/// What a record's answer means: the push it stands for, or its failure.
/// `email_settled`: the user's `email/` entry is known to name it already.
pub async fn settle<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    mapping: &Mapping,
    mapped: &Mapped,
    record: &SyncRecord,
    answer: &ItemAnswer,
    organization: Option<u64>,
    email_settled: bool,
) -> Result<Pushed, Failure> {
    let id = match answer {
        ItemAnswer::Done { id } => *id,
        ItemAnswer::Refused { message } => return Err(Failure::permanent(message.clone())),
        ItemAnswer::Lost { message } => return Err(Failure::transient(message.clone())),
    };
    if ZendeskEntity::parse(&mapped.entity) != Some(ZendeskEntity::User) {
        return Ok(Pushed::to(synced(id, Vec::new())));
    }
    let multi = multi_org(ctx, mapping);
    let organizations: Vec<u64> = if multi {
        record
            .destination
            .iter()
            .flat_map(|d| d.organization_ids.iter())
            .filter_map(|o| o.parse().ok())
            .collect()
    } else {
        organization.into_iter().collect()
    };
    // A settled email entry already names this user (read just before).
    if !email_settled {
        remember_email(ctx, mapped_email(mapped).as_deref(), id, None).await?;
    }
    let mut pushed = Pushed::to(synced(id, organizations));
    pushed.syncing_record = multi.then_some(true);
    pushed.fields_synced = multi.then_some(true);
    Ok(pushed)
}

/// The answers of an ended job, one per item in order; `None` while it runs.
pub fn answers(job: &JobStatus, items: usize) -> Option<Vec<ItemAnswer>> {
    match job.status.as_str() {
        "completed" => {}
        "failed" | "killed" => {
            let why = job.message.as_deref().unwrap_or("no reason given");
            let lost = ItemAnswer::Lost {
                message: format!(
                    "Zendesk bulk job {} {}: {why}; resend the record",
                    job.id, job.status
                ),
            };
            return Some(vec![lost; items]);
        }
        _ => return None,
    }
    let mut out = vec![
        ItemAnswer::Lost {
            message: format!(
                "Zendesk bulk job {} completed without a result for this record; resend it",
                job.id
            ),
        };
        items
    ];
    for result in &job.results {
        let Some(i) = result.get("index").and_then(Value::as_u64) else {
            continue;
        };
        let Some(slot) = out.get_mut(i as usize) else {
            continue;
        };
        *slot = match result.get("id").and_then(Value::as_u64) {
            Some(id) if result.get("error").is_none() => ItemAnswer::Done { id },
            _ => ItemAnswer::Refused {
                message: format!(
                    "Zendesk refused the record in bulk job {}: {}{}",
                    job.id,
                    text(result.get("error")),
                    match text(result.get("details")) {
                        d if d.is_empty() => String::new(),
                        d => format!(" ({d})"),
                    }
                ),
            },
        };
    }
    Some(out)
}

/// A result's `error` or `details`, which Zendesk gives as text or as an
/// object of field errors.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => crate::destination::classify::error_message(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: &str, results: Value) -> JobStatus {
        serde_json::from_value(json!({"id": "j1", "status": status, "results": results}))
            .expect("job")
    }

    #[test]
    fn a_running_job_has_no_answers_yet() {
        assert_eq!(answers(&job("queued", Value::Null), 2), None);
        assert_eq!(answers(&job("working", json!([])), 2), None);
    }

    #[test]
    fn each_record_gets_its_own_answer_by_index() {
        let done = job(
            "completed",
            json!([
                {"index": 1, "id": 77, "action": "updated", "success": true},
                {"index": 0, "error": "EmailTaken", "details": "Email: a@b.c is already being used by another user"},
            ]),
        );
        let got = answers(&done, 3).expect("ended");
        assert_eq!(got[1], ItemAnswer::Done { id: 77 });
        assert!(
            matches!(&got[0], ItemAnswer::Refused { message } if message.contains("EmailTaken") && message.contains("a@b.c")),
            "{got:?}"
        );
        assert!(
            matches!(&got[2], ItemAnswer::Lost { message } if message.contains("without a result")),
            "{got:?}"
        );
    }

    #[test]
    fn a_failed_job_loses_every_record_and_says_so() {
        let mut failed = job("failed", json!([]));
        failed.message = Some("internal error".into());
        let got = answers(&failed, 2).expect("ended");
        assert!(got.iter().all(
            |a| matches!(a, ItemAnswer::Lost { message } if message.contains("j1 failed: internal error"))
        ));
    }
}
