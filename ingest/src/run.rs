//! One ingest run, end to end: lock → recover → fingerprint → parse → check → diff → gate → write →
//! promote (or hold). Used by the CLI and by the scheduler of `annuaire serve`.
//!
//! Whatever happens, the served generation stays served until the new one is complete and passes the
//! gate: a failed run abandons its generation (nothing of it remains), a killed run is rolled back by
//! the next one ([`annuaire_store::Store::recover`]).

use crate::error::Result;
use crate::extract::ParseReport;
use annuaire_schemas::Person;
use annuaire_store::{RunFinish, RunStatus, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use crate::ProgressFn;

/// Where an extract comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A zip, a folder or a `.txt` file on disk.
    Path(PathBuf),
    /// An http(s) URL, downloaded with [`crate::fetch`].
    Url(String),
}

impl Origin {
    /// An `http://` or `https://` string is a URL; anything else a path.
    pub fn parse(s: &str) -> Origin {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Origin::Url(s.to_string())
        } else {
            Origin::Path(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Path(p) => write!(f, "{}", p.display()),
            Origin::Url(u) => f.write_str(u),
        }
    }
}

/// How a run behaves.
#[derive(Clone)]
pub struct RunOptions {
    /// Where the extract is.
    pub source: Origin,
    /// Download settings, for a URL.
    pub fetch: crate::fetch::FetchOptions,
    /// Other extracts read with the main one (`Porteurs_CPS_CPF`, `Extraction_Correspondance_MSSante`): http(s)
    /// URLs (downloaded like the main one, with conditional GET) or paths to a zip, a folder or a `.txt` file. (A
    /// folder or zip given as the source may hold them too.)
    pub with: Vec<Origin>,
    /// Where downloads go (default: `downloads/` beside the store).
    pub downloads_dir: Option<PathBuf>,
    /// Fail the run when more than this share of lines (percent) is rejected. Default 1 %.
    pub max_error_rate: f64,
    /// Hold the generation when deletions pass this share (percent) of an id group's reference count.
    pub max_delete_rate: f64,
    /// Hold the generation when updates pass this share (percent) of an id group's reference count.
    pub max_update_rate: f64,
    /// Changes per id group that never hold a generation, whatever their share: a handful of odd persons (in a
    /// small group above all) can never hold every later sync.
    pub gate_floor: u64,
    /// Bounds of every file read (line length, archive members).
    pub limits: crate::source::ReadLimits,
    /// Ingest even when the source is byte-identical to the one served.
    pub force: bool,
    /// Progress reports.
    pub progress: Option<ProgressFn>,
    /// The views of a generation that must be complete before it is promoted (the binary gives the search
    /// index): a first load feeds them the persons as they are grouped; later runs and `approve` prepare them
    /// from the store ([`annuaire_store::Store::prepare`]). None by default.
    pub views: Vec<std::sync::Arc<dyn annuaire_views::GenerationView>>,
    /// Test hook: fail after writing this many waves of partitions (proves a half-written generation is
    /// never served).
    #[doc(hidden)]
    pub fail_after_batches: Option<usize>,
}

impl RunOptions {
    /// Defaults for a source (a path, or an http(s) URL): 1 % error rate, gate at 1 % deletions and
    /// 5 % updates.
    pub fn new(source: impl AsRef<std::path::Path>) -> RunOptions {
        RunOptions {
            source: Origin::parse(&source.as_ref().to_string_lossy()),
            fetch: crate::fetch::FetchOptions::default(),
            with: Vec::new(),
            downloads_dir: None,
            max_error_rate: 1.0,
            max_delete_rate: 1.0,
            max_update_rate: 5.0,
            gate_floor: DEFAULT_GATE_FLOOR,
            limits: crate::source::ReadLimits::default(),
            force: false,
            progress: None,
            views: Vec::new(),
            fail_after_batches: None,
        }
    }
}

/// Default of [`RunOptions::gate_floor`].
pub const DEFAULT_GATE_FLOOR: u64 = 20;

/// Counts of one id group (`rpps`, `adeli`, `other`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupDiff {
    /// Persons of the group served before the run.
    pub reference: u64,
    /// New persons (or deleted ones that came back).
    pub created: u64,
    /// Persons whose record changed.
    pub updated: u64,
    /// Persons gone from the extract.
    pub deleted: u64,
    /// Persons identical to the served record.
    pub unchanged: u64,
    /// Persons with a rejected line whose served record was kept as it was.
    pub kept_on_error: u64,
}

/// The diff of a run against the served generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Per id group.
    pub groups: BTreeMap<String, GroupDiff>,
}

impl Diff {
    pub(crate) fn group(&mut self, g: &str) -> &mut GroupDiff {
        self.groups.entry(g.to_string()).or_default()
    }

    /// Sum over groups.
    pub fn total(&self) -> GroupDiff {
        self.groups.values().fold(GroupDiff::default(), |mut t, g| {
            t.reference += g.reference;
            t.created += g.created;
            t.updated += g.updated;
            t.deleted += g.deleted;
            t.unchanged += g.unchanged;
            t.kept_on_error += g.kept_on_error;
            t
        })
    }

    /// Why the gate holds this diff, or `None` when it passes. Creations are never gated. A group holds when its
    /// deletions (or updates) are more than `floor` **and** more than their rate of the group's served persons.
    pub fn gate(&self, max_delete_rate: f64, max_update_rate: f64, floor: u64) -> Option<String> {
        let mut reasons = Vec::new();
        for (name, g) in &self.groups {
            if g.reference == 0 {
                continue;
            }
            let pct = |n: u64| n as f64 * 100.0 / g.reference as f64;
            if g.deleted > floor && pct(g.deleted) > max_delete_rate {
                reasons.push(format!(
                    "{name}: {} deletions of {} ({:.2} % > {max_delete_rate} %)",
                    g.deleted,
                    g.reference,
                    pct(g.deleted)
                ));
            }
            if g.updated > floor && pct(g.updated) > max_update_rate {
                reasons.push(format!(
                    "{name}: {} updates of {} ({:.2} % > {max_update_rate} %)",
                    g.updated,
                    g.reference,
                    pct(g.updated)
                ));
            }
        }
        (!reasons.is_empty()).then(|| format!("safety gate: {}", reasons.join("; ")))
    }
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The run number.
    pub run: i64,
    /// `promoted`, `held` or `unchanged`.
    pub status: RunStatus,
    /// The generation built (none when unchanged).
    pub generation: Option<i64>,
    /// The generation served after the run.
    pub served: Option<i64>,
    /// The diff against what was served.
    pub diff: Diff,
    /// What was read.
    pub report: ParseReport,
    /// Why it was held.
    pub reason: Option<String>,
    /// sha256 of the source.
    pub sha256: String,
}

impl RunOutcome {
    pub(crate) fn unchanged(
        run: i64,
        served: Option<annuaire_store::Served>,
        reason: String,
        sha256: String,
    ) -> RunOutcome {
        RunOutcome {
            run,
            status: RunStatus::Unchanged,
            generation: None,
            served: served.map(|s| s.generation),
            diff: Diff::default(),
            report: ParseReport::default(),
            reason: Some(reason),
            sha256,
        }
    }
}

pub(crate) fn id_group(p: &Person) -> &'static str {
    p.idnat.id_type().group()
}

pub(crate) fn id_group_of(idnat: &str) -> &'static str {
    annuaire_schemas::IdNat::new(idnat).id_type().group()
}

/// The canonical JSON of a record and its hash (xxh3-128, hex).
pub fn record_and_hash(p: &Person) -> Result<(String, String)> {
    let json = serde_json::to_string(p)?;
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(json.as_bytes()));
    Ok((json, hash))
}

/// Run one ingest. A failure is recorded in the run table and returned as an error.
pub async fn run_once(store: &Store, opts: &RunOptions) -> Result<RunOutcome> {
    let lock = store.lock_sync(&format!("sync {}", opts.source)).await?;
    let result = run_locked(store, opts).await;
    lock.release().await?;
    result
}

/// Promote the held generation `generation` (`annuaire approve`), leaving out the changes of the kinds in
/// `exclude`, once its `views` are complete (invariant 6: the same views the sync makes before promoting). When a
/// view cannot be prepared the generation stays held. Returns the changes kept, by kind.
pub async fn approve(
    store: &Store,
    generation: i64,
    exclude: &[annuaire_store::ChangeKind],
    views: &[std::sync::Arc<dyn annuaire_views::GenerationView>],
) -> Result<std::collections::HashMap<annuaire_store::ChangeKind, i64>> {
    let lock = store.lock_sync(&format!("approve {generation}")).await?;
    // The exclusions are applied first (the generation stays held), the views are prepared from what it will serve,
    // and only then is it promoted.
    let result = async {
        store.exclude_changes(generation, exclude).await?;
        store.prepare(generation, views).await?;
        Ok(store.approve(generation, exclude).await?)
    }
    .await;
    lock.release().await?;
    result
}

async fn run_locked(store: &Store, opts: &RunOptions) -> Result<RunOutcome> {
    let cleaned = store.recover().await?;
    if !cleaned.is_empty() {
        tracing::warn!(generations = ?cleaned, "rolled back generations left by an interrupted sync");
    }
    if let Some(held) = store.held().await? {
        tracing::warn!(generation = held.generation, "a new sync supersedes the held generation");
        store.abandon(held.generation, "superseded").await?;
    }
    let run = store.start_run(&opts.source.to_string()).await?;
    let mut stages = crate::stages::Run { store, opts, run, finish: RunFinish::default(), generation: None };
    let result = stages.stages().await;
    let (mut finish, generation) = (stages.finish, stages.generation);
    match &result {
        Ok(outcome) => {
            finish.status = Some(outcome.status);
            finish.reason = outcome.reason.clone();
        }
        Err(e) => {
            if let Some(g) = generation {
                store.abandon(g, "failed").await?;
            }
            finish.status = Some(RunStatus::Failed);
            finish.reason = Some(e.to_string());
        }
    }
    store.finish_run(run, &finish).await?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(groups: &[(&str, u64, u64, u64)]) -> Diff {
        let mut d = Diff::default();
        for (name, reference, deleted, updated) in groups {
            let g = d.group(name);
            g.reference = *reference;
            g.deleted = *deleted;
            g.updated = *updated;
        }
        d
    }

    #[test]
    fn a_handful_of_changes_never_holds_whatever_their_share() {
        // The odd person once served in `other`, gone the next night: 100 % of its group, and below the floor.
        assert_eq!(diff(&[("other", 1, 1, 0), ("rpps", 1000, 0, 0)]).gate(1.0, 5.0, DEFAULT_GATE_FLOOR), None);
        assert_eq!(diff(&[("adeli", 50, 20, 20)]).gate(1.0, 5.0, 20), None, "20 is not more than the floor of 20");
        // Past the floor, the rates decide as before.
        let held = diff(&[("adeli", 50, 21, 0)]).gate(1.0, 5.0, 20).expect("held");
        assert!(held.contains("adeli: 21 deletions of 50 (42.00 % > 1 %)"), "{held}");
        let held = diff(&[("rpps", 100_000, 0, 5_001)]).gate(1.0, 5.0, 20).expect("held");
        assert!(held.contains("rpps: 5001 updates of 100000"), "{held}");
        // Past the floor but under the rate: promoted.
        assert_eq!(diff(&[("rpps", 1_000_000, 9_999, 0)]).gate(1.0, 5.0, 20), None);
        // A floor of 0 is the old behaviour.
        assert!(diff(&[("other", 1, 1, 0)]).gate(1.0, 5.0, 0).is_some());
    }
}
