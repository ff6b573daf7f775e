//! The claims snapshot answers what the store path renders, and its update from the previous generation equals a
//! build from every record.

use annuaire_claims::snapshot::{ClaimsSnapshot, ClaimsSnapshotView, NAME};
use annuaire_claims::{Profile, user_info};
use annuaire_ingest::{RunOptions, run_once};
use annuaire_store::Store;
use annuaire_views::GenerationView;
use anyhow::Context;
use std::sync::Arc;

/// Every entry of a snapshot, decoded.
fn contents(s: &ClaimsSnapshot) -> Vec<(String, Vec<Vec<u8>>)> {
    let ids: Vec<String> = s.idnats().collect();
    ids.into_iter()
        .map(|id| {
            let answers = (0..Profile::ALL.len()).map(|v| s.get(&id, v).ok().flatten().unwrap_or_default()).collect();
            (id, answers)
        })
        .collect()
}

async fn snapshot(store: &Store, generation: i64) -> anyhow::Result<ClaimsSnapshot> {
    let view: Arc<dyn GenerationView> = Arc::new(ClaimsSnapshotView);
    let dirs = store.prepare(generation, &[view]).await?;
    Ok(ClaimsSnapshot::open(dirs.first().context("a folder")?)?)
}

#[tokio::test]
async fn the_snapshot_answers_what_the_store_renders_and_its_update_equals_a_rebuild() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?;
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples");
    let first = run_once(&store, &RunOptions::new(samples.join("PS_LibreAcces"))).await?;
    let g1 = first.generation.context("generation")?;
    let s1 = snapshot(&store, g1).await?;
    let persons = store.persons_at(g1).await?;
    assert!(persons.len() > 300, "{} persons", persons.len());
    assert_eq!(s1.meta().persons, persons.len() as u64);
    for (idnat, record) in &persons {
        let p = annuaire_store::record::decode(record)?;
        for (v, profile) in Profile::ALL.iter().enumerate() {
            let want = serde_json::to_vec(&user_info(&p, *profile))?;
            assert_eq!(s1.get(idnat, v)?.as_deref(), Some(want.as_slice()), "{idnat} {profile:?}");
        }
    }
    assert_eq!(s1.get("899999999999", 0)?, None);

    // The next extract: a fifth of the lines gone, and every doctor's profession label changed.
    let next = dir.path().join("next");
    std::fs::create_dir_all(&next)?;
    for e in std::fs::read_dir(samples.join("PS_LibreAcces"))? {
        let path = e?.path();
        let name = path.file_name().context("name")?.to_string_lossy().replace("202", "203");
        let text = std::fs::read_to_string(&path)?;
        let text: String = if name.contains("Personne_activite") {
            text.lines()
                .enumerate()
                .filter(|(i, _)| *i == 0 || i % 5 != 3)
                .map(|(_, l)| format!("{}\n", l.replace("|Médecin|", "|Medecin|")))
                .collect()
        } else {
            text
        };
        std::fs::write(next.join(name), text)?;
    }
    let second = run_once(&store, &opts_for(next.clone())).await?;
    let g2 = second.generation.context("generation")?;
    let total = second.diff.total();
    assert!(total.updated > 0 && total.deleted > 0, "{total:?}");
    let updated = snapshot(&store, g2).await?;
    // The update is a layer over generation 1's: only the changed persons were written.
    let layers = &updated.meta().layers;
    assert_eq!(layers.len(), 2, "{layers:?}");
    assert_eq!(layers[0].file, format!("data-{g1}.bin"));
    assert_eq!(layers[0].bytes, s1.meta().layers[0].bytes);
    assert!(layers[1].bytes < layers[0].bytes, "{layers:?}");
    assert_eq!(layers[1].live, layers[1].bytes);
    assert!(updated.meta().dead_percent() > 0);
    // A rebuild from every record: remove the update and the previous snapshot, so nothing is copied.
    let updated_contents = contents(&updated);
    let dead = updated.meta().dead_percent();
    drop(updated);
    drop(s1);
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g1))?;
    assert_eq!(contents(&ClaimsSnapshot::open(&annuaire_views::dir(store.data_dir(), NAME, g2))?), updated_contents);

    // Generation 3 (the first extract again) from generation 2's layers: more than a quarter of them is dead, so
    // every entry is rewritten into one layer.
    assert!(dead > annuaire_claims::snapshot::format::MAX_DEAD_PERCENT, "{dead} %");
    let third = run_once(&store, &opts_for(samples.join("PS_LibreAcces"))).await?;
    let g3 = third.generation.context("generation")?;
    let rewritten = snapshot(&store, g3).await?;
    assert_eq!(rewritten.meta().layers.len(), 1);
    assert_eq!(rewritten.meta().dead_percent(), 0);
    let rewritten_contents = contents(&rewritten);
    drop(rewritten);

    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g2))?;
    let rebuilt = snapshot(&store, g2).await?;
    assert_eq!(updated_contents, contents(&rebuilt));
    assert_eq!(rebuilt.meta().persons, store.persons_at(g2).await?.len() as u64);
    drop(rebuilt);
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g3))?;
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g2))?;
    assert_eq!(rewritten_contents, contents(&snapshot(&store, g3).await?));
    Ok(())
}

fn opts_for(path: std::path::PathBuf) -> RunOptions {
    let mut opts = RunOptions::new(path);
    (opts.max_delete_rate, opts.max_update_rate) = (100.0, 100.0);
    opts
}
