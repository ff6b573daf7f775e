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
    let lock = store.lock_sync(&format!("approve {generation}")).await?;
    let result = store.approve(generation, &kinds).await;
    if result.is_ok()
        && let Err(e) = annuaire_ingest::index::build_index(&store, generation).await
    {
        eprintln!(
            "warning: the search index of generation {generation} could not be built ({e}); searches will build it"
        );
    }
    lock.release().await?;
    let kept = result?;
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
