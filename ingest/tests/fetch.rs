//! Downloads against a real HTTP server on loopback that misbehaves on purpose.

use annuaire_ingest::fetch::{FetchOptions, Fetched, Validators, fetch};
use annuaire_ingest::{RunOptions, run_once};
use annuaire_store::{RunStatus, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Requests seen: path and headers.
type Seen = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

/// A tiny HTTP/1.1 server: one behaviour per path, counting requests and recording their headers.
struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    seen: Seen,
}

/// Read a request's head: its path and headers (names in lower case). `None` when the client hangs up first.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, HashMap<String, String>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.lines();
    let path = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((path, headers))
}

async fn start(body: Arc<Vec<u8>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen: Seen = Arc::default();
    let (h, s) = (hits.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (body, hits, seen) = (body.clone(), h.clone(), s.clone());
            tokio::spawn(async move {
                let Some((path, headers)) = read_request(&mut sock).await else { return };
                let n = {
                    let mut hits = hits.lock().expect("lock");
                    let c = hits.entry(path.clone()).or_default();
                    *c += 1;
                    *c
                };
                seen.lock().expect("lock").push((path.clone(), headers.clone()));
                let full = |sock_body: &[u8], extra: &str| {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"v1\"\r\nLast-Modified: Sat, 28 Nov 2026 08:00:00 GMT\r\nContent-Disposition: attachment; filename=PS_LibreAcces_202611280900.zip\r\n{extra}Connection: close\r\n\r\n",
                        sock_body.len()
                    )
                };
                let range_start = headers
                    .get("range")
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
                let _ = match path.as_str() {
                    "/unavailable" => {
                        sock.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await
                    }
                    "/flaky" if n == 1 => {
                        sock.write_all(
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await
                    }
                    "/big" => {
                        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n")
                            .await
                    }
                    "/slow" if n == 1 => {
                        // Stall for two minutes, connection open: only the client's read timeout ends this.
                        let _ = sock.write_all(full(&body, "Accept-Ranges: bytes\r\n").as_bytes()).await;
                        let _ = sock.write_all(&body[..100]).await;
                        tokio::time::sleep(Duration::from_secs(120)).await;
                        Ok(())
                    }
                    "/endless" => {
                        // No Content-Length: the size is only known while streaming.
                        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").await;
                        let chunk = vec![b'x'; 4096];
                        for _ in 0..10_000 {
                            if sock.write_all(&chunk).await.is_err() {
                                break;
                            }
                        }
                        Ok(())
                    }
                    "/loop" => {
                        sock.write_all(
                            b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await
                    }
                    "/to-plain" => {
                        // A host that is not this machine, over plain http: refused before any connection.
                        sock.write_all(b"HTTP/1.1 302 Found\r\nLocation: http://extract.invalid/PS_LibreAcces\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await
                    }
                    "/truncated" if range_start.is_none() => {
                        // Promise the whole body, send half, hang up.
                        let _ = sock.write_all(full(&body, "Accept-Ranges: bytes\r\n").as_bytes()).await;
                        sock.write_all(&body[..body.len() / 2]).await
                    }
                    _ if headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") => {
                        sock.write_all(b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n").await
                    }
                    _ => match range_start {
                        Some(start) if start < body.len() => {
                            let head = format!(
                                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
                                body.len() - start,
                                body.len() - 1,
                                body.len()
                            );
                            let _ = sock.write_all(head.as_bytes()).await;
                            sock.write_all(&body[start..]).await
                        }
                        _ => {
                            let _ = sock.write_all(full(&body, "").as_bytes()).await;
                            sock.write_all(&body).await
                        }
                    },
                };
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { base, hits, seen }
}

fn sample_zip() -> Arc<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("x.zip");
    annuaire_data_samples::sample(300).write_zip(&path, "202611280900").expect("zip");
    Arc::new(std::fs::read(path).expect("read"))
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn quick() -> FetchOptions {
    FetchOptions {
        retries: 2,
        backoff: Duration::from_millis(20),
        read_timeout: Duration::from_millis(700),
        connect_timeout: Duration::from_secs(2),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn a_download_gets_its_name_etag_and_sha256_and_a_conditional_get_gives_304() {
    let body = sample_zip();
    let server = start(body.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("{}/PS_LibreAcces", server.base);
    let got = fetch(&url, dir.path(), &Validators::default(), &quick(), None).await.expect("fetch");
    let Fetched::File { path, file_name, sha256, bytes, etag, last_modified } = got else { panic!("expected a file") };
    assert_eq!(file_name, "PS_LibreAcces_202611280900.zip", "name from Content-Disposition");
    assert_eq!(path, dir.path().join(&file_name));
    assert_eq!(bytes as usize, body.len());
    assert_eq!(sha256, sha(&body));
    assert_eq!(std::fs::read(&path).expect("file"), *body);
    assert_eq!(etag.as_deref(), Some("\"v1\""));
    let validators = Validators { etag, last_modified };
    let again = fetch(&url, dir.path(), &validators, &quick(), None).await.expect("fetch");
    assert!(matches!(again, Fetched::NoNewExtract { status: 304 }));
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen[1].1.get("if-none-match").map(String::as_str), Some("\"v1\""));
    assert!(seen[1].1.contains_key("if-modified-since"));
}

#[tokio::test]
async fn a_503_means_no_new_extract() {
    let server = start(sample_zip()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let got = fetch(&format!("{}/unavailable", server.base), dir.path(), &Validators::default(), &quick(), None).await;
    assert!(matches!(got, Ok(Fetched::NoNewExtract { status: 503 })), "{got:?}");
}

#[tokio::test]
async fn a_truncated_transfer_is_resumed_with_range() {
    let body = sample_zip();
    let server = start(body.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let got = fetch(&format!("{}/truncated", server.base), dir.path(), &Validators::default(), &quick(), None)
        .await
        .expect("fetch");
    let Fetched::File { sha256, bytes, path, .. } = got else { panic!("expected a file") };
    assert_eq!(bytes as usize, body.len());
    assert_eq!(sha256, sha(&body), "the resumed file is byte-identical");
    assert_eq!(std::fs::read(path).expect("file"), *body);
    let seen = server.seen.lock().expect("lock");
    let range = seen.iter().filter(|(p, _)| p == "/truncated").nth(1).and_then(|(_, h)| h.get("range").cloned());
    assert_eq!(range, Some(format!("bytes={}-", body.len() / 2)));
}

#[tokio::test]
async fn a_stalled_body_times_out_and_is_retried_and_5xx_is_retried() {
    let body = sample_zip();
    let server = start(body.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let started = std::time::Instant::now();
    let got = fetch(&format!("{}/slow", server.base), dir.path(), &Validators::default(), &quick(), None).await;
    assert!(matches!(&got, Ok(Fetched::File { bytes, .. }) if *bytes as usize == body.len()), "{got:?}");
    // The server stalls for 120 s: the download finished because the 700 ms read timeout gave up on it and the
    // second request resumed, not because the server let go.
    assert_eq!(server.hits.lock().expect("lock").get("/slow"), Some(&2));
    assert!(started.elapsed() < Duration::from_secs(60), "the read timeout did not fire: {:?}", started.elapsed());
    let seen = server.seen.lock().expect("lock").clone();
    let resumed = seen.iter().filter(|(p, _)| p == "/slow").nth(1).and_then(|(_, h)| h.get("range").cloned());
    assert_eq!(resumed.as_deref(), Some("bytes=100-"), "the second request resumed after the 100 bytes received");
    let got = fetch(&format!("{}/flaky", server.base), dir.path(), &Validators::default(), &quick(), None).await;
    assert!(matches!(got, Ok(Fetched::File { .. })), "{got:?}");
    assert_eq!(server.hits.lock().expect("lock").get("/flaky"), Some(&2));
}

#[tokio::test]
async fn a_body_over_the_maximum_size_is_refused() {
    let server = start(sample_zip()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = FetchOptions { max_bytes: 1000, ..quick() };
    let err = fetch(&format!("{}/big", server.base), dir.path(), &Validators::default(), &opts, None)
        .await
        .expect_err("too big");
    assert!(err.to_string().contains("larger than the 1000 bytes allowed"), "{err}");
    // Without a Content-Length the cap holds while streaming: refused after about 1000 bytes, not 40 MB.
    let err = fetch(&format!("{}/endless", server.base), dir.path(), &Validators::default(), &opts, None)
        .await
        .expect_err("too big while streaming");
    assert!(err.to_string().contains("larger than the 1000 bytes allowed"), "{err}");
    assert_eq!(server.hits.lock().expect("lock").get("/endless"), Some(&1), "a size refusal is not retried");
    let part_sizes: Vec<u64> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .collect();
    assert!(
        part_sizes.iter().all(|n| *n <= 1000 + 65_536),
        "no more than a chunk past the cap was kept: {part_sizes:?}"
    );
}

#[tokio::test]
async fn redirects_are_bounded_and_never_lead_to_plain_http_elsewhere() {
    let server = start(sample_zip()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let err = fetch(&format!("{}/loop", server.base), dir.path(), &Validators::default(), &quick(), None)
        .await
        .expect_err("a redirect loop");
    assert!(err.to_string().contains("more than 5 redirects"), "{err}");
    assert_eq!(server.hits.lock().expect("lock").get("/loop"), Some(&6), "the first request and 5 redirects");
    let err = fetch(&format!("{}/to-plain", server.base), dir.path(), &Validators::default(), &quick(), None)
        .await
        .expect_err("plain http elsewhere");
    assert!(err.to_string().contains("plain http"), "{err}");
    // A plain http URL that is not this machine is refused before anything is sent.
    let err = fetch("http://extract.invalid/PS_LibreAcces", dir.path(), &Validators::default(), &quick(), None)
        .await
        .expect_err("plain http");
    assert!(err.to_string().contains("https only"), "{err}");
    let err = fetch("ftp://extract.invalid/x.zip", dir.path(), &Validators::default(), &quick(), None)
        .await
        .expect_err("ftp");
    assert!(err.to_string().contains("scheme"), "{err}");
    // The operator may allow it: then only the scheme rule is lifted (checked without any request).
    let url = reqwest::Url::parse("http://extract.invalid/PS_LibreAcces").expect("url");
    assert!(annuaire_ingest::fetch::url_problem(&url, true).is_none());
    assert!(annuaire_ingest::fetch::url_problem(&url, false).is_some());
}

#[tokio::test]
async fn syncing_the_same_unchanged_url_twice_ingests_once() {
    let server = start(sample_zip()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("data")).await.expect("store");
    let url = format!("{}/PS_LibreAcces", server.base);
    let mut opts = RunOptions::new(&url);
    opts.fetch = quick();
    let first = run_once(&store, &opts).await.expect("first");
    assert_eq!(first.status, RunStatus::Promoted);
    assert!(dir.path().join("data/downloads/PS_LibreAcces_202611280900.zip").exists());
    let second = run_once(&store, &opts).await.expect("second");
    assert_eq!(second.status, RunStatus::Unchanged);
    assert!(second.reason.as_deref().unwrap_or("").contains("HTTP 304"), "{:?}", second.reason);
    let runs = store.runs().await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.status).collect::<Vec<_>>(), vec![RunStatus::Promoted, RunStatus::Unchanged]);
    assert_eq!(runs[0].source, url);
    assert!(runs[0].sha256.is_some());
    // A 503 is "no new extract" too.
    let mut opts = RunOptions::new(format!("{}/unavailable", server.base));
    opts.fetch = quick();
    assert_eq!(run_once(&store, &opts).await.expect("503").status, RunStatus::Unchanged);
    let hits = AtomicUsize::new(server.hits.lock().expect("lock").values().sum());
    assert_eq!(hits.load(Ordering::Relaxed), 3);
}

/// A server of several files, each with its own name and ETag, that answers 304 to a matching If-None-Match.
type Files = Arc<Mutex<HashMap<String, (Vec<u8>, String, String)>>>;

async fn serve_files(files: Files) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let files = files.clone();
            tokio::spawn(async move {
                let Some((path, headers)) = read_request(&mut sock).await else { return };
                let inm = headers.get("if-none-match").cloned();
                let file = files.lock().expect("lock").get(&path).cloned();
                let _ = match file {
                    None => {
                        sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await
                    }
                    Some((_, _, etag)) if inm.as_deref() == Some(etag.as_str()) => {
                        sock.write_all(
                            format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                                .as_bytes(),
                        )
                        .await
                    }
                    Some((body, name, etag)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nContent-Disposition: attachment; filename={name}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        sock.write_all(&body).await
                    }
                };
                let _ = sock.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test]
async fn the_card_extract_is_downloaded_beside_the_main_one_and_its_change_alone_makes_a_generation() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples");
    let cards_file = samples.join("Porteurs_CPS_CPF/Porteurs_CPS_CPF_202611280800.txt");
    let cards = std::fs::read(&cards_file).expect("cards");
    let files: Files = Arc::default();
    files.lock().expect("lock").insert(
        "/PS_LibreAcces".into(),
        (sample_zip().to_vec(), "PS_LibreAcces_202611280900.zip".into(), "\"m1\"".into()),
    );
    files.lock().expect("lock").insert(
        "/Porteurs_CPS_CPF".into(),
        (cards.clone(), "Porteurs_CPS_CPF_202611280800.txt".into(), "\"c1\"".into()),
    );
    let base = serve_files(files.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("data")).await.expect("store");
    let mut opts = RunOptions::new(format!("{base}/PS_LibreAcces"));
    opts.with = vec![annuaire_ingest::run::Origin::parse(&format!("{base}/Porteurs_CPS_CPF"))];
    opts.fetch = quick();
    let card_count = |store: Store| async move {
        let g = store.served().await.expect("served").expect("a generation").generation;
        let p = store.person_at("810100271385", g).await.expect("read").expect("person");
        let p: annuaire_schemas::Person = serde_json::from_str(&p.record).expect("record");
        p.cards.len()
    };

    let first = run_once(&store, &opts).await.expect("first");
    assert_eq!(first.status, RunStatus::Promoted);
    assert_eq!(card_count(store.clone()).await, 2);
    // Nothing new on either URL: no read at all.
    let second = run_once(&store, &opts).await.expect("second");
    assert_eq!(second.status, RunStatus::Unchanged);
    assert!(second.reason.as_deref().unwrap_or("").contains("HTTP 304"), "{:?}", second.reason);
    // Only the card file changes (LEFÈVRE's old card is gone): the main file is read from its previous download.
    let text: Vec<u8> = cards
        .split(|b| *b == b'\n')
        .filter(|l| !l.windows(10).any(|w| w == b"2000271385"))
        .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    let text = text[..text.len() - 1].to_vec();
    files
        .lock()
        .expect("lock")
        .insert("/Porteurs_CPS_CPF".into(), (text, "Porteurs_CPS_CPF_202611290800.txt".into(), "\"c2\"".into()));
    let third = run_once(&store, &opts).await.expect("third");
    assert_eq!(third.status, RunStatus::Promoted, "{:?}", third.reason);
    let r = &store.runs().await.expect("runs")[2];
    assert_eq!((r.created, r.updated, r.deleted), (Some(0), Some(1), Some(0)));
    assert_eq!(card_count(store.clone()).await, 1);
    // The downloads folder keeps what the served generation was built from.
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("data/downloads"))
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    kept.sort();
    assert_eq!(kept, ["PS_LibreAcces_202611280900.zip", "Porteurs_CPS_CPF_202611290800.txt"]);
    let runs = store.runs().await.expect("runs");
    let files_read: Vec<String> = runs[2].report.as_ref().expect("report")["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    assert!(files_read.contains(&"Porteurs_CPS_CPF_202611290800.txt".to_string()), "{files_read:?}");
}
