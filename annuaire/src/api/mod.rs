//! The HTTP API the identity provider calls: claims, batch claims, eligibility, subject resolution,
//! services, changes, health and metrics.
//!
//! [`app`] builds the router (tests call it without a socket); [`serve`] binds it. Every request reads
//! the served generation **once** and answers from it alone (header `X-Annuaire-Generation`), so no
//! response mixes two generations, even during a promotion.

pub mod admin;
pub mod analysts;
pub mod claims;
pub mod error;
pub mod fhir;
pub mod fhir_export;
pub mod fhir_state;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod operators;
pub mod server;
pub mod state;
pub mod web;
pub mod wire;

#[cfg(test)]
mod tests;

use crate::config::Scope;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use limits::Class;
pub use state::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Header naming the generation an answer comes from.
pub const GENERATION_HEADER: &str = "x-annuaire-generation";

/// A JSON answer with the generation header, its keys in byte order (the API's wire format: see [`wire`]).
pub(crate) fn answer(generation: i64, value: &impl serde::Serialize) -> Response {
    match serde_json::to_value(value).and_then(|v| serde_json::to_vec(&v)) {
        Ok(b) => answer_bytes(generation, Bytes::from(b)),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Already serialised JSON with the generation header.
pub(crate) fn answer_bytes(generation: i64, body: Bytes) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&generation.to_string()) {
        r.headers_mut().insert(GENERATION_HEADER, v);
    }
    r
}

/// What a handler gets once its request is let through: the client's name and the permit of its endpoint class
/// (moved into blocking work, so that the budget counts work still running after a timeout).
pub struct Admitted {
    /// The client's name.
    pub client: String,
    /// The class permit, released when the last clone is dropped.
    pub permit: Arc<tokio::sync::OwnedSemaphorePermit>,
}

/// Run one endpoint: authorise, rate-limit, take a permit of its class (or refuse at once), time, count, record
/// usage.
pub(crate) async fn handle<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    endpoint: &'static str,
    scope: Scope,
    f: F,
) -> Response
where
    F: FnOnce(Admitted) -> Fut,
    Fut: std::future::Future<Output = (Result<Response, ApiError>, &'static str, Option<String>)>,
{
    handle_scopes(state, headers, endpoint, &[scope], f).await
}

/// [`handle`] for a route that more than one scope may call.
pub(crate) async fn handle_scopes<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    endpoint: &'static str,
    scopes: &[Scope],
    f: F,
) -> Response
where
    F: FnOnce(Admitted) -> Fut,
    Fut: std::future::Future<Output = (Result<Response, ApiError>, &'static str, Option<String>)>,
{
    let start = Instant::now();
    let admitted = state.authorize(headers, scopes).and_then(|client| {
        let admit = state
            .rates
            .check(&client)
            .and_then(|()| state.budgets.try_acquire(Class::of(endpoint)))
            .map_err(|e| (Some(client.clone()), e))?;
        Ok(Admitted { client, permit: admit })
    });
    let (client, result, outcome, subject) = match admitted {
        Err((client, e)) => (client.unwrap_or_else(|| "-".to_string()), Err(e.clone()), e.code, None),
        Ok(admitted) => {
            let client = admitted.client.clone();
            let (result, outcome, subject) = f(admitted).await;
            let outcome = match &result {
                Err(e) => e.code,
                Ok(_) => outcome,
            };
            (client, result, outcome, subject)
        }
    };
    state.metrics.observe(&client, endpoint, outcome, start.elapsed());
    if client != "-" {
        state.usage.record(&client, endpoint, outcome, subject.as_deref());
    }
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn fallback() -> Response {
    ApiError::not_found("no such route").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        .into_response()
}

/// A request that outlived the request timeout, or a middleware failure, as a JSON error.
async fn middleware_error(secs: u64, e: tower::BoxError) -> Response {
    if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::timeout(secs).into_response()
    } else {
        ApiError::internal(e).into_response()
    }
}

/// The router, with the request timeout of `[server]` and the headers every answer carries (`nosniff`, no caching
/// of personal data).
pub fn app(state: AppState) -> Router {
    use tower::ServiceBuilder;
    use tower_http::set_header::SetResponseHeaderLayer;
    let secs = state.config.server.request_timeout_secs;
    let layers = ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(move |e: tower::BoxError| middleware_error(secs, e)))
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(secs)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    Router::new()
        .route("/healthz", get(admin::healthz))
        .route("/metrics", get(admin::metrics_text))
        .route("/v1/claims/batch", post(claims::claims_batch))
        .route("/v1/claims/{id}", get(claims::claims))
        .route("/v1/eligibility", post(claims::eligibility))
        .route("/v1/services", get(claims::services))
        .route("/v1/subjects/resolve", get(claims::resolve))
        .route("/v1/changes", get(admin::changes))
        .route("/v1/runs", get(operators::runs))
        .route("/v1/generations", get(operators::generations))
        .route("/v1/generations/{id}/approve", post(operators::approve))
        .route("/v1/usage", get(operators::usage))
        .route("/v1/quality/{id}", get(operators::quality))
        .route("/v1/search", get(analysts::search))
        .route("/v1/stats", get(analysts::stats))
        .route("/v1/export", get(analysts::export))
        .route("/v1/departments", get(analysts::departments))
        .route("/fhir/metadata", get(fhir::fhir_metadata))
        .route("/fhir/$export", get(fhir_export::kick_off))
        .route("/fhir/$export-status/{id}", get(fhir_export::status).delete(fhir_export::delete))
        .route("/fhir/$export-file/{id}/{file}", get(fhir_export::file))
        .route("/fhir/{type}", get(fhir::fhir_search))
        .route("/fhir/{type}/_history", get(fhir::fhir_history_type))
        .route("/fhir/{type}/_search", post(fhir::fhir_search_post))
        .route("/fhir/{type}/{id}", get(fhir::fhir_read))
        .route("/fhir/{type}/{id}/_history", get(fhir::fhir_history_instance))
        .route("/fhir/{type}/{id}/_history/{vid}", get(fhir::fhir_vread))
        .route("/v1/codes/{kind}", get(analysts::codes))
        .route("/v1/professionals/{id}", get(claims::professional))
        .route("/openapi.json", get(web::openapi_json))
        // The analysts' page: static files compiled into the binary; it calls /v1/search, /v1/stats, /v1/codes.
        .route("/", get(web::web_page))
        .route("/app.js", get(web::web_script))
        .route("/app.css", get(web::web_style))
        .route("/ops", get(web::ops_page))
        .route("/ops.js", get(web::ops_script))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(layers)
        .with_state(state)
}

/// Bind and serve until `shutdown` resolves; usage is flushed at the end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    state.refresh().await?;
    crate::prepare::spawn_background(state.clone());
    server::serve_connections(listener, app(state.clone()), &state.config.server, shutdown).await?;
    state.usage.flush(&state.store).await?;
    Ok(())
}
