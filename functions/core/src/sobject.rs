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
    /// An sObject with its record id (and its `Id` field) in the
    /// 18-character form; `None` when `id` is not a Salesforce id.
    pub fn new(
        object_type: String,
        id: &str,
        mut fields: BTreeMap<String, FieldValue>,
    ) -> Option<SObject> {
        let id = normalize_id(id)?;
        if fields.contains_key("Id") {
            fields.insert("Id".into(), FieldValue::Text(id.clone()));
        }
        Some(SObject {
            object_type,
            id,
            fields,
        })
    }

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

/// The 18-character form of a Salesforce id (15 or 18 letters and digits),
/// `None` for anything else. The three extra characters encode, five
/// characters at a time, which of the first 15 are upper case, so the 15-
/// and 18-character forms of one record normalise to the same text
/// (interfaces.md, "Salesforce ids"). An 18-character id gets its suffix
/// recomputed: Salesforce accepts the suffix in any case.
pub fn normalize_id(id: &str) -> Option<String> {
    let id = id.trim();
    if !is_salesforce_id(id) {
        return None;
    }
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let base = &id[..15];
    let mut out = String::with_capacity(18);
    out.push_str(base);
    for chunk in base.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        out.push(char::from(ALPHABET[bits]));
    }
    Some(out)
}

/// `value` in its 18-character form when it is a Salesforce id, else as is
/// (for link fields, which hold ids).
pub fn normalize_if_id(value: &str) -> String {
    normalize_id(value).unwrap_or_else(|| value.to_string())
}

/// Whether `name` looks like a Salesforce API name (`Email`, `Foo__c`).
pub fn is_api_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_normalise_to_their_18_character_form() {
        // (15, 18) pairs: the suffix encodes the upper-case letters. The
        // second is the example in Salesforce's documentation; the others
        // are worked out by hand (e.g. "00ABC": bits 2, 3, 4 = 28 = '2').
        let cases = [
            ("003000000000001", "003000000000001AAA"),
            ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
            ("a0B5g00000XyZ12", "a0B5g00000XyZ12EAF"),
            ("00Q000000000ABC", "00Q000000000ABCEA2"),
        ];
        for (short, long) in cases {
            assert_eq!(normalize_id(short).as_deref(), Some(long), "{short}");
            assert_eq!(normalize_id(long).as_deref(), Some(long), "{long}");
            let lower_suffix = format!("{}{}", &long[..15], long[15..].to_lowercase());
            assert_eq!(normalize_id(&lower_suffix).as_deref(), Some(long));
        }
        assert_eq!(normalize_id("003-not-an-id"), None);
        assert_eq!(normalize_id("00300000000001"), None, "14 characters");
        assert_eq!(normalize_if_id("Acme"), "Acme");
    }
}
