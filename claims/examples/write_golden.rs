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
    let value = serde_json::json!({
        "Practitioner": annuaire_claims::fhir::practitioner(p),
        "PractitionerRole": annuaire_claims::fhir::practitioner_roles(p),
    });
    let path = root.join("tests/golden/fhir_810100271385.json");
    std::fs::write(&path, serde_json::to_string_pretty(&value)? + "\n")?;
    eprintln!("wrote {}: review the diff before committing it", path.display());
    Ok(())
}
