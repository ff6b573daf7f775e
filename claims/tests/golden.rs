//! Golden tests: the sample extract, read by the real ingest, gives the claims of ANS's examples.

use annuaire_claims::{Profile, user_info};
use annuaire_ingest::{Source, read_extract};
use std::path::Path;

fn sample() -> Vec<annuaire_schemas::Person> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let source = Source::open(&dir).expect("sample");
    read_extract(&source, &|_, _| {}).expect("read").persons
}

fn check(idnat: &str, profile: Profile, golden: &str) {
    let persons = sample();
    let p = persons.iter().find(|p| p.idnat.as_str() == idnat).expect("person in sample");
    let got = serde_json::to_value(user_info(p, profile)).expect("json");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(golden);
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden")).expect("golden json");
    if got != want {
        panic!(
            "claims of {idnat} differ from {}\n--- got ---\n{}\n--- want ---\n{}",
            path.display(),
            serde_json::to_string_pretty(&got).unwrap_or_default(),
            serde_json::to_string_pretty(&want).unwrap_or_default()
        );
    }
}

#[test]
fn ans_example_b_two_activities_psc_2021() {
    check("899700366240", Profile::Psc2021, "psc-2021_899700366240.json");
}

#[test]
fn ans_example_c_podologue_psc_2023() {
    check("810000237041", Profile::Psc2023, "psc-2023_810000237041.json");
}
