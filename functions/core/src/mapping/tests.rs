//! Table-driven tests of the mapping: every transform, every validation
//! problem, fingerprint stability.

use serde_json::{json, Value};

use super::*;
use crate::settings::DestinationKind;
use crate::sobject::SObject;

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

/// A one-object mapping with one rule for `out`.
fn one_rule(rule: &str) -> Result<Mapping, MappingError> {
    Mapping::from_toml(&format!(
        "[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nout = {rule}\n"
    ))
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
    assert!(load::check_for_destination(&m, DestinationKind::Zendesk).is_empty());
}

#[test]
fn every_rule_feature() {
    let rec = record(
        "Contact",
        &[
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("  Ana@Example.COM ")),
            ("FirstName", Some("Ana")),
            ("LastName", Some("Lima")),
            ("Phone", None),
            ("Rating", Some("Hot")),
            ("Odd", Some("Lukewarm")),
            ("Optin__c", Some("true")),
            ("Seats__c", Some("12.0")),
            ("Budget__c", Some("1200.50")),
            ("Birthdate", Some("1990-04-01")),
            ("LastModifiedDate", Some("2026-11-20T10:15:00.000Z")),
            ("Tags__c", Some("a;b;c")),
            ("Empty", Some("")),
        ],
    );
    let cases: &[(&str, Value)] = &[
        (r#"{ from = "Email" }"#, json!("  Ana@Example.COM ")),
        (r#""Email""#, json!("  Ana@Example.COM ")),
        (
            r#"{ from = "Email", transforms = ["trim"] }"#,
            json!("Ana@Example.COM"),
        ),
        (
            r#"{ from = "Email", transforms = ["trim", "lower"] }"#,
            json!("ana@example.com"),
        ),
        (
            r#"{ from = "Email", transforms = ["upper", "trim"] }"#,
            json!("ANA@EXAMPLE.COM"),
        ),
        (
            r#"{ template = "{FirstName} {LastName}" }"#,
            json!("Ana Lima"),
        ),
        (
            r#"{ template = "{LastName}, {FirstName} <{Email}>", transforms = ["trim"] }"#,
            json!("Lima, Ana <Ana@Example.COM>"),
        ),
        (r#"{ template = "{Phone} {LastName}" }"#, json!("Lima")),
        (r#"{ template = "{Phone} {Missing}" }"#, Value::Null),
        (
            r#"{ from = "Rating", map = { Hot = "high", Cold = "low" } }"#,
            json!("high"),
        ),
        (
            r#"{ from = "Odd", map = { Hot = "high" }, fallback = "normal" }"#,
            json!("normal"),
        ),
        (
            r#"{ from = "Odd", map = { Hot = "high" } }"#,
            json!("Lukewarm"),
        ),
        (r#"{ from = "Phone", default = "n/a" }"#, json!("n/a")),
        (r#"{ from = "Missing", default = "n/a" }"#, json!("n/a")),
        (r#"{ from = "Empty", default = "n/a" }"#, json!("n/a")),
        (r#"{ from = "Phone" }"#, Value::Null),
        (r#"{ from = "Optin__c", type = "boolean" }"#, json!(true)),
        (r#"{ from = "Seats__c", type = "integer" }"#, json!(12)),
        (r#"{ from = "Budget__c", type = "decimal" }"#, json!(1200.5)),
        (
            r#"{ from = "Birthdate", type = "date" }"#,
            json!("1990-04-01"),
        ),
        (
            r#"{ from = "LastModifiedDate", type = "date-time" }"#,
            json!("2026-11-20T10:15:00Z"),
        ),
        (
            r#"{ from = "Tags__c", type = "list" }"#,
            json!(["a", "b", "c"]),
        ),
        (
            r#"{ from = "Rating", map = { Hot = "true" }, fallback = "false", type = "boolean" }"#,
            json!(true),
        ),
        (
            r#"{ from = "Missing", default = "3", type = "integer" }"#,
            json!(3),
        ),
    ];
    for (rule, want) in cases {
        let m = one_rule(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        let mapped = m
            .object("Contact")
            .expect("Contact")
            .apply(&rec)
            .unwrap_or_else(|e| panic!("{rule}: {e}"));
        assert_eq!(mapped.fields.get("out"), Some(want), "{rule}");
    }
}

#[test]
fn records_that_cannot_be_mapped_say_why() {
    let rec = record(
        "Contact",
        &[
            ("Id", Some("003000000000001AAA")),
            ("Seats__c", Some("many")),
            ("Phone", None),
        ],
    );
    let cases = [
        (
            r#"{ from = "Phone", required = true }"#,
            "required, but source field Phone is empty",
        ),
        (
            r#"{ template = "{FirstName} {LastName}", required = true }"#,
            "every field of the template (FirstName, LastName)",
        ),
        (
            r#"{ from = "Seats__c", type = "integer" }"#,
            "\"many\" is not a whole number",
        ),
    ];
    for (rule, says) in cases {
        let m = one_rule(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        let err = m
            .object("Contact")
            .expect("Contact")
            .apply(&rec)
            .expect_err(rule);
        assert_eq!(err.field, "out");
        assert!(err.to_string().contains(says), "{rule}: {err}");
    }
    let no_key = Mapping::from_toml("[objects.Contact]\nentity = \"user\"\nkey = \"Ext__c\"\n[objects.Contact.fields]\nout = \"Phone\"\n").expect("valid");
    let err = no_key
        .object("Contact")
        .expect("Contact")
        .apply(&rec)
        .expect_err("no key");
    assert_eq!(err.field, "Ext__c");
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
fn every_validation_problem_has_a_path_and_a_hint() {
    let cases: &[(&str, &str, &str)] = &[
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = { from = \"Email\", transforms = [\"lowercase\"] }", "objects.Contact.fields.email", "unknown transform \"lowercase\" (did you mean \"lower\"?)"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = { from = \"Email\", type = \"bool\" }", "objects.Contact.fields.email", "unknown type \"bool\" (did you mean \"boolean\"?)"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nemail = { from = \"Email\" }\nEMAIL = { from = \"Email\" }", "objects.Contact.fields.email", "destination field mapped twice"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nuser_fields = { from = \"A\" }\n\"user_fields.b\" = { from = \"B\" }", "objects.Contact.fields.user_fields.b", "destination field mapped twice"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nok = { from = \"Ok__c\", type = \"boolean\", default = \"maybe\" }", "objects.Contact.fields.ok", "can never convert to type boolean"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nn = { from = \"Rating\", type = \"integer\", map = { Hot = \"high\" } }", "objects.Contact.fields.n", "map value for \"Hot\""),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nn = { template = \"#{Num__c}\", type = \"integer\" }", "objects.Contact.fields.n", "template with text around its fields can never convert"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nname = { template = \"Hello\" }", "objects.Contact.fields.name", "names no field"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nname = { template = \"{First Name}\" }", "objects.Contact.fields.name", "not a Salesforce field API name"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nname = { template = \"{FirstName\" }", "objects.Contact.fields.name", "without a closing"),
        ("[objects.Contact]\nentity = \"user\"\nkey = \"\"\n[objects.Contact.fields]\nx = \"X\"", "objects.Contact.key", "needs a unique key"),
        ("[objects.Contact]\n[objects.Contact.fields]\nx = \"X\"", "objects.Contact.entity", "missing"),
        ("[objects.Contact]\nentity = \"user\"", "objects.Contact.fields", "maps no field"),
        ("[objects.Contact]\nentity = \"user\"\ntriggers = [\"create\"]\n[objects.Contact.fields]\nx = \"X\"", "objects.Contact.triggers", "(did you mean \"created\"?)"),
        ("[objects.Contact]\nentity = \"user\"\nentitty = \"x\"\n[objects.Contact.fields]\nx = \"X\"", "objects.Contact.entitty", "(did you mean \"entity\"?)"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nx = { form = \"X\" }", "objects.Contact.fields.x", "unknown key \"form\" (did you mean \"from\"?)"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nx = { }", "objects.Contact.fields.x", "has no source"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nx = { from = \"X\", template = \"{X}\" }", "objects.Contact.fields.x", "both from and template"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nx = { from = \"X\", fallback = \"y\" }", "objects.Contact.fields.x", "fallback is only used with map"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\n\"bad name\" = \"X\"", "objects.Contact.fields.bad name", "letters, digits and _"),
        ("[objects.\"Not An Object\"]\nentity = \"user\"", "objects.Not An Object", "not a Salesforce object API name"),
        ("[objcts.Contact]\nentity = \"user\"", "objcts", "(did you mean \"objects\"?)"),
        ("[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nx = \"X\"\nx = \"Y\"", "line 5", "not valid TOML"),
    ];
    for (text, path, says) in cases {
        let err = Mapping::from_toml(text).expect_err(text);
        let found = err.0.iter().find(|p| p.path == *path);
        let problem =
            found.unwrap_or_else(|| panic!("no problem at {path} for:\n{text}\ngot {:?}", err.0));
        assert!(
            problem.message.contains(says),
            "{path}: {:?} does not say {says:?}",
            problem.message
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
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
            "objects.Contact.fields.name",
            "objects.Contact.fields.phone",
            "objects.Lead.fields.name",
        ]
    );
}

#[test]
fn destination_specific_checks() {
    let m = Mapping::from_toml("[objects.Event_Registration__c]\nentity = \"registrations\"\nlinks = { organization = \"Account__c\" }\n[objects.Event_Registration__c.fields]\nx = \"X\"").expect("valid");
    let zendesk = load::check_for_destination(&m, DestinationKind::Zendesk);
    assert_eq!(zendesk.len(), 2, "{zendesk:?}");
    // Any entity name and link work for a JSON API.
    assert!(load::check_for_destination(&m, DestinationKind::Webhook).is_empty());
}

#[test]
fn fingerprint_is_over_mapped_fields_only() {
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
    type Fields<'a> = Vec<(&'a str, Option<&'a str>)>;
    let cases: Vec<(&str, Fields, bool)> = vec![
        ("same fields, other order", reordered.to_vec(), true),
        (
            "an unmapped field added",
            [&base[..], &[("Zz_Note__c", Some("x"))]].concat(),
            true,
        ),
        (
            "a stamp changed",
            [
                &base[..],
                &[("LastModifiedDate", Some("2026-11-21T00:00:00.000Z"))],
            ]
            .concat(),
            true,
        ),
        ("null became absent", vec![base[0], base[1]], false),
        (
            "null became empty",
            vec![base[0], base[1], ("Phone", Some(""))],
            false,
        ),
        (
            "a mapped value changed",
            vec![base[0], ("Email", Some("x@b.c")), base[2]],
            false,
        ),
        (
            "a template field changed",
            [&base[..], &[("FirstName", Some("Ana"))]].concat(),
            false,
        ),
        (
            "a link changed",
            [&base[..], &[("AccountId", Some("001000000000001AAA"))]].concat(),
            false,
        ),
    ];
    for (name, fields, same) in cases {
        assert_eq!(
            a == contact.fingerprint(&record("Contact", &fields)),
            same,
            "{name}"
        );
    }
    // A mapping that reads one more field fingerprints differently.
    let wider = Mapping::from_toml("[objects.Contact]\nentity = \"user\"\nlinks = { organization = \"AccountId\" }\n[objects.Contact.fields]\nemail = \"Email\"\nname = { template = \"{FirstName} {LastName}\" }\nphone = \"Phone\"\ntitle = \"Title\"").expect("valid");
    assert_ne!(
        a,
        wider
            .object("Contact")
            .expect("Contact")
            .fingerprint(&record("Contact", &base))
    );
}

#[test]
fn the_readme_example_mapping_is_valid() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("## Field mapping")
        .nth(1)
        .expect("README has a Field mapping section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml example");
    let m = Mapping::from_toml(example).unwrap_or_else(|e| panic!("README example: {e}"));
    assert_eq!(m.objects.len(), 3);
    assert!(load::check_for_destination(&m, DestinationKind::Webhook).is_empty());
}

/// interfaces.md, "Absent, null and empty": a field the message does not
/// carry is not sent (it never clears a destination field); `xsi:nil` is
/// sent as null.
#[test]
fn absent_fields_are_not_sent_and_null_is() {
    let m = Mapping::bundled();
    let contact = m.object("Contact").expect("Contact");
    let without_phone = record(
        "Contact",
        &[
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("ana@example.com")),
            ("FirstName", Some("Ana")),
            ("LastName", Some("Lima")),
        ],
    );
    let mapped = contact.apply(&without_phone).expect("maps");
    assert!(!mapped.fields.contains_key("phone"), "{:?}", mapped.fields);
    assert_eq!(mapped.fields["email"], "ana@example.com");

    let nil_phone = record(
        "Contact",
        &[
            ("Id", Some("003000000000001AAA")),
            ("Email", Some("ana@example.com")),
            ("FirstName", Some("Ana")),
            ("LastName", Some("Lima")),
            ("Phone", None),
        ],
    );
    let mapped = contact.apply(&nil_phone).expect("maps");
    assert_eq!(mapped.fields.get("phone"), Some(&Value::Null));

    // A required rule whose source is absent is still an error, and a
    // default still applies.
    let m = Mapping::from_toml(
        "[objects.Contact]\nentity = \"user\"\n[objects.Contact.fields]\nname = { from = \"LastName\", required = true }\ncity = { from = \"MailingCity\", default = \"unknown\" }\n",
    )
    .expect("valid");
    let o = m.object("Contact").expect("Contact");
    let only_id = record(
        "Contact",
        &[("Id", Some("003000000000001AAA")), ("Email", Some("x@y.z"))],
    );
    assert!(o
        .apply(&only_id)
        .expect_err("required")
        .message
        .contains("not sent"));
    let with_name = record(
        "Contact",
        &[
            ("Id", Some("003000000000001AAA")),
            ("LastName", Some("Lima")),
        ],
    );
    assert_eq!(o.apply(&with_name).expect("maps").fields["city"], "unknown");
}

/// The bundled mapping as Rust code (`bundled.rs`): what
/// [`bundled_is_the_config_file_as_code`] compares with the generated file.
fn rust_source(m: &Mapping) -> String {
    fn s(v: &str) -> String {
        format!("{v:?}.to_string()")
    }
    fn map(m: &BTreeMap<String, String>) -> String {
        if m.is_empty() {
            return "BTreeMap::new()".into();
        }
        let pairs: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("({}, {})", s(k), s(v)))
            .collect();
        format!("BTreeMap::from([{}])", pairs.join(", "))
    }
    fn opt(v: &Option<String>) -> String {
        v.as_ref()
            .map_or("None".into(), |v| format!("Some({})", s(v)))
    }
    fn source(src: &Source) -> String {
        match src {
            Source::Field(f) => format!("Source::Field({})", s(f)),
            Source::Template(pieces) => {
                let p: Vec<String> = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => format!("Piece::Text({})", s(t)),
                        Piece::Field(f) => format!("Piece::Field({})", s(f)),
                    })
                    .collect();
                format!("Source::Template(vec![{}])", p.join(", "))
            }
        }
    }
    let mut out = String::from(
        "//! The bundled mapping (`config/mapping.toml`) as code, so that no request\n//! parses it. Generated: do not edit. After changing the file, run\n//! `SFSYNC_BLESS=1 cargo test -p sync-core bundled_is_the_config_file_as_code`\n//! (until then that test fails: the components would carry the older mapping).\n\nuse std::collections::{BTreeMap, BTreeSet};\n\nuse super::*;\nuse crate::record::Process;\n\n",
    );
    out.push_str("pub fn mapping() -> Mapping {\n    let mut objects = BTreeMap::new();\n");
    for (name, o) in &m.objects {
        let triggers: Vec<String> = o
            .triggers
            .iter()
            .map(|t| format!("Process::{t:?}"))
            .collect();
        let mut fields = String::new();
        for (dest, r) in &o.fields {
            let transforms: Vec<String> = r
                .transforms
                .iter()
                .map(|t| format!("Transform::{t:?}"))
                .collect();
            fields.push_str(&format!(
                "    fields.insert({}, FieldRule {{ source: {}, transforms: vec![{}], map: {}, fallback: {}, default: {}, required: {}, value_type: ValueType::{:?} }});\n",
                s(dest),
                source(&r.source),
                transforms.join(", "),
                map(&r.map),
                opt(&r.fallback),
                opt(&r.default),
                r.required,
                r.value_type
            ));
        }
        out.push_str(&format!(
            "    let mut fields = BTreeMap::new();\n{fields}    objects.insert({}, ObjectMapping {{ object: {}, entity: {}, key: {}, triggers: BTreeSet::from([{}]), links: {}, fields }});\n",
            s(name),
            s(&o.object),
            s(&o.entity),
            s(&o.key),
            triggers.join(", "),
            map(&o.links)
        ));
    }
    out.push_str("    Mapping { objects }\n}\n");
    out
}

/// `bundled.rs` is `config/mapping.toml` as code: parsed, checked, and
/// written out. `SFSYNC_BLESS=1` rewrites it.
#[test]
fn bundled_is_the_config_file_as_code() {
    let parsed = Mapping::from_toml(DEFAULT_MAPPING_TOML).expect("bundled mapping is valid");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/mapping/bundled.rs");
    let source = rust_source(&parsed);
    if std::env::var_os("SFSYNC_BLESS").is_some() {
        std::fs::write(path, &source).expect("writing bundled.rs");
        return;
    }
    assert_eq!(
        Mapping::bundled(),
        parsed,
        "bundled.rs builds what the file says"
    );
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == source,
        "src/mapping/bundled.rs is older than config/mapping.toml: run SFSYNC_BLESS=1 cargo test -p sync-core bundled_is_the_config_file_as_code"
    );
}

/// The compiled form a put mapping is stored in reads back as the same
/// mapping: what a sync applies is what the admin checked.
#[test]
fn a_compiled_mapping_reads_back_unchanged() {
    let text = "[objects.Lead]\nentity = \"user\"\n[objects.Lead.fields]\nemail = { from = \"Email\", transforms = [\"trim\", \"lower\"] }\nname = { template = \"{FirstName} {LastName}\", required = true }\n\"user_fields.score\" = { from = \"Score__c\", type = \"integer\", map = { A = \"1\" }, fallback = \"0\", default = \"2\" }\n";
    for m in [Mapping::bundled(), Mapping::from_toml(text).expect("valid")] {
        let json = serde_json::to_vec(&m).expect("encodes");
        let back: Mapping = serde_json::from_slice(&json).expect("decodes");
        assert_eq!(back, m);
    }
}

/// A mapping stored by a version that kept only the TOML is not parsed by
/// the syncs (they do not carry the parser): they refuse with the fix.
#[test]
fn a_mapping_stored_without_its_compiled_form_says_to_put_it_again() {
    let kv = crate::memory::MemoryKv::default();
    let legacy = serde_json::json!({
        "toml": DEFAULT_MAPPING_TOML,
        "updated_at": "2026-11-01T00:00:00Z",
        "updated_by": "admin",
    });
    futures::executor::block_on(crate::io::Kv::set(
        &kv,
        crate::store::MAPPING_KEY,
        legacy.to_string().as_bytes(),
    ))
    .expect("set");
    let err = futures::executor::block_on(crate::store::active_mapping(&kv)).expect_err("refused");
    assert!(err.0.contains("sfsync mapping put"), "{err}");
}
