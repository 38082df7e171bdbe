//! `sfsync`: the admin CLI. Every command is one or a few calls to the admin
//! API; nothing here decides anything about records.

mod client;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use client::{enc, Client};

#[derive(Parser)]
#[command(
    name = "sfsync",
    version,
    about = "Admin CLI for sfsync, the Salesforce sync connector"
)]
#[command(
    after_help = "Examples:\n  export SFSYNC_URL=https://sfsync.example.com SFSYNC_TOKEN=...\n  sfsync status\n  sfsync records --status error\n  sfsync resend --status error --object Contact"
)]
struct Cli {
    /// Base URL of sfsync.
    #[arg(
        long,
        env = "SFSYNC_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    url: String,
    /// A PEM file of a CA to trust for https:// (a private CA); the system's
    /// roots are always trusted.
    #[arg(long, env = "SFSYNC_CA_CERT", global = true, value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// The admin token (the admin_token variable).
    #[arg(long, env = "SFSYNC_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct FilterArgs {
    /// synced (ever synced), error (last attempt failed), skipped or pending.
    #[arg(long)]
    status: Option<String>,
    /// Salesforce object, e.g. Contact.
    #[arg(long)]
    object: Option<String>,
    /// Search: Salesforce id, destination id, email or name.
    #[arg(long)]
    q: Option<String>,
    /// Last attempt at or after (ISO 8601).
    #[arg(long)]
    since: Option<String>,
    /// Last attempt at or before (ISO 8601).
    #[arg(long)]
    until: Option<String>,
}

impl FilterArgs {
    fn pairs(&self) -> Vec<(&'static str, &String)> {
        [
            ("status", &self.status),
            ("object", &self.object),
            ("q", &self.q),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect()
    }

    fn query(&self) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| format!("&{k}={}", enc(v)))
            .collect()
    }

    fn json(&self) -> Value {
        Value::Object(
            self.pairs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        )
    }

    fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Totals by status, overall and per object.
    #[command(after_help = "Example:\n  sfsync status")]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List records, with the API's filters.
    #[command(
        after_help = "Examples:\n  sfsync records --status error --object Contact\n  sfsync records --q ana@example.com --json\n  sfsync records --all --status synced"
    )]
    Records {
        #[command(flatten)]
        filter: FilterArgs,
        /// Records per page (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Follow every page.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One record in full.
    #[command(after_help = "Example:\n  sfsync show Contact/003000000000001AAA")]
    Show {
        /// Object/SalesforceId
        record: String,
    },
    /// Push records again with the current mapping (by id, or by filter).
    #[command(
        after_help = "Examples:\n  sfsync resend Contact/003000000000001AAA Lead/00Q000000000001AAA\n  sfsync resend --status error\n  sfsync resend --status pending --object Contact --batch 500\nExits 2 when some records still failed."
    )]
    Resend {
        /// Records as Object/SalesforceId.
        records: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Records per call.
        #[arg(long, default_value_t = 200)]
        batch: usize,
    },
    /// Export the sync status of records as CSV.
    #[command(after_help = "Example:\n  sfsync export -o errors.csv --status error")]
    Export {
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Import references (Salesforce id -> Zendesk id) from a CSV file.
    #[command(
        after_help = "Example:\n  sfsync import references.csv\nColumns: salesforce_contact_id, salesforce_lead_id, salesforce_account_id, zendesk_user_id, zendesk_organization_id"
    )]
    Import { file: PathBuf },
    /// Read, replace or check the field mapping.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Pause sync: notifications are recorded as pending, nothing is pushed.
    #[command(after_help = "Example:\n  sfsync pause")]
    Pause,
    /// Resume sync (then: sfsync resend --status pending).
    #[command(after_help = "Example:\n  sfsync resume && sfsync resend --status pending")]
    Resume,
    /// The run history.
    #[command(
        after_help = "Examples:\n  sfsync runs --status failed\n  sfsync runs --process resend --since 2026-11-01"
    )]
    Runs {
        #[arg(long)]
        process: Option<String>,
        /// failed or ok
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Initial load: sync every row of a Salesforce CSV export.
    #[command(
        after_help = "Examples:\n  sfsync backfill --object Account accounts.csv\n  sfsync backfill --object Contact contacts.csv\nBackfill Accounts before Contacts so that Contacts find their organizations.\nInterrupted? Run the same command again: it resumes from the last batch\n(the cursor is kept in FILE.sfsync-cursor; --restart starts over).\nExits 2 when some rows were rejected or failed."
    )]
    Backfill {
        /// The Salesforce object of the rows, e.g. Contact.
        #[arg(long)]
        object: String,
        /// A CSV export with a header row of field API names.
        file: PathBuf,
        /// Rows per call (1-1000).
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Ignore a saved cursor and start from the first row.
        #[arg(long)]
        restart: bool,
    },
    /// Send an Outbound Message built from a TOML/JSON record description.
    #[command(
        after_help = "Example (contact.toml):\n  object = \"Contact\"\n  nulls = [\"Phone\"]\n  [fields]\n  Id = \"003000000000001AAA\"\n  Email = \"ana@example.com\"\n  FirstName = \"Ana\"\n  LastName = \"Lima\"\n\n  sfsync send-sample contact.toml --endpoint-token dev-endpoint-token --org-id 00D000000000062EAA"
    )]
    SendSample {
        file: PathBuf,
        /// Send to /sf/updated instead of /sf/created.
        #[arg(long)]
        updated: bool,
        /// The sf_endpoint_token variable.
        #[arg(long, env = "SFSYNC_ENDPOINT_TOKEN", hide_env_values = true)]
        endpoint_token: String,
        /// The org id the message claims (must match sf_organization_id).
        #[arg(long, env = "SFSYNC_ORG_ID")]
        org_id: String,
    },
}

#[derive(Subcommand)]
enum MappingCommand {
    /// Print the active mapping (TOML).
    #[command(after_help = "Example:\n  sfsync mapping get > mapping.toml")]
    Get,
    /// Check a mapping file and make it active.
    #[command(after_help = "Example:\n  sfsync mapping put mapping.toml")]
    Put { file: PathBuf },
    /// Check a mapping file only.
    #[command(after_help = "Example:\n  sfsync mapping validate mapping.toml")]
    Validate { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count().min(60));
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(60).collect();
                format!("{c:<w$}", w = widths[i])
            })
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn record_row(r: &Value) -> Vec<String> {
    vec![
        format!("{}/{}", s(&r["object"]), s(&r["salesforce_id"])),
        s(&r["status"]),
        if r["ever_synced"] == true {
            "yes".into()
        } else {
            "no".into()
        },
        s(&r["destination"]["id"]),
        s(&r["last_synced_at"]),
        s(&r["last_error"]["message"]).replace('\n', " "),
    ]
}

fn run(cli: Cli) -> Result<ExitCode> {
    let client = Client::new(&cli.url, cli.token.clone(), cli.ca_cert.as_deref())?;
    match cli.command {
        Command::Status { json } => {
            let st = client.get_json("/admin/stats")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
                return Ok(ExitCode::SUCCESS);
            }
            let keys = ["total", "synced", "error", "skipped", "pending"];
            let mut rows = vec![std::iter::once("all".to_string())
                .chain(keys.iter().map(|k| s(&st[*k])))
                .collect::<Vec<_>>()];
            for (object, c) in st["by_object"].as_object().into_iter().flatten() {
                rows.push(
                    std::iter::once(object.clone())
                        .chain(keys.iter().map(|k| s(&c[*k])))
                        .collect(),
                );
            }
            table(
                &["object", "total", "synced", "error", "skipped", "pending"],
                &rows,
            );
            if st["paused"] == true {
                println!("\nsync is PAUSED: notifications are recorded as pending (sfsync resume)");
            }
        }
        Command::Records {
            filter,
            limit,
            all,
            json,
        } => {
            let mut cursor: Option<String> = None;
            let mut printed = 0;
            loop {
                let mut path = format!("/admin/records?limit={limit}{}", filter.query());
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={}", enc(c)));
                }
                let page = client.get_json(&path)?;
                let records = page["records"].as_array().cloned().unwrap_or_default();
                if json {
                    for r in &records {
                        println!("{r}");
                    }
                } else {
                    let rows: Vec<Vec<String>> = records.iter().map(record_row).collect();
                    if !rows.is_empty() {
                        table(
                            &[
                                "record",
                                "status",
                                "ever synced",
                                "destination id",
                                "last synced",
                                "last error",
                            ],
                            &rows,
                        );
                    }
                }
                printed += records.len();
                match page["next_cursor"].as_str() {
                    Some(c) if all => cursor = Some(c.to_string()),
                    Some(c) => {
                        if !json {
                            eprintln!("more: --all, or the API with cursor={c}");
                        }
                        break;
                    }
                    None => break,
                }
            }
            if !json && printed == 0 {
                eprintln!("no records match");
            }
        }
        Command::Show { record } => {
            let Some((object, id)) = record.split_once('/') else {
                bail!("\"{record}\" is not Object/SalesforceId, e.g. Contact/003000000000001AAA");
            };
            let v = client.get_json(&format!("/admin/records/{}/{}", enc(object), enc(id)))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Command::Resend {
            records,
            filter,
            batch,
        } => return resend(&client, records, filter, batch),
        Command::Backfill {
            object,
            file,
            batch,
            restart,
        } => return backfill(&client, &object, &file, batch, restart),
        Command::Export { output, filter } => {
            let query: String = filter.query().trim_start_matches('&').to_string();
            let reply = client.admin("GET", &format!("/admin/export.csv?{query}"), None, &[])?;
            std::fs::write(&output, &reply.body)
                .with_context(|| format!("cannot write {}", output.display()))?;
            let rows = reply
                .body
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                .saturating_sub(1);
            println!("wrote {rows} records to {}", output.display());
        }
        Command::Import { file } => {
            let body =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = client
                .admin("POST", "/admin/import", Some("text/csv"), &body)?
                .json()?;
            println!("imported {} references", s(&v["imported"]));
            let rejected = v["rejected"].as_array().cloned().unwrap_or_default();
            for r in &rejected {
                eprintln!("  line {}: {}", s(&r["line"]), s(&r["error"]));
            }
            if !rejected.is_empty() {
                eprintln!(
                    "{} rows rejected; fix them and import those rows again",
                    rejected.len()
                );
                return Ok(ExitCode::from(2));
            }
        }
        Command::Mapping(MappingCommand::Get) => {
            print!(
                "{}",
                client.admin("GET", "/admin/mapping", None, &[])?.text()
            );
        }
        Command::Mapping(MappingCommand::Put { file }) => {
            let body =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = client
                .admin("PUT", "/admin/mapping", Some("application/toml"), &body)?
                .json()?;
            println!(
                "mapping active ({} objects), previous versions kept: {}",
                v["objects"].as_array().map(Vec::len).unwrap_or_default(),
                s(&v["previous_versions"])
            );
        }
        Command::Mapping(MappingCommand::Validate { file }) => {
            let body =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            client.admin(
                "POST",
                "/admin/mapping/validate",
                Some("application/toml"),
                &body,
            )?;
            println!("{}: valid", file.display());
        }
        Command::Pause => {
            client.post_json("/admin/pause", &json!({}))?;
            println!("paused: notifications are recorded as pending; nothing is pushed");
        }
        Command::Resume => {
            client.post_json("/admin/resume", &json!({}))?;
            println!("resumed; to push what arrived meanwhile: sfsync resend --status pending");
        }
        Command::Runs {
            process,
            status,
            since,
            until,
            json,
        } => {
            let mut query = String::from("limit=1000");
            for (k, v) in [
                ("process", &process),
                ("status", &status),
                ("since", &since),
                ("until", &until),
            ] {
                if let Some(v) = v {
                    query.push_str(&format!("&{k}={}", enc(v)));
                }
            }
            let v = client.get_json(&format!("/admin/runs?{query}"))?;
            let runs = v["runs"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                let rows: Vec<Vec<String>> = runs
                    .iter()
                    .map(|r| {
                        vec![
                            s(&r["id"]),
                            s(&r["process"]),
                            s(&r["started_at"]),
                            s(&r["counts"]["synced"]),
                            s(&r["counts"]["error"]),
                            s(&r["counts"]["skipped"]),
                            s(&r["counts"]["pending"]),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "run", "process", "started", "synced", "error", "skipped", "pending",
                    ],
                    &rows,
                );
            }
        }
        Command::SendSample {
            file,
            updated,
            endpoint_token,
            org_id,
        } => {
            let stamp = chrono_now();
            let notifications = sample::load(&file, &stamp)?;
            let xml = sync_core::soap::render_message(&org_id, &notifications);
            let route = if updated {
                "/sf/updated"
            } else {
                "/sf/created"
            };
            let reply = client.send(
                "POST",
                &format!("{route}?token={}", enc(&endpoint_token)),
                Some("text/xml; charset=utf-8"),
                xml.as_bytes(),
            )?;
            let text = reply.text();
            if reply.status == 200 && text.contains("<Ack>true</Ack>") {
                println!(
                    "acknowledged: {} notification(s) to {route}",
                    notifications.len()
                );
                for n in &notifications {
                    println!("  sfsync show {}/{}", n.sobject.object_type, n.sobject.id);
                }
            } else {
                let fault = text
                    .split("<faultstring>")
                    .nth(1)
                    .and_then(|t| t.split("</faultstring>").next())
                    .unwrap_or(&text);
                bail!("sfsync did not acknowledge ({}): {fault}", reply.status);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Now as Salesforce writes date-times.
fn chrono_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn resend(
    client: &Client,
    records: Vec<String>,
    filter: FilterArgs,
    batch: usize,
) -> Result<ExitCode> {
    if records.is_empty() && filter.is_empty() {
        bail!("nothing to resend: name records (Contact/003…) or a filter (--status error)");
    }
    if !records.is_empty() && !filter.is_empty() {
        bail!("give either records or filters, not both");
    }
    let total = if records.is_empty() {
        let st = client.get_json("/admin/stats")?;
        let scope = match &filter.object {
            Some(o) => st["by_object"][o].clone(),
            None => st.clone(),
        };
        match (&filter.status, &filter.q, &filter.since, &filter.until) {
            (Some(status), None, None, None) => scope[status].as_u64(),
            (None, None, None, None) => scope["total"].as_u64(),
            _ => None,
        }
    } else {
        Some(records.len() as u64)
    };
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut synced, mut errors, mut other) = (0u64, 0u64, 0u64);
    let mut failures: Vec<String> = Vec::new();
    let mut tally = |results: &[Value], bar: &ProgressBar| {
        for r in results {
            match r["outcome"].as_str() {
                Some("synced") => synced += 1,
                Some("error") | Some("unknown") => {
                    errors += 1;
                    failures.push(format!(
                        "{}: {} {}",
                        s(&r["record"]),
                        s(&r["outcome"]),
                        s(&r["error"])
                    ));
                }
                _ => other += 1,
            }
        }
        bar.inc(results.len() as u64);
        let rate = (synced + errors + other) as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!("synced {synced}, errors {errors}, {rate:.0}/s"));
    };
    if !records.is_empty() {
        for chunk in records.chunks(batch.clamp(1, 1000)) {
            let v = client.post_json("/admin/resend", &json!({ "records": chunk }))?;
            tally(
                v["results"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                &bar,
            );
        }
    } else {
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({ "filter": filter.json(), "limit": batch.clamp(1, 1000) });
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let v = client.post_json("/admin/resend", &body)?;
            tally(
                v["results"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                &bar,
            );
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "resent {}: {synced} synced, {errors} failed, {other} skipped or pending, in {:.1} s",
        synced + errors + other,
        started.elapsed().as_secs_f64()
    );
    for f in failures.iter().take(20) {
        eprintln!("  {f}");
    }
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn backfill(
    client: &Client,
    object: &str,
    file: &std::path::Path,
    batch: usize,
    restart: bool,
) -> Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let state = {
        let mut name = file.as_os_str().to_owned();
        name.push(".sfsync-cursor");
        PathBuf::from(name)
    };
    let mut cursor: Option<String> = if restart {
        None
    } else {
        std::fs::read_to_string(&state)
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
    };
    if cursor.is_some() {
        eprintln!(
            "resuming from the last batch (saved in {}; --restart to start over)",
            state.display()
        );
    }
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut synced, mut skipped, mut done_here) = (0u64, 0u64, 0u64);
    let mut problems: Vec<String> = Vec::new();
    loop {
        let mut path = format!(
            "/admin/backfill?object={}&limit={}",
            enc(object),
            batch.clamp(1, 1000)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let v = client
            .admin("POST", &path, Some("text/csv"), &body)?
            .json()?;
        let total = v["rows_total"].as_u64().unwrap_or_default();
        let done = v["rows_done"].as_u64().unwrap_or_default();
        bar.set_length(total);
        bar.set_position(done);
        let c = &v["counts"];
        let count = |k: &str| c[k].as_u64().unwrap_or_default();
        synced += count("synced");
        skipped += count("skipped") + count("ignored");
        done_here += count("synced")
            + count("skipped")
            + count("ignored")
            + count("error")
            + count("pending")
            + v["rejected"].as_array().map(Vec::len).unwrap_or_default() as u64;
        for r in v["rejected"].as_array().into_iter().flatten() {
            problems.push(format!(
                "line {}: rejected: {}",
                s(&r["line"]),
                s(&r["error"])
            ));
        }
        for f in v["failed"].as_array().into_iter().flatten() {
            problems.push(format!(
                "line {} ({}): {}",
                s(&f["line"]),
                s(&f["record"]),
                s(&f["error"])
            ));
        }
        let rate = done_here as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "synced {synced}, skipped {skipped}, errors {}, {rate:.0} rows/s",
            problems.len()
        ));
        match v["next_cursor"].as_str() {
            Some(c) => {
                cursor = Some(c.to_string());
                std::fs::write(&state, c)
                    .with_context(|| format!("cannot save the cursor to {}", state.display()))?;
            }
            None => break,
        }
    }
    let _ = std::fs::remove_file(&state);
    bar.finish_and_clear();
    println!(
        "backfilled {object} from {}: {synced} synced, {skipped} skipped (unchanged), {} rejected or failed, in {:.1} s",
        file.display(),
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    for p in problems.iter().take(30) {
        eprintln!("  {p}");
    }
    if problems.len() > 30 {
        eprintln!(
            "  … and {} more (sfsync records --status error)",
            problems.len() - 30
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
