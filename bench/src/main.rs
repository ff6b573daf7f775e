//! `bench`: issue 8's benchmark on a national-size synthetic extract.
//!
//! ```text
//! cargo build --release -p annuaire -p annuaire-bench
//! target/release/bench [--persons 1700000] [--runs 3] [--seconds 10] [--work target/bench-work] [--write-doc docs/benchmarks.md]
//! ```
//!
//! It generates (and caches in the work folder) the extract and its next night's version (0.5 % of persons
//! changed), then measures, each `--runs` times where it matters (median and spread reported):
//! the floor (inflate only; read the unzipped main file once), the full ingest (`annuaire sync` as a child
//! process: wall, CPU, peak RSS), the re-sync, claims over HTTP on loopback with its own load generator (16
//! and 64 connections; a 10,000-professional working set and uniform over everyone; and `wrk` when installed), the
//! FHIR directory ([`fhir`]), and claims in process (lookup, parse, render); DuckDB's bare load of the same file is
//! measured in the same run ([`peers`]). With `--write-doc` it replaces the generated section of the benchmark
//! document.
//!
//! `bench --abuse [--write-doc docs/benchmarks.md]` measures claims under abuse instead ([`abuse`]).

mod abuse;
mod fhir;
mod measure;
mod peers;

use measure::{changed_persons, dir_size, human_size, median, percentile, run_measured};

use anyhow::{Context, bail};

/// The same allocator as the `annuaire` binary, so that in-process figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    persons: u64,
    runs: usize,
    seconds: u64,
    work: PathBuf,
    write_doc: Option<PathBuf>,
    /// Measure claims under abuse ([`abuse`]) instead of the speed table.
    abuse: bool,
    /// Train the dictionary of the stored records' encoding from a data dir's served records, and write it.
    record_dictionary: Option<(PathBuf, PathBuf)>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        persons: 1_700_000,
        runs: 3,
        seconds: 10,
        work: PathBuf::from("target/bench-work"),
        write_doc: None,
        abuse: false,
        record_dictionary: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--persons" => a.persons = it.next().context("--persons N")?.parse()?,
            "--runs" => a.runs = it.next().context("--runs N")?.parse()?,
            "--seconds" => a.seconds = it.next().context("--seconds N")?.parse()?,
            "--work" => a.work = PathBuf::from(it.next().context("--work DIR")?),
            "--write-doc" => a.write_doc = Some(PathBuf::from(it.next().context("--write-doc FILE")?)),
            "--abuse" => a.abuse = true,
            "--record-dictionary" => {
                let data = it.next().context("--record-dictionary DATA_DIR OUT")?;
                let out = it.next().context("--record-dictionary DATA_DIR OUT")?;
                a.record_dictionary = Some((PathBuf::from(data), PathBuf::from(out)));
            }
            "-h" | "--help" => {
                println!("bench [--abuse] [--persons N] [--runs N] [--seconds N] [--work DIR] [--write-doc FILE]");
                println!("bench --record-dictionary DATA_DIR OUT");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// The `annuaire` binary next to this one.
fn annuaire_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name(format!("annuaire{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p annuaire -p annuaire-bench`", bin.display());
    }
    Ok(bin)
}

/// Inflate every member of a zip to nowhere.
fn inflate(zip_path: &Path) -> anyhow::Result<u64> {
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(std::fs::File::open(zip_path)?))?;
    let mut total = 0;
    for i in 0..z.len() {
        total += std::io::copy(&mut z.by_index(i)?, &mut std::io::sink())?;
    }
    Ok(total)
}

struct HttpResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

async fn load(base: &str, token: &str, ids: &[String], connections: usize, seconds: u64) -> HttpResult {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, base, token, ids) = (client.clone(), base.to_string(), token.to_string(), ids.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut x = 0x9E37_79B9u64.wrapping_mul(c as u64 + 1);
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = &ids[(x % ids.len() as u64) as usize];
                let t = Instant::now();
                match client.get(format!("{base}/v1/claims/{id}")).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_micros() as u32);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let start = Instant::now();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    let secs = start.elapsed().as_secs_f64().max(seconds as f64);
    all.sort_unstable();
    HttpResult {
        rps: all.len() as f64 / secs,
        p50_ms: percentile(&all, 0.5) / 1000.0,
        p99_ms: percentile(&all, 0.99) / 1000.0,
        errors,
    }
}

/// The Personne_activite member of an extract zip, as text.
fn personne_activite(zip_path: &Path) -> anyhow::Result<String> {
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(std::fs::File::open(zip_path)?))?;
    let name = (0..z.len())
        .filter_map(|i| z.name_for_index(i).and_then(Result::ok).map(|n| n.into_owned()))
        .find(|n| n.contains("Personne_activite"))
        .context("no Personne_activite member")?;
    let mut text = String::new();
    z.by_name(&name)?.read_to_string(&mut text)?;
    Ok(text)
}

fn ids_of(zip_path: &Path) -> anyhow::Result<Vec<String>> {
    let text = personne_activite(zip_path)?;
    let mut ids: Vec<String> = text.lines().skip(1).filter_map(|l| l.split('|').nth(2)).map(str::to_string).collect();
    ids.dedup();
    Ok(ids)
}

/// Train a zstd dictionary of [`annuaire_store::record::DICTIONARY`]'s size on the canonical forms of the records a
/// data dir serves, and write it to `out`. This is how `store/src/record_dictionary_2.zstd-dict` was made, from a data
/// dir synced from the bundled samples (README, "How records are stored"). A dictionary is frozen once records are
/// written with it: a new one needs a new encoding.
fn record_dictionary(data: &Path, out: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let samples = rt.block_on(async {
        let store = annuaire_store::Store::open(data).await?;
        let served = store.served().await?.context("the data dir serves no generation")?;
        anyhow::Ok(store.persons_at(served.generation).await?)
    })?;
    let samples: Vec<&[u8]> = samples.iter().map(|(_, record)| record.as_bytes()).collect();
    let dictionary = zstd::dict::from_samples(&samples, annuaire_store::record::DICTIONARY.len())?;
    std::fs::write(out, &dictionary)?;
    println!("{} bytes trained on {} records: {}", dictionary.len(), samples.len(), out.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    if let Some((data, out)) = &a.record_dictionary {
        return record_dictionary(data, out);
    }
    let bin = annuaire_bin()?;
    std::fs::create_dir_all(&a.work)?;
    let national = a.work.join(format!("PS_LibreAcces_{}.zip", a.persons));
    let changed = a.work.join(format!("PS_LibreAcces_{}_changed.zip", a.persons));
    for (path, permille) in [(&national, 0), (&changed, 5)] {
        if !path.exists() {
            eprintln!("generating {} ...", path.display());
            let tmp = path.with_extension("zip.part");
            annuaire_data_samples::write_national_zip(&tmp, a.persons, 42, permille)?;
            std::fs::rename(&tmp, path)?;
        }
    }
    if a.abuse {
        let report = abuse::run(&a, &bin, &national)?;
        if let Some(doc) = &a.write_doc {
            write_section(doc, "abuse", "Claims under abuse (`bench --abuse`)", &report)?;
        }
        return Ok(());
    }
    let mut report = Vec::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push(s);
    };
    line(run_header(&a));
    line(String::new());
    line("| measure | median | min – max | notes |".into());
    line("|---|---|---|---|".into());

    // 6. The floor.
    let mut inflate_s = Vec::new();
    for _ in 0..a.runs {
        let t = Instant::now();
        let bytes = inflate(&national)?;
        inflate_s.push(t.elapsed().as_secs_f64());
        if bytes == 0 {
            bail!("empty extract");
        }
    }
    let (floor, lo, hi) = median(inflate_s);
    line(format!("| floor: inflate the zip | {floor:.2} s | {lo:.2} – {hi:.2} s | every member to nowhere |"));
    // The peer the targets are read against, on the same file in the same run.
    let unzipped = a.work.join(format!("Personne_activite_{}.txt", a.persons));
    if !unzipped.exists() {
        std::fs::write(&unzipped, personne_activite(&national)?)?;
    }
    let ((duck, dlo, dhi), drss) = peers::duckdb_load(&a.work, &unzipped, a.runs)?;
    line(format!(
        "| peer: DuckDB {}'s bare load of the unzipped Personne_activite | {duck:.1} s | {dlo:.1} – {dhi:.1} s | `CREATE TABLE AS SELECT * FROM read_csv(…, delim='\\|', quote='')` into a database file; peak RSS {drss:.0} MB |",
        peers::DUCKDB_VERSION
    ));

    // 1. Full ingest, then 2. re-sync of 0.5 % changed (alternating between the two extracts).
    let (mut wall, mut cpu, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rwall, mut rrss, mut rwritten) = (Vec::new(), Vec::new(), Vec::new());
    let data = a.work.join("data");
    for _ in 0..a.runs {
        let _ = std::fs::remove_dir_all(&data);
        let (u, _) =
            run_measured(Command::new(&bin).arg("--data-dir").arg(&data).arg("sync").arg("--source").arg(&national))?;
        wall.push(u.wall.as_secs_f64());
        cpu.push(u.cpu.as_secs_f64());
        rss.push(u.peak_rss_mb);
    }
    for k in 0..a.runs {
        let src = if k % 2 == 0 { &changed } else { &national };
        let (u, out) =
            run_measured(Command::new(&bin).arg("--data-dir").arg(&data).arg("sync").arg("--source").arg(src))?;
        if !out.contains("promoted") {
            bail!("the re-sync was not promoted: {out}");
        }
        rwall.push(u.wall.as_secs_f64());
        rrss.push(u.peak_rss_mb);
        rwritten.push((u.written, u.cancelled, changed_persons(&out)));
    }
    let (w, wlo, whi) = median(wall);
    let (c, _, _) = median(cpu);
    let (r, rlo, rhi) = median(rss);
    line(format!(
        "| full ingest: zip to promoted generation | {w:.1} s | {wlo:.1} – {whi:.1} s | {:.1} × the inflate floor; CPU {c:.1} s |",
        w / floor
    ));
    line(format!("| full ingest: peak RSS | {r:.0} MB | {rlo:.0} – {rhi:.0} MB | target 1,000 MB |"));
    let (rw, rwlo, rwhi) = median(rwall);
    let (rr, _, _) = median(rrss);
    line(format!(
        "| re-sync, 0.5 % of persons changed | {rw:.1} s | {rwlo:.1} – {rwhi:.1} s | {:.2} × the full ingest; peak RSS {rr:.0} MB |",
        rw / w
    ));
    line(format!("| full ingest ÷ DuckDB's bare load | {:.2} × | | target ≤ 2.5 × |", w / duck));
    line(format!("| re-sync ÷ DuckDB's bare load | {:.2} × | | target ≤ 1.0 × |", rw / duck));
    if let Some(&(bytes, cancelled, changes)) = rwritten.first() {
        let kept: Vec<String> =
            rwritten.iter().map(|(b, c, _)| format!("{:.0} MB", b.saturating_sub(*c) as f64 / 1e6)).collect();
        line(format!(
            "| bytes written by a re-sync (store, index, views) | {} | | the first after a full load; the next: {}. {changes} persons changed: {:.0} KB per changed person; of the {:.0} MB dirtied, {:.0} MB were temporary partition files removed before they reached the disk (`cancelled_write_bytes`) |",
            kept[0],
            kept[1..].join(", "),
            bytes.saturating_sub(cancelled) as f64 / 1e3 / changes.max(1) as f64,
            bytes as f64 / 1e6,
            cancelled as f64 / 1e6
        ));
    }

    // 3. Claims over HTTP.
    let ids = ids_of(&national)?;
    let token = "bench-token";
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    let config = a.work.join("bench.toml");
    std::fs::write(
        &config,
        format!("version = 1\n[[clients]]\nname = \"bench\"\ntoken_sha256 = \"{digest}\"\nscopes = [\"claims\"]\n"),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Command::new(&bin)
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--no-sync", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // `serve` writes the served generation's claims snapshot in the background after it starts; claims come
    // from the store until then. Measure how long that takes, then load the snapshot-backed server.
    let snap_start = Instant::now();
    let snapshot_generation = rt.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..12_000 {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await
                && let Ok(text) = r.text().await
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(g) = v["claims_snapshot"].as_i64()
                && Some(g) == v["generation"].as_i64()
            {
                return Ok(g);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server wrote no claims snapshot in 20 minutes")
    })?;
    let snap_wait = snap_start.elapsed();
    // Then the rest of the background preparation (search index, counting table: 20-30 s of both cores), so that
    // the load below measures the server alone, as it runs all day.
    let table = data.join("stats").join("v3").join(format!("gen-{snapshot_generation}.parquet"));
    for _ in 0..1200 {
        if table.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    line(format!(
        "| claims snapshot written by `serve` after it starts (claims come from the store meanwhile) | {:.1} s | | generation {snapshot_generation}, {} on disk |",
        snap_wait.as_secs_f64(),
        human_size(dir_size(&data.join("claims").join(format!("gen-{snapshot_generation}"))))
    ));
    // The FHIR index is the last view `serve` makes after it starts (from every record on a first load); wait for it,
    // so that the claims below are measured on a server at rest, as it runs all day.
    let fhir_marker = data.join("fhir-index").join(format!("gen-{snapshot_generation}")).join("VIEW");
    for _ in 0..6000 {
        if fhir_marker.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    line(format!(
        "| FHIR index written by `serve` after it starts (searches wait for it meanwhile) | {:.1} s | | generation {snapshot_generation}, {} on disk |",
        snap_start.elapsed().as_secs_f64(),
        human_size(dir_size(&data.join("fhir-index").join(format!("gen-{snapshot_generation}"))))
    ));
    let family_names: Vec<String> = {
        let text = personne_activite(&national)?;
        text.lines().skip(1).step_by(997).filter_map(|l| l.split('|').nth(7)).map(str::to_string).take(2000).collect()
    };
    let working_set: Vec<String> = ids.iter().step_by((ids.len() / 10_000).max(1)).cloned().collect();
    for (label, set) in [("10,000-professional working set", &working_set), ("uniform over everyone", &ids)] {
        for c in [16, 64] {
            let r = rt.block_on(load(&base, token, set, c, a.seconds));
            line(format!(
                "| claims over HTTP, {c} connections, {label} | {:.0} req/s | p50 {:.2} ms, p99 {:.2} ms | {} errors; load generator in the same process, same cores |",
                r.rps, r.p50_ms, r.p99_ms, r.errors
            ));
        }
    }
    // The same with `wrk` (a C load generator), uniform over everyone: three runs each, median and spread.
    for c in [16, 64] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            match peers::wrk(&a.work, &base, token, &ids, c, a.seconds)? {
                Some(r) => runs.push(r),
                None => break,
            }
        }
        if runs.is_empty() {
            line(format!(
                "| claims over HTTP, {c} connections (`wrk`) | not measured | | `wrk` is not installed (`apt-get install wrk`) |"
            ));
            continue;
        }
        let errors: u64 = runs.iter().map(|r| r.errors).sum();
        line(format!(
            "| claims over HTTP, {c} connections, uniform over everyone (`wrk`, 2 threads, median of {}) | {} | {errors} errors; target ≥ 40,000 req/s, p99 ≤ 5 ms |",
            runs.len(),
            peers::summary(&runs)
        ));
    }
    // Their peer in the same minutes: `/healthz` on the same server with the same `wrk` options, three runs.
    peers::healthz_row(&base, a.seconds)?.into_iter().for_each(&mut line);
    // The FHIR directory's search over HTTP, on the same server (the claims token has a FHIR scope).
    let (p50, p95, n) = rt.block_on(fhir::search(&base, token, &family_names))?;
    line(format!(
        "| FHIR: `GET /fhir/Practitioner?family=…` over HTTP, a page of 50 with `total` | p50 {p50:.2} ms | p95 {p95:.2} ms | {n} prefixes of 3 to 6 letters, one connection; target p95 20 ms |"
    ));
    let _ = server.kill();
    let _ = server.wait();
    for l in fhir::export(&bin, &data, &a.work, 1)? {
        line(l);
    }

    // 4. Claims in process: the server's path (snapshot lookup, read, decompress), then the store's fallback
    // (lookup through sqlx, parse, render) and render alone.
    let snapshot = annuaire_claims::snapshot::ClaimsSnapshot::open(&annuaire_views::dir(
        &data,
        annuaire_claims::snapshot::NAME,
        snapshot_generation,
    ))?;
    let variant = snapshot.variant("psc-2023").context("snapshot without psc-2023")?;
    let mut snap_lat = Vec::new();
    for id in ids.iter().step_by((ids.len() / 200_000).max(1)) {
        let t = Instant::now();
        let body = snapshot.get(id, variant)?.context("missing person")?;
        snap_lat.push(t.elapsed().as_nanos() as u32);
        std::hint::black_box(body);
    }
    snap_lat.sort_unstable();
    line(format!(
        "| claims in process: snapshot lookup + read + decompress (the server's path) | p50 {:.1} µs | p99 {:.1} µs | {} random professionals, psc-2023 |",
        percentile(&snap_lat, 0.5) / 1000.0,
        percentile(&snap_lat, 0.99) / 1000.0,
        snap_lat.len()
    ));
    let (lookup, render) = rt.block_on(async {
        let store = annuaire_store::Store::open(&data).await?;
        let g = store.served().await?.context("nothing served")?.generation;
        let (mut lookup, mut render) = (Vec::new(), Vec::new());
        for id in ids.iter().step_by((ids.len() / 20_000).max(1)) {
            let t = Instant::now();
            let stored = store.person_at(id, g).await?.context("missing person")?;
            let p: annuaire_schemas::Person = serde_json::from_str(&stored.record)?;
            let t2 = Instant::now();
            let body = serde_json::to_vec(&annuaire_claims::user_info(&p, annuaire_claims::Profile::Psc2023))?;
            let end = Instant::now();
            lookup.push((end - t).as_micros() as u32);
            render.push((end - t2).as_micros() as u32);
            std::hint::black_box(body);
        }
        lookup.sort_unstable();
        render.sort_unstable();
        anyhow::Ok((lookup, render))
    })?;
    line(format!(
        "| claims in process, store fallback (before the snapshot is written): lookup + parse + render | p50 {:.0} µs | p99 {:.0} µs | {} random professionals, SQLite through sqlx |",
        percentile(&lookup, 0.5),
        percentile(&lookup, 0.99),
        lookup.len()
    ));
    line(format!(
        "| claims in process: render from a record in memory | p50 {:.0} µs | p99 {:.0} µs | |",
        percentile(&render, 0.5),
        percentile(&render, 0.99)
    ));

    // 5. Search: name prefixes (3 to 6 letters of family names drawn from the extract), bare and with a
    // profession filter, on the served generation's index.
    let index_root = data.join("index");
    let served_dir = std::fs::read_dir(&index_root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("gen-")))
        .max_by_key(|p| {
            p.file_name().map(|n| n.to_string_lossy().trim_start_matches("gen-").parse::<i64>().unwrap_or(0))
        })
        .context("no search index")?;
    let index = annuaire_search::SearchIndex::open(&served_dir)?;
    // As a server does before its first search: the facet table and the largest bare prefixes.
    let t = Instant::now();
    index.prepare()?;
    line(format!(
        "| search index prepared (facet table, {} bare prefixes of 2,000 matches or more precomputed) | {:.2} s | | as `serve` does after a promotion, before the first search |",
        index.precomputed_prefixes(),
        t.elapsed().as_secs_f64()
    ));
    let names: Vec<String> = {
        let text = personne_activite(&national)?;
        text.lines().skip(1).step_by(997).filter_map(|l| l.split('|').nth(7)).map(str::to_string).take(2000).collect()
    };
    for (label, profession) in [("name prefix", None), ("name prefix + profession 10", Some("10".to_string()))] {
        let mut lat = Vec::new();
        for (k, n) in names.iter().enumerate() {
            let folded = annuaire_search::fold(n);
            let len = 3 + k % 4;
            let prefix: String = folded.chars().take(len).collect();
            let req = annuaire_search::SearchRequest {
                text: Some(prefix),
                profession: profession.clone(),
                limit: 20,
                ..Default::default()
            };
            let t = Instant::now();
            let r = index.search(&req)?;
            lat.push(t.elapsed().as_micros() as u32);
            std::hint::black_box(r);
        }
        lat.sort_unstable();
        line(format!(
            "| search: {label} (with facet counts) | p50 {:.2} ms | p95 {:.2} ms | p99 {:.2} ms; {} queries of 3 to 6 letters, top 20 |",
            percentile(&lat, 0.5) / 1000.0,
            percentile(&lat, 0.95) / 1000.0,
            percentile(&lat, 0.99) / 1000.0,
            lat.len()
        ));
    }

    // Counts by profession x authority, as a whole CLI process: the first count of a generation writes its
    // counting table (DATA_DIR/stats/gen-N.parquet; `serve` writes it in the background after a promotion), the
    // next ones read it.
    let stats_cmd = || {
        let mut c = Command::new(&bin);
        c.arg("--data-dir").arg(&data).args(["stats", "--by", "profession,authority", "--format", "json"]);
        c
    };
    let _ = std::fs::remove_dir_all(data.join("stats"));
    let (first, _) = run_measured(&mut stats_cmd())?;
    line(format!(
        "| counts by profession x authority, first of a generation (writes its counting table) | {:.2} s | | `annuaire stats --by profession,authority` |",
        first.wall.as_secs_f64()
    ));
    let mut stats_s = Vec::new();
    for _ in 0..a.runs {
        let (u, _) = run_measured(&mut stats_cmd())?;
        stats_s.push(u.wall.as_secs_f64());
    }
    let (sm, slo, shi) = median(stats_s);
    line(format!(
        "| counts by profession x authority, whole CLI process | {:.0} ms | {:.0} – {:.0} ms | `annuaire stats --by profession,authority`, counting table written |",
        sm * 1000.0,
        slo * 1000.0,
        shi * 1000.0
    ));

    if let Some(doc) = a.write_doc {
        write_section(&doc, "bench", "Last run of the benchmark command", &report)?;
    }
    Ok(())
}

/// The first line of a table: date, machine, commit.
fn run_header(a: &Args) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "Run of {} on {} cores, {mem_gib:.0} GiB, commit `{commit}`: {} persons, {} runs per ingest figure.",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        cores,
        a.persons,
        a.runs
    )
}

/// Replace the generated section `name` of the benchmark document (or append it under `title`).
fn write_section(doc: &Path, name: &str, title: &str, report: &[String]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let (begin, end) = (format!("<!-- {name}:begin -->"), format!("<!-- {name}:end -->"));
    let body = format!("{begin}\n{}\n{end}", report.join("\n"));
    let new = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{body}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{text}\n## {title}\n\n{body}\n"),
    };
    std::fs::write(doc, new)?;
    eprintln!("wrote {}", doc.display());
    Ok(())
}
