//! A generation's views: a small test view shows what one implementation and one registration give (built during
//! a first load, updated by the next sync, equal to a rebuild), and that neither a sync nor `approve` promotes a
//! generation whose views cannot be made.

use annuaire_ingest::{RunOptions, approve, run_once};
use annuaire_schemas::Person;
use annuaire_store::{ChangeKind, RunStatus, Store};
use annuaire_views::{Build, GenerationView, ViewWriter};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The idNats of a generation, one per line: updated from the previous generation's by its changes. It can be told
/// to fail, and counts its full builds.
#[derive(Default)]
struct Ids {
    fail: AtomicBool,
    full_builds: AtomicUsize,
}

struct IdsWriter(PathBuf, BTreeSet<String>);

impl GenerationView for Ids {
    fn name(&self) -> &'static str {
        "test-ids"
    }
    fn version(&self) -> u32 {
        1
    }
    fn build(&self, dir: &Path, _: i64, _: Build) -> annuaire_views::Result<Box<dyn ViewWriter>> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("the test view was told to fail".into());
        }
        self.full_builds.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(IdsWriter(dir.join("ids"), BTreeSet::new())))
    }
    fn update(&self, base: &Path, dir: &Path, _: i64) -> annuaire_views::Result<Option<Box<dyn ViewWriter>>> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("the test view was told to fail".into());
        }
        let ids = std::fs::read_to_string(base.join("ids"))?.lines().map(str::to_string).collect();
        Ok(Some(Box::new(IdsWriter(dir.join("ids"), ids))))
    }
}

impl ViewWriter for IdsWriter {
    fn remove(&mut self, idnat: &str) -> annuaire_views::Result<()> {
        self.1.remove(idnat);
        Ok(())
    }
    fn add(&mut self, p: &Person) -> annuaire_views::Result<()> {
        self.1.insert(p.idnat.as_str().to_string());
        Ok(())
    }
    fn finish(self: Box<Self>) -> annuaire_views::Result<()> {
        Ok(std::fs::write(&self.0, self.1.iter().map(|i| format!("{i}\n")).collect::<String>())?)
    }
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces")
}

/// The samples with one person line in `1 / every` gone, under new names (so that the source is not the same).
fn thinned(dir: &Path, every: usize) -> anyhow::Result<PathBuf> {
    let next = dir.join(format!("thinned-{every}"));
    std::fs::create_dir_all(&next)?;
    for e in std::fs::read_dir(samples())? {
        let path = e?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().replace("202", "203")).unwrap_or_default();
        let text = std::fs::read_to_string(&path)?;
        let text: String = if name.contains("Personne_activite") {
            text.lines().enumerate().filter(|(i, _)| *i == 0 || i % every != 3).map(|(_, l)| format!("{l}\n")).collect()
        } else {
            text
        };
        std::fs::write(next.join(name), text)?;
    }
    Ok(next)
}

/// What the view holds for generation `g`, and the store's persons of `g`.
async fn held_and_stored(store: &Store, g: i64) -> anyhow::Result<(String, String)> {
    let dir = annuaire_views::dir(store.data_dir(), "test-ids", g);
    let held = std::fs::read_to_string(dir.join("ids"))?;
    let stored = store.persons_at(g).await?.into_iter().map(|(id, _)| format!("{id}\n")).collect();
    Ok((held, stored))
}

#[tokio::test]
async fn a_view_is_made_by_the_first_load_updated_by_each_sync_and_equals_a_rebuild() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?;
    let view = Arc::new(Ids::default());
    let mut opts = RunOptions::new(samples());
    opts.views = vec![view.clone()];
    let g1 = run_once(&store, &opts).await?.generation.ok_or_else(|| anyhow::anyhow!("no generation"))?;
    let (held, stored) = held_and_stored(&store, g1).await?;
    assert_eq!(held, stored);
    assert_eq!(view.full_builds.load(Ordering::SeqCst), 1, "fed during the first load");

    let mut opts = RunOptions::new(thinned(dir.path(), 10)?);
    opts.views = vec![view.clone()];
    (opts.max_delete_rate, opts.gate_floor) = (100.0, 0);
    let second = run_once(&store, &opts).await?;
    assert_eq!(second.status, RunStatus::Promoted);
    let g2 = second.generation.ok_or_else(|| anyhow::anyhow!("no generation"))?;
    assert!(second.diff.total().deleted > 0);
    let (held, stored) = held_and_stored(&store, g2).await?;
    assert_eq!(held, stored);
    assert_eq!(view.full_builds.load(Ordering::SeqCst), 1, "updated from generation {g1}, not rebuilt");

    // A rebuild from every record gives the same.
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), "test-ids", g2))?;
    std::fs::remove_dir_all(annuaire_views::dir(store.data_dir(), "test-ids", g1))?;
    let v: Arc<dyn GenerationView> = view.clone();
    store.prepare(g2, &[v]).await?;
    assert_eq!(view.full_builds.load(Ordering::SeqCst), 2);
    assert_eq!(held_and_stored(&store, g2).await?.0, held);
    Ok(())
}

#[tokio::test]
async fn neither_a_sync_nor_approve_promotes_a_generation_whose_views_cannot_be_made() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?;
    let view = Arc::new(Ids::default());
    let views: Vec<Arc<dyn GenerationView>> = vec![view.clone()];
    let mut opts = RunOptions::new(samples());
    opts.views = views.clone();
    let g1 = run_once(&store, &opts).await?.generation.ok_or_else(|| anyhow::anyhow!("no generation"))?;

    // A sync whose view fails: the run fails and generation g1 stays served.
    view.fail.store(true, Ordering::SeqCst);
    let mut opts = RunOptions::new(thinned(dir.path(), 10)?);
    opts.views = views.clone();
    (opts.max_delete_rate, opts.gate_floor) = (100.0, 0);
    let err = run_once(&store, &opts).await.err().ok_or_else(|| anyhow::anyhow!("the sync should fail"))?;
    assert!(err.to_string().contains("test-ids"), "{err}");
    assert_eq!(store.served().await?.map(|s| s.generation), Some(g1));

    // A held generation: approve cannot make the view, so it stays held and g1 stays served.
    let mut opts = RunOptions::new(thinned(dir.path(), 5)?);
    opts.views = views.clone();
    let held = run_once(&store, &opts).await?;
    assert_eq!(held.status, RunStatus::Held);
    let g3 = held.generation.ok_or_else(|| anyhow::anyhow!("no generation"))?;
    let err = approve(&store, g3, &[], &views).await.err().ok_or_else(|| anyhow::anyhow!("approve should fail"))?;
    assert!(err.to_string().contains("test-ids"), "{err}");
    assert_eq!(store.held().await?.map(|h| h.generation), Some(g3));
    assert_eq!(store.served().await?.map(|s| s.generation), Some(g1));
    assert!(!annuaire_views::dir(store.data_dir(), "test-ids", g3).exists());

    // Once the view can be made, approve makes it, then promotes.
    view.fail.store(false, Ordering::SeqCst);
    let kept = approve(&store, g3, &[], &views).await?;
    assert!(kept.get(&ChangeKind::Delete).copied().unwrap_or(0) > 0, "{kept:?}");
    assert_eq!(store.served().await?.map(|s| s.generation), Some(g3));
    let (held, stored) = held_and_stored(&store, g3).await?;
    assert_eq!(held, stored);
    Ok(())
}
