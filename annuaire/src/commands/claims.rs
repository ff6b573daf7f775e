//! `annuaire claims`.

use super::Ctx;
use crate::cli::ClaimsArgs;
use annuaire_claims::{Profile, user_info};
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire claims`.
pub(crate) async fn run(ctx: Ctx, args: ClaimsArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ClaimsArgs { id, profile } = args;
    let profile = Profile::parse_named(&profile).map_err(|e| anyhow::anyhow!(e))?;
    let Some((person, _)) = super::lookup(&store, &id).await? else {
        eprintln!("error: no professional {id} in the served generation");
        return Ok(ExitCode::FAILURE);
    };
    println!("{}", serde_json::to_string_pretty(&user_info(&person, profile))?);
    Ok(ExitCode::SUCCESS)
}
