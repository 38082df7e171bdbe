//! Named profiles: where each sfsync deployment is and how to reach it, in a
//! TOML file, so that `sfsync --profile prod status` needs no exports.
//!
//! The file is `--config FILE`, else `$SFSYNC_CONFIG`, else
//! `$XDG_CONFIG_HOME/sfsync/config.toml` (`~/.config/sfsync/config.toml`):
//!
//! ```toml
//! default = "staging"            # the profile used without --profile
//!
//! [profiles.prod]
//! url = "https://sfsync.example.com"
//! token_env = "SFSYNC_PROD_TOKEN"   # the token from this variable, or
//! # token_file = "~/.config/sfsync/prod.token"   # from this file (first line)
//! ca_cert = "/etc/ssl/private-ca.pem"            # optional
//!
//! [profiles.staging]
//! url = "http://127.0.0.1:3000"
//! token_file = "~/.config/sfsync/staging.token"
//! ```
//!
//! A token never sits in the file itself. Flags and `SFSYNC_URL`,
//! `SFSYNC_TOKEN`, `SFSYNC_CA_CERT` override the profile's values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub default: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `~/` at the start of a path is the home directory.
fn expand(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), home()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// Where the config file is looked for.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SFSYNC_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("sfsync").join("config.toml"))
}

/// The profile to use: `name` (`--profile`), else the file's `default`,
/// else none. A named profile that does not exist is an error that lists
/// those that do.
pub fn load(explicit_file: Option<&Path>, name: Option<&str>) -> Result<Profile> {
    let path = config_path(explicit_file);
    let text = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit_file.is_none() => None,
            Err(e) => return Err(anyhow!("cannot read the config file {}: {e}", p.display())),
        },
        None => None,
    };
    let file: ConfigFile = match (&text, &path) {
        (Some(t), Some(p)) => toml::from_str(t)
            .with_context(|| format!("{} is not a valid sfsync config", p.display()))?,
        _ => ConfigFile::default(),
    };
    let chosen = name.map(str::to_string).or(file.default.clone());
    match chosen {
        None => Ok(Profile::default()),
        Some(n) => file.profiles.get(&n).cloned().ok_or_else(|| {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            crate::output::usage(format!(
                "no profile {n:?} in {}; profiles there: {}",
                path.as_deref()
                    .map_or("the config file".into(), |p| p.display().to_string()),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        }),
    }
}

impl Profile {
    /// The profile's token, from its variable or its file.
    pub fn token(&self) -> Result<Option<String>> {
        if let Some(var) = &self.token_env {
            return std::env::var(var)
                .map(Some)
                .map_err(|_| anyhow!("the profile reads its token from ${var}, which is not set"));
        }
        if let Some(file) = &self.token_file {
            let path = expand(file);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the profile's token_file {}", path.display())
            })?;
            return Ok(text.lines().next().map(|l| l.trim().to_string()));
        }
        Ok(None)
    }

    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.ca_cert.as_deref().map(expand)
    }
}
