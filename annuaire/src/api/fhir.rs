//! The FHIR directory over HTTP (`crate::fhir` does the work): reads, searches, history, the capability statement;
//! bulk export is in `fhir_export`. Every answer is `application/fhir+json`; a FHIR error is an `OperationOutcome`
//! with its HTTP status. Searches, history and export are analysts' work (their concurrency budget); reads by id are
//! the identity provider's class, as before.

use super::limits::{MAX_QUERY_BYTES, check_id};
use super::state::AppState;
use super::{GENERATION_HEADER, handle_scopes, wire};
use crate::config::Scope;
use crate::fhir::params::ResourceType;
use crate::fhir::query::{self, Cursor};
use crate::fhir::search::Ctx;
use crate::fhir::{FhirError, Promotions, history};
use annuaire_search::fhir::FhirIndex;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The scopes that read the FHIR directory: analysts (`search`) and the identity provider (`claims`).
pub(crate) const FHIR_SCOPES: &[Scope] = &[Scope::Search, Scope::Claims];
/// The base of `fullUrl`s and links (relative to the server, as the national API's are to its own).
pub(crate) const BASE: &str = "fhir";

pub(crate) fn fhir_answer(generation: i64, status: StatusCode, resource: &wire::FhirResource) -> Response {
    let mut r = (status, resource.0.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"));
    if generation > 0
        && let Ok(v) = HeaderValue::from_str(&generation.to_string())
    {
        r.headers_mut().insert(GENERATION_HEADER, v);
    }
    r
}

/// A FHIR error as its `OperationOutcome`, with the outcome name for metrics.
pub(crate) fn fhir_error(generation: i64, e: &FhirError) -> (Response, &'static str) {
    let (status, code, _) = e.parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = ?e, "FHIR request failed");
    }
    let outcome = match code {
        "not-found" => "not_found",
        "deleted" => "gone",
        "exception" => "internal",
        "transient" => "not_ready",
        _ => "bad_request",
    };
    (fhir_answer(generation, status, &wire::FhirResource(e.outcome())), outcome)
}

fn resource_type(t: &str) -> Result<ResourceType, FhirError> {
    ResourceType::parse(t)
        .ok_or_else(|| FhirError::NotFound(format!("no resource type {t:?} here: see /fhir/metadata")))
}

/// Run a FHIR handler: scopes, budgets, metrics and usage as every endpoint, errors as OperationOutcomes.
async fn run<F, Fut>(s: &AppState, headers: &HeaderMap, endpoint: &'static str, f: F) -> Response
where
    F: FnOnce(super::Admitted) -> Fut,
    Fut: std::future::Future<Output = Result<(i64, serde_json::Value, Option<String>), (i64, FhirError)>>,
{
    handle_scopes(s, headers, endpoint, FHIR_SCOPES, |admitted| async move {
        match f(admitted).await {
            Ok((g, body, subject)) => (Ok(fhir_answer(g, StatusCode::OK, &wire::FhirResource(body))), "ok", subject),
            Err((g, e)) => {
                let (r, outcome) = fhir_error(g, &e);
                (Ok(r), outcome, None)
            }
        }
    })
    .await
}

fn served(s: &AppState) -> Result<i64, (i64, FhirError)> {
    s.generation().map_err(|e| (0, FhirError::NotReady(e.message)))
}

/// `GET /fhir/{type}/{id}`.
pub(crate) async fn fhir_read(
    State(s): State<AppState>,
    Path((t, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match resource_type(&t) {
        // A Practitioner's read keeps the metrics name it had before the other types were served.
        Ok(ResourceType::Practitioner) => read(s, ResourceType::Practitioner, id, headers, "fhir_practitioner").await,
        Ok(t) => read(s, t, id, headers, "fhir_read").await,
        Err(e) => fhir_error(0, &e).0,
    }
}

async fn read(s: AppState, t: ResourceType, id: String, headers: HeaderMap, endpoint: &'static str) -> Response {
    if let Err(e) = check_id("id", &id) {
        return e.into_response();
    }
    let s = &s;
    run(s, &headers, endpoint, |_| async move {
        let g = served(s)?;
        let err = |e: FhirError| (g, e);
        let promotions = Promotions::read(&s.store).await.map_err(|e| err(e.into()))?;
        let missing = || err(FhirError::NotFound(format!("no {} {id}", t.name())));
        let (body, subject) = match t {
            ResourceType::Practitioner => {
                let f = crate::fhir::find(&s.store, &promotions, &id, g)
                    .await
                    .map_err(|e| err(e.into()))?
                    .ok_or_else(missing)?;
                (annuaire_claims::fhir::practitioner(&f.person, &f.meta), f.person.idnat.as_str().to_string())
            }
            ResourceType::PractitionerRole => {
                let person = id.split_once('-').map_or(id.as_str(), |(p, _)| p);
                let f = crate::fhir::find(&s.store, &promotions, person, g)
                    .await
                    .map_err(|e| err(e.into()))?
                    .ok_or_else(missing)?;
                let role = annuaire_claims::fhir::practitioner_roles(&f.person, &f.meta)
                    .into_iter()
                    .find(|r| r["id"] == id.as_str())
                    .ok_or_else(missing)?;
                (role, f.person.idnat.as_str().to_string())
            }
            ResourceType::Organization => {
                let index = s.fhir.index(&s.store, g).await.map_err(|e| err(e.into()))?;
                let promotions = &promotions;
                let ctx = Ctx { store: &s.store, index, generation: g, promotions, base: BASE };
                let search =
                    query::parse(t, vec![("_id".into(), id.clone()), ("_count".into(), "1".into())], promotions)
                        .map_err(err)?;
                let bundle = crate::fhir::search::run(&ctx, &search).await.map_err(err)?;
                let org = bundle["entry"][0]["resource"].clone();
                if org.is_null() {
                    return Err(missing());
                }
                (org, String::new())
            }
        };
        Ok((g, body, (!subject.is_empty()).then_some(subject)))
    })
    .await
}

/// The index a search reads: the served generation's, or, for a cursor of the previous one, that one's while its
/// folder is kept; else the cursor is refused with 410 (the search must start again).
async fn index_for(s: &AppState, served: i64, cursor: Option<&Cursor>) -> Result<(i64, Arc<FhirIndex>), FhirError> {
    let g = cursor.map_or(served, |c| c.generation);
    if g == served {
        return Ok((g, s.fhir.index(&s.store, g).await?));
    }
    let gone = || {
        FhirError::Gone(format!("this cursor reads generation {g}, which is no longer kept: start the search again"))
    };
    // Only the generation served just before this one is kept (views of older ones are pruned).
    if g > served || s.store.promoted_before(served).await? != Some(g) {
        return Err(gone());
    }
    let mut previous = s.fhir.previous.lock().await;
    if let Some((pg, idx)) = previous.as_ref()
        && *pg == g
    {
        return Ok((g, idx.clone()));
    }
    let dir = annuaire_views::dir(s.store.data_dir(), annuaire_search::fhir::FHIR_INDEX, g);
    if !annuaire_views::is_current(&annuaire_search::fhir::FhirIndexView, &dir) {
        return Err(gone());
    }
    let idx = Arc::new(tokio::task::spawn_blocking(move || FhirIndex::open(&dir)).await??);
    *previous = Some((g, idx.clone()));
    Ok((g, idx))
}

/// The pairs of a raw query string, in order and repeated as given, within [`MAX_QUERY_BYTES`].
pub(crate) fn pairs_of(raw: Option<String>) -> Result<Vec<(String, String)>, FhirError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_QUERY_BYTES {
        return Err(FhirError::Invalid(format!("the query string has {} bytes: at most {MAX_QUERY_BYTES}", raw.len())));
    }
    let uri: axum::http::Uri =
        format!("/?{raw}").parse().map_err(|_| FhirError::Invalid("invalid query string".into()))?;
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| FhirError::Invalid(format!("invalid query string: {}", e.body_text())))
}

/// `GET /fhir/{type}?…`.
pub(crate) async fn fhir_search(
    State(s): State<AppState>,
    Path(t): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let s = &s;
    run(s, &headers, "fhir_search", |_| async move { search(s, served(s)?, &t, raw).await }).await
}

/// `POST /fhir/{type}/_search`: FHIR's search by POST. The form body (`application/x-www-form-urlencoded`, within
/// [`MAX_QUERY_BYTES`] with the URL's query) adds its parameters to the URL's, and the answer is the same GET's (its
/// links are GET links). Another media type is a 415, a longer body a 413, both as OperationOutcomes.
pub(crate) async fn fhir_search_post(
    State(s): State<AppState>,
    Path(t): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let s = &s;
    run(s, &headers, "fhir_search", |_| async move {
        let served = served(s)?;
        let err = |e| (served, e);
        if !form {
            return Err(err(FhirError::UnsupportedMedia(
                "a search by POST takes a form body (application/x-www-form-urlencoded)".into(),
            )));
        }
        let bytes = axum::body::to_bytes(body, MAX_QUERY_BYTES)
            .await
            .map_err(|_| err(FhirError::TooLong(format!("the form body is longer than {MAX_QUERY_BYTES} bytes"))))?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| err(FhirError::Invalid("the form body is not UTF-8".into())))?;
        let raw = match raw.filter(|q| !q.is_empty()) {
            Some(q) if !text.is_empty() => Some(format!("{q}&{text}")),
            Some(q) => Some(q),
            None => Some(text.to_string()),
        };
        search(s, served, &t, raw).await
    })
    .await
}

/// A search of one type from its raw parameters, on the generation its cursor names or the served one.
async fn search(
    s: &AppState,
    served: i64,
    t: &str,
    raw: Option<String>,
) -> Result<(i64, serde_json::Value, Option<String>), (i64, FhirError)> {
    let t = resource_type(t).map_err(|e| (served, e))?;
    let promotions = Promotions::read(&s.store).await.map_err(|e| (served, e.into()))?;
    let search = pairs_of(raw).and_then(|p| query::parse(t, p, &promotions)).map_err(|e| (served, e))?;
    let (g, index) = index_for(s, served, search.cursor.as_ref()).await.map_err(|e| (served, e))?;
    let ctx = Ctx { store: &s.store, index, generation: g, promotions: &promotions, base: BASE };
    let bundle = crate::fhir::search::run(&ctx, &search).await.map_err(|e| (g, e))?;
    Ok((g, bundle, None))
}

/// `GET /fhir/{type}/{id}/_history`.
pub(crate) async fn fhir_history_instance(
    State(s): State<AppState>,
    Path((t, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    instance_history(s, headers, t, id, None).await
}

/// `GET /fhir/{type}/{id}/_history/{vid}`: one version (vread).
pub(crate) async fn fhir_vread(
    State(s): State<AppState>,
    Path((t, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    instance_history(s, headers, t, id, Some(vid)).await
}

/// A resource's history, or one version of it.
async fn instance_history(s: AppState, headers: HeaderMap, t: String, id: String, vid: Option<String>) -> Response {
    if let Err(e) = check_id("id", &id).and_then(|()| vid.as_deref().map_or(Ok(()), |v| check_id("vid", v))) {
        return e.into_response();
    }
    let s = &s;
    run(s, &headers, "fhir_history", |_| async move {
        let g = served(s)?;
        let t = resource_type(&t).map_err(|e| (g, e))?;
        let promotions = Promotions::read(&s.store).await.map_err(|e| (g, e.into()))?;
        let body = match &vid {
            None => history::instance(&s.store, &promotions, BASE, t, &id, g).await,
            Some(vid) => history::version(&s.store, &promotions, BASE, t, &id, vid, g).await,
        };
        Ok((g, body.map_err(|e| (g, e))?, None))
    })
    .await
}

/// `GET /fhir/{type}/_history?_since=…&_count=…`.
pub(crate) async fn fhir_history_type(
    State(s): State<AppState>,
    Path(t): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let s = &s;
    run(s, &headers, "fhir_history", |_| async move {
        let g = served(s)?;
        let err = |e| (g, e);
        let t = resource_type(&t).map_err(err)?;
        let pairs = pairs_of(raw).map_err(err)?;
        let (mut since, mut count, mut cursor) = (None, query::DEFAULT_COUNT as i64, None);
        for (k, v) in pairs {
            match k.as_str() {
                "_since" => since = Some(v),
                "_count" => {
                    count = v.parse::<i64>().ok().filter(|n| (1..=history::MAX_HISTORY_COUNT).contains(n)).ok_or_else(
                        || err(FhirError::Invalid(format!("_count: 1 to {}", history::MAX_HISTORY_COUNT))),
                    )?
                }
                "_cursor" => cursor = Some(v),
                _ => {
                    return Err(err(FhirError::NotSupported(format!(
                        "unknown history parameter {k:?}: _since, _count"
                    ))));
                }
            }
        }
        let since = since.ok_or_else(|| err(FhirError::Invalid("_since is required (an instant or a date)".into())))?;
        let cursor = match cursor {
            Some(c) => Some(
                Cursor::parse(&c)
                    .ok_or_else(|| err(FhirError::Invalid(format!("_cursor: {c:?} is not a cursor of this server"))))?,
            ),
            None => None,
        };
        let promotions = Promotions::read(&s.store).await.map_err(|e| err(e.into()))?;
        let body = history::since(&s.store, &promotions, BASE, t, &since, count, cursor, g).await.map_err(err)?;
        Ok((g, body, None))
    })
    .await
}

/// `GET /fhir/metadata`.
pub(crate) async fn fhir_metadata(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let s = &s;
    run(s, &headers, "fhir_metadata", |_| async move {
        let served = s.store.served().await.map_err(|e| (0, e.into()))?;
        let (g, date) = served.map_or((0, String::new()), |x| (x.generation, x.promoted_at));
        Ok((g, crate::fhir::metadata::capability_statement(&date), None))
    })
    .await
}
