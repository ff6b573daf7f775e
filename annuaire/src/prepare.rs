//! The server's background work: follow the served generation (read every second, so servers sharing a store switch
//! within seconds of a promotion by any of them), prepare what a new generation needs on this host (claims snapshot,
//! search index, counting table), prune what is older, and flush the usage counters.

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
                let (previous, state) = (seen, state.clone());
                seen = g;
                tokio::spawn(async move {
                    // Claims first: the identity provider's lookups then leave the store.
                    match state.prepare_snapshot(g).await {
                        Ok(()) => {
                            tracing::info!(generation = g, "claims snapshot ready");
                            if previous > 0 {
                                annuaire_store::snapshot::prune_snapshots_older_than(
                                    state.store.data_dir(),
                                    previous.min(g),
                                );
                            }
                        }
                        Err(e) => {
                            tracing::warn!(generation = g, error = %format!("{e:#}"), "cannot write the claims snapshot; claims come from the store")
                        }
                    }
                    match state.search_index(g).await {
                        Ok(_) => {
                            tracing::info!(generation = g, "search index ready");
                            // The analysts' counting table too, so that the first `stats` is fast.
                            if let Err(e) = crate::search::stats_table(&state.store, g).await {
                                tracing::warn!(generation = g, error = %format!("{e:#}"), "cannot write the counting table");
                            }
                            if previous > 0 {
                                annuaire_ingest::index::prune_older_than(&state.store, previous.min(g));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(generation = g, error = %format!("{e:#}"), "cannot prepare the search index")
                        }
                    }
                });
            }
            n += 1;
            if n.is_multiple_of(2)
                && let Err(e) = state.usage.flush(&state.store).await
            {
                tracing::warn!(error = %e, "cannot record usage; kept for the next flush");
            }
        }
    });
}
