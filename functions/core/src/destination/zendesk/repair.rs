//! Rewriting Zendesk records that carry a Salesforce id in its 15-character
//! form as `external_id`.
//!
//! Before ids were normalised at every entry point, a backfill or import of
//! a report export (which uses 15-character ids) could create users and
//! organizations with a 15-character `external_id`, or rewrite an existing
//! user's to it (`create_or_update` matched the user by email). Messages use
//! the 18-character form, so those records were no longer found by it. For
//! one record, [`repair`] finds the destination record under the short form
//! and rewrites its `external_id` to the 18-character one — unless a record
//! with the 18-character form exists too, which only a person can merge.

use serde_json::json;

use super::api::Client;
use crate::failure::Failure;
use crate::io::Http;
use crate::mapping::ZendeskEntity;

/// What [`repair`] found for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRepair {
    /// No destination record under the 15-character form.
    Clean,
    /// This destination record's `external_id` was (or, on a dry run, would
    /// be) rewritten to the 18-character form.
    Rewritten { destination_id: u64 },
    /// Two destination records: one under each form.
    Conflict { short: u64, long: u64 },
}

/// Check (and unless `dry_run`, repair) the destination record of the
/// Salesforce record `id18` (an 18-character id) of this entity.
pub async fn repair<H: Http>(
    client: &Client<'_, H>,
    entity: ZendeskEntity,
    id18: &str,
    dry_run: bool,
) -> Result<IdRepair, Failure> {
    let Some(id15) = id18.get(..15).filter(|_| id18.len() == 18) else {
        return Ok(IdRepair::Clean);
    };
    let body = json!({ "external_id": id18 });
    match entity {
        ZendeskEntity::User => {
            let Some(short) = client.find_user_by_external_id(id15).await? else {
                return Ok(IdRepair::Clean);
            };
            if let Some(long) = client.find_user_by_external_id(id18).await? {
                if long.id != short.id {
                    return Ok(IdRepair::Conflict {
                        short: short.id,
                        long: long.id,
                    });
                }
            }
            if !dry_run {
                client.update_user(short.id, body).await?;
            }
            Ok(IdRepair::Rewritten {
                destination_id: short.id,
            })
        }
        ZendeskEntity::Organization => {
            let Some(short) = client.find_organization(id15).await? else {
                return Ok(IdRepair::Clean);
            };
            if let Some(long) = client.find_organization(id18).await? {
                if long != short {
                    return Ok(IdRepair::Conflict { short, long });
                }
            }
            if !dry_run {
                client.update_organization(short, body).await?;
            }
            Ok(IdRepair::Rewritten {
                destination_id: short,
            })
        }
    }
}
