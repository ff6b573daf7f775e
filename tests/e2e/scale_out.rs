//! Scale-out on PostgreSQL: several `annuaire serve` processes, each with its own data directory (its own
//! search indexes), on one database. Runs whenever a test server is given (`ANNUAIRE_TEST_POSTGRES_URL`),
//! whatever `ANNUAIRE_TEST_BACKEND` says; skipped without one.

use crate::api::{ANALYST, IDP, Server, call, rt, spawn_server, start, write_config};
use crate::common::{annuaire, annuaire_command, json, sample_copy, samples, stderr, use_database, use_sqlite};
use annuaire_store::testing::{fresh_database, postgres_admin_url};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A fresh database shared by `dirs`, or `None` without a test server.
fn shared_database(label: &str, dirs: &[&Path]) -> Option<String> {
    let admin = postgres_admin_url()?;
    let url = rt().block_on(fresh_database(&admin, label)).expect("create a database");
    for d in dirs {
        use_database(d, &url);
    }
    Some(url)
}

/// `serve` with its scheduler firing every two seconds on the sample extract, and the API.
fn start_scheduled(data: &Path, config: &Path) -> Server {
    let mut command = annuaire_command(data);
    command
        .arg("--config")
        .arg(config)
        .args(["serve", "--schedule", "*/2 * * * * *"])
        .args(["--source", samples().join("PS_LibreAcces").to_str().expect("path")]);
    spawn_server(command, data)
}

/// The generation and body of a claims answer, or `None` while nothing is served or the server starts.
async fn claims(c: &reqwest::Client, base: &str, id: &str) -> Option<(i64, Value)> {
    let resp = c.get(format!("{base}/v1/claims/{id}")).bearer_auth(IDP).send().await.ok()?;
    let g = resp.headers().get("x-annuaire-generation")?.to_str().ok()?.parse().ok()?;
    Some((g, serde_json::from_str(&resp.text().await.ok()?).ok()?))
}

/// Wait until every server answers claims from `generation` (at most 20 s); returns how long it took.
async fn until_all_serve(servers: &[&Server], generation: i64) -> Duration {
    let (c, t) = (reqwest::Client::new(), Instant::now());
    for s in servers {
        loop {
            if claims(&c, &s.base, "810100271385").await.is_some_and(|(g, _)| g == generation) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "{} never served generation {generation}", s.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    t.elapsed()
}

#[test]
fn two_servers_on_one_database_sync_once_and_switch_together() {
    let (a, b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let Some(_url) = shared_database("two_servers", &[a.path(), b.path()]) else { return };
    let config = write_config(a.path());

    // Both servers schedule the same sync every two seconds: exactly one runs it at a time.
    {
        let (sa, sb) = (start_scheduled(a.path(), &config), start_scheduled(b.path(), &config));
        rt().block_on(async {
            until_all_serve(&[&sa, &sb], 1).await;
        });
        // More ticks on both: wait until four more runs are recorded and finished after the promotion.
        let deadline = Instant::now() + Duration::from_secs(60);
        let runs = loop {
            let runs = json(&annuaire(a.path(), &["runs", "--format", "json"]));
            let runs = runs.as_array().cloned().expect("runs");
            if runs.len() >= 5 && runs.iter().all(|r| r["status"] != "running") {
                break runs;
            }
            assert!(Instant::now() < deadline, "the schedulers stopped running: {runs:?}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let promoted = runs.iter().filter(|r| r["status"] == "promoted").count();
        assert_eq!(promoted, 1, "one promotion for one extract: {runs:?}");
        assert!(runs.iter().all(|r| r["status"] == "promoted" || r["status"] == "unchanged"), "{runs:?}");
        // Runs never overlap: each starts after the previous one finished.
        for pair in runs.windows(2) {
            let (end, start) =
                (pair[0]["finished_at"].as_str().unwrap_or(""), pair[1]["started_at"].as_str().unwrap_or(""));
            assert!(!end.is_empty() && end <= start, "overlapping runs: {pair:?}");
        }
    }

    // A new generation promoted through one host reaches the other within seconds, search included.
    let (sa, sb) = (start(a.path(), &config), start(b.path(), &config));
    rt().block_on(async {
        until_all_serve(&[&sa, &sb], 1).await;
        let c = reqwest::Client::new();
        let r = call(&c, "GET", &format!("{}/v1/search?text=lefevre%20etienne", sb.base), Some(ANALYST), None).await;
        assert_eq!((r.status, r.generation, r.body["total"].clone()), (200, Some(1), json!(1)), "{}", r.text);
    });
    let renamed = sample_copy(&a.path().join("renamed"), |_, _| true);
    let pa = renamed.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text = std::fs::read_to_string(&pa).expect("read").replace("|LEFÈVRE|", "|LEFEUVRE-DURAND|");
    std::fs::write(&pa, text).expect("write");
    let out = annuaire(a.path(), &["sync", "--source", renamed.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    rt().block_on(async {
        let took = until_all_serve(&[&sa, &sb], 2).await;
        assert!(took < Duration::from_secs(10), "switching took {took:?}");
        let c = reqwest::Client::new();
        for s in [&sa, &sb] {
            let (g, body) = claims(&c, &s.base, "810100271385").await.expect("claims");
            assert_eq!(g, 2);
            assert_eq!(body["SubjectRefPro"]["exercices"][0]["nomDexercice"], "LEFEUVRE-DURAND", "{}", s.base);
            let r = call(&c, "GET", &format!("{}/v1/search?text=durand%20etienne", s.base), Some(ANALYST), None).await;
            assert_eq!((r.generation, r.body["total"].clone()), (Some(2), json!(1)), "{}: {}", s.base, r.text);
        }
    });
    // The second host built its own index of generation 2 (it never ran the sync).
    assert!(b.path().join("index/gen-2").exists());
    assert!(!b.path().join("annuaire.db").exists(), "the store is PostgreSQL, not a local file");
}

/// Every id of the sample, from the changelog of its first generation.
fn all_ids(data: &Path) -> Vec<String> {
    let changes = json(&annuaire(data, &["changes", "--since", "0", "--format", "json"]));
    changes.as_array().expect("changes").iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect()
}

#[test]
fn the_same_extract_gives_the_same_claims_on_sqlite_and_postgresql() {
    let (lite, pg) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let Some(_url) = shared_database("same_claims", &[pg.path()]) else { return };
    use_sqlite(lite.path());
    let sample = samples().join("PS_LibreAcces");
    for d in [lite.path(), pg.path()] {
        let out = annuaire(d, &["sync", "--source", sample.to_str().expect("path")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(lite.path().join("annuaire.db").exists() && !pg.path().join("annuaire.db").exists());
    let ids = all_ids(lite.path());
    assert_eq!(ids, all_ids(pg.path()));
    assert!(ids.len() > 300, "{} ids", ids.len());
    let config = write_config(lite.path());
    let (sl, sp) = (start(lite.path(), &config), start(pg.path(), &config));
    rt().block_on(async {
        until_all_serve(&[&sl, &sp], 1).await;
        let c = reqwest::Client::new();
        for profile in ["psc-2021", "psc-2023"] {
            let body = json!({"ids": ids, "profile": profile}).to_string();
            let from_lite =
                call(&c, "POST", &format!("{}/v1/claims/batch", sl.base), Some(IDP), Some(body.clone())).await;
            let from_pg = call(&c, "POST", &format!("{}/v1/claims/batch", sp.base), Some(IDP), Some(body)).await;
            assert_eq!(from_lite.status, 200, "{}", from_lite.text);
            let (l, p) =
                (from_lite.body["results"].as_array().expect("r"), from_pg.body["results"].as_array().expect("r"));
            assert_eq!(l.len(), ids.len());
            for (x, y) in l.iter().zip(p) {
                assert!(x["claims"].is_object(), "{x}");
                assert_eq!(x, y, "claims differ between SQLite and PostgreSQL");
            }
        }
        for service in ["si-dep", "liberal-doctors"] {
            for id in &ids {
                let ask = json!({"subject": id, "service": service}).to_string();
                let x = call(&c, "POST", &format!("{}/v1/eligibility", sl.base), Some(IDP), Some(ask.clone())).await;
                let y = call(&c, "POST", &format!("{}/v1/eligibility", sp.base), Some(IDP), Some(ask)).await;
                assert_eq!(x.body, y.body, "eligibility of {id} for {service}");
            }
        }
        let q = "/v1/search?text=mar&profession=60&limit=50";
        let x = call(&c, "GET", &format!("{}{q}", sl.base), Some(ANALYST), None).await;
        let y = call(&c, "GET", &format!("{}{q}", sp.base), Some(ANALYST), None).await;
        // Same total, facets and hits; hits with equal scores come in index order, which depends on how the
        // indexing threads split the documents into segments, so compare them as sets.
        assert_eq!((&x.body["total"], &x.body["facets"]), (&y.body["total"], &y.body["facets"]));
        let sorted = |v: &Value| {
            let mut hits = v["hits"].as_array().cloned().unwrap_or_default();
            hits.sort_by_key(|h| h["idnat"].as_str().unwrap_or("").to_string());
            hits
        };
        assert_eq!(sorted(&x.body), sorted(&y.body));
        assert!(!sorted(&x.body).is_empty());
    });
}
