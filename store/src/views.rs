//! Preparing a generation's views ([`annuaire_views`]) from the store: the one place that decides between a full
//! build and an update, reads the records, and prunes. The sync (before promoting), `annuaire approve` (before
//! promoting), the server's generation follower and the CLI all come here.

use crate::{ChangeKind, Error, Result, Store};
use annuaire_views::{Build, Building, GenerationView};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One preparation of a view at a time in a process (a server's follower and its first `stats` may ask together:
/// the second finds the view ready). Builders in other processes write aside and the first rename wins.
fn lock_of(name: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>> = Mutex::new(BTreeMap::new());
    let mut locks = LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(name.to_string()).or_default().clone()
}

fn view_err(view: &str, generation: i64, source: annuaire_views::Error) -> Error {
    Error::View { view: view.to_string(), generation, source }
}

impl Store {
    /// Make generation `generation`'s `views` current in this data directory and return their folders, in the
    /// order of `views`. A view already current is kept; the others are updated from the previous promoted
    /// generation's folder and this generation's changes (work proportional to the changes) when that folder is
    /// current and the view can, else built from every record, read once for all of them. Folders of generations
    /// older than the previous promoted one are then removed.
    pub async fn prepare(&self, generation: i64, views: &[Arc<dyn GenerationView>]) -> Result<Vec<PathBuf>> {
        let data_dir = self.data_dir().to_path_buf();
        let dir_of = |v: &Arc<dyn GenerationView>| annuaire_views::dir(&data_dir, v.name(), generation);
        let missing = |v: &&Arc<dyn GenerationView>| !annuaire_views::is_current(v.as_ref(), &dir_of(v));
        if views.iter().any(|v| missing(&v)) {
            let mut names: Vec<&str> = views.iter().map(|v| v.name()).collect();
            names.sort_unstable();
            names.dedup();
            let mut guards = Vec::with_capacity(names.len());
            for name in names {
                guards.push(lock_of(name).lock_owned().await);
            }
            let todo: Vec<Arc<dyn GenerationView>> = views.iter().filter(missing).cloned().collect();
            if !todo.is_empty() {
                self.build_views(generation, todo).await?;
            }
        }
        Ok(views.iter().map(dir_of).collect())
    }

    async fn build_views(&self, generation: i64, views: Vec<Arc<dyn GenerationView>>) -> Result<()> {
        let data_dir = self.data_dir().to_path_buf();
        let base = self.promoted_before(generation).await?;
        let mut buildings = Vec::with_capacity(views.len());
        for view in views {
            let name = view.name();
            let b = Building::start(&data_dir, view, generation, base, Build::Alone)
                .map_err(|e| view_err(name, generation, e))?;
            buildings.push(b);
        }
        let (full, update): (Vec<&Building>, Vec<&Building>) = buildings.iter().partition(|b| b.is_full());
        if !update.is_empty() {
            // The changed persons' records are read 500 at a time (one query each, not one per person).
            let changes = self.changes_of(generation).await?;
            for chunk in changes.chunks(500) {
                for (idnat, _) in chunk {
                    for b in &update {
                        b.remove(idnat).map_err(|e| view_err(b.name(), generation, e))?;
                    }
                }
                let kept: Vec<String> =
                    chunk.iter().filter(|(_, kind)| *kind != ChangeKind::Delete).map(|(id, _)| id.clone()).collect();
                for (_, version) in self.versions_at(&kept, generation).await? {
                    if version.deleted_by.is_some() {
                        continue;
                    }
                    let person = crate::record::decode(&version.record)?;
                    for b in &update {
                        b.add_version(&person, version.since_generation)
                            .map_err(|e| view_err(b.name(), generation, e))?;
                    }
                }
            }
        }
        if !full.is_empty() {
            self.for_each_version_at(generation, |record, since| -> Result<()> {
                let person = crate::record::decode(record)?;
                for b in &full {
                    b.add_version(&person, since).map_err(|e| view_err(b.name(), generation, e))?;
                }
                Ok(())
            })
            .await??;
        }
        for b in buildings {
            let name = b.name();
            tokio::task::spawn_blocking(move || b.finish())
                .await
                .map_err(|e| view_err(name, generation, e.to_string().into()))?
                .map_err(|e| view_err(name, generation, e))?;
            annuaire_views::prune(&data_dir, name, base.unwrap_or(generation).min(generation), None);
        }
        Ok(())
    }
}
