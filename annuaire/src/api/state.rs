//! The API's shared state: the store, the configuration, the served generation, the caches, the claims snapshot
//! and search index of the served generation, the budgets and rate limits; and how a request is authorised.

use super::error::ApiError;
use super::limits::{Budgets, RateLimits};
use super::metrics::{Metrics, UsageBuffer};
use crate::config::{Config, Scope};
use crate::serve::LastRun;
use annuaire_claims::snapshot::{Cached, ClaimsSnapshot};
use annuaire_claims::{Profile, user_info};
use annuaire_schemas::Person;
use annuaire_store::Store;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use subtle::ConstantTimeEq;

/// Rendered claims (JSON, idNat) by (generation, id as asked, profile).
pub type ClaimsCache = quick_cache::sync::Cache<(i64, String, &'static str), (Bytes, String)>;

/// The index of the generation last searched.
pub type SearchSlot = tokio::sync::Mutex<Option<(i64, Arc<annuaire_search::SearchIndex>)>>;

/// Shared state of the API: a handle on [`AppStateInner`]. axum clones the state for every request (the router, then
/// each extractor), so a clone is one reference count to bump. With the fields held directly, a clone bumped fifteen
/// and copied the store's data folder path into a new allocation: 7 % of the server's samples under claims, and a
/// claim costs 13 % less CPU without it (docs/benchmarks.md, "The morning of 2026-12-03: the API's state").
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppStateInner {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub usage: Arc<UsageBuffer>,
    pub last_run: Arc<tokio::sync::Mutex<LastRun>>,
    /// The served generation, refreshed from the store every second (0 = none yet).
    pub served: Arc<AtomicI64>,
    /// Claims rendered from the store (before the generation's snapshot is written), by (generation, id as asked,
    /// profile). Keyed by generation, so a promotion never serves a stale entry; entries of old generations age out.
    pub claims_cache: Arc<ClaimsCache>,
    /// The search index of the generation last searched.
    pub search: Arc<SearchSlot>,
    /// The claims snapshot of the served generation, once written (`annuaire_claims::snapshot`); claims come from the
    /// store until then.
    pub snapshot: Arc<std::sync::RwLock<Option<Arc<ClaimsSnapshot>>>>,
    /// Requests in flight per endpoint class.
    pub budgets: Budgets,
    /// Per-client rate limits.
    pub rates: RateLimits,
    /// The FHIR directory's cursors of the previous generation and its export jobs.
    pub fhir: Arc<super::fhir_state::FhirState>,
}

/// Claims kept rendered in memory (about 2 KB each).
pub const CLAIMS_CACHE_ENTRIES: usize = 100_000;

impl AppState {
    pub fn new(store: Store, config: Arc<Config>, last_run: Arc<tokio::sync::Mutex<LastRun>>) -> AppState {
        AppState(Arc::new(AppStateInner {
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
            fhir: Arc::default(),
            config,
        }))
    }

    /// The claims snapshot of generation `g`, if it is open.
    pub(crate) fn snapshot_of(&self, g: i64) -> Option<Arc<ClaimsSnapshot>> {
        let s = self.snapshot.read().ok()?;
        s.as_ref().filter(|s| s.generation() == g).cloned()
    }

    /// Write (or reuse) generation `g`'s claims snapshot and answer claims from it.
    pub async fn prepare_snapshot(&self, g: i64) -> anyhow::Result<()> {
        let view: Arc<dyn annuaire_views::GenerationView> = Arc::new(annuaire_claims::snapshot::ClaimsSnapshotView);
        let dirs = self.store.prepare(g, &[view]).await?;
        let dir = dirs.first().ok_or_else(|| anyhow::anyhow!("no folder for the claims snapshot"))?;
        let snap = Arc::new(ClaimsSnapshot::open(dir)?);
        // Into the page cache in the background (a lookup whose entry is not there yet reads it off the workers).
        let ahead = snap.clone();
        tokio::task::spawn_blocking(move || ahead.read_ahead());
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = Some(snap);
        }
        Ok(())
    }

    /// A person's claims in `profile`, as JSON, with their idNat: from the snapshot of generation `g` when it is
    /// open (it holds everyone of `g`, so a miss there is a miss), else rendered from the store.
    pub(crate) async fn claims_json(
        &self,
        id: &str,
        g: i64,
        profile: Profile,
    ) -> Result<Option<(Bytes, String)>, ApiError> {
        // The snapshot's answers are not kept in memory again: a lookup there (about 2 µs) costs what the cache
        // would (a key to allocate and hash, and under claims uniform over everyone an insertion per request that
        // evicts another), and the page cache already holds its entries. Answers rendered from the store (about
        // 150 µs) are kept, so that the day's working set is rendered once while the snapshot is being written.
        if let Some(snap) = self.snapshot_of(g) {
            let variant =
                snap.variant(profile.as_str()).ok_or_else(|| ApiError::internal("snapshot without profile"))?;
            for candidate in annuaire_schemas::id::candidates(id) {
                let found = match snap.get_cached(&candidate, variant).map_err(ApiError::internal)? {
                    Cached::Found(body) => Some(body),
                    Cached::Absent => None,
                    // Not in the page cache (a server just started, or memory taken by others): the read waits on
                    // the disk on a blocking thread, so that this worker goes on answering the others.
                    Cached::OnDisk => {
                        let (snap, candidate) = (snap.clone(), candidate.clone());
                        self.metrics.claims_disk_read();
                        tokio::task::spawn_blocking(move || snap.get(&candidate, variant))
                            .await
                            .map_err(ApiError::internal)?
                            .map_err(ApiError::internal)?
                    }
                };
                if let Some(body) = found {
                    return Ok(Some((Bytes::from(body), candidate)));
                }
            }
            return Ok(None);
        }
        let key = (g, id.to_string(), profile.as_str());
        if let Some(hit) = self.claims_cache.get(&key) {
            return Ok(Some(hit));
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
        let idx = Arc::new(crate::search::open_index(&self.store, g).await?);
        // The facet table is read here, in the background preparation, rather than by the first search.
        let prepared = idx.clone();
        tokio::task::spawn_blocking(move || prepared.prepare()).await??;
        *cached = Some((g, idx.clone()));
        Ok(idx)
    }

    pub(crate) fn generation(&self) -> Result<i64, ApiError> {
        match self.served.load(Ordering::SeqCst) {
            0 => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "no generation is served yet")),
            g => Ok(g),
        }
    }

    /// The client a request's bearer token belongs to, if it has `scope`; on refusal, the client's name
    /// when the token was valid.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        scopes: &[Scope],
    ) -> Result<String, (Option<String>, ApiError)> {
        let client = self.identify(headers).map_err(|e| (None, e))?;
        if !scopes.iter().any(|s| client.scopes.contains(s)) {
            let names: Vec<&str> = scopes
                .iter()
                .map(|s| match s {
                    Scope::Claims => "claims",
                    Scope::Search => "search",
                    Scope::Admin => "admin",
                })
                .collect();
            return Err((Some(client.name.clone()), ApiError::forbidden(&names.join("` or `"))));
        }
        Ok(client.name.clone())
    }

    /// True when the client `name` has `scope`.
    pub(crate) fn client_has(&self, name: &str, scope: Scope) -> bool {
        self.config.clients.iter().any(|c| c.name == name && c.scopes.contains(&scope))
    }

    pub(crate) fn identify(&self, headers: &HeaderMap) -> Result<&crate::config::ClientConfig, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        // The digest in lower-case hex, on the stack (this runs on every request: no allocation).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digest = [0u8; 64];
        for (i, b) in Sha256::digest(token.as_bytes()).iter().enumerate() {
            digest[2 * i] = HEX[usize::from(b >> 4)];
            digest[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        // Compare with every client, in constant time, without stopping at the first match.
        let mut found: Option<&crate::config::ClientConfig> = None;
        for c in &self.config.clients {
            let mut want = [0u8; 64];
            for (w, b) in want.iter_mut().zip(c.token_sha256.bytes()) {
                *w = b.to_ascii_lowercase();
            }
            let eq = c.token_sha256.len() == 64 && bool::from(want.ct_eq(&digest));
            if eq {
                found = Some(c);
            }
        }
        found.ok_or_else(ApiError::unauthorized)
    }

    pub(crate) async fn person(&self, id: &str, generation: i64) -> Result<Option<Person>, ApiError> {
        crate::record::lookup(&self.store, id, generation).await.map_err(ApiError::internal)
    }
}
