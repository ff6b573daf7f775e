//! `annuaire serve`: the long-running process: the HTTP API (`crate::api`) and the nightly sync on a cron
//! schedule, which also purges usage records past their retention.
//!
//! Split as zero2prod does: [`try_sync`] is one attempt; the scheduled job only decides when to try and
//! retries a failed night with backoff. Single flight holds across processes through the store's lock:
//! a sync started by hand while the scheduled one runs is refused with a clear message, and vice versa.

use annuaire_ingest::{RunOptions, RunOutcome, run_once};
use annuaire_store::{RunStatus, Store};
use chrono_tz::Tz;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};

/// What the scheduler needs.
#[derive(Clone)]
pub struct ScheduleConfig {
    /// Cron expression with seconds (`sec min hour day month weekday`).
    pub schedule: String,
    /// More times to run the same sync (e.g. when the card holders' extract is published): every extract is fetched
    /// with conditional GET, so a run where nothing is new costs a few requests.
    pub also_at: Vec<String>,
    /// Time zone of the expression.
    pub timezone: Tz,
    /// Attempts after a failed run, the same night.
    pub retry_attempts: u32,
    /// Wait before the first retry; doubled at each one.
    pub retry_backoff: Duration,
    /// Days of usage records kept (`[retention] usage_days`).
    pub usage_days: u32,
    /// Webhooks told of each run (`[[alerts]]`).
    pub alerts: Vec<crate::config::AlertConfig>,
    /// Extra trusted roots for the webhooks too.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Send the last run's alerts from a task of its own: the night goes on without waiting for the webhooks.
fn alert(store: &Store, cfg: &ScheduleConfig) {
    if cfg.alerts.is_empty() {
        return;
    }
    let (store, alerts, ca) = (store.clone(), cfg.alerts.clone(), cfg.ca_file.clone());
    tokio::spawn(async move { crate::alerts::notify_last_run(&store, &alerts, ca).await });
}

/// Remove usage records older than `days` days (before today minus `days`).
pub async fn purge_usage(store: &Store, days: u32) {
    let cut = annuaire_schemas::clock::days_before(&annuaire_schemas::clock::today(), days);
    match store.purge_usage_before(&cut).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, before = %cut, "usage records past their retention purged"),
        Err(e) => tracing::warn!(error = %e, "cannot purge old usage records"),
    }
}

/// The last run's figures, kept for the metrics endpoint.
#[derive(Debug, Clone, Default)]
pub struct LastRun {
    /// Outcome of the last attempt (`promoted`, `held`, `unchanged`, `failed`, `busy`).
    pub status: String,
    /// When it finished (Unix seconds).
    pub finished_at: i64,
    /// Its run number, when one was recorded.
    pub run: Option<i64>,
}

/// One sync attempt.
pub async fn try_sync(store: &Store, opts: &RunOptions) -> Result<RunOutcome, annuaire_ingest::Error> {
    run_once(store, opts).await
}

/// Retry a failed night with backoff; held, unchanged and promoted runs are final.
async fn nightly(store: Store, opts: RunOptions, cfg: ScheduleConfig, last: Arc<Mutex<LastRun>>) {
    purge_usage(&store, cfg.usage_days).await;
    let mut wait = cfg.retry_backoff;
    for attempt in 0..=cfg.retry_attempts {
        if attempt > 0 {
            tracing::warn!(attempt, ?wait, "retrying the failed sync");
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        let result = try_sync(&store, &opts).await;
        let mut l = last.lock().await;
        l.finished_at = chrono::Utc::now().timestamp();
        match result {
            Ok(o) => {
                tracing::info!(run = o.run, status = o.status.as_str(), generation = ?o.generation, reason = ?o.reason, "scheduled sync done");
                l.status = o.status.as_str().to_string();
                l.run = Some(o.run);
                alert(&store, &cfg);
                return;
            }
            Err(e) => {
                // Another process holds the sync lock: a typed error, not a message to match.
                let busy = matches!(e, annuaire_ingest::Error::Store(annuaire_store::Error::Busy { .. }));
                l.status = if busy { "busy".into() } else { RunStatus::Failed.as_str().into() };
                tracing::error!(error = %e, "scheduled sync failed");
                if busy {
                    return; // someone else is doing tonight's work
                }
                if attempt == cfg.retry_attempts {
                    alert(&store, &cfg); // the night failed, retries included
                }
            }
        }
    }
}

/// Run the scheduler (when `schedule`) and the HTTP API (when a listener is given) until Ctrl-C or SIGTERM.
pub async fn serve(
    store: Store,
    opts: RunOptions,
    cfg: ScheduleConfig,
    run_now: bool,
    schedule: bool,
    listener: Option<tokio::net::TcpListener>,
    config: Arc<crate::config::Config>,
) -> anyhow::Result<()> {
    let last = Arc::new(Mutex::new(LastRun::default()));
    purge_usage(&store, config.retention.usage_days).await;
    let api = match listener {
        Some(listener) => {
            let state = crate::api::AppState::new(store.clone(), config, last.clone());
            let addr = listener.local_addr()?;
            eprintln!("annuaire serve: HTTP API on http://{addr}");
            Some(tokio::spawn(crate::api::serve(listener, state, shutdown_signal())))
        }
        None => None,
    };
    if !schedule {
        if let Some(api) = api {
            api.await??;
        }
        return Ok(());
    }
    let in_flight = Arc::new(Mutex::new(()));
    let make_job = {
        let (store, opts, cfg, last, in_flight) =
            (store.clone(), opts.clone(), cfg.clone(), last.clone(), in_flight.clone());
        move |expr: &str| {
            let (store, opts, cfg, last, in_flight) =
                (store.clone(), opts.clone(), cfg.clone(), last.clone(), in_flight.clone());
            Job::new_async_tz(expr, cfg.timezone, move |_id, _sched| {
                let (store, opts, cfg, last, in_flight) =
                    (store.clone(), opts.clone(), cfg.clone(), last.clone(), in_flight.clone());
                Box::pin(async move {
                    // In-process single flight: a tick while the previous night still runs is skipped.
                    let Ok(_guard) = in_flight.try_lock() else {
                        tracing::warn!("previous scheduled sync still running: tick skipped");
                        return;
                    };
                    nightly(store, opts, cfg, last).await;
                })
            })
        }
    };
    let sched = JobScheduler::new().await?;
    let schedules: Vec<String> = std::iter::once(cfg.schedule.clone()).chain(cfg.also_at.iter().cloned()).collect();
    for expr in schedules.clone() {
        let mut job_id = sched.add(make_job(&expr)?).await?;
        // tokio-cron-scheduler fixes the zone's UTC offset when a job is created: re-create the job every
        // six hours so that the schedule follows daylight saving time.
        let sched2 = sched.clone();
        let make_job = make_job.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(6 * 3600)).await;
                match make_job(&expr) {
                    Ok(job) => {
                        if let Ok(new_id) = sched2.add(job).await {
                            let _ = sched2.remove(&job_id).await;
                            job_id = new_id;
                        }
                    }
                    Err(e) => tracing::error!(%e, "cannot re-create the sync job"),
                }
            }
        });
    }
    sched.start().await?;
    tracing::info!(schedules = ?schedules, timezone = %cfg.timezone, source = %opts.source, "scheduler started");
    eprintln!(
        "annuaire serve: sync scheduled at `{}` ({}), source {}",
        schedules.join("`, `"),
        cfg.timezone,
        opts.source
    );
    if run_now {
        let (store, opts, cfg, last, in_flight) =
            (store.clone(), opts.clone(), cfg.clone(), last.clone(), in_flight.clone());
        tokio::spawn(async move {
            let _guard = in_flight.lock().await;
            nightly(store, opts, cfg, last).await;
        });
    }
    match api {
        Some(api) => api.await??,
        None => shutdown_signal().await,
    }
    eprintln!("annuaire serve: stopping");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
