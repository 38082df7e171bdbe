//! Reading `spin.toml` (manifest v2): the parts the test host needs —
//! application variables, HTTP triggers, and per component its source,
//! key-value labels, allowed outbound hosts and variable templates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    pub trigger: Triggers,
    pub component: BTreeMap<String, ComponentDecl>,
    /// The directory of spin.toml; sources are relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
pub struct Triggers {
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Deserialize)]
pub struct ComponentDecl {
    pub source: String,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut m: Manifest =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if m.spin_manifest_version != 2 {
            bail!("only spin_manifest_version = 2 is supported");
        }
        for (name, decl) in &m.variables {
            if decl.required == decl.default.is_some() {
                bail!("variable {name}: must be `required` OR have a `default`");
            }
        }
        for t in &m.trigger.http {
            if !m.component.contains_key(&t.component) {
                bail!(
                    "trigger {} names unknown component {}",
                    t.route,
                    t.component
                );
            }
        }
        m.dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(m)
    }

    pub fn source_path(&self, component: &str) -> Option<PathBuf> {
        self.component
            .get(component)
            .map(|c| self.dir.join(&c.source))
    }
}

/// Expand `{{ name }}` references in a template from `values`. An unknown
/// name is an error, as it is for Spin at startup.
pub fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{ in {template:?}"))?;
        let name = after[..close].trim();
        let value = values
            .get(name)
            .with_context(|| format!("template {template:?} names undeclared variable {name}"))?;
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable names a template refers to, in order.
pub fn template_variables(template: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{ in {template:?}"))?;
        names.push(after[..close].trim().to_string());
        rest = &after[close + 2..];
    }
    Ok(names)
}
