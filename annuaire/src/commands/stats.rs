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
            // Each code with its label beside it, where the column has labels.
            let columns: Vec<String> = keys
                .iter()
                .flat_map(|k| {
                    let label = format!("{k}_label");
                    let labelled = groups.iter().any(|g| g.contains_key(&label));
                    std::iter::once(k.clone()).chain(labelled.then_some(label))
                })
                .collect();
            let cell = |v: &str| {
                if format == SearchFormat::Csv && (v.contains(',') || v.contains('"')) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.to_string()
                }
            };
            writeln!(out, "{}{sep}persons", columns.join(sep))?;
            for g in &groups {
                let vals: Vec<String> =
                    columns.iter().map(|k| cell(g.get(k).and_then(|v| v.as_str()).unwrap_or(""))).collect();
                writeln!(out, "{}{sep}{}", vals.join(sep), g["persons"])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
