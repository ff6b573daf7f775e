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
        let text = s.metrics.render(&gauges);
        let mut r = (StatusCode::OK, text).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
        (Ok(r), "ok", None)
    })
    .await
}
