//! Opening the search index of the served generation (building it when it is missing, e.g. for a store
//! written before search existed, or right after an approval).

use annuaire_search::SearchIndex;
use annuaire_store::Store;
use anyhow::Context;

/// The served generation and its index.
pub async fn served_index(store: &Store) -> anyhow::Result<(i64, SearchIndex)> {
    let generation = store.served().await?.context("nothing is served yet: run `annuaire sync` first")?.generation;
    let dir = annuaire_ingest::index::build_index(store, generation).await?;
    Ok((generation, SearchIndex::open(&dir)?))
}

/// Stream the served generation's records into `f`; returns the generation.
pub async fn for_each_served_person(
    store: &Store,
    mut f: impl FnMut(&annuaire_schemas::Person),
) -> anyhow::Result<i64> {
    let generation = store.served().await?.context("nothing is served yet: run `annuaire sync` first")?.generation;
    store
        .for_each_person_at(generation, |record| -> anyhow::Result<()> {
            f(&serde_json::from_str(record).context("a stored record cannot be read")?);
            Ok(())
        })
        .await??;
    Ok(generation)
}

/// Distinct-person counts of the served generation, grouped by `by` (comma-separated).
pub async fn stats(
    store: &Store,
    by: &str,
    filter: annuaire_search::SearchRequest,
) -> anyhow::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    let by: Vec<String> = by.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let mut table = annuaire_search::analytics::StatsTable::new(filter);
    let generation = for_each_served_person(store, |p| table.push(p)).await?;
    Ok((generation, table.count_by(&by)?))
}
