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
    if let Some(b) = body {
        // A JSON body, or a FHIR search's form body.
        let kind = if b.starts_with('{') { "application/json" } else { "application/x-www-form-urlencoded" };
        req = req.header(header::CONTENT_TYPE, kind);
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
        (
            "get",
            "/healthz" | "/metrics" | "/openapi.json" | "/v1/services" | "/v1/search" | "/v1/stats" | "/v1/departments",
        ) => (path.to_string(), None),
        ("get", "/v1/claims/{id}" | "/v1/professionals/{id}" | "/fhir/Practitioner/{id}") => {
            (path.replace("{id}", id), None)
        }
        ("get", "/v1/codes/{kind}") => ("/v1/codes/profession".into(), None),
        ("get", "/v1/export") => ("/v1/export?format=csv&profession=60".into(), None),
        ("get", "/v1/subjects/resolve") => (format!("{path}?hint={id}"), None),
        ("get", "/v1/changes") => (format!("{path}?since=0&limit=5"), None),
        ("get", "/v1/runs" | "/v1/generations" | "/v1/usage") => (path.to_string(), None),
        ("get", "/v1/quality/{id}") => ("/v1/quality/latest".into(), None),
        // Nothing is held in the sample's store: the answer is 409 `conflict` (see `ok_status`).
        ("post", "/v1/generations/{id}/approve") => (path.replace("{id}", "1"), Some(r#"{"exclude": ["delete"]}"#)),
        ("get", "/fhir/metadata") => (path.into(), None),
        ("get", "/fhir/{type}") => (format!("/fhir/PractitionerRole?practitioner={id}"), None),
        ("get", "/fhir/{type}/{id}") => ("/fhir/Organization/R10100000328372".into(), None),
        ("get", "/fhir/{type}/{id}/_history") => (format!("/fhir/Practitioner/{id}/_history"), None),
        ("get", "/fhir/{type}/{id}/_history/{vid}") => (format!("/fhir/Practitioner/{id}/_history/1"), None),
        ("post", "/fhir/{type}/_search") => {
            ("/fhir/PractitionerRole/_search".into(), Some("practitioner=810100271385"))
        }
        ("get", "/fhir/{type}/_history") => ("/fhir/Practitioner/_history?_since=2000-01-01&_count=2".into(), None),
        // A kick-off that is refused once authorised (see `ok_status`): a test never leaves an export running.
        ("get", "/fhir/$export") => ("/fhir/$export?_type=Patient".into(), None),
        ("get" | "delete", "/fhir/$export-status/{id}") => ("/fhir/$export-status/0123abcd".into(), None),
        ("get", "/fhir/$export-file/{id}/{file}") => ("/fhir/$export-file/0123abcd/Practitioner.ndjson".into(), None),
        ("post", "/v1/claims/batch") => (path.into(), Some(r#"{"ids": ["810100271385"]}"#)),
        ("post", "/v1/eligibility") => (path.into(), Some(r#"{"subject": "810100271385", "service": "si-dep"}"#)),
        _ => return None,
    })
}

/// What the example request of a route answers when it is allowed.
fn ok_status(path: &str) -> u16 {
    match path {
        p if p.ends_with("/approve") => 409,
        "/fhir/$export" => 400,
        p if p.starts_with("/fhir/$export-") => 404,
        _ => 200,
    }
}

#[tokio::test]
async fn every_route_of_the_table_requires_its_scope() {
    let (_dir, s) = state().await;
    for route in openapi::ROUTES {
        let (uri, body) = example(route.method, route.path)
            .unwrap_or_else(|| panic!("{} {}: add an example request", route.method, route.path));
        let m = route.method.to_uppercase();
        if route.scope.is_empty() {
            assert_eq!(send(&s, &m, &uri, None, body).await.status, ok_status(route.path), "{m} {uri} is public");
            continue;
        }
        for token in [None, Some("wrong")] {
            let a = send(&s, &m, &uri, token, body).await;
            assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (401, Some("unauthorized")), "{m} {uri}");
        }
        for (scope, token) in [("claims", IDP), ("search", ANALYST), ("admin", OPS)] {
            let a = send(&s, &m, &uri, Some(token), body).await;
            let want = if route.scope.split('|').any(|s| s == scope) { ok_status(route.path) } else { 403 };
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

/// `v` against `schema` (a part of the OpenAPI document `doc`): types, required and documented properties (a
/// property the schema does not list is refused unless it allows more), items, enums, `oneOf`/`anyOf`, `$ref`.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    v: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").ok_or_else(|| format!("{at}: odd $ref {r}"))?;
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: $ref {r} is not in the document"));
        }
        return conforms(doc, target, v, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            let errors: Vec<String> = alternatives.iter().filter_map(|a| conforms(doc, a, v, at).err()).collect();
            if errors.len() == alternatives.len() {
                return Err(format!("{at}: none of {key} matches: {}", errors.join("; ")));
            }
        }
    }
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        conforms(doc, part, v, at)?;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {values:?}"));
    }
    let actual = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let integer_as_number = actual == "integer" && allowed.contains(&"number");
        if !allowed.contains(&actual) && !integer_as_number {
            return Err(format!("{at}: a {actual} where the schema says {t}"));
        }
    }
    match v {
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, x) in items.iter().enumerate() {
                    conforms(doc, item, x, &format!("{at}[{i}]"))?;
                }
            }
        }
        Value::Object(fields) => {
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = name.as_str().unwrap_or("");
                if !fields.contains_key(name) {
                    return Err(format!("{at}: required {name:?} is missing"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, x) in fields {
                let here = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(p), _) => conforms(doc, p, x, &here)?,
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(more)) if more.is_object() => conforms(doc, more, x, &here)?,
                    (None, _) if properties.is_some() => return Err(format!("{here}: not documented")),
                    (None, _) => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The route of the table that serves `method` `path` (its `{id}` and `{kind}` matching any segment).
fn route_of(method: &str, path: &str) -> Option<&'static openapi::Route> {
    let path = path.split('?').next().unwrap_or(path);
    // The most specific route that matches (as the router chooses: `/fhir/{type}/_history` before
    // `/fhir/{type}/{id}`).
    openapi::ROUTES
        .iter()
        .filter(|r| {
            let (want, got): (Vec<&str>, Vec<&str>) = (r.path.split('/').collect(), path.split('/').collect());
            r.method.eq_ignore_ascii_case(method)
                && want.len() == got.len()
                && want.iter().zip(&got).all(|(w, g)| w == g || (w.starts_with('{') && w.ends_with('}')))
        })
        .min_by_key(|r| r.path.matches('{').count())
}

/// Every answer, success or error, matches the schema `/openapi.json` documents for it: one request per route
/// of the table, and the common errors.
#[tokio::test]
async fn every_answer_matches_its_documented_schema() {
    let (_dir, s) = state().await;
    let doc = send(&s, "GET", "/openapi.json", None, None).await.body;
    let mut requests: Vec<(String, String, Option<&str>, Option<&str>)> = Vec::new();
    for route in openapi::ROUTES {
        let (uri, body) = example(route.method, route.path).unwrap_or_else(|| panic!("{}: no example", route.path));
        let token = match route.scope.split('|').next().unwrap_or("") {
            "claims" => Some(IDP),
            "search" => Some(ANALYST),
            "admin" => Some(OPS),
            _ => None,
        };
        requests.push((route.method.to_uppercase(), uri, token, body));
    }
    for (m, uri, token, body) in [
        ("GET", "/v1/claims/899999999999", Some(IDP), None),
        ("GET", "/v1/claims/810100271385?profile=nope", Some(IDP), None),
        ("GET", "/v1/claims/810100271385", Some(ANALYST), None),
        ("GET", "/v1/claims/810100271385", None, None),
        (
            "POST",
            "/v1/claims/batch",
            Some(IDP),
            Some(r#"{"ids": ["810100271385", "899999999999"], "profile": "psc-2021"}"#),
        ),
        ("POST", "/v1/claims/batch", Some(IDP), Some(r#"{"ids": 3}"#)),
        ("POST", "/v1/eligibility", Some(IDP), Some(r#"{"subject": "810100271385", "service": "nope"}"#)),
        ("GET", "/v1/professionals/899999999999", Some(IDP), None),
        ("GET", "/v1/search?text=mar&limit=50", Some(ANALYST), None),
        ("GET", "/v1/search?offset=99999", Some(ANALYST), None),
        ("GET", "/v1/stats?by=department,valid_card,mailbox", Some(ANALYST), None),
        ("GET", "/v1/changes?since=0&limit=10000", Some(OPS), None),
        ("GET", "/v1/subjects/resolve?hint=899999999999", Some(IDP), None),
        ("GET", "/fhir/Practitioner/899999999999", Some(IDP), None),
    ] {
        requests.push((m.to_string(), uri.to_string(), token, body));
    }
    let mut checked = 0;
    for (m, uri, token, body) in &requests {
        let route = route_of(m, uri).unwrap_or_else(|| panic!("{m} {uri}: no route"));
        let mut req = Request::builder().method(m.as_str()).uri(uri.as_str());
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
        let resp = app(s.clone()).oneshot(req).await.expect("answer");
        let status = resp.status();
        let kind = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.expect("body");
        let documented = &doc["paths"][route.path][route.method]["responses"];
        let answer = documented
            .get(status.as_str())
            .or_else(|| documented.get("default"))
            .unwrap_or_else(|| panic!("{m} {uri}: status {status} is not documented"));
        // The documented media type this answer has (a file route documents several).
        let contents =
            answer["content"].as_object().unwrap_or_else(|| panic!("{m} {uri}: {status} documents no content"));
        let (content_type, media) = contents
            .iter()
            .find(|(t, _)| kind.starts_with(t.as_str()))
            .or_else(|| contents.iter().next())
            .unwrap_or_else(|| panic!("{m} {uri}: {status} documents no content"));
        // FHIR errors are OperationOutcome resources, as FHIR asks.
        let fhir_error = route.path.starts_with("/fhir")
            && status.is_client_error()
            && status != StatusCode::UNAUTHORIZED
            && status != StatusCode::FORBIDDEN;
        let schema = if fhir_error {
            serde_json::json!({"$ref": "#/components/schemas/FhirResource"})
        } else {
            media["schema"].clone()
        };
        if fhir_error {
            assert_eq!(kind, "application/fhir+json", "{m} {uri}");
        } else {
            assert!(kind.starts_with(content_type.as_str()), "{m} {uri}: {kind} where {content_type} is documented");
        }
        let value = if kind.starts_with("text/plain") || kind.starts_with("text/csv") {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{m} {uri}: not JSON ({e})"))
        };
        if let Err(e) = conforms(&doc, &schema, &value, "body") {
            panic!("{m} {uri} ({status}) does not match its schema: {e}\n{value}");
        }
        checked += 1;
    }
    assert_eq!(checked, requests.len());
    // Every schema the routes name is in the document.
    for r in openapi::ROUTES {
        for name in [Some(r.response), r.request].into_iter().flatten() {
            assert!(doc["components"]["schemas"][name].is_object(), "{} {}: no schema {name}", r.method, r.path);
        }
    }
}
/// The checker refuses what it must: a missing required field, an undocumented one, a wrong type, a bad enum value.
#[tokio::test]
async fn the_schema_checker_refuses_answers_that_differ_from_their_schema() {
    let (_dir, s) = state().await;
    let doc = send(&s, "GET", "/openapi.json", None, None).await.body;
    let at = |name: &str| serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
    let good = serde_json::json!({"changes": [{"id": "810100271385", "change": "update", "generation": 2,
        "id_group": "rpps"}], "total": 1, "next_offset": null});
    assert_eq!(conforms(&doc, &at("Changes"), &good, "body"), Ok(()));
    for bad in [
        serde_json::json!({"changes": [], "next_offset": null}),
        serde_json::json!({"changes": [], "total": 1, "next_offset": null, "extra": 1}),
        serde_json::json!({"changes": [], "total": "1", "next_offset": null}),
        serde_json::json!({"changes": [{"id": "1", "change": "rename", "generation": 2, "id_group": "rpps"}], "total": 1}),
    ] {
        assert!(conforms(&doc, &at("Changes"), &bad, "body").is_err(), "{bad}");
    }
    assert!(conforms(&doc, &at("Nope"), &good, "body").is_err());
}

/// The operators' endpoints: a held night is listed with its reason, approved over the API (its views first), and
/// then served; runs and usage read back.
#[tokio::test]
async fn a_held_generation_is_listed_with_its_reason_and_approved_over_the_api() {
    let (dir, s) = state().await;
    // The next night: a fifth of the persons gone, which the gate holds.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let next = dir.path().join("next");
    std::fs::create_dir_all(&next).expect("mkdir");
    for e in std::fs::read_dir(&sample).expect("ls") {
        let path = e.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().replace("202", "203")).unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("read");
        let text: String = if name.contains("Personne_activite") {
            text.lines().enumerate().filter(|(i, _)| *i == 0 || i % 5 != 3).map(|(_, l)| format!("{l}\n")).collect()
        } else {
            text
        };
        std::fs::write(next.join(name), text).expect("write");
    }
    let held = annuaire_ingest::run_once(&s.store, &annuaire_ingest::RunOptions::new(&next)).await.expect("sync");
    assert_eq!(held.status, annuaire_store::RunStatus::Held);
    let g = held.generation.expect("generation");

    let a = send(&s, "GET", "/v1/generations", Some(OPS), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!((a.body["served"].as_i64(), a.body["held"]["generation"].as_i64()), (Some(g - 1), Some(g)));
    assert!(a.body["held"]["reason"].as_str().is_some_and(|r| r.contains("deletions")), "{}", a.body);
    assert!(a.body["held"]["deleted"].as_i64().is_some_and(|d| d > 20));
    let a = send(&s, "GET", "/v1/runs?limit=1", Some(OPS), None).await;
    assert_eq!(
        (a.body["runs"][0]["status"].as_str(), a.body["runs"][0]["generation"].as_i64()),
        (Some("held"), Some(g))
    );

    // A bad kind, then a generation that is not held: refused, nothing changes.
    let uri = format!("/v1/generations/{g}/approve");
    let a = send(&s, "POST", &uri, Some(OPS), Some(r#"{"exclude": ["rename"]}"#)).await;
    assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (400, Some("bad_request")));
    let a = send(&s, "POST", &format!("/v1/generations/{}/approve", g - 1), Some(OPS), None).await;
    assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (409, Some("conflict")), "{}", a.body);
    assert_eq!(s.generation().ok(), Some(g - 1));

    let a = send(&s, "POST", &uri, Some(OPS), Some("{}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["kept"]["delete"].as_i64().is_some_and(|d| d > 20), "{}", a.body);
    assert_eq!(s.generation().ok(), Some(g), "served at once");
    assert!(dir.path().join(format!("index/gen-{g}")).exists(), "its index was made before the promotion");
    let a = send(&s, "GET", "/v1/generations", Some(OPS), None).await;
    assert_eq!((a.body["served"].as_i64(), &a.body["held"]), (Some(g), &serde_json::Value::Null));

    // Usage: the operator's own calls are counted, the ones still in the buffer included (the report writes them first;
    // the server's background flush does not run in these tests).
    let a = send(&s, "GET", "/v1/usage?since=2000-01-01", Some(OPS), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["clients"].as_array().is_some_and(|c| c.iter().any(|c| c["client"] == "ops")), "{}", a.body);
    assert!(a.body["days"].as_array().is_some_and(|d| !d.is_empty()));
    let a = send(&s, "GET", "/v1/usage?since=yesterday", Some(OPS), None).await;
    assert_eq!(a.status, 400);
}

/// A claims lookup whose snapshot entry is not in the page cache is read on a blocking thread, answers what the
/// store answers, and is counted in `/metrics`.
#[tokio::test]
#[cfg(target_os = "linux")]
async fn claims_out_of_the_page_cache_are_read_off_the_workers_and_answer_the_same() {
    let (dir, state) = state().await;
    let g = state.generation().expect("served");
    let ids = ["810100271385", "810000013994"];
    let mut from_store = Vec::new();
    for id in ids {
        let a = send(&state, "GET", &format!("/v1/claims/{id}"), Some(IDP), None).await;
        assert_eq!(a.status, StatusCode::OK, "{id}: {}", a.body);
        from_store.push(a.body);
    }
    state.prepare_snapshot(g).await.expect("snapshot");
    let disk_reads = || -> u64 {
        state
            .metrics
            .render(&[])
            .lines()
            .find_map(|l| l.strip_prefix("annuaire_claims_disk_reads_total "))
            .and_then(|n| n.parse().ok())
            .expect("the counter is rendered")
    };
    // Every layer out of the page cache (written back first: only clean pages are dropped), then the lookups.
    // `prepare_snapshot` advises the layers back in on a blocking thread that may run after an eviction, so this
    // goes round until a lookup went to the disk (bounded: that read-ahead of a small snapshot takes milliseconds).
    let snapshot_dir = dir.path().join("claims").join(format!("gen-{g}"));
    let mut on_tmpfs = false;
    for _ in 0..50 {
        for entry in std::fs::read_dir(&snapshot_dir).expect("snapshot folder") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("data-")) {
                let file = std::fs::File::open(&path).expect("layer");
                file.sync_all().expect("sync");
                rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
                on_tmpfs |= rustix::fs::statfs(&path).expect("statfs").f_type as i64 == 0x0102_1994;
            }
        }
        for (id, expected) in ids.iter().zip(&from_store) {
            let a = send(&state, "GET", &format!("/v1/claims/{id}"), Some(IDP), None).await;
            assert_eq!(a.status, StatusCode::OK);
            assert_eq!(&a.body, expected, "{id}: the snapshot's answer differs from the store's");
        }
        if on_tmpfs || disk_reads() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    if !on_tmpfs {
        assert!(disk_reads() >= 1, "no lookup went to the disk after the snapshot left the page cache (50 tries)");
    }
}
