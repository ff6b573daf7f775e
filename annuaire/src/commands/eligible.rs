//! `annuaire eligible`.

use super::Ctx;
use crate::cli::EligibleArgs;
use crate::record;
use anyhow::{Result, bail};
use std::process::ExitCode;

/// Run `annuaire eligible`.
pub(crate) async fn run(ctx: Ctx, args: EligibleArgs) -> Result<ExitCode> {
    let Ctx { store, config } = ctx;
    let EligibleArgs { id, service } = args;
    let Some(policy) = config.services.get(&service) else {
        let known: Vec<&String> = config.services.keys().collect();
        bail!("no policy for service {service:?} in the config file (known: {known:?})");
    };
    let Some((person, generation)) = super::lookup(&store, &id).await? else {
        eprintln!("error: no professional {id} in the served generation");
        return Ok(ExitCode::FAILURE);
    };
    let body = record::eligibility_body(&policy.decide(&person), generation, &person, &service);
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}
