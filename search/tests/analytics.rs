//! Counts and exports over the sample extract, checked against counts made directly from the records.

use annuaire_ingest::{Source, read_extract};
use annuaire_schemas::Person;
use annuaire_search::SearchRequest;
use annuaire_search::analytics::{ExportFormat, ExportTable, StatsTable};
use polars::prelude::{ParquetReader, SerReader};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn persons() -> Vec<Person> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    read_extract(&Source::open(&dir).expect("source"), &|_, _| {}).expect("read").persons
}

fn stats(persons: &[Person], filter: SearchRequest, by: &[&str]) -> BTreeMap<Vec<String>, u64> {
    let mut t = StatsTable::new(filter);
    for p in persons {
        t.push(p);
    }
    let by: Vec<String> = by.iter().map(|s| s.to_string()).collect();
    t.count_by(&by)
        .expect("stats")
        .into_iter()
        .map(|o| {
            (
                by.iter().map(|b| o[b].as_str().expect("a group value is a string").to_string()).collect(),
                o["persons"].as_u64().expect("persons is a count"),
            )
        })
        .collect()
}

#[test]
fn counts_by_profession_and_authority_kind_equal_a_count_by_hand() {
    let persons = persons();
    let got = stats(&persons, SearchRequest::default(), &["profession", "authority_kind"]);
    let mut want: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for p in &persons {
        for e in &p.exercices {
            want.entry(vec![e.profession.code.to_string(), e.authority.kind.as_str().to_string()])
                .or_default()
                .insert(p.idnat.as_str().to_string());
        }
    }
    let want: BTreeMap<Vec<String>, u64> = want.into_iter().map(|(k, v)| (k, v.len() as u64)).collect();
    assert!(want.len() > 5, "the hand count has groups: {want:?}");
    assert_eq!(got, want);
    assert!(got.get(&vec!["10".to_string(), "ordre".to_string()]).is_some_and(|n| *n > 10));
}

#[test]
fn a_person_counts_once_in_each_department_and_filters_apply() {
    let persons = persons();
    let got = stats(&persons, SearchRequest::default(), &["department"]);
    for (dept, n) in &got {
        let by_hand = persons
            .iter()
            .filter(|p| {
                if dept[0].is_empty() {
                    p.exercices.iter().any(|e| {
                        e.activities.is_empty() || e.activities.iter().any(|a| a.structure.department_code().is_none())
                    })
                } else {
                    p.departments().contains(&dept[0])
                }
            })
            .count() as u64;
        assert_eq!(*n, by_hand, "department {dept:?}");
    }
    let doctors_in_25 = stats(
        &persons,
        SearchRequest { profession: Some("10".into()), department: Some("25".into()), ..Default::default() },
        &["profession"],
    );
    let by_hand = persons
        .iter()
        .filter(|p| {
            p.exercices.iter().any(|e| {
                e.profession.code == "10"
                    && e.activities.iter().any(|a| a.structure.department_code().as_deref() == Some("25"))
            })
        })
        .count() as u64;
    assert!(by_hand > 0, "the sample has doctors in department 25: the comparison compares something");
    assert_eq!(doctors_in_25.get(&vec!["10".to_string()]).copied(), Some(by_hand));
    let mut t = StatsTable::new(SearchRequest::default());
    t.push(&persons[0]);
    assert!(t.count_by(&["nope".to_string()]).is_err());
}

#[test]
fn an_export_reads_back_with_one_row_per_person_exercice_and_activity() {
    let persons = persons();
    let want: usize = persons.iter().flat_map(|p| &p.exercices).map(|e| e.activities.len().max(1)).sum();
    let dir = tempfile::tempdir().expect("tmp");
    for (format, name) in [(ExportFormat::Parquet, "x.parquet"), (ExportFormat::Csv, "x.csv")] {
        let mut t = ExportTable::new(SearchRequest::default());
        for p in &persons {
            t.push(p);
        }
        let path = dir.path().join(name);
        assert_eq!(t.write(&path, format).expect("write"), want);
        if format == ExportFormat::Parquet {
            let df = ParquetReader::new(std::fs::File::open(&path).expect("open")).finish().expect("read back");
            assert_eq!(df.height(), want);
            assert!(df.column("profession_label").is_ok());
        } else {
            let text = std::fs::read_to_string(&path).expect("csv");
            assert_eq!(text.lines().count(), want + 1, "header + rows");
        }
    }
}

/// The counting table of a generation, written once as parquet, answers every filter as a table built with
/// that filter does.
#[test]
fn counts_from_the_written_table_equal_counts_with_the_filter_applied_while_reading() {
    let persons = persons();
    let mut all = StatsTable::new(SearchRequest::default());
    for p in &persons {
        all.push(p);
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("gen-1.parquet");
    assert!(all.write_parquet(&path).expect("write") > persons.len());
    let filters = [
        SearchRequest::default(),
        SearchRequest { profession: Some("10".into()), ..Default::default() },
        SearchRequest { authority: Some("ordre".into()), department: Some("2a".into()), ..Default::default() },
        SearchRequest { authority: Some("oni".into()), ..Default::default() },
        SearchRequest { authority: Some("ARS".into()), profession: Some(" 91 ".into()), ..Default::default() },
        SearchRequest { commune: Some("06088".into()), ..Default::default() },
        SearchRequest { savoir_faire: Some("SM02".into()), ..Default::default() },
        SearchRequest { profession: Some("".into()), ..Default::default() },
    ];
    let mut empty = Vec::new();
    for by in [&["profession", "authority_kind"][..], &["department"][..], &["authority", "mode", "sector"][..]] {
        let by_s: Vec<String> = by.iter().map(|s| s.to_string()).collect();
        for f in &filters {
            let from_file: BTreeMap<Vec<String>, u64> = annuaire_search::analytics::count_file(&path, &by_s, f)
                .expect("count")
                .into_iter()
                .map(|o| {
                    (
                        by_s.iter().map(|b| o[b].as_str().expect("a group value is a string").to_string()).collect(),
                        o["persons"].as_u64().expect("persons is a count"),
                    )
                })
                .collect();
            let from_table = stats(&persons, f.clone(), by);
            if from_table.is_empty() {
                empty.push(format!("{f:?}"));
            }
            assert_eq!(from_file, from_table, "by {by:?} with {f:?}");
        }
    }
    // Every filter of the list matches someone in the sample: an empty comparison would prove nothing.
    assert!(empty.is_empty(), "filters that matched nobody: {empty:?}");
    assert!(annuaire_search::analytics::count_file(&path, &["nope".to_string()], &SearchRequest::default()).is_err());
}
