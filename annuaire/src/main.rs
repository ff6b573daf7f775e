//! `annuaire`: keeps the national directory of health professionals in sync and answers who a
//! professional is, in Pro Santé Connect's shape.
//!
//! Exit statuses: 0 success (promoted, unchanged); 1 failure or unknown id; 2 bad usage; 3 sync held by
//! the safety gate (nothing changed in what is served).

mod alerts;
mod api;
mod chart;
mod cli;
mod commands;
mod config;
mod fhir;
mod prepare;
mod progress;
mod quality;
mod record;
mod search;
mod serve;
mod views;

use anyhow::{Context, Result};
use clap::Parser;
use std::process::ExitCode;

/// The ingest allocates and frees millions of small strings: mimalloc is markedly faster at it than the
/// system allocator (profiled: malloc and free were a fifth of the national load's CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs to stderr: colours only on a terminal; `ANNUAIRE_LOG_FORMAT=json` gives one JSON object per line.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = || tracing_subscriber::EnvFilter::try_from_env("ANNUAIRE_LOG").unwrap_or_else(|_| "warn".into());
    if std::env::var("ANNUAIRE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt().json().with_env_filter(filter()).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
}

/// The data directory 0700 and the SQLite files 0600, whatever they were created with: the store holds usage records
/// and, with the restricted extract, birth dates, phones and e-mail addresses. Every file this process creates is
/// 0600 already (umask 077, set first thing in `main`).
pub(crate) fn secure_data_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
    for name in ["annuaire.db", "annuaire.db-wal", "annuaire.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private (0600)", path.display()))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // Private files whatever the umask: the store, downloads, snapshots, indexes and exports hold personal data.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    init_logs();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS // `annuaire search ... | head`: the reader left, nothing to report
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
