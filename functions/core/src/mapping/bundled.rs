//! The bundled mapping (`config/mapping.toml`) as code, so that no request
//! parses it. Generated: do not edit. After changing the file, run
//! `SFSYNC_BLESS=1 cargo test -p sync-core bundled_is_the_config_file_as_code`
//! (until then that test fails: the components would carry the older mapping).

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::record::Process;

pub fn mapping() -> Mapping {
    let mut objects = BTreeMap::new();
    let mut fields = BTreeMap::new();
    fields.insert("details".to_string(), FieldRule { source: Source::Field("Description".to_string()), transforms: vec![], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    fields.insert("name".to_string(), FieldRule { source: Source::Field("Name".to_string()), transforms: vec![Transform::Trim], map: BTreeMap::new(), fallback: None, default: None, required: true, value_type: ValueType::String });
    fields.insert("organization_fields.website".to_string(), FieldRule { source: Source::Field("Website".to_string()), transforms: vec![Transform::Trim], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    objects.insert("Account".to_string(), ObjectMapping { object: "Account".to_string(), entity: "organization".to_string(), key: "Id".to_string(), triggers: BTreeSet::from([Process::Created, Process::Updated]), links: BTreeMap::new(), fields });
    let mut fields = BTreeMap::new();
    fields.insert("email".to_string(), FieldRule { source: Source::Field("Email".to_string()), transforms: vec![Transform::Trim, Transform::Lower], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    fields.insert("name".to_string(), FieldRule { source: Source::Template(vec![Piece::Field("FirstName".to_string()), Piece::Text(" ".to_string()), Piece::Field("LastName".to_string())]), transforms: vec![], map: BTreeMap::new(), fallback: None, default: None, required: true, value_type: ValueType::String });
    fields.insert("phone".to_string(), FieldRule { source: Source::Field("Phone".to_string()), transforms: vec![Transform::Trim], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    objects.insert("Contact".to_string(), ObjectMapping { object: "Contact".to_string(), entity: "user".to_string(), key: "Id".to_string(), triggers: BTreeSet::from([Process::Created, Process::Updated]), links: BTreeMap::from([("organization".to_string(), "AccountId".to_string())]), fields });
    let mut fields = BTreeMap::new();
    fields.insert("email".to_string(), FieldRule { source: Source::Field("Email".to_string()), transforms: vec![Transform::Trim, Transform::Lower], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    fields.insert("name".to_string(), FieldRule { source: Source::Template(vec![Piece::Field("FirstName".to_string()), Piece::Text(" ".to_string()), Piece::Field("LastName".to_string())]), transforms: vec![], map: BTreeMap::new(), fallback: None, default: None, required: true, value_type: ValueType::String });
    fields.insert("phone".to_string(), FieldRule { source: Source::Field("Phone".to_string()), transforms: vec![Transform::Trim], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    fields.insert("user_fields.company".to_string(), FieldRule { source: Source::Field("Company".to_string()), transforms: vec![Transform::Trim], map: BTreeMap::new(), fallback: None, default: None, required: false, value_type: ValueType::String });
    objects.insert("Lead".to_string(), ObjectMapping { object: "Lead".to_string(), entity: "user".to_string(), key: "Id".to_string(), triggers: BTreeSet::from([Process::Created, Process::Updated]), links: BTreeMap::new(), fields });
    Mapping { objects }
}
