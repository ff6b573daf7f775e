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
    // Invariant 6: a generation is promoted only once its search index is complete. The exclusions are applied
    // first (the generation stays held), the index is built from what it will serve, and only then is it promoted.
    let result = async {
        store.exclude_changes(generation, &kinds).await?;
        annuaire_ingest::index::build_index(&store, generation).await.map_err(|e| {
            anyhow::anyhow!(
                "the search index of generation {generation} could not be built ({e}): not promoted, still held"
            )
        })?;
        Ok::<_, anyhow::Error>(store.approve(generation, &kinds).await?)
    }
    .await;
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
