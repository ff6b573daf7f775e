//! FHIR R4 resources of a professional, after the Annuaire Santé FHIR profiles (extract-format.md §12):
//! a `Practitioner` (identifiers, names, qualifications) and one `PractitionerRole` per activity (mode,
//! genre, role, sector, profession; the practitioner and the organisation by reference).
//!
//! Identifier systems as documented: idNatPs `urn:oid:1.2.250.1.71.4.2.1` (type `IDNPS`), RPPS
//! `https://rpps.esante.gouv.fr` (type `RPPS`), structures' idNatSt `urn:oid:1.2.250.1.71.4.2.2`
//! (type `IDNST`), FINESS `https://finess.esante.gouv.fr`, PractitionerRole `https://annuaire.sante.fr`.
//! Codings use the NOS canonical URLs (`https://mos.esante.gouv.fr/NOS/TRE_X/FHIR/TRE-X`). The ADELI
//! identifier system is not documented in our sources: ADELI numbers carry their type and no system.

use annuaire_schemas::codes::{self, Kind};
use annuaire_schemas::model::Coded;
use annuaire_schemas::{IdType, Person};
use serde_json::{Value, json};

const ID_TYPE_SYSTEM: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
const PROFILE_PRACTITIONER: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitioner";
const PROFILE_ROLE: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitionerrole";

/// The NOS canonical URL of a TRE table: `TRE_G15-ProfessionSante` →
/// `https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante`.
pub fn nos_system(table: &str) -> String {
    format!("https://mos.esante.gouv.fr/NOS/{table}/FHIR/{}", table.replacen('_', "-", 1))
}

/// Default table of a kind, for codes the shipped tables do not know.
fn default_table(kind: Kind) -> &'static str {
    match kind {
        Kind::Profession => "TRE_G15-ProfessionSante",
        Kind::Category => "TRE_R09-CategorieProfessionnelle",
        Kind::SavoirFaire => "TRE_R38-SpecialiteOrdinale",
        Kind::Mode => "TRE_R23-ModeExercice",
        Kind::Sector => "TRE_R02-SecteurActivite",
        Kind::Role => "TRE_R21-Fonction",
        Kind::Genre => "TRE_R22-GenreActivite",
        Kind::PharmacistSection => "TRE_R06-SectionTableauCNOP",
        Kind::DiplomaType => "TRE_R14-TypeDiplome",
        Kind::CiviliteExercice => "TRE_R11-CiviliteExercice",
        _ => "TRE_R04-TypeSavoirFaire",
    }
}

/// A CodeableConcept for a code, with the file's label as display (the TRE's when the file has none).
fn concept(kind: Kind, c: &Coded) -> Option<Value> {
    if c.code.is_empty() {
        return None;
    }
    let entry = codes::lookup(kind, &c.code);
    let table = entry.map_or(default_table(kind), |e| e.table);
    let display = if c.label.is_empty() { entry.map(|e| e.label).unwrap_or_default() } else { c.label.trim() };
    let mut coding = json!({"system": nos_system(table), "code": c.code});
    if !display.is_empty() {
        coding["display"] = json!(display);
    }
    Some(json!({"coding": [coding]}))
}

/// The table of a savoir-faire code, by its type (ANS-DSFT-restreint TBL_16, extract-format.md §10).
pub fn savoir_faire_table(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "S" => "TRE_R38-SpecialiteOrdinale",
        "C" => "TRE_R39-Competence",
        "CEX" => "TRE_R40-CompetenceExclusive",
        "OP" => "TRE_G13-OrientationParticuliere",
        "DNQ" => "TRE_R42-DESCnonQualifiant",
        "CAPA" => "TRE_R43-CapaciteSavoirFaire",
        "PAC" => "TRE_R44-QualificationPAC",
        "FQ" => "TRE_R45-FonctionQualifiee",
        "SH" => "TRE_R46-SpecialiteConcoursHospitalier",
        "DEC" => "TRE_R97-DroitExerciceCompl",
        _ => return None,
    })
}

fn savoir_faire_concept(kind: &str, code: &Coded) -> Option<Value> {
    if kind == "S" {
        return concept(Kind::SavoirFaire, code);
    }
    let table = savoir_faire_table(kind)?;
    if code.code.is_empty() {
        return None;
    }
    let mut coding = json!({"system": nos_system(table), "code": code.code});
    if !code.label.trim().is_empty() {
        coding["display"] = json!(code.label.trim());
    }
    Some(json!({"coding": [coding]}))
}

fn identifier(type_code: &str, system: Option<&str>, value: &str) -> Value {
    let mut id = json!({
        "use": "official",
        "type": {"coding": [{"system": ID_TYPE_SYSTEM, "code": type_code}]},
        "value": value,
    });
    if let Some(s) = system {
        id["system"] = json!(s);
    }
    id
}

/// The `Practitioner` of a person.
pub fn practitioner(p: &Person) -> Value {
    let idnat = p.idnat.as_str();
    let mut identifiers = vec![identifier("IDNPS", Some("urn:oid:1.2.250.1.71.4.2.1"), idnat)];
    match p.idnat.id_type() {
        IdType::Rpps => identifiers.push(identifier("RPPS", Some("https://rpps.esante.gouv.fr"), p.idnat.bare())),
        IdType::Adeli => identifiers.push(identifier("ADELI", None, p.idnat.bare())),
        _ => {}
    }
    let mut names = Vec::new();
    for ex in &p.exercices {
        let mut name = json!({"use": "usual", "family": ex.family_name, "given": [ex.given_name]});
        if let Some(label) = codes::label(Kind::CiviliteExercice, &ex.civilite_exercice.code) {
            name["prefix"] = json!([label]);
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut qualifications = Vec::new();
    for ex in &p.exercices {
        qualifications.extend(concept(Kind::Profession, &ex.profession).map(|c| json!({"code": c})));
        qualifications.extend(concept(Kind::Category, &ex.category).map(|c| json!({"code": c})));
        for sf in &ex.savoir_faire {
            qualifications.extend(savoir_faire_concept(&sf.kind.code, &sf.code).map(|c| json!({"code": c})));
        }
    }
    for d in &p.diplomas {
        qualifications.extend(concept(Kind::DiplomaType, &d.diploma_type).map(|c| {
            let mut q = json!({"code": c});
            if !d.diploma.code.is_empty() {
                q["identifier"] = json!([{"value": d.diploma.code}]);
            }
            q
        }));
    }
    let mut out = json!({
        "resourceType": "Practitioner",
        "id": idnat,
        "meta": {"profile": [PROFILE_PRACTITIONER]},
        "identifier": identifiers,
        "active": true,
        "name": names,
        "qualification": qualifications,
    });
    if let Some(gender) = match p.civilite.code.as_str() {
        "M" => Some("male"),
        "MME" | "MLLE" => Some("female"),
        _ => None,
    } {
        out["gender"] = json!(gender);
    }
    out
}

/// One `PractitionerRole` per activity of every exercice (ids `<idNat>-<n>`, in canonical order).
pub fn practitioner_roles(p: &Person) -> Vec<Value> {
    let idnat = p.idnat.as_str();
    let mut out = Vec::new();
    for ex in &p.exercices {
        for a in &ex.activities {
            let id = format!("{idnat}-{}", out.len() + 1);
            let codes: Vec<Value> = [
                concept(Kind::Profession, &ex.profession),
                concept(Kind::Genre, &a.genre),
                concept(Kind::Mode, &a.mode),
                concept(Kind::Role, &a.role),
                concept(Kind::PharmacistSection, &a.pharmacist_section),
            ]
            .into_iter()
            .flatten()
            .collect();
            let s = &a.structure;
            let mut org = json!({"display": s.name});
            if !s.old_id.is_empty() {
                org["identifier"] = json!({"system": "urn:oid:1.2.250.1.71.4.2.2", "value": s.old_id,
                    "type": {"coding": [{"system": ID_TYPE_SYSTEM, "code": "IDNST"}]}});
            } else if !s.finess_site.is_empty() {
                org["identifier"] = json!({"system": "https://finess.esante.gouv.fr", "value": s.finess_site});
            }
            let mut role = json!({
                "resourceType": "PractitionerRole",
                "id": id,
                "meta": {"profile": [PROFILE_ROLE]},
                "identifier": [{"system": "https://annuaire.sante.fr", "value": id}],
                "active": true,
                "practitioner": {"reference": format!("Practitioner/{idnat}")},
                "organization": org,
                "code": codes,
            });
            if let Some(sector) = concept(Kind::Sector, &a.sector) {
                role["specialty"] = json!([sector]);
            }
            if !a.registration.raw.is_empty() {
                role["extension"] = json!([{
                    "url": "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-practitionerrole-registration",
                    "valueString": a.registration.raw,
                }]);
            }
            out.push(role);
        }
    }
    out
}

/// A `searchset` Bundle of resources.
pub fn bundle(base: &str, resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!("{base}/{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            json!({"fullUrl": url, "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nos_canonical_urls() {
        assert_eq!(
            nos_system("TRE_R22-GenreActivite"),
            "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite"
        );
    }
}
