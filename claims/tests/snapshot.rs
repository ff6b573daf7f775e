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
    let updated = snapshot(&store, g2).await?;
    // A rebuild from every record: remove the update and the previous snapshot, so nothing is copied.
    let updated_contents = contents(&updated);
    drop(updated);
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g2))?;
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), NAME, g1))?;
    let rebuilt = snapshot(&store, g2).await?;
    assert_eq!(updated_contents, contents(&rebuilt));
    assert_eq!(rebuilt.meta().persons, store.persons_at(g2).await?.len() as u64);
    Ok(())
}
