//! `annuaire usage`.

use super::Ctx;
use crate::cli::{Format, UsageArgs};
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire usage`.
pub(crate) async fn run(ctx: Ctx, args: UsageArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let UsageArgs { since, format } = args;
    let since = since.unwrap_or_else(|| "0000-00-00".to_string());
    let report = store.usage_since(&since).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => {
            println!("{:<20} {:>10} {:>14} {:>10} {:>10}", "client", "calls", "professionals", "eligible", "refused");
            for r in report {
                println!(
                    "{:<20} {:>10} {:>14} {:>10} {:>10}",
                    r.client, r.calls, r.distinct_professionals, r.eligible, r.refused
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
