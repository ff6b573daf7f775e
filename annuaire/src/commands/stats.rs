//! `annuaire stats`.

use super::Ctx;
use crate::cli::{SearchFormat, StatsArgs};
use crate::search;
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Run `annuaire stats`.
pub(crate) async fn run(ctx: Ctx, args: StatsArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let StatsArgs { by, filters, format } = args;
    let (generation, groups) = search::stats(&store, &by, filters.request(), ()).await?;
    match format {
        SearchFormat::Json => println!("{}", serde_json::to_string_pretty(&groups)?),
        SearchFormat::Csv | SearchFormat::Table => {
            let keys: Vec<String> = by.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            let sep = if format == SearchFormat::Csv { "," } else { "\t" };
            let mut out = std::io::stdout().lock();
            if format == SearchFormat::Table {
                writeln!(out, "generation {generation}")?;
            }
            writeln!(out, "{}{sep}persons", keys.join(sep))?;
            for g in &groups {
                let vals: Vec<String> = keys.iter().map(|k| g[k].as_str().unwrap_or("").to_string()).collect();
                writeln!(out, "{}{sep}{}", vals.join(sep), g["persons"])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
