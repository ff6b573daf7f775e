//! Data derived from a generation: one seam, one layout.
//!
//! Several kinds of data are rebuilt for every generation from its records (the search index, the counting table,
//! the claims snapshot). Each is a [`GenerationView`], implemented beside its engine; this crate owns what they share:
//!
//! - the layout `DATA_DIR/<name>/gen-N/`, with a `VIEW` file naming the view's format version, written last (a folder
//!   without it, or with another version, is not current and is built again);
//! - the build aside: a view is written into a folder of its own (`DATA_DIR/<name>/.gen-N.<random>.building`) and
//!   renamed into place when complete, so a reader sees a whole view or none, and two builders (a server and a CLI on
//!   one data directory) never write into the same folder;
//! - pruning ([`prune`]).
//!
//! The choice between a full build (every record) and an update (the previous generation's view plus this
//! generation's changes), and the reading of records, belong to the store: `annuaire_store::views::prepare`. The
//! first load of a sync feeds its records to a [`Building`] as they are grouped, without reading them back.
//!
//! Adding a kind of derived data is one implementation of [`GenerationView`] and one line in the binary's registry.

use annuaire_schemas::Person;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a view's build or update can fail with (the engine's error, boxed: this crate knows no engine).
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// A view's result.
pub type Result<T> = std::result::Result<T, Error>;

/// How a full build runs: alone (a server or a CLI preparing a generation), or beside a sync that is grouping
/// persons at the same time (less memory and fewer threads for the view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Nothing else heavy runs.
    Alone,
    /// The sync's waves of partitions share the machine. `documents`: about how many persons it will add (an
    /// estimate, never a bound: the line count of the extract's largest file), for a view whose way of building
    /// depends on its size.
    BesideSync { documents: u64 },
}

/// A kind of data derived from one generation's records, kept in `DATA_DIR/<name>/gen-N/`.
pub trait GenerationView: Send + Sync {
    /// The folder under the data directory (`index`, `claims`, `stats`, …).
    fn name(&self) -> &'static str;
    /// The version of what [`GenerationView::build`] writes: a folder of another version is built again.
    fn version(&self) -> u32;
    /// Start a full build of generation `generation` into the empty folder `dir`: every person of the generation
    /// will be added.
    fn build(&self, dir: &Path, generation: i64, how: Build) -> Result<Box<dyn ViewWriter>>;
    /// Start an update of generation `generation` into the empty folder `dir` from `base`, the same view of the
    /// generation the changes are relative to: every changed person is removed, then added again unless deleted.
    /// `None` when this view can only be built in full.
    fn update(&self, base: &Path, dir: &Path, generation: i64) -> Result<Option<Box<dyn ViewWriter>>> {
        let _ = (base, dir, generation);
        Ok(None)
    }
}

/// Receives the persons of a build or the changes of an update, then completes the folder.
pub trait ViewWriter: Send {
    /// Remove a person (an update only; a full build never removes).
    fn remove(&mut self, idnat: &str) -> Result<()>;
    /// Add a person (in a full build, in idNat order when the records come from the store).
    fn add(&mut self, person: &Person) -> Result<()>;
    /// Add a person with the generation that wrote their version (for views that serve `meta.versionId` or
    /// `_lastUpdated`, such as the search index); by default the version is ignored.
    fn add_version(&mut self, person: &Person, since: i64) -> Result<()> {
        let _ = since;
        self.add(person)
    }
    /// Complete the folder (files flushed); it is then marked current and renamed into place by the caller.
    fn finish(self: Box<Self>) -> Result<()>;
    /// A way to add persons from several threads at once, for a writer whose engine takes them so (tantivy's writer
    /// does): [`Building::add`] then does not take the build's lock. `None` (the default): adds take turns.
    fn shared(&self) -> Option<Arc<dyn SharedAdd>> {
        None
    }
}

/// Adds persons to a view from any thread ([`ViewWriter::shared`]); dropped before the writer is finished.
pub trait SharedAdd: Send + Sync {
    /// [`ViewWriter::add`], without the build's lock.
    fn add(&self, person: &Person) -> Result<()>;
    /// [`ViewWriter::add_version`], without the build's lock; by default the version is ignored.
    fn add_version(&self, person: &Person, since: i64) -> Result<()> {
        let _ = since;
        self.add(person)
    }
}

/// The file that marks a view's folder complete, holding its name and version.
pub const MARKER: &str = "VIEW";

/// The folder of a view's generations.
pub fn root(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(name)
}

/// The folder of one generation's view.
pub fn dir(data_dir: &Path, name: &str, generation: i64) -> PathBuf {
    root(data_dir, name).join(format!("gen-{generation}"))
}

fn marker_text(view: &dyn GenerationView) -> String {
    format!("{} {}\n", view.name(), view.version())
}

/// True when `dir` holds a complete folder of this version of `view`.
pub fn is_current(view: &dyn GenerationView, dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text(view))
}

fn io(path: &Path, e: std::io::Error) -> Error {
    format!("{}: {e}", path.display()).into()
}

/// One view of one generation being written aside: created by [`Building::start`], fed, then [`Building::finish`]ed
/// into place. Dropped unfinished, its folder is removed.
pub struct Building {
    view: Arc<dyn GenerationView>,
    generation: i64,
    dir: PathBuf,
    tmp: tempfile::TempDir,
    writer: Mutex<Option<Box<dyn ViewWriter>>>,
    /// The writer's lock-free way in, when it has one (pass B's two workers then build their documents at once).
    shared: Option<Arc<dyn SharedAdd>>,
    started: std::time::Instant,
    full: bool,
}

impl Building {
    /// Start generation `generation`'s `view` under `data_dir`: an update from `base` (that generation's folder of
    /// the same view) when given, current and supported by the view; else a full build.
    pub fn start(
        data_dir: &Path,
        view: Arc<dyn GenerationView>,
        generation: i64,
        base: Option<i64>,
        how: Build,
    ) -> Result<Building> {
        let root = root(data_dir, view.name());
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".gen-{generation}."))
            .suffix(".building")
            .tempdir_in(&root)
            .map_err(|e| io(&root, e))?;
        let base = base.map(|b| self::dir(data_dir, view.name(), b)).filter(|b| is_current(view.as_ref(), b));
        let mut writer = None;
        if let Some(base) = &base {
            writer = view.update(base, tmp.path(), generation)?;
        }
        let full = writer.is_none();
        let writer = match writer {
            Some(w) => w,
            None => view.build(tmp.path(), generation, how)?,
        };
        let dir = self::dir(data_dir, view.name(), generation);
        let shared = writer.shared();
        Ok(Building {
            view,
            generation,
            dir,
            tmp,
            writer: Mutex::new(Some(writer)),
            shared,
            started: std::time::Instant::now(),
            full,
        })
    }

    /// True for a full build (every person must be added); false for an update (only the changes).
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The view being built.
    pub fn name(&self) -> &'static str {
        self.view.name()
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn ViewWriter) -> Result<T>) -> Result<T> {
        let mut w = self.writer.lock().map_err(|_| Error::from("a view writer panicked"))?;
        match w.as_mut() {
            Some(w) => f(w.as_mut()),
            None => Err("the view is finished".into()),
        }
    }

    /// Remove a person (an update).
    pub fn remove(&self, idnat: &str) -> Result<()> {
        self.with(|w| w.remove(idnat))
    }

    /// Add a person (from any thread: through the writer's [`SharedAdd`] when it has one, else behind the build's
    /// lock).
    pub fn add(&self, person: &Person) -> Result<()> {
        match &self.shared {
            Some(s) => s.add(person),
            None => self.with(|w| w.add(person)),
        }
    }

    /// Add a person with the generation that wrote their version ([`ViewWriter::add_version`]).
    pub fn add_version(&self, person: &Person, since: i64) -> Result<()> {
        match &self.shared {
            Some(s) => s.add_version(person, since),
            None => self.with(|w| w.add_version(person, since)),
        }
    }

    /// Complete the view, mark it current and rename it into place (blocking: call it off the async threads).
    /// When another builder put a current folder there first, that one is kept.
    pub fn finish(self) -> Result<PathBuf> {
        let Building { view, generation, dir, tmp, writer, shared, started, full } = self;
        drop(shared);
        let w = writer.into_inner().map_err(|_| Error::from("a view writer panicked"))?;
        w.ok_or_else(|| Error::from("the view is finished"))?.finish()?;
        let marker = tmp.path().join(MARKER);
        std::fs::write(&marker, marker_text(view.as_ref())).map_err(|e| io(&marker, e))?;
        if dir.exists() {
            if is_current(view.as_ref(), &dir) {
                return Ok(dir);
            }
            // Of another version, or unfinished: replaced.
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        let tmp = tmp.keep();
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            if !is_current(view.as_ref(), &dir) {
                return Err(io(&dir, e));
            }
        }
        tracing::info!(view = view.name(), generation, full, elapsed = ?started.elapsed(), "view ready");
        Ok(dir)
    }
}

/// Remove the folders of `name` for generations older than `keep_from`, except `also_keep`, and builds of those
/// generations left behind by a process that stopped.
pub fn prune(data_dir: &Path, name: &str, keep_from: i64, also_keep: Option<i64>) {
    let root = root(data_dir, name);
    let Ok(entries) = std::fs::read_dir(&root) else { return };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let generation = file
            .strip_prefix("gen-")
            .or_else(|| file.strip_prefix(".gen-").and_then(|f| f.split('.').next()))
            .and_then(|g| g.parse::<i64>().ok());
        if let Some(g) = generation
            && g < keep_from
            && Some(g) != also_keep
            && let Err(err) = std::fs::remove_dir_all(e.path())
        {
            tracing::warn!(path = %e.path().display(), %err, "cannot remove an old view");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the idNats it was given, one per line, sorted.
    struct Ids;
    struct IdsWriter(PathBuf, std::collections::BTreeSet<String>);

    impl GenerationView for Ids {
        fn name(&self) -> &'static str {
            "ids"
        }
        fn version(&self) -> u32 {
            1
        }
        fn build(&self, dir: &Path, _: i64, _: Build) -> Result<Box<dyn ViewWriter>> {
            Ok(Box::new(IdsWriter(dir.join("ids"), Default::default())))
        }
        fn update(&self, base: &Path, dir: &Path, _: i64) -> Result<Option<Box<dyn ViewWriter>>> {
            let ids = std::fs::read_to_string(base.join("ids"))?.lines().map(str::to_string).collect();
            Ok(Some(Box::new(IdsWriter(dir.join("ids"), ids))))
        }
    }

    impl ViewWriter for IdsWriter {
        fn remove(&mut self, idnat: &str) -> Result<()> {
            self.1.remove(idnat);
            Ok(())
        }
        fn add(&mut self, p: &Person) -> Result<()> {
            self.1.insert(p.idnat.as_str().to_string());
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<()> {
            Ok(std::fs::write(&self.0, self.1.iter().map(|i| format!("{i}\n")).collect::<String>())?)
        }
    }

    /// Like `Ids`, fed only through its shared way in: its own `add` refuses.
    struct SharedIds;
    struct SharedIdsWriter(PathBuf, Arc<Mutex<std::collections::BTreeSet<String>>>);
    struct Shared(Arc<Mutex<std::collections::BTreeSet<String>>>);

    impl GenerationView for SharedIds {
        fn name(&self) -> &'static str {
            "shared-ids"
        }
        fn version(&self) -> u32 {
            1
        }
        fn build(&self, dir: &Path, _: i64, _: Build) -> Result<Box<dyn ViewWriter>> {
            Ok(Box::new(SharedIdsWriter(dir.join("ids"), Default::default())))
        }
    }

    impl ViewWriter for SharedIdsWriter {
        fn remove(&mut self, _: &str) -> Result<()> {
            Err("built in full only".into())
        }
        fn add(&mut self, _: &Person) -> Result<()> {
            Err("added through the build's lock".into())
        }
        fn finish(self: Box<Self>) -> Result<()> {
            let ids = self.1.lock().map_err(|_| Error::from("poisoned"))?;
            Ok(std::fs::write(&self.0, ids.iter().map(|i| format!("{i}\n")).collect::<String>())?)
        }
        fn shared(&self) -> Option<Arc<dyn SharedAdd>> {
            Some(Arc::new(Shared(self.1.clone())))
        }
    }

    impl SharedAdd for Shared {
        fn add(&self, p: &Person) -> Result<()> {
            self.0.lock().map_err(|_| Error::from("poisoned"))?.insert(p.idnat.as_str().to_string());
            Ok(())
        }
    }

    #[test]
    fn a_writer_with_a_shared_way_in_is_fed_from_several_threads_without_the_lock() -> Result<()> {
        let data = tempfile::tempdir()?;
        let view: Arc<dyn GenerationView> = Arc::new(SharedIds);
        let b = Building::start(data.path(), view.clone(), 1, None, Build::BesideSync { documents: 8 })?;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let b = &b;
                    s.spawn(move || -> Result<()> {
                        b.add(&person(&format!("81000000000{t}"))?)?;
                        b.add_version(&person(&format!("81000000001{t}"))?, 1)
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| h.join().map_err(|_| Error::from("a thread panicked"))?)
        })?;
        let d = b.finish()?;
        let ids = std::fs::read_to_string(d.join("ids"))?;
        assert_eq!(ids.lines().count(), 8, "{ids}");
        assert!(ids.lines().all(|l| l.starts_with("8100000000")), "{ids}");
        Ok(())
    }

    fn person(id: &str) -> Result<Person> {
        Ok(Person { idnat: annuaire_schemas::IdNat::new(id), ..Person::default() })
    }

    #[test]
    fn a_view_is_built_aside_renamed_into_place_updated_and_pruned() -> Result<()> {
        let data = tempfile::tempdir()?;
        let view: Arc<dyn GenerationView> = Arc::new(Ids);
        let b = Building::start(data.path(), view.clone(), 1, None, Build::Alone)?;
        assert!(b.is_full());
        b.add(&person("810000000001")?)?;
        b.add(&person("810000000002")?)?;
        // Not visible before it is finished.
        assert!(!dir(data.path(), "ids", 1).exists());
        let d1 = b.finish()?;
        assert!(is_current(view.as_ref(), &d1));
        assert_eq!(std::fs::read_to_string(d1.join("ids"))?, "810000000001\n810000000002\n");

        // Generation 2 from 1: one removed, one added.
        let b = Building::start(data.path(), view.clone(), 2, Some(1), Build::Alone)?;
        assert!(!b.is_full());
        b.remove("810000000001")?;
        b.add(&person("810000000003")?)?;
        let d2 = b.finish()?;
        assert_eq!(std::fs::read_to_string(d2.join("ids"))?, "810000000002\n810000000003\n");

        // An abandoned build leaves nothing; the base of another version is not used.
        drop(Building::start(data.path(), view.clone(), 3, Some(2), Build::Alone)?);
        std::fs::write(d2.join(MARKER), "ids 0\n")?;
        let b = Building::start(data.path(), view.clone(), 3, Some(2), Build::Alone)?;
        assert!(b.is_full());
        drop(b);
        let names: Vec<String> = std::fs::read_dir(root(data.path(), "ids"))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        assert_eq!(names.len(), 2, "{names:?}");

        prune(data.path(), "ids", 2, None);
        assert!(!d1.exists() && d2.exists());
        Ok(())
    }
}
