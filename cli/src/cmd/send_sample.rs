//! `sfsync send-sample`: an Outbound Message built from a TOML or JSON
//! record description, sent to `/sf/created` (or `/sf/updated`).

use std::path::Path;

use anyhow::{bail, Result};

use serde_json::json;

use crate::client::{enc, Client};
use crate::output::Output;

/// Now as Salesforce writes date-times.
fn salesforce_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

pub fn run(
    client: &Client,
    out: &Output,
    file: &Path,
    updated: bool,
    endpoint_token: &str,
    org_id: &str,
) -> Result<()> {
    let notifications = crate::sample::load(file, &salesforce_now())?;
    let xml = sync_core::soap::render_message(org_id, &notifications);
    let route = if updated {
        "/sf/updated"
    } else {
        "/sf/created"
    };
    let reply = client.send(
        "POST",
        &format!("{route}?token={}", enc(endpoint_token)),
        Some("text/xml; charset=utf-8"),
        xml.as_bytes(),
    )?;
    let text = reply.text();
    if reply.status == 200 && text.contains("<Ack>true</Ack>") {
        let records: Vec<String> = notifications
            .iter()
            .map(|n| format!("{}/{}", n.sobject.object_type, n.sobject.id))
            .collect();
        out.object(&json!({"acknowledged": true, "route": route, "records": records}))?;
        out.say(format!(
            "acknowledged: {} notification(s) to {route}",
            notifications.len()
        ));
        for r in &records {
            out.say(format!("  sfsync show {r}"));
        }
        Ok(())
    } else {
        let fault = text
            .split("<faultstring>")
            .nth(1)
            .and_then(|t| t.split("</faultstring>").next())
            .unwrap_or(&text);
        bail!("sfsync did not acknowledge ({}): {fault}", reply.status);
    }
}
