//! `annuaire stats`.

use super::Ctx;
use crate::cli::{SearchFormat, StatsArgs};
use crate::search;
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Draw the groups: the tile map for `--by department`, else a bar chart labelled with each group's labels (or
/// codes).
fn draw(
    path: &std::path::Path,
    by: &str,
    generation: i64,
    groups: &[serde_json::Map<String, serde_json::Value>],
) -> Result<()> {
    let keys: Vec<&str> = by.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let count = |g: &serde_json::Map<String, serde_json::Value>| g.get("persons").and_then(|v| v.as_u64()).unwrap_or(0);
    let text = |g: &serde_json::Map<String, serde_json::Value>, k: &str| {
        g.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
    };
    let chart = if keys == ["department"] {
        let counts = groups.iter().map(|g| (text(g, "department"), count(g))).collect();
        crate::chart::Chart::Map {
            title: &format!("Professionnels par département (génération {generation})"), counts
        }
    } else {
        let rows = groups
            .iter()
            .map(|g| {
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let (code, label) = (text(g, k), text(g, &format!("{k}_label")));
                        if label.is_empty() { code } else { format!("{label} ({code})") }
                    })
                    .collect();
                (parts.join(" / "), count(g))
            })
            .collect();
        crate::chart::Chart::Bars {
            title: &format!("Professionnels par {} (génération {generation})", keys.join(", ")),
            rows,
        }
    };
    crate::chart::draw(path, &chart)
}

/// Run `annuaire stats`.
pub(crate) async fn run(ctx: Ctx, args: StatsArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let StatsArgs { by, filters, format, chart } = args;
    let (generation, groups) = search::stats(&store, &by, filters.request(), ()).await?;
    if let Some(path) = &chart {
        draw(path, &by, generation, &groups)?;
        eprintln!("drew {} groups of generation {generation} into {}", groups.len(), path.display());
    }
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
