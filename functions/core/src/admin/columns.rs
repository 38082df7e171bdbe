//! The columns of a backfill file: field API names (a Data Loader or Data
//! Export extract), or the field *labels* of a report export ("First Name",
//! "Contact ID"), matched here to the API names the mapping reads.
//!
//! A header, in this order:
//!
//! 1. named in the caller's column map (`?columns=Label=ApiName,…`, the
//!    CLI's `--columns`) becomes that API name;
//! 2. an API name the mapping reads (`FirstName`, `Score__c`) is kept;
//! 3. a label (or a word such as `Tier`) is compared with the fields the object's mapping reads, plus
//!    `Id`, `LastModifiedDate` and `SystemModstamp`, ignoring case, spaces
//!    and punctuation, with a custom field's `__c` left out: `First Name` is
//!    `FirstName`, `Account ID` is `AccountId`, `Score` is `Score__c`.
//!    `{Object} ID` is `Id`, and `{Object} Name` is `Name`.
//!
//! Another API name is kept (the mapping does not read it: harmless). A
//! label that matches nothing the mapping reads is left out of the
//! records and named in the answer (`unmapped_columns`), so the caller can
//! map it with `--columns` if the mapping needs it.

use std::collections::{BTreeMap, BTreeSet};

use crate::mapping::Mapping;
use crate::sobject::is_api_name;

/// The headers as API names (`None`: a column left out) and the labels
/// that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub names: Vec<Option<String>>,
    pub unmapped: Vec<String>,
}

/// Read `?columns=`: `Label=ApiName` pairs separated by commas.
pub fn parse_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((label, api)) = pair.rsplit_once('=') else {
            return Err(format!(
                "columns: \"{pair}\" is not Label=ApiName; e.g. columns=First Name=FirstName,Email Address=Email"
            ));
        };
        let api = api.trim();
        if !is_api_name(api) {
            return Err(format!(
                "columns: \"{api}\" (for \"{}\") is not a field API name",
                label.trim()
            ));
        }
        out.insert(label.trim().to_string(), api.to_string());
    }
    Ok(out)
}

/// Lower case, letters and digits only.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An API name's forms a label may take.
fn label_forms(api: &str) -> Vec<String> {
    let mut forms = vec![squash(api)];
    if let Some(custom) = api.strip_suffix("__c") {
        forms.push(squash(custom));
    }
    forms
}

/// Match `headers` for `object`.
pub fn resolve(
    headers: &[String],
    object: &str,
    mapping: &Mapping,
    explicit: &BTreeMap<String, String>,
) -> Resolved {
    let mut known: BTreeSet<String> = ["Id", "LastModifiedDate", "SystemModstamp"]
        .into_iter()
        .map(str::to_string)
        .collect();
    if let Some(o) = mapping.object(object) {
        known.extend(o.source_fields().into_iter().map(str::to_string));
    }
    let object_squashed = squash(object);
    let mut names = Vec::with_capacity(headers.len());
    let mut unmapped = Vec::new();
    for h in headers {
        let name = if let Some(api) = explicit.get(h) {
            Some(api.clone())
        } else if known.contains(h) {
            Some(h.clone())
        } else {
            let s = squash(h);
            let own = match s.strip_prefix(&object_squashed) {
                Some("id") => Some("Id".to_string()),
                Some("name") if known.contains("Name") => Some("Name".to_string()),
                _ => None,
            };
            own.or_else(|| {
                let found: Vec<&String> = known
                    .iter()
                    .filter(|api| label_forms(api).contains(&s))
                    .collect();
                (found.len() == 1).then(|| found[0].clone())
            })
            // An API name the mapping does not read is kept: harmless.
            .or_else(|| is_api_name(h).then(|| h.clone()))
        };
        if name.is_none() && !h.is_empty() {
            unmapped.push(h.clone());
        }
        names.push(name);
    }
    Resolved { names, unmapped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(hs: &[&str]) -> Vec<String> {
        hs.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn a_contact_report_export_maps_to_the_api_names() {
        let m = Mapping::bundled();
        let r = resolve(
            &headers(&[
                "Contact ID",
                "First Name",
                "Last Name",
                "Email",
                "Account ID",
                "Title",
                "Last Modified Date",
            ]),
            "Contact",
            &m,
            &BTreeMap::new(),
        );
        let names: Vec<Option<&str>> = r.names.iter().map(Option::as_deref).collect();
        assert_eq!(
            names,
            [
                Some("Id"),
                Some("FirstName"),
                Some("LastName"),
                Some("Email"),
                Some("AccountId"),
                Some("Title"),
                Some("LastModifiedDate")
            ]
        );
        assert!(r.unmapped.is_empty());
    }

    #[test]
    fn an_account_name_and_a_custom_label_and_the_unmappable() {
        let toml = "[objects.Account]\nentity = \"organization\"\n[objects.Account.fields]\nname = { from = \"Name\" }\n\"organization_fields.tier\" = { from = \"Tier__c\" }\n";
        let m = Mapping::from_toml(toml).expect("valid");
        let r = resolve(
            &headers(&[
                "Account ID",
                "Account Name",
                "Tier",
                "Web Address",
                "Annual Revenue",
            ]),
            "Account",
            &m,
            &BTreeMap::new(),
        );
        let names: Vec<Option<&str>> = r.names.iter().map(Option::as_deref).collect();
        assert_eq!(
            names,
            [Some("Id"), Some("Name"), Some("Tier__c"), None, None]
        );
        assert_eq!(r.unmapped, ["Web Address", "Annual Revenue"]);

        let explicit = parse_map("Web Address=Website").expect("a map");
        let r = resolve(&headers(&["Web Address"]), "Account", &m, &explicit);
        assert_eq!(r.names, [Some("Website".to_string())]);
    }

    #[test]
    fn a_bad_column_map_says_how_to_write_it() {
        assert!(parse_map("First Name")
            .unwrap_err()
            .contains("Label=ApiName"));
        assert!(parse_map("First Name=First Name")
            .unwrap_err()
            .contains("not a field API name"));
    }
}
