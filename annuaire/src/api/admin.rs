//! The operators' endpoints (changes, metrics) and the health check.

use super::error::ApiError;
use super::limits::{Q, query_number};
use super::state::AppState;
use super::{answer, handle, wire};
use crate::config::Scope;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

/// Largest page of `/v1/changes`.
pub const MAX_CHANGES_LIMIT: i64 = 10_000;

pub(crate) async fn changes(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "changes", Scope::Admin, |_| async {
        let run = async {
            let since: i64 = query_number(&q, "since", 0, 0, i64::MAX)?;
            let limit: i64 = query_number(&q, "limit", 1000, 1, MAX_CHANGES_LIMIT)?;
            let offset: i64 = query_number(&q, "offset", 0, 0, i64::MAX / 2)?;
            let (page, total) = s.store.changes_page(since, limit, offset).await.map_err(ApiError::internal)?;
            let after = offset + page.len() as i64;
            let next = (after < total).then_some(after);
            let g = s.generation().unwrap_or(0);
            let changes = page
                .into_iter()
                .map(|c| wire::ChangeEntry {
                    id: c.id,
                    change: c.change.into(),
                    generation: c.generation,
                    id_group: c.id_group,
                })
                .collect();
            Ok(answer(g, &wire::Changes { changes, total, next_offset: next }))
        };
        (run.await, "ok", None)
    })
    .await
}

pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    let g = s.served.load(Ordering::SeqCst);
    let snapshot = s.snapshot_of(g).map(|s| s.generation());
    let body = wire::Health {
        status: if g > 0 { "ok" } else { "no_generation" },
        generation: (g > 0).then_some(g),
        claims_snapshot: snapshot,
    };
    let body = wire::sorted(&body).to_string();
    let mut r = (if g > 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) async fn metrics_text(State(s): State<AppState>, headers: HeaderMap) -> Response {
    handle(&s, &headers, "metrics", Scope::Admin, |_| async {
        let last = s.last_run.lock().await.clone();
        let mut gauges = vec![(
            "annuaire_served_generation",
            "The generation being served.",
            s.served.load(Ordering::SeqCst) as f64,
        )];
        let status_gauge = format!("annuaire_last_sync_status{{status=\"{}\"}}", last.status);
        if !last.status.is_empty() {
            gauges.push((
                "annuaire_last_sync_timestamp_seconds",
                "When the last scheduled sync ended.",
                last.finished_at as f64,
            ));
            gauges.push((&status_gauge, "Outcome of the last scheduled sync (1 for its status).", 1.0));
        }
        // From the store: whoever ran the sync (this scheduler, another server, `annuaire sync` from cron).
        let runs = s.store.recent_runs(2).await.unwrap_or_default();
        let last_run = runs.iter().find(|r| r.status != annuaire_store::RunStatus::Running);
        let run_gauge = last_run.map(|r| format!("annuaire_last_run_status{{status=\"{}\"}}", r.status.as_str()));
        if let (Some(r), Some(name)) = (last_run, run_gauge.as_deref()) {
            gauges.push((name, "Outcome of the last sync run, whoever ran it (1 for its status).", 1.0));
            if let Some(t) = r.finished_at.as_deref().and_then(seconds) {
                gauges.push(("annuaire_last_run_finished_timestamp_seconds", "When the last sync run ended.", t));
            }
        }
        if let Ok(Some(served)) = s.store.served().await
            && let Some(t) = seconds(&served.promoted_at)
        {
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            gauges.push((
                "annuaire_served_generation_promoted_timestamp_seconds",
                "When the served generation was promoted (the last successful promotion).",
                t,
            ));
            gauges.push((
                "annuaire_served_generation_age_seconds",
                "Age of the served generation.",
                (now - t).max(0.0),
            ));
        }
        let held = s.store.held().await.ok().flatten().map_or(0.0, |h| h.generation as f64);
        gauges.push(("annuaire_held_generation", "The generation waiting for approval (0: none).", held));
        let text = s.metrics.render(&gauges);
        let mut r = (StatusCode::OK, text).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
        (Ok(r), "ok", None)
    })
    .await
}

/// Seconds since the epoch of an RFC 3339 time.
fn seconds(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp_millis() as f64 / 1000.0)
}
