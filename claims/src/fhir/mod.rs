//! FHIR R4 resources of the directory, after the Annuaire Santé implementation guide (repository
//! `ansforge/IG-fhir-annuaire`: profiles `as-practitioner`, `as-practitionerrole`, `as-organization`; examples
//! `input/fsh/examples/DP/PP19DP-*.fsh`): a `Practitioner` per person, one `PractitionerRole` per activity, one
//! `Organization` per structure.
//!
//! Identifier systems as the IG gives them: idNatPs `urn:oid:1.2.250.1.71.4.2.1` (type `IDNPS`), RPPS
//! `https://rpps.esante.gouv.fr` (type `RPPS`), structures' idNatSt `urn:oid:1.2.250.1.71.4.2.2` (type `IDNST`),
//! FINESS `https://finess.esante.gouv.fr` (type `FINEG`/`FINEJ`), RPPS rang `https://rppsrang.esante.gouv.fr` (type
//! `RPPSRG`), types from `https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203`. Codings use the NOS canonical
//! URLs (`https://mos.esante.gouv.fr/NOS/TRE_X/FHIR/TRE-X`). The IG documents no system for ADELI numbers and SIRET
//! (`https://sirene.fr` here, FR Core's); ADELI numbers carry their type and no system.

mod organization;
mod practitioner;

pub use organization::{organization, organizations_of};
pub use practitioner::{practitioner, practitioner_roles, role_ids};

use annuaire_schemas::codes::{self, Kind};
use annuaire_schemas::model::Coded;
use serde_json::{Value, json};

pub(crate) const ID_TYPE_SYSTEM: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
const IG: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition";

/// What a resource's `meta` and `active` say: the generation that wrote its version, when that generation was
/// promoted, and, for a person gone from the extract, when the generation that removed them was promoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// The generation that wrote the version (`meta.versionId`).
    pub version: i64,
    /// When that generation was promoted, RFC 3339 (`meta.lastUpdated`).
    pub last_updated: String,
    /// When the person left the extract (RFC 3339): the resource is then `active: false`.
    pub left: Option<String>,
}

impl Meta {
    fn json(&self, profile: &str) -> Value {
        let mut m = json!({"profile": [format!("{IG}/{profile}")], "source": "https://annuaire.esante.gouv.fr"});
        if self.version > 0 {
            m["versionId"] = json!(self.version.to_string());
        }
        if !self.last_updated.is_empty() {
            m["lastUpdated"] = json!(self.last_updated);
        }
        m
    }
}

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
        Kind::Authority => "TRE_R60-AutoriteEnregistrement",
        _ => "TRE_R04-TypeSavoirFaire",
    }
}

/// A Coding for a code, with the file's label as display (the TRE's when the file has none).
fn coding(kind: Kind, c: &Coded) -> Option<Value> {
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
    Some(coding)
}

/// A CodeableConcept of one coding.
fn concept(kind: Kind, c: &Coded) -> Option<Value> {
    coding(kind, c).map(|c| json!({"coding": [c]}))
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

/// The IG's `as-ext-data-trace`: the registration authority (TRE_R60) and the information system.
fn data_trace(authority: Option<&str>, system: &str) -> Value {
    let mut parts = Vec::new();
    if let Some(a) = authority.filter(|a| !a.is_empty()) {
        let c = Coded { code: annuaire_schemas::Text::owned(a), label: annuaire_schemas::Text::default() };
        parts.extend(
            concept(Kind::Authority, &c).map(|v| json!({"url": "autorite-enregistrement", "valueCodeableConcept": v})),
        );
    }
    parts.push(json!({"url": "systeme-information", "valueCode": system}));
    json!({"url": format!("{IG}/as-ext-data-trace"), "extension": parts})
}

/// An entry of a Bundle: `fullUrl` under `base`, the resource, and how it was found (`match` or `include`).
pub fn entry(base: &str, resource: Value, mode: &str) -> Value {
    let url =
        format!("{base}/{}/{}", resource["resourceType"].as_str().unwrap_or(""), resource["id"].as_str().unwrap_or(""));
    json!({"fullUrl": url, "resource": resource, "search": {"mode": mode}})
}

/// A `searchset` Bundle of resources that all matched.
pub fn bundle(base: &str, resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources.into_iter().map(|r| entry(base, r, "match")).collect();
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
