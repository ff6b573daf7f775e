//! API behaviour through `app(state)` without a socket (tower's `oneshot`): a real SQLite store holding the sample,
//! the real router and middleware. The end-to-end tests keep what needs the real binary and real sockets.

use super::limits::Class;
use super::{AppState, app, openapi};
use crate::config::{ClientConfig, Config, Scope};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tower::ServiceExt;

const IDP: &str = "idp-token";
const ANALYST: &str = "analyst-token";
const OPS: &str = "ops-token";

fn client(name: &str, token: &str, scope: Scope) -> ClientConfig {
    let digest: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    ClientConfig { name: name.into(), token_sha256: digest, scopes: vec![scope], max_requests_per_second: None }
}

/// The sample synced into a new SQLite store, and the state of a server on it.
async fn state() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = annuaire_store::Store::open(dir.path()).await.expect("store");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    annuaire_ingest::run_once(&store, &annuaire_ingest::RunOptions::new(sample)).await.expect("sync");
    let config = Config {
        clients: vec![
            client("idp", IDP, Scope::Claims),
            client("analyst", ANALYST, Scope::Search),
            client("ops", OPS, Scope::Admin),
        ],
        services: [(
            "si-dep".to_string(),
            annuaire_claims::Policy { professions: vec!["10".into()], ..annuaire_claims::Policy::default() },
        )]
        .into_iter()
        .collect(),
        ..Config::default()
    };
    let state = AppState::new(store, Arc::new(config), Arc::default());
    state.refresh().await.expect("served generation");
    (dir, state)
}

struct Answer {
    status: StatusCode,
    body: serde_json::Value,
    retry_after: Option<String>,
}

async fn send(state: &AppState, method: &str, uri: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
    let resp = app(state.clone()).oneshot(req).await.expect("answer");
    let status = resp.status();
    let retry_after = resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.expect("body");
    Answer { status, body: serde_json::from_slice(&bytes).unwrap_or_default(), retry_after }
}

/// A request that succeeds on each route of the route table; a route added without one fails the matrix.
fn example(method: &str, path: &str) -> Option<(String, Option<&'static str>)> {
    let id = "810100271385";
    Some(match (method, path) {
        ("get", "/healthz" | "/metrics" | "/openapi.json" | "/v1/services" | "/v1/search" | "/v1/stats") => {
            (path.to_string(), None)
        }
        ("get", "/v1/claims/{id}" | "/v1/professionals/{id}" | "/fhir/Practitioner/{id}") => {
            (path.replace("{id}", id), None)
        }
        ("get", "/v1/codes/{kind}") => ("/v1/codes/profession".into(), None),
        ("get", "/v1/subjects/resolve") => (format!("{path}?hint={id}"), None),
        ("get", "/v1/changes") => (format!("{path}?since=0&limit=5"), None),
        ("get", "/fhir/PractitionerRole") => (format!("{path}?practitioner={id}"), None),
        ("post", "/v1/claims/batch") => (path.into(), Some(r#"{"ids": ["810100271385"]}"#)),
        ("post", "/v1/eligibility") => (path.into(), Some(r#"{"subject": "810100271385", "service": "si-dep"}"#)),
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_of_the_table_requires_its_scope() {
    let (_dir, s) = state().await;
    for route in openapi::ROUTES {
        let (uri, body) = example(route.method, route.path)
            .unwrap_or_else(|| panic!("{} {}: add an example request", route.method, route.path));
        let m = route.method.to_uppercase();
        if route.scope.is_empty() {
            assert_eq!(send(&s, &m, &uri, None, body).await.status, 200, "{m} {uri} is public");
            continue;
        }
        for token in [None, Some("wrong")] {
            let a = send(&s, &m, &uri, token, body).await;
            assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (401, Some("unauthorized")), "{m} {uri}");
        }
        for (scope, token) in [("claims", IDP), ("search", ANALYST), ("admin", OPS)] {
            let a = send(&s, &m, &uri, Some(token), body).await;
            let want = if scope == route.scope { 200 } else { 403 };
            assert_eq!(a.status.as_u16(), want, "{m} {uri} with {scope}: {}", a.body);
        }
    }
}

#[tokio::test]
async fn a_full_analysts_budget_refuses_search_at_once_and_claims_still_answer() {
    let (_dir, s) = state().await;
    // Every analysts' permit taken, as by searches in flight.
    let mut held = Vec::new();
    while let Ok(p) = s.budgets.try_acquire(Class::Analysts) {
        held.push(p);
    }
    assert!(!held.is_empty());
    let a = send(&s, "GET", "/v1/search?text=martin", Some(ANALYST), None).await;
    assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (503, Some("overloaded")));
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    let a = send(&s, "GET", "/v1/stats?by=profession", Some(ANALYST), None).await;
    assert_eq!(a.status.as_u16(), 503);
    let a = send(&s, "GET", "/v1/claims/810100271385", Some(IDP), None).await;
    assert_eq!(a.status.as_u16(), 200, "claims have their own budget");
    drop(held);
    let a = send(&s, "GET", "/v1/search?text=martin", Some(ANALYST), None).await;
    assert_eq!(a.status.as_u16(), 200, "the permits came back");
}

#[tokio::test]
async fn parameters_outside_their_bounds_are_json_400s_naming_the_bound() {
    let (_dir, s) = state().await;
    for (uri, needle) in [
        ("/v1/search?offset=10000000000000", "offset"),
        ("/v1/search?offset=10001", "offset"),
        ("/v1/search?limit=0", "limit"),
        ("/v1/search?text=a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k", "words"),
        ("/v1/stats?by=profession,profession", "twice"),
        ("/v1/search?mailbox=perhaps", "mailbox"),
    ] {
        let a = send(&s, "GET", uri, Some(ANALYST), None).await;
        assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (400, Some("bad_request")), "{uri}");
        assert!(a.body["message"].as_str().unwrap_or("").contains(needle), "{uri}: {}", a.body);
    }
    let a = send(&s, "GET", "/v1/claims/%FF%FE", Some(IDP), None).await;
    assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (400, Some("bad_request")));
    let a = send(&s, "DELETE", "/v1/claims/810100271385", Some(IDP), None).await;
    assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (405, Some("method_not_allowed")));
}

/// The counting table is written by the first `stats` of a generation. Two first requests at once in one process
/// once wrote the same temporary file (named after the pid), and one of them failed: now both answer, alike.
#[tokio::test]
async fn two_first_counts_at_once_both_answer() {
    let (dir, s) = state().await;
    assert!(!dir.path().join("stats").exists(), "no counting table yet");
    let (a, b) = tokio::join!(
        send(&s, "GET", "/v1/stats?by=profession", Some(ANALYST), None),
        send(&s, "GET", "/v1/stats?by=profession", Some(ANALYST), None)
    );
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200), "{} {}", a.body, b.body);
    assert_eq!(a.body, b.body);
    assert!(a.body.as_array().is_some_and(|g| !g.is_empty()));
}
