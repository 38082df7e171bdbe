//! A stand-in for the `spin` CLI, to check the suite's `SPIN_BIN` path on a
//! machine where no real Spin can be installed:
//!
//! ```sh
//! cargo build -p sfsync-tests --features spin-stand-in --bin spin-stand-in
//! SPIN_BIN=$PWD/target/debug/spin-stand-in ./scripts/test
//! ```
//!
//! `spin-stand-in up --listen ADDR --state-dir DIR -f spin.toml
//! [--runtime-config-file RC]` takes the flags the suite gives `spin up` and
//! the `SPIN_VARIABLE_*` environment, and — like Spin, whose `spin up` runs
//! the app in a `spin trigger http` child — starts a child process that
//! serves the app with the test host. The parent does not pass signals on,
//! so a harness that stops only the parent leaves the child running, which
//! is what the suite's process-group handling must prevent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use sfsync_tests::host::{Host, HostOptions};
use sfsync_tests::kv::KvConfig;
use sfsync_tests::manifest::Manifest;
use sfsync_tests::outbound::SpinRules;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("up") => {
            let status = std::process::Command::new(std::env::current_exe()?)
                .arg("trigger")
                .args(&args[1..])
                .status()
                .context("starting the trigger child")?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Some("trigger") => trigger(&args[1..]),
        _ => bail!("usage: spin-stand-in up --listen ADDR --state-dir DIR -f spin.toml [--runtime-config-file RC]"),
    }
}

fn trigger(args: &[String]) -> Result<()> {
    let mut listen = None;
    let mut state_dir = PathBuf::from(".spin");
    let mut manifest = PathBuf::from("spin.toml");
    let mut runtime_config = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().context("--listen")?),
            "--state-dir" => state_dir = value.into(),
            "-f" | "--from" => manifest = value.into(),
            "--runtime-config-file" => runtime_config = Some(PathBuf::from(value)),
            other => bail!("unknown flag {other}"),
        }
    }
    let listen = listen.unwrap_or_else(|| ([127, 0, 0, 1], 3000).into());
    let declared = Manifest::load(&manifest)?.variables;
    let variables: BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("SPIN_VARIABLE_")?.to_ascii_lowercase();
            declared.contains_key(&name).then_some((name, v))
        })
        .collect();
    let kv = match &runtime_config {
        Some(path) => KvConfig::from_runtime_config(&std::fs::read_to_string(path)?)?,
        None => KvConfig::Sqlite,
    };
    let options = HostOptions {
        rules: SpinRules::from_env(),
        kv,
        manifest: manifest.clone(),
        runtime_config,
        failing_variables: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let host = Arc::new(Host::start(&manifest, &state_dir, &variables, &options)?);
    runtime.block_on(async move {
        let _listener = host.listen_on(listen).await?;
        println!("Serving http://{listen}");
        std::future::pending::<Result<()>>().await
    })
}
