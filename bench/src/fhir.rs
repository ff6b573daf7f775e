//! The FHIR directory at national size (issue 15): `GET /fhir/Practitioner?family=…` over HTTP on the running server
//! (a page of 50 with `total`, read from the index and the store), and a full export of Practitioner and
//! PractitionerRole as a whole CLI process (`annuaire export --format fhir-ndjson`: wall, peak RSS, files' size).

use crate::measure::{dir_size, human_size, median, percentile, run_measured};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// `family=` searches of 3 to 6 letters of family names drawn from the extract: (p50, p95) in ms, and how many.
pub async fn search(base: &str, token: &str, names: &[String]) -> anyhow::Result<(f64, f64, usize)> {
    let client = reqwest::Client::new();
    let mut lat = Vec::new();
    for (k, n) in names.iter().take(500).enumerate() {
        let folded = annuaire_search::fold(n);
        let word = folded.split_whitespace().next().unwrap_or("a");
        let prefix: String = word.chars().take(3 + k % 4).collect();
        let t = Instant::now();
        let r = client.get(format!("{base}/fhir/Practitioner?family={prefix}")).bearer_auth(token).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        lat.push(t.elapsed().as_micros() as u32);
        anyhow::ensure!(status.is_success(), "family={prefix}: {status} {}", String::from_utf8_lossy(&body));
    }
    lat.sort_unstable();
    Ok((percentile(&lat, 0.5) / 1000.0, percentile(&lat, 0.95) / 1000.0, lat.len()))
}

/// The full export's table lines.
pub fn export(bin: &Path, data: &Path, work: &Path, runs: usize) -> anyhow::Result<Vec<String>> {
    let out = work.join("fhir-export");
    let (mut wall, mut rss, mut size) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let _ = std::fs::remove_dir_all(&out);
        let (u, _) = run_measured(
            Command::new(bin)
                .arg("--data-dir")
                .arg(data)
                .args(["export", "--format", "fhir-ndjson", "--type", "Practitioner,PractitionerRole", "--out"])
                .arg(&out),
        )?;
        wall.push(u.wall.as_secs_f64());
        rss.push(u.peak_rss_mb);
        size = dir_size(&out);
    }
    let _ = std::fs::remove_dir_all(&out);
    let (w, wlo, whi) = median(wall);
    let (r, _, _) = median(rss);
    Ok(vec![format!(
        "| FHIR: full export of Practitioner and PractitionerRole (ndjson) | {w:.1} s | {wlo:.1} – {whi:.1} s | peak RSS {r:.0} MB, files {}; targets 60 s and 1 GB |",
        human_size(size)
    )])
}
