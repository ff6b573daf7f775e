//! Opening the search index of the served generation (building it when it is missing, e.g. for a store
//! written before search existed, or right after an approval).

use annuaire_search::SearchIndex;
use annuaire_store::Store;
use anyhow::Context;
use std::path::PathBuf;

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
            f(&crate::record::parse(record)?);
            Ok(())
        })
        .await??;
    Ok(generation)
}

/// The counting table of a generation (`DATA_DIR/stats/v3/gen-N.parquet`), written the first time it is needed
/// (streaming every record once) and read by every later count. Tables of older generations are removed.
pub async fn stats_table(store: &Store, generation: i64) -> anyhow::Result<PathBuf> {
    // `v3`: the table's columns (a table of an older version is not read; it is written again here).
    let dir = store.data_dir().join("stats").join("v3");
    let path = dir.join(format!("gen-{generation}.parquet"));
    if path.exists() {
        return Ok(path);
    }
    // One writer per process at a time (the first `stats` after a promotion and the background preparation may
    // ask together): the second one finds the table written.
    static WRITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _writing = WRITING.lock().await;
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let t = std::time::Instant::now();
    let mut table = annuaire_search::analytics::StatsTable::new(annuaire_search::SearchRequest::default());
    store
        .for_each_person_at(generation, |record| -> anyhow::Result<()> {
            table.push(&crate::record::parse(record)?);
            Ok(())
        })
        .await??;
    // Written aside under a unique name and renamed: a reader never sees half a file, and two writers (two
    // servers sharing a data directory by mistake, or a CLI beside a server) never write the same file.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".gen-{generation}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?
        .into_temp_path();
    let path2 = path.clone();
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let rows = table.write_parquet(&tmp)?;
        tmp.persist(&path2).with_context(|| format!("cannot rename into {}", path2.display()))?;
        Ok(rows)
    })
    .await??;
    tracing::info!(generation, rows, elapsed = ?t.elapsed(), "counting table written");
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let older = name
            .strip_prefix("gen-")
            .and_then(|n| n.strip_suffix(".parquet"))
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|g| g < generation);
        if older {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(path)
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
        annuaire_search::analytics::count_file(&path, &by, &filter)
    })
    .await??;
    Ok((generation, groups))
}
