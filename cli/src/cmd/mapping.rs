//! `sfsync mapping get|put|validate`.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::client::Client;

pub fn get(client: &Client) -> Result<()> {
    print!(
        "{}",
        client.admin("GET", "/admin/mapping", None, &[])?.text()
    );
    Ok(())
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

pub fn put(client: &Client, file: &Path) -> Result<()> {
    let v: Value = client.send_typed("PUT", "/admin/mapping", "application/toml", &read(file)?)?;
    println!(
        "mapping active ({} objects), previous versions kept: {}",
        v["objects"].as_array().map(Vec::len).unwrap_or_default(),
        v["previous_versions"]
    );
    Ok(())
}

pub fn validate(client: &Client, file: &Path) -> Result<()> {
    client.admin(
        "POST",
        "/admin/mapping/validate",
        Some("application/toml"),
        &read(file)?,
    )?;
    println!("{}: valid", file.display());
    Ok(())
}
