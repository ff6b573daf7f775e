//! The analysts' views of the served generation, opened for the CLI and the API (prepared first when missing: a
//! store written by an older version, a data directory of its own for each server).

use annuaire_search::{SearchIndex, view};
use annuaire_store::Store;
use anyhow::Context;
use std::path::PathBuf;

/// The served generation and its index.
pub async fn served_index(store: &Store) -> anyhow::Result<(i64, SearchIndex)> {
    let generation = store.served().await?.context("nothing is served yet: run `annuaire sync` first")?.generation;
    Ok((generation, open_index(store, generation).await?))
}

/// Generation `generation`'s search index, prepared when missing.
pub async fn open_index(store: &Store, generation: i64) -> anyhow::Result<SearchIndex> {
    let view: std::sync::Arc<dyn annuaire_views::GenerationView> = std::sync::Arc::new(view::SearchIndexView);
    let dirs = store.prepare(generation, &[view]).await?;
    Ok(SearchIndex::open(dirs.first().context("no folder for the search index")?)?)
}

/// Stream the served generation's records into `f`; returns the generation.
pub async fn for_each_served_person(
    store: &Store,
    mut f: impl FnMut(&annuaire_schemas::Person),
) -> anyhow::Result<i64> {
    let generation = store.served().await?.context("nothing is served yet: run `annuaire sync` first")?.generation;
    store
        .for_each_person_at(generation, |record| -> anyhow::Result<()> {
            f(&crate::record::parse(record)?);
            Ok(())
        })
        .await??;
    Ok(generation)
}

/// The counting table of a generation (`DATA_DIR/stats/gen-N/table.parquet`), prepared the first time it is needed
/// (streaming every record once) and read by every later count.
pub async fn stats_table(store: &Store, generation: i64) -> anyhow::Result<PathBuf> {
    let view: std::sync::Arc<dyn annuaire_views::GenerationView> = std::sync::Arc::new(view::CountingTableView);
    let dirs = store.prepare(generation, &[view]).await?;
    Ok(dirs.first().context("no folder for the counting table")?.join(view::STATS_FILE))
}

/// Distinct-person counts of the served generation, grouped by `by` (comma-separated), from its counting table.
/// `hold` is kept until the count ends, even when the caller stops waiting (an API budget permit).
pub async fn stats(
    store: &Store,
    by: &str,
    filter: annuaire_search::SearchRequest,
    hold: impl Send + 'static,
) -> anyhow::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    let by: Vec<String> = by.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let generation = store.served().await?.context("nothing is served yet: run `annuaire sync` first")?.generation;
    let path = stats_table(store, generation).await?;
    let groups = tokio::task::spawn_blocking(move || {
        let _hold = hold;
        let mut groups = annuaire_search::analytics::count_file(&path, &by, &filter)?;
        annuaire_search::analytics::add_labels(&mut groups, &by);
        Ok::<_, annuaire_search::analytics::Error>(groups)
    })
    .await??;
    Ok((generation, groups))
}
