//! The HTTP API the identity provider calls: claims, batch claims, eligibility, subject resolution,
//! services, changes, health and metrics.
//!
//! [`app`] builds the router (tests call it without a socket); [`serve`] binds it. Every request reads
//! the served generation **once** and answers from it alone (header `X-Annuaire-Generation`), so no
//! response mixes two generations, even during a promotion.

pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod server;

use crate::config::{Config, Scope};
use crate::serve::LastRun;
use annuaire_claims::{Profile, user_info};
use annuaire_schemas::Person;
use annuaire_store::ClaimsSnapshot;
use annuaire_store::Store;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use limits::{Budgets, Class, Id, Q, RateLimits, check_id, query_bool, query_number};
use metrics::{Metrics, UsageBuffer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Largest request body.
pub const MAX_BODY: usize = 256 * 1024;
/// Most ids in one batch.
pub const MAX_BATCH: usize = 1000;
/// Header naming the generation an answer comes from.
pub const GENERATION_HEADER: &str = "x-annuaire-generation";

/// Rendered claims (JSON, idNat) by (generation, id as asked, profile).
pub type ClaimsCache = quick_cache::sync::Cache<(i64, String, &'static str), (Bytes, String)>;
/// The index of the generation last searched.
pub type SearchSlot = tokio::sync::Mutex<Option<(i64, Arc<annuaire_search::SearchIndex>)>>;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub usage: Arc<UsageBuffer>,
    pub last_run: Arc<tokio::sync::Mutex<LastRun>>,
    /// The served generation, refreshed from the store every second (0 = none yet).
    pub served: Arc<AtomicI64>,
    /// Rendered claims by (generation, id as asked, profile). Keyed by generation, so a promotion never
    /// serves a stale entry; entries of old generations age out.
    pub claims_cache: Arc<ClaimsCache>,
    /// The search index of the generation last searched.
    pub search: Arc<SearchSlot>,
    /// The claims snapshot of the served generation, once written (`crate::snapshot`); claims come from the
    /// store until then.
    pub snapshot: Arc<std::sync::RwLock<Option<Arc<ClaimsSnapshot>>>>,
    /// Requests in flight per endpoint class.
    pub budgets: Budgets,
    /// Per-client rate limits.
    pub rates: RateLimits,
}

/// Claims kept rendered in memory (about 2 KB each).
pub const CLAIMS_CACHE_ENTRIES: usize = 100_000;

impl AppState {
    pub fn new(store: Store, config: Arc<Config>, last_run: Arc<tokio::sync::Mutex<LastRun>>) -> AppState {
        AppState {
            store,
            metrics: Arc::default(),
            usage: Arc::default(),
            last_run,
            served: Arc::new(AtomicI64::new(0)),
            claims_cache: Arc::new(quick_cache::sync::Cache::new(CLAIMS_CACHE_ENTRIES)),
            search: Arc::default(),
            snapshot: Arc::default(),
            budgets: Budgets::new(&config.server),
            rates: RateLimits::new(&config.clients),
            config,
        }
    }

    /// The claims snapshot of generation `g`, if it is open.
    fn snapshot_of(&self, g: i64) -> Option<Arc<ClaimsSnapshot>> {
        let s = self.snapshot.read().ok()?;
        s.as_ref().filter(|s| s.generation() == g).cloned()
    }

    /// Write (or reuse) generation `g`'s claims snapshot and answer claims from it.
    pub async fn prepare_snapshot(&self, g: i64) -> anyhow::Result<()> {
        let dir = crate::snapshot::claims_snapshot(&self.store, g).await?;
        let snap = Arc::new(ClaimsSnapshot::open(&dir)?);
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = Some(snap);
        }
        Ok(())
    }

    /// A person's claims in `profile`, as JSON, with their idNat: from the snapshot of generation `g` when it is
    /// open (it holds everyone of `g`, so a miss there is a miss), else rendered from the store.
    async fn claims_json(&self, id: &str, g: i64, profile: Profile) -> Result<Option<(Bytes, String)>, ApiError> {
        // The day's working set stays rendered in memory, whichever path rendered it.
        let key = (g, id.to_string(), profile.as_str());
        if let Some(hit) = self.claims_cache.get(&key) {
            return Ok(Some(hit));
        }
        if let Some(snap) = self.snapshot_of(g) {
            let variant =
                snap.variant(profile.as_str()).ok_or_else(|| ApiError::internal("snapshot without profile"))?;
            for candidate in annuaire_schemas::id::candidates(id) {
                if let Some(body) = snap.get(&candidate, variant).map_err(ApiError::internal)? {
                    let hit = (Bytes::from(body), candidate);
                    self.claims_cache.insert(key, hit.clone());
                    return Ok(Some(hit));
                }
            }
            return Ok(None);
        }
        let Some(p) = self.person(id, g).await? else { return Ok(None) };
        let body = Bytes::from(serde_json::to_vec(&user_info(&p, profile)).map_err(ApiError::internal)?);
        let hit = (body, p.idnat.as_str().to_string());
        self.claims_cache.insert(key, hit.clone());
        Ok(Some(hit))
    }

    /// Read the served generation from the store now.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        if let Some(s) = self.store.served().await? {
            self.served.store(s.generation, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The search index of generation `g`: the one in memory, or opened from this process's data directory, or
    /// built there (incrementally from the previous generation's when it exists). Servers sharing a PostgreSQL
    /// store each keep their own indexes.
    pub async fn search_index(&self, g: i64) -> anyhow::Result<Arc<annuaire_search::SearchIndex>> {
        let mut cached = self.search.lock().await;
        if let Some((cg, idx)) = cached.as_ref()
            && *cg == g
        {
            return Ok(idx.clone());
        }
        let dir = annuaire_ingest::index::build_index(&self.store, g).await?;
        let idx = Arc::new(annuaire_search::SearchIndex::open(&dir)?);
        // The facet table is read here, in the background preparation, rather than by the first search.
        let prepared = idx.clone();
        tokio::task::spawn_blocking(move || prepared.prepare()).await??;
        *cached = Some((g, idx.clone()));
        Ok(idx)
    }

    fn generation(&self) -> Result<i64, ApiError> {
        match self.served.load(Ordering::SeqCst) {
            0 => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "no generation is served yet")),
            g => Ok(g),
        }
    }

    /// The client a request's bearer token belongs to, if it has `scope`; on refusal, the client's name
    /// when the token was valid.
    fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<String, (Option<String>, ApiError)> {
        let client = self.identify(headers).map_err(|e| (None, e))?;
        if !client.scopes.contains(&scope) {
            let name = match scope {
                Scope::Claims => "claims",
                Scope::Search => "search",
                Scope::Admin => "admin",
            };
            return Err((Some(client.name.clone()), ApiError::forbidden(name)));
        }
        Ok(client.name.clone())
    }

    fn identify(&self, headers: &HeaderMap) -> Result<&crate::config::ClientConfig, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let digest: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        // Compare with every client, in constant time, without stopping at the first match.
        let mut found: Option<&crate::config::ClientConfig> = None;
        for c in &self.config.clients {
            let eq: bool = c.token_sha256.to_ascii_lowercase().as_bytes().ct_eq(digest.as_bytes()).into();
            if eq {
                found = Some(c);
            }
        }
        found.ok_or_else(ApiError::unauthorized)
    }

    async fn person(&self, id: &str, generation: i64) -> Result<Option<Person>, ApiError> {
        for candidate in annuaire_schemas::id::candidates(id) {
            if let Some(stored) = self.store.person_at(&candidate, generation).await.map_err(ApiError::internal)? {
                return serde_json::from_str(&stored.record).map(Some).map_err(ApiError::internal);
            }
        }
        Ok(None)
    }
}

/// A JSON answer with the generation header.
fn answer(generation: i64, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(b) => answer_bytes(generation, Bytes::from(b)),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Already serialised JSON with the generation header.
fn answer_bytes(generation: i64, body: Bytes) -> Response {
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
async fn handle<F, Fut>(state: &AppState, headers: &HeaderMap, endpoint: &'static str, scope: Scope, f: F) -> Response
where
    F: FnOnce(Admitted) -> Fut,
    Fut: std::future::Future<Output = (Result<Response, ApiError>, &'static str, Option<String>)>,
{
    let start = Instant::now();
    let admitted = state.authorize(headers, scope).and_then(|client| {
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

fn profile(q: &HashMap<String, String>) -> Result<Profile, ApiError> {
    parse_profile(q.get("profile").map(String::as_str))
}

fn parse_profile(p: Option<&str>) -> Result<Profile, ApiError> {
    match p {
        None => Ok(Profile::default()),
        Some(p) => Profile::parse(p).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown profile {:?} (psc-2021 or psc-2023)",
                p.chars().take(40).collect::<String>()
            ))
        }),
    }
}

async fn claims(State(s): State<AppState>, Id(id): Id, Q(q): Q, headers: HeaderMap) -> Response {
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

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(format!("the body is larger than {MAX_BODY} bytes")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    ids: Vec<String>,
    #[serde(default)]
    profile: Option<String>,
}

async fn claims_batch(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, "claims_batch", Scope::Claims, |_| async {
        let run = async {
            let req: BatchRequest = json_body(&read_body(body).await?)?;
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
                        results.push(serde_json::json!({"id": id, "claims": claims}))
                    }
                    None => results.push(serde_json::json!({"id": id, "error": {"code": "not_found", "message": format!("no professional {id}")}})),
                }
            }
            Ok(answer(g, &serde_json::json!({"generation": g, "results": results})))
        };
        (run.await, "ok", None)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EligibilityRequest {
    subject: String,
    service: String,
}

async fn eligibility(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, "eligibility", Scope::Claims, |_| async {
        let run = async {
            let req: EligibilityRequest = json_body(&read_body(body).await?)?;
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
            let body = serde_json::json!({
                "eligible": d.eligible, "reasons": d.reasons, "exercice": d.exercice, "generation": g,
                "subject": p.idnat.as_str(), "service": req.service,
            });
            Ok((answer(g, &body), outcome, p.idnat.as_str().to_string()))
        };
        match run.await {
            Ok((r, outcome, idnat)) => (Ok(r), outcome, Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

async fn services(State(s): State<AppState>, headers: HeaderMap) -> Response {
    handle(&s, &headers, "services", Scope::Claims, |_| async {
        let body = serde_json::json!({"services": s.config.services});
        let mut r = (StatusCode::OK, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        (Ok(r), "ok", None)
    })
    .await
}

async fn resolve(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "resolve", Scope::Claims, |_| async {
        let run = async {
            let hint = q.get("hint").map(|h| h.trim()).filter(|h| !h.is_empty()).ok_or_else(|| ApiError::bad_request("hint is required"))?;
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
            let body = serde_json::json!({"subject": p.idnat.as_str(), "id_type": p.idnat.id_type().origine(), "matched": matched, "generation": g});
            Ok((answer(g, &body), p.idnat.as_str().to_string()))
        };
        match run.await {
            Ok((r, idnat)) => (Ok(r), "ok", Some(idnat)),
            Err(e) => (Err(e), "", None),
        }
    })
    .await
}

/// Largest page of `/v1/changes`.
pub const MAX_CHANGES_LIMIT: i64 = 10_000;

async fn changes(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
    handle(&s, &headers, "changes", Scope::Admin, |_| async {
        let run = async {
            let since: i64 = query_number(&q, "since", 0, 0, i64::MAX)?;
            let limit: i64 = query_number(&q, "limit", 1000, 1, MAX_CHANGES_LIMIT)?;
            let offset: i64 = query_number(&q, "offset", 0, 0, i64::MAX / 2)?;
            let (page, total) = s.store.changes_page(since, limit, offset).await.map_err(ApiError::internal)?;
            let after = offset + page.len() as i64;
            let next = (after < total).then_some(after);
            let g = s.generation().unwrap_or(0);
            Ok(answer(g, &serde_json::json!({"changes": page, "total": total, "next_offset": next})))
        };
        (run.await, "ok", None)
    })
    .await
}

fn query_text(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The filters shared by `/v1/search` and `/v1/stats`, checked against their bounds.
fn query_filters(q: &HashMap<String, String>) -> Result<annuaire_search::SearchRequest, ApiError> {
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

async fn search(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
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
            let mut v = serde_json::to_value(&r).map_err(ApiError::internal)?;
            v["generation"] = g.into();
            Ok(answer(g, &v))
        };
        (run.await, "ok", None)
    })
    .await
}

async fn stats(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
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
            Ok(answer(g, &groups))
        };
        (run.await, "ok", None)
    })
    .await
}

async fn healthz(State(s): State<AppState>) -> Response {
    let g = s.served.load(Ordering::SeqCst);
    let snapshot = s.snapshot_of(g).map(|s| s.generation());
    let body = serde_json::json!({
        "status": if g > 0 { "ok" } else { "no_generation" },
        "generation": (g > 0).then_some(g),
        "claims_snapshot": snapshot,
    });
    let mut r =
        (if g > 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

async fn metrics_text(State(s): State<AppState>, headers: HeaderMap) -> Response {
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

fn fhir_answer(generation: i64, status: StatusCode, value: &serde_json::Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"));
    if let Ok(v) = HeaderValue::from_str(&generation.to_string()) {
        r.headers_mut().insert(GENERATION_HEADER, v);
    }
    r
}

fn operation_outcome(code: &str, diagnostics: &str) -> serde_json::Value {
    serde_json::json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]})
}

async fn fhir_practitioner(State(s): State<AppState>, Id(id): Id, headers: HeaderMap) -> Response {
    handle(&s, &headers, "fhir_practitioner", Scope::Claims, |_| async {
        let run = async {
            let g = s.generation()?;
            Ok(match s.person(&id, g).await? {
                Some(p) => (
                    fhir_answer(g, StatusCode::OK, &annuaire_claims::fhir::practitioner(&p)),
                    "ok",
                    Some(p.idnat.as_str().to_string()),
                ),
                None => (
                    fhir_answer(
                        g,
                        StatusCode::NOT_FOUND,
                        &operation_outcome("not-found", &format!("no professional {id}")),
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

async fn fhir_roles(State(s): State<AppState>, Q(q): Q, headers: HeaderMap) -> Response {
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
            Ok(fhir_answer(g, StatusCode::OK, &annuaire_claims::fhir::bundle("fhir", roles)))
        };
        (run.await, "ok", None)
    })
    .await
}

/// The whole native record of a professional (see `crate::record`).
async fn professional(State(s): State<AppState>, Id(id): Id, headers: HeaderMap) -> Response {
    handle(&s, &headers, "professional", Scope::Claims, |_| async {
        let run = async {
            let g = s.generation()?;
            let p = s.person(&id, g).await?.ok_or_else(|| ApiError::not_found(format!("no professional {id}")))?;
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

/// The labels of a code table (`profession`, `savoir_faire`, `mode` ...): public nomenclature, no token needed.
async fn codes(Id(kind): Id) -> Response {
    let Some(k) = annuaire_schemas::codes::Kind::ALL.into_iter().find(|k| k.name() == kind) else {
        let names: Vec<&str> = annuaire_schemas::codes::Kind::ALL.iter().map(|k| k.name()).collect();
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no code table {:?}; known: {}", kind.chars().take(40).collect::<String>(), names.join(", ")),
        )
        .into_response();
    };
    let entries: Vec<serde_json::Value> = annuaire_schemas::codes::entries(k)
        .into_iter()
        .map(|e| serde_json::json!({"code": e.code, "label": e.label, "table": e.table}))
        .collect();
    let mut r = (StatusCode::OK, serde_json::Value::Array(entries).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn web_file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self'",
        ),
    );
    r
}

async fn web_page() -> Response {
    web_file("text/html; charset=utf-8", include_str!("../../web/index.html"))
}

async fn web_script() -> Response {
    web_file("text/javascript; charset=utf-8", include_str!("../../web/app.js"))
}

async fn web_style() -> Response {
    web_file("text/css; charset=utf-8", include_str!("../../web/app.css"))
}

async fn openapi_json() -> Response {
    let mut r = (StatusCode::OK, openapi::document().to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
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
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/claims/batch", post(claims_batch))
        .route("/v1/claims/{id}", get(claims))
        .route("/v1/eligibility", post(eligibility))
        .route("/v1/services", get(services))
        .route("/v1/subjects/resolve", get(resolve))
        .route("/v1/changes", get(changes))
        .route("/v1/search", get(search))
        .route("/v1/stats", get(stats))
        .route("/fhir/Practitioner/{id}", get(fhir_practitioner))
        .route("/fhir/PractitionerRole", get(fhir_roles))
        .route("/v1/codes/{kind}", get(codes))
        .route("/v1/professionals/{id}", get(professional))
        .route("/openapi.json", get(openapi_json))
        // The analysts' page: static files compiled into the binary; it calls /v1/search, /v1/stats, /v1/codes.
        .route("/", get(web_page))
        .route("/app.js", get(web_script))
        .route("/app.css", get(web_style))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(layers)
        .with_state(state)
}

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

/// Bind and serve until `shutdown` resolves; usage is flushed at the end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    state.refresh().await?;
    spawn_background(state.clone());
    server::serve_connections(listener, app(state.clone()), &state.config.server, shutdown).await?;
    state.usage.flush(&state.store).await?;
    Ok(())
}
