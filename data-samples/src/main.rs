//! `gen-extract`: write a synthetic PS_LibreAcces extract.
//!
//! ```text
//! gen-extract --sample --out data-samples/PS_LibreAcces            # the committed sample (folder)
//! gen-extract --persons 1700000 --out /tmp/PS_LibreAcces_national.zip
//! ```

use annuaire_data_samples::{SAMPLE_TIMESTAMP, sample, write_national_zip};
use anyhow::{Context, bail};
use std::path::PathBuf;

/// Persons generated on top of the handmade ones for the committed sample.
const SAMPLE_PERSONS: u64 = 300;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut persons, mut out, mut seed, mut columns, mut is_sample) = (None, None, 42u64, 56u32, false);
    let mut change_permille = 0u64;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--persons" => persons = Some(args.next().context("--persons N")?.parse::<u64>()?),
            "--out" => out = Some(PathBuf::from(args.next().context("--out PATH")?)),
            "--seed" => seed = args.next().context("--seed N")?.parse()?,
            "--columns" => columns = args.next().context("--columns 52|56")?.parse()?,
            "--sample" => is_sample = true,
            "--change-permille" => change_permille = args.next().context("--change-permille N")?.parse()?,
            "-h" | "--help" => {
                println!(
                    "gen-extract [--sample | --persons N] --out DIR|FILE.zip [--seed N] [--columns 52|56] [--change-permille N]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    let out = out.context("--out is required")?;
    let zip = out.extension().is_some_and(|e| e == "zip");
    if is_sample || persons.is_some_and(|p| p <= 10_000) {
        let mut files = sample(persons.unwrap_or(SAMPLE_PERSONS));
        if columns == 52 {
            files = files.to_52_columns();
        }
        if zip {
            files.write_zip(&out, SAMPLE_TIMESTAMP)?
        } else {
            files.write_dir(&out, SAMPLE_TIMESTAMP)?
        }
        eprintln!("wrote {}", out.display());
        return Ok(());
    }
    let persons = persons.context("--persons N or --sample")?;
    if !zip {
        bail!("a national-size extract is written as a zip: give --out FILE.zip");
    }
    let lines = write_national_zip(&out, persons, seed, change_permille)
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {} ({persons} persons, {lines} Personne_activite lines)", out.display());
    Ok(())
}
