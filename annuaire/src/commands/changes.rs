//! `annuaire changes`.

use super::Ctx;
use crate::cli::{ChangesArgs, Format};
use anyhow::Result;
use serde::ser::{SerializeSeq, Serializer};
use std::io::Write;
use std::process::ExitCode;

/// Run `annuaire changes`: the changes are written as they are read, a page at a time
/// ([`annuaire_store::Store::for_each_change_since`]), so memory does not grow with the changelog (a national first
/// load lists 1.7 million). The JSON is the array `serde_json::to_string_pretty` writes, element by element.
pub(crate) async fn run(ctx: Ctx, args: ChangesArgs) -> Result<ExitCode> {
    let Ctx { store, .. } = ctx;
    let ChangesArgs { since, format } = args;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            let mut json = serde_json::Serializer::pretty(&mut out);
            let mut seq = json.serialize_seq(None)?;
            store.for_each_change_since(since, |c| -> Result<()> { Ok(seq.serialize_element(&c)?) }).await?;
            seq.end()?;
            writeln!(out)?;
        }
        Format::Table => {
            store
                .for_each_change_since(since, |c| -> Result<()> {
                    Ok(writeln!(out, "{:>4} {:<7} {}", c.generation, c.change.as_str(), c.id)?)
                })
                .await?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
