//! The search index of each generation, in `DATA_DIR/index/gen-N`: built from the store before the
//! generation is promoted (so a search never sees another generation than the claims), swapped into place by
//! a rename, and pruned to the served generation and the one before it.

use crate::error::{Error, Result};
use annuaire_schemas::Person;
use annuaire_search::IndexBuilder;
use annuaire_store::Store;
use std::path::{Path, PathBuf};

/// The index folder of a store.
pub fn index_root(store: &Store) -> PathBuf {
    store.data_dir().join("index")
}

/// The folder of a generation's index.
pub fn index_dir(store: &Store, generation: i64) -> PathBuf {
    index_root(store).join(format!("gen-{generation}"))
}

/// Build the index of a generation from its records (streamed from the store), unless it exists.
pub async fn build_index(store: &Store, generation: i64) -> Result<PathBuf> {
    let dir = index_dir(store, generation);
    if dir.exists() {
        if IndexBuilder::is_current(&dir) {
            return Ok(dir);
        }
        // Written by an older version of annuaire (another schema): rebuilt from the records.
        tracing::info!(generation, "search index of an older format: rebuilding it");
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let root = index_root(store);
    let tmp = root.join(format!(".gen-{generation}.building"));
    let _ = std::fs::remove_dir_all(&tmp);
    let t = std::time::Instant::now();
    // A generation's changes are relative to the last generation promoted before it: when that one's
    // index exists, copy it and apply the changes (work proportional to the changes, as for the store).
    if let Some(base) = store.promoted_before(generation).await?
        && index_dir(store, base).exists()
        && IndexBuilder::is_current(&index_dir(store, base))
    {
        copy_dir(&index_dir(store, base), &tmp).map_err(|e| Error::io(&tmp, e))?;
        let builder = IndexBuilder::open(&tmp)?;
        let changes = store.changes_of(generation).await?;
        for (idnat, kind) in &changes {
            builder.remove(idnat);
            if *kind != annuaire_store::ChangeKind::Delete
                && let Some(stored) = store.person_at(idnat, generation).await?
            {
                builder.add(&serde_json::from_str::<Person>(&stored.record)?)?;
            }
        }
        tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|e| Error::Interrupted(format!("index thread failed: {e}")))??;
        std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, e))?;
        tracing::info!(generation, base, changes = changes.len(), elapsed = ?t.elapsed(), "search index updated");
        return Ok(dir);
    }
    let builder = IndexBuilder::create(&tmp)?;
    let mut count = 0u64;
    let streamed = store
        .for_each_person_at(generation, |record| -> Result<()> {
            let p: Person = serde_json::from_str(record)?;
            builder.add(&p)?;
            count += 1;
            Ok(())
        })
        .await?;
    streamed?;
    let tmp2 = tmp.clone();
    tokio::task::spawn_blocking(move || builder.finish())
        .await
        .map_err(|e| Error::Interrupted(format!("index thread failed: {e}")))??;
    std::fs::rename(&tmp2, &dir).map_err(|e| Error::io(&dir, e))?;
    tracing::info!(generation, persons = count, elapsed = ?t.elapsed(), "search index built");
    Ok(dir)
}

/// A generation's index built while the sync groups its persons, for a first load (nothing served before, so every
/// person of the generation is created by the sync and passes through [`LiveIndex::add`]): it spares reading every
/// record back from the store after the writes, and overlaps indexing with them.
pub struct LiveIndex {
    builder: IndexBuilder,
    tmp: PathBuf,
    dir: PathBuf,
    generation: i64,
}

impl LiveIndex {
    /// Start generation `generation`'s index.
    pub fn start(store: &Store, generation: i64) -> Result<LiveIndex> {
        let (tmp, dir) = (index_root(store).join(format!(".gen-{generation}.building")), index_dir(store, generation));
        let _ = std::fs::remove_dir_all(&tmp);
        // One indexing thread and 100 MB: the sync's own waves of partitions are in memory at the same time, and both
        // cores are busy with them already (two threads and 200 MB peaked at 1,015 MB in one of three runs).
        Ok(LiveIndex { builder: IndexBuilder::create_with(&tmp, Some(1), 100_000_000)?, tmp, dir, generation })
    }

    /// Add one person of the generation.
    pub fn add(&self, p: &Person) -> Result<()> {
        Ok(self.builder.add(p)?)
    }

    /// Commit, and move the index into place.
    pub async fn finish(self) -> Result<PathBuf> {
        let LiveIndex { builder, tmp, dir, generation } = self;
        let t = std::time::Instant::now();
        tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|e| Error::Interrupted(format!("index thread failed: {e}")))??;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, e))?;
        tracing::info!(generation, commit = ?t.elapsed(), "search index built during the sync");
        Ok(dir)
    }
}

/// Remove the indexes of generations other than `keep` (and unfinished builds).
pub fn prune_indexes(store: &Store, keep: &[i64]) {
    let root = index_root(store);
    let Ok(entries) = std::fs::read_dir(&root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let generation = name.strip_prefix("gen-").and_then(|g| g.parse::<i64>().ok());
        if generation.is_none_or(|g| !keep.contains(&g)) && !name.ends_with(".building") {
            remove(&e.path());
        }
    }
}

/// Remove the indexes of generations older than `generation` (kept: it and everything newer, which a sync
/// in another process may have just built).
pub fn prune_older_than(store: &Store, generation: i64) {
    let root = index_root(store);
    let Ok(entries) = std::fs::read_dir(&root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.strip_prefix("gen-").and_then(|g| g.parse::<i64>().ok()).is_some_and(|g| g < generation) {
            remove(&e.path());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() {
            // Segment files are immutable: a hard link is enough when the filesystem allows it.
            let target = to.join(e.file_name());
            if std::fs::hard_link(e.path(), &target).is_err() {
                std::fs::copy(e.path(), &target)?;
            }
        }
    }
    Ok(())
}

fn remove(path: &Path) {
    if let Err(err) = std::fs::remove_dir_all(path) {
        tracing::warn!(path = %path.display(), %err, "cannot remove an old index");
    }
}
