//! `annuaire export`.

use super::Ctx;
use crate::cli::{ExportArgs, ExportFormatArg};
use crate::search;
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire export`.
pub(crate) async fn run(ctx: Ctx, args: ExportArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ExportArgs { format, out, filters, since, types } = args;
    if format == ExportFormatArg::FhirNdjson {
        return fhir_ndjson(&store, out, filters, since, types).await;
    }
    if since.is_some() || types.is_some() {
        anyhow::bail!("--since and --type are for --format fhir-ndjson");
    }
    let mut table = annuaire_search::analytics::ExportTable::new(filters.request());
    let generation = search::for_each_served_person(&store, |p| table.push(p)).await?;
    let f = match format {
        ExportFormatArg::Parquet => annuaire_search::analytics::ExportFormat::Parquet,
        ExportFormatArg::Csv => annuaire_search::analytics::ExportFormat::Csv,
        ExportFormatArg::FhirNdjson => unreachable!("handled above"),
    };
    let rows = table.write(&out, f)?;
    eprintln!("wrote {rows} rows of generation {generation} to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `annuaire export --format fhir-ndjson --out DIR`: what `GET /fhir/$export` writes, with a progress bar.
async fn fhir_ndjson(
    store: &annuaire_store::Store,
    out: std::path::PathBuf,
    filters: crate::cli::Filters,
    since: Option<String>,
    types: Option<String>,
) -> Result<ExitCode> {
    use crate::fhir::export::{ExportRequest, filter};
    let fail = |e: crate::fhir::FhirError| anyhow::anyhow!("{}", e.parts().2);
    let mut req = ExportRequest::parse(types.as_deref(), since.as_deref(), &[]).map_err(fail)?;
    for (name, value) in [
        ("department", filters.department),
        ("qualification-code", filters.profession),
        ("data-registration-authority", filters.authority),
    ] {
        if let Some(v) = value {
            req.filters.push(filter(name, &v).map_err(fail)?);
        }
    }
    if filters.commune.is_some()
        || filters.savoir_faire.is_some()
        || filters.valid_card.is_some()
        || filters.mailbox.is_some()
    {
        anyhow::bail!("fhir-ndjson filters: --department, --profession and --authority");
    }
    let served =
        store.served().await?.ok_or_else(|| anyhow::anyhow!("nothing is served yet: run `annuaire sync` first"))?;
    let promotions = crate::fhir::Promotions::read(store).await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} persons read ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let report = |n: u64| bar.set_position(n);
    let outputs =
        crate::fhir::export::write(store, &promotions, served.generation, &req, &out, &report).await.map_err(fail)?;
    bar.finish_and_clear();
    for o in &outputs {
        eprintln!("{}: {} resources, {} bytes", out.join(&o.file).display(), o.count, o.bytes);
    }
    eprintln!("exported generation {} to {}", served.generation, out.display());
    Ok(ExitCode::SUCCESS)
}
