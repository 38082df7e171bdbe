//! The field mapping: which Salesforce objects sync, to which destination
//! entity, and how each destination field is computed from source fields.
//!
//! A mapping is written in TOML (`config/mapping.toml` is the bundled default;
//! its header documents the format). [`Mapping::from_toml`] reads and checks
//! it; [`ObjectMapping::apply`] turns a record's source fields into the
//! destination fields; [`ObjectMapping::fingerprint`] hashes the *mapped*
//! source fields only, so a change to an unmapped field is not a change.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::record::Trigger;
use crate::sobject::{FieldValue, SObject};

/// The mapping bundled into every component: `config/mapping.toml`.
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../../config/mapping.toml");

/// One problem found in a mapping, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// e.g. `objects.Contact.fields.email`
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A mapping that cannot be used; lists every problem at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct MappingError(pub Vec<Problem>);

/// A record that the mapping cannot turn into a destination record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}.{field}: {message}")]
pub struct MapError {
    pub object: String,
    pub field: String,
    pub message: String,
}

/// A checked mapping, ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub objects: BTreeMap<String, ObjectMapping>,
}

/// How one Salesforce object is synced.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMapping {
    pub object: String,
    pub entity: String,
    pub key: String,
    pub triggers: BTreeSet<Trigger>,
    /// role -> source field, e.g. `organization` -> `AccountId`.
    pub links: BTreeMap<String, String>,
    /// destination field -> rule, in name order.
    pub fields: BTreeMap<String, FieldRule>,
}

/// How one destination field is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRule {
    pub source: Source,
    pub transforms: Vec<Transform>,
    pub default: Option<String>,
    pub required: bool,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Field(String),
    Template(Vec<Piece>),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Field(String),
}

/// A text transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Trim,
    Lower,
    Upper,
}

const TRANSFORMS: &[(&str, Transform)] = &[
    ("trim", Transform::Trim),
    ("lower", Transform::Lower),
    ("upper", Transform::Upper),
];

// ---- the TOML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(default)]
    objects: BTreeMap<String, RawObject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObject {
    entity: Option<String>,
    key: Option<String>,
    triggers: Option<Vec<String>>,
    #[serde(default)]
    links: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    from: Option<String>,
    template: Option<String>,
    #[serde(default)]
    transforms: Vec<String>,
    default: Option<String>,
    #[serde(default)]
    required: bool,
}

impl Mapping {
    /// The bundled default mapping.
    pub fn bundled() -> Mapping {
        // The bundled file is checked by a unit test; a broken one cannot ship.
        Mapping::from_toml(DEFAULT_MAPPING_TOML).unwrap_or(Mapping {
            objects: BTreeMap::new(),
        })
    }

    /// Read and check a mapping. Every problem is reported, not only the first.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| {
            MappingError(vec![Problem {
                path: "(file)".into(),
                message: format!("not a valid mapping file: {}", e.message()),
            }])
        })?;
        let mut problems = Vec::new();
        let mut objects = BTreeMap::new();
        for (name, raw_object) in raw.objects {
            let path = format!("objects.{name}");
            if let Some(object) = check_object(&name, &path, raw_object, &mut problems) {
                objects.insert(name, object);
            }
        }
        if problems.is_empty() {
            Ok(Mapping { objects })
        } else {
            Err(MappingError(problems))
        }
    }

    pub fn object(&self, name: &str) -> Option<&ObjectMapping> {
        self.objects.get(name)
    }
}

fn check_object(
    name: &str,
    path: &str,
    raw: RawObject,
    problems: &mut Vec<Problem>,
) -> Option<ObjectMapping> {
    let before = problems.len();
    let mut problem = |path: String, message: String| problems.push(Problem { path, message });
    let entity = raw.entity.unwrap_or_default();
    if entity.trim().is_empty() {
        problem(
            format!("{path}.entity"),
            "missing: name the destination entity (organization, user, or a webhook table)".into(),
        );
    }
    let key = raw.key.unwrap_or_else(|| "Id".into());
    if key.trim().is_empty() {
        problem(
            format!("{path}.key"),
            "empty: name the unique key field, usually Id".into(),
        );
    }
    let mut triggers = BTreeSet::new();
    for t in raw
        .triggers
        .unwrap_or_else(|| vec!["created".into(), "updated".into()])
    {
        match t.as_str() {
            "created" => {
                triggers.insert(Trigger::Created);
            }
            "updated" => {
                triggers.insert(Trigger::Updated);
            }
            other => problem(
                format!("{path}.triggers"),
                format!("unknown trigger \"{other}\"; use \"created\" and/or \"updated\""),
            ),
        }
    }
    let mut fields = BTreeMap::new();
    for (dest, raw_field) in raw.fields {
        let fpath = format!("{path}.fields.{dest}");
        let source = match (raw_field.from, raw_field.template) {
            (Some(from), None) if !from.trim().is_empty() => Some(Source::Field(from)),
            (None, Some(t)) => match parse_template(&t) {
                Ok(pieces) => Some(Source::Template(pieces)),
                Err(msg) => {
                    problem(format!("{fpath}.template"), msg);
                    None
                }
            },
            (Some(_), Some(_)) => {
                problem(fpath.clone(), "has both from and template; keep one".into());
                None
            }
            _ => {
                problem(
                    fpath.clone(),
                    "has no source: add from = \"Field\" or template = \"{Field} …\"".into(),
                );
                None
            }
        };
        let mut transforms = Vec::new();
        for t in &raw_field.transforms {
            match TRANSFORMS.iter().find(|(n, _)| n == t) {
                Some((_, tr)) => transforms.push(*tr),
                None => problem(
                    fpath.clone(),
                    format!(
                        "unknown transform \"{t}\"; known transforms: {}",
                        TRANSFORMS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
        if let Some(source) = source {
            fields.insert(
                dest,
                FieldRule {
                    source,
                    transforms,
                    default: raw_field.default,
                    required: raw_field.required,
                },
            );
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(ObjectMapping {
        object: name.to_string(),
        entity: entity.trim().to_string(),
        key,
        triggers,
        links: raw.links,
        fields,
    })
}

/// Split `"{FirstName} {LastName}"` into pieces.
fn parse_template(t: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("\"{t}\" has a {{ without a closing }}"))?;
        let name = after[..close].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "\"{t}\": {{{name}}} is not a Salesforce field API name"
            ));
        }
        pieces.push(Piece::Field(name.to_string()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(format!(
            "\"{t}\" names no field; write fields as {{FieldName}}"
        ));
    }
    Ok(pieces)
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
    /// The source fields this mapping reads: rules, key and links.
    pub fn source_fields(&self) -> BTreeSet<&str> {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        set.insert(self.key.as_str());
        set.extend(self.links.values().map(String::as_str));
        for rule in self.fields.values() {
            match &rule.source {
                Source::Field(f) => {
                    set.insert(f);
                }
                Source::Template(pieces) => set.extend(pieces.iter().filter_map(|p| match p {
                    Piece::Field(f) => Some(f.as_str()),
                    Piece::Text(_) => None,
                })),
            }
        }
        set
    }

    /// A hash of the mapped source fields. Field order does not matter; null,
    /// empty and absent give different fingerprints.
    pub fn fingerprint(&self, record: &SObject) -> String {
        let mut hasher = Sha256::new();
        for field in self.source_fields() {
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
            hasher.update([0xffu8]);
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
            let value = match &rule.source {
                Source::Field(f) => record.text(f).map(str::to_string),
                Source::Template(pieces) => render_template(pieces, record),
            };
            let value = value.map(|v| rule.transforms.iter().fold(v, |v, t| t.apply(v)));
            let value = match value {
                Some(v) if !v.is_empty() => Some(v),
                _ => rule.default.clone(),
            };
            match value {
                Some(v) => insert_dotted(&mut fields, dest, Value::String(v)),
                None if rule.required => {
                    return Err(fail(
                        dest,
                        format!(
                            "required, but {} is empty or not sent",
                            describe_source(&rule.source)
                        ),
                    ))
                }
                None => insert_dotted(&mut fields, dest, Value::Null),
            }
        }
        let links = self
            .links
            .iter()
            .filter_map(|(role, field)| {
                record
                    .text(field)
                    .filter(|v| !v.is_empty())
                    .map(|v| (role.clone(), v.to_string()))
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

impl Transform {
    fn apply(self, v: String) -> String {
        match self {
            Transform::Trim => v.trim().to_string(),
            Transform::Lower => v.to_lowercase(),
            Transform::Upper => v.to_uppercase(),
        }
    }
}

fn describe_source(source: &Source) -> String {
    match source {
        Source::Field(f) => format!("source field {f}"),
        Source::Template(pieces) => {
            let names: Vec<&str> = pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Field(f) => Some(f.as_str()),
                    Piece::Text(_) => None,
                })
                .collect();
            format!("every field of the template ({})", names.join(", "))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(object: &str, fields: &[(&str, Option<&str>)]) -> SObject {
        SObject {
            object_type: object.into(),
            id: "003000000000001AAA".into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string).into()))
                .collect(),
        }
    }

    #[test]
    fn bundled_mapping_is_valid_and_covers_the_default_objects() {
        let m = Mapping::from_toml(DEFAULT_MAPPING_TOML).expect("bundled mapping is valid");
        let names: Vec<&str> = m.objects.keys().map(String::as_str).collect();
        assert_eq!(names, ["Account", "Contact", "Lead"]);
        assert_eq!(m.object("Contact").map(|o| o.entity.as_str()), Some("user"));
        assert_eq!(
            m.object("Account").map(|o| o.entity.as_str()),
            Some("organization")
        );
    }

    #[test]
    fn default_contact_mapping() {
        let m = Mapping::bundled();
        let contact = m.object("Contact").expect("Contact");
        let rec = record(
            "Contact",
            &[
                ("Id", Some("003000000000001AAA")),
                ("Email", Some("  Ana@Example.COM ")),
                ("FirstName", Some("Ana")),
                ("LastName", Some("Lima")),
                ("Phone", None),
                ("AccountId", Some("001000000000001AAA")),
                ("Zz_Secret__c", Some("x")),
            ],
        );
        let mapped = contact.apply(&rec).expect("maps");
        assert_eq!(mapped.key, "003000000000001AAA");
        assert_eq!(
            Value::Object(mapped.fields),
            serde_json::json!({"email":"ana@example.com","name":"Ana Lima","phone":null})
        );
        assert_eq!(
            mapped.links.get("organization").map(String::as_str),
            Some("001000000000001AAA")
        );
    }

    #[test]
    fn templates_and_required() {
        let m = Mapping::bundled();
        let contact = m.object("Contact").expect("Contact");
        let only_last = record(
            "Contact",
            &[
                ("Id", Some("003000000000001AAA")),
                ("LastName", Some("Lima")),
            ],
        );
        assert_eq!(
            contact.apply(&only_last).expect("maps").fields.get("name"),
            Some(&Value::String("Lima".into()))
        );
        let no_name = record(
            "Contact",
            &[("Id", Some("003000000000001AAA")), ("FirstName", None)],
        );
        let err = contact.apply(&no_name).expect_err("name is required");
        assert!(err.to_string().contains("FirstName, LastName"), "{err}");
    }

    #[test]
    fn nested_destination_fields() {
        let m = Mapping::bundled();
        let account = m.object("Account").expect("Account");
        let rec = record(
            "Account",
            &[
                ("Id", Some("001000000000001AAA")),
                ("Name", Some("Acme")),
                ("Website", Some("acme.com")),
            ],
        );
        let mapped = account.apply(&rec).expect("maps");
        assert_eq!(mapped.fields["organization_fields"]["website"], "acme.com");
    }

    #[test]
    fn fingerprint_covers_mapped_fields_only() {
        let m = Mapping::bundled();
        let contact = m.object("Contact").expect("Contact");
        let base = [
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("a@b.c")),
            ("Phone", None),
        ];
        let a = contact.fingerprint(&record("Contact", &base));
        let mut reordered = base;
        reordered.reverse();
        assert_eq!(
            a,
            contact.fingerprint(&record("Contact", &reordered)),
            "order"
        );
        let mut unmapped = base.to_vec();
        unmapped.push(("Zz_Note__c", Some("changed")));
        assert_eq!(
            a,
            contact.fingerprint(&record("Contact", &unmapped)),
            "unmapped field"
        );
        let absent_phone = [("Id", Some("003000000000001AAA")), ("Email", Some("a@b.c"))];
        assert_ne!(
            a,
            contact.fingerprint(&record("Contact", &absent_phone)),
            "null vs absent"
        );
        let empty_phone = [
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("a@b.c")),
            ("Phone", Some("")),
        ];
        assert_ne!(
            a,
            contact.fingerprint(&record("Contact", &empty_phone)),
            "null vs empty"
        );
        let other_email = [
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("x@b.c")),
            ("Phone", None),
        ];
        assert_ne!(
            a,
            contact.fingerprint(&record("Contact", &other_email)),
            "mapped change"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
            [objects.Contact]
            triggers = ["created", "deleted"]
            [objects.Contact.fields]
            email = { from = "Email", transforms = ["lowercase"] }
            name = { template = "Hello" }
            phone = { }
            [objects.Lead]
            entity = "user"
            [objects.Lead.fields]
            name = { from = "Name", template = "{Name}" }
        "#;
        let err = Mapping::from_toml(text).expect_err("invalid");
        let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "objects.Contact.entity",
                "objects.Contact.triggers",
                "objects.Contact.fields.email",
                "objects.Contact.fields.name.template",
                "objects.Contact.fields.phone",
                "objects.Lead.fields.name",
            ]
        );
        assert!(Mapping::from_toml("objects = 3").is_err());
    }
}
