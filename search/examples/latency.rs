//! Search latency on an index directory, for profiling (the benchmark command measures the same in its report):
//! `cargo run --release -p annuaire-search --example latency -- INDEX_DIR NAMES_FILE [PROFESSION]`
//! where NAMES_FILE holds one family name per line; each query is a 3- to 6-letter prefix of one.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(names)) = (args.first(), args.get(1)) else {
        return Err("usage: latency INDEX_DIR NAMES_FILE [PROFESSION]".into());
    };
    let index = annuaire_search::SearchIndex::open(std::path::Path::new(dir))?;
    // As a server does before it answers.
    let t = Instant::now();
    index.prepare()?;
    println!("prepared in {:.2} s", t.elapsed().as_secs_f64());
    let names: Vec<String> = std::fs::read_to_string(names)?.lines().map(str::to_string).collect();
    let mut lat = Vec::new();
    let mut by_len: std::collections::BTreeMap<usize, Vec<u64>> = Default::default();
    for round in 0..2 {
        lat.clear();
        by_len.clear();
        let mut totals: std::collections::BTreeMap<usize, u64> = Default::default();
        for (k, n) in names.iter().enumerate() {
            let prefix: String = annuaire_search::fold(n).chars().take(3 + k % 4).collect();
            let req = annuaire_search::SearchRequest {
                text: Some(prefix),
                profession: args.get(2).cloned(),
                limit: 20,
                ..Default::default()
            };
            let t = Instant::now();
            let r = index.search(&req)?;
            let us = t.elapsed().as_micros() as u64;
            *totals.entry(3 + k % 4).or_default() += r.total;
            lat.push(us);
            by_len.entry(3 + k % 4).or_default().push(us);
        }
        lat.sort_unstable();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
        println!(
            "round {round}: {} queries, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            p(0.5),
            p(0.95),
            p(0.99)
        );
        for (len, mut l) in std::mem::take(&mut by_len) {
            l.sort_unstable();
            let q = |q: f64| l[((l.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
            let mean = totals.get(&len).copied().unwrap_or(0) / l.len().max(1) as u64;
            println!("  {len} letters: p50 {:.2} ms, p95 {:.2} ms, {mean} matches on average", q(0.5), q(0.95));
        }
    }
    Ok(())
}
