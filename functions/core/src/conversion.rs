//! Lead conversion: the Contact a Lead became takes over the Lead's
//! destination record, so that one person stays one user.
//!
//! Converting a Lead in Salesforce creates (or picks) a Contact and marks
//! the Lead `IsConverted` with its `ConvertedContactId`; the Lead is
//! read-only from then on. Left alone, the destination would end with two
//! users for one person — the Lead's, and a new one for the Contact — or
//! with a Lead that keeps writing its old fields over the user the Contact
//! now syncs.
//!
//! So an arrival for a Lead that says it converted (both fields: the setup
//! guide adds them to the Lead's Outbound Messages, and a pull or sweep of
//! Leads reads them) pushes nothing of the Lead. Its sync hands the Lead's
//! destination record over instead, under the Lead's lease:
//!
//! | the Contact (Zendesk) | what is called | what is stored |
//! |---|---|---|
//! | has not synced yet | the Lead's user takes the Contact's Id as `external_id` | the Contact is linked to that user (`converted_from`), so its first sync updates it |
//! | synced to the same user (one email) | nothing | — |
//! | synced to another user | the Lead's user is merged into the Contact's | the email entry names the Contact's user |
//!
//! The Lead ends `skipped` ("converted to Contact/…"), with `converted_to`
//! and the Contact's user as its destination; once that is stored, any
//! later arrival for it (a resend, a sweep, a redelivery) changes nothing.
//! A Lead converted before it ever synced hands nothing over and creates
//! no user. The webhook and dry-run destinations keep no users: there the
//! Lead only stops pushing, and the Contact syncs under its own Id.
//!
//! Which order the two arrivals come in does not matter: a Contact seen
//! first is the "synced" rows above; a Contact seen second finds the link.

use crate::context::Context;
use crate::destination::zendesk;
use crate::failure::Failure;
use crate::io::{Http, Kv};
use crate::lease;
use crate::pipeline::SyncState;
use crate::record::{DestinationRef, Process, Status, SyncRecord};
use crate::reference::RecordRef;
use crate::settings::DestinationKind;
use crate::sobject::{normalize_id, SObject};
use crate::{index, store};

/// The object whose records convert.
pub const LEAD: &str = "Lead";
/// The object a converted Lead's user follows.
pub const CONTACT: &str = "Contact";
/// The Lead fields that tell a conversion, read by every pull and sweep of
/// Leads besides the mapping's own.
pub const FIELDS: [&str; 2] = ["IsConverted", "ConvertedContactId"];

/// The Contact `so` was converted to, when `so` is a converted Lead.
pub fn converted_to(so: &SObject) -> Option<RecordRef> {
    if so.object_type != LEAD {
        return None;
    }
    let converted = so
        .text(FIELDS[0])
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
    let contact = so.text(FIELDS[1]).and_then(|id| normalize_id(id.trim()))?;
    converted.then(|| RecordRef::new(CONTACT, contact))
}

/// Hand the converted Lead `lead`'s destination record over to `contact`
/// (see the module docs), and note it on the Lead: `converted_to`, and the
/// user the Contact has now as its destination. On failure nothing is
/// noted, so the next arrival tries again.
pub async fn hand_over<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    process: Process,
    lead: &mut SyncRecord,
    so: &SObject,
    contact: &RecordRef,
) -> Result<(), Failure> {
    let lead_user =
        zendesk::linked_id(lead).filter(|_| ctx.settings.destination == DestinationKind::Zendesk);
    let Some(lead_user) = lead_user else {
        lead.converted_to = Some(contact.clone());
        return Ok(());
    };
    let kv_failure = |e: crate::io::KvError| Failure::transient(e.to_string());
    let contact_key = store::record_key(contact);
    let held = match lease::hold(ctx, std::slice::from_ref(&contact_key))
        .await
        .map_err(kv_failure)?
    {
        Ok(held) => held,
        Err(until) => {
            return Err(Failure::transient(format!(
                "converted to {contact}, which is being synced right now (until {}); the Lead's user is handed over when Salesforce redelivers",
                until.format("%H:%M:%S UTC")
            )))
        }
    };
    let done = link_contact(ctx, state, process, lead, lead_user, so, contact).await;
    lease::release_all(ctx.kv, held).await;
    done
}

/// [`hand_over`] under the Contact's lease.
async fn link_contact<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    state: &SyncState,
    process: Process,
    lead: &mut SyncRecord,
    lead_user: u64,
    so: &SObject,
    contact: &RecordRef,
) -> Result<(), Failure> {
    let kv_failure = |e: crate::io::KvError| Failure::transient(e.to_string());
    let stored = store::load_record(ctx.kv, contact)
        .await
        .map_err(kv_failure)?;
    let contact_user = stored.as_ref().and_then(zendesk::linked_id);
    let (now_user, calls) = zendesk::hand_over(ctx, lead_user, contact_user, &contact.id).await?;
    lead.destination_calls += calls;
    let lead_ref = lead.reference();
    match (contact_user, now_user) {
        // The Contact had no user: it takes the Lead's.
        (None, Some(user)) => {
            let before = stored.as_ref().map(index::Before::of);
            let mut record = stored.unwrap_or_else(|| {
                let mut r = SyncRecord::new(&contact.object, &contact.id, process);
                r.status = Status::Pending;
                r.last_attempt_at = None;
                r
            });
            record.destination = Some(DestinationRef {
                kind: DestinationKind::Zendesk,
                id: Some(user.to_string()),
                organization_ids: lead
                    .destination
                    .as_ref()
                    .map(|d| d.organization_ids.clone())
                    .unwrap_or_default(),
            });
            record.converted_from = Some(lead_ref);
            index::save(ctx.kv, state.generation, before.as_ref(), &mut record)
                .await
                .map_err(kv_failure)?;
        }
        // Merged into the Contact's user: the Lead's email names it now.
        (Some(user), _) if user != lead_user => {
            let email = state
                .mapping
                .object(LEAD)
                .and_then(|m| m.apply(so).ok())
                .and_then(|mapped| zendesk::mapped_email(&mapped));
            if let Some(email) = email {
                let entry = store::load_email(ctx.kv, &email)
                    .await
                    .map_err(kv_failure)?;
                if let Some(mut entry) = entry.filter(|e| e.user_id == lead_user.to_string()) {
                    entry.user_id = user.to_string();
                    entry.syncing_record = None;
                    store::save_email(ctx.kv, &email, &entry)
                        .await
                        .map_err(kv_failure)?;
                }
            }
        }
        _ => {}
    }
    let user = contact_user.or(now_user);
    lead.destination = user.map(|u| DestinationRef {
        kind: DestinationKind::Zendesk,
        id: Some(u.to_string()),
        organization_ids: Vec::new(),
    });
    lead.converted_to = Some(contact.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sobject::FieldValue;

    fn lead(fields: &[(&str, &str)]) -> SObject {
        SObject {
            object_type: LEAD.into(),
            id: "00Q000000000001AAA".into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), FieldValue::Text(v.to_string())))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_conversion_needs_both_fields_on_a_lead() {
        let converted = lead(&[
            ("IsConverted", "true"),
            ("ConvertedContactId", "003000000000001"),
        ]);
        assert_eq!(
            converted_to(&converted),
            Some(RecordRef::new(CONTACT, "003000000000001AAA"))
        );
        assert_eq!(
            converted_to(&lead(&[
                ("IsConverted", "false"),
                ("ConvertedContactId", "003000000000001")
            ])),
            None
        );
        assert_eq!(converted_to(&lead(&[("IsConverted", "true")])), None);
        assert_eq!(
            converted_to(&lead(&[
                ("IsConverted", "true"),
                ("ConvertedContactId", "not an id")
            ])),
            None
        );
        let mut contact = converted.clone();
        contact.object_type = CONTACT.into();
        assert_eq!(converted_to(&contact), None, "only Leads convert");
    }
}
