//! `annuaire approve`.

use super::Ctx;
use crate::cli::ApproveArgs;
use anyhow::{Result, bail};
use std::process::ExitCode;

/// Run `annuaire approve`.
pub(crate) async fn run(ctx: Ctx, args: ApproveArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ApproveArgs { generation, exclude } = args;
    let mut kinds = Vec::new();
    for e in &exclude {
        match annuaire_store::ChangeKind::parse(e) {
            Some(k) => kinds.push(k),
            None => bail!("--exclude takes delete, update or create, not {e:?}"),
        }
    }
    // Invariant 6: a generation is promoted only once the views the sync makes before promoting are complete.
    let kept = annuaire_ingest::approve(&store, generation, &kinds, &crate::views::before_promotion())
        .await
        .map_err(|e| anyhow::anyhow!("{e}: generation {generation} not promoted, still held"))?;
    let n = |k| kept.get(&k).copied().unwrap_or(0);
    use annuaire_store::ChangeKind::{Create, Delete, Update};
    println!(
        "promoted generation {generation}: {} created, {} updated, {} deleted{}",
        n(Create),
        n(Update),
        n(Delete),
        if exclude.is_empty() { String::new() } else { format!(" (left out: {})", exclude.join(", ")) }
    );
    Ok(ExitCode::SUCCESS)
}
