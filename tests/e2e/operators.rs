//! The operator's night (issue 16): a held run fires the webhook (retried past a refusal, delivered once), the
//! Prometheus gauges show the held generation and the served one's age, and an approval over the API promotes it.

use crate::api::{OPS, call, rt, start, write_config};
use crate::common::{annuaire, sample_copy, samples, stderr, stdout};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// A webhook on loopback that answers 503 to its first request and 200 to the others; returns its URL and the
/// bodies it received.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            let first = {
                let mut b = bodies.lock().unwrap_or_else(|e| e.into_inner());
                b.push(String::from_utf8_lossy(&body).into_owned());
                b.len() == 1
            };
            let status = if first { "503 Service Unavailable" } else { "200 OK" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[test]
fn a_held_night_fires_the_webhook_once_shows_in_the_gauges_and_is_approved_over_the_api() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, seen) = receiver();
    let config = write_config(dir.path());
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!("\n[[alerts]]\nurl = \"{url}\"\nevents = [\"held\", \"failed\"]\n"));
    std::fs::write(&config, text).expect("config");
    let cfg = config.to_str().expect("path");

    // A promoted night: not an event this webhook asked for.
    let full = samples().join("PS_LibreAcces");
    let out = annuaire(dir.path(), &["--config", cfg, "sync", "--source", full.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(seen.lock().expect("lock").is_empty());

    // A held night: 30 % of the persons gone.
    let smaller = sample_copy(&dir.path().join("smaller"), |_, l| {
        let id = l.split('|').nth(1).unwrap_or("");
        id.bytes().map(u64::from).sum::<u64>() % 10 >= 3
    });
    let out = annuaire(dir.path(), &["--config", cfg, "sync", "--source", smaller.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let bodies = seen.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 2, "refused once, then delivered once, and no more: {bodies:?}");
    assert_eq!(bodies[0], bodies[1], "the retry sends the same alert");
    let alert: serde_json::Value = serde_json::from_str(&bodies[1]).expect("JSON");
    assert_eq!(alert["event"], "held");
    assert_eq!((alert["summary"]["status"].as_str(), alert["summary"]["generation"].as_i64()), (Some("held"), Some(2)));
    assert!(alert["run"]["reason"].as_str().is_some_and(|r| r.contains("deletions")), "{alert}");
    assert!(alert["summary"]["deleted"].as_i64().is_some_and(|d| d > 50), "{alert}");

    let mut server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let metrics = call(&c, "GET", &format!("{}/metrics", server.base), Some(OPS), None).await.text;
        assert!(metrics.contains("annuaire_last_run_status{status=\"held\"} 1"), "{metrics}");
        assert!(metrics.contains("annuaire_held_generation 2"), "{metrics}");
        assert!(metrics.contains("annuaire_served_generation_age_seconds "), "{metrics}");
        let r =
            call(&c, "POST", &format!("{}/v1/generations/2/approve", server.base), Some(OPS), Some("{}".into())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.generation, Some(2));
        let metrics = call(&c, "GET", &format!("{}/metrics", server.base), Some(OPS), None).await.text;
        assert!(metrics.contains("annuaire_held_generation 0"), "{metrics}");
    });
    assert!(server.stop(), "clean exit");
}

#[test]
fn the_quality_report_lists_planted_mojibake_shared_sirets_and_unknown_codes_with_their_places() {
    let dir = tempfile::tempdir().expect("tmp");
    let copy = sample_copy(&dir.path().join("planted"), |_, _| true);
    let pa = std::fs::read_dir(&copy)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains("Personne_activite"))
        .expect("the Personne_activite file");
    let text = std::fs::read_to_string(&pa).expect("read");
    let mut lines: Vec<Vec<String>> =
        text.lines().map(|l| l.split('|').map(str::to_string).collect::<Vec<String>>()).collect();
    // Lines with a structure: a technical id (column 24) and a SIRET (column 20).
    let with_structure: Vec<usize> =
        (1..lines.len()).filter(|&i| !lines[i][23].is_empty() && !lines[i][19].is_empty()).collect();
    let (a, b) = (
        with_structure[0],
        *with_structure.iter().find(|&&i| lines[i][23] != lines[with_structure[0]][23]).expect("two structures"),
    );
    let siret = lines[a][19].clone();
    lines[b][19] = siret.clone();
    // A profession label read as Latin-1, and a profession code no table knows, on two other lines.
    let m = (1..lines.len()).find(|&i| i != a && i != b && lines[i][10] == "Médecin").expect("a doctor's line");
    lines[m][10] = "MÃ©decin".into();
    let u = (1..lines.len()).find(|&i| ![a, b, m].contains(&i) && lines[i][9] == "60").expect("a nurse's line");
    lines[u][9] = "99".into();
    let unknown_person = lines[u][2].clone();
    std::fs::write(&pa, lines.iter().map(|l| format!("{}\n", l.join("|"))).collect::<String>()).expect("write");

    let out = annuaire(dir.path(), &["sync", "--source", copy.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = annuaire(dir.path(), &["quality", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let q = &r["quality"];
    let place = &q["text"]["mojibake"]["first"][0];
    assert_eq!(q["text"]["mojibake"]["count"], 1, "{q}");
    assert_eq!(place["line"].as_u64(), Some(m as u64 + 1), "{place}");
    assert!(place["file"].as_str().is_some_and(|f| f.contains("Personne_activite")), "{place}");
    assert!(place["column"].as_str().is_some_and(|c| c.contains("Libellé profession")), "{place}");
    assert_eq!(place["text"], "MÃ©decin");
    let shared = q["shared_siret"]["first"].as_array().cloned().unwrap_or_default();
    let entry = shared.iter().find(|s| s["value"] == siret.as_str()).unwrap_or_else(|| panic!("{siret} in {shared:?}"));
    let ids: Vec<&str> =
        entry["technical_ids"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    assert!(ids.contains(&lines[a][23].as_str()) && ids.contains(&lines[b][23].as_str()), "{entry}");
    assert_eq!(q["unknown_codes"]["profession"]["99"], 1, "{q}");
    assert_eq!(q["unknown_code_persons"]["profession"]["99"], unknown_person.as_str());
    // A first generation has nothing to compare with: what is mis-encoded is a warning all the same.
    assert!(
        q["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.contains("mojibake")))),
        "{q}"
    );
    // The text form names the place too.
    let text = stdout(&annuaire(dir.path(), &["quality"]));
    assert!(text.contains(&format!("line {} column", m + 1)) && text.contains("MÃ©decin"), "{text}");
}
