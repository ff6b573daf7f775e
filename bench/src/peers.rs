//! The peers measured in the same run (issue 17): DuckDB's bare load of the same Personne_activite file (its Python
//! package from PyPI, in a virtual environment under the work folder, made when missing), and `wrk` for claims over
//! HTTP (uniform over every person, from a Lua script; skipped with a note when `wrk` is not installed).

use crate::measure::{median, run_measured};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The DuckDB release measured (pinned, so that runs compare).
pub const DUCKDB_VERSION: &str = "2.0.1";

const LOAD: &str = r#"
import os, sys, duckdb
source, db = sys.argv[1], sys.argv[2]
if os.path.exists(db):
    os.remove(db)
con = duckdb.connect(db)
con.execute(f"CREATE TABLE pa AS SELECT * FROM read_csv('{source}', delim='|', quote='')")
print(con.execute("SELECT count(*) FROM pa").fetchone()[0], "rows")
con.close()
"#;

/// The Python of a virtual environment with DuckDB (made and installed when missing).
fn duckdb_python(work: &Path) -> anyhow::Result<PathBuf> {
    let venv = work.join("duckdb-venv");
    let python = venv.join("bin").join("python");
    let ready = Command::new(&python)
        .args(["-c", &format!("import duckdb; assert duckdb.__version__ == '{DUCKDB_VERSION}'")])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!("installing DuckDB {DUCKDB_VERSION} into {} ...", venv.display());
        let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status()?.success()
            && Command::new(venv.join("bin").join("pip"))
                .args(["install", "-q", &format!("duckdb=={DUCKDB_VERSION}")])
                .status()?
                .success();
        anyhow::ensure!(ok, "cannot install DuckDB {DUCKDB_VERSION} from PyPI");
    }
    Ok(python)
}

/// DuckDB's bare load of the unzipped Personne_activite file into a database on disk, `runs` times: (median, min,
/// max) seconds and the median peak RSS in MB.
pub fn duckdb_load(work: &Path, personne_activite: &Path, runs: usize) -> anyhow::Result<((f64, f64, f64), f64)> {
    let python = duckdb_python(work)?;
    let script = work.join("duckdb_load.py");
    std::fs::write(&script, LOAD)?;
    let db = work.join("duckdb-bench.db");
    let (mut wall, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let (u, out) = run_measured(Command::new(&python).arg(&script).arg(personne_activite).arg(&db))?;
        anyhow::ensure!(out.contains("rows"), "DuckDB printed no count: {out}");
        wall.push(u.wall.as_secs_f64());
        rss.push(u.peak_rss_mb);
    }
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(db.with_extension("db.wal"));
    Ok((median(wall), median(rss).0))
}

/// The `wrk` script: a uniform draw over every id per request. The ids are kept in one string of fixed-width slots:
/// held as a Lua table of 1.7 million strings, they made every garbage collection of `wrk`'s Lua heap mark them all,
/// and those pauses (up to 270 ms) were measured as the server's latency (p99 57-137 ms at 64 connections on
/// 2026-11-30, 3.8-4.4 ms with fixed-width slots, same server). Each slot begins with its id's length, and the
/// request is two constant strings around the id. `wrk.format` (a table, three formatted strings and a join a
/// request) and a pattern to trim the padding were work and garbage on every request, on the cores the server
/// shares with `wrk`, and they showed in the latency `wrk` measures (p99 4.5-8.3 ms against 3.2-3.8 ms at 64
/// connections, same server, same minutes, 2026-12-03; the request's bytes are the same: docs/benchmarks.md, "The
/// evening of 2026-12-03").
const WRK_SCRIPT: &str = r#"
local blob, width, count, head, tail
local token = os.getenv("BENCH_TOKEN")
init = function(args)
  local parts, longest = {}, 0
  for line in io.lines(os.getenv("BENCH_IDS")) do
    parts[#parts + 1] = line
    if #line > longest then longest = #line end
  end
  for i = 1, #parts do parts[i] = string.char(#parts[i]) .. parts[i] .. string.rep(" ", longest - #parts[i]) end
  width, count, blob = longest + 1, #parts, table.concat(parts)
  parts = nil
  collectgarbage()
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  head = "GET /v1/claims/"
  local host = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)
  tail = " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. token .. "\r\n\r\n"
end
request = function()
  local at = (math.random(count) - 1) * width + 1
  return head .. string.sub(blob, at + 1, at + string.byte(blob, at)) .. tail
end
"#;

/// What `wrk` measured.
pub struct Wrk {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx answers and socket errors.
    pub errors: u64,
}

fn millis(s: &str) -> Option<f64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// `wrk` with `connections` connections (two threads) for `seconds`, each request a person drawn uniformly from
/// `ids`; `None` when `wrk` is not installed.
pub fn wrk(
    work: &Path,
    base: &str,
    token: &str,
    ids: &[String],
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Option<Wrk>> {
    if !wrk_installed() {
        return Ok(None);
    }
    let ids_file = work.join("wrk-ids.txt");
    if !ids_file.exists() {
        std::fs::write(&ids_file, ids.join("\n") + "\n")?;
    }
    let script = work.join("wrk-claims.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let out = wrk_command(connections, seconds)
        .arg("-s")
        .arg(&script)
        .arg(base)
        .env("BENCH_TOKEN", token)
        .env("BENCH_IDS", &ids_file)
        .output()?;
    parse_wrk(out).map(Some)
}

/// The peer of the claims over HTTP: `wrk` with the same options on the same server's `/healthz` (no token, no
/// lookup, a 50-byte answer), the floor that `wrk` and the server sharing the machine's cores leave to a request;
/// `None` when `wrk` is not installed.
pub fn wrk_healthz(base: &str, connections: usize, seconds: u64) -> anyhow::Result<Option<Wrk>> {
    if !wrk_installed() {
        return Ok(None);
    }
    let out = wrk_command(connections, seconds).arg(format!("{base}/healthz")).output()?;
    parse_wrk(out).map(Some)
}

/// The table row of the claims' peer: [`wrk_healthz`] at 64 connections, three runs, median and spread; `None` when
/// `wrk` is not installed.
pub fn healthz_row(base: &str, seconds: u64) -> anyhow::Result<Option<String>> {
    let mut floor = Vec::new();
    for _ in 0..3 {
        match wrk_healthz(base, 64, seconds)? {
            Some(r) => floor.push(r),
            None => return Ok(None),
        }
    }
    Ok(Some(format!(
        "| peer: `/healthz` over HTTP, 64 connections, same server (`wrk`, 2 threads, median of 3) | {} | no token, no lookup, a 50-byte answer: the floor `wrk` and the server on the same cores leave a request |",
        summary(&floor)
    )))
}

/// The two middle cells of a row of `wrk` runs: req/s, then p50 and p99, medians and spreads, and each run's p99.
pub fn summary(runs: &[Wrk]) -> String {
    let (rps, rlo, rhi) = crate::measure::median(runs.iter().map(|r| r.rps).collect());
    let (p99, plo, phi) = crate::measure::median(runs.iter().map(|r| r.p99_ms).collect());
    let (p50, _, _) = crate::measure::median(runs.iter().map(|r| r.p50_ms).collect());
    // Each run's p99 in the order they ran, so that an outlier shows where it fell (the first run after a phase
    // that left the caches cold, or one in the middle).
    let each: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.p99_ms)).collect();
    format!(
        "{rps:.0} req/s ({rlo:.0} – {rhi:.0}) | p50 {p50:.2} ms, p99 {p99:.2} ms ({plo:.2} – {phi:.2}; runs in order: {})",
        each.join(", ")
    )
}

/// `wrk` with the options every run of it here shares (the claims and their peer are measured alike): two threads,
/// `connections` connections, `seconds` seconds, the latency distribution.
fn wrk_command(connections: usize, seconds: u64) -> Command {
    let mut command = Command::new("wrk");
    command.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    command
}

fn wrk_installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// What `wrk` printed.
fn parse_wrk(out: std::process::Output) -> anyhow::Result<Wrk> {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim())
    };
    let rps: f64 = field("Requests/sec:").and_then(|v| v.parse().ok()).context("wrk: no Requests/sec")?;
    let p50 = field("50%").and_then(millis).context("wrk: no 50%")?;
    let p99 = field("99%").and_then(millis).context("wrk: no 99%")?;
    let mut errors = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0u64);
    if let Some(socket) = field("Socket errors:") {
        errors += socket
            .split(',')
            .filter_map(|p| p.split_whitespace().last().and_then(|n| n.parse::<u64>().ok()))
            .sum::<u64>();
    }
    Ok(Wrk { rps, p50_ms: p50, p99_ms: p99, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_gives_medians_spreads_and_each_run_s_p99_in_order() {
        let run = |rps, p99_ms| Wrk { rps, p50_ms: 0.2, p99_ms, errors: 0 };
        let s = summary(&[run(90_000.0, 7.39), run(89_000.0, 2.80), run(91_000.0, 2.81)]);
        assert_eq!(
            s,
            "90000 req/s (89000 – 91000) | p50 0.20 ms, p99 2.81 ms (2.80 – 7.39; runs in order: 7.39, 2.80, 2.81)"
        );
    }
}
