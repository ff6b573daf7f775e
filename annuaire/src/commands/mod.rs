//! One module per command: each takes the opened store and configuration ([`Ctx`]) and its own arguments, and
//! returns the exit status.

mod approve;
mod changes;
mod claims;
mod eligible;
mod export;
mod quality;
mod repack;
mod runs;
mod search;
mod serve;
mod show;
mod stats;
mod sync;
mod usage;

use crate::cli::{Cli, Command};
use crate::{config, record};
use annuaire_schemas::Person;
use annuaire_store::Store;
use anyhow::{Context, Result, bail};
use std::process::ExitCode;

/// Exit status of a sync held by the safety gate.
pub(crate) const EXIT_HELD: u8 = 3;

/// What every command gets: the store and the configuration.
pub(crate) struct Ctx {
    pub(crate) store: Store,
    pub(crate) config: config::Config,
}

/// Open the configuration and the store (the data directory made private first), then run the command.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => config::Config::load(path)?,
        None => config::Config::default(),
    };
    crate::secure_data_dir(&cli.data_dir)?;
    let store =
        Store::connect(&cli.data_dir, cli.database_url.as_deref()).await.with_context(|| match &cli.database_url {
            Some(url) => format!("cannot open the store in {}", annuaire_store::redact(url)),
            None => format!("cannot open the store in {}", cli.data_dir.display()),
        })?;
    let ctx = Ctx { store, config };
    match cli.command {
        Command::Sync(args) => sync::run(ctx, args).await,
        Command::Serve(args) => serve::run(ctx, args).await,
        Command::Claims(args) => claims::run(ctx, args).await,
        Command::Show(args) => show::run(ctx, args).await,
        Command::Eligible(args) => eligible::run(ctx, args).await,
        Command::Usage(args) => usage::run(ctx, args).await,
        Command::Search(args) => search::run(ctx, args).await,
        Command::Stats(args) => stats::run(ctx, args).await,
        Command::Export(args) => export::run(ctx, args).await,
        Command::Runs(args) => runs::run(ctx, args).await,
        Command::Quality(args) => quality::run(ctx, args).await,
        Command::Approve(args) => approve::run(ctx, args).await,
        Command::Changes(args) => changes::run(ctx, args).await,
        Command::Repack(args) => repack::run(ctx, args).await,
    }
}

/// Find a professional in the served generation by idNat, bare RPPS or bare ADELI.
pub(crate) async fn lookup(store: &Store, id: &str) -> Result<Option<(Person, i64)>> {
    let Some(served) = store.served().await? else {
        bail!("nothing is served yet: run `annuaire sync --source ...` first");
    };
    Ok(record::lookup(store, id, served.generation).await?.map(|p| (p, served.generation)))
}
