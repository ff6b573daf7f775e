//! The identity provider's endpoints: claims, batch claims, eligibility, services, subject resolution, the native
//! record.

use super::error::ApiError;
use super::limits::{Id, Q, check_id};
use super::state::AppState;
use super::{answer, answer_bytes, handle, handle_scopes, wire};
use crate::config::Scope;
use annuaire_claims::Profile;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Largest request body.
pub const MAX_BODY: usize = 256 * 1024;

/// Most ids in one batch.
pub const MAX_BATCH: usize = 1000;

pub(crate) fn profile(q: &HashMap<String, String>) -> Result<Profile, ApiError> {
    parse_profile(q.get("profile").map(String::as_str))
}

pub(crate) fn parse_profile(p: Option<&str>) -> Result<Profile, ApiError> {
    p.map_or(Ok(Profile::default()), |p| Profile::parse_named(p).map_err(ApiError::bad_request))
}

pub(crate) async fn claims(State(s): State<AppState>, Id(id): Id, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "claims", Scope::Claims, |_| async {
        let run = async {
            let profile = profile(&q)?;
            let g = s.generation()?;
            let (body, idnat) = s
                .claims_json(&id, g, profile)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no professional {id}")))?;
            Ok((answer_bytes(g, body), idnat))
        };
        match run.await {
            Ok((r, idnat)) => (Ok(r), "ok", Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(format!("the body is larger than {MAX_BODY} bytes")))
}

pub(crate) async fn claims_batch(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, "claims_batch", Scope::Claims, |_| async {
        let run = async {
            let req: wire::BatchRequest = json_body(&read_body(body).await?)?;
            if req.ids.len() > MAX_BATCH {
                return Err(ApiError::too_large(format!("{} ids: at most {MAX_BATCH} per batch", req.ids.len())));
            }
            for id in &req.ids {
                check_id("an id", id)?;
            }
            let profile = parse_profile(req.profile.as_deref())?;
            let g = s.generation()?;
            let mut results = Vec::with_capacity(req.ids.len());
            for id in &req.ids {
                match s.claims_json(id, g, profile).await? {
                    Some((body, _)) => {
                        let claims: serde_json::Value = serde_json::from_slice(&body).map_err(ApiError::internal)?;
                        results.push(wire::BatchResult {
                            id: id.clone(),
                            claims: Some(wire::UserInfo(claims)),
                            error: None,
                        })
                    }
                    None => {
                        let error = wire::Error { code: "not_found".into(), message: format!("no professional {id}") };
                        results.push(wire::BatchResult { id: id.clone(), claims: None, error: Some(error) })
                    }
                }
            }
            Ok(answer(g, &wire::BatchResponse { generation: g, results }))
        };
        (run.await, "ok", None)
    })
    .await
}

pub(crate) async fn eligibility(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, "eligibility", Scope::Claims, |_| async {
        let run = async {
            let req: wire::EligibilityRequest = json_body(&read_body(body).await?)?;
            check_id("subject", &req.subject)?;
            check_id("service", &req.service)?;
            let policy = s.config.services.get(&req.service).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_service",
                    format!("no policy for service {:?}", req.service),
                )
            })?;
            let g = s.generation()?;
            let p = s
                .person(&req.subject, g)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no professional {}", req.subject)))?;
            let d = policy.decide(&p);
            let outcome = if d.eligible { "eligible" } else { "refused" };
            let body = wire::EligibilityResponse::new(&d, g, &p, &req.service);
            Ok((answer(g, &body), outcome, p.idnat.as_str().to_string()))
        };
        match run.await {
            Ok((r, outcome, idnat)) => (Ok(r), outcome, Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

pub(crate) async fn services(State(s): State<AppState>, headers: HeaderMap) -> Response {
    handle(&s, &headers, "services", Scope::Claims, |_| async {
        let services = s.config.services.iter().map(|(name, p)| (name.clone(), p.into())).collect();
        let body = wire::sorted(&wire::Services { services }).to_string();
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        (Ok(r), "ok", None)
    })
    .await
}

pub(crate) async fn resolve(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "resolve", Scope::Claims, |_| async {
        let run = async {
            let hint = q
                .get("hint")
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .ok_or_else(|| ApiError::bad_request("hint is required"))?;
            check_id("hint", hint)?;
            let g = s.generation()?;
            // An identifier first (idNat, bare RPPS or ADELI), then a CPS/CPF card number.
            let (p, matched) = match s.person(hint, g).await? {
                Some(p) => (p, "id"),
                None => {
                    let index = s.search_index(g).await.map_err(ApiError::internal)?;
                    let holder = index.idnat_of_card(hint).map_err(ApiError::internal)?;
                    let p = match holder {
                        Some(idnat) => s.person(&idnat, g).await?,
                        None => None,
                    };
                    (p.ok_or_else(|| ApiError::not_found(format!("no professional for hint {hint}")))?, "card")
                }
            };
            let body = wire::Resolved {
                subject: p.idnat.as_str().to_string(),
                id_type: p.idnat.id_type().origine().to_string(),
                matched,
                generation: g,
            };
            Ok((answer(g, &body), p.idnat.as_str().to_string()))
        };
        match run.await {
            Ok((r, idnat)) => (Ok(r), "ok", Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

/// The whole native record of a professional (see `crate::record`): for the identity provider (`claims`), and for
/// the analysts' page (`search`), which gets it without the civil status of the restricted file (birth date, phone,
/// e-mail: personal data analysts do not need).
pub(crate) async fn professional(State(s): State<AppState>, Id(id): Id, headers: HeaderMap) -> Response {
    let s = &s;
    handle_scopes(s, &headers, "professional", &[Scope::Claims, Scope::Search], |admitted| async move {
        let run = async {
            let g = s.generation()?;
            let mut p = s.person(&id, g).await?.ok_or_else(|| ApiError::not_found(format!("no professional {id}")))?;
            if !s.client_has(&admitted.client, Scope::Claims) {
                p.civil_status = None;
            }
            let v = crate::record::native(&s.store, &p, g).await.map_err(ApiError::internal)?;
            Ok((answer(g, &v), p.idnat.as_str().to_string()))
        };
        match run.await {
            Ok((r, idnat)) => (Ok(r), "ok", Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}
