//! `annuaire quality`.

use super::Ctx;
use crate::cli::{Format, QualityArgs};
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire quality`.
pub(crate) async fn run(ctx: Ctx, args: QualityArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let QualityArgs { generation, format } = args;
    let Some(report) = crate::quality::report(&store, generation).await? else {
        match generation {
            Some(g) => eprintln!("error: no quality report for generation {g}"),
            None => eprintln!("error: no quality report yet: run `annuaire sync` first"),
        }
        return Ok(ExitCode::FAILURE);
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&crate::api::wire::sorted(&report))?),
        Format::Table => print!("{}", crate::quality::text(&report)),
    }
    Ok(ExitCode::SUCCESS)
}
