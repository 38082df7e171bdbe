//! `allowed_outbound_hosts`, the way Spin applies it to outbound HTTP.
//!
//! Each entry is `scheme://host[:port]`, possibly built from `{{ variable }}`
//! templates. An entry that resolves to `""`, `http://` or `https://` allows
//! nothing and is dropped; one with a path or without a scheme makes the
//! *whole list* invalid, and then every request is denied. Hosts compare
//! literally (`localhost` is not `127.0.0.1`); a missing port is the scheme's
//! default. `*` and `*.domain` hosts and `*` ports are understood; CIDR
//! ranges and `self` are not (sfsync does not use them).

use std::collections::BTreeMap;

use crate::manifest::expand;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    scheme: String,
    host: String,
    port: Option<String>,
}

/// The parsed list for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    List(Vec<Entry>),
    /// The list did not parse: everything is denied (with this reason).
    Invalid(String),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHosts {
    pub fn resolve(templates: &[String], variables: &BTreeMap<String, String>) -> AllowedHosts {
        let mut entries = Vec::new();
        for template in templates {
            let value = match expand(template, variables) {
                Ok(v) => v.trim().to_string(),
                Err(e) => return AllowedHosts::Invalid(e.to_string()),
            };
            if matches!(value.as_str(), "" | "http://" | "https://") {
                continue;
            }
            let value = value.strip_suffix('/').unwrap_or(&value);
            let Some((scheme, rest)) = value.split_once("://") else {
                return AllowedHosts::Invalid(format!("{value:?} does not contain a scheme"));
            };
            if rest.contains('/') {
                return AllowedHosts::Invalid(format!("{value:?} must not include a path"));
            }
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !p.contains(']') => (h.to_string(), Some(p.to_string())),
                _ => (rest.to_string(), None),
            };
            entries.push(Entry {
                scheme: scheme.to_ascii_lowercase(),
                host: host.to_ascii_lowercase(),
                port,
            });
        }
        AllowedHosts::List(entries)
    }

    /// Whether a request to `scheme://host:port` may go out.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let AllowedHosts::List(entries) = self else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let Some(port) = port.or_else(|| default_port(scheme)) else {
            return false;
        };
        entries.iter().any(|e| {
            let scheme_ok = e.scheme == "*" || e.scheme == scheme;
            let host_ok = e.host == "*"
                || e.host == host
                || e.host
                    .strip_prefix("*.")
                    .is_some_and(|d| host.ends_with(&format!(".{d}")));
            let port_ok = match &e.port {
                None => default_port(&e.scheme) == Some(port),
                Some(p) if p == "*" => true,
                Some(p) => p.parse::<u16>().ok() == Some(port),
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

    #[test]
    fn like_spin() {
        let t = vec![
            "{{ zendesk_url }}".to_string(),
            "{{ webhook_url }}".to_string(),
        ];
        let a = AllowedHosts::resolve(
            &t,
            &vars(&[
                ("zendesk_url", "http://127.0.0.1:4917"),
                ("webhook_url", ""),
            ]),
        );
        assert!(a.allows("http", "127.0.0.1", Some(4917)));
        assert!(!a.allows("http", "localhost", Some(4917)));
        assert!(!a.allows("http", "127.0.0.1", Some(4918)));
        assert!(!a.allows("https", "127.0.0.1", Some(4917)));
        let https = AllowedHosts::resolve(
            &t,
            &vars(&[
                ("zendesk_url", "https://acme.zendesk.com/"),
                ("webhook_url", ""),
            ]),
        );
        assert!(https.allows("https", "acme.zendesk.com", None));
        assert!(https.allows("https", "acme.zendesk.com", Some(443)));
        let with_path = AllowedHosts::resolve(
            &t,
            &vars(&[
                ("zendesk_url", "https://acme.zendesk.com/api/v2"),
                ("webhook_url", "http://127.0.0.1:9"),
            ]),
        );
        assert!(
            !with_path.allows("http", "127.0.0.1", Some(9)),
            "one bad entry denies all"
        );
        let none = AllowedHosts::resolve(
            &t,
            &vars(&[("zendesk_url", ""), ("webhook_url", "https://")]),
        );
        assert!(!none.allows("https", "acme.zendesk.com", None));
        let wild = AllowedHosts::resolve(&["https://*.zendesk.com".to_string()], &vars(&[]));
        assert!(wild.allows("https", "a.b.zendesk.com", None));
        assert!(!wild.allows("https", "zendesk.com", None));
    }
}
