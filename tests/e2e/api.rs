//! The HTTP API, served by the real binary on loopback.

use crate::common::{annuaire, annuaire_command, sample_copy, samples, stderr};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

pub(crate) const IDP: &str = "idp-secret-token";
pub(crate) const ANALYST: &str = "analyst-secret-token";
pub(crate) const OPS: &str = "ops-secret-token";

pub(crate) fn sha(t: &str) -> String {
    Sha256::digest(t.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("annuaire.toml");
    let text = format!(
        r#"version = 1
[services.si-dep]
professions = ["10", "21", "60", "50", "70", "40"]
categories = ["C"]

[services.liberal-doctors]
professions = ["10"]
modes = ["L"]

[[clients]]
name = "idp"
token_sha256 = "{}"
scopes = ["claims"]

[[clients]]
name = "analyst"
token_sha256 = "{}"
scopes = ["search"]

[[clients]]
name = "ops"
token_sha256 = "{}"
scopes = ["admin"]
"#,
        sha(IDP),
        sha(ANALYST),
        sha(OPS)
    );
    std::fs::write(&path, text).expect("config");
    path
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Stop as an operator would (SIGTERM: usage is flushed, connections end), and wait for the exit (30 s at
    /// most, then SIGKILL). Returns whether it exited by itself, with success.
    pub(crate) fn stop(&mut self) -> bool {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Spawn `serve` from `command` (its other arguments given) on `--listen 127.0.0.1:0 --port-file F`: the server
/// binds a free port itself and writes it; ready means `/healthz` answered over HTTP (200, or 503 while nothing is
/// served). No port is picked by the test, so no race with another process.
pub(crate) fn spawn_server(mut command: std::process::Command, dir: &Path) -> Server {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let port_file =
        dir.join(format!("port-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
    let _ = std::fs::remove_file(&port_file);
    let child = command
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut server = Server { child, base: String::new() };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&port_file) {
            break a;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        assert!(std::time::Instant::now() < deadline, "the server never wrote its port");
        std::thread::sleep(Duration::from_millis(20));
    };
    server.base = format!("http://{}", addr.trim());
    loop {
        let answered = rt()
            .block_on(async { reqwest::Client::new().get(format!("{}/healthz", server.base)).send().await.is_ok() });
        if answered {
            return server;
        }
        assert!(std::time::Instant::now() < deadline, "the server never answered /healthz");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `/healthz` says `generation` is served (60 s at most).
pub(crate) fn wait_for_generation(base: &str, generation: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    rt().block_on(async {
        let c = reqwest::Client::new();
        loop {
            let r = call(&c, "GET", &format!("{base}/healthz"), None, None).await;
            if r.body["generation"] == json!(generation) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "generation {generation} never served: {}", r.text);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

pub(crate) fn start(data: &Path, config: &Path) -> Server {
    let mut command = annuaire_command(data);
    command.arg("--config").arg(config).args(["serve", "--no-sync"]);
    spawn_server(command, data)
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt")
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) generation: Option<i64>,
    pub(crate) body: Value,
    pub(crate) text: String,
}

pub(crate) async fn call(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Reply {
    let mut req = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let generation =
        resp.headers().get("x-annuaire-generation").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, generation, body, text }
}

/// Sync the sample with LEFÈVRE renamed LEFEUVRE-DURAND: the next generation.
pub(crate) fn sync_with_lefevre_renamed(data: &Path) {
    let renamed = sample_copy(&data.join("renamed"), |_, _| true);
    let pa = renamed.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text = std::fs::read_to_string(&pa).expect("read").replace("|LEFÈVRE|", "|LEFEUVRE-DURAND|");
    std::fs::write(&pa, text).expect("write");
    let out = annuaire(data, &["sync", "--source", renamed.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

pub(crate) fn synced() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", samples().join("PS_LibreAcces").to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config = write_config(dir.path());
    (dir, config)
}

#[test]
fn claims_over_http_for_every_kind_of_id_with_both_profiles_and_errors() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        let h = call(&c, "GET", &format!("{b}/healthz"), None, None).await;
        assert_eq!((h.status, h.body["generation"].clone()), (200, json!(1)));

        for id in ["810100271385", "10100271385"] {
            let r = call(&c, "GET", &format!("{b}/v1/claims/{id}"), Some(IDP), None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.generation, Some(1));
            assert_eq!(r.body["SubjectNameID"], "810100271385");
            assert_eq!(r.body["codeCivilite"], "M", "psc-2023 by default");
        }
        let r = call(&c, "GET", &format!("{b}/v1/claims/012800751"), Some(IDP), None).await;
        assert_eq!(r.body["otherIds"][0]["origine"], "ADELI");
        let r = call(&c, "GET", &format!("{b}/v1/claims/899700366240?profile=psc-2021"), Some(IDP), None).await;
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/tests/golden/psc-2021_899700366240.json");
        let want: Value = serde_json::from_str(&std::fs::read_to_string(golden).expect("golden")).expect("json");
        assert_eq!(r.body, want);

        let r = call(&c, "GET", &format!("{b}/v1/claims/810000000000"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (404, json!("not_found")));
        let r = call(&c, "GET", &format!("{b}/v1/claims/810100271385?profile=psc-1999"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (400, json!("bad_request")));
        let r = call(&c, "GET", &format!("{b}/v1/claims/810100271385"), None, None).await;
        assert_eq!((r.status, r.body["code"].clone()), (401, json!("unauthorized")));
        let r = call(&c, "GET", &format!("{b}/v1/claims/810100271385"), Some("wrong-token"), None).await;
        assert_eq!(r.status, 401);
        let r = call(&c, "GET", &format!("{b}/v1/claims/810100271385"), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (403, json!("forbidden")));
        let r = call(&c, "GET", &format!("{b}/v1/nothing-here"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (404, json!("not_found")));

        let r = call(&c, "GET", &format!("{b}/v1/subjects/resolve?hint=012800751"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["subject"].clone()), (200, json!("0012800751")));
    });
}

#[test]
fn batch_eligibility_services_metrics_and_usage() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        let body = json!({"ids": ["810100271385", "012800751", "810000000000"], "profile": "psc-2021"}).to_string();
        let r = call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let results = r.body["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["claims"]["SubjectRefPro"]["codeCivilite"], "M");
        assert_eq!(results[2]["error"]["code"], "not_found");
        let many: Vec<String> = (0..1001).map(|i| format!("8{i:011}")).collect();
        let r =
            call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some(json!({"ids": many}).to_string())).await;
        assert_eq!((r.status, r.body["code"].clone()), (413, json!("payload_too_large")));
        let r = call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some("{not json".into())).await;
        assert_eq!((r.status, r.body["code"].clone()), (400, json!("bad_request")));
        let r = call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some("x".repeat(300_000))).await;
        assert_eq!(r.status, 413);

        let ask = |subject: &str, service: &str| json!({"subject": subject, "service": service}).to_string();
        let r = call(&c, "POST", &format!("{b}/v1/eligibility"), Some(IDP), Some(ask("10100271385", "si-dep"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["eligible"], true);
        assert_eq!(r.body["exercice"], json!({"profession": "10", "category": "C"}));
        assert_eq!(r.body["generation"], 1);
        let r = call(&c, "POST", &format!("{b}/v1/eligibility"), Some(IDP), Some(ask("012800751", "si-dep"))).await;
        assert_eq!(r.body["eligible"], false);
        assert_eq!(r.body["reasons"], json!(["exercice 28/C: profession 28 not in [10, 21, 60, 50, 70, 40]"]));
        let r =
            call(&c, "POST", &format!("{b}/v1/eligibility"), Some(IDP), Some(ask("10001045367", "liberal-doctors")))
                .await;
        assert_eq!(r.body["eligible"], false, "a salaried doctor is refused");
        assert_eq!(r.body["reasons"], json!(["exercice 10/C: no activity with mode in [L]"]));
        let r = call(&c, "POST", &format!("{b}/v1/eligibility"), Some(IDP), Some(ask("10100271385", "nope"))).await;
        assert_eq!((r.status, r.body["code"].clone()), (404, json!("unknown_service")));

        let r = call(&c, "GET", &format!("{b}/v1/services"), Some(IDP), None).await;
        assert_eq!(r.body["services"]["si-dep"]["categories"], json!(["C"]));

        let r = call(&c, "GET", &format!("{b}/metrics"), Some(IDP), None).await;
        assert_eq!(r.status, 403, "metrics need the admin scope");
        let r = call(&c, "GET", &format!("{b}/metrics"), Some(OPS), None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text.contains(r#"annuaire_requests_total{client="idp",endpoint="eligibility",outcome="eligible"} 1"#),
            "{}",
            r.text
        );
        assert!(r.text.contains(r#"annuaire_requests_total{client="idp",endpoint="metrics",outcome="forbidden"} 1"#));
        assert!(r.text.contains("annuaire_request_duration_seconds_bucket{endpoint=\"claims_batch\""));
        assert!(r.text.contains("annuaire_served_generation 1"));
    });
    // Usage is flushed at shutdown (and every 2 seconds): stopped as an operator would, the server writes it all.
    let mut server = server;
    assert!(server.stop(), "serve stops cleanly on SIGTERM");
    let cfg = config.to_str().expect("path");
    let out = annuaire(dir.path(), &["--config", cfg, "eligible", "10100271385", "--service", "si-dep"]);
    assert_eq!(crate::common::json(&out)["eligible"], true, "{}", stderr(&out));
    let out = annuaire(dir.path(), &["--config", cfg, "eligible", "012800751", "--service", "si-dep"]);
    assert_eq!(crate::common::json(&out)["reasons"][0], "exercice 28/C: profession 28 not in [10, 21, 60, 50, 70, 40]");
    let usage = crate::common::json(&annuaire(dir.path(), &["usage", "--format", "json"]));
    let idp = usage.as_array().and_then(|a| a.iter().find(|u| u["client"] == "idp")).cloned().expect("idp usage");
    assert!(idp["calls"].as_i64().unwrap_or(0) >= 10, "{idp}");
    assert_eq!(idp["eligible"], 1);
    assert_eq!(idp["refused"], 2);
    assert_eq!(idp["distinct_professionals"], 3);
}

#[test]
fn a_request_in_flight_during_a_promotion_answers_from_one_generation() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    // Generation 2 renames every exercise given name: a mixed answer would show both spellings.
    let renamed = sample_copy(&dir.path().join("renamed"), |_, _| true);
    let pa = renamed.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text: String = std::fs::read_to_string(&pa)
        .expect("read")
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut f: Vec<String> = l.split('|').map(str::to_string).collect();
            if i > 0 && f.len() > 8 {
                f[8] = format!("{}-G2", f[8]);
            }
            format!("{}\n", f.join("|"))
        })
        .collect();
    std::fs::write(&pa, text).expect("write");
    let ids: Vec<String> =
        std::fs::read_to_string(samples().join("PS_LibreAcces/PS_LibreAcces_Personne_activite_202611280900.txt"))
            .expect("read")
            .lines()
            .skip(1)
            .filter_map(|l| l.split('|').nth(2).map(str::to_string))
            .take(200)
            .collect();
    // The sync's output goes to a file (a pipe nobody reads during the loop below could fill and stop it), and is
    // shown if it fails.
    let (sync_out, sync_err) = (dir.path().join("sync-in-flight.out"), dir.path().join("sync-in-flight.err"));
    let mut sync = annuaire_command(dir.path())
        .args(["sync", "--source", renamed.to_str().expect("path"), "--max-update-rate", "100"])
        .stdout(std::fs::File::create(&sync_out).expect("log"))
        .stderr(std::fs::File::create(&sync_err).expect("log"))
        .spawn()
        .expect("sync");
    let seen = rt().block_on(async {
        let c = reqwest::Client::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let r = call(
                &c,
                "POST",
                &format!("{}/v1/claims/batch", server.base),
                Some(IDP),
                Some(json!({"ids": ids}).to_string()),
            )
            .await;
            assert_eq!(r.status, 200);
            let g = r.generation.expect("generation header");
            assert_eq!(r.body["generation"], json!(g));
            for res in r.body["results"].as_array().expect("results") {
                let name = res["claims"]["given_name"].as_str().unwrap_or("");
                assert_eq!(name.ends_with("-G2"), g == 2, "generation {g} answered {name}");
            }
            seen.insert(g);
            if seen.contains(&2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen
    });
    let status = sync.wait().expect("sync");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    assert!(status.success(), "sync: {status}\nstdout:\n{}\nstderr:\n{}", read(&sync_out), read(&sync_err));
    assert!(seen.contains(&2), "the server never switched to generation 2: {seen:?}");
}

#[test]
fn fhir_resources_and_the_openapi_document() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/tests/golden/fhir_810100271385.json");
        let want: Value = serde_json::from_str(&std::fs::read_to_string(golden).expect("golden")).expect("json");
        // The golden file's `meta` is fixed; the server's is this store's generation and promotion.
        let strip = |mut v: Value| {
            if let Some(o) = v.as_object_mut() {
                o.remove("meta");
            }
            v
        };
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner/10100271385"), Some(IDP), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["versionId"], "1");
        assert_eq!(strip(r.body), strip(want["Practitioner"].clone()));
        let r = call(&c, "GET", &format!("{b}/fhir/PractitionerRole?practitioner=810100271385"), Some(IDP), None).await;
        assert_eq!(r.body["resourceType"], "Bundle");
        assert_eq!(r.body["total"], 2);
        let roles: Vec<Value> =
            r.body["entry"].as_array().expect("entries").iter().map(|e| strip(e["resource"].clone())).collect();
        let want_roles: Vec<Value> =
            want["PractitionerRole"].as_array().expect("roles").iter().map(|r| strip(r.clone())).collect();
        assert_eq!(roles, want_roles);
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner/810000000000"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["resourceType"].clone()), (404, json!("OperationOutcome")));

        // The OpenAPI document lists every route the server answers, and each one is served.
        let doc = call(&c, "GET", &format!("{b}/openapi.json"), None, None).await.body;
        assert_eq!(doc["openapi"], "3.1.0");
        let routes = [
            ("get", "/healthz"),
            ("get", "/metrics"),
            ("get", "/openapi.json"),
            ("get", "/v1/claims/{id}"),
            ("post", "/v1/claims/batch"),
            ("post", "/v1/eligibility"),
            ("get", "/v1/services"),
            ("get", "/v1/subjects/resolve"),
            ("get", "/v1/changes"),
            ("get", "/v1/search"),
            ("get", "/v1/stats"),
            ("get", "/fhir/Practitioner/{id}"),
            ("get", "/fhir/metadata"),
            ("get", "/fhir/{type}"),
            ("get", "/fhir/{type}/{id}"),
            ("get", "/fhir/{type}/{id}/_history"),
            ("get", "/fhir/{type}/{id}/_history/{vid}"),
            ("get", "/fhir/{type}/_history"),
            ("post", "/fhir/{type}/_search"),
            ("get", "/fhir/$export"),
            ("get", "/fhir/$export-status/{id}"),
            ("delete", "/fhir/$export-status/{id}"),
            ("get", "/fhir/$export-file/{id}/{file}"),
            ("get", "/v1/codes/{kind}"),
            ("get", "/v1/professionals/{id}"),
            ("get", "/v1/runs"),
            ("get", "/v1/generations"),
            ("post", "/v1/generations/{id}/approve"),
            ("get", "/v1/usage"),
            ("get", "/v1/quality/{id}"),
            ("get", "/v1/export"),
            ("get", "/v1/departments"),
        ];
        let paths = doc["paths"].as_object().expect("paths");
        let documented: usize = paths.values().map(|p| p.as_object().map_or(0, |o| o.len())).sum();
        assert_eq!(documented, routes.len());
        for (method, path) in routes {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
            let url = format!(
                "{b}{}",
                path.replace("{id}", "810100271385")
                    .replace("{kind}", "profession")
                    .replace("{type}", "Practitioner")
                    .replace("{file}", "Practitioner.ndjson")
                    .replace("{vid}", "1")
            );
            let r = call(&c, &method.to_uppercase(), &url, Some(OPS), Some("{}".into())).await;
            assert!(!r.text.contains("no such route"), "{method} {path} is not served");
        }
        assert_eq!(doc["paths"]["/v1/claims/{id}"]["get"]["x-scope"], "claims");
        // Nomenclatures are public: the page labels professions with them.
        let r = call(&c, "GET", &format!("{b}/v1/codes/profession"), None, None).await;
        assert_eq!(r.status, 200);
        let codes = r.body.as_array().expect("codes");
        assert!(
            codes
                .iter()
                .any(|e| e["code"] == "10" && e["label"] == "Médecin" && e["table"] == "TRE_G15-ProfessionSante")
        );
        assert!(codes.iter().any(|e| e["code"] == "60" && e["label"] == "Infirmier"));
        let r = call(&c, "GET", &format!("{b}/v1/codes/nope"), None, None).await;
        assert_eq!((r.status, r.body["code"].clone()), (404, json!("not_found")));
        // PSC's activity: 30 fields, every one required.
        let psc = &doc["components"]["schemas"]["UserInfo"]["properties"]["SubjectRefPro"]["properties"]["exercices"];
        let activity = &psc["items"]["properties"]["activities"]["items"];
        assert!(activity["required"].as_array().is_some_and(|a| a.len() == 30), "{activity}");
    });
}

#[test]
fn search_over_http_follows_the_served_generation() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        let r = call(&c, "GET", &format!("{b}/v1/search?text=etienne%20lefevre"), Some(ANALYST), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.generation, Some(1));
        assert_eq!(r.body["hits"][0]["idnat"], "810100271385");
        assert_eq!(r.body["hits"][0]["family_name"], "LEFÈVRE");
        let r =
            call(&c, "GET", &format!("{b}/v1/search?profession=10&authority=ordre&limit=1"), Some(ANALYST), None).await;
        let doctors = r.body["total"].as_u64().unwrap_or(0);
        assert!(doctors > 10);
        assert_eq!(r.body["facets"]["profession"]["10"], json!(doctors));
        assert_eq!(r.body["hits"].as_array().map(Vec::len), Some(1));
        let r = call(&c, "GET", &format!("{b}/v1/search?text=martin"), Some(IDP), None).await;
        assert_eq!(r.status, 403, "the claims scope does not give search");
        let r = call(&c, "GET", &format!("{b}/v1/search?limit=abc"), Some(ANALYST), None).await;
        assert_eq!(r.status, 400);
    });
    // The CLI gives the same total.
    let out = annuaire(dir.path(), &["search", "--profession", "10", "--authority", "ordre", "--format", "json"]);
    let cli = crate::common::json(&out);
    // A new generation renames a doctor: the search switches with the claims.
    sync_with_lefevre_renamed(dir.path());
    wait_for_generation(&server.base, 2);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let r = call(&c, "GET", &format!("{}/v1/search?text=durand%20etienne", server.base), Some(ANALYST), None).await;
        assert_eq!(r.generation, Some(2));
        assert_eq!(r.body["hits"][0]["idnat"], "810100271385");
        assert_eq!(r.body["total"], 1);
        // `lefevre` still finds LEFEUVRE (one typo), but only once: the old document was replaced.
        let r =
            call(&c, "GET", &format!("{}/v1/search?text=lefevre%20etienne", server.base), Some(ANALYST), None).await;
        assert_eq!(r.body["total"], 1, "{}", r.text);
        assert_eq!(r.body["hits"][0]["family_name"], "LEFEUVRE-DURAND");
        let r = call(
            &c,
            "GET",
            &format!("{}/v1/search?profession=10&authority=ordre&limit=1", server.base),
            Some(ANALYST),
            None,
        )
        .await;
        assert_eq!(r.body["total"], cli["total"]);
    });
    assert!(dir.path().join("index/gen-2").exists());
}

#[test]
fn stats_and_export_for_analysts() {
    let (dir, config) = synced();
    let cli =
        crate::common::json(&annuaire(dir.path(), &["stats", "--by", "profession,authority_kind", "--format", "json"]));
    // The first count wrote the generation's counting table; later counts read it.
    assert!(dir.path().join("stats/gen-1/table.parquet").exists());
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let r = call(&c, "GET", &format!("{}/v1/stats?by=profession,authority_kind", server.base), Some(ANALYST), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, cli);
        let doctors = r
            .body
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["profession"] == "10" && g["authority_kind"] == "ordre")
            .cloned();
        assert!(doctors.is_some_and(|d| d["persons"].as_u64().unwrap_or(0) > 10));
        let r = call(&c, "GET", &format!("{}/v1/stats?by=shoe_size", server.base), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (400, json!("bad_request")));
    });
    let out_file = dir.path().join("export.csv");
    let out = annuaire(
        dir.path(),
        &["export", "--format", "csv", "--out", out_file.to_str().expect("path"), "--profession", "10"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&out_file).expect("csv");
    assert!(text.lines().next().is_some_and(|h| h.starts_with("idnat,id_type,family_name")));
    assert!(text.lines().skip(1).all(|l| l.split(',').nth(4) == Some("10")), "only doctors");
}

/// Wait until the server answers claims of generation `g` from its snapshot (written in the background).
pub(crate) async fn wait_for_snapshot(c: &reqwest::Client, base: &str, g: i64) {
    for _ in 0..200 {
        let h = call(c, "GET", &format!("{base}/healthz"), None, None).await;
        if h.body["claims_snapshot"] == json!(g) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no claims snapshot of generation {g}");
}

#[test]
fn claims_from_the_snapshot_equal_the_rendering_from_the_store_and_follow_promotions() {
    let (dir, config) = synced();
    let server = start(dir.path(), &config);
    let pa = samples().join("PS_LibreAcces/PS_LibreAcces_Personne_activite_202611280900.txt");
    let mut ids: Vec<String> = std::fs::read_to_string(&pa)
        .expect("read")
        .lines()
        .skip(1)
        .filter_map(|l| l.split('|').nth(2).map(str::to_string))
        .collect();
    ids.dedup();
    let chosen: Vec<&String> = ids.iter().step_by(ids.len() / 12).collect();
    // What the CLI renders from the store, in both profiles.
    let from_store = |id: &str, profile: &str| -> Value {
        crate::common::json(&annuaire(dir.path(), &["claims", id, "--profile", profile]))
    };
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        wait_for_snapshot(&c, b, 1).await;
        assert!(dir.path().join("claims/gen-1/meta.json").exists());
        for id in &chosen {
            for profile in ["psc-2021", "psc-2023"] {
                let r = call(&c, "GET", &format!("{b}/v1/claims/{id}?profile={profile}"), Some(IDP), None).await;
                assert_eq!((r.status, r.generation), (200, Some(1)), "{id}: {}", r.text);
                assert_eq!(r.body, from_store(id, profile), "{id} {profile}");
            }
        }
        // Short ids, unknown ids and batches go through the snapshot too.
        let r = call(&c, "GET", &format!("{b}/v1/claims/10100271385"), Some(IDP), None).await;
        assert_eq!(r.body["SubjectNameID"], "810100271385");
        let r = call(&c, "GET", &format!("{b}/v1/claims/810000000000"), Some(IDP), None).await;
        assert_eq!((r.status, r.body["code"].clone()), (404, json!("not_found")));
        let body = json!({"ids": ["012800751", "810000000000"]}).to_string();
        let r = call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some(body)).await;
        assert_eq!(r.body["results"][0]["claims"], from_store("012800751", "psc-2023"));
        assert_eq!(r.body["results"][1]["error"]["code"], "not_found");
    });
    // A new generation renames a doctor: the claims switch to it, and so does the snapshot.
    sync_with_lefevre_renamed(dir.path());
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        wait_for_snapshot(&c, b, 2).await;
        let r = call(&c, "GET", &format!("{b}/v1/claims/810100271385"), Some(IDP), None).await;
        assert_eq!(r.generation, Some(2));
        assert_eq!(r.body, from_store("810100271385", "psc-2023"));
        assert_eq!(r.body["SubjectRefPro"]["exercices"][0]["nomDexercice"], "LEFEUVRE-DURAND", "{}", r.text);
    });
}
