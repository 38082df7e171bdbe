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
mod profile;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use client::{enc, Client};
use output::{Outcome, Output, Usage};

#[derive(Parser)]
#[command(
    name = "sfsync",
    version,
    about = "Admin CLI for sfsync, the Salesforce sync connector"
)]
#[command(
    after_help = "Examples:\n  export SFSYNC_URL=https://sfsync.example.com SFSYNC_TOKEN=...\n  sfsync doctor\n  sfsync status\n  sfsync records --status error\n  sfsync --profile prod resend --status error --object Contact\n\nOutput: tables for people; --json prints one JSON object, or one per line for lists.\nExit codes: 0 done, 1 error, 2 usage (wrong flags, a refused confirmation), 3 some records failed.\nresend, backfill, import and repair-ids ask before acting on more than 100 records (--yes does not)."
)]
struct Cli {
    /// Base URL of sfsync [default: the profile's, else http://127.0.0.1:3000].
    #[arg(long, env = "SFSYNC_URL", global = true)]
    url: Option<String>,
    /// A PEM file of a CA to trust for https:// (a private CA); the system's
    /// roots are always trusted.
    #[arg(long, env = "SFSYNC_CA_CERT", global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The admin token (the admin_token variable).
    #[arg(long, env = "SFSYNC_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// A named profile of the config file (URL, token, CA).
    #[arg(long, env = "SFSYNC_PROFILE", global = true)]
    profile: Option<String>,
    /// The config file [default: $SFSYNC_CONFIG, else ~/.config/sfsync/config.toml].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// JSON on stdout: one object, or one object per line for lists.
    #[arg(long, global = true)]
    json: bool,
    /// Act on more than 100 records without asking.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
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
    Status,
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
    },
    /// One record in full.
    #[command(after_help = "Example:\n  sfsync show Contact/003000000000001AAA")]
    Show {
        /// Object/SalesforceId
        record: String,
    },
    /// Push records again with the current mapping (by id, or by filter).
    #[command(
        after_help = "Examples:\n  sfsync resend Contact/003000000000001AAA Lead/00Q000000000001AAA\n  sfsync resend --status error --dry-run\n  sfsync resend --status pending --object Contact --batch 500 --yes\nAsks before resending more than 100 records (--yes does not ask).\nExits 3 when some records still failed."
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
        /// Say which records would be sent, and where; send nothing.
        #[arg(long, conflicts_with = "collect")]
        dry_run: bool,
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
    },
    /// Initial load: sync every row of a Salesforce CSV export.
    #[command(
        after_help = "Examples:\n  sfsync backfill --object Account accounts.csv\n  sfsync backfill --object Contact contacts.csv\nBackfill Accounts before Contacts so that Contacts find their organizations.\nInterrupted? Run the same command again: it resumes from the last batch\n(the cursor is kept in FILE.sfsync-cursor; --restart starts over).\nA report export works too: its column labels (\"First Name\") are matched to\nfield API names; --columns \"Label=ApiName,...\" names the others.\nAsks before sending more than 100 rows (--yes does not ask).\nExits 3 when some rows were rejected or failed."
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
        /// Header names to API names, for columns sfsync cannot match
        /// itself: "Account Name=Name,Web Address=Website".
        #[arg(long, value_name = "LABEL=API,...")]
        columns: Option<String>,
        /// Check the file and say what would be sent; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Initial load straight from Salesforce's REST API (no CSV file).
    #[command(
        after_help = "Examples:\n  sfsync pull --object Account\n  sfsync pull --object Contact --since 2026-11-01\nNeeds sf_my_domain_url, sf_client_id and sf_client_secret (docs/salesforce-setup.md).\nInterrupted? Run it again: it goes on from the last SystemModstamp read\n(saved in sfsync-pull-OBJECT.state; --restart starts over). Exits 3 when some records failed."
    )]
    Pull {
        /// The Salesforce object, e.g. Contact.
        #[arg(long)]
        object: String,
        /// Only records modified at or after this (ISO 8601 date or date-time).
        #[arg(long)]
        since: Option<String>,
        /// Records per call (200-2000).
        #[arg(long, default_value_t = 500)]
        batch: u32,
        /// Where the progress is saved.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Ignore saved progress.
        #[arg(long)]
        restart: bool,
    },
    /// A reconcile sweep: sync what changed in Salesforce since the last
    /// sweep and differs from what was synced.
    #[command(
        after_help = "Examples:\n  sfsync reconcile\n  sfsync reconcile --object Contact --lookback-minutes 60\nRun it on a schedule (cron, a SpinKube CronJob): see the README.\nExits 3 when some records failed."
    )]
    Reconcile {
        /// Only these objects (default: every mapped object).
        #[arg(long)]
        object: Vec<String>,
        /// Start this long before the last sweep's mark (default 10).
        #[arg(long)]
        lookback_minutes: Option<u32>,
    },
    /// Rewrite records written with 15-character Salesforce ids (sfsync's
    /// store, Zendesk external_id) to the 18-character form.
    #[command(
        name = "repair-ids",
        after_help = "Run once after upgrading from a version that did not normalise ids
(see the README's Upgrading notes). --dry-run first to see what would change.
Exits 3 when some records need a person (two Zendesk records, one under each form)."
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
    /// Check the deployment: variables, destination, mapping, store; each
    /// problem with its fix.
    #[command(
        after_help = "Example:\n  sfsync doctor\nExits 1 when something blocks sync (GET /admin/health answered 503)."
    )]
    Doctor,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  sfsync completions bash > ~/.local/share/bash-completion/completions/sfsync\n  sfsync completions zsh > ~/.zfunc/_sfsync\n  sfsync completions fish > ~/.config/fish/completions/sfsync.fish"
    )]
    Completions { shell: clap_complete::Shell },
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
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The client, from the flags and environment over the profile.
fn client(cli: &Cli) -> Result<Client> {
    let profile = profile::load(cli.config.as_deref(), cli.profile.as_deref())?;
    let url = cli
        .url
        .clone()
        .or(profile.url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let token = match &cli.token {
        Some(t) => Some(t.clone()),
        None => profile.token()?,
    };
    let ca = cli.ca_cert.clone().or(profile.ca_cert());
    Client::new(&url, token, ca.as_deref())
}

fn run(cli: Cli) -> Result<Outcome> {
    let out = Output::new(cli.json);
    if let Command::Completions { shell } = &cli.command {
        use clap::CommandFactory as _;
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "sfsync",
            &mut std::io::stdout(),
        );
        return Ok(Outcome::Done);
    }
    let client = client(&cli)?;
    let done = |r: Result<()>| r.map(|()| Outcome::Done);
    let yes = cli.yes;
    match cli.command {
        Command::Completions { .. } => Ok(Outcome::Done),
        Command::Status => done(cmd::status::status(&client, &out)),
        Command::Doctor => cmd::doctor::run(&client, &out),
        Command::Pause => done(cmd::status::pause(&client, &out)),
        Command::Resume => done(cmd::status::resume(&client, &out)),
        Command::Records { filter, limit, all } => {
            done(cmd::records::list(&client, &out, &filter, limit, all))
        }
        Command::Show { record } => done(cmd::records::show(&client, &out, &record)),
        Command::Resend {
            records,
            filter,
            batch,
            collect,
            dry_run,
        } => cmd::resend::run(
            &client,
            &out,
            cmd::resend::Request {
                records,
                filter,
                batch,
                collect,
                dry_run,
                yes,
            },
        ),
        Command::Backfill {
            object,
            file,
            batch,
            restart,
            columns,
            dry_run,
        } => cmd::backfill::run(
            &client,
            &out,
            &cmd::backfill::Request {
                object,
                file,
                batch,
                restart,
                columns,
                dry_run,
                yes,
            },
        ),
        Command::Pull {
            object,
            since,
            batch,
            state,
            restart,
        } => cmd::pull::run(
            &client,
            &out,
            &cmd::pull::Request {
                object,
                since,
                batch,
                state,
                restart,
            },
        ),
        Command::Reconcile {
            object,
            lookback_minutes,
        } => cmd::pull::reconcile(&client, &out, object, lookback_minutes),
        Command::Export { output, filter } => {
            done(cmd::files::export(&client, &out, &output, &filter))
        }
        Command::Import { file } => cmd::files::import(&client, &out, &file, yes),
        Command::Mapping(MappingCommand::Get) => done(cmd::mapping::get(&client, &out)),
        Command::Mapping(MappingCommand::Put { file }) => {
            done(cmd::mapping::put(&client, &out, &file))
        }
        Command::Mapping(MappingCommand::Validate { file }) => {
            done(cmd::mapping::validate(&client, &out, &file))
        }
        Command::Runs {
            process,
            status,
            since,
            until,
        } => done(cmd::runs::run(
            &client,
            &out,
            &cmd::runs::RunFilter {
                process,
                status,
                since,
                until,
            },
        )),
        Command::RepairIds { dry_run, batch } => {
            cmd::repair::run(&client, &out, dry_run, batch, yes)
        }
        Command::Reindex { from_keys } => done(cmd::reindex::run(&client, &out, from_keys)),
        Command::SendSample {
            file,
            updated,
            endpoint_token,
            org_id,
        } => done(cmd::send_sample::run(
            &client,
            &out,
            &file,
            updated,
            &endpoint_token,
            &org_id,
        )),
    }
}
