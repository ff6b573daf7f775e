//! The analysts' endpoints: search, counts, and the public code tables the page labels them with.

use super::error::ApiError;
use super::limits::{Id, Q, query_bool, query_number};
use super::state::AppState;
use super::{answer, handle, wire};
use crate::config::Scope;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub(crate) fn query_text(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The filters shared by `/v1/search` and `/v1/stats`, checked against their bounds.
pub(crate) fn query_filters(q: &HashMap<String, String>) -> Result<annuaire_search::SearchRequest, ApiError> {
    let r = annuaire_search::SearchRequest {
        profession: query_text(q, "profession"),
        authority: query_text(q, "authority"),
        department: query_text(q, "department"),
        commune: query_text(q, "commune"),
        savoir_faire: query_text(q, "savoir_faire").or_else(|| query_text(q, "savoir-faire")),
        valid_card: query_bool(q, "valid_card")?,
        mailbox: query_bool(q, "mailbox")?,
        ..Default::default()
    };
    r.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(r)
}

pub(crate) async fn search(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    let s = &s;
    handle(s, &headers, "search", Scope::Search, |admitted| async move {
        let run = async {
            let req = annuaire_search::SearchRequest {
                text: query_text(&q, "text").or_else(|| query_text(&q, "q")),
                limit: query_number(&q, "limit", 20, 1, annuaire_search::MAX_LIMIT)?,
                offset: query_number(&q, "offset", 0, 0, annuaire_search::MAX_OFFSET)?,
                ..query_filters(&q)?
            };
            req.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
            let g = s.generation()?;
            let index = s.search_index(g).await.map_err(ApiError::internal)?;
            let permit = admitted.permit.clone();
            let r = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                index.search(&req)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            Ok(answer(g, &wire::SearchResponse::new(r, g)))
        };
        (run.await, "ok", None)
    })
    .await
}

pub(crate) async fn stats(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    let s = &s;
    handle(s, &headers, "stats", Scope::Search, |admitted| async move {
        let run = async {
            let filter = query_filters(&q)?;
            let by = query_text(&q, "by").unwrap_or_else(|| "profession".into());
            let (g, groups) =
                crate::search::stats(&s.store, &by, filter, admitted.permit.clone()).await.map_err(|e| {
                    if e.downcast_ref::<annuaire_search::analytics::Error>().is_some_and(|a| {
                        matches!(
                            a,
                            annuaire_search::analytics::Error::UnknownGroup(_)
                                | annuaire_search::analytics::Error::DuplicateGroup(_)
                        )
                    }) {
                        ApiError::bad_request(e.to_string())
                    } else {
                        ApiError::internal(e)
                    }
                })?;
            let rows: Vec<wire::StatsRow> = groups.into_iter().map(wire::StatsRow).collect();
            Ok(answer(g, &rows))
        };
        (run.await, "ok", None)
    })
    .await
}

/// `GET /v1/export?format=csv|parquet&…filters`: every row (person × exercice × activity) matching the filters, as
/// `annuaire export` writes them. The file is written in the data directory's `tmp/`, unlinked at once, and streamed
/// from its open handle; the analysts' budget permit is held until the last byte is sent.
pub(crate) async fn export(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    let s = &s;
    handle(s, &headers, "export", Scope::Search, |admitted| async move {
        let run = async {
            let format = match q.get("format").map(String::as_str).unwrap_or("csv") {
                "csv" => annuaire_search::analytics::ExportFormat::Csv,
                "parquet" => annuaire_search::analytics::ExportFormat::Parquet,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "format is csv or parquet, not {:?}",
                        other.chars().take(20).collect::<String>()
                    )));
                }
            };
            let filter = query_filters(&q)?;
            let g = s.generation()?;
            let mut table = annuaire_search::analytics::ExportTable::new(filter);
            s.store
                .for_each_person_at(g, |record| -> anyhow::Result<()> {
                    table.push(&crate::record::parse(record)?);
                    Ok(())
                })
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            let dir = s.store.data_dir().join("tmp");
            let file = tokio::task::spawn_blocking(move || -> anyhow::Result<std::fs::File> {
                std::fs::create_dir_all(&dir)?;
                let tmp = tempfile::NamedTempFile::new_in(&dir)?;
                table.write(tmp.path(), format)?;
                // Unlinked when `tmp` drops; the open handle keeps the bytes until the stream ends.
                Ok(std::fs::File::open(tmp.path())?)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            let permit = admitted.permit.clone();
            let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
            // The permit goes with the body: released when the last chunk is sent (or the client leaves).
            let body = axum::body::Body::from_stream(futures_util::StreamExt::map(stream, move |chunk| {
                let _held = &permit;
                chunk
            }));
            let (kind, ext) = match format {
                annuaire_search::analytics::ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
                annuaire_search::analytics::ExportFormat::Parquet => ("application/vnd.apache.parquet", "parquet"),
            };
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"annuaire-gen-{g}.{ext}\"")) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&g.to_string()) {
                r.headers_mut().insert(super::GENERATION_HEADER, v);
            }
            Ok(r)
        };
        (run.await, "ok", None)
    })
    .await
}

/// The departments with their names and their squares on the tile map of France: public, no token needed.
pub(crate) async fn departments() -> Response {
    let tiles: Vec<wire::DepartmentTile> = annuaire_schemas::departments::DEPARTMENTS
        .iter()
        .map(|d| wire::DepartmentTile { code: d.code, name: d.name, row: d.row, col: d.col })
        .collect();
    let mut r = (StatusCode::OK, wire::sorted(&tiles).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The labels of a code table (`profession`, `savoir_faire`, `mode` ...): public nomenclature, no token needed.
pub(crate) async fn codes(Id(kind): Id) -> Response {
    let Some(k) = annuaire_schemas::codes::Kind::ALL.into_iter().find(|k| k.name() == kind) else {
        let names: Vec<&str> = annuaire_schemas::codes::Kind::ALL.iter().map(|k| k.name()).collect();
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no code table {:?}; known: {}", kind.chars().take(40).collect::<String>(), names.join(", ")),
        )
        .into_response();
    };
    let entries: Vec<wire::CodeEntry> = annuaire_schemas::codes::entries(k)
        .into_iter()
        .map(|e| wire::CodeEntry { code: e.code.to_string(), label: e.label.to_string(), table: e.table.to_string() })
        .collect();
    let mut r = (StatusCode::OK, wire::sorted(&entries).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
