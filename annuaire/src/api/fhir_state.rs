//! What the FHIR directory keeps between requests: the index of the generation before the served one (for cursors of
//! a search that began before a promotion) and the `$export` jobs. Its own module, so that the state, the FHIR
//! handlers and the export handlers all depend on it and not on each other.

use crate::fhir::export::Output;
use annuaire_search::SearchIndex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// The FHIR directory's state in a server.
#[derive(Default)]
pub struct FhirState {
    /// The index of an older generation a cursor reads (only the one promoted before the served one).
    pub(crate) previous: tokio::sync::Mutex<Option<(i64, Arc<SearchIndex>)>>,
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
