//! One ingest run, end to end: lock → recover → fingerprint → parse → check → diff → gate → write →
//! promote (or hold). Used by the CLI and by the scheduler of `annuaire serve`.
//!
//! Whatever happens, the served generation stays served until the new one is complete and passes the
//! gate: a failed run abandons its generation (nothing of it remains), a killed run is rolled back by
//! the next one ([`annuaire_store::Store::recover`]).

use crate::error::{Error, Result};
use crate::extract::{PARTITIONS, ParseReport, partition_of};
use crate::source::Source;
use annuaire_schemas::Person;
use annuaire_store::{Change, ChangeKind, RunFinish, RunStatus, Store};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Progress callback: `(phase, done, total)`; phases are `read <file>` (bytes) and `write` (persons).
pub type ProgressFn = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

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
    fn group(&mut self, g: &str) -> &mut GroupDiff {
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
    fn unchanged(run: i64, served: Option<annuaire_store::Served>, reason: String, sha256: String) -> RunOutcome {
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

fn id_group(p: &Person) -> &'static str {
    p.idnat.id_type().group()
}

fn id_group_of(idnat: &str) -> &'static str {
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
    let mut finish = RunFinish::default();
    let mut generation = None;
    let result = run_steps(store, opts, run, &mut finish, &mut generation).await;
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

/// A source made ready to read.
struct Obtained {
    /// The file or folder to read; `None` for a URL without a new file and without a previous download.
    path: Option<PathBuf>,
    /// The URL or path, for messages.
    origin: String,
    /// What to record once its extract is ingested (a URL just downloaded).
    state: Option<annuaire_store::DownloadState>,
    /// A URL that had no new file (HTTP 304 or 503): `path` is its previous download.
    unchanged: Option<u16>,
}

/// Download a URL (conditional GET from what was last ingested from it) or take a path as it is. A URL without a
/// new file gives its previous download, so that a run reading several extracts can still read it; when that file
/// is gone, the URL is fetched again without validators.
async fn obtain(store: &Store, opts: &RunOptions, origin: &Origin) -> Result<Obtained> {
    let url = match origin {
        Origin::Path(p) => {
            return Ok(Obtained {
                path: Some(p.clone()),
                origin: p.display().to_string(),
                state: None,
                unchanged: None,
            });
        }
        Origin::Url(url) => url,
    };
    let dir = opts.downloads_dir.clone().unwrap_or_else(|| store.data_dir().join("downloads"));
    let state = if opts.force { None } else { store.download_state(url).await? };
    let previous = state.as_ref().and_then(|s| s.file_name.as_ref()).map(|n| dir.join(n)).filter(|p| p.is_file());
    let validators = match (&state, &previous) {
        (Some(s), Some(_)) => crate::fetch::Validators { etag: s.etag.clone(), last_modified: s.last_modified.clone() },
        _ => crate::fetch::Validators::default(),
    };
    match crate::fetch::fetch(url, &dir, &validators, &opts.fetch, opts.progress.as_ref()).await? {
        crate::fetch::Fetched::NoNewExtract { status } => {
            Ok(Obtained { path: previous, origin: url.clone(), state: None, unchanged: Some(status) })
        }
        crate::fetch::Fetched::File { path, file_name, sha256, bytes, etag, last_modified } => Ok(Obtained {
            path: Some(path),
            origin: url.clone(),
            state: Some(annuaire_store::DownloadState {
                url: url.clone(),
                etag,
                last_modified,
                file_name: Some(file_name),
                sha256,
                bytes: bytes as i64,
            }),
            unchanged: None,
        }),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Interrupted(format!("worker thread failed: {e}")))?
}

async fn run_steps(
    store: &Store,
    opts: &RunOptions,
    run: i64,
    finish: &mut RunFinish,
    generation_out: &mut Option<i64>,
) -> Result<RunOutcome> {
    let served = store.served().await?;
    let main = obtain(store, opts, &opts.source).await?;
    let mut extras = Vec::new();
    for origin in &opts.with {
        extras.push(obtain(store, opts, origin).await?);
    }
    // Every source is a URL that has no new file: nothing to read.
    if let Some(status) = main.unchanged
        && extras.iter().all(|e| e.unchanged.is_some())
    {
        let why = if status == 304 { " Not Modified" } else { " Service Unavailable: no new file" };
        return Ok(RunOutcome::unchanged(run, served, format!("no new extract (HTTP {status}{why})"), String::new()));
    }
    // Some source changed: every other one must be readable (a URL without a new file from its previous download).
    let mut paths = Vec::new();
    for o in std::iter::once(&main).chain(&extras) {
        match &o.path {
            Some(p) => paths.push(p.clone()),
            None => {
                return Err(Error::Source {
                    path: PathBuf::from(&o.origin),
                    message: format!(
                        "HTTP {}: no new file, and none was downloaded before, while another extract changed",
                        o.unchanged.unwrap_or(0)
                    ),
                });
            }
        }
    }
    let downloads: Vec<annuaire_store::DownloadState> =
        std::iter::once(&main).chain(&extras).filter_map(|o| o.state.clone()).collect();
    let (opened, with) = (paths[0].clone(), paths[1..].to_vec());
    let limits = opts.limits;
    let source = blocking(move || Source::open_limited(&opened, &with, limits)).await?;
    let timestamp = source.main().and_then(|m| m.timestamp.clone());
    finish.sha256 = Some(source.sha256.clone());
    finish.file_timestamp = timestamp.clone();
    store.set_run_source(run, &source.sha256, timestamp.as_deref()).await?;

    if !opts.force && served.is_some() && store.served_sha256().await?.as_deref() == Some(source.sha256.as_str()) {
        for state in &downloads {
            store.save_download_state(state).await?;
        }
        return Ok(RunOutcome::unchanged(run, served, "the extract is the one already served".into(), source.sha256));
    }

    // Pass A: spill the extract into partitions (memory bounded by a chunk, whatever the file size).
    let phase = std::time::Instant::now();
    let progress = opts.progress.clone();
    let tmp_root = store.data_dir().join("tmp");
    // Partition files left by a killed sync: we hold the lock, nobody else is using them.
    let _ = std::fs::remove_dir_all(&tmp_root);
    let parted = blocking(move || {
        let totals: HashMap<String, u64> = source.members.iter().map(|m| (m.name.clone(), m.size)).collect();
        let on_bytes = |file: &str, done: u64| {
            if let Some(p) = &progress {
                p(&format!("read {file}"), done, totals.get(file).copied().unwrap_or(0));
            }
        };
        crate::extract::partition(&source, &tmp_root, &on_bytes)
    })
    .await?;
    tracing::info!(elapsed = ?phase.elapsed(), "pass A (inflate, parse, partition) done");
    let parted = Arc::new(parted);
    let mut report = parted.report();
    finish.rows_read = Some(report.rows_read as i64);
    let check_rate = |report: &ParseReport| -> Result<()> {
        if report.rows_read > 0 {
            let rate = report.rows_rejected as f64 * 100.0 / report.rows_read as f64;
            if rate > opts.max_error_rate {
                return Err(Error::TooManyErrors {
                    rejected: report.rows_rejected,
                    rows: report.rows_read,
                    rate,
                    threshold: opts.max_error_rate,
                    first: report.group.first_errors.first().map(ToString::to_string).unwrap_or_default(),
                });
            }
        }
        Ok(())
    };
    finish.report = serde_json::to_value(&report).ok();
    finish.rows_rejected = Some(report.rows_rejected as i64);
    check_rate(&report)?;

    // Pass B, a wave of partitions at a time: group, hash, diff against the served generation, write.
    // The served hashes, one compact map per partition (1.7 million entries at national size).
    let mut diff = Diff::default();
    let mut current: Vec<HashMap<Box<str>, u128>> = vec![HashMap::new(); PARTITIONS];
    let mut served_count = 0u64;
    store
        .for_each_current_hash(|idnat, hash| {
            diff.group(id_group_of(&idnat)).reference += 1;
            served_count += 1;
            let h = u128::from_str_radix(&hash, 16).unwrap_or(0);
            current[partition_of(&idnat)].insert(idnat.into_boxed_str(), h);
        })
        .await?;
    let current = Arc::new(current);
    let tainted_a = Arc::new(parted.tainted.clone());
    let generation = store.begin_generation(run).await?;
    *generation_out = Some(generation);
    // A first load creates every person it reads: index them as they are grouped, rather than read every record back
    // from the store afterwards (later syncs update the previous generation's index by their changes instead).
    let mut live =
        if served_count == 0 { Some(Arc::new(crate::index::LiveIndex::start(store, generation)?)) } else { None };
    let wave = rayon::current_num_threads().max(2);
    let (mut compute, mut writing) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let mut batches = 0usize;
    let mut persons_seen = 0u64;
    let mut tainted_count = parted.tainted.len() as u64;
    // Compute wave k+1 while wave k is being written: grouping is CPU work on the rayon pool, writing is the
    // database's, and the two overlap.
    let spawn_wave = |first: usize| {
        let parts: Vec<usize> = (first..(first + wave).min(PARTITIONS)).collect();
        let (pd, c, ta, li) = (parted.clone(), current.clone(), tainted_a.clone(), live.clone());
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            let r = parts
                .par_iter()
                .map(|&p| {
                    let part = pd.process(p)?;
                    let mut changes = Vec::new();
                    let mut outcomes = Vec::with_capacity(part.persons.len());
                    let mut seen = HashSet::with_capacity(part.persons.len());
                    for person in &part.persons {
                        let idnat = person.idnat.as_str();
                        seen.insert(idnat.to_string());
                        let group = id_group(person);
                        let old = c[p].get(idnat);
                        if old.is_some() && (part.tainted.contains(idnat) || ta.contains(idnat)) {
                            outcomes.push((group, Outcome::KeptOnError));
                            continue;
                        }
                        let (json, hash) = record_and_hash(person)?;
                        match old {
                            Some(h) if format!("{h:032x}") == hash => outcomes.push((group, Outcome::Unchanged)),
                            Some(_) => {
                                outcomes.push((group, Outcome::Updated));
                                changes.push(change(idnat, ChangeKind::Update, group, json, hash));
                            }
                            None => {
                                outcomes.push((group, Outcome::Created));
                                changes.push(change(idnat, ChangeKind::Create, group, json, hash));
                                if let Some(li) = &li {
                                    li.add(person)?;
                                }
                            }
                        }
                    }
                    let n = part.persons.len() as u64;
                    Ok((p, changes, outcomes, seen, part.tainted, part.stats, n))
                })
                .collect::<Result<Vec<_>>>();
            (r, t.elapsed())
        })
    };
    let starts: Vec<usize> = (0..PARTITIONS).step_by(wave).collect();
    let mut pending = Some(spawn_wave(starts[0]));
    for (k, _) in starts.iter().enumerate() {
        let Some(handle) = pending.take() else { break };
        let (results, took) = handle.await.map_err(|e| Error::Interrupted(format!("worker thread failed: {e}")))?;
        let results = results?;
        if let Some(&next) = starts.get(k + 1) {
            pending = Some(spawn_wave(next));
        }
        compute += took;
        let t = std::time::Instant::now();
        let mut wave_changes = Vec::new();
        for (p, changes, outcomes, seen, tainted, stats, n) in results {
            for (group, outcome) in outcomes {
                let g = diff.group(group);
                match outcome {
                    Outcome::Created => g.created += 1,
                    Outcome::Updated => g.updated += 1,
                    Outcome::Unchanged => g.unchanged += 1,
                    Outcome::KeptOnError => g.kept_on_error += 1,
                }
            }
            // Persons served but absent from the extract are deleted (soft), unless a line of theirs was rejected.
            let mut deletions = Vec::new();
            let mut gone: Vec<&str> = current[p].keys().map(|k| &**k).filter(|id| !seen.contains(*id)).collect();
            gone.sort_unstable();
            for idnat in gone {
                let group = id_group_of(idnat);
                if tainted.contains(idnat) || tainted_a.contains(idnat) {
                    diff.group(group).kept_on_error += 1;
                    continue;
                }
                diff.group(group).deleted += 1;
                deletions.push(Change {
                    idnat: idnat.to_string(),
                    kind: ChangeKind::Delete,
                    id_group: group,
                    record: None,
                });
            }
            tainted_count += tainted.len() as u64;
            persons_seen += n;
            report.group.merge(stats);
            wave_changes.extend(changes);
            wave_changes.extend(deletions);
        }
        // One transaction per wave of partitions.
        store.write_changes(generation, &wave_changes).await?;
        batches += 1;
        if opts.fail_after_batches.is_some_and(|n| batches >= n) {
            return Err(Error::Interrupted(format!("stopped on purpose after {batches} waves")));
        }
        if let Some(pr) = &opts.progress {
            pr("write", persons_seen, 0);
        }
        writing += t.elapsed();
    }
    tracing::info!(?compute, ?writing, "pass B (group, hash, diff) and store writes done");
    report.persons = persons_seen;
    report.persons_with_errors = tainted_count;
    report.rows_rejected = report.group.errors_by_kind.values().sum();
    finish.rows_rejected = Some(report.rows_rejected as i64);
    finish.duplicate_rows = Some(report.group.duplicate_rows as i64);
    finish.persons = Some(report.persons as i64);
    finish.report = serde_json::to_value(&report).ok();
    check_rate(&report)?;
    if report.persons == 0 {
        return Err(Error::Source { path: paths[0].clone(), message: "the extract holds no person".into() });
    }
    let totals = diff.total();
    let persons_now = served_count + totals.created - totals.deleted;
    drop(parted);
    // A large load (the first one, above all) leaves the planner without statistics for the new rows: refresh them
    // now rather than let the next night's reads be planned blind.
    let written = totals.created + totals.updated + totals.deleted;
    if written >= 100_000 || written * 10 >= served_count.max(1) {
        store.analyze().await?;
    }
    store.finish_generation(generation, persons_now as i64).await?;
    finish.created = Some(totals.created as i64);
    finish.updated = Some(totals.updated as i64);
    finish.deleted = Some(totals.deleted as i64);
    finish.diff = serde_json::to_value(&diff).ok();

    let reason = diff.gate(opts.max_delete_rate, opts.max_update_rate, opts.gate_floor);
    let status = if reason.is_some() {
        store.hold(generation).await?;
        RunStatus::Held
    } else {
        // The search index of the new generation is complete before the generation is served.
        let previous = store.served().await?.map(|s| s.generation);
        match live.take().map(Arc::try_unwrap) {
            Some(Ok(live)) => {
                live.finish().await?;
            }
            _ => {
                crate::index::build_index(store, generation).await?;
            }
        }
        store.promote(generation).await?;
        crate::index::prune_indexes(store, &[Some(generation), previous].into_iter().flatten().collect::<Vec<_>>());
        RunStatus::Promoted
    };
    let served = store.served().await?.map(|s| s.generation);
    // Only now: an extract that failed to ingest must be fetched again next time, not answered 304.
    for state in &downloads {
        store.save_download_state(state).await?;
    }
    if !downloads.is_empty() {
        let keep = paths;
        remove_older_downloads(
            &opts.downloads_dir.clone().unwrap_or_else(|| store.data_dir().join("downloads")),
            &keep,
        );
    }
    Ok(RunOutcome {
        run,
        status,
        generation: Some(generation),
        served,
        diff,
        report,
        reason,
        sha256: finish.sha256.clone().unwrap_or_default(),
    })
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
    KeptOnError,
}

fn change(idnat: &str, kind: ChangeKind, group: &'static str, json: String, hash: String) -> Change {
    Change { idnat: idnat.to_string(), kind, id_group: group, record: Some((json, hash)) }
}

/// Keep only the extracts just ingested in the downloads folder `dir`.
fn remove_older_downloads(dir: &std::path::Path, current: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if !current.contains(&p)
            && p.is_file()
            && let Err(err) = std::fs::remove_file(&p)
        {
            tracing::warn!(path = %p.display(), %err, "cannot remove an old download");
        }
    }
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
