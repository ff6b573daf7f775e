//! `annuaire export`.

use super::Ctx;
use crate::cli::{ExportArgs, ExportFormatArg};
use crate::search;
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire export`.
pub(crate) async fn run(ctx: Ctx, args: ExportArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ExportArgs { format, out, filters } = args;
    let mut table = annuaire_search::analytics::ExportTable::new(filters.request());
    let generation = search::for_each_served_person(&store, |p| table.push(p)).await?;
    let f = match format {
        ExportFormatArg::Parquet => annuaire_search::analytics::ExportFormat::Parquet,
        ExportFormatArg::Csv => annuaire_search::analytics::ExportFormat::Csv,
    };
    let rows = table.write(&out, f)?;
    eprintln!("wrote {rows} rows of generation {generation} to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
