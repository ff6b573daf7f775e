//! The data.gouv.fr source against a loopback server that plays data.gouv.fr's API and its static file host, built
//! from the API's documentation (udata `udata/core/dataset/api_fields.py`: a dataset's `resources`, each with `url`,
//! `title`, `last_modified`, `checksum` `{type, value}`, `filesize`): the newest files are ingested, the same day
//! again is `unchanged` (conditional GET), the next day's timestamp folder is followed, and a file that does not match
//! its published checksum is refused.

use annuaire_ingest::{Origin, RunOptions, run_once};
use annuaire_store::{RunStatus, Store};
use sha1::Digest;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SLUG: &str = "annuaire-sante-extractions-des-donnees-en-libre-acces";

/// What the fake serves: files by path, and the datasets' descriptions.
#[derive(Default)]
struct Site {
    files: HashMap<String, Vec<u8>>,
    datasets: HashMap<String, String>,
    /// Requests for files, by path, with whether they were conditional.
    requests: Vec<(String, bool)>,
}

fn sha1_hex(b: &[u8]) -> String {
    sha1::Sha1::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// Publish `files` (name → bytes) under the timestamp folder `ts` as dataset `id`'s resources; `lie` publishes a wrong
/// checksum for the main file.
fn publish(site: &mut Site, base: &str, id: &str, ts: &str, files: &[(&str, Vec<u8>)], lie: bool) {
    let mut resources = Vec::new();
    for (name, bytes) in files {
        let path = format!("/resources/{SLUG}/{ts}/{name}");
        let mut sum = sha1_hex(bytes);
        if lie && name.contains("personne-activite") {
            sum = sha1_hex(b"something else");
        }
        let day = &ts[..8];
        resources.push(serde_json::json!({
            "id": format!("{id}-{name}"), "title": name, "format": "txt", "url": format!("{base}{path}"),
            "last_modified": format!("{}-{}-{}T08:00:00+00:00", &day[..4], &day[4..6], &day[6..]),
            "checksum": {"type": "sha1", "value": sum}, "filesize": bytes.len(), "type": "main", "filetype": "file",
        }));
        site.files.insert(path, bytes.clone());
    }
    // A document that is not an extract, newer than everything: ignored.
    resources.push(serde_json::json!({"title": "Notice", "url": format!("{base}/resources/{SLUG}/notice.pdf"),
        "last_modified": "2030-01-01T00:00:00+00:00", "checksum": null}));
    site.datasets.insert(id.to_string(), serde_json::json!({"id": id, "resources": resources}).to_string());
}

async fn serve(site: Arc<Mutex<Site>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let site = site.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let path = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
                let if_none_match = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("if-none-match:").map(|v| v.trim().to_string()));
                let (status, body, etag) = {
                    let mut s = site.lock().expect("lock");
                    if let Some(id) = path.strip_prefix("/api/1/datasets/").map(|p| p.trim_end_matches('/')) {
                        match s.datasets.get(id) {
                            Some(d) => ("200 OK", d.clone().into_bytes(), None),
                            None => ("404 Not Found", b"{\"message\": \"Not found\"}".to_vec(), None),
                        }
                    } else if let Some(bytes) = s.files.get(&path).cloned() {
                        let etag = format!("\"{}\"", sha1_hex(&bytes));
                        s.requests.push((path.clone(), if_none_match.is_some()));
                        if if_none_match.as_deref() == Some(etag.as_str()) {
                            ("304 Not Modified", Vec::new(), Some(etag))
                        } else {
                            ("200 OK", bytes, Some(etag))
                        }
                    } else {
                        ("404 Not Found", Vec::new(), None)
                    }
                };
                let etag = etag.map(|e| format!("ETag: {e}\r\n")).unwrap_or_default();
                let head =
                    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n{etag}Connection: close\r\n\r\n", body.len());
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    base
}

fn sample(kind: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let name = std::fs::read_dir(&dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|n| n.contains(kind))
        .expect("sample file");
    std::fs::read(dir.join(name)).expect("read")
}

fn options(base: &str, dataset: &str) -> RunOptions {
    let mut opts = RunOptions::new(".");
    opts.source = Origin::parse(&format!("datagouv:{dataset}"));
    opts.datagouv_api = format!("{base}/api/1");
    opts.fetch.retries = 0;
    opts
}

#[tokio::test]
async fn the_newest_files_are_ingested_the_same_day_is_unchanged_and_the_next_folder_is_followed() {
    let site = Arc::new(Mutex::new(Site::default()));
    let base = serve(site.clone()).await;
    let day1 = [
        ("ps-libreacces-personne-activite.txt", sample("Personne_activite")),
        ("ps-libreacces-savoirfaire.txt", sample("SavoirFaire")),
        ("ps-libreacces-dipl-autexerc.txt", sample("Dipl_AutExerc")),
    ];
    publish(&mut site.lock().expect("lock"), &base, "ds", "20261128-080000", &day1, false);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("store");

    let first = run_once(&store, &options(&base, "ds")).await.expect("first");
    assert_eq!(first.status, RunStatus::Promoted, "{:?}", first.reason);
    let runs = store.runs().await.expect("runs");
    let run = runs.last().expect("run");
    assert_eq!(run.source, "datagouv:ds");
    let read = run.report.as_ref().map(|r| r["resources"].clone()).unwrap_or_default();
    let urls: Vec<&str> =
        read.as_array().map(|a| a.iter().filter_map(|r| r["url"].as_str()).collect()).unwrap_or_default();
    assert_eq!(urls.len(), 3, "{read}");
    assert!(urls.iter().all(|u| u.contains("/20261128-080000/")), "{urls:?}");
    assert!(read[0]["checksum"].as_str().is_some_and(|c| c.starts_with("sha1:")));

    // The same day again: every file answers 304, nothing is read.
    let again = run_once(&store, &options(&base, "ds")).await.expect("again");
    assert_eq!(again.status, RunStatus::Unchanged, "{:?}", again.reason);
    assert!(again.reason.as_deref().is_some_and(|r| r.contains("304")), "{:?}", again.reason);
    assert!(site.lock().expect("lock").requests.iter().rev().take(3).all(|(_, conditional)| *conditional));

    // The next day, a new timestamp folder with one person renamed: followed, and promoted.
    let mut day2 = day1.clone();
    day2[0].1 = String::from_utf8(day2[0].1.clone()).expect("utf-8").replace("|LEFÈVRE|", "|LEFEUVRE|").into_bytes();
    publish(&mut site.lock().expect("lock"), &base, "ds", "20261129-080000", &day2, false);
    let next = run_once(&store, &options(&base, "ds")).await.expect("next day");
    assert_eq!(next.status, RunStatus::Promoted, "{:?}", next.reason);
    assert_eq!(next.diff.total().updated, 1);
    let runs = store.runs().await.expect("runs");
    let read = runs.last().and_then(|r| r.report.clone()).map(|r| r["resources"].clone()).unwrap_or_default();
    assert!(read[0]["url"].as_str().is_some_and(|u| u.contains("/20261129-080000/")), "{read}");
}

#[tokio::test]
async fn a_file_that_is_not_the_published_one_is_refused() {
    let site = Arc::new(Mutex::new(Site::default()));
    let base = serve(site.clone()).await;
    let files = [("ps-libreacces-personne-activite.txt", sample("Personne_activite"))];
    publish(&mut site.lock().expect("lock"), &base, "liar", "20261128-080000", &files, true);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("store");
    let err = run_once(&store, &options(&base, "liar")).await.expect_err("refused");
    assert!(err.to_string().contains("data.gouv.fr publishes"), "{err}");
    assert_eq!(store.served().await.expect("served"), None);
    // An unknown dataset names the API's answer.
    let err = run_once(&store, &options(&base, "nope")).await.expect_err("unknown");
    assert!(err.to_string().contains("404"), "{err}");
}
