//! The server's background work: follow the served generation (read every second, so servers sharing a store switch
//! within seconds of a promotion by any of them), prepare the views a new generation needs on this host (the
//! registry in `crate::views`: claims snapshot, search index, counting table) through the store's one `prepare`
//! (which also prunes older ones), keep the served claims snapshot in the page cache, and flush the usage counters.

use crate::api::state::AppState;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Keep the served generation fresh (read every second, so servers sharing a store switch within seconds of
/// a promotion by any of them), get the search index of a new generation ready, and flush usage, until the
/// process ends.
pub fn spawn_background(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n = 0u64;
        let mut seen = 0;
        loop {
            tick.tick().await;
            if let Err(e) = state.refresh().await {
                tracing::warn!(error = %e, "cannot read the served generation");
            }
            let g = state.served.load(Ordering::SeqCst);
            if g != seen && g > 0 {
                seen = g;
                let state = state.clone();
                tokio::spawn(async move { prepare_views(&state, g).await });
            }
            n += 1;
            // The served claims snapshot back into the page cache, if other work took pages of it (a minute's
            // advice over pages still there costs a few milliseconds; see `ClaimsSnapshot::read_ahead`).
            if n.is_multiple_of(60)
                && let Some(snap) = state.snapshot_of(g)
            {
                tokio::task::spawn_blocking(move || snap.read_ahead());
            }
            if n.is_multiple_of(2)
                && let Err(e) = state.usage.flush(&state.store).await
            {
                tracing::warn!(error = %e, "cannot record usage; kept for the next flush");
            }
        }
    });
}

/// Prepare every registered view of generation `g`, in the registry's order, and open the ones the API holds.
async fn prepare_views(state: &AppState, g: i64) {
    for r in crate::views::all() {
        let name = r.view.name();
        let result = match name {
            annuaire_claims::snapshot::NAME => state.prepare_snapshot(g).await,
            annuaire_search::view::INDEX => state.search_index(g).await.map(drop),
            annuaire_search::fhir::FHIR_INDEX => state.fhir.index(&state.store, g).await.map(drop),
            _ => state.store.prepare(g, &[r.view]).await.map(drop).map_err(anyhow::Error::from),
        };
        match result {
            Ok(()) => tracing::info!(generation = g, view = name, "view ready"),
            Err(e) if name == annuaire_claims::snapshot::NAME => {
                tracing::warn!(generation = g, error = %format!("{e:#}"), "cannot write the claims snapshot; claims come from the store")
            }
            Err(e) => tracing::warn!(generation = g, view = name, error = %format!("{e:#}"), "cannot prepare a view"),
        }
    }
}
