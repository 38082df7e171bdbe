//! Reading a mapping and checking it before it can hurt.
//!
//! The TOML is walked by hand rather than deserialised, so that one pass
//! reports every problem at once — unknown keys with a "did you mean",
//! rules with no source or two, unknown transforms and types, templates that
//! name no field, destination fields mapped twice, conversions that cannot
//! succeed, objects with no key — each with the path an admin can find in
//! the file.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::suggest::hint;
use super::{
    FieldRule, Mapping, ObjectMapping, Piece, Source, Transform, ValueType, ZendeskEntity,
};
use crate::record::Process;
use crate::settings::DestinationKind;

/// One problem in a mapping, with where it is.
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

/// A mapping that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct MappingError(pub Vec<Problem>);

const OBJECT_KEYS: &[&str] = &["entity", "key", "triggers", "links", "fields"];
const RULE_KEYS: &[&str] = &[
    "from",
    "template",
    "transforms",
    "map",
    "fallback",
    "default",
    "required",
    "type",
];

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

pub use crate::sobject::is_api_name;

/// Read and check a mapping.
pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            })
            .unwrap_or_else(|| "(file)".into());
        MappingError(vec![Problem {
            path: at,
            message: format!("not valid TOML: {}", e.message()),
        }])
    })?;
    let mut p = Problems::default();
    for key in root.keys().filter(|k| *k != "objects") {
        p.add(
            key.as_str(),
            format!(
                "unknown key{}; a mapping has only [objects.<Object>] tables",
                hint(key, &["objects"])
            ),
        );
    }
    let mut objects = BTreeMap::new();
    match root.get("objects") {
        None => {}
        Some(Value::Table(t)) => {
            for (name, value) in t {
                let path = format!("objects.{name}");
                if !is_api_name(name) {
                    p.add(
                        &path,
                        "is not a Salesforce object API name (e.g. Contact, Event_Registration__c)",
                    );
                    continue;
                }
                match value {
                    Value::Table(ot) => {
                        if let Some(o) = object(name, &path, ot, &mut p) {
                            objects.insert(name.clone(), o);
                        }
                    }
                    _ => p.add(&path, "must be a table: [objects.<Object>]"),
                }
            }
        }
        Some(_) => p.add("objects", "must be a table of objects: [objects.<Object>]"),
    }
    if p.0.is_empty() {
        Ok(Mapping { objects })
    } else {
        Err(MappingError(p.0))
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn object(name: &str, path: &str, t: &Table, p: &mut Problems) -> Option<ObjectMapping> {
    let before = p.0.len();
    for key in t.keys().filter(|k| !OBJECT_KEYS.contains(&k.as_str())) {
        p.add(
            format!("{path}.{key}"),
            format!(
                "unknown key{}; an object has {}",
                hint(key, OBJECT_KEYS),
                OBJECT_KEYS.join(", ")
            ),
        );
    }
    let entity = match t.get("entity") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None => {
            p.add(format!("{path}.entity"), "missing: name the destination entity (organization or user for Zendesk, a table name for the webhook)");
            String::new()
        }
        Some(_) => {
            p.add(format!("{path}.entity"), "must be a string");
            String::new()
        }
    };
    let key = match t.get("key") {
        None => "Id".to_string(),
        Some(Value::String(s)) if is_api_name(s.trim()) => s.trim().to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => {
            p.add(format!("{path}.key"), "empty: every object needs a unique key field to upsert by; use \"Id\" (the default) or an external id field");
            String::new()
        }
        Some(_) => {
            p.add(
                format!("{path}.key"),
                "must be a Salesforce field API name, e.g. \"Id\"",
            );
            String::new()
        }
    };
    let mut triggers = BTreeSet::new();
    match t.get("triggers") {
        None => {
            triggers.insert(Process::Created);
            triggers.insert(Process::Updated);
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some("created") => {
                        triggers.insert(Process::Created);
                    }
                    Some("updated") => {
                        triggers.insert(Process::Updated);
                    }
                    other => p.add(
                        format!("{path}.triggers"),
                        format!(
                            "unknown trigger {}{}; use \"created\" and/or \"updated\"",
                            other
                                .map(|o| format!("\"{o}\""))
                                .unwrap_or_else(|| shown(item)),
                            hint(other.unwrap_or_default(), &["created", "updated"])
                        ),
                    ),
                }
            }
        }
        Some(_) => p.add(
            format!("{path}.triggers"),
            "must be a list, e.g. [\"created\", \"updated\"]",
        ),
    }
    let mut links = BTreeMap::new();
    match t.get("links") {
        None => {}
        Some(Value::Table(lt)) => {
            for (role, v) in lt {
                match v.as_str() {
                    Some(f) if is_api_name(f) => {
                        links.insert(role.clone(), f.to_string());
                    }
                    _ => p.add(
                        format!("{path}.links.{role}"),
                        "must name a Salesforce field, e.g. \"AccountId\"",
                    ),
                }
            }
        }
        Some(_) => p.add(
            format!("{path}.links"),
            "must be a table, e.g. { organization = \"AccountId\" }",
        ),
    }
    let mut fields = BTreeMap::new();
    match t.get("fields") {
        Some(Value::Table(ft)) if !ft.is_empty() => {
            let mut seen: BTreeMap<String, String> = BTreeMap::new();
            for (dest, v) in ft {
                let fpath = format!("{path}.fields.{dest}");
                check_destination_name(dest, &fpath, &mut seen, p);
                match v {
                    Value::Table(rt) => {
                        if let Some(rule) = rule(&fpath, rt, p) {
                            fields.insert(dest.clone(), rule);
                        }
                    }
                    Value::String(f) if is_api_name(f) => {
                        // Shorthand: `email = "Email"` copies a field.
                        fields.insert(dest.clone(), FieldRule::copy(f));
                    }
                    _ => p.add(
                        &fpath,
                        "must be a rule table, e.g. { from = \"Email\" }, or a field name",
                    ),
                }
            }
        }
        Some(Value::Table(_)) | None => p.add(
            format!("{path}.fields"),
            "maps no field: add [objects.<Object>.fields] with at least one rule",
        ),
        Some(_) => p.add(
            format!("{path}.fields"),
            "must be a table of destination fields",
        ),
    }
    if p.0.len() > before {
        return None;
    }
    Some(ObjectMapping {
        object: name.to_string(),
        entity,
        key,
        triggers,
        links,
        fields,
    })
}

/// Destination names: dotted segments of letters, digits and `_`; each
/// mapped once (case-insensitively), and never both `x` and `x.y`.
fn check_destination_name(
    dest: &str,
    path: &str,
    seen: &mut BTreeMap<String, String>,
    p: &mut Problems,
) {
    let valid = !dest.is_empty()
        && dest
            .split('.')
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !valid {
        p.add(path, "destination field names are letters, digits and _, with . for nesting (e.g. user_fields.company)");
        return;
    }
    let lower = dest.to_ascii_lowercase();
    for (other_lower, other) in seen.iter() {
        if *other_lower == lower {
            p.add(
                path,
                format!("destination field mapped twice (also as \"{other}\"); keep one rule"),
            );
        } else if lower.starts_with(&format!("{other_lower}."))
            || other_lower.starts_with(&format!("{lower}."))
        {
            p.add(path, format!("destination field mapped twice: \"{dest}\" and \"{other}\" overlap; map either the object or its fields"));
        }
    }
    seen.insert(lower, dest.to_string());
}

impl FieldRule {
    /// A plain copy of one field.
    pub fn copy(field: &str) -> FieldRule {
        FieldRule {
            source: Source::Field(field.to_string()),
            transforms: Vec::new(),
            map: BTreeMap::new(),
            fallback: None,
            default: None,
            required: false,
            value_type: ValueType::String,
        }
    }
}

fn rule(path: &str, t: &Table, p: &mut Problems) -> Option<FieldRule> {
    let before = p.0.len();
    for key in t.keys().filter(|k| !RULE_KEYS.contains(&k.as_str())) {
        p.add(
            path,
            format!(
                "unknown key \"{key}\"{}; a rule has {}",
                hint(key, RULE_KEYS),
                RULE_KEYS.join(", ")
            ),
        );
    }
    let source = match (t.get("from"), t.get("template")) {
        (Some(Value::String(f)), None) if is_api_name(f) => Some(Source::Field(f.clone())),
        (Some(_), None) => {
            p.add(
                path,
                "from must be a Salesforce field API name, e.g. \"Email\"",
            );
            None
        }
        (None, Some(Value::String(tpl))) => match parse_template(tpl) {
            Ok(pieces) => Some(Source::Template(pieces)),
            Err(msg) => {
                p.add(path, msg);
                None
            }
        },
        (None, Some(_)) => {
            p.add(
                path,
                "template must be a string, e.g. \"{FirstName} {LastName}\"",
            );
            None
        }
        (Some(_), Some(_)) => {
            p.add(path, "has both from and template; keep one");
            None
        }
        (None, None) => {
            p.add(
                path,
                "has no source: add from = \"Field\" or template = \"{Field} …\"",
            );
            None
        }
    };
    let mut transforms = Vec::new();
    match t.get("transforms") {
        None => {}
        Some(Value::Array(items)) => {
            let names: Vec<&str> = Transform::ALL.iter().map(|(n, _)| *n).collect();
            for item in items {
                let name = item.as_str().unwrap_or_default();
                match Transform::ALL.iter().find(|(n, _)| *n == name) {
                    Some((_, tr)) => transforms.push(*tr),
                    None => p.add(
                        path,
                        format!(
                            "unknown transform \"{}\"{}; known transforms: {}",
                            item.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| shown(item)),
                            hint(name, &names),
                            names.join(", ")
                        ),
                    ),
                }
            }
        }
        Some(_) => p.add(
            path,
            "transforms must be a list, e.g. [\"trim\", \"lower\"]",
        ),
    }
    let value_type = match t.get("type") {
        None => ValueType::String,
        Some(v) => {
            let name = v.as_str().unwrap_or_default();
            ValueType::parse(name).unwrap_or_else(|| {
                let names: Vec<&str> = ValueType::NAMES.iter().map(|(n, _)| *n).collect();
                p.add(
                    path,
                    format!(
                        "unknown type \"{name}\"{}; known types: {}",
                        hint(name, &names),
                        names.join(", ")
                    ),
                );
                ValueType::String
            })
        }
    };
    let scalar = |key: &str, p: &mut Problems| -> Option<String> {
        let v = t.get(key)?;
        let s = string(v);
        if s.is_none() {
            p.add(path, format!("{key} must be a single value"));
        }
        s
    };
    let default = scalar("default", p);
    let fallback = scalar("fallback", p);
    let mut map = BTreeMap::new();
    match t.get("map") {
        None => {}
        Some(Value::Table(mt)) => {
            for (from, to) in mt {
                match string(to) {
                    Some(to) => {
                        map.insert(from.clone(), to);
                    }
                    None => p.add(
                        path,
                        format!("map value for \"{from}\" must be a single value"),
                    ),
                }
            }
        }
        Some(_) => p.add(
            path,
            "map must be a table, e.g. { Hot = \"high\", Cold = \"low\" }",
        ),
    }
    if fallback.is_some() && map.is_empty() {
        p.add(
            path,
            "fallback is only used with map; add map = { … } or remove fallback",
        );
    }
    let required = match t.get("required") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => {
            p.add(path, "required must be true or false");
            false
        }
    };
    // Conversions that cannot succeed, found now rather than on a record.
    let tname = value_type.name();
    let check = |what: String, value: &str, p: &mut Problems| {
        if let Err(e) = value_type.convert(value) {
            p.add(
                path,
                format!("{what} {e}, so it can never convert to type {tname}"),
            );
        }
    };
    if let Some(d) = &default {
        check("default".into(), d, p);
    }
    if let Some(f) = &fallback {
        check("fallback".into(), f, p);
    }
    for (from, to) in &map {
        check(format!("map value for \"{from}\":"), to, p);
    }
    if let Some(Source::Template(pieces)) = &source {
        let has_text = pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Text(t) if !t.trim().is_empty()));
        if has_text && !value_type.accepts_template_text() && map.is_empty() {
            p.add(path, format!("a template with text around its fields can never convert to type {tname}; use from = \"Field\", or type = \"string\""));
        }
    }
    if p.0.len() > before {
        return None;
    }
    Some(FieldRule {
        source: source?,
        transforms,
        map,
        fallback,
        default,
        required,
        value_type,
    })
}

/// Split `"{FirstName} {LastName}"` into pieces.
pub fn parse_template(t: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("template \"{t}\" has a {{ without a closing }}"))?;
        let name = after[..close].trim();
        if !is_api_name(name) {
            return Err(format!(
                "template \"{t}\": {{{name}}} is not a Salesforce field API name"
            ));
        }
        pieces.push(Piece::Field(name.to_string()));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("template \"{t}\" has a }} without an opening {{"));
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(format!(
            "template \"{t}\" names no field; write fields as {{FieldName}}"
        ));
    }
    Ok(pieces)
}

/// Problems a mapping has with a given destination: Zendesk knows only
/// organizations and users, and links an organization to users; a webhook
/// table name goes into a URL.
pub fn check_for_destination(mapping: &Mapping, destination: DestinationKind) -> Vec<Problem> {
    mapping
        .objects
        .values()
        .flat_map(|o| check_object_for_destination(o, destination))
        .collect()
}

/// [`check_for_destination`] for one object.
pub fn check_object_for_destination(
    o: &ObjectMapping,
    destination: DestinationKind,
) -> Vec<Problem> {
    let mut p = Problems::default();
    {
        let name = &o.object;
        let path = format!("objects.{name}");
        match destination {
            DestinationKind::Zendesk => {
                let entity = ZendeskEntity::parse(&o.entity);
                if entity.is_none() {
                    p.add(
                        format!("{path}.entity"),
                        format!(
                            "\"{}\" is not a Zendesk entity{}; use \"organization\" or \"user\"",
                            o.entity,
                            hint(&o.entity, &ZendeskEntity::NAMES)
                        ),
                    );
                }
                for role in o.links.keys() {
                    if role != ZendeskEntity::ORGANIZATION_LINK
                        || entity != Some(ZendeskEntity::User)
                    {
                        p.add(format!("{path}.links.{role}"), "Zendesk links only users to an organization: links = { organization = \"AccountId\" } on a user object");
                    }
                }
            }
            DestinationKind::Webhook => {
                if !o
                    .entity
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    p.add(
                        format!("{path}.entity"),
                        "a webhook table name is letters, digits, _ and - (it goes into the URL)",
                    );
                }
            }
            DestinationKind::DryRun => {}
        }
    }
    p.0
}

/// A TOML value in a problem's message (the `display` half of the toml crate
/// is not built into the components).
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(_) => "(an array)".to_string(),
        Value::Table(_) => "(a table)".to_string(),
    }
}
