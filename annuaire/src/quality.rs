//! Reading a generation's quality report (written by its run, `annuaire_ingest::quality`), for `annuaire quality`
//! and `GET /v1/quality/{generation}` alike.

use crate::api::wire;
use annuaire_store::Store;

/// The quality report of `generation` (default: the newest run that wrote one), or `None`.
pub async fn report(store: &Store, generation: Option<i64>) -> anyhow::Result<Option<wire::QualityReport>> {
    let has_report = |r: &annuaire_store::RunRecord| {
        r.report.as_ref().is_some_and(|rep| rep.get("quality").is_some_and(|q| q.is_object()))
    };
    let run = match generation {
        Some(g) => store.run_of_generation(g).await?.filter(has_report),
        // The newest run that read an extract (unchanged nights write none); a few runs back at most.
        None => store.recent_runs(30).await?.into_iter().find(has_report),
    };
    let Some(run) = run else { return Ok(None) };
    let Some(g) = run.generation else { return Ok(None) };
    let quality = run.report.as_ref().and_then(|r| r.get("quality")).cloned().unwrap_or_default();
    let previous = store.promoted_before(g).await?;
    Ok(Some(wire::QualityReport {
        generation: g,
        run: run.run,
        status: run.status.as_str().to_string(),
        compared_with: previous,
        quality,
    }))
}

/// The report as text, for a person.
pub fn text(r: &wire::QualityReport) -> String {
    use std::fmt::Write;
    let q = &r.quality;
    let mut out = String::new();
    let compared = r.compared_with.map_or("nothing (first generation)".to_string(), |g| format!("generation {g}"));
    let _ = writeln!(out, "generation {} (run {}, {}), compared with {compared}", r.generation, r.run, r.status);
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let warnings = list(&q["warnings"]);
    if warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings: none");
    } else {
        let _ = writeln!(out, "\nwarnings:");
        for w in warnings {
            let _ = writeln!(out, "  - {}", w.as_str().unwrap_or(""));
        }
    }
    let _ = writeln!(out, "\ntext that looks mis-encoded:");
    match q["text"].as_object().filter(|t| !t.is_empty()) {
        None => {
            let _ = writeln!(out, "  none");
        }
        Some(t) => {
            for (kind, issues) in t {
                let _ = writeln!(out, "  {kind}: {} fields", issues["count"]);
                for p in list(&issues["first"]) {
                    let _ = writeln!(
                        out,
                        "    {} line {} column {}: {}",
                        p["file"].as_str().unwrap_or(""),
                        p["line"],
                        p["column"].as_str().unwrap_or(""),
                        p["text"]
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "\ncodes missing from the tables:");
    let codes = q["unknown_codes"].as_object().cloned().unwrap_or_default();
    if codes.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (kind, by_code) in codes {
        for (code, n) in by_code.as_object().cloned().unwrap_or_default() {
            let who = q["unknown_code_persons"][&kind][&code].as_str().unwrap_or("");
            let _ = writeln!(out, "  {kind} {code:?}: {n} (first: {who})");
        }
    }
    for (key, what) in [("shared_siret", "SIRETs"), ("shared_finess", "FINESS")] {
        let _ = writeln!(out, "\n{what} given by structures with different technical ids: {}", q[key]["count"]);
        for s in list(&q[key]["first"]) {
            let ids: Vec<String> =
                list(&s["technical_ids"]).iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
            let _ = writeln!(out, "  {}: {}", s["value"].as_str().unwrap_or(""), ids.join(", "));
        }
    }
    let first: Vec<String> =
        list(&q["persons_without_activity_first"]).iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    let _ = writeln!(out, "\npersons without any activity: {} ({})", q["persons_without_activity"], first.join(", "));
    let _ = writeln!(out, "\nrow errors by kind: {}", q["row_errors_by_kind"]);
    let _ = writeln!(out, "\nmoved most since the previous generation:");
    for m in list(&q["moved"]) {
        let pct = m["percent"].as_f64().map_or(String::new(), |p| format!(", {p:+.1} %"));
        let _ = writeln!(
            out,
            "  {:<28} {:>8} → {:<8} ({:+}{pct})",
            m["segment"].as_str().unwrap_or(""),
            m["before"],
            m["now"],
            m["change"].as_i64().unwrap_or(0)
        );
    }
    out
}
