//! The views of a first load: nothing is served yet, so every person the sync groups is new and goes to the views
//! as pass B groups them, rather than being read back from the store afterwards.

use crate::error::{Error, Result};
use std::sync::Arc;

/// The views of a first load, fed the persons as pass B groups them.
pub(crate) struct Live(Vec<annuaire_views::Building>, i64);

impl Live {
    pub(crate) fn start(
        data_dir: &std::path::Path,
        views: &[Arc<dyn annuaire_views::GenerationView>],
        generation: i64,
        documents: u64,
    ) -> Result<Live> {
        let how = annuaire_views::Build::BesideSync { documents };
        let start = |v: &Arc<dyn annuaire_views::GenerationView>| {
            annuaire_views::Building::start(data_dir, v.clone(), generation, None, how)
                .map_err(|e| view_err(v.name(), generation, e))
        };
        Ok(Live(views.iter().map(start).collect::<Result<_>>()?, generation))
    }

    pub(crate) fn add(&self, person: &annuaire_schemas::Person) -> Result<()> {
        for b in &self.0 {
            b.add_version(person, self.1).map_err(|e| view_err(b.name(), self.1, e))?;
        }
        Ok(())
    }

    pub(crate) async fn finish(self) -> Result<()> {
        let Live(buildings, generation) = self;
        for b in buildings {
            let name = b.name();
            tokio::task::spawn_blocking(move || b.finish())
                .await
                .map_err(|e| Error::Interrupted(format!("view thread failed: {e}")))?
                .map_err(|e| view_err(name, generation, e))?;
        }
        Ok(())
    }
}

fn view_err(view: &str, generation: i64, source: annuaire_views::Error) -> Error {
    Error::Store(annuaire_store::Error::View { view: view.to_string(), generation, source })
}
