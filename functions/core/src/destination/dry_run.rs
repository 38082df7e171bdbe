//! The dry-run destination: everything works and is recorded, nothing leaves.
//!
//! A dry-run sync ends `synced` with `destination.kind = "dry-run"` and
//! `destination.id = "{Object}/{SalesforceId}"`, and keeps the payload that a
//! real destination would have received, so an admin can check a mapping
//! before connecting anything.

use serde_json::json;

use super::Pushed;
use crate::failure::Failure;
use crate::mapping::Mapped;
use crate::record::DestinationRef;
use crate::reference::RecordRef;
use crate::settings::DestinationKind;

pub fn push(object: &str, mapped: &Mapped) -> Result<Pushed, Failure> {
    Ok(Pushed {
        destination: DestinationRef {
            kind: DestinationKind::DryRun,
            id: Some(RecordRef::new(object, &mapped.key).to_string()),
            organization_ids: Vec::new(),
        },
        payload: Some(json!({
            "entity": mapped.entity,
            "external_id": mapped.key,
            "fields": mapped.fields,
            "links": mapped.links,
        })),
        syncing_record: None,
        fields_synced: None,
        missing_link: None,
    })
}
