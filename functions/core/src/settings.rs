//! The deployment's configuration, read from Spin variables.
//!
//! Every variable is declared in `spin.toml` with a default that means
//! *unset*: an empty string, except for the two destination URLs. Those feed
//! `allowed_outbound_hosts`, and every released Spin (3.x, 4.0.x) refuses an
//! entry that resolves to `""` — 3.4 to 4.0.2 do not even load the app, 3.0 to
//! 3.3 deny every outbound call of the component. So their defaults are inert
//! origins under the reserved `.invalid` domain ([`ZENDESK_URL_UNSET`],
//! [`WEBHOOK_URL_UNSET`]), which never resolve and read here as unset. A URL
//! variable a user sets to `""` explicitly is unset too, and remembered in
//! [`Settings::blank_url_variables`] so that a denied call can name it.
//!
//! Nothing unset grants access: the Outbound Message
//! endpoints refuse every message until `sf_organization_id` and
//! `sf_endpoint_token` are set, and the admin API refuses every call until
//! `admin_token` is set. With no `destination` the connector runs dry: it
//! records what it would have sent and sends nothing.
//!
//! Secrets are held in [`Secret`], whose `Debug` never prints the value.

use subtle::ConstantTimeEq;

/// The variables sfsync reads, by their `spin.toml` names.
pub const VARIABLES: &[&str] = &[
    "destination",
    "zendesk_url",
    "zendesk_email",
    "zendesk_api_token",
    "zendesk_multi_org",
    "webhook_url",
    "webhook_auth",
    "sf_organization_id",
    "sf_endpoint_token",
    "admin_token",
    "run_retention_count",
    "run_retention_days",
    "sf_my_domain_url",
    "sf_client_id",
    "sf_client_secret",
    "sf_api_budget_percent",
    "sf_max_concurrent_requests",
];

/// How much run history is kept ([`crate::history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The newest runs kept; an older one is overwritten by a new one.
    pub kept: u64,
    /// Runs older than this are hidden, and removed as new runs come.
    pub max_age_days: u32,
}

impl HistoryLimits {
    pub const DEFAULT_KEPT: u64 = 100_000;
    pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;
    pub const KEPT_RANGE: std::ops::RangeInclusive<u64> = 100..=1_000_000;
    pub const AGE_RANGE: std::ops::RangeInclusive<u32> = 1..=3650;
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            kept: Self::DEFAULT_KEPT,
            max_age_days: Self::DEFAULT_MAX_AGE_DAYS,
        }
    }
}

/// The default of `zendesk_url`: a valid `allowed_outbound_hosts` entry that
/// allows nothing reachable, and means "not set".
pub const ZENDESK_URL_UNSET: &str = "https://zendesk-url-not-set.invalid";

/// The default of `webhook_url`, like [`ZENDESK_URL_UNSET`].
pub const WEBHOOK_URL_UNSET: &str = "https://webhook-url-not-set.invalid";

/// The default of `sf_my_domain_url`, like [`ZENDESK_URL_UNSET`].
pub const SALESFORCE_URL_UNSET: &str = "https://salesforce-url-not-set.invalid";

/// A secret value: compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building an outbound request header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a caller presented.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The default of `sf_api_budget_percent`.
pub const DEFAULT_SF_API_BUDGET_PERCENT: u64 = 80;

/// The default of `sf_max_concurrent_requests`.
pub const DEFAULT_SF_MAX_CONCURRENT_REQUESTS: u32 = 4;

/// The shortest token sfsync does not warn about.
pub const MIN_TOKEN_LEN: usize = 16;

impl Settings {
    /// What is risky in this configuration, each with what to do. Never a
    /// secret's value.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(a), Some(e)) = (&self.admin_token, &self.sf_endpoint_token) {
            if a.matches(e.expose()) {
                out.push("admin_token equals sf_endpoint_token: anyone who can read the Outbound Message endpoint URL (Salesforce admins, proxy logs) can use the admin API; set a different admin_token".to_string());
            }
        }
        for (name, token) in [
            ("admin_token", &self.admin_token),
            ("sf_endpoint_token", &self.sf_endpoint_token),
        ] {
            if let Some(t) = token {
                if t.expose().chars().count() < MIN_TOKEN_LEN {
                    out.push(format!(
                        "{name} is shorter than {MIN_TOKEN_LEN} characters; use a long random value (e.g. openssl rand -hex 24)"
                    ));
                }
            }
        }
        if self.destination == DestinationKind::DryRun
            && (self.zendesk_api_token.is_some() || self.zendesk_email.is_some())
        {
            out.push("Zendesk variables are set but destination is dry-run: nothing is sent; set destination = \"zendesk\" to sync".to_string());
        }
        out
    }
}

/// Where mapped records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestinationKind {
    DryRun,
    Zendesk,
    Webhook,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::DryRun => "dry-run",
            DestinationKind::Zendesk => "zendesk",
            DestinationKind::Webhook => "webhook",
        }
    }
}

/// A variable whose value cannot work; the message names it and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// Everything sfsync needs from its variables.
#[derive(Debug, Clone)]
pub struct Settings {
    pub destination: DestinationKind,
    pub zendesk_url: Option<String>,
    pub zendesk_email: Option<String>,
    pub zendesk_api_token: Option<Secret>,
    pub zendesk_multi_org: bool,
    pub webhook_url: Option<String>,
    pub webhook_auth: Option<Secret>,
    pub sf_organization_id: Option<String>,
    pub sf_endpoint_token: Option<Secret>,
    pub admin_token: Option<Secret>,
    /// URL variables set to an empty value (not left at their default). On
    /// Spin 3.x and 4.0.x such an `allowed_outbound_hosts` entry denies every
    /// outbound call of the component, whichever destination is active.
    pub blank_url_variables: Vec<&'static str>,
    pub history: HistoryLimits,
    /// The org's My Domain URL (`https://acme.my.salesforce.com`), for
    /// pulls and reconcile sweeps through the REST API.
    pub sf_my_domain_url: Option<String>,
    /// The connected app's consumer key and secret (client credentials).
    pub sf_client_id: Option<String>,
    pub sf_client_secret: Option<Secret>,
    /// A pull or sweep stops once the org has used this share of its daily
    /// API requests (`Sforce-Limit-Info`), leaving the rest to other tools.
    pub sf_api_budget_percent: u64,
    /// At most this many requests to Salesforce at once, across every
    /// instance and node ([`crate::salesforce::slots`]).
    pub sf_max_concurrent_requests: u32,
    /// The variables of [`VARIABLES`] that hold a value (not their
    /// defaults), for `GET /admin/health`.
    pub set_variables: Vec<&'static str>,
}

/// What the host answered for one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableRead {
    Value(String),
    /// The host defines no such variable: unset.
    Undefined,
    /// The host's provider failed (an unreachable Vault, say), with its words.
    Failed(String),
}

impl Settings {
    /// Read the settings through the host's answers. A variable whose
    /// provider failed is an error, never a silent "unset" that would turn
    /// Zendesk into dry-run.
    pub fn read(read: impl Fn(&str) -> VariableRead) -> Result<Settings, ConfigError> {
        let mut values = std::collections::BTreeMap::new();
        for name in VARIABLES {
            match read(name) {
                VariableRead::Value(v) => {
                    values.insert(*name, v);
                }
                VariableRead::Undefined => {}
                VariableRead::Failed(why) => {
                    return Err(ConfigError {
                        variable: name,
                        message: format!(
                            "the host could not read it ({why}); fix the variable provider (Vault, Azure Key Vault, the environment), sfsync does not guess a value"
                        ),
                    })
                }
            }
        }
        Settings::load(|name| values.get(name).cloned())
    }

    /// Read the settings through `get`, which returns a variable's value (or
    /// `None` when the host has none). Empty and blank values count as unset.
    pub fn load(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let destination = match var("destination").as_deref() {
            None | Some("dry-run") => DestinationKind::DryRun,
            Some("zendesk") => DestinationKind::Zendesk,
            Some("webhook") => DestinationKind::Webhook,
            Some(other) => {
                return Err(ConfigError {
                    variable: "destination",
                    message: format!(
                        "\"{other}\" is not a destination; use dry-run, zendesk or webhook"
                    ),
                })
            }
        };
        let zendesk_multi_org = match var("zendesk_multi_org").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    variable: "zendesk_multi_org",
                    message: format!("\"{other}\" is not a boolean; use true or false"),
                })
            }
        };
        let history = HistoryLimits {
            kept: number_var(
                "run_retention_count",
                var("run_retention_count"),
                HistoryLimits::DEFAULT_KEPT,
                HistoryLimits::KEPT_RANGE,
            )?,
            max_age_days: number_var(
                "run_retention_days",
                var("run_retention_days"),
                HistoryLimits::DEFAULT_MAX_AGE_DAYS,
                HistoryLimits::AGE_RANGE,
            )?,
        };
        let sf_api_budget_percent = number_var(
            "sf_api_budget_percent",
            var("sf_api_budget_percent"),
            DEFAULT_SF_API_BUDGET_PERCENT,
            1..=100,
        )?;
        let sf_max_concurrent_requests = number_var(
            "sf_max_concurrent_requests",
            var("sf_max_concurrent_requests"),
            DEFAULT_SF_MAX_CONCURRENT_REQUESTS,
            1..=25,
        )?;
        let mut blank_url_variables = Vec::new();
        let mut url_var = |name: &'static str, unset: &str| -> Result<_, ConfigError> {
            let raw = get(name).map(|v| v.trim().to_string());
            match raw.as_deref() {
                Some("") => {
                    blank_url_variables.push(name);
                    Ok(None)
                }
                None => Ok(None),
                Some(v) if v.trim_end_matches('/') == unset => Ok(None),
                Some(v) => check_base_url(name, v).map(Some),
            }
        };
        let zendesk_url = url_var("zendesk_url", ZENDESK_URL_UNSET)?;
        let webhook_url = url_var("webhook_url", WEBHOOK_URL_UNSET)?;
        let sf_my_domain_url = url_var("sf_my_domain_url", SALESFORCE_URL_UNSET)?;
        let sf_organization_id = var("sf_organization_id");
        if let Some(id) = &sf_organization_id {
            if !crate::sobject::is_salesforce_id(id) {
                return Err(ConfigError {
                    variable: "sf_organization_id",
                    message: "must be the 15- or 18-character org id (Setup > Company Information)"
                        .into(),
                });
            }
        }
        let set_variables = VARIABLES
            .iter()
            .copied()
            .filter(|name| match *name {
                "zendesk_url" => zendesk_url.is_some(),
                "webhook_url" => webhook_url.is_some(),
                "sf_my_domain_url" => sf_my_domain_url.is_some(),
                _ => var(name).is_some(),
            })
            .collect();
        Ok(Settings {
            set_variables,
            destination,
            zendesk_url,
            zendesk_email: var("zendesk_email"),
            zendesk_api_token: var("zendesk_api_token").map(Secret),
            zendesk_multi_org,
            webhook_url,
            webhook_auth: var("webhook_auth").map(Secret),
            sf_organization_id,
            sf_endpoint_token: var("sf_endpoint_token").map(Secret),
            admin_token: var("admin_token").map(Secret),
            blank_url_variables,
            history,
            sf_my_domain_url,
            sf_client_id: var("sf_client_id"),
            sf_client_secret: var("sf_client_secret").map(Secret),
            sf_api_budget_percent,
            sf_max_concurrent_requests,
        })
    }

    /// Which destination a sync goes to: its kind and base URL. A record
    /// synced to another one (say dry-run, before Zendesk was configured) is
    /// not "already synced" here.
    pub fn destination_identity(&self) -> String {
        let base = match self.destination {
            DestinationKind::DryRun => None,
            DestinationKind::Zendesk => self.zendesk_url.as_deref(),
            DestinationKind::Webhook => self.webhook_url.as_deref(),
        };
        match base {
            Some(base) => format!("{} {base}", self.destination.as_str()),
            None => self.destination.as_str().to_string(),
        }
    }

    /// Whether a message's `OrganizationId` (always 18 characters) is the
    /// configured org, given in its 15- or 18-character form. The first 15
    /// characters are the case-sensitive id; the last 3 only encode case.
    pub fn accepts_organization(&self, organization_id: &str) -> bool {
        let Some(configured) = &self.sf_organization_id else {
            return false;
        };
        match configured.len() {
            18 => configured == organization_id,
            15 => organization_id.len() == 18 && organization_id.starts_with(configured.as_str()),
            _ => false,
        }
    }
}

/// A whole-number variable within `range`; unset is `default`.
fn number_var<T>(
    variable: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError {
            variable,
            message: format!(
                "\"{text}\" is not a whole number from {} to {}; leave it unset for {default}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// Spin accepts only `scheme://host[:port]` (and one trailing `/`) in a
/// templated `allowed_outbound_hosts` entry and denies *every* outbound call
/// when one is malformed, so a URL with a path is refused here, by name. The
/// result is the base URL without the trailing `/`.
fn check_base_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    let fail = |why: &str| ConfigError {
        variable,
        message: format!(
            "\"{url}\" {why}; give only scheme://host[:port], e.g. https://acme.zendesk.com"
        ),
    };
    let base = url.strip_suffix('/').unwrap_or(url);
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or_else(|| fail("does not start with https:// or http://"))?;
    if rest.is_empty() {
        return Err(fail("has no host"));
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err(fail("has a path or query"));
    }
    Ok(base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn risky_configurations_are_warned_about_without_their_values() {
        let good = load(&[
            ("admin_token", "a-long-admin-token-0123456789"),
            ("sf_endpoint_token", "a-long-endpoint-token-012345"),
        ])
        .expect("loads");
        assert!(good.warnings().is_empty(), "{:?}", good.warnings());
        let risky = load(&[
            ("admin_token", "short"),
            ("sf_endpoint_token", "short"),
            ("zendesk_email", "agent@example.com"),
        ])
        .expect("loads");
        let w = risky.warnings().join("\n");
        assert!(w.contains("admin_token equals sf_endpoint_token"), "{w}");
        assert!(w.contains("admin_token is shorter than 16"), "{w}");
        assert!(w.contains("sf_endpoint_token is shorter than 16"), "{w}");
        assert!(w.contains("destination is dry-run"), "{w}");
        assert!(!w.contains("short\""), "no value is shown: {w}");
    }

    #[test]
    fn nothing_set_is_dry_run_and_refuses_access() {
        let s = load(&[]).expect("loads");
        assert_eq!(s.destination, DestinationKind::DryRun);
        assert!(s.sf_endpoint_token.is_none());
        assert!(s.admin_token.is_none());
        assert!(!s.accepts_organization("00D000000000062EAA"));
        let blank = load(&[("sf_endpoint_token", "  "), ("admin_token", "")]).expect("loads");
        assert!(blank.sf_endpoint_token.is_none() && blank.admin_token.is_none());
    }

    #[test]
    fn organization_id_forms() {
        let cases = [
            ("00D000000000062EAA", "00D000000000062EAA", true),
            ("00D000000000062", "00D000000000062EAA", true),
            ("00D000000000062", "00D000000000063EAA", false),
            ("00d000000000062", "00D000000000062EAA", false),
            ("00D000000000062EAA", "00D000000000062EAB", false),
            ("00D000000000062EAA", "00D000000000062", false),
        ];
        for (configured, sent, ok) in cases {
            let s = load(&[("sf_organization_id", configured)]).expect("loads");
            assert_eq!(s.accepts_organization(sent), ok, "{configured} vs {sent}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("destination", "zendsk"),
            ("zendesk_multi_org", "yes"),
            ("zendesk_url", "https://acme.zendesk.com/api/v2"),
            ("zendesk_url", "https://acme.zendesk.com//"),
            ("zendesk_url", "https://"),
            ("webhook_url", "acme.example.com"),
            ("sf_organization_id", "00D-not-an-id"),
        ];
        for (name, value) in cases {
            let err = load(&[(name, value)]).expect_err(value);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn destination_urls_unset_blank_and_set() {
        let defaults = load(&[
            ("zendesk_url", ZENDESK_URL_UNSET),
            ("webhook_url", WEBHOOK_URL_UNSET),
        ])
        .expect("loads");
        assert_eq!(defaults.zendesk_url, None);
        assert_eq!(defaults.webhook_url, None);
        assert!(defaults.blank_url_variables.is_empty());

        let blank = load(&[
            ("zendesk_url", "https://acme.zendesk.com/"),
            ("webhook_url", " "),
        ])
        .expect("loads");
        assert_eq!(
            blank.zendesk_url.as_deref(),
            Some("https://acme.zendesk.com")
        );
        assert_eq!(blank.webhook_url, None);
        assert_eq!(blank.blank_url_variables, vec!["webhook_url"]);
    }

    #[test]
    fn a_failing_provider_is_an_error_naming_the_variable() {
        let read = |name: &str| match name {
            "destination" => VariableRead::Value("zendesk".into()),
            "zendesk_api_token" => VariableRead::Failed("vault unreachable".into()),
            _ => VariableRead::Undefined,
        };
        let err = Settings::read(read).expect_err("refused");
        assert_eq!(err.variable, "zendesk_api_token");
        assert!(err.to_string().contains("vault unreachable"), "{err}");
        let ok = Settings::read(|n| match n {
            "destination" => VariableRead::Value("webhook".into()),
            _ => VariableRead::Undefined,
        })
        .expect("loads");
        assert_eq!(ok.destination, DestinationKind::Webhook);
    }

    #[test]
    fn secrets_compare_and_hide() {
        let s = Secret::new("s3cret-token");
        assert!(s.matches("s3cret-token"));
        assert!(!s.matches("s3cret-tokeN"));
        assert!(!s.matches("s3cret"));
        assert!(!s.matches(""));
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
