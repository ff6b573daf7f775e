//! What the FHIR directory keeps between requests: the index of the generation before the served one (for cursors of
//! a search that began before a promotion) and the `$export` jobs. Its own module, so that the state, the FHIR
//! handlers and the export handlers all depend on it and not on each other.

use crate::fhir::export::Output;
use annuaire_search::fhir::{FhirIndex, FhirIndexView};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// The FHIR directory's state in a server.
#[derive(Default)]
pub struct FhirState {
    /// The FHIR index of the generation last searched.
    current: tokio::sync::Mutex<Option<(i64, Arc<FhirIndex>)>>,
    /// The index of an older generation a cursor reads (only the one promoted before the served one).
    pub(crate) previous: tokio::sync::Mutex<Option<(i64, Arc<FhirIndex>)>>,
    /// `$export` jobs.
    pub jobs: Jobs,
}

pub(crate) enum Status {
    Running(Arc<AtomicU64>, tokio::task::AbortHandle),
    Done(Vec<Output>),
    Failed(String),
}

pub(crate) struct Job {
    pub(crate) dir: PathBuf,
    pub(crate) started: Instant,
    pub(crate) transaction_time: String,
    pub(crate) request: String,
    pub(crate) generation: i64,
    pub(crate) status: Status,
}

/// The export jobs of this server.
#[derive(Default)]
pub struct Jobs(std::sync::Mutex<BTreeMap<String, Job>>);

impl Jobs {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Job>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl FhirState {
    /// The FHIR index of generation `g`: the one in memory, or opened from the data directory, or made there (updated
    /// from the previous generation's by its changes when that one exists; the server's follower does it after each
    /// promotion, before anyone asks).
    pub async fn index(&self, store: &annuaire_store::Store, g: i64) -> anyhow::Result<Arc<FhirIndex>> {
        let mut current = self.current.lock().await;
        if let Some((cg, idx)) = current.as_ref()
            && *cg == g
        {
            return Ok(idx.clone());
        }
        let view: Arc<dyn annuaire_views::GenerationView> = Arc::new(FhirIndexView);
        let dirs = store.prepare(g, &[view]).await?;
        let dir = dirs.first().ok_or_else(|| anyhow::anyhow!("no folder for the FHIR index"))?.clone();
        let idx = Arc::new(tokio::task::spawn_blocking(move || FhirIndex::open(&dir)).await??);
        *current = Some((g, idx.clone()));
        Ok(idx)
    }
}
