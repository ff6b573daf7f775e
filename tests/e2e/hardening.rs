//! The server as an attacker or a broken client would try it, on loopback, bounded in count and time: every
//! parameter bounded with a JSON error, the identity provider's endpoints answering while analysts' ones are
//! saturated and slow connections are held open, the connection cap, rate limits, private files, retention, logs.
//! No timing assertion: every wait is for a condition, with a deadline.

use crate::api::{ANALYST, IDP, Server, call, rt, sha, start, write_config};
use crate::common::{annuaire, annuaire_command, samples, stderr};
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn synced() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", samples().join("PS_LibreAcces").to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

/// The test config, with `extra` appended (a `[server]` section, another client ...).
fn config_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = write_config(dir);
    let mut text = std::fs::read_to_string(&path).expect("config");
    text.push_str(extra);
    std::fs::write(&path, text).expect("config");
    path
}

#[test]
fn every_parameter_is_bounded_and_every_error_is_json_with_a_stable_code() {
    let dir = synced();
    let config = write_config(dir.path());
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        let long_word = "a".repeat(65);
        let eleven = ["ab"; 11].join("%20");
        for (path, code, status) in [
            // Once a process abort ("memory allocation of 160000000000320 bytes failed") and a 500.
            ("/v1/search?offset=10000000000000", "bad_request", 400),
            ("/v1/search?offset=4.6e18", "bad_request", 400),
            ("/v1/search?offset=10001", "bad_request", 400),
            ("/v1/search?offset=-1", "bad_request", 400),
            ("/v1/search?limit=1001", "bad_request", 400),
            ("/v1/search?limit=0", "bad_request", 400),
            ("/v1/search?limit=abc", "bad_request", 400),
            (format!("/v1/search?text={long_word}").as_str(), "bad_request", 400),
            (format!("/v1/search?text={eleven}").as_str(), "bad_request", 400),
            ("/v1/search?valid_card=maybe", "bad_request", 400),
            // Once a 500.
            ("/v1/stats?by=profession,profession", "bad_request", 400),
            ("/v1/stats?by=nope", "bad_request", 400),
            // Once a plain-text 400.
            ("/v1/claims/%FF", "bad_request", 400),
            (format!("/v1/claims/{}", "8".repeat(65)).as_str(), "bad_request", 400),
            ("/v1/claims/81010%0A0271385", "bad_request", 400),
            ("/v1/subjects/resolve?hint=%00", "bad_request", 400),
            ("/v1/nothing", "not_found", 404),
        ] {
            let token = if path.starts_with("/v1/search") || path.starts_with("/v1/stats") { ANALYST } else { IDP };
            let r = call(&c, "GET", &format!("{b}{path}"), Some(token), None).await;
            assert_eq!((r.status, r.body["code"].as_str()), (status, Some(code)), "{path}: {}", r.text);
            assert!(!r.body["message"].as_str().unwrap_or("").is_empty(), "{path}: a message for a person");
        }
        // A 60,000-character word no longer costs 600 MB: the query string is refused whole.
        let r = call(&c, "GET", &format!("{b}/v1/search?text={}", "a".repeat(60_000)), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["code"].as_str()), (414, Some("bad_request")), "{}", r.text);
        // The bounds themselves are accepted.
        let ten = vec!["a".repeat(64); 10].join("%20");
        let r =
            call(&c, "GET", &format!("{b}/v1/search?text={ten}&offset=10000&limit=1000"), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["total"].as_u64()), (200, Some(0)), "{}", r.text);
        // A wrong method is JSON too.
        let r = call(&c, "POST", &format!("{b}/v1/search"), Some(ANALYST), Some("{}".into())).await;
        assert_eq!((r.status, r.body["code"].as_str()), (405, Some("method_not_allowed")), "{}", r.text);
        // The batch and eligibility bodies bound their ids.
        let body = json!({"ids": ["8".repeat(100)]}).to_string();
        let r = call(&c, "POST", &format!("{b}/v1/claims/batch"), Some(IDP), Some(body)).await;
        assert_eq!((r.status, r.body["code"].as_str()), (400, Some("bad_request")), "{}", r.text);
        // Headers every answer carries; the page may not be framed.
        let r = c.get(format!("{b}/v1/claims/810100271385")).bearer_auth(IDP).send().await.expect("claims");
        assert_eq!(r.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
        assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let r = c.get(format!("{b}/")).send().await.expect("page");
        let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(r.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
        // The changelog is paged by the database, with bounds.
        let r = call(&c, "GET", &format!("{b}/v1/changes?since=0&limit=0"), Some("ops-secret-token"), None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        let r =
            call(&c, "GET", &format!("{b}/v1/changes?since=0&limit=10&offset=5"), Some("ops-secret-token"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let total = r.body["total"].as_i64().expect("total");
        assert!(total > 15, "{}", r.text);
        assert_eq!(r.body["changes"].as_array().map(Vec::len), Some(10));
        assert_eq!(r.body["next_offset"], json!(15));
        let r =
            call(&c, "GET", &format!("{b}/v1/changes?since=0&offset={total}"), Some("ops-secret-token"), None).await;
        assert_eq!((r.body["changes"].as_array().map(Vec::len), r.body["next_offset"].clone()), (Some(0), json!(null)));
        // Still alive and serving.
        let r = call(&c, "GET", &format!("{b}/healthz"), None, None).await;
        assert_eq!(r.status, 200);
    });
}

/// Open `n` connections that send the start of a request head and never finish it.
fn slow_connections(addr: &str, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET /v1/search?text=martin HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("write");
            s
        })
        .collect()
}

/// Wait until the server has closed `s` (a read gives end of file or an error), 60 s at most.
fn until_closed(s: &mut std::net::TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return got,
        }
        assert!(Instant::now() < deadline, "the server never closed a slow connection");
    }
}

#[test]
fn claims_keep_answering_while_search_is_saturated_and_slow_connections_are_held_open() {
    let dir = synced();
    let config = config_with(dir.path(), "\n[server]\nanalysts_concurrency = 1\nheader_read_timeout_secs = 3\n");
    let server = start(dir.path(), &config);
    let addr = server.base.trim_start_matches("http://").to_string();
    // 300 slow clients that never finish their headers (bounded: loopback only, 300 sockets).
    let mut slow = slow_connections(&addr, 300);
    let (claims_ok, search_ok, overloaded) = rt().block_on(async {
        let c = reqwest::Client::new();
        // 32 clients send the most expensive searches the API accepts, 10 each, while claims are asked.
        let expensive = format!("{}/v1/search?text={}&limit=1000", server.base, ["marti"; 10].join("%20"));
        let mut analysts = Vec::new();
        for _ in 0..32 {
            let (c, url) = (c.clone(), expensive.clone());
            analysts.push(tokio::spawn(async move {
                let (mut ok, mut busy) = (0, 0);
                for _ in 0..10 {
                    let r = call(&c, "GET", &url, Some(ANALYST), None).await;
                    match (r.status, r.body["code"].as_str()) {
                        (200, _) => ok += 1,
                        (503, Some("overloaded")) => busy += 1,
                        other => panic!("a search answered {other:?}: {}", r.text),
                    }
                }
                (ok, busy)
            }));
        }
        let mut claims_ok = 0;
        for i in 0..200 {
            let id = if i % 2 == 0 { "810100271385" } else { "012800751" };
            let r = call(&c, "GET", &format!("{}/v1/claims/{id}", server.base), Some(IDP), None).await;
            assert_eq!(r.status, 200, "claims must answer while analysts saturate their budget: {}", r.text);
            claims_ok += 1;
        }
        let (mut ok, mut busy) = (0, 0);
        for a in analysts {
            let (o, b) = a.await.expect("analyst");
            ok += o;
            busy += b;
        }
        (claims_ok, ok, busy)
    });
    assert_eq!(claims_ok, 200);
    assert_eq!(search_ok + overloaded, 320, "every search answered, 200 or 503 overloaded at once");
    assert!(search_ok > 0, "the analysts' budget lets some through");
    assert!(overloaded > 0, "32 clients against a budget of 1: some searches must be refused at once, not queued");
    // The slow connections are closed by the header-read timeout, with a 408 or without a word.
    for s in &mut slow {
        let got = until_closed(s);
        assert!(got.is_empty() || got.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&got));
    }
}

#[test]
fn connections_over_the_cap_get_a_json_503_and_the_server_recovers() {
    let dir = synced();
    let config = config_with(dir.path(), "\n[server]\nmax_connections = 40\nheader_read_timeout_secs = 3\n");
    let server = start(dir.path(), &config);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut held = slow_connections(&addr, 40);
    // Past the cap: an immediate JSON 503, then the connection is closed.
    let mut extra = std::net::TcpStream::connect(&addr).expect("connect");
    let reply = String::from_utf8_lossy(&until_closed(&mut extra)).into_owned();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.contains(r#""code":"overloaded""#) && reply.to_ascii_lowercase().contains("retry-after: 1"),
        "{reply}"
    );
    // Once the slow ones are timed out, the server answers again.
    for s in &mut held {
        until_closed(s);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    rt().block_on(async {
        let c = reqwest::Client::new();
        loop {
            if call(&c, "GET", &format!("{}/healthz", server.base), None, None).await.status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "the server never recovered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let dir = synced();
    let extra = format!(
        "\n[[clients]]\nname = \"greedy\"\ntoken_sha256 = \"{}\"\nscopes = [\"claims\"]\nmax_requests_per_second = 2\n",
        sha("greedy-token")
    );
    let config = config_with(dir.path(), &extra);
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let url = format!("{}/v1/claims/810100271385", server.base);
        let mut limited = None;
        for _ in 0..40 {
            let r = c.get(&url).bearer_auth("greedy-token").send().await.expect("claims");
            if r.status() == 429 {
                limited = Some(r);
                break;
            }
        }
        let r = limited.expect("40 calls in a row pass 2 a second");
        assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let body: serde_json::Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
        assert_eq!(body["code"], "rate_limited");
        for _ in 0..40 {
            assert_eq!(call(&c, "GET", &url, Some(IDP), None).await.status, 200, "a client without a rate");
        }
    });
}

#[test]
fn the_data_directory_and_the_store_are_private_and_usage_is_purged_past_its_retention() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = annuaire_command(&data)
        .env("ANNUAIRE_TODAY", "2025-01-02")
        .args(["sync", "--source", samples().join("PS_LibreAcces").to_str().expect("path")])
        .output()
        .expect("sync");
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory, whatever it was");
    if !crate::common::on_postgres() {
        for name in ["annuaire.db", "annuaire.db-wal"] {
            let p = data.join(name);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{name}");
            }
        }
    }
    for entry in walk(&data) {
        let m = mode(&entry);
        assert_eq!(m & 0o077, 0, "{} is readable by others ({m:o})", entry.display());
    }
    // Usage recorded on 2025-01-02 ...
    let config = write_config(dir.path());
    let mut command = annuaire_command(&data);
    command.env("ANNUAIRE_TODAY", "2025-01-02").arg("--config").arg(&config).args(["serve", "--no-sync"]);
    let mut server: Server = crate::api::spawn_server(command, dir.path());
    rt().block_on(async {
        let c = reqwest::Client::new();
        let r = call(&c, "GET", &format!("{}/v1/claims/810100271385", server.base), Some(IDP), None).await;
        assert_eq!(r.status, 200);
    });
    assert!(server.stop());
    let usage = crate::common::json(&annuaire(&data, &["usage", "--format", "json"]));
    assert_eq!(usage[0]["calls"], 1, "{usage}");
    // ... is kept 365 days, then purged when the server starts (and by every nightly run).
    let mut command = annuaire_command(&data);
    command.env("ANNUAIRE_TODAY", "2026-01-03").arg("--config").arg(&config).args(["serve", "--no-sync"]);
    let mut server = crate::api::spawn_server(command, dir.path());
    assert!(server.stop());
    let usage = crate::common::json(&annuaire(&data, &["usage", "--format", "json"]));
    assert_eq!(usage, json!([]), "purged after 365 days");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn logs_carry_no_colour_codes_off_a_terminal_and_can_be_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let source = samples().join("PS_LibreAcces");
    let out = annuaire_command(dir.path())
        .env("ANNUAIRE_LOG", "info")
        .args(["sync", "--source", source.to_str().expect("path")])
        .output()
        .expect("sync");
    let err = stderr(&out);
    assert!(err.contains("pass A"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe: {err:?}");
    let out = annuaire_command(dir.path())
        .env("ANNUAIRE_LOG", "info")
        .env("ANNUAIRE_LOG_FORMAT", "json")
        .args(["sync", "--force", "--source", source.to_str().expect("path")])
        .output()
        .expect("sync");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!lines.is_empty(), "{err}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
}

#[test]
fn a_plain_http_source_elsewhere_is_refused_before_any_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", "http://extract.invalid/PS_LibreAcces"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("https only"), "{}", stderr(&out));
}
