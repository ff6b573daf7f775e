//! `annuaire sync`.

use super::Ctx;
use crate::cli::{Format, SyncArgs};
use crate::{config, progress};
use annuaire_ingest::{RunOptions, run_once};
use annuaire_store::RunStatus;
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Run `annuaire sync`.
pub(crate) async fn run(ctx: Ctx, args: SyncArgs) -> Result<ExitCode> {
    let Ctx { store, config } = ctx;
    let SyncArgs {
        source,
        datagouv_api,
        with,
        ca_file,
        retries,
        connect_timeout,
        read_timeout,
        max_download_mib,
        max_error_rate,
        max_delete_rate,
        max_update_rate,
        gate_floor,
        segment_min_persons,
        segment_max_loss_rate,
        segment_max_update_rate,
        segment_floor,
        max_line_bytes,
        max_inflate_mib,
        max_inflate_ratio,
        allow_http,
        force,
        reparse,
        format,
    } = args;
    let mut opts = RunOptions::new(&source);
    opts.views = crate::views::before_promotion();
    opts.datagouv_api = datagouv_api;
    opts.with = with.iter().map(|w| annuaire_ingest::run::Origin::parse(w)).collect();
    opts.fetch = annuaire_ingest::fetch::FetchOptions {
        ca_file: ca_file.or(config.ca_file.clone()),
        retries,
        connect_timeout: std::time::Duration::from_secs(connect_timeout),
        read_timeout: std::time::Duration::from_secs(read_timeout),
        max_bytes: max_download_mib << 20,
        ..Default::default()
    };
    let limits = config::SyncLimits {
        max_line_bytes: max_line_bytes.or(config.sync.max_line_bytes),
        max_inflate_mib: max_inflate_mib.or(config.sync.max_inflate_mib),
        max_inflate_ratio: max_inflate_ratio.or(config.sync.max_inflate_ratio),
        gate_floor: gate_floor.or(config.sync.gate_floor),
        segment_min_persons: segment_min_persons.or(config.sync.segment_min_persons),
        segment_max_loss_rate: segment_max_loss_rate.or(config.sync.segment_max_loss_rate),
        segment_max_update_rate: segment_max_update_rate.or(config.sync.segment_max_update_rate),
        segment_floor: segment_floor.or(config.sync.segment_floor),
        allow_http: Some(allow_http || config.sync.allow_http.unwrap_or(false)),
    };
    limits.apply(&mut opts);
    opts.max_error_rate = max_error_rate;
    opts.max_delete_rate = max_delete_rate;
    opts.max_update_rate = max_update_rate;
    opts.force = force;
    opts.reparse = reparse;
    let bars = progress::Bars::new();
    opts.progress = bars.callback();
    let outcome = run_once(&store, &opts).await;
    bars.finish();
    // The webhooks are told (held, failed, promoted) before the process exits, for a minute at most.
    if !config.alerts.is_empty() {
        let ca = opts.fetch.ca_file.clone();
        let notify = crate::alerts::notify_last_run(&store, &config.alerts, ca);
        if tokio::time::timeout(crate::alerts::DEADLINE, notify).await.is_err() {
            tracing::warn!("the alerts were not all sent within a minute");
        }
    }
    let outcome = outcome.with_context(|| format!("sync of {source} failed; the served generation is unchanged"))?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        Format::Table => print_outcome(&outcome),
    }
    Ok(if outcome.status == RunStatus::Held { ExitCode::from(super::EXIT_HELD) } else { ExitCode::SUCCESS })
}

pub(crate) fn print_outcome(o: &annuaire_ingest::RunOutcome) {
    let status = match o.status {
        RunStatus::Promoted => format!("promoted generation {}", o.generation.unwrap_or_default()),
        RunStatus::Held => {
            format!("HELD generation {} (not served; `annuaire runs` says why)", o.generation.unwrap_or_default())
        }
        RunStatus::Unchanged => "unchanged: this extract is already served".to_string(),
        other => other.as_str().to_string(),
    };
    println!("run {}: {status}", o.run);
    println!("  served generation: {}", o.served.map_or("none".into(), |g| g.to_string()));
    println!("  sha256: {}", o.sha256);
    for f in &o.report.files {
        println!(
            "  {}: {} columns, {} lines, {} rejected{}{}",
            f.name,
            f.columns,
            f.rows,
            f.rejected,
            if f.latin1_lines > 0 {
                format!(
                    ", {} lines not UTF-8 (read as Windows-1252, first at line {})",
                    f.latin1_lines,
                    f.first_latin1_line.unwrap_or(0)
                )
            } else {
                String::new()
            },
            if f.bom { ", UTF-8 BOM" } else { "" }
        );
    }
    if o.status != RunStatus::Unchanged {
        let t = o.diff.total();
        println!("  persons: {} (exact duplicate lines dropped: {})", o.report.persons, o.report.group.duplicate_rows);
        if o.report.persons_skipped > 0 {
            println!("  not parsed, their lines unchanged since their served record: {}", o.report.persons_skipped);
        }
        println!(
            "  changes: {} created, {} updated, {} deleted, {} unchanged, {} kept as served after a rejected line",
            t.created, t.updated, t.deleted, t.unchanged, t.kept_on_error
        );
        for (group, g) in &o.diff.groups {
            println!("    {group}: reference {}, +{} ~{} -{}", g.reference, g.created, g.updated, g.deleted);
        }
    }
    for e in o.report.group.first_errors.iter().take(10) {
        println!("  rejected: {e}");
    }
    if !o.report.group.warnings_by_kind.is_empty() {
        let w: Vec<String> = o.report.group.warnings_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  warnings: {}", w.join(", "));
    }
    for (kind, codes) in &o.report.group.unknown_codes {
        let c: Vec<String> = codes.iter().take(10).map(|(k, v)| format!("{k} ({v})")).collect();
        println!("  unknown {kind} codes (kept as given): {}", c.join(", "));
    }
    if let Some(r) = &o.reason {
        println!("  {r}");
    }
}
