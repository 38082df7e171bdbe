//! The Zendesk destination: Accounts become organizations, Contacts and
//! Leads become users, linked by `external_id` = the Salesforce Id.
//!
//! - Organizations: a record already linked to an organization updates it
//!   (`PUT organizations/{id}`); otherwise `organizations/create_or_update`.
//! - Users are matched first by an existing link (an earlier sync or an
//!   imported reference), then by external_id, then by email. Without
//!   multi-org, `users/create_or_update` with the Account's `organization_id`
//!   does the matching and sets or replaces the user's organization. With
//!   multi-org, sfsync looks the user up, asks [`rules::decide`], and adds
//!   memberships through the membership endpoints only.
//! - Per email, the user id and the *syncing record* (the first Contact with
//!   a synced Account that wrote the user's fields) are kept under
//!   `email/{email}`.

pub mod api;
pub mod bulk;
pub mod repair;
pub mod rules;

use serde_json::{Map, Value};

use super::classify::Failure;
use super::Pushed;
use crate::context::Context;
use crate::io::{Http, Kv};
use crate::mapping::{Mapped, Mapping, ZendeskEntity};
use crate::record::{DestinationRef, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::store::{self, EmailEntry};
use api::{Client, User};
use rules::{Situation, UserState};

/// The Zendesk id `record` is linked to, if any.
pub fn linked_id(record: &SyncRecord) -> Option<u64> {
    record
        .destination
        .as_ref()
        .filter(|d| d.kind == DestinationKind::Zendesk)
        .and_then(|d| d.id.as_deref())
        .and_then(|id| id.parse().ok())
}

fn with_external_id(mapped: &Mapped) -> Value {
    let mut fields: Map<String, Value> = mapped.fields.clone();
    fields.insert("external_id".into(), Value::String(mapped.key.clone()));
    Value::Object(fields)
}

/// Whether users follow the multiple-organization rules: the variable is
/// on and the mapping sends Accounts to organizations.
fn multi_org<K, H>(ctx: &Context<'_, K, H>, mapping: &Mapping) -> bool {
    ctx.settings.zendesk_multi_org
        && mapping
            .objects
            .values()
            .any(|o| ZendeskEntity::parse(&o.entity) == Some(ZendeskEntity::Organization))
}

/// The user's email as `email/` entries are keyed: trimmed, lower case.
pub fn mapped_email(mapped: &Mapped) -> Option<String> {
    mapped
        .fields
        .get("email")
        .and_then(Value::as_str)
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
}

fn synced(id: u64, organization_ids: Vec<u64>) -> DestinationRef {
    DestinationRef {
        kind: DestinationKind::Zendesk,
        id: Some(id.to_string()),
        organization_ids: organization_ids.iter().map(u64::to_string).collect(),
    }
}

/// Push one mapped record to Zendesk.
/// `GET /api/v2/users/me`: whether Zendesk answers and takes the
/// credentials, changing nothing.
pub async fn probe<H: Http>(settings: &crate::settings::Settings, http: &H) -> Result<(), Failure> {
    Client::new(settings, http)?.me().await
}

pub async fn push<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    mapping: &Mapping,
    object: &str,
    mapped: &Mapped,
    record: &SyncRecord,
) -> Result<Pushed, Failure> {
    let outbound = ctx.outbound();
    let client = Client::new(ctx.settings, &outbound)?;
    match ZendeskEntity::parse(&mapped.entity) {
        Some(ZendeskEntity::Organization) => push_organization(&client, mapped, record).await,
        Some(ZendeskEntity::User) => push_user(ctx, &client, mapping, object, mapped, record).await,
        None => Err(Failure::config(format!(
            "the mapping sends {object} to \"{}\", which Zendesk does not have; use organization or user",
            mapped.entity
        ))),
    }
}

async fn push_organization<H: Http>(
    client: &Client<'_, H>,
    mapped: &Mapped,
    record: &SyncRecord,
) -> Result<Pushed, Failure> {
    let body = with_external_id(mapped);
    let updated = match linked_id(record) {
        Some(id) => client.update_organization(id, body.clone()).await?,
        None => None,
    };
    let id = match updated {
        Some(id) => id,
        None => client.upsert_organization(body).await?,
    };
    Ok(Pushed::to(synced(id, Vec::new())))
}

/// The organization of the Contact's Account, if it exists in Zendesk: known
/// from the Account's own sync, else found by external id.
async fn account_organization<K: Kv, H: Http, C: Http>(
    ctx: &Context<'_, K, H>,
    client: &Client<'_, C>,
    account_id: &str,
) -> Result<Option<u64>, Failure> {
    let known = store::load_record(ctx.kv, &RecordRef::new("Account", account_id))
        .await
        .map_err(kv_failure)?
        .as_ref()
        .and_then(linked_id);
    match known {
        Some(id) => Ok(Some(id)),
        None => client.find_organization(account_id).await,
    }
}

fn kv_failure(e: crate::io::KvError) -> Failure {
    Failure::transient(e.to_string())
}

async fn push_user<K: Kv, H: Http, C: Http>(
    ctx: &Context<'_, K, H>,
    client: &Client<'_, C>,
    mapping: &Mapping,
    object: &str,
    mapped: &Mapped,
    record: &SyncRecord,
) -> Result<Pushed, Failure> {
    let account_id = mapped.links.get(ZendeskEntity::ORGANIZATION_LINK);
    let organization = match account_id {
        Some(a) => account_organization(ctx, client, a).await?,
        None => None,
    };
    let multi_org = multi_org(ctx, mapping);
    let email = mapped_email(mapped);
    let body = with_external_id(mapped);
    let this = RecordRef::new(object, &mapped.key).to_string();

    // What is known: the user, found by its link, then (multi-org only,
    // where its memberships matter) by external id and by email.
    let mut existing: Option<User> = None;
    let linked = linked_id(record);
    if multi_org {
        if let Some(id) = linked {
            existing = client.get_user(id).await?;
        }
        if existing.is_none() {
            existing = client.find_user_by_external_id(&mapped.key).await?;
        }
        if existing.is_none() {
            if let Some(e) = &email {
                existing = client.find_user_by_email(e).await?;
            }
        }
    }
    let user_id = existing.as_ref().map(|u| u.id).or(linked);
    let state = match &existing {
        Some(u) => {
            let memberships = client.memberships(u.id).await?;
            Some(UserState {
                default_organization: memberships
                    .iter()
                    .find(|m| m.default == Some(true))
                    .map(|m| m.organization_id)
                    .or(u.organization_id),
                organizations: memberships.iter().map(|m| m.organization_id).collect(),
            })
        }
        // Without multi-org only the link is known; its organizations do
        // not change the decision.
        None => linked.map(|_| UserState::default()),
    };

    // Decide (multi-org.md), then act.
    let decision = rules::decide(&Situation {
        multi_org,
        has_account: account_id.is_some(),
        organization,
        user: state.clone(),
    });
    let mut user_body = body;
    if let (true, Some(org), Value::Object(m)) =
        (decision.set_organization, organization, &mut user_body)
    {
        m.insert("organization_id".into(), Value::from(org));
    }
    let user_id = match user_id {
        Some(id) if !decision.create_user && !decision.sync_fields => id,
        Some(id) if !decision.create_user => match client.update_user(id, user_body.clone()).await?
        {
            Some(updated) => updated.id,
            // The linked user was deleted in Zendesk: create it again.
            None => client.upsert_user(user_body).await?.id,
        },
        _ => client.upsert_user(user_body).await?.id,
    };
    if let (true, Some(org)) = (decision.create_membership, organization) {
        client.add_membership(user_id, org).await?;
    }
    let mut organization_ids = state.map(|s| s.organizations).unwrap_or_default();
    if let Some(org) =
        organization.filter(|_| decision.create_membership || decision.set_organization)
    {
        if !organization_ids.contains(&org) {
            organization_ids.push(org);
        }
    }
    let claim =
        (multi_org && decision.sync_fields && organization.is_some()).then_some(this.as_str());
    let entry = remember_email(ctx, email.as_deref(), user_id, claim).await?;
    let syncing = entry
        .and_then(|e| e.syncing_record)
        .is_some_and(|r| r == this);
    Ok(Pushed {
        destination: synced(user_id, organization_ids),
        payload: None,
        syncing_record: multi_org.then_some(syncing),
        fields_synced: multi_org.then_some(decision.sync_fields),
        missing_link: match (account_id, organization) {
            (Some(a), None) => Some(RecordRef::new("Account", a)),
            _ => None,
        },
    })
}

/// Hand a converted Lead's user (`lead_user`) over to its Contact
/// (`contact_id`, linked to `contact_user` if it synced): the same user
/// needs nothing; another one gets the Lead's user merged into it; none
/// makes the Lead's user the Contact's (its `external_id` becomes the
/// Contact's Id). Answers the user the Contact has now, `None` when the
/// Lead's user is gone from Zendesk, and the calls made.
pub async fn hand_over<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    lead_user: u64,
    contact_user: Option<u64>,
    contact_id: &str,
) -> Result<(Option<u64>, u32), Failure> {
    let outbound = ctx.outbound();
    let client = Client::new(ctx.settings, &outbound)?;
    match contact_user {
        Some(c) if c == lead_user => Ok((Some(c), 0)),
        // The Contact's user stays; a Lead user already gone is fine too.
        Some(c) => client.merge_user(lead_user, c).await.map(|_| (Some(c), 1)),
        None => {
            let user = serde_json::json!({ "external_id": contact_id });
            let updated = client.update_user(lead_user, user).await?;
            Ok((updated.map(|u| u.id), 1))
        }
    }
}

/// Keep `email/{email}` up to date; `claim` makes this record the syncing
/// record when the email has none yet.
async fn remember_email<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    email: Option<&str>,
    user_id: u64,
    claim: Option<&str>,
) -> Result<Option<EmailEntry>, Failure> {
    let Some(email) = email else {
        return Ok(None);
    };
    let old = store::load_email(ctx.kv, email).await.map_err(kv_failure)?;
    let entry = EmailEntry {
        user_id: user_id.to_string(),
        syncing_record: old
            .as_ref()
            .filter(|o| o.user_id == user_id.to_string())
            .and_then(|o| o.syncing_record.clone())
            .or_else(|| claim.map(str::to_string)),
    };
    if old.as_ref() != Some(&entry) {
        store::save_email(ctx.kv, email, &entry)
            .await
            .map_err(kv_failure)?;
    }
    Ok(Some(entry))
}

#[cfg(test)]
mod tests;
