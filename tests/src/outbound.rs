//! `allowed_outbound_hosts`, the way a chosen Spin version applies it.
//!
//! Spin checks the list twice (spin-host.md §4, §5, §9):
//!
//! - **At load** ([`check_at_load`]): literal entries are parsed on every
//!   version. From 3.4 on (spin#3224), a templated entry whose variables all
//!   have manifest defaults is resolved from those defaults and parsed too; an
//!   invalid result — `""` included — stops the app from loading. 4.1 skips an
//!   entry that resolves to `""`, `http://` or `https://` (spin#3551).
//! - **At request time** ([`AllowedHosts::resolve`]): every entry is resolved
//!   with the values in force and parsed. One entry that does not parse makes
//!   the *whole list* invalid, and every outbound request is denied. On 4.1 the
//!   empty forms are skipped first, on 3.x and 4.0 they are invalid.
//!
//! An entry is `scheme://host[:port]`; hosts compare literally (`localhost`
//! is not `127.0.0.1`) and a missing port is the scheme's default. `*` and
//! `*.domain` hosts, `*` and range ports are understood; CIDR ranges and
//! `self` are not (sfsync does not use them).

use std::collections::BTreeMap;
use std::fmt;

use crate::manifest::{expand, template_variables, VariableDecl};

/// Which Spin release's rules the test host applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinRules {
    /// Spin 3.0 – 3.3.x: templated entries unchecked at load; all-or-nothing
    /// at request time, `""` invalid.
    V3_3,
    /// Spin 3.4.0 – 4.0.2 (the latest release): templated entries with
    /// defaults checked at load, `""` invalid; all-or-nothing at request time.
    V4_0,
    /// Spin 4.1 (unreleased main): empty entries skipped at load and at
    /// request time.
    V4_1,
}

impl SpinRules {
    /// Every rule set, oldest first.
    pub const ALL: [SpinRules; 3] = [SpinRules::V3_3, SpinRules::V4_0, SpinRules::V4_1];

    /// `SFSYNC_SPIN_RULES` (`3.3`, `4.0` or `4.1`); 4.0, the strictest, when
    /// unset.
    pub fn from_env() -> SpinRules {
        match std::env::var("SFSYNC_SPIN_RULES") {
            Ok(v) if !v.trim().is_empty() => SpinRules::parse(&v).unwrap_or_else(|e| panic!("{e}")),
            _ => SpinRules::V4_0,
        }
    }

    pub fn parse(value: &str) -> Result<SpinRules, String> {
        match value.trim() {
            "3.3" | "3" | "3.0" | "3.1" | "3.2" => Ok(SpinRules::V3_3),
            "4.0" | "3.4" | "3.5" | "3.6" | "4" => Ok(SpinRules::V4_0),
            "4.1" => Ok(SpinRules::V4_1),
            other => Err(format!(
                "SFSYNC_SPIN_RULES={other:?}: use 3.3 (Spin 3.0-3.3), 4.0 (3.4-4.0.2) or 4.1"
            )),
        }
    }

    fn checks_templates_at_load(self) -> bool {
        !matches!(self, SpinRules::V3_3)
    }

    fn skips_empty(self) -> bool {
        matches!(self, SpinRules::V4_1)
    }
}

impl fmt::Display for SpinRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpinRules::V3_3 => "Spin 3.0-3.3 rules",
            SpinRules::V4_0 => "Spin 3.4-4.0.2 rules",
            SpinRules::V4_1 => "Spin 4.1 rules",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Port {
    Any,
    One(u16),
    /// `start..end`, end excluded.
    Range(u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `None` for `*`.
    scheme: Option<String>,
    /// `*`, `*.domain` (kept as `.domain`) or a literal.
    host: String,
    port: Port,
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

/// Parse one resolved entry as Spin's `AllowedHostConfig::parse` does.
pub fn parse_entry(original: &str) -> Result<Entry, String> {
    let url = original.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(match url {
            "*" | ":" | "" | "?" => format!(
                "{url:?} is not an allowed outbound host format. Hosts must be in the form <scheme>://<host>[:<port>]"
            ),
            _ => format!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"),
        });
    };
    let (host, rest) = rest.rsplit_once(':').unwrap_or((rest, ""));
    let port = match rest.split_once('/') {
        Some((_, path)) if !path.is_empty() => {
            return Err(format!("{url:?} has a path but is not allowed to"))
        }
        Some((port, _)) => port,
        None => rest,
    };
    let port = if port.is_empty() {
        Port::One(well_known_port(scheme).ok_or_else(|| {
            format!("Invalid allowed host port {port:?}: no port was provided and the scheme {scheme:?} does not have a known default port number")
        })?)
    } else if port == "*" {
        Port::Any
    } else if let Some((a, b)) = port.split_once("..") {
        match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) if a < b => Port::Range(a, b),
            _ => return Err(format!("Invalid allowed host port {port:?}")),
        }
    } else {
        Port::One(
            port.parse::<u16>()
                .map_err(|_| format!("Invalid allowed host port {port:?}"))?,
        )
    };
    let scheme = match scheme {
        "*" => None,
        s if !s.is_empty() && s.chars().all(char::is_alphabetic) => Some(s.to_string()),
        s => {
            return Err(format!(
                "Invalid allowed host scheme {s:?}: only alphabetic characters are allowed"
            ))
        }
    };
    let host = host.trim().trim_end_matches('/');
    if host.contains('/') {
        return Err(format!(
            "Invalid allowed host {host:?}: must not include a path"
        ));
    }
    let host = if host == "*" {
        "*".to_string()
    } else if let Some(domain) = host.strip_prefix("*.") {
        if domain.contains('*') {
            return Err(format!(
                "Invalid allowed host {host:?}: wildcards are allowed only as prefixes"
            ));
        }
        format!(".{}", domain.to_ascii_lowercase())
    } else if host.contains('*') {
        return Err(format!(
            "Invalid allowed host {host:?}: wildcards are allowed only as subdomains"
        ));
    } else if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || "#?@%\\<>^|".contains(c))
    {
        return Err(format!(
            "Invalid allowed host {host:?}: empty or invalid host"
        ));
    } else {
        host.to_ascii_lowercase()
    };
    Ok(Entry { scheme, host, port })
}

fn is_skippable_empty(resolved: &str) -> bool {
    resolved.is_empty() || resolved == "http://" || resolved == "https://"
}

/// The load-time check of one component's list, with manifest defaults only.
/// `Err` carries Spin's message; the app does not start.
pub fn check_at_load(
    templates: &[String],
    declared: &BTreeMap<String, VariableDecl>,
    rules: SpinRules,
) -> Result<(), String> {
    if templates.len() == 1 && templates[0] == "insecure:allow-all" {
        return Err("'insecure:allow-all' is not allowed - use '*://*:*' instead".into());
    }
    let defaults: BTreeMap<String, String> = declared
        .iter()
        .filter_map(|(k, d)| d.default.clone().map(|v| (k.clone(), v)))
        .collect();
    for template in templates {
        let names = template_variables(template).map_err(|e| e.to_string())?;
        if names.is_empty() {
            parse_entry(template)?;
            continue;
        }
        if let Some(unknown) = names.iter().find(|n| !declared.contains_key(*n)) {
            return Err(format!(
                "template {template:?} names undeclared variable {unknown}"
            ));
        }
        if !rules.checks_templates_at_load() || names.iter().any(|n| !defaults.contains_key(n)) {
            continue;
        }
        let resolved = expand(template, &defaults).map_err(|e| e.to_string())?;
        if rules.skips_empty() && is_skippable_empty(&resolved) {
            continue;
        }
        parse_entry(&resolved).map_err(|e| {
            format!("`allowed_outbound_hosts` is malformed: using default variable value(s) with template {template:?} results in invalid config {resolved:?}: {e}")
        })?;
    }
    Ok(())
}

/// The parsed list for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    List(Vec<Entry>),
    /// The list did not parse: everything is denied (with this reason).
    Invalid(String),
}

impl AllowedHosts {
    /// The request-time view: every entry resolved with `variables`.
    pub fn resolve(
        templates: &[String],
        variables: &BTreeMap<String, String>,
        rules: SpinRules,
    ) -> AllowedHosts {
        let mut entries = Vec::new();
        for template in templates {
            let value = match expand(template, variables) {
                Ok(v) => v,
                Err(e) => return AllowedHosts::Invalid(e.to_string()),
            };
            if rules.skips_empty() && is_skippable_empty(&value) {
                continue;
            }
            match parse_entry(&value) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    return AllowedHosts::Invalid(format!(
                        "Error parsing allowed outbound hosts: {e}"
                    ))
                }
            }
        }
        AllowedHosts::List(entries)
    }

    /// Whether a request to `scheme://host:port` may go out.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let AllowedHosts::List(entries) = self else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            return false;
        };
        entries.iter().any(|e| {
            let scheme_ok = e.scheme.as_deref().is_none_or(|s| s == scheme);
            let host_ok = e.host == "*"
                || e.host == host
                || (e.host.starts_with('.') && host.ends_with(&e.host));
            let port_ok = match e.port {
                Port::Any => true,
                Port::One(p) => p == port,
                Port::Range(a, b) => (a..b).contains(&port),
            };
            scheme_ok && host_ok && port_ok
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn templates() -> Vec<String> {
        vec![
            "{{ zendesk_url }}".to_string(),
            "{{ webhook_url }}".to_string(),
        ]
    }

    #[test]
    fn matching_like_spin() {
        for rules in SpinRules::ALL {
            let a = AllowedHosts::resolve(
                &templates(),
                &vars(&[
                    ("zendesk_url", "http://127.0.0.1:4917"),
                    ("webhook_url", "https://hooks.example.com"),
                ]),
                rules,
            );
            assert!(a.allows("http", "127.0.0.1", Some(4917)));
            assert!(!a.allows("http", "localhost", Some(4917)));
            assert!(!a.allows("http", "127.0.0.1", Some(4918)));
            assert!(!a.allows("https", "127.0.0.1", Some(4917)));
            assert!(a.allows("https", "hooks.example.com", None));
            let https = AllowedHosts::resolve(
                &templates(),
                &vars(&[
                    ("zendesk_url", "https://acme.zendesk.com/"),
                    ("webhook_url", "http://127.0.0.1:9"),
                ]),
                rules,
            );
            assert!(https.allows("https", "acme.zendesk.com", None));
            assert!(https.allows("https", "acme.zendesk.com", Some(443)));
            let wild = AllowedHosts::resolve(&["https://*.zendesk.com".into()], &vars(&[]), rules);
            assert!(wild.allows("https", "a.b.zendesk.com", None));
            assert!(!wild.allows("https", "zendesk.com", None));
        }
    }

    #[test]
    fn one_bad_entry_denies_all_on_every_version() {
        for rules in SpinRules::ALL {
            for bad in [
                "https://acme.zendesk.com/api/v2",
                "acme.zendesk.com",
                "http://127.0.0.1:9/x",
            ] {
                let a = AllowedHosts::resolve(
                    &templates(),
                    &vars(&[("zendesk_url", bad), ("webhook_url", "http://127.0.0.1:9")]),
                    rules,
                );
                assert!(!a.allows("http", "127.0.0.1", Some(9)), "{rules}: {bad}");
            }
        }
    }

    #[test]
    fn an_empty_entry_denies_all_except_on_4_1() {
        for (rules, allowed) in [
            (SpinRules::V3_3, false),
            (SpinRules::V4_0, false),
            (SpinRules::V4_1, true),
        ] {
            for empty in ["", "https://", "http://"] {
                let a = AllowedHosts::resolve(
                    &templates(),
                    &vars(&[
                        ("zendesk_url", "http://127.0.0.1:9"),
                        ("webhook_url", empty),
                    ]),
                    rules,
                );
                assert_eq!(
                    a.allows("http", "127.0.0.1", Some(9)),
                    allowed,
                    "{rules}: {empty:?}"
                );
            }
        }
    }

    #[test]
    fn load_checks_defaults_from_3_4_on() {
        let decl = |default: Option<&str>| VariableDecl {
            default: default.map(str::to_string),
            required: default.is_none(),
            secret: false,
        };
        let declared: BTreeMap<String, VariableDecl> = [
            ("empty".to_string(), decl(Some(""))),
            ("path".to_string(), decl(Some("https://x.example.com/path"))),
            ("inert".to_string(), decl(Some("https://x-not-set.invalid"))),
            ("needed".to_string(), decl(None)),
        ]
        .into_iter()
        .collect();
        let check = |t: &str, rules| check_at_load(&[t.to_string()], &declared, rules);
        for rules in SpinRules::ALL {
            assert!(check("{{ inert }}", rules).is_ok(), "{rules}");
            assert!(
                check("{{ needed }}", rules).is_ok(),
                "{rules}: required is not checked"
            );
            assert!(
                check("not a url", rules).is_err(),
                "{rules}: literals are checked"
            );
            assert!(check("https://*.zendesk.com", rules).is_ok(), "{rules}");
        }
        assert!(check("{{ empty }}", SpinRules::V3_3).is_ok());
        let err = check("{{ empty }}", SpinRules::V4_0).expect_err("4.0 refuses \"\"");
        assert!(
            err.contains("using default variable value(s) with template \"{{ empty }}\" results in invalid config \"\""),
            "{err}"
        );
        assert!(check("{{ empty }}", SpinRules::V4_1).is_ok());
        assert!(check("{{ path }}", SpinRules::V4_0).is_err());
        assert!(check("{{ path }}", SpinRules::V4_1).is_err());
        assert!(check("{{ path }}", SpinRules::V3_3).is_ok());
    }
}
