//! `bench --abuse`: the identity provider's claims under abuse, on the national-size store (issue 13).
//!
//! 1. claims p99 and errors at 16 connections, alone (the baseline, same run);
//! 2. the same while 64 clients send the most expensive searches the API accepts (10 words, one-typo words,
//!    1,000 hits at offset 9,000, one-letter prefixes);
//! 3. the same while 2,000 slow connections hold unfinished request heads open;
//! 4. serve's peak RSS over all of it;
//! 5. the time and peak RSS of a sync that refuses a 1 MB zip whose member inflates to 1 GiB.
//!
//! Loopback only, bounded in count and time; the load generators stop by themselves.

use crate::measure::{proc_sample, run_measured_any};
use crate::{Args, load};
use anyhow::{Context, bail};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CLAIMS_TOKEN: &str = "bench-token";
const SEARCH_TOKEN: &str = "bench-search-token";

fn sha(t: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(t.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The most expensive searches the API accepts, in turn.
const EXPENSIVE: [&str; 4] = [
    "text=m%20a%20r%20t%20i%20n%20e%20z%20o%20p&limit=1000&offset=9000",
    "text=marti%20marte%20marty%20martn%20matin%20morti%20mardi%20marta%20marto%20martu&limit=1000",
    "text=a&limit=1000&offset=9000",
    "limit=1000&offset=9000",
];

/// 64 analysts' clients hammering search until `stop`; returns (answers 200, answers 503 overloaded, others).
async fn searchers(base: String, stop: Arc<AtomicBool>) -> (u64, u64, u64) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap_or_default();
    let (ok, busy, other) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for c in 0..64usize {
        let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
        let (ok, busy, other) = (ok.clone(), busy.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = c;
            while !stop.load(Ordering::Relaxed) {
                let q = EXPENSIVE[k % EXPENSIVE.len()];
                k += 1;
                match client.get(format!("{base}/v1/search?{q}")).bearer_auth(SEARCH_TOKEN).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) if r.status() == 503 => {
                        let _ = r.bytes().await;
                        busy.fetch_add(1, Ordering::Relaxed);
                        // As a well-behaved client would, after `Retry-After` (shortened: we want the pressure).
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    _ => {
                        other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), busy.load(Ordering::Relaxed), other.load(Ordering::Relaxed))
}

/// Open `n` connections that send the start of a request head and never finish it (reopened when the server closes
/// them, until `stop`); returns how many were open at the last count.
fn slow_clients(addr: String, n: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let open = |addr: &str| -> Option<std::net::TcpStream> {
            let mut s = std::net::TcpStream::connect(addr).ok()?;
            s.write_all(b"GET /v1/search?text=martin HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok()?;
            s.set_nonblocking(true).ok()?;
            Some(s)
        };
        let mut conns: Vec<Option<std::net::TcpStream>> = (0..n).map(|_| open(&addr)).collect();
        let mut alive = 0;
        while !stop.load(Ordering::Relaxed) {
            alive = 0;
            for c in &mut conns {
                let closed = match c {
                    Some(s) => {
                        let mut b = [0u8; 64];
                        match std::io::Read::read(s, &mut b) {
                            Ok(0) => true,
                            Ok(_) => true,
                            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                        }
                    }
                    None => true,
                };
                if closed {
                    *c = open(&addr);
                }
                if c.is_some() {
                    alive += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        alive
    })
}

/// The sync's refusal of a 1 MB zip that inflates to 1 GiB, on a fresh data directory.
fn refusal(a: &Args, bin: &Path, line: &mut dyn FnMut(String)) -> anyhow::Result<()> {
    let bomb = a.work.join("PS_LibreAcces_bomb.zip");
    if !bomb.exists() {
        let tmp = bomb.with_extension("zip.part");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&tmp)?);
        w.start_file("PS_LibreAcces_Personne_activite_202611300000.txt", zip::write::SimpleFileOptions::default())?;
        // The real 56-column header, then one line of 1 GiB: the header is read, the member is refused while it
        // streams.
        let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data-samples/PS_LibreAcces/PS_LibreAcces_Personne_activite_202611280900.txt");
        let text = std::fs::read_to_string(&sample)?;
        let header = text.lines().next().context("the sample has a header")?;
        w.write_all(header.as_bytes())?;
        w.write_all(b"\n")?;
        let block = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&block)?;
        }
        w.finish()?;
        std::fs::rename(&tmp, &bomb)?;
    }
    let data = a.work.join("data-bomb");
    let _ = std::fs::remove_dir_all(&data);
    let (u, out, ok) =
        run_measured_any(Command::new(bin).arg("--data-dir").arg(&data).arg("sync").arg("--source").arg(&bomb))?;
    if ok || !out.contains("inflates past") {
        bail!("the inflating zip was not refused as expected: {out}");
    }
    line(format!(
        "| sync refusing a {:.1} MB zip whose member inflates to 1 GiB | {:.2} s, peak RSS {:.0} MB | target ≤ 10 s, ≤ 1,000 MB | `{}` |",
        std::fs::metadata(&bomb)?.len() as f64 / 1e6,
        u.wall.as_secs_f64(),
        u.peak_rss_mb,
        out.find("archive member")
            .map_or("", |i| &out[i..])
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>()
    ));
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

/// Run the abuse measurements; returns the table's lines.
pub fn run(a: &Args, bin: &Path, national: &Path) -> anyhow::Result<Vec<String>> {
    let mut report = Vec::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push(s);
    };
    line(crate::run_header(a));
    line(String::new());
    line("| measure | figure | target | notes |".into());
    line("|---|---|---|---|".into());
    refusal(a, bin, &mut line)?;

    // The national store: reuse the benchmark's when it serves a generation, else load it once.
    let data = a.work.join("data");
    if !data.join("annuaire.db").exists() {
        eprintln!("loading the national extract once ...");
        let (_, _, ok) =
            run_measured_any(Command::new(bin).arg("--data-dir").arg(&data).arg("sync").arg("--source").arg(national))?;
        if !ok {
            bail!("the national load failed");
        }
    }
    let config = a.work.join("abuse.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n[[clients]]\nname = \"idp\"\ntoken_sha256 = \"{}\"\nscopes = [\"claims\"]\n\
             [[clients]]\nname = \"analysts\"\ntoken_sha256 = \"{}\"\nscopes = [\"search\"]\n",
            sha(CLAIMS_TOKEN),
            sha(SEARCH_TOKEN)
        ),
    )?;
    let port_file = a.work.join("abuse.port");
    let _ = std::fs::remove_file(&port_file);
    let mut server = Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--no-sync", "--listen", "127.0.0.1:0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = server.id();
    let result = (|| -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(&port_file) {
                break a.trim().to_string();
            }
            if Instant::now() > deadline {
                bail!("serve never wrote its port");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let base = format!("http://{addr}");
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        // Wait for the background preparation: claims snapshot, search index, counting table.
        let g = rt.block_on(async {
            let c = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(1200);
            loop {
                if let Ok(r) = c.get(format!("{base}/healthz")).send().await
                    && let Ok(text) = r.text().await
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                    && let Some(g) = v["claims_snapshot"].as_i64()
                    && Some(g) == v["generation"].as_i64()
                {
                    return Ok(g);
                }
                if Instant::now() > deadline {
                    bail!("no claims snapshot after 20 minutes");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })?;
        let table = data.join("stats").join("v3").join(format!("gen-{g}.parquet"));
        let deadline = Instant::now() + Duration::from_secs(600);
        while !table.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let ids = crate::ids_of(national)?;
        let seconds = a.seconds;
        let base_hwm = proc_sample(pid).map_or(0, |s| s.0);

        let r = rt.block_on(load(&base, CLAIMS_TOKEN, &ids, 16, seconds));
        line(format!(
            "| claims alone, 16 connections, uniform | p99 {:.2} ms, {} errors | – | {:.0} req/s, p50 {:.2} ms (baseline of this run) |",
            r.p99_ms, r.errors, r.rps, r.p50_ms
        ));

        // (a) 64 clients send the most expensive searches while claims are asked.
        let stop = Arc::new(AtomicBool::new(false));
        let searching = rt.spawn(searchers(base.clone(), stop.clone()));
        std::thread::sleep(Duration::from_secs(2));
        let r = rt.block_on(load(&base, CLAIMS_TOKEN, &ids, 16, seconds));
        stop.store(true, Ordering::Relaxed);
        let (ok, busy, other) = rt.block_on(searching)?;
        line(format!(
            "| (a) claims while 64 clients send the most expensive searches | p99 {:.2} ms, {} errors | p99 ≤ 10 ms, 0 errors | {:.0} req/s, p50 {:.2} ms; searches: {ok} answered, {busy} refused at once (503 `overloaded`), {other} other |",
            r.p99_ms, r.errors, r.rps, r.p50_ms
        ));

        // (b) 2,000 slow connections held open (reopened as the header timeout closes them).
        let stop = Arc::new(AtomicBool::new(false));
        let slow = slow_clients(addr.clone(), 2000, stop.clone());
        std::thread::sleep(Duration::from_secs(3));
        let r = rt.block_on(load(&base, CLAIMS_TOKEN, &ids, 16, seconds));
        stop.store(true, Ordering::Relaxed);
        let alive = slow.join().map_err(|_| anyhow::anyhow!("slow clients panicked"))?;
        line(format!(
            "| (b) claims while 2,000 slow connections are open | p99 {:.2} ms, {} errors | p99 ≤ 10 ms, 0 errors | {:.0} req/s, p50 {:.2} ms; {alive} slow connections open at the end |",
            r.p99_ms, r.errors, r.rps, r.p50_ms
        ));
        let hwm = proc_sample(pid).map_or(0, |s| s.0);
        line(format!(
            "| serve's peak RSS over (a) and (b) | {:.0} MB | ≤ 1,500 MB | {:.0} MB before the load (snapshot map, index, caches) |",
            hwm as f64 / 1024.0,
            base_hwm as f64 / 1024.0
        ));
        Ok(())
    })();
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = server.wait();
    result.context("abuse measurements")?;
    Ok(report)
}
