//! `sfsync mapping get|put|validate`.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use crate::client::Client;
use crate::output::Output;

pub fn get(client: &Client, out: &Output) -> Result<()> {
    let reply = client.admin("GET", "/admin/mapping", None, &[])?;
    if out.json {
        return out.object(&json!({ "toml": reply.text() }));
    }
    print!("{}", reply.text());
    Ok(())
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

pub fn put(client: &Client, out: &Output, file: &Path) -> Result<()> {
    let v: Value = client.send_typed("PUT", "/admin/mapping", "application/toml", &read(file)?)?;
    out.object(&v)?;
    out.say(format!(
        "mapping active ({} objects), previous versions kept: {}",
        v["objects"].as_array().map(Vec::len).unwrap_or_default(),
        v["previous_versions"]
    ));
    Ok(())
}

pub fn validate(client: &Client, out: &Output, file: &Path) -> Result<()> {
    let reply = client.admin(
        "POST",
        "/admin/mapping/validate",
        Some("application/toml"),
        &read(file)?,
    )?;
    if out.json {
        return out.object(&reply.json()?);
    }
    out.say(format!("{}: valid", file.display()));
    Ok(())
}
