//! The claims snapshot of a generation (`DATA_DIR/claims/gen-N`, format in `annuaire_store::snapshot`): every
//! person's claims rendered in every profile, so that `GET /v1/claims/{id}` is a map lookup and a small read,
//! with no SQL and no JSON parsing. `serve` writes it in the background when a generation is promoted and answers
//! from the store until it is there; it is derived from the store and may be deleted at any time.
//!
//! The answers are byte for byte what the store path renders (`user_info` of the stored record): a test checks
//! it for every person of the samples, and that the snapshot updated from the previous generation's equals one
//! built from scratch.

use annuaire_claims::{Profile, user_info};
use annuaire_schemas::Person;
use annuaire_store::snapshot::{ClaimsSnapshot, SnapshotWriter, dictionary, encode, snapshot_dir};
use annuaire_store::{ChangeKind, Store};
use anyhow::Context;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Persons rendered per parallel batch.
const BATCH: usize = 8192;

fn variants() -> Vec<&'static str> {
    Profile::ALL.iter().map(|p| p.as_str()).collect()
}

/// A stored record's idNat and claims in every profile.
fn render(record: &str) -> anyhow::Result<(String, Vec<Vec<u8>>)> {
    let p: Person = crate::record::parse(record)?;
    let answers = Profile::ALL
        .iter()
        .map(|&profile| serde_json::to_vec(&user_info(&p, profile)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((p.idnat.as_str().to_string(), answers))
}

/// A stored record's snapshot entry: its idNat and its claims in every profile, encoded with `dict`.
fn entry(dict: &[u8], record: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let (idnat, answers) = render(record)?;
    let answers: Vec<&[u8]> = answers.iter().map(Vec::as_slice).collect();
    Ok((idnat, encode(dict, &answers)))
}

/// Write a batch of records; the first batch also makes the dictionary and starts the writer.
fn write_batch(
    w: &mut Option<SnapshotWriter>,
    data_dir: &std::path::Path,
    generation: i64,
    batch: &mut Vec<String>,
) -> anyhow::Result<()> {
    if w.is_none() {
        let samples: Vec<Vec<Vec<u8>>> = batch
            .iter()
            .step_by((batch.len() / 32).max(1))
            .map(|r| render(r).map(|(_, a)| a))
            .collect::<anyhow::Result<_>>()?;
        let samples: Vec<Vec<&[u8]>> = samples.iter().map(|a| a.iter().map(Vec::as_slice).collect()).collect();
        *w = Some(SnapshotWriter::create(data_dir, generation, &variants(), &dictionary(&samples))?);
    }
    let Some(w) = w.as_mut() else { return Ok(()) };
    let dict = w.dict();
    let entries: Vec<(String, Vec<u8>)> = batch.par_iter().map(|r| entry(&dict, r)).collect::<anyhow::Result<_>>()?;
    for (idnat, e) in entries {
        w.add_encoded(&idnat, &e)?;
    }
    batch.clear();
    Ok(())
}

/// Write generation `generation`'s claims snapshot unless it exists: from the previous promoted generation's
/// snapshot and this generation's changes when that one exists (work proportional to the changes), else from
/// every record.
pub async fn claims_snapshot(store: &Store, generation: i64) -> anyhow::Result<PathBuf> {
    let data_dir = store.data_dir();
    let dir = snapshot_dir(data_dir, generation);
    if ClaimsSnapshot::is_current(&dir) {
        return Ok(dir);
    }
    let t = std::time::Instant::now();
    let base = match store.promoted_before(generation).await? {
        Some(b) if ClaimsSnapshot::is_current(&snapshot_dir(data_dir, b)) => Some(b),
        _ => None,
    };
    if let Some(base) = base {
        let old = ClaimsSnapshot::open(&snapshot_dir(data_dir, base))?;
        // The previous snapshot's dictionary, so that its entries are copied as they are.
        let mut w = SnapshotWriter::create(data_dir, generation, &variants(), old.dict())?;
        let changes = store.changes_of(generation).await?;
        let changed: HashSet<String> = changes.iter().map(|(id, _)| id.clone()).collect();
        let mut records = Vec::new();
        for (idnat, kind) in &changes {
            if *kind != ChangeKind::Delete
                && let Some(stored) = store.person_at(idnat, generation).await?
            {
                records.push(stored.record);
            }
        }
        // Render the changed persons, and merge them with the unchanged entries, copied as they are.
        w = tokio::task::spawn_blocking(move || -> anyhow::Result<SnapshotWriter> {
            let dict = w.dict();
            let fresh: BTreeMap<String, Vec<u8>> =
                records.par_iter().map(|r| entry(&dict, r)).collect::<anyhow::Result<_>>()?;
            let mut fresh = fresh.into_iter().peekable();
            old.for_each_entry(|idnat, raw| {
                while let Some((id, e)) = fresh.next_if(|(id, _)| id.as_str() < idnat) {
                    w.add_encoded(&id, &e)?;
                }
                if !changed.contains(idnat) {
                    w.add_encoded(idnat, raw)?;
                }
                Ok(())
            })?;
            for (id, e) in fresh {
                w.add_encoded(&id, &e)?;
            }
            Ok(w)
        })
        .await??;
        let persons = w.persons();
        let dir = tokio::task::spawn_blocking(move || w.finish()).await??;
        tracing::info!(generation, base, changes = changes.len(), persons, elapsed = ?t.elapsed(), "claims snapshot updated");
        return Ok(dir);
    }
    let mut batch = Vec::with_capacity(BATCH);
    let mut w = None;
    store
        .for_each_person_at(generation, |record| -> anyhow::Result<()> {
            batch.push(record.to_string());
            if batch.len() == BATCH {
                write_batch(&mut w, data_dir, generation, &mut batch)?;
            }
            Ok(())
        })
        .await??;
    // The last batch, even empty: it starts the writer when the generation has fewer persons than a batch.
    write_batch(&mut w, data_dir, generation, &mut batch)?;
    let w = w.context("the snapshot writer was not started")?;
    let persons = w.persons();
    let dir = tokio::task::spawn_blocking(move || w.finish()).await??;
    tracing::info!(generation, persons, elapsed = ?t.elapsed(), "claims snapshot built");
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use annuaire_ingest::{RunOptions, run_once};

    /// Every entry of a snapshot, decoded.
    fn contents(s: &ClaimsSnapshot) -> Vec<(String, Vec<Vec<u8>>)> {
        let ids: Vec<String> = s.idnats().collect();
        ids.into_iter()
            .map(|id| {
                let answers =
                    (0..Profile::ALL.len()).map(|v| s.get(&id, v).ok().flatten().unwrap_or_default()).collect();
                (id, answers)
            })
            .collect()
    }

    #[tokio::test]
    async fn the_snapshot_answers_what_the_store_renders_and_its_update_equals_a_rebuild() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path()).await?;
        let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples");
        let first = run_once(&store, &RunOptions::new(samples.join("PS_LibreAcces"))).await?;
        let g1 = first.generation.context("generation")?;
        let s1 = ClaimsSnapshot::open(&claims_snapshot(&store, g1).await?)?;
        let persons = store.persons_at(g1).await?;
        assert!(persons.len() > 300, "{} persons", persons.len());
        assert_eq!(s1.meta().persons, persons.len() as u64);
        for (idnat, record) in &persons {
            let p: Person = crate::record::parse(record)?;
            for (v, profile) in Profile::ALL.iter().enumerate() {
                let want = serde_json::to_vec(&user_info(&p, *profile))?;
                assert_eq!(s1.get(idnat, v)?.as_deref(), Some(want.as_slice()), "{idnat} {profile:?}");
            }
        }
        assert_eq!(s1.get("899999999999", 0)?, None);

        // The next extract: a tenth of the persons gone, and every doctor's profession label changed.
        let next = dir.path().join("next");
        std::fs::create_dir_all(&next)?;
        for e in std::fs::read_dir(samples.join("PS_LibreAcces"))? {
            let path = e?.path();
            let name = path.file_name().context("name")?.to_string_lossy().replace("202", "203");
            let text = std::fs::read_to_string(&path)?;
            let text: String = if name.contains("Personne_activite") {
                text.lines()
                    .enumerate()
                    .filter(|(i, _)| *i == 0 || i % 10 != 3)
                    .map(|(_, l)| format!("{}\n", l.replace("|Médecin|", "|Medecin|")))
                    .collect()
            } else {
                text
            };
            std::fs::write(next.join(name), text)?;
        }
        let mut opts = RunOptions::new(&next);
        (opts.max_delete_rate, opts.max_update_rate) = (100.0, 100.0);
        let second = run_once(&store, &opts).await?;
        let g2 = second.generation.context("generation")?;
        let total = second.diff.total();
        assert!(total.updated > 0 && total.deleted > 0, "{total:?}");
        let updated = ClaimsSnapshot::open(&claims_snapshot(&store, g2).await?)?;
        // A rebuild from every record: remove the update and the previous snapshot, so nothing is copied.
        let updated_contents = contents(&updated);
        drop(updated);
        std::fs::remove_dir_all(snapshot_dir(store.data_dir(), g2))?;
        std::fs::remove_dir_all(snapshot_dir(store.data_dir(), g1))?;
        let rebuilt = ClaimsSnapshot::open(&claims_snapshot(&store, g2).await?)?;
        assert_eq!(updated_contents, contents(&rebuilt));
        assert_eq!(rebuilt.meta().persons, store.persons_at(g2).await?.len() as u64);
        Ok(())
    }
}
