//! One ingest run, end to end: lock → recover → fingerprint → parse → check → diff → gate → write →
//! promote (or hold). Used by the CLI and by the scheduler of `annuaire serve`.
//!
//! Whatever happens, the served generation stays served until the new one is complete and passes the
//! gate: a failed run abandons its generation (nothing of it remains), a killed run is rolled back by
//! the next one ([`annuaire_store::Store::recover`]).

pub use crate::diff::{DEFAULT_GATE_FLOOR, Diff, GroupDiff, RunOutcome, SegmentDiff, SegmentGate};
use crate::error::Result;
pub use crate::options::{Origin, ProgressFn, RunOptions};
use annuaire_store::{RunFinish, RunStatus, Store};
/// Run one ingest. A failure is recorded in the run table and returned as an error.
pub async fn run_once(store: &Store, opts: &RunOptions) -> Result<RunOutcome> {
    let lock = store.lock_sync(&format!("sync {}", opts.source)).await?;
    let result = run_locked(store, opts).await;
    lock.release().await?;
    result
}

/// Promote the held generation `generation` (`annuaire approve`), leaving out the changes of the kinds in
/// `exclude`, once its `views` are complete (invariant 6: the same views the sync makes before promoting). When a
/// view cannot be prepared the generation stays held. Returns the changes kept, by kind.
pub async fn approve(
    store: &Store,
    generation: i64,
    exclude: &[annuaire_store::ChangeKind],
    views: &[std::sync::Arc<dyn annuaire_views::GenerationView>],
) -> Result<std::collections::HashMap<annuaire_store::ChangeKind, i64>> {
    let lock = store.lock_sync(&format!("approve {generation}")).await?;
    // The exclusions are applied first (the generation stays held), the views are prepared from what it will serve,
    // and only then is it promoted.
    let result = async {
        store.exclude_changes(generation, exclude).await?;
        store.prepare(generation, views).await?;
        Ok(store.approve(generation, exclude).await?)
    }
    .await;
    lock.release().await?;
    result
}

async fn run_locked(store: &Store, opts: &RunOptions) -> Result<RunOutcome> {
    let cleaned = store.recover().await?;
    if !cleaned.is_empty() {
        tracing::warn!(generations = ?cleaned, "rolled back generations left by an interrupted sync");
    }
    if let Some(held) = store.held().await? {
        tracing::warn!(generation = held.generation, "a new sync supersedes the held generation");
        store.abandon(held.generation, "superseded").await?;
    }
    let run = store.start_run(&opts.source.to_string()).await?;
    let mut stages =
        crate::stages::Run { store, opts, run, finish: RunFinish::default(), generation: None, resources: Vec::new() };
    let result = stages.stages().await;
    let (mut finish, generation) = (stages.finish, stages.generation);
    match &result {
        Ok(outcome) => {
            finish.status = Some(outcome.status);
            finish.reason = outcome.reason.clone();
        }
        Err(e) => {
            if let Some(g) = generation {
                store.abandon(g, "failed").await?;
            }
            finish.status = Some(RunStatus::Failed);
            finish.reason = Some(e.to_string());
        }
    }
    store.finish_run(run, &finish).await?;
    result
}
