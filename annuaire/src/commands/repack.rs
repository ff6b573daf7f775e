//! `annuaire repack`.

use super::Ctx;
use crate::cli::{Format, RepackArgs};
use anyhow::Result;
use std::process::ExitCode;

/// Run `annuaire repack`: the records an older binary stored as text, rewritten packed, under the sync lock.
pub(crate) async fn run(ctx: Ctx, args: RepackArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let RepackArgs { format } = args;
    let lock = store.lock_sync("repack").await?;
    let done = store.repack(annuaire_store::BATCH_REPACK).await;
    lock.release().await?;
    let done = done?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        Format::Table => {
            let size = |b: u64| match b {
                0..1_000_000 => format!("{:.1} KB", b as f64 / 1e3),
                _ => format!("{:.1} MB", b as f64 / 1e6),
            };
            println!(
                "repacked {} records: {} as text, {} packed{}",
                done.records,
                size(done.bytes_before),
                size(done.bytes_after),
                if done.left == 0 {
                    String::new()
                } else {
                    format!("; {} left as text (their text does not match their hash)", done.left)
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
