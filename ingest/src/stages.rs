//! One sync, stage by stage, as methods of [`Run`]: [`Run::obtain`] (download or take the paths) →
//! [`Run::pass_a`] (open, fingerprint, spill into partitions, check the error rate) → [`Run::pass_b`] (group, hash,
//! diff against the served generation and write, a wave of partitions at a time) → [`Run::gate_and_promote`] (hold,
//! or build the search index and promote) → [`Run::keep_downloads`]. Each stage takes and returns typed values; the
//! run record being filled ([`RunFinish`]) and the generation being written live in the [`Run`], so a failure at any
//! stage is recorded and its generation abandoned by [`crate::run::run_once`].

use crate::diff::{Diff, GroupDiff, RunOutcome, SegmentDiff, id_group_of};
use crate::error::{Error, Result};
use crate::extract::{PARTITIONS, ParseReport, Partitioned};
use crate::options::{Origin, RunOptions};
use crate::partition::{Outcome, ServedHashes, diff_partition, memos_by_partition};
use crate::source::Source;
use annuaire_store::{Change, ChangeKind, DownloadState, Memo, RunFinish, RunStatus, Store};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Interrupted(format!("worker thread failed: {e}")))?
}

/// One sync in progress: what every stage shares.
pub(crate) struct Run<'a> {
    pub(crate) store: &'a Store,
    pub(crate) opts: &'a RunOptions,
    /// The run number (`ingest_run`).
    pub(crate) run: i64,
    /// The run record, filled as the stages go.
    pub(crate) finish: RunFinish,
    /// The generation being written, once begun (abandoned if the run fails).
    pub(crate) generation: Option<i64>,
    /// The data.gouv.fr resources read, for the run record.
    pub(crate) resources: Vec<crate::datagouv::Resource>,
}

/// What [`Run::obtain`] gives: nothing new to read, or the files to read.
pub(crate) enum Obtain {
    /// Every source is a URL without a new file.
    Unchanged(String),
    /// The main source first, then the others; and what to record of the URLs just downloaded.
    Read { paths: Vec<PathBuf>, downloads: Vec<DownloadState> },
}

/// What [`Run::pass_a`] gives.
pub(crate) enum PassA {
    /// The source is byte-identical to the one served.
    AlreadyServed(String),
    /// The extract spilled into partitions, with the report so far.
    Spilled(Arc<Partitioned>, ParseReport),
}

/// What [`Run::pass_b`] gives.
pub(crate) struct Written {
    pub(crate) diff: Diff,
    pub(crate) report: ParseReport,
    /// Why the gate holds the generation, or `None` when it lets it through.
    pub(crate) held: Option<String>,
    /// The views fed during a first load, finishing (when the gate lets the generation through) while the store
    /// finishes the generation.
    pub(crate) live: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl Run<'_> {
    /// All stages, in order.
    pub(crate) async fn stages(&mut self) -> Result<RunOutcome> {
        let served = self.store.served().await?;
        let (paths, downloads) = match self.obtain().await? {
            Obtain::Unchanged(reason) => return Ok(RunOutcome::unchanged(self.run, served, reason, String::new())),
            Obtain::Read { paths, downloads } => (paths, downloads),
        };
        // The served hashes are read while pass A reads the extract.
        let served_hashes = tokio::spawn(ServedHashes::read(self.store.clone()));
        let abort = served_hashes.abort_handle();
        let passed_a = self.pass_a(&paths, &downloads, served.is_some()).await;
        if !matches!(passed_a, Ok(PassA::Spilled(..))) {
            abort.abort();
        }
        let (parted, report) = match passed_a? {
            PassA::AlreadyServed(sha256) => {
                return Ok(RunOutcome::unchanged(
                    self.run,
                    served,
                    "the extract is the one already served".into(),
                    sha256,
                ));
            }
            PassA::Spilled(parted, report) => (parted, report),
        };
        let served_hashes =
            served_hashes.await.map_err(|e| Error::Interrupted(format!("reading the served hashes failed: {e}")))??;
        let mut written = self.pass_b(parted, report, served_hashes, &paths).await?;
        let (status, reason) = self.gate_and_promote(&mut written).await?;
        self.keep_downloads(&downloads, paths).await?;
        Ok(RunOutcome {
            run: self.run,
            status,
            generation: self.generation,
            served: self.store.served().await?.map(|s| s.generation),
            diff: written.diff,
            report: written.report,
            reason,
            sha256: self.finish.sha256.clone().unwrap_or_default(),
        })
    }

    /// Stage 1: every source made readable (a URL downloaded with conditional GET, or its previous download when it
    /// has no new file), or "nothing new" when no URL has a new file.
    pub(crate) async fn obtain(&mut self) -> Result<Obtain> {
        let (store, opts) = (self.store, self.opts);
        let (main, mut extras) = match &opts.source {
            Origin::DataGouv(dataset) => {
                // The newest resource of each kind, each downloaded like a URL, and checked against its checksum.
                self.resources = crate::datagouv::resolve(&opts.datagouv_api, dataset, &opts.fetch).await?;
                let mut obtained = Vec::new();
                for r in &self.resources {
                    let o = crate::obtain::obtain(store, opts, &Origin::Url(r.url.clone())).await?;
                    if let (Some(path), Some(state), Some(sum)) = (&o.path, &o.state, &r.checksum) {
                        let checked = crate::datagouv::check(path, &state.sha256, sum)?;
                        tracing::info!(url = %r.url, checked, "data.gouv.fr resource downloaded");
                    }
                    obtained.push(o);
                }
                let main = obtained.remove(0);
                (main, obtained)
            }
            source => (crate::obtain::obtain(store, opts, source).await?, Vec::new()),
        };
        for origin in &opts.with {
            extras.push(crate::obtain::obtain(store, opts, origin).await?);
        }
        // Every source is a URL that has no new file: nothing to read.
        if let Some(status) = main.unchanged
            && extras.iter().all(|e| e.unchanged.is_some())
        {
            let why = if status == 304 { " Not Modified" } else { " Service Unavailable: no new file" };
            return Ok(Obtain::Unchanged(format!("no new extract (HTTP {status}{why})")));
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
        let downloads = std::iter::once(&main).chain(&extras).filter_map(|o| o.state.clone()).collect();
        Ok(Obtain::Read { paths, downloads })
    }

    /// Stage 2: open and fingerprint the source; unless it is the one served, spill every line into partitions
    /// (memory bounded by a chunk, whatever the file size) and check the error rate.
    pub(crate) async fn pass_a(
        &mut self,
        paths: &[PathBuf],
        downloads: &[DownloadState],
        something_served: bool,
    ) -> Result<PassA> {
        let (store, opts) = (self.store, self.opts);
        let (opened, with, limits) = (paths[0].clone(), paths[1..].to_vec(), opts.limits);
        let source = blocking(move || Source::open_limited(&opened, &with, limits)).await?;
        let timestamp = source.main().and_then(|m| m.timestamp.clone());
        self.finish.sha256 = Some(source.sha256.clone());
        self.finish.file_timestamp = timestamp.clone();
        store.set_run_source(self.run, &source.sha256, timestamp.as_deref()).await?;
        if !opts.force && something_served && store.served_sha256().await?.as_deref() == Some(source.sha256.as_str()) {
            for state in downloads {
                store.save_download_state(state).await?;
            }
            return Ok(PassA::AlreadyServed(source.sha256));
        }
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
        let report = parted.report();
        self.finish.rows_read = Some(report.rows_read as i64);
        self.finish.report = self.report_json(&report);
        self.finish.rows_rejected = Some(report.rows_rejected as i64);
        check_rate(opts, &report)?;
        Ok(PassA::Spilled(Arc::new(parted), report))
    }

    /// Stage 3: a wave of partitions at a time, group, hash, diff against the served generation and write (the next
    /// wave is computed while this one is written). Begins the new generation.
    pub(crate) async fn pass_b(
        &mut self,
        parted: Arc<Partitioned>,
        mut report: ParseReport,
        served: ServedHashes,
        paths: &[PathBuf],
    ) -> Result<Written> {
        let (store, opts) = (self.store, self.opts);
        let mut diff = served.diff;
        let served_count = served.count;
        let current = Arc::new(served.current);
        let (reference, previous_quality) = served_run_report(store).await?;
        diff.set_references(&reference);
        let mut quality = crate::quality::Collector::default();
        let identifiers = Arc::new(std::sync::Mutex::new(crate::quality::Identifiers::default()));
        let tainted_a = Arc::new(parted.tainted.clone());
        let generation = store.begin_generation(self.run).await?;
        self.generation = Some(generation);
        // A first load creates every person it reads: feed them to the views as they are grouped, rather than read
        // every record back from the store afterwards (later syncs update the previous generation's views by their
        // changes).
        let live = if served_count == 0 && !self.opts.views.is_empty() {
            // About how many persons: the largest file's lines (each line is of one person, who has one line or a few in
            // the main file).
            let documents = report.files.iter().map(|f| f.rows).max().unwrap_or(0);
            Some(Arc::new(crate::live::Live::start(store.data_dir(), &self.opts.views, generation, documents)?))
        } else {
            None
        };
        // Two partitions a thread in each wave: rayon balances four partitions on two cores, where with one each the
        // core that finished first waited for the other at every wave's end (2026-12-05: about 1 % of a first load's
        // wall time, within the noise; peak RSS 590-640 MB).
        let wave = rayon::current_num_threads().max(2) * 2;
        let (mut compute, mut writing) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let mut memo_writes = std::time::Duration::ZERO;
        let mut batches = 0usize;
        let mut persons_seen = 0u64;
        let mut tainted_count = parted.tainted.len() as u64;
        let mut skipped = 0u64;
        // A wave's memos are read while the wave before it is computed (nothing to read on a first load, or when
        // told to parse everyone).
        let reparse = opts.reparse;
        let memos_of = |first: usize| {
            let store = store.clone();
            tokio::spawn(async move {
                if served_count == 0 || reparse {
                    Ok(Vec::new())
                } else {
                    store.memos(first..(first + wave).min(PARTITIONS)).await
                }
            })
        };
        let mut memo_wait = std::time::Duration::ZERO;
        let spawn_wave = |first: usize, memos: Vec<Memo>| {
            let parts: Vec<usize> = (first..(first + wave).min(PARTITIONS)).collect();
            let (pd, c, ta, li, ids) =
                (parted.clone(), current.clone(), tainted_a.clone(), live.clone(), identifiers.clone());
            tokio::task::spawn_blocking(move || {
                let t = std::time::Instant::now();
                let memos = memos_by_partition(&memos, first, parts.len());
                let r = parts
                    .par_iter()
                    .zip(memos.par_iter())
                    .map(|(&p, m)| diff_partition(&pd, p, &c[p], m, &ta, li.as_deref(), &ids))
                    .collect::<Result<Vec<_>>>();
                (r, t.elapsed())
            })
        };
        let starts: Vec<usize> = (0..PARTITIONS).step_by(wave).collect();
        let mut pending = Some(spawn_wave(starts[0], memos_ready(memos_of(starts[0]), &mut memo_wait).await?));
        let mut next_memos = starts.get(1).map(|&s| memos_of(s));
        for (k, _) in starts.iter().enumerate() {
            let Some(handle) = pending.take() else { break };
            let (results, took) = handle.await.map_err(|e| Error::Interrupted(format!("worker thread failed: {e}")))?;
            let results = results?;
            if let Some(&next) = starts.get(k + 1) {
                if let Some(h) = next_memos.take() {
                    pending = Some(spawn_wave(next, memos_ready(h, &mut memo_wait).await?));
                }
                next_memos = starts.get(k + 2).map(|&s| memos_of(s));
            }
            compute += took;
            let t = std::time::Instant::now();
            let mut wave_changes = Vec::new();
            let (mut wave_memos, mut wave_gone) = (Vec::new(), Vec::new());
            for r in results {
                // Counted by group here, then added to the diff (whose group names are strings) once per group.
                let mut by_group: BTreeMap<&'static str, GroupDiff> = BTreeMap::new();
                for (group, outcome) in r.outcomes {
                    let g = by_group.entry(group).or_default();
                    match outcome {
                        Outcome::Created => g.created += 1,
                        Outcome::Updated => g.updated += 1,
                        Outcome::Unchanged => g.unchanged += 1,
                        Outcome::KeptOnError => g.kept_on_error += 1,
                    }
                }
                for (group, n) in &by_group {
                    diff.group(group).add(n);
                }
                // Persons served but absent from the extract are deleted (soft), unless a line of theirs was rejected.
                let mut deletions = Vec::new();
                for idnat in &r.gone {
                    let group = id_group_of(idnat);
                    if r.tainted.contains(idnat) || tainted_a.contains(idnat) {
                        diff.group(group).kept_on_error += 1;
                        continue;
                    }
                    diff.group(group).deleted += 1;
                    wave_gone.push((r.partition, idnat.to_string()));
                    deletions.push(Change {
                        idnat: idnat.to_string(),
                        kind: ChangeKind::Delete,
                        id_group: group,
                        record: None,
                    });
                }
                quality.merge(r.quality);
                for (k, part) in r.segments {
                    let s = diff.segments.entry(k).or_default();
                    s.now += part.now;
                    s.updated += part.updated;
                }
                tainted_count += r.tainted.len() as u64;
                persons_seen += r.persons;
                skipped += r.skipped;
                wave_memos.extend(r.memos);
                report.group.merge(r.stats);
                wave_changes.extend(r.changes);
                wave_changes.extend(deletions);
            }
            // One transaction per wave of partitions.
            store.write_changes(generation, wave_changes).await?;
            let m = std::time::Instant::now();
            store.put_memos(wave_memos, &wave_gone).await?;
            memo_writes += m.elapsed();
            batches += 1;
            if opts.fail_after_batches.is_some_and(|n| batches >= n) {
                return Err(Error::Interrupted(format!("stopped on purpose after {batches} waves")));
            }
            if let Some(pr) = &opts.progress {
                pr("write", persons_seen, 0);
            }
            writing += t.elapsed();
        }
        // The workers' read buffers go back to the allocator (a server runs the sync on the process's rayon pool,
        // which it keeps between nights).
        let _ = tokio::task::spawn_blocking(|| rayon::broadcast(|_| crate::extract::release_read_buffers())).await;
        tracing::info!(
            ?compute,
            ?writing,
            ?memo_writes,
            ?memo_wait,
            skipped,
            "pass B (group, hash, diff) and store writes done"
        );
        report.persons = persons_seen;
        report.persons_skipped = skipped;
        report.persons_with_errors = tainted_count;
        report.rows_rejected = report.group.errors_by_kind.values().sum();
        report.quality = Some(Box::new(crate::quality::Quality::build(
            &report.group,
            quality,
            std::mem::take(&mut *identifiers.lock().map_err(|_| Error::Interrupted("a worker panicked".into()))?),
            diff.segments.iter().filter(|(_, s)| s.now > 0).map(|(k, s)| (k.clone(), s.now)).collect(),
            previous_quality.as_ref(),
        )));
        self.finish.rows_rejected = Some(report.rows_rejected as i64);
        self.finish.duplicate_rows = Some(report.group.duplicate_rows as i64);
        self.finish.persons = Some(report.persons as i64);
        self.finish.report = self.report_json(&report);
        check_rate(opts, &report)?;
        if report.persons == 0 {
            return Err(Error::Source { path: paths[0].clone(), message: "the extract holds no person".into() });
        }
        let totals = diff.total();
        let persons_now = served_count + totals.created - totals.deleted;
        // The partition files (about 1 GB for a national extract: 0.3-0.4 s to remove) go on a blocking thread while
        // the store finishes the generation on one core, rather than before it.
        let removing = tokio::task::spawn_blocking(move || drop(parted));
        // A first load's views finish (tantivy's last segment and commit) while the store finishes the generation,
        // when the gate will let it through: a held generation's views are built when it is approved, from what was
        // approved (`gate_and_promote`). The waves' references to the views are gone, so they unwrap.
        let held = diff.gate_all(opts.max_delete_rate, opts.max_update_rate, opts.gate_floor, &opts.segment_gate);
        let live = match live.map(Arc::try_unwrap) {
            Some(Ok(live)) if held.is_none() => Some(tokio::spawn(live.finish())),
            _ => None,
        };
        // Finishing makes the keys a first load was written without (SQLite, `store/src/bulk.rs`).
        store.finish_generation(generation, persons_now as i64).await?;
        removing.await.map_err(|e| Error::Interrupted(format!("removing the partition files failed: {e}")))?;
        // A large load (the first one, above all) leaves the planner without statistics for the new rows: refresh
        // them now rather than let the next night's reads be planned blind.
        let written = totals.created + totals.updated + totals.deleted;
        if written >= 100_000 || written * 10 >= served_count.max(1) {
            store.analyze().await?;
        }
        self.finish.created = Some(totals.created as i64);
        self.finish.updated = Some(totals.updated as i64);
        self.finish.deleted = Some(totals.deleted as i64);
        self.finish.diff = serde_json::to_value(&diff).ok();
        Ok(Written { diff, report, held, live })
    }

    /// Stage 4: hold the generation when the gate says so; else make its views complete and promote it.
    pub(crate) async fn gate_and_promote(&mut self, written: &mut Written) -> Result<(RunStatus, Option<String>)> {
        let (store, opts) = (self.store, self.opts);
        let generation = self.generation.ok_or_else(|| Error::Interrupted("no generation was begun".into()))?;
        let reason = written.held.take();
        if reason.is_some() {
            store.hold(generation).await?;
            return Ok((RunStatus::Held, reason));
        }
        // The views of the new generation are complete before the generation is served.
        if let Some(finishing) = written.live.take() {
            finishing.await.map_err(|e| Error::Interrupted(format!("finishing the views failed: {e}")))??;
        }
        store.prepare(generation, &opts.views).await?;
        store.promote(generation).await?;
        Ok((RunStatus::Promoted, None))
    }

    /// The report as the run record keeps it, with the data.gouv.fr resources read.
    fn report_json(&self, report: &ParseReport) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(report).ok()?;
        if !self.resources.is_empty()
            && let Some(m) = v.as_object_mut()
        {
            m.insert("resources".into(), serde_json::to_value(&self.resources).ok()?);
        }
        Some(v)
    }

    /// Stage 5: only now record what was downloaded (an extract that failed to ingest must be fetched again next
    /// time, not answered 304), and keep only those files.
    pub(crate) async fn keep_downloads(&self, downloads: &[DownloadState], paths: Vec<PathBuf>) -> Result<()> {
        for state in downloads {
            self.store.save_download_state(state).await?;
        }
        if !downloads.is_empty() {
            let dir = self.opts.downloads_dir.clone().unwrap_or_else(|| self.store.data_dir().join("downloads"));
            remove_older_downloads(&dir, &paths);
        }
        Ok(())
    }
}

/// A wave's memos, once read; the time waited for them is added to `waited`.
async fn memos_ready(
    read: tokio::task::JoinHandle<annuaire_store::Result<Vec<Memo>>>,
    waited: &mut std::time::Duration,
) -> Result<Vec<Memo>> {
    let t = std::time::Instant::now();
    let memos = read.await.map_err(|e| Error::Interrupted(format!("reading memos failed: {e}")))??;
    *waited += t.elapsed();
    Ok(memos)
}

/// Fail the run when more than `max_error_rate` % of lines are rejected, naming the first.
fn check_rate(opts: &RunOptions, report: &ParseReport) -> Result<()> {
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
}

/// What the run that built the served generation found: persons by segment (its diff's `now`), and its quality
/// report. Empty when that run predates them, or when nothing is served: the gate by segment then has no reference
/// and passes, and the quality report compares with nothing.
async fn served_run_report(
    store: &annuaire_store::Store,
) -> Result<(BTreeMap<String, u64>, Option<crate::quality::Quality>)> {
    let Some(served) = store.served().await? else { return Ok(Default::default()) };
    let Some(run) = store.run_of_generation(served.generation).await? else { return Ok(Default::default()) };
    let segments = run
        .diff
        .and_then(|d| d.get("segments").cloned())
        .and_then(|s| serde_json::from_value::<BTreeMap<String, SegmentDiff>>(s).ok())
        .unwrap_or_default();
    let quality = run
        .report
        .and_then(|r| r.get("quality").cloned())
        .and_then(|q| serde_json::from_value::<crate::quality::Quality>(q).ok());
    Ok((segments.into_iter().map(|(k, s)| (k, s.now)).collect(), quality))
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
