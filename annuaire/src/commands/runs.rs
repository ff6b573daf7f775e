//! `annuaire runs`.

use super::Ctx;
use crate::cli::{Format, RunsArgs};
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Run `annuaire runs`.
pub(crate) async fn run(ctx: Ctx, args: RunsArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let RunsArgs { format } = args;
    let runs = store.runs().await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&runs)?),
        Format::Table => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:>4} {:>4} {:<9} {:<24} {:>8} {:>8} {:>8} {:>8}  source / reason",
                "run", "gen", "status", "started", "persons", "created", "updated", "deleted"
            )?;
            for r in runs {
                let n = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
                writeln!(
                    out,
                    "{:>4} {:>4} {:<9} {:<24} {:>8} {:>8} {:>8} {:>8}  {}{}",
                    r.run,
                    n(r.generation),
                    r.status.as_str(),
                    r.started_at,
                    n(r.persons),
                    n(r.created),
                    n(r.updated),
                    n(r.deleted),
                    r.source,
                    r.reason.map(|x| format!(" — {x}")).unwrap_or_default()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
