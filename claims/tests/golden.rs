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

/// FHIR resources of the doctor with two activities, compared with a reviewed golden file (the implementation's own
/// output, reviewed: see `tests/golden/README.md`). A test never writes it: `cargo run -p annuaire-claims --example
/// write_golden` does, and the diff is reviewed.
#[test]
fn fhir_practitioner_and_roles_of_a_doctor_with_two_activities() {
    let persons = sample();
    let p = persons.iter().find(|p| p.idnat.as_str() == "810100271385").expect("person");
    let got = {
        // A fixed version: the golden file shows the shape of `meta`, not a run's clock.
        let meta = annuaire_claims::fhir::Meta { version: 3, last_updated: "2026-11-30T02:00:00Z".into(), left: None };
        serde_json::json!({
            "Practitioner": annuaire_claims::fhir::practitioner(p, &meta),
            "PractitionerRole": annuaire_claims::fhir::practitioner_roles(p, &meta),
            "Organization": annuaire_claims::fhir::organizations_of(p, &meta),
        })
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fhir_810100271385.json");
    assert!(
        path.exists(),
        "{} is missing: `cargo run -p annuaire-claims --example write_golden`, then review it",
        path.display()
    );
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("golden")).expect("json");
    assert_eq!(
        got,
        want,
        "FHIR resources differ from {}: if the change is meant, `cargo run -p annuaire-claims --example write_golden` \
         and review the diff",
        path.display()
    );
    // The facts the golden file must show, whatever else changes:
    assert_eq!(got["Practitioner"]["identifier"][0]["system"], "urn:oid:1.2.250.1.71.4.2.1");
    assert_eq!(got["Practitioner"]["identifier"][1]["value"], "10100271385");
    assert_eq!(got["PractitionerRole"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["PractitionerRole"][0]["practitioner"]["reference"], "Practitioner/810100271385");
    assert_eq!(got["Practitioner"]["meta"]["versionId"], "3");
    let orgs = got["Organization"].as_array().expect("organizations");
    assert!(!orgs.is_empty());
    for role in got["PractitionerRole"].as_array().into_iter().flatten() {
        let reference = role["organization"]["reference"].as_str().expect("an organization reference");
        assert!(orgs.iter().any(|o| format!("Organization/{}", o["id"].as_str().unwrap_or("")) == reference));
    }
}

/// A PractitionerRole's id names its work site: adding an activity to a person (which may sort before the others)
/// leaves the ids of the others as they were, so `_history` of a role follows one work site.
#[test]
fn role_ids_follow_the_work_site_not_its_place() {
    let persons = sample();
    let p = persons.iter().find(|p| p.idnat.as_str() == "810100271385").expect("person");
    let before = annuaire_claims::fhir::role_ids(p);
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|id| id.starts_with("810100271385-") && id.len() <= 64), "{before:?}");
    let mut more = p.clone();
    let mut new_site = more.exercices[0].activities[0].clone();
    new_site.structure.technical_id = "R00000000000001".into();
    new_site.structure.name = "AAA CENTRE".into();
    more.exercices[0].activities.insert(0, new_site);
    more.canonicalize();
    let after = annuaire_claims::fhir::role_ids(&more);
    assert_eq!(after.len(), 3);
    for id in &before {
        assert!(after.contains(id), "{id} lost: {after:?}");
    }
}
