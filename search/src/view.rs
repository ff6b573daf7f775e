//! The search engine's two views of a generation ([`annuaire_views::GenerationView`]): the tantivy index
//! (`DATA_DIR/index/gen-N`, updated from the previous generation's by its changes) and the counting table
//! (`DATA_DIR/stats/gen-N/table.parquet`, built from every record).

use crate::analytics::StatsTable;
use crate::{IndexBuilder, SearchRequest};
use annuaire_schemas::Person;
use annuaire_views::{Build, GenerationView, SharedAdd, ViewWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The search index's folder name under the data directory.
pub const INDEX: &str = "index";
/// The counting table's folder name under the data directory.
pub const STATS: &str = "stats";
/// The counting table's file in its folder.
pub const STATS_FILE: &str = "table.parquet";

/// The tantivy index of a generation.
pub struct SearchIndexView;

impl GenerationView for SearchIndexView {
    fn name(&self) -> &'static str {
        INDEX
    }

    fn version(&self) -> u32 {
        // Bump with the schema in `index.rs` (an index with other fields is also refused by `IndexBuilder::open`).
        // 2: the ranking's tiers (family_head, family_rest, given).
        // 3 and 4 held the FHIR directory's fields, which cost the first load 40 % more CPU and 260 MB
        // (docs/benchmarks.md); 5 is 2's schema again, and the FHIR fields are an index of their own (`FhirIndexView`).
        // 6: no `names` field (the one-typo tier reads the three tiers' fields), the tiers without frequencies, and no
        // field that nothing queries (category, postal code, mode, sector, id type). 7: no field norms (nothing scores
        // by a field's length).
        7
    }

    fn build(&self, dir: &Path, _: i64, how: Build) -> annuaire_views::Result<Box<dyn ViewWriter>> {
        let builder = match how {
            Build::Alone => IndexBuilder::create(dir)?,
            // 100 MB, not more: the sync's own waves of partitions are in memory at the same time (two threads and
            // 200 MB peaked at 1,015 MB in one of three runs). One indexing thread, or two sharing the 100 MB when the
            // load is larger than a segment: with one, the sync's workers waited for it each time it finished a
            // segment (1 s or more at one core, three times per national load); with two, one takes documents while
            // the other finishes its segment (5 % less wall, the same CPU and peak RSS, the same search latency:
            // docs/benchmarks.md, "the late afternoon of 2026-12-03" and the afternoon's). A smaller load fits one segment: two threads would
            // only split it in two (and the order of equal names would follow which thread took which person).
            Build::BesideSync { documents } => {
                let threads = if documents > ONE_SEGMENT { 2 } else { 1 };
                IndexBuilder::create_with(dir, Some(threads), 100_000_000)?
            }
        };
        Ok(Box::new(IndexWriting(Arc::new(builder))))
    }

    fn update(&self, base: &Path, dir: &Path, _: i64) -> annuaire_views::Result<Option<Box<dyn ViewWriter>>> {
        if !IndexBuilder::is_current(base) {
            return Ok(None);
        }
        copy_dir(base, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Some(Box::new(IndexWriting(Arc::new(IndexBuilder::open(dir)?)))))
    }
}

/// About the documents one indexing thread holds in 100 MB before it writes a segment (601,444 and 602,543 in a
/// national load, `ANNUAIRE_LOG=debug`); a little under, so that a load of one segment and a bit takes two threads.
pub(crate) const ONE_SEGMENT: u64 = 500_000;

/// The index being written; shared with the threads that add persons ([`SharedAdd`]: tantivy's writer takes documents
/// from any thread), unshared again when it is finished.
struct IndexWriting(Arc<IndexBuilder>);

impl ViewWriter for IndexWriting {
    fn remove(&mut self, idnat: &str) -> annuaire_views::Result<()> {
        self.0.remove(idnat)?;
        Ok(())
    }

    fn add(&mut self, person: &Person) -> annuaire_views::Result<()> {
        Ok(self.0.add(person)?)
    }

    fn finish(self: Box<Self>) -> annuaire_views::Result<()> {
        let builder = Arc::try_unwrap(self.0).map_err(|_| "the index is finished while persons are still added")?;
        Ok(builder.finish()?)
    }

    fn shared(&self) -> Option<Arc<dyn SharedAdd>> {
        Some(self.0.clone())
    }
}

impl SharedAdd for IndexBuilder {
    fn add(&self, person: &Person) -> annuaire_views::Result<()> {
        Ok(IndexBuilder::add(self, person)?)
    }
}

/// Copy an index folder (segment files are immutable: a hard link is enough when the filesystem allows it).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() && e.file_name() != annuaire_views::MARKER {
            let target = to.join(e.file_name());
            if std::fs::hard_link(e.path(), &target).is_err() {
                std::fs::copy(e.path(), &target)?;
            }
        }
    }
    Ok(())
}

/// The counting table of a generation: one row per person and group value, read by every count of
/// [`crate::analytics::count_file`].
pub struct CountingTableView;

impl GenerationView for CountingTableView {
    fn name(&self) -> &'static str {
        STATS
    }

    fn version(&self) -> u32 {
        // The table's columns (`analytics::StatsTable`); 3 was the last version written as `stats/v3/gen-N.parquet`.
        4
    }

    fn build(&self, dir: &Path, _: i64, _: Build) -> annuaire_views::Result<Box<dyn ViewWriter>> {
        Ok(Box::new(Counting(StatsTable::new(SearchRequest::default()), dir.join(STATS_FILE))))
    }
}

struct Counting(StatsTable, PathBuf);

impl ViewWriter for Counting {
    fn remove(&mut self, _: &str) -> annuaire_views::Result<()> {
        Err("the counting table is built from every record, never updated".into())
    }

    fn add(&mut self, person: &Person) -> annuaire_views::Result<()> {
        self.0.push(person);
        Ok(())
    }

    fn finish(self: Box<Self>) -> annuaire_views::Result<()> {
        let Counting(table, path) = *self;
        table.write_parquet(&path)?;
        Ok(())
    }
}
