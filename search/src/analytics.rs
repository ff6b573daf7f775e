//! Analytics with polars (the only module that uses it): distinct-person counts by groups, and exports.
//!
//! Records are flattened as they stream in (no list of persons is held): [`StatsTable`] keeps one row per
//! person x exercice x activity x savoir-faire with the group columns only, [`ExportTable`] one row per
//! person x exercice x activity with codes and labels. Counting distinct idNats per group gives the
//! semantics analysts expect: a person with activities in two departments counts once in each, a person
//! with two professions once in each. Filters apply to rows (a person counts in a group when one of their
//! rows matches every filter).

use crate::SearchRequest;
use annuaire_schemas::{AuthorityKind, Person};
use polars::prelude::{
    Column, CsvWriter, DataFrame, DataType, Expr, IntoLazy, LazyFrame, ParquetReader, ParquetWriter, PolarsError,
    SerReader, SerWriter, SortMultipleOptions, col, lit,
};
use std::collections::BTreeMap;
use std::path::Path;

/// The columns `stats --by` accepts.
pub const GROUPS: [&str; 9] = [
    "profession",
    "authority",
    "authority_kind",
    "department",
    "savoir_faire",
    "mode",
    "sector",
    "valid_card",
    "mailbox",
];

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// polars failed.
    #[error("analytics: {0}")]
    Polars(#[from] PolarsError),
    /// A group name is not one of [`GROUPS`].
    #[error("cannot group by {0:?}: choose among {GROUPS:?}")]
    UnknownGroup(String),
    /// A group name given twice.
    #[error("cannot group by {0:?} twice")]
    DuplicateGroup(String),
    /// The output file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result with the analytics [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The row filters of a [`SearchRequest`] (its text and paging are ignored).
fn matches(r: &SearchRequest, row: &BTreeMap<&'static str, String>) -> bool {
    let eq =
        |key: &str, want: &Option<String>| want.as_ref().is_none_or(|w| row.get(key).is_some_and(|v| v == w.trim()));
    let authority = match &r.authority {
        None => true,
        Some(a) => match AuthorityKind::parse(a) {
            Some(k) => row.get("authority_kind").is_some_and(|v| v == k.as_str()),
            None => row.get("authority").is_some_and(|v| v.eq_ignore_ascii_case(a.trim())),
        },
    };
    authority
        && eq("valid_card", &r.valid_card.map(|b| b.to_string()))
        && eq("mailbox", &r.mailbox.map(|b| b.to_string()))
        && eq("profession", &r.profession)
        && eq("department", &r.department.as_ref().map(|d| d.to_uppercase()))
        && eq("commune", &r.commune)
        && eq("savoir_faire", &r.savoir_faire)
}

/// Rows of a person: one per exercice x activity (a row without activity columns when there is none),
/// with codes and labels. `sf` is `None` for the export grain (savoir-faire joined), `Some` to split by it.
fn rows(p: &Person, split_savoir_faire: bool, day: &str) -> Vec<BTreeMap<&'static str, String>> {
    let mut out = Vec::new();
    let valid_card = p.valid_cards(day).next().is_some().to_string();
    let mailbox = (!p.mailboxes.is_empty()).to_string();
    for ex in &p.exercices {
        let acts: Vec<Option<&annuaire_schemas::Activity>> =
            if ex.activities.is_empty() { vec![None] } else { ex.activities.iter().map(Some).collect() };
        let sfs: Vec<String> = if split_savoir_faire {
            if ex.savoir_faire.is_empty() {
                vec![String::new()]
            } else {
                ex.savoir_faire.iter().map(|s| s.code.code.to_string()).collect()
            }
        } else {
            vec![ex.savoir_faire.iter().map(|s| s.code.code.as_str()).collect::<Vec<_>>().join(";")]
        };
        for a in &acts {
            for sf in &sfs {
                let mut r = BTreeMap::new();
                r.insert("idnat", p.idnat.as_str().to_string());
                r.insert("id_type", p.idnat.id_type().origine().to_string());
                r.insert("family_name", ex.family_name.clone());
                r.insert("given_name", ex.given_name.clone());
                r.insert("profession", ex.profession.code.to_string());
                r.insert("profession_label", ex.profession.label.to_string());
                r.insert("category", ex.category.code.to_string());
                r.insert("authority_kind", ex.authority.kind.as_str().to_string());
                r.insert("authority", ex.authority.name.clone());
                r.insert("savoir_faire", sf.clone());
                let get = |f: fn(&annuaire_schemas::Activity) -> String| a.map(f).unwrap_or_default();
                r.insert("mode", get(|a| a.mode.code.to_string()));
                r.insert("mode_label", get(|a| a.mode.label.to_string()));
                r.insert("sector", get(|a| a.sector.code.to_string()));
                r.insert("sector_label", get(|a| a.sector.label.to_string()));
                r.insert("role", get(|a| a.role.code.to_string()));
                r.insert("genre", get(|a| a.genre.code.to_string()));
                r.insert("structure", get(|a| a.structure.name.clone()));
                r.insert("technical_id", get(|a| a.structure.technical_id.clone()));
                r.insert("siret", get(|a| a.structure.siret.clone()));
                r.insert("finess_site", get(|a| a.structure.finess_site.clone()));
                r.insert("postal_code", get(|a| a.structure.postal_code.clone()));
                r.insert("commune", get(|a| a.structure.commune.code.to_string()));
                r.insert("commune_label", get(|a| a.structure.commune.label.to_string()));
                r.insert("department", get(|a| a.structure.department_code().unwrap_or_default()));
                r.insert("registration", get(|a| a.registration.raw.clone()));
                r.insert("valid_card", valid_card.clone());
                r.insert("mailbox", mailbox.clone());
                out.push(r);
            }
        }
    }
    out
}

/// Columns kept, in order.
struct Table {
    names: &'static [&'static str],
    columns: Vec<Vec<String>>,
}

impl Table {
    fn new(names: &'static [&'static str]) -> Table {
        Table { names, columns: vec![Vec::new(); names.len()] }
    }

    fn push(&mut self, row: &BTreeMap<&'static str, String>) {
        for (i, n) in self.names.iter().enumerate() {
            self.columns[i].push(row.get(n).cloned().unwrap_or_default());
        }
    }

    fn frame(self) -> Result<DataFrame> {
        let cols: Vec<Column> = self.names.iter().zip(self.columns).map(|(n, v)| Column::new((*n).into(), v)).collect();
        Ok(DataFrame::new_infer_height(cols)?)
    }
}

/// The counting table's text columns; persons are numbered in a `person` column (a `u32` counts distinct values far
/// faster than the idNat text).
const STATS_COLUMNS: [&str; GROUPS.len() + 1] = {
    let mut columns = [""; GROUPS.len() + 1];
    let mut i = 0;
    while i < GROUPS.len() {
        columns[i] = GROUPS[i];
        i += 1;
    }
    // Filtered on, not grouped by.
    columns[GROUPS.len()] = "commune";
    columns
};
const EXPORT_COLUMNS: &[&str] = &[
    "idnat",
    "id_type",
    "family_name",
    "given_name",
    "profession",
    "profession_label",
    "category",
    "authority_kind",
    "authority",
    "savoir_faire",
    "mode",
    "mode_label",
    "sector",
    "sector_label",
    "role",
    "genre",
    "structure",
    "technical_id",
    "siret",
    "finess_site",
    "postal_code",
    "commune",
    "commune_label",
    "department",
    "registration",
    "valid_card",
    "mailbox",
];

/// Rows for counting.
pub struct StatsTable {
    table: Table,
    /// The person number of each row.
    person: Vec<u32>,
    persons: u32,
    filter: SearchRequest,
    day: String,
}

impl StatsTable {
    /// An empty table keeping the rows that match `filter` (empty filters are ignored).
    pub fn new(filter: SearchRequest) -> StatsTable {
        StatsTable {
            table: Table::new(&STATS_COLUMNS),
            person: Vec::new(),
            persons: 0,
            filter: filter.normalized(),
            day: crate::today(),
        }
    }

    /// Add a person's rows.
    pub fn push(&mut self, p: &Person) {
        self.persons += 1;
        for r in rows(p, true, &self.day) {
            if matches(&self.filter, &r) {
                self.table.push(&r);
                self.person.push(self.persons);
            }
        }
    }

    fn frame(self) -> Result<DataFrame> {
        let mut df = self.table.frame()?;
        df.with_column(Column::new("person".into(), self.person))?;
        Ok(df)
    }

    /// Distinct persons per group, sorted by the group keys: one object per group with the keys and `persons`.
    pub fn count_by(self, by: &[String]) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        check_groups(by)?;
        count(self.frame()?.lazy(), by)
    }

    /// Write the rows as a parquet file (build it with an empty filter, so that [`count_file`] can apply any):
    /// the counting table of a generation, written once and read by every later count. Returns the rows.
    pub fn write_parquet(self, path: &Path) -> Result<usize> {
        let mut df = self.frame()?;
        let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
        let mut file = std::fs::File::create(path).map_err(io)?;
        ParquetWriter::new(&mut file).finish(&mut df)?;
        file.sync_all().map_err(io)?;
        Ok(df.height())
    }
}

/// The label of a group's value, for the columns that have one: profession, savoir-faire, mode and sector (the code
/// tables), department (its name), authority kind, and authority (`CNOM` → its full name).
pub fn group_label(column: &str, value: &str) -> Option<String> {
    use annuaire_schemas::codes::{Kind, label};
    let found = match column {
        "profession" => label(Kind::Profession, value),
        "savoir_faire" => label(Kind::SavoirFaire, value),
        "mode" => label(Kind::Mode, value),
        "sector" => label(Kind::Sector, value),
        "department" => annuaire_schemas::departments::name(value),
        "authority_kind" => annuaire_schemas::AuthorityKind::parse(value).map(|k| k.label()),
        "authority" => annuaire_schemas::authority::authority_label(value),
        _ => None,
    };
    found.map(str::to_string)
}

/// Put each group's labels beside its codes (`profession_label` beside `profession`…), where there is one.
pub fn add_labels(groups: &mut [serde_json::Map<String, serde_json::Value>], by: &[String]) {
    for g in groups {
        for column in by {
            let label = g.get(column).and_then(|v| v.as_str()).and_then(|v| group_label(column, v));
            if let Some(label) = label {
                g.insert(format!("{column}_label"), label.into());
            }
        }
    }
}

/// Distinct persons per group from a table written by [`StatsTable::write_parquet`], keeping the rows that match
/// `filter`: the same answer as [`StatsTable::count_by`] on a table built with that filter, without reading the
/// records again.
pub fn count_file(
    path: &Path,
    by: &[String],
    filter: &SearchRequest,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    check_groups(by)?;
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
    let file = std::fs::File::open(path).map_err(io)?;
    // Read only the columns this count needs: the id, the groups and the filtered ones.
    let mut columns: Vec<String> = vec!["person".into()];
    let f = filter.clone().normalized();
    let filtered = [
        ("profession", f.profession.is_some()),
        ("department", f.department.is_some()),
        ("commune", f.commune.is_some()),
        ("savoir_faire", f.savoir_faire.is_some()),
        ("authority", f.authority.is_some()),
        ("authority_kind", f.authority.is_some()),
        ("valid_card", f.valid_card.is_some()),
        ("mailbox", f.mailbox.is_some()),
    ];
    for name in by.iter().map(String::as_str).chain(filtered.iter().filter(|(_, on)| *on).map(|(n, _)| *n)) {
        if !columns.iter().any(|c| c == name) {
            columns.push(name.to_string());
        }
    }
    let mut lf = ParquetReader::new(file).with_columns(Some(columns)).finish()?.lazy();
    if let Some(e) = filter_expr(filter) {
        lf = lf.filter(e);
    }
    count(lf, by)
}

/// The row filters of a [`SearchRequest`] as a polars expression (the same test as [`matches`]).
fn filter_expr(r: &SearchRequest) -> Option<Expr> {
    let r = r.clone().normalized();
    let mut all: Vec<Expr> = Vec::new();
    let eq = |name: &str, v: &Option<String>| v.as_ref().map(|v| col(name).eq(lit(v.trim().to_string())));
    all.extend(eq("profession", &r.profession));
    all.extend(eq("department", &r.department.as_ref().map(|d| d.to_uppercase())));
    all.extend(eq("commune", &r.commune));
    all.extend(eq("savoir_faire", &r.savoir_faire));
    all.extend(eq("valid_card", &r.valid_card.map(|b| b.to_string())));
    all.extend(eq("mailbox", &r.mailbox.map(|b| b.to_string())));
    if let Some(a) = &r.authority {
        all.push(match AuthorityKind::parse(a) {
            Some(k) => col("authority_kind").eq(lit(k.as_str())),
            None => col("authority").str().to_uppercase().eq(lit(a.trim().to_ascii_uppercase())),
        });
    }
    all.into_iter().reduce(|a, b| a.and(b))
}

fn check_groups(by: &[String]) -> Result<()> {
    if by.is_empty() {
        return Err(Error::UnknownGroup(String::new()));
    }
    for (i, b) in by.iter().enumerate() {
        if !GROUPS.contains(&b.as_str()) {
            return Err(Error::UnknownGroup(b.clone()));
        }
        if by[..i].contains(b) {
            return Err(Error::DuplicateGroup(b.clone()));
        }
    }
    Ok(())
}

fn count(lf: LazyFrame, by: &[String]) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let keys: Vec<Expr> = by.iter().map(|b| col(b.as_str())).collect();
    let df = lf
        .group_by(keys)
        .agg([col("person").n_unique().alias("persons")])
        .sort(by.iter().map(|b| b.as_str()).collect::<Vec<_>>(), SortMultipleOptions::default())
        .collect()?;
    let persons = df.column("persons")?.cast(&DataType::UInt64)?;
    let persons = persons.u64()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut o = serde_json::Map::new();
        for b in by {
            let v = df.column(b)?.str()?.get(i).unwrap_or("").to_string();
            o.insert(b.clone(), v.into());
        }
        o.insert("persons".into(), persons.get(i).unwrap_or(0).into());
        out.push(o);
    }
    Ok(out)
}

/// Rows for exporting.
pub struct ExportTable {
    table: Table,
    filter: SearchRequest,
    day: String,
}

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header.
    Csv,
}

impl ExportTable {
    /// An empty table keeping the rows that match `filter` (empty filters are ignored).
    pub fn new(filter: SearchRequest) -> ExportTable {
        ExportTable { table: Table::new(EXPORT_COLUMNS), filter: filter.normalized(), day: crate::today() }
    }

    /// Add a person's rows.
    pub fn push(&mut self, p: &Person) {
        for r in rows(p, false, &self.day) {
            if matches(&self.filter, &r) {
                self.table.push(&r);
            }
        }
    }

    /// Write the rows; returns their number.
    pub fn write(self, path: &Path, format: ExportFormat) -> Result<usize> {
        let mut df = self.table.frame()?;
        let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
        let mut file = std::fs::File::create(path).map_err(io)?;
        match format {
            ExportFormat::Parquet => {
                ParquetWriter::new(&mut file).finish(&mut df)?;
            }
            ExportFormat::Csv => CsvWriter::new(&mut file).finish(&mut df)?,
        }
        Ok(df.height())
    }
}
