//! One module per subcommand (or pair of close ones). Each turns its
//! arguments into admin API calls through [`crate::client::Client`], reads
//! the typed answers of `sync_core::admin::wire`, and prints.

pub mod backfill;
pub mod doctor;
pub mod files;
pub mod jobs;
pub mod mapping;
pub mod pull;
pub mod records;
pub mod reindex;
pub mod repair;
pub mod resend;
pub mod runs;
pub mod send_sample;
pub mod status;
