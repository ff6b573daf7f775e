//! Reading a whole extract (the three files) into person records and a report.

use crate::error::Result;
use crate::group::{GroupStats, Grouper};
use crate::layout::FileKind;
use crate::parse::{FileStats, read_file};
use crate::rows::{DiplCols, PaCols, SfCols, parse_dipl, parse_pa, parse_sf};
use crate::source::Source;
use annuaire_schemas::Person;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Mutex;

/// What was read from an extract.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParseReport {
    /// One entry per file read.
    pub files: Vec<FileStats>,
    /// Data lines read in all files.
    pub rows_read: u64,
    /// Lines rejected in all files.
    pub rows_rejected: u64,
    /// Persons built.
    pub persons: u64,
    /// Persons with a rejected line (their served record is kept as it was).
    pub persons_with_errors: u64,
    /// Grouping counters: duplicates, errors and warnings by kind, unknown codes.
    #[serde(flatten)]
    pub group: GroupStats,
}

/// An extract read into memory: sorted person records and the report.
#[derive(Debug, Default)]
pub struct Extract {
    /// Person records, canonical, sorted by idNat.
    pub persons: Vec<Person>,
    /// Persons that had a rejected line.
    pub tainted: HashSet<String>,
    /// What was read.
    pub report: ParseReport,
}

fn lock(g: &Mutex<Grouper>) -> std::sync::MutexGuard<'_, Grouper> {
    g.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Read every file of a source. `on_bytes(file, bytes_so_far)` reports progress.
pub fn read_extract(source: &Source, on_bytes: &(dyn Fn(&str, u64) + Sync)) -> Result<Extract> {
    let grouper = Mutex::new(Grouper::new());
    let mut files = Vec::new();
    for kind in FileKind::ALL {
        let Some(member) = source.member(kind) else { continue };
        let progress = |b: u64| on_bytes(&member.name, b);
        let stats = match kind {
            FileKind::PersonneActivite => read_file(
                member,
                |h| {
                    let c = PaCols::resolve(h);
                    move |f: &_| parse_pa(&c, f)
                },
                |rows, errors| {
                    let mut g = lock(&grouper);
                    g.errors(errors);
                    g.personne_activite(rows);
                },
                &progress,
            )?,
            // Savoir-faire and diplomas attach to persons of the main file, which is complete by now.
            FileKind::SavoirFaire => read_file(
                member,
                |h| {
                    let c = SfCols::resolve(h);
                    move |f: &_| parse_sf(&c, f)
                },
                |rows, errors| {
                    let mut g = lock(&grouper);
                    g.errors(errors);
                    g.savoir_faire(rows);
                },
                &progress,
            )?,
            FileKind::DiplAutExerc => read_file(
                member,
                |h| {
                    let c = DiplCols::resolve(h);
                    move |f: &_| parse_dipl(&c, f)
                },
                |rows, errors| {
                    let mut g = lock(&grouper);
                    g.errors(errors);
                    g.diplomas(rows);
                },
                &progress,
            )?,
        };
        files.push(stats);
    }
    let grouper = grouper.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (persons, tainted, group) = grouper.finish();
    let report = ParseReport {
        rows_read: files.iter().map(|f| f.rows).sum(),
        rows_rejected: files.iter().map(|f| f.rejected).sum(),
        persons: persons.len() as u64,
        persons_with_errors: tainted.len() as u64,
        files,
        group,
    };
    Ok(Extract { persons, tainted, report })
}
