//! Alerts: after each sync run, a JSON POST to every webhook of the configuration (`[[alerts]]`) that asked for the
//! run's event (`held`, `failed`, `promoted`), and `quality` when the run's quality report has warnings (its
//! `summary.quality_warnings`), retried with backoff. An alert never changes what the sync did: the
//! scheduler sends it from a task of its own, `annuaire sync` waits for it at most [`DEADLINE`] before exiting, and
//! a webhook that cannot be reached is logged, not raised.
//!
//! The body: `{"event", "host", "sent_at", "run": {…the run record as GET /v1/runs gives it…}, "summary": {status,
//! generation, served, persons, created, updated, deleted, rows_rejected, reason}}`.

use crate::config::AlertConfig;
use annuaire_store::{RunRecord, Store};
use std::time::Duration;

/// The longest `annuaire sync` waits for its alerts.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Attempts per webhook (the first and its retries), with backoff doubling from [`BACKOFF`].
pub const ATTEMPTS: u32 = 4;
/// The first retry's wait.
pub const BACKOFF: Duration = Duration::from_millis(500);

/// The event of a run, if it has one (`unchanged` and `running` do not).
pub fn event_of(run: &RunRecord) -> Option<&'static str> {
    match run.status {
        annuaire_store::RunStatus::Held => Some("held"),
        annuaire_store::RunStatus::Failed => Some("failed"),
        annuaire_store::RunStatus::Promoted => Some("promoted"),
        _ => None,
    }
}

/// The JSON body of an alert.
pub fn body(event: &str, run: &RunRecord, served: Option<i64>) -> serde_json::Value {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let summary = serde_json::json!({
        "status": run.status.as_str(), "generation": run.generation, "served": served, "persons": run.persons,
        "created": run.created, "updated": run.updated, "deleted": run.deleted, "rows_rejected": run.rows_rejected,
        "reason": run.reason,
    });
    let run = crate::api::wire::sorted(&crate::api::wire::Run::from(run.clone()));
    serde_json::json!({
        "event": event, "host": host, "sent_at": chrono::Utc::now().to_rfc3339(), "run": run, "summary": summary,
    })
}

/// Send the alerts of the last run recorded in `store` to the webhooks that want its event. Returns how many were
/// delivered (a 2xx answer).
pub async fn notify_last_run(store: &Store, alerts: &[AlertConfig], ca_file: Option<std::path::PathBuf>) -> usize {
    if alerts.is_empty() {
        return 0;
    }
    let (run, served) = match (store.recent_runs(1).await, store.served().await) {
        (Ok(runs), Ok(served)) => (runs.into_iter().next(), served.map(|s| s.generation)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot read the last run: no alert sent");
            return 0;
        }
    };
    let Some(run) = run else { return 0 };
    // The run's event, and `quality` when its report has warnings.
    let warnings = run.report.as_ref().and_then(|r| r["quality"]["warnings"].as_array().cloned()).unwrap_or_default();
    let mut events: Vec<(&str, serde_json::Value)> = Vec::new();
    if let Some(event) = event_of(&run) {
        events.push((event, body(event, &run, served)));
    }
    if !warnings.is_empty() {
        let mut b = body("quality", &run, served);
        b["summary"]["quality_warnings"] = serde_json::Value::Array(warnings);
        events.push(("quality", b));
    }
    if events.is_empty() {
        return 0;
    }
    let opts = annuaire_ingest::fetch::FetchOptions {
        ca_file,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let client = match annuaire_ingest::fetch::client(&opts) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot build the alerts' HTTP client");
            return 0;
        }
    };
    let mut delivered = 0;
    for (event, body) in &events {
        for a in alerts.iter().filter(|a| a.wants(event)) {
            if send(&client, a, body).await {
                delivered += 1;
            }
        }
    }
    delivered
}

/// POST `body` to one webhook, with retries; true when it answered 2xx.
async fn send(client: &reqwest::Client, alert: &AlertConfig, body: &serde_json::Value) -> bool {
    let mut wait = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let mut req =
            client.post(&alert.url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        if let Some(t) = &alert.bearer_token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                tracing::info!(url = %annuaire_store::redact(&alert.url), event = %body["event"], "alert sent");
                return true;
            }
            Ok(r) => {
                tracing::warn!(url = %annuaire_store::redact(&alert.url), status = %r.status(), attempt, "alert refused")
            }
            Err(e) => tracing::warn!(url = %annuaire_store::redact(&alert.url), error = %e, attempt, "alert not sent"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    false
}
