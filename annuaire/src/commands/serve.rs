//! `annuaire serve`.

use super::Ctx;
use crate::cli::ServeArgs;
use crate::serve;
use annuaire_ingest::RunOptions;
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Run `annuaire serve`.
pub(crate) async fn run(ctx: Ctx, args: ServeArgs) -> Result<ExitCode> {
    let Ctx { store, config } = ctx;
    let ServeArgs {
        listen,
        port_file,
        no_sync,
        source,
        datagouv_api,
        with,
        schedule,
        also_at,
        timezone,
        retry_attempts,
        retry_backoff,
        run_now,
        ca_file,
    } = args;
    let timezone: chrono_tz::Tz =
        timezone.parse().map_err(|e| anyhow::anyhow!("unknown time zone {timezone:?}: {e}"))?;
    let mut opts = RunOptions::new(&source);
    opts.views = crate::views::before_promotion();
    opts.datagouv_api = datagouv_api;
    opts.with = with.iter().map(|w| annuaire_ingest::run::Origin::parse(w)).collect();
    opts.fetch.ca_file = ca_file.or(config.ca_file.clone());
    config.sync.apply(&mut opts);
    let cfg = serve::ScheduleConfig {
        schedule,
        also_at,
        timezone,
        retry_attempts,
        retry_backoff: std::time::Duration::from_secs(retry_backoff),
        usage_days: config.retention.usage_days,
        alerts: config.alerts.clone(),
        ca_file: opts.fetch.ca_file.clone(),
    };
    let listener = match &listen {
        Some(addr) => {
            Some(tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?)
        }
        None => None,
    };
    if let (Some(path), Some(l)) = (&port_file, &listener) {
        // Written aside and renamed: a reader never sees half an address.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, l.local_addr()?.to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    serve::serve(store, opts, cfg, run_now, !no_sync, listener, std::sync::Arc::new(config)).await?;
    Ok(ExitCode::SUCCESS)
}
