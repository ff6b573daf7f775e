//! `annuaire claims` after `annuaire sync` on the sample.

use crate::common::{annuaire, json, samples, stderr};
use std::path::Path;

fn synced() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let sample = samples().join("PS_LibreAcces");
    let out = annuaire(dir.path(), &["sync", "--source", sample.to_str().expect("path")]);
    assert!(out.status.success(), "sync failed: {}", stderr(&out));
    dir
}

#[test]
fn claims_of_ans_example_b_match_the_golden_file() {
    let dir = synced();
    let out = annuaire(dir.path(), &["claims", "899700366240", "--profile", "psc-2021"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/tests/golden/psc-2021_899700366240.json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden).expect("golden")).expect("json");
    assert_eq!(json(&out), want);
}

#[test]
fn a_doctor_with_two_activities_and_a_specialty_by_bare_rpps() {
    let dir = synced();
    // Global flag after the subcommand works too.
    let out = annuaire(dir.path(), &["claims", "10100271385"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = json(&out);
    assert_eq!(c["SubjectNameID"], "810100271385");
    assert_eq!(c["preferred_username"], "810100271385");
    assert_eq!(c["SubjectRole"], serde_json::json!(["10^1.2.250.1.213.1.1.5.5"]));
    let ex = &c["SubjectRefPro"]["exercices"][0];
    assert_eq!(ex["codeTypeSavoirFaire"], "S");
    assert_eq!(ex["codeSavoirFaire"], "SM04", "the specialty, not the competence");
    let acts = ex["activities"].as_array().expect("activities");
    assert_eq!(acts.len(), 2);
    for a in acts {
        assert_eq!(a.as_object().expect("object").len(), 30);
        assert!(a.as_object().expect("object").values().all(serde_json::Value::is_string), "strings, never null");
    }
    assert_eq!(c["SubjectOrganization"], "CABINET DU DR LEFÈVRE");
    assert_eq!(c["Secteur_Activite"], "SA07^1.2.250.1.71.4.2.4");
    assert_eq!(c["codeCivilite"], "M", "psc-2023 is the default: codeCivilite at top level");
    assert!(c["SubjectRefPro"].get("codeCivilite").is_none());
}

#[test]
fn bare_adeli_works_and_unknown_ids_exit_1() {
    let dir = synced();
    let out = annuaire(dir.path(), &["claims", "012800751"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["otherIds"][0]["origine"], "ADELI");
    let out = annuaire(dir.path(), &["claims", "810000000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no professional 810000000000"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = annuaire(dir.path(), &["claims", "810100271385", "--profile", "psc-1999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown profile"));
}
