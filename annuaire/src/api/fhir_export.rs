//! FHIR Bulk Data export (`http://hl7.org/fhir/uv/bulkdata`): `GET /fhir/$export` starts a job and answers 202 with
//! `Content-Location`; `GET /fhir/$export-status/{job}` answers 202 with `X-Progress` while it runs, then the manifest
//! (`transactionTime`, `output` with one ndjson file per type); `GET /fhir/$export-file/{job}/{file}` streams a file;
//! `DELETE /fhir/$export-status/{job}` cancels or removes it. The files (`DATA_DIR/fhir-export/<job>/`, owner only)
//! are removed 24 hours after the job started; one export runs at a time per server, holding an analysts' permit.

use super::fhir::{FHIR_SCOPES, fhir_error, pairs_of};
use super::fhir_state::{Job, Status};
use super::limits::check_id;
use super::state::AppState;
use super::{GENERATION_HEADER, handle_scopes};
use crate::fhir::export::ExportRequest;
use crate::fhir::{FhirError, Promotions};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an export's files are kept.
pub const EXPORT_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Most jobs kept at once (finished or not).
pub const MAX_JOBS: usize = 8;

fn job_id() -> String {
    use sha2::Digest;
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    let seed = format!("{:?}{}{}", std::time::SystemTime::now(), std::process::id(), h.finish());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn outcome(e: &FhirError) -> Response {
    fhir_error(0, e).0
}

fn json_answer(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Remove jobs past their retention, and their files.
fn expire(jobs: &mut BTreeMap<String, Job>) {
    jobs.retain(|_, j| {
        let keep = j.started.elapsed() < EXPORT_RETENTION;
        if !keep {
            if let Status::Running(_, abort) = &j.status {
                abort.abort();
            }
            let _ = std::fs::remove_dir_all(&j.dir);
        }
        keep
    });
}

/// `GET /fhir/$export?_type=…&_since=…&_typeFilter=…`.
pub(crate) async fn kick_off(State(s): State<AppState>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let s = &s;
    let raw_request = format!("fhir/$export{}", raw.as_deref().map(|q| format!("?{q}")).unwrap_or_default());
    handle_scopes(s, &headers, "fhir_export", FHIR_SCOPES, |admitted| async move {
        let run = async {
            let g = s.generation().map_err(|e| FhirError::NotReady(e.message))?;
            let pairs = pairs_of(raw)?;
            let (mut types, mut since, mut filters) = (None, None, Vec::new());
            for (k, v) in pairs {
                match k.as_str() {
                    "_type" => types = Some(v),
                    "_since" => since = Some(v),
                    "_typeFilter" if filters.len() < 8 => filters.push(v),
                    "_outputFormat"
                        if matches!(v.as_str(), "ndjson" | "application/ndjson" | "application/fhir+ndjson") => {}
                    _ => return Err(FhirError::NotSupported(format!("$export: parameter {k:?} is not served"))),
                }
            }
            let req = ExportRequest::parse(types.as_deref(), since.as_deref(), &filters)?;
            let promotions = Promotions::read(&s.store).await?;
            let id = job_id();
            let dir = s.store.data_dir().join("fhir-export").join(&id);
            {
                let mut jobs = s.fhir.jobs.lock();
                expire(&mut jobs);
                if jobs.values().any(|j| matches!(j.status, Status::Running(..))) {
                    return Err(FhirError::TooCostly(
                        "an export is already running on this server: try again later".into(),
                    ));
                }
                if jobs.len() >= MAX_JOBS {
                    return Err(FhirError::TooCostly(format!(
                        "{MAX_JOBS} exports are kept: DELETE one (/fhir/$export-status/ID) first"
                    )));
                }
                let progress = Arc::new(AtomicU64::new(0));
                let (state, job, dir2, counter) = (s.clone(), id.clone(), dir.clone(), progress.clone());
                let permit = admitted.permit.clone();
                let task = tokio::spawn(async move {
                    let _permit = permit;
                    let report = |n: u64| counter.store(n, Ordering::Relaxed);
                    let result = crate::fhir::export::write(&state.store, &promotions, g, &req, &dir2, &report).await;
                    let mut jobs = state.fhir.jobs.lock();
                    if let Some(j) = jobs.get_mut(&job) {
                        j.status = match result {
                            Ok(outputs) => Status::Done(outputs),
                            Err(e) => Status::Failed(e.parts().2),
                        };
                    }
                });
                jobs.insert(
                    id.clone(),
                    Job {
                        dir,
                        started: Instant::now(),
                        transaction_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        request: raw_request,
                        generation: g,
                        status: Status::Running(progress, task.abort_handle()),
                    },
                );
            }
            let mut r = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/fhir/$export-status/{id}")) {
                r.headers_mut().insert(header::CONTENT_LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&g.to_string()) {
                r.headers_mut().insert(GENERATION_HEADER, v);
            }
            Ok(r)
        };
        match run.await {
            Ok(r) => (Ok(r), "ok", None),
            Err(e) => {
                let (r, o) = fhir_error(0, &e);
                (Ok(r), o, None)
            }
        }
    })
    .await
}

/// `GET /fhir/$export-status/{job}`.
pub(crate) async fn status(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let s = &s;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string();
    handle_scopes(s, &headers, "fhir_export_status", FHIR_SCOPES, |_| async move {
        if let Err(e) = check_id("job", &id) {
            return (Err(e), "", None);
        }
        let jobs = s.fhir.jobs.lock();
        let Some(j) = jobs.get(&id) else {
            return (Ok(outcome(&FhirError::NotFound(format!("no export {id}")))), "not_found", None);
        };
        let r = match &j.status {
            Status::Running(n, _) => {
                let mut r = StatusCode::ACCEPTED.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("{} persons read", n.load(Ordering::Relaxed))) {
                    r.headers_mut().insert("x-progress", v);
                }
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
                r
            }
            Status::Failed(m) => {
                let e = FhirError::Internal(anyhow::anyhow!("the export failed: {m}"));
                fhir_error(j.generation, &e).0
            }
            Status::Done(outputs) => {
                let output: Vec<serde_json::Value> = outputs
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "type": o.resource_type,
                            "url": format!("http://{host}/fhir/$export-file/{id}/{}", o.file),
                            "count": o.count,
                        })
                    })
                    .collect();
                json_answer(
                    StatusCode::OK,
                    &serde_json::json!({
                        "transactionTime": j.transaction_time,
                        "request": j.request,
                        "requiresAccessToken": true,
                        "output": output,
                        "error": [],
                        "extension": {"https://annuaire.sante.fr/generation": j.generation},
                    }),
                )
            }
        };
        (Ok(r), "ok", None)
    })
    .await
}

/// `DELETE /fhir/$export-status/{job}`: cancel it, or remove its files.
pub(crate) async fn delete(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let s = &s;
    handle_scopes(s, &headers, "fhir_export_status", FHIR_SCOPES, |_| async move {
        if let Err(e) = check_id("job", &id) {
            return (Err(e), "", None);
        }
        let removed = s.fhir.jobs.lock().remove(&id);
        match removed {
            Some(j) => {
                if let Status::Running(_, abort) = &j.status {
                    abort.abort();
                }
                let _ = std::fs::remove_dir_all(&j.dir);
                (Ok(StatusCode::ACCEPTED.into_response()), "ok", None)
            }
            None => (Ok(outcome(&FhirError::NotFound(format!("no export {id}")))), "not_found", None),
        }
    })
    .await
}

/// `GET /fhir/$export-file/{job}/{file}`: one ndjson file of a finished export.
pub(crate) async fn file(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let s = &s;
    handle_scopes(s, &headers, "fhir_export_file", FHIR_SCOPES, |_| async move {
        if let Err(e) = check_id("job", &id).and_then(|()| check_id("file", &name)) {
            return (Err(e), "", None);
        }
        let path = {
            let jobs = s.fhir.jobs.lock();
            jobs.get(&id).and_then(|j| match &j.status {
                Status::Done(outputs) => outputs.iter().find(|o| o.file == name).map(|o| j.dir.join(&o.file)),
                _ => None,
            })
        };
        let Some(path) = path else {
            return (Ok(outcome(&FhirError::NotFound(format!("no file {name} in export {id}")))), "not_found", None);
        };
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(f));
                let mut r = (StatusCode::OK, body).into_response();
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+ndjson"));
                (Ok(r), "ok", None)
            }
            Err(e) => (Ok(outcome(&FhirError::Internal(e.into()))), "internal", None),
        }
    })
    .await
}
