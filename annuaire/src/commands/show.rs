//! `annuaire show`.

use super::Ctx;
use crate::cli::ShowArgs;
use crate::record;
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire show`.
pub(crate) async fn run(ctx: Ctx, args: ShowArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ShowArgs { id } = args;
    let Some((person, generation)) = super::lookup(&store, &id).await? else {
        eprintln!("error: no professional {id} in the served generation");
        return Ok(ExitCode::FAILURE);
    };
    let v = record::native(&store, &person, generation).await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}
