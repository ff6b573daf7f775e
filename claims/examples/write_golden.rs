//! Write the reviewed golden files that are this implementation's own output (today: the FHIR resources of the
//! doctor with two activities). Tests never write a golden file; this command does, on purpose, and the diff is
//! reviewed before it is committed:
//!
//! ```text
//! cargo run -p annuaire-claims --example write_golden && git diff claims/tests/golden/
//! ```

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = annuaire_ingest::Source::open(&root.join("../data-samples/PS_LibreAcces"))?;
    let persons = annuaire_ingest::read_extract(&source, &|_, _| {})?.persons;
    let p = persons.iter().find(|p| p.idnat.as_str() == "810100271385").ok_or("810100271385 not in the sample")?;
    let value = {
        // A fixed version: the golden file shows the shape of `meta`, not a run's clock.
        let meta = annuaire_claims::fhir::Meta { version: 3, last_updated: "2026-11-30T02:00:00Z".into(), left: None };
        serde_json::json!({
            "Practitioner": annuaire_claims::fhir::practitioner(p, &meta),
            "PractitionerRole": annuaire_claims::fhir::practitioner_roles(p, &meta),
            "Organization": annuaire_claims::fhir::organizations_of(p, &meta),
        })
    };
    let path = root.join("tests/golden/fhir_810100271385.json");
    std::fs::write(&path, serde_json::to_string_pretty(&value)? + "\n")?;
    eprintln!("wrote {}: review the diff before committing it", path.display());
    Ok(())
}
