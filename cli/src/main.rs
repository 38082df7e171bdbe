//! `sfsync`: the admin CLI. Every command is one or a few calls to the admin
//! API; nothing here decides anything about records.

//!
//! `main.rs` holds the command line (clap) and the dispatch; each
//! subcommand lives in [`cmd`], the HTTP side in [`client`], printing in
//! [`output`].

mod batches;
mod client;
mod cmd;
mod output;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
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
pub struct FilterArgs {
    /// synced (ever synced), error (last attempt failed), skipped or pending.
    #[arg(long)]
    pub status: Option<String>,
    /// Salesforce object, e.g. Contact.
    #[arg(long)]
    pub object: Option<String>,
    /// Search: Salesforce id, destination id, email or name.
    #[arg(long)]
    pub q: Option<String>,
    /// Last attempt at or after (ISO 8601).
    #[arg(long)]
    pub since: Option<String>,
    /// Last attempt at or before (ISO 8601).
    #[arg(long)]
    pub until: Option<String>,
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

    pub fn query(&self) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| format!("&{k}={}", enc(v)))
            .collect()
    }

    pub fn json(&self) -> Value {
        Value::Object(
            self.pairs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
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
        /// Records per call (at most 1000; on Zendesk, bulk jobs take 100
        /// each, so 1000 makes the fewest calls).
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Only collect the outcomes of open Zendesk bulk jobs.
        #[arg(long, conflicts_with_all = ["records"])]
        collect: bool,
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
    /// Rewrite records written with 15-character Salesforce ids (sfsync's
    /// store, Zendesk external_id) to the 18-character form.
    #[command(
        name = "repair-ids",
        after_help = "Run once after upgrading from a version that did not normalise ids
(see the README's Upgrading notes). --dry-run first to see what would change.
Exits 2 when some records need a person (two Zendesk records, one under each form)."
    )]
    RepairIds {
        /// Report what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Records per call (1-500).
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
    /// Rebuild the record index that stats, record lists and exports read.
    #[command(
        after_help = "Run once after upgrading from a version without the index (the README's Upgrading
notes), or when the counts of `sfsync status` look wrong. Best while few messages arrive.
Example:\n  sfsync reindex"
    )]
    Reindex {
        /// Find records by listing every key, not through the previous index.
        #[arg(long)]
        from_keys: bool,
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

fn run(cli: Cli) -> Result<ExitCode> {
    let client = Client::new(&cli.url, cli.token.clone(), cli.ca_cert.as_deref())?;
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::Status { json } => done(cmd::status::status(&client, json)),
        Command::Pause => done(cmd::status::pause(&client)),
        Command::Resume => done(cmd::status::resume(&client)),
        Command::Records {
            filter,
            limit,
            all,
            json,
        } => done(cmd::records::list(&client, &filter, limit, all, json)),
        Command::Show { record } => done(cmd::records::show(&client, &record)),
        Command::Resend {
            records,
            filter,
            batch,
            collect,
        } => cmd::resend::run(&client, records, filter, batch, collect),
        Command::Backfill {
            object,
            file,
            batch,
            restart,
        } => cmd::backfill::run(&client, &object, &file, batch, restart),
        Command::Export { output, filter } => done(cmd::files::export(&client, &output, &filter)),
        Command::Import { file } => cmd::files::import(&client, &file),
        Command::Mapping(MappingCommand::Get) => done(cmd::mapping::get(&client)),
        Command::Mapping(MappingCommand::Put { file }) => done(cmd::mapping::put(&client, &file)),
        Command::Mapping(MappingCommand::Validate { file }) => {
            done(cmd::mapping::validate(&client, &file))
        }
        Command::Runs {
            process,
            status,
            since,
            until,
            json,
        } => done(cmd::runs::run(
            &client,
            &cmd::runs::RunFilter {
                process,
                status,
                since,
                until,
            },
            json,
        )),
        Command::RepairIds { dry_run, batch } => cmd::repair::run(&client, dry_run, batch),
        Command::Reindex { from_keys } => done(cmd::reindex::run(&client, from_keys)),
        Command::SendSample {
            file,
            updated,
            endpoint_token,
            org_id,
        } => done(cmd::send_sample::run(
            &client,
            &file,
            updated,
            &endpoint_token,
            &org_id,
        )),
    }
}
