//! Applying a mapping to one record, and the fingerprint of what it reads.
//!
//! Per destination field: take the source (a field, or a template of
//! fields), apply the transforms, look the value up in the value map, fall
//! back to the default when it is null, absent or empty, fail when it is
//! still missing and required, and convert it to the destination type.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{FieldRule, ObjectMapping, Piece, Source};
use crate::sobject::{normalize_if_id, FieldValue, SObject};

/// A record that the mapping cannot turn into a destination record. The
/// message names the field and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}.{field}: {message}")]
pub struct MapError {
    pub object: String,
    pub field: String,
    pub message: String,
}

/// A record mapped for its destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub entity: String,
    /// The value of the mapping's key field.
    pub key: String,
    /// Destination fields; dotted names nested.
    pub fields: Map<String, Value>,
    /// role -> linked Salesforce id (e.g. organization -> the AccountId).
    pub links: BTreeMap<String, String>,
}

impl ObjectMapping {
    /// A hash of the mapped source fields. Field order does not matter;
    /// absent, null and empty give different fingerprints; fields the
    /// mapping does not read do not count.
    pub fn fingerprint(&self, record: &SObject) -> String {
        let mut hasher = Sha256::new();
        for field in self.source_fields() {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
            match record.fields.get(field) {
                None => hasher.update([0u8]),
                Some(FieldValue::Null) => hasher.update([1u8]),
                Some(FieldValue::Text(t)) => {
                    hasher.update([2u8]);
                    hasher.update((t.len() as u64).to_le_bytes());
                    hasher.update(t.as_bytes());
                }
            }
        }
        let digest = hasher.finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Map one record.
    pub fn apply(&self, record: &SObject) -> Result<Mapped, MapError> {
        let fail = |field: &str, message: String| MapError {
            object: self.object.clone(),
            field: field.to_string(),
            message,
        };
        let key = record
            .text(&self.key)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                fail(
                    &self.key,
                    "the key field is missing or empty; add it to the Outbound Message's fields"
                        .into(),
                )
            })?
            .to_string();
        let mut fields = Map::new();
        for (dest, rule) in &self.fields {
            // A rule whose source fields were not sent at all is left out, so
            // that it never clears what the destination holds.
            if let Some(value) = rule.value(record).map_err(|m| fail(dest, m))? {
                insert_dotted(&mut fields, dest, value);
            }
        }
        let links = self
            .links
            .iter()
            .filter_map(|(role, field)| {
                record
                    .text(field)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| (role.clone(), normalize_if_id(v)))
            })
            .collect();
        Ok(Mapped {
            entity: self.entity.clone(),
            key,
            fields,
            links,
        })
    }
}

impl FieldRule {
    /// This rule's destination value for a record: `None` when its source
    /// is *absent* (not sent at all) and there is no default, so nothing is
    /// sent for it; null (`xsi:nil`, an empty cell) is sent as JSON null.
    pub fn value(&self, record: &SObject) -> Result<Option<Value>, String> {
        if !self.source_sent(record) {
            return match (&self.default, self.required) {
                (Some(d), _) => self.convert(d).map(Some),
                (None, true) => Err(self.required_message()),
                (None, false) => Ok(None),
            };
        }
        let raw = match &self.source {
            Source::Field(f) => record.text(f).map(str::to_string),
            Source::Template(pieces) => render_template(pieces, record),
        };
        let text = raw
            .map(|v| self.transforms.iter().fold(v, |v, t| t.apply(v)))
            .map(|v| {
                if self.map.is_empty() {
                    v
                } else {
                    match self.map.get(&v) {
                        Some(mapped) => mapped.clone(),
                        None => self.fallback.clone().unwrap_or(v),
                    }
                }
            })
            .filter(|v| !v.is_empty())
            .or_else(|| self.default.clone());
        match text {
            Some(t) => self.convert(&t).map(Some),
            None if self.required => Err(self.required_message()),
            None => Ok(Some(Value::Null)),
        }
    }

    /// Whether the record carries any source field of this rule (a template
    /// of literal text only is always "sent").
    fn source_sent(&self, record: &SObject) -> bool {
        match &self.source {
            Source::Field(f) => record.fields.contains_key(f),
            Source::Template(pieces) => {
                let fields: Vec<&String> = pieces
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Field(f) => Some(f),
                        Piece::Text(_) => None,
                    })
                    .collect();
                fields.is_empty() || fields.iter().any(|f| record.fields.contains_key(*f))
            }
        }
    }

    fn convert(&self, text: &str) -> Result<Value, String> {
        self.value_type.convert(text).map_err(|e| {
            format!(
                "{e}; fix the value in Salesforce or the rule's type ({})",
                self.value_type.name()
            )
        })
    }

    fn required_message(&self) -> String {
        format!(
            "required, but {} is empty or not sent; fill it in Salesforce, add it to the Outbound Message's fields, or give the rule a default",
            describe(&self.source)
        )
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::Field(f) => format!("source field {f}"),
        Source::Template(_) => format!(
            "every field of the template ({})",
            source.fields().join(", ")
        ),
    }
}

/// Render a template; `None` when none of its fields has a value. Runs of
/// spaces left by empty fields are collapsed and the result trimmed.
fn render_template(pieces: &[Piece], record: &SObject) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(f) => {
                if let Some(v) = record.text(f).map(str::trim).filter(|v| !v.is_empty()) {
                    any = true;
                    out.push_str(v);
                }
            }
        }
    }
    any.then(|| out.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn insert_dotted(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_dotted(inner, rest, value);
            }
        }
    }
}
