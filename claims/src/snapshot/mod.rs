//! The claims snapshot of a generation (`DATA_DIR/claims/gen-N`, files in [`mod@format`]): every person's claims
//! rendered in every profile, so that `GET /v1/claims/{id}` is a map lookup and a small read, with no SQL and no
//! JSON parsing. It is a [`GenerationView`]: `serve` prepares it in the background when a generation is promoted
//! and answers from the store until it is there; it is derived from the store and may be deleted at any time.
//!
//! The answers are byte for byte what the store path renders ([`user_info`] of the stored record): a test
//! (`claims/tests/snapshot.rs`) checks it for every person of the samples, and that the snapshot updated from the
//! previous generation's equals one built from scratch.

pub mod format;

use crate::{Profile, user_info};
use annuaire_schemas::Person;
use annuaire_views::{Build, GenerationView, ViewWriter};
pub use format::{Cached, ClaimsSnapshot, SnapshotWriter};
use format::{dictionary, encode};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Persons rendered per parallel batch.
const BATCH: usize = 8192;

/// The view's folder name under the data directory.
pub const NAME: &str = "claims";

/// The claims snapshot as a view of a generation.
pub struct ClaimsSnapshotView;

impl GenerationView for ClaimsSnapshotView {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // The file layout's version, and the claims' shape (a change of `user_info` must bump it too).
        format::FORMAT
    }

    fn build(&self, dir: &Path, generation: i64, _: Build) -> annuaire_views::Result<Box<dyn ViewWriter>> {
        Ok(Box::new(Full { dir: dir.to_path_buf(), generation, batch: Vec::new(), w: None }))
    }

    fn update(&self, base: &Path, dir: &Path, generation: i64) -> annuaire_views::Result<Option<Box<dyn ViewWriter>>> {
        if !ClaimsSnapshot::is_current(base) {
            return Ok(None);
        }
        let old = ClaimsSnapshot::open(base)?;
        // A new layer over the previous snapshot's (hard-linked: nothing copied) when it has few layers and little
        // dead data; else every entry rewritten into one layer, with the previous dictionary so that entries are
        // copied as they are. A file system without hard links gets the rewrite.
        let layered = if old.meta().takes_a_layer() {
            match SnapshotWriter::on(dir, generation, &old) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "claims snapshot: cannot add a layer, rewriting every entry");
                    let _ = std::fs::remove_dir_all(dir);
                    None
                }
            }
        } else {
            None
        };
        let (w, layered) = match layered {
            Some(w) => (w, true),
            None => (SnapshotWriter::create(dir, generation, &variants(), old.dict())?, false),
        };
        Ok(Some(Box::new(Update { old, w, layered, changed: HashSet::new(), fresh: Vec::new() })))
    }
}

fn variants() -> Vec<&'static str> {
    Profile::ALL.iter().map(|p| p.as_str()).collect()
}

/// A person's claims in every profile.
fn render(p: &Person) -> serde_json::Result<Vec<Vec<u8>>> {
    Profile::ALL.iter().map(|&profile| serde_json::to_vec(&user_info(p, profile))).collect()
}

/// A person's snapshot entry, encoded with `dict`.
fn entry(dict: &[u8], p: &Person) -> serde_json::Result<(String, Vec<u8>)> {
    let answers = render(p)?;
    let answers: Vec<&[u8]> = answers.iter().map(Vec::as_slice).collect();
    Ok((p.idnat.as_str().to_string(), encode(dict, &answers)))
}

/// A full build: persons arrive in idNat order and are rendered in parallel batches.
struct Full {
    dir: PathBuf,
    generation: i64,
    batch: Vec<Person>,
    w: Option<SnapshotWriter>,
}

impl Full {
    /// Write the batch; the first batch also makes the dictionary and starts the writer.
    fn flush(&mut self) -> annuaire_views::Result<()> {
        if self.w.is_none() {
            let samples: Vec<Vec<Vec<u8>>> = self
                .batch
                .iter()
                .step_by((self.batch.len() / 32).max(1))
                .map(render)
                .collect::<serde_json::Result<_>>()?;
            let samples: Vec<Vec<&[u8]>> = samples.iter().map(|a| a.iter().map(Vec::as_slice).collect()).collect();
            self.w = Some(SnapshotWriter::create(&self.dir, self.generation, &variants(), &dictionary(&samples))?);
        }
        let Some(w) = self.w.as_mut() else { return Ok(()) };
        let dict = w.dict();
        let entries: Vec<(String, Vec<u8>)> =
            self.batch.par_iter().map(|p| entry(&dict, p)).collect::<serde_json::Result<_>>()?;
        for (idnat, e) in entries {
            w.add_encoded(&idnat, &e)?;
        }
        self.batch.clear();
        Ok(())
    }
}

impl ViewWriter for Full {
    fn remove(&mut self, _: &str) -> annuaire_views::Result<()> {
        Err("a full build of the claims snapshot removes nobody".into())
    }

    fn add(&mut self, person: &Person) -> annuaire_views::Result<()> {
        self.batch.push(person.clone());
        if self.batch.len() == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> annuaire_views::Result<()> {
        // The last batch, even empty: it starts the writer when the generation has fewer persons than a batch.
        self.flush()?;
        let w = self.w.take().ok_or("the snapshot writer was not started")?;
        w.finish()?;
        Ok(())
    }
}

/// An update: the changed persons are rendered, and merged with the previous snapshot's unchanged entries, which
/// stay in its layers (`layered`) or are copied as they are into the new one.
struct Update {
    old: ClaimsSnapshot,
    w: SnapshotWriter,
    layered: bool,
    changed: HashSet<String>,
    fresh: Vec<Person>,
}

impl ViewWriter for Update {
    fn remove(&mut self, idnat: &str) -> annuaire_views::Result<()> {
        self.changed.insert(idnat.to_string());
        Ok(())
    }

    fn add(&mut self, person: &Person) -> annuaire_views::Result<()> {
        self.changed.insert(person.idnat.as_str().to_string());
        self.fresh.push(person.clone());
        Ok(())
    }

    fn finish(self: Box<Self>) -> annuaire_views::Result<()> {
        let Update { old, mut w, layered, changed, fresh } = *self;
        let dict = w.dict();
        let fresh: BTreeMap<String, Vec<u8>> =
            fresh.par_iter().map(|p| entry(&dict, p)).collect::<serde_json::Result<_>>()?;
        let mut fresh = fresh.into_iter().peekable();
        // The fresh entries before `idnat`, in order.
        let mut before = |w: &mut SnapshotWriter, idnat: &str| -> std::io::Result<()> {
            while let Some((id, e)) = fresh.next_if(|(id, _)| id.as_str() < idnat) {
                w.add_encoded(&id, &e)?;
            }
            Ok(())
        };
        if layered {
            old.for_each_place(|idnat, place| {
                before(&mut w, idnat)?;
                if changed.contains(idnat) { Ok(()) } else { w.add_kept(idnat, place) }
            })?;
        } else {
            old.for_each_entry(|idnat, raw| {
                before(&mut w, idnat)?;
                if changed.contains(idnat) { Ok(()) } else { w.add_encoded(idnat, raw) }
            })?;
        }
        for (id, e) in fresh {
            w.add_encoded(&id, &e)?;
        }
        w.finish()?;
        Ok(())
    }
}
