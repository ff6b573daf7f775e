//! FHIR reads: `Practitioner` and `PractitionerRole` after the Annuaire Santé profiles.

use super::error::ApiError;
use super::limits::{Id, Q, check_id};
use super::state::AppState;
use super::{GENERATION_HEADER, handle, wire};
use crate::config::Scope;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) fn fhir_answer(generation: i64, status: StatusCode, resource: &wire::FhirResource) -> Response {
    let mut r = (status, resource.0.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"));
    if let Ok(v) = HeaderValue::from_str(&generation.to_string()) {
        r.headers_mut().insert(GENERATION_HEADER, v);
    }
    r
}

pub(crate) fn operation_outcome(code: &str, diagnostics: &str) -> serde_json::Value {
    serde_json::json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]})
}

pub(crate) async fn fhir_practitioner(State(s): State<AppState>, Id(id): Id, headers: HeaderMap) -> Response {
    handle(&s, &headers, "fhir_practitioner", Scope::Claims, |_| async {
        let run = async {
            let g = s.generation()?;
            Ok(match s.person(&id, g).await? {
                Some(p) => (
                    fhir_answer(g, StatusCode::OK, &wire::FhirResource(annuaire_claims::fhir::practitioner(&p))),
                    "ok",
                    Some(p.idnat.as_str().to_string()),
                ),
                None => (
                    fhir_answer(
                        g,
                        StatusCode::NOT_FOUND,
                        &wire::FhirResource(operation_outcome("not-found", &format!("no professional {id}"))),
                    ),
                    "not_found",
                    None,
                ),
            })
        };
        match run.await {
            Ok((r, outcome, subject)) => (Ok(r), outcome, subject),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

pub(crate) async fn fhir_roles(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "fhir_practitioner_role", Scope::Claims, |_| async {
        let run = async {
            let id = q
                .get("practitioner")
                .map(|v| v.trim_start_matches("Practitioner/").to_string())
                .ok_or_else(|| ApiError::bad_request("practitioner is required"))?;
            check_id("practitioner", &id)?;
            let g = s.generation()?;
            let roles = match s.person(&id, g).await? {
                Some(p) => annuaire_claims::fhir::practitioner_roles(&p),
                None => Vec::new(),
            };
            Ok(fhir_answer(g, StatusCode::OK, &wire::FhirResource(annuaire_claims::fhir::bundle("fhir", roles))))
        };
        (run.await, "ok", None)
    })
    .await
}
