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
