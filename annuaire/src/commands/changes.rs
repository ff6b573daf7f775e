//! `annuaire changes`.

use super::Ctx;
use crate::cli::{ChangesArgs, Format};
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Run `annuaire changes`.
pub(crate) async fn run(ctx: Ctx, args: ChangesArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ChangesArgs { since, format } = args;
    let changes = store.changes_since(since).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&changes)?),
        Format::Table => {
            let mut out = std::io::stdout().lock();
            for c in changes {
                writeln!(out, "{:>4} {:<7} {}", c.generation, c.change.as_str(), c.id)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
