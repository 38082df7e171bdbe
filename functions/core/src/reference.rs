//! [`RecordRef`]: which Salesforce record, written `Object/SalesforceId`
//! (`Contact/003000000000001AAA`) wherever an admin or a file names one — a
//! resend body, a run's failed list, the CLI — and parsed in one place.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sobject::{is_api_name, normalize_id, normalize_if_id};

/// One Salesforce record: its object's API name and its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordRef {
    pub object: String,
    pub id: String,
}

/// Why a text is not a record reference; the message shows the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a record reference; write \"Object/SalesforceId\", e.g. \"Contact/003000000000001AAA\"")]
pub struct NotARecordRef(pub String);

impl RecordRef {
    pub fn new(object: impl Into<String>, id: impl Into<String>) -> RecordRef {
        RecordRef {
            object: object.into(),
            id: id.into(),
        }
    }

    /// Parse `Object/SalesforceId`: an API name and a 15- or 18-character
    /// id, kept in its 18-character form.
    pub fn parse(text: &str) -> Result<RecordRef, NotARecordRef> {
        match text.split_once('/') {
            Some((object, id)) if is_api_name(object) => match normalize_id(id) {
                Some(id) => Ok(RecordRef::new(object, id)),
                None => Err(NotARecordRef(text.to_string())),
            },
            _ => Err(NotARecordRef(text.to_string())),
        }
    }

    /// A reference from an admin path's parts, the id normalised when it is
    /// a Salesforce id (else kept, so that the lookup says "no record").
    pub fn from_parts(object: &str, id: &str) -> RecordRef {
        RecordRef::new(object, normalize_if_id(id))
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.object, self.id)
    }
}

impl Serialize for RecordRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordRef {
    /// Lenient on the way back in: a stored reference is split at its first
    /// `/` without re-checking the id, so history written by any version reads.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RecordRef, D::Error> {
        let text = String::deserialize(d)?;
        match text.split_once('/') {
            Some((o, id)) => Ok(RecordRef::new(o, id)),
            None => Ok(RecordRef::new(text, "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let r = RecordRef::parse("Contact/003000000000001AAA").expect("valid");
        assert_eq!(RecordRef::parse("Contact/003000000000001").expect("15"), r);
        assert_eq!(
            (r.object.as_str(), r.id.as_str()),
            ("Contact", "003000000000001AAA")
        );
        assert_eq!(r.to_string(), "Contact/003000000000001AAA");
        assert!(RecordRef::parse("Event_Registration__c/a0B000000000001").is_ok());
        for bad in [
            "Contact",
            "Contact/",
            "/003000000000001AAA",
            "Contact/003-1",
            "Con tact/003000000000001AAA",
            "",
        ] {
            let err = RecordRef::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("Object/SalesforceId"), "{err}");
        }
        let json = serde_json::to_string(&r).expect("json");
        assert_eq!(json, "\"Contact/003000000000001AAA\"");
        assert_eq!(serde_json::from_str::<RecordRef>(&json).expect("back"), r);
    }
}
