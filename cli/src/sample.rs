//! `send-sample`: an Outbound Message from a small record description, for
//! trying sfsync without Salesforce.
//!
//! TOML (`nulls` lists fields sent as xsi:nil):
//! ```toml
//! object = "Contact"
//! nulls = ["Phone"]
//! [fields]
//! Id = "003000000000001AAA"
//! Email = "ana@example.com"
//! ```
//! or JSON, where `null` is a nil field; several records go in
//! `records = [...]` (TOML `[[records]]`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;
use sync_core::soap::Notification;
use sync_core::sobject::{FieldValue, SObject};

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn record(v: &Value, index: usize, stamp: &str) -> Result<Notification> {
    let object = v
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("record {index}: no object; add object = \"Contact\""))?;
    let fields = v
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("record {index}: no [fields] table"))?;
    let mut out: BTreeMap<String, FieldValue> = BTreeMap::new();
    for (k, fv) in fields {
        let value = match fv {
            Value::Null => FieldValue::Null,
            other => FieldValue::Text(
                text_of(other)
                    .ok_or_else(|| anyhow!("record {index}: field {k} must be a single value"))?,
            ),
        };
        out.insert(k.clone(), value);
    }
    for n in v
        .get("nulls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = n.as_str() {
            out.insert(name.to_string(), FieldValue::Null);
        }
    }
    let id = match out.get("Id") {
        Some(FieldValue::Text(id)) if sync_core::sobject::is_salesforce_id(id) => id.clone(),
        _ => bail!("record {index}: fields.Id must be a 15- or 18-character Salesforce id"),
    };
    out.entry("LastModifiedDate".into())
        .or_insert_with(|| FieldValue::Text(stamp.to_string()));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(Notification {
        id: format!("04l{:015}", (nanos + index as u128) % 1_000_000_000_000_000),
        sobject: SObject {
            object_type: object.to_string(),
            id,
            fields: out,
        },
    })
}

/// Read a description file (TOML or JSON) into notifications.
pub fn load(path: &std::path::Path, stamp: &str) -> Result<Vec<Notification>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    } else {
        let t: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        serde_json::to_value(t)?
    };
    let items: Vec<Value> = match value.get("records") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![value],
    };
    if items.is_empty() || items.len() > 100 {
        bail!(
            "{} describes {} records; an Outbound Message holds 1 to 100",
            path.display(),
            items.len()
        );
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| record(v, i + 1, stamp))
        .collect()
}
