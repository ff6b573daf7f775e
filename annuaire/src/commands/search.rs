//! `annuaire search`.

use super::Ctx;
use crate::cli::{SearchArgs, SearchFormat};
use crate::search;
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Run `annuaire search`.
pub(crate) async fn run(ctx: Ctx, args: SearchArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let SearchArgs { text, filters, limit, offset, format } = args;
    let req = annuaire_search::SearchRequest {
        text: (!text.is_empty()).then(|| text.join(" ")),
        limit,
        offset,
        ..filters.request()
    };
    if let Err(e) = req.validate() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let (generation, index) = search::served_index(&store).await?;
    let r = index.search(&req)?;
    match format {
        SearchFormat::Json => {
            let mut v = serde_json::to_value(&r)?;
            v["generation"] = generation.into();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SearchFormat::Csv => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "idnat,family_name,given_name,professions,authorities,place")?;
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            for h in &r.hits {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    h.idnat,
                    q(&h.family_name),
                    q(&h.given_name),
                    q(&h.professions.join(" ")),
                    q(&h.authorities.join(" ")),
                    q(&h.place)
                )?;
            }
        }
        SearchFormat::Table => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{} professionals (generation {generation}); showing {} from {}",
                r.total,
                r.hits.len(),
                req.offset
            )?;
            for h in &r.hits {
                writeln!(
                    out,
                    "{:<13} {:<28} {:<20} {:<8} {:<10} {}",
                    h.idnat,
                    h.family_name,
                    h.given_name,
                    h.professions
                        .iter()
                        .map(|c| annuaire_schemas::codes::label(annuaire_schemas::codes::Kind::Profession, c)
                            .map_or(c.clone(), |l| format!("{l} ({c})")))
                        .collect::<Vec<_>>()
                        .join(", "),
                    h.authorities.join(","),
                    h.place
                )?;
            }
            for (facet, counts) in &r.facets {
                let mut top: Vec<(&String, &u64)> = counts.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let shown: Vec<String> = top.iter().take(8).map(|(k, v)| format!("{k}: {v}")).collect();
                writeln!(out, "  {facet}: {}", shown.join(", "))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
