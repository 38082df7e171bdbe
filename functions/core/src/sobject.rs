//! A Salesforce record as sfsync receives it: an object name, the record id,
//! and the fields that were sent.
//!
//! Three states of a field are kept apart, because they mean different things
//! to a mapping: *absent* (not in [`SObject::fields`]: the Outbound Message
//! does not send it), [`FieldValue::Null`] (sent with `xsi:nil="true"`: the
//! field is empty in Salesforce) and [`FieldValue::Text`] (a value, possibly
//! the empty string).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One field's value. Serialised as JSON `null` or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Option<String>", into = "Option<String>")]
pub enum FieldValue {
    Null,
    Text(String),
}

impl FieldValue {
    /// The text, or `None` for null.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Null => None,
            FieldValue::Text(t) => Some(t),
        }
    }
}

impl From<Option<String>> for FieldValue {
    fn from(v: Option<String>) -> Self {
        v.map_or(FieldValue::Null, FieldValue::Text)
    }
}

impl From<FieldValue> for Option<String> {
    fn from(v: FieldValue) -> Self {
        match v {
            FieldValue::Null => None,
            FieldValue::Text(t) => Some(t),
        }
    }
}

/// A record of one Salesforce object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SObject {
    /// API name of the object: `Account`, `Contact`, `Event_Registration__c`.
    pub object_type: String,
    /// The record id (the `Id` field), 15 or 18 characters.
    pub id: String,
    /// Every field that was sent, by API name.
    pub fields: BTreeMap<String, FieldValue>,
}

impl SObject {
    /// A field's text: `None` when absent or null.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(FieldValue::as_text)
    }

    /// The modification stamp used to order deliveries: `LastModifiedDate`,
    /// else `SystemModstamp`.
    pub fn modified_at(&self) -> Option<&str> {
        self.text("LastModifiedDate")
            .or_else(|| self.text("SystemModstamp"))
            .filter(|s| !s.is_empty())
    }
}

/// Whether `id` has the shape of a Salesforce id: 15 or 18 ASCII letters and
/// digits.
pub fn is_salesforce_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `name` looks like a Salesforce API name (`Email`, `Foo__c`).
pub fn is_api_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
