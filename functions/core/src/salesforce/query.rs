//! The SOQL sfsync sends, and what it reads back.
//!
//! A pull reads only what the object's mapping reads ([`crate::mapping::
//! ObjectMapping::source_fields`]) plus `Id`, `LastModifiedDate` and
//! `SystemModstamp` (and, for Leads, the conversion fields of
//! [`crate::conversion::FIELDS`]), ordered by (`SystemModstamp`, `Id`) so that a page
//! boundary never skips a record and a later run can go on from the last
//! stamp it saw (`>=`: a record at the boundary is read twice, and its
//! second sync costs nothing).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::failure::Failure;
use crate::mapping::ObjectMapping;
use crate::sobject::{is_api_name, FieldValue, SObject};

/// `SELECT … FROM {object} [WHERE SystemModstamp >= {since}] ORDER BY
/// SystemModstamp, Id`. `since` is a SOQL date-time (`2026-11-20T10:15:00Z`).
pub fn soql(object: &ObjectMapping, since: Option<&str>) -> String {
    let mut fields: BTreeSet<&str> = object
        .source_fields()
        .into_iter()
        .filter(|f| is_api_name(f))
        .collect();
    fields.extend(["Id", "LastModifiedDate", "SystemModstamp"]);
    if object.object == crate::conversion::LEAD {
        fields.extend(crate::conversion::FIELDS);
    }
    let list: Vec<&str> = fields.into_iter().collect();
    let mut q = format!("SELECT {} FROM {}", list.join(","), object.object);
    if let Some(t) = since {
        q.push_str(&format!(" WHERE SystemModstamp >= {t}"));
    }
    q.push_str(" ORDER BY SystemModstamp, Id");
    q
}

/// The path of a query call.
pub fn path(soql: &str) -> String {
    format!(
        "/services/data/{}/query?q={}",
        super::API_VERSION,
        crate::web::percent_encode(soql)
    )
}

/// One page of a query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<SObject>,
    /// Records the query matches in all.
    pub total: u64,
    /// The path of the next page, if any.
    pub next: Option<String>,
    /// The last record's `SystemModstamp`: where a later run goes on from.
    pub last_stamp: Option<String>,
    /// Records whose Id was unusable: (id as sent, why).
    pub unusable: Vec<(String, String)>,
}

/// Read a query answer of `object`.
pub fn page(object: &str, v: &Value) -> Result<Page, Failure> {
    let records = v["records"]
        .as_array()
        .ok_or_else(|| Failure::transient("Salesforce's query answer has no records list; check that sf_my_domain_url is the org's My Domain URL, then run again"))?;
    let mut out = Vec::with_capacity(records.len());
    let mut unusable = Vec::new();
    let mut last_stamp = None;
    for r in records {
        let Some(map) = r.as_object() else { continue };
        let mut fields = BTreeMap::new();
        for (name, value) in map {
            let v = match value {
                Value::Null => FieldValue::Null,
                Value::String(s) => FieldValue::Text(s.clone()),
                Value::Bool(_) | Value::Number(_) => FieldValue::Text(value.to_string()),
                // `attributes` and relationship objects are not fields.
                Value::Object(_) | Value::Array(_) => continue,
            };
            fields.insert(name.clone(), v);
        }
        if let Some(FieldValue::Text(s)) = fields.get("SystemModstamp") {
            last_stamp = Some(s.clone());
        }
        let id = match fields.get("Id") {
            Some(FieldValue::Text(id)) => id.clone(),
            _ => String::new(),
        };
        match SObject::new(object.to_string(), &id, fields) {
            Some(so) => out.push(so),
            None => unusable.push((id, "not a Salesforce id".to_string())),
        }
    }
    Ok(Page {
        records: out,
        total: v["totalSize"].as_u64().unwrap_or_default(),
        next: v["nextRecordsUrl"].as_str().map(str::to_string),
        last_stamp,
        unusable,
    })
}

/// A SOQL date-time from an ISO 8601 date or date-time, or why not.
pub fn since_literal(text: &str) -> Result<String, String> {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(format!("{}T00:00:00Z", d.format("%Y-%m-%d")));
    }
    // Salesforce's own form: 2026-11-20T10:15:00.000+0000.
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    Err(format!(
        "since \"{text}\" is not an ISO 8601 date or date-time; e.g. since=2026-11-20 or since=2026-11-20T10:15:00Z"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapping;

    #[test]
    fn the_query_reads_what_the_mapping_needs_in_stamp_order() {
        let m = Mapping::bundled();
        let contact = m.object("Contact").expect("Contact");
        let q = soql(contact, Some("2026-11-20T00:00:00Z"));
        assert_eq!(q, "SELECT AccountId,Email,FirstName,Id,LastModifiedDate,LastName,Phone,SystemModstamp FROM Contact WHERE SystemModstamp >= 2026-11-20T00:00:00Z ORDER BY SystemModstamp, Id");
        assert!(path(&q).starts_with("/services/data/v62.0/query?q=SELECT%20"));
    }

    #[test]
    fn a_page_becomes_records() {
        let v = serde_json::json!({
            "totalSize": 3, "done": false, "nextRecordsUrl": "/services/data/v62.0/query/01g-2",
            "records": [
                {"attributes": {"type": "Contact"}, "Id": "003000000000001", "Email": "a@b.c", "Phone": null, "SystemModstamp": "2026-11-20T10:00:00.000+0000"},
                {"attributes": {"type": "Contact"}, "Id": "bad", "SystemModstamp": "2026-11-20T11:00:00.000+0000"}
            ]
        });
        let p = page("Contact", &v).expect("a page");
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].id, "003000000000001AAA", "ids are normalised");
        assert_eq!(p.unusable.len(), 1);
        assert_eq!(p.total, 3);
        assert_eq!(p.next.as_deref(), Some("/services/data/v62.0/query/01g-2"));
        assert_eq!(
            p.last_stamp.as_deref(),
            Some("2026-11-20T11:00:00.000+0000")
        );
    }

    #[test]
    fn since_takes_dates_and_date_times() {
        assert_eq!(
            since_literal("2026-11-20").as_deref(),
            Ok("2026-11-20T00:00:00Z")
        );
        assert_eq!(
            since_literal("2026-11-20T10:15:00.000+0000").as_deref(),
            Ok("2026-11-20T10:15:00Z")
        );
        assert!(since_literal("yesterday").is_err());
    }
}
