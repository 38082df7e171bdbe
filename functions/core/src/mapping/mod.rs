//! The field mapping: which Salesforce objects sync, to which destination
//! entity, and how each destination field is computed from source fields.
//!
//! A mapping is TOML (`config/mapping.toml` is the bundled default and the
//! README documents the format). The pieces:
//!
//! - [`load`]: read the TOML and check every rule, reporting *all* problems
//!   with their path and a hint ([`MappingError`]); a mapping with problems
//!   never becomes a [`Mapping`].
//! - [`apply`]: turn a record's source fields into destination fields
//!   (transforms, templates, value maps, defaults, required, types), and the
//!   fingerprint of the mapped source fields.
//! - [`convert`]: the destination types (string, boolean, integer, decimal,
//!   date, date-time, list) and what converts to them.
//! - [`suggest`]: "did you mean" for misspelt names.
//! - `bundled`: the bundled file as code, generated and checked by a test.

pub mod apply;
// Generated from config/mapping.toml (see the module's doc).
#[rustfmt::skip]
mod bundled;
pub mod convert;
pub mod load;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::record::Process;

pub use apply::{MapError, Mapped};
pub use convert::ValueType;
pub use load::{MappingError, Problem};

/// The mapping bundled into every component: `config/mapping.toml`.
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../../../config/mapping.toml");

/// A checked mapping, ready to use.
/// The Zendesk records an object can map to (`entity = "…"`), and the one
/// link role Zendesk has: a user's organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZendeskEntity {
    Organization,
    User,
}

impl ZendeskEntity {
    pub const NAMES: [&'static str; 2] = ["organization", "user"];
    /// The link role naming a user's organization (`links = { organization = "AccountId" }`).
    pub const ORGANIZATION_LINK: &'static str = "organization";

    pub fn parse(entity: &str) -> Option<ZendeskEntity> {
        match entity {
            "organization" => Some(ZendeskEntity::Organization),
            "user" => Some(ZendeskEntity::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZendeskEntity::Organization => "organization",
            ZendeskEntity::User => "user",
        }
    }
}

/// A checked mapping. It is stored beside its TOML when an admin puts one
/// ([`crate::store::StoredMapping::compiled`]), in this JSON form, so that a
/// sync reads it without parsing or checking the TOML again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub objects: BTreeMap<String, ObjectMapping>,
}

/// How one Salesforce object is synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectMapping {
    /// API name: `Contact`, `Event_Registration__c`.
    pub object: String,
    /// Destination entity: `organization`, `user`, or a webhook table.
    pub entity: String,
    /// The Salesforce field that identifies a record (default `Id`).
    pub key: String,
    /// Which Outbound Messages sync this object.
    pub triggers: BTreeSet<Process>,
    /// role -> source field, e.g. `organization` -> `AccountId`.
    pub links: BTreeMap<String, String>,
    /// destination field (dotted for nesting) -> rule.
    pub fields: BTreeMap<String, FieldRule>,
}

/// How one destination field is computed, in this order: source, transforms,
/// value map, default, required, type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRule {
    pub source: Source,
    pub transforms: Vec<Transform>,
    /// Picklist value -> destination value.
    pub map: BTreeMap<String, String>,
    /// For a value the map does not list; without it the value is kept.
    pub fallback: Option<String>,
    /// Used when the value is null, absent or empty.
    pub default: Option<String>,
    /// A record whose value is still missing fails with a clear error.
    pub required: bool,
    pub value_type: ValueType,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Source {
    Field(String),
    Template(Vec<Piece>),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Piece {
    Text(String),
    Field(String),
}

/// A text transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    Trim,
    Lower,
    Upper,
}

impl Transform {
    pub const ALL: &'static [(&'static str, Transform)] = &[
        ("trim", Transform::Trim),
        ("lower", Transform::Lower),
        ("upper", Transform::Upper),
    ];

    pub fn apply(self, v: String) -> String {
        match self {
            Transform::Trim => v.trim().to_string(),
            Transform::Lower => v.to_lowercase(),
            Transform::Upper => v.to_uppercase(),
        }
    }
}

impl Mapping {
    /// The bundled default mapping, built by code generated from
    /// `config/mapping.toml` (`bundled.rs`): no request parses it. A unit
    /// test fails while the code differs from the file, and says how to
    /// regenerate it.
    pub fn bundled() -> Mapping {
        bundled::mapping()
    }

    /// Read and check a mapping; see [`load`].
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        load::from_toml(text)
    }

    pub fn object(&self, name: &str) -> Option<&ObjectMapping> {
        self.objects.get(name)
    }
}

impl ObjectMapping {
    /// Whether this object syncs for `process`: the Salesforce triggers
    /// (`created`, `updated`) can be switched off per object with
    /// `triggers = [...]`; admin processes (resend, backfill) always run.
    pub fn accepts(&self, process: Process) -> bool {
        match process {
            Process::Created | Process::Updated => self.triggers.contains(&process),
            Process::Resend
            | Process::Backfill
            | Process::Import
            | Process::Link
            | Process::Repair
            | Process::Pull
            | Process::Reconcile => true,
        }
    }

    /// The source fields this mapping reads: key, links, and every rule's.
    pub fn source_fields(&self) -> BTreeSet<&str> {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        set.insert(self.key.as_str());
        set.extend(self.links.values().map(String::as_str));
        for rule in self.fields.values() {
            set.extend(rule.source.fields());
        }
        set
    }
}

impl Source {
    /// The Salesforce fields this source reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Source::Field(f) => vec![f.as_str()],
            Source::Template(pieces) => pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Field(f) => Some(f.as_str()),
                    Piece::Text(_) => None,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
