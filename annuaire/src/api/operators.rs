//! The operators' endpoints (scope `admin`): the runs, the generations (served, held, with their diff and the
//! gates' reasons), approving a held generation, and usage by client service and by day.

use super::claims::{json_body, read_body};
use super::error::ApiError;
use super::limits::{Id, Q, query_number};
use super::state::AppState;
use super::{answer, handle, wire};
use crate::config::Scope;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use std::collections::BTreeMap;

/// Most runs or generations in one answer.
pub const MAX_LIST: i64 = 1000;

pub(crate) async fn runs(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "runs", Scope::Admin, |_| async {
        let run = async {
            let limit = query_number(&q, "limit", 100, 1, MAX_LIST)? as usize;
            let recent = s.store.recent_runs(limit as i64).await.map_err(ApiError::internal)?;
            let runs = recent.into_iter().map(wire::Run::from).collect();
            Ok(answer(s.generation().unwrap_or(0), &wire::Runs { runs }))
        };
        (run.await, "ok", None)
    })
    .await
}

pub(crate) async fn generations(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "generations", Scope::Admin, |_| async {
        let run = async {
            let limit = query_number(&q, "limit", 30, 1, MAX_LIST)?;
            let list = s.store.generations(limit).await.map_err(ApiError::internal)?;
            // The run of each listed generation (not every run: their reports are large).
            let mut runs: BTreeMap<i64, annuaire_store::RunRecord> = BTreeMap::new();
            for g in &list {
                if let Some(r) = s.store.run_of_generation(g.generation).await.map_err(ApiError::internal)? {
                    runs.insert(r.run, r);
                }
            }
            let served = s.store.served().await.map_err(ApiError::internal)?.map(|x| x.generation);
            let entry = |g: &annuaire_store::GenerationInfo| {
                let r = runs.get(&g.run);
                let g = g.clone();
                wire::Generation {
                    generation: g.generation,
                    run: g.run,
                    state: g.state,
                    created_at: g.created_at,
                    promoted_at: g.promoted_at,
                    persons: g.persons,
                    created: r.and_then(|r| r.created),
                    updated: r.and_then(|r| r.updated),
                    deleted: r.and_then(|r| r.deleted),
                    reason: r.and_then(|r| r.reason.clone()),
                    diff: r.and_then(|r| r.diff.clone()),
                }
            };
            // A held generation is the newest one (a new sync supersedes it), so it is the list's first.
            let held = list.first().filter(|g| g.state == "held").map(entry);
            let generations = list.iter().map(entry).collect();
            Ok(answer(served.unwrap_or(0), &wire::Generations { served, held, generations }))
        };
        (run.await, "ok", None)
    })
    .await
}

/// `POST /v1/generations/{gen}/approve`: what `annuaire approve` does (the views first, then the promotion), from the
/// API. 409 `conflict` when the generation is not held or a sync holds the lock.
pub(crate) async fn approve(State(s): State<AppState>, Id(id): Id, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, "approve", Scope::Admin, |_| async {
        let run = async {
            let generation: i64 =
                id.parse().map_err(|_| ApiError::bad_request(format!("{id:?} is not a generation number")))?;
            let bytes = read_body(body).await?;
            let req: wire::ApproveRequest = if bytes.is_empty() { Default::default() } else { json_body(&bytes)? };
            let mut kinds = Vec::new();
            for e in &req.exclude {
                kinds.push(annuaire_store::ChangeKind::parse(e).ok_or_else(|| {
                    ApiError::bad_request(format!("exclude takes delete, update or create, not {e:?}"))
                })?);
            }
            let kept = annuaire_ingest::approve(&s.store, generation, &kinds, &crate::views::before_promotion())
                .await
                .map_err(|e| match e {
                    annuaire_ingest::Error::Store(
                        annuaire_store::Error::Busy { .. } | annuaire_store::Error::Invalid(_),
                    ) => ApiError::conflict(format!("{e}: generation {generation} not promoted")),
                    e => ApiError::internal(format!("approve {generation}: {e}")),
                })?;
            // Served from now on: this server follows at once rather than at its next read.
            s.refresh().await.map_err(ApiError::internal)?;
            let kept = kept.into_iter().map(|(k, n)| (k.as_str().to_string(), n)).collect();
            Ok(answer(generation, &wire::Approved { generation, kept, excluded: req.exclude }))
        };
        (run.await, "ok", None)
    })
    .await
}

/// `GET /v1/quality/{generation}` (`latest` for the newest report).
pub(crate) async fn quality(State(s): State<AppState>, Id(id): Id, headers: HeaderMap) -> Response {
    handle(&s, &headers, "quality", Scope::Admin, |_| async {
        let run = async {
            let generation =
                match id.as_str() {
                    "latest" => None,
                    g => Some(g.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(format!("{g:?} is not a generation number (or `latest`)"))
                    })?),
                };
            let report = crate::quality::report(&s.store, generation)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found(format!("no quality report for generation {id}")))?;
            Ok(answer(report.generation, &report))
        };
        (run.await, "ok", None)
    })
    .await
}

pub(crate) async fn usage(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "usage", Scope::Admin, |_| async {
        let run = async {
            let since = match q.get("since") {
                Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => d.clone(),
                Some(d) => {
                    return Err(ApiError::bad_request(format!(
                        "since must be a day (yyyy-mm-dd), not {:?}",
                        d.chars().take(20).collect::<String>()
                    )));
                }
                None => annuaire_schemas::clock::days_before(&annuaire_schemas::clock::today(), 30),
            };
            // This server's counts not yet written (up to two seconds of calls) are written first, so that the report
            // has every call it answered before this one; another server's are at most two seconds behind. A failed
            // write keeps them for the next flush and the report is read anyway.
            if let Err(e) = s.usage.flush(&s.store).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot record usage before reporting it; kept for the next flush");
            }
            let clients = s.store.usage_since(&since).await.map_err(ApiError::internal)?;
            let days = s.store.usage_by_day(&since).await.map_err(ApiError::internal)?;
            let clients = clients.into_iter().map(wire::UsageClient::from).collect();
            let days = days.into_iter().map(wire::UsageDay::from).collect();
            Ok(answer(s.generation().unwrap_or(0), &wire::Usage { since, clients, days }))
        };
        (run.await, "ok", None)
    })
    .await
}
