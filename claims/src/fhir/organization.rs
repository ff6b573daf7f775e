//! `Organization`: the structures of the activities (the IG's `as-organization`, example
//! `PP19DP-Organization-EG-CH.fsh`): a geographical entity with its RPPS rang, idNatSt, FINESS and SIRET, name,
//! address, phone, and its legal entity (FINESS EJ) as `partOf`.

use super::{ID_TYPE_SYSTEM, Meta, coding, identifier, nos_system};
use annuaire_schemas::Person;
use annuaire_schemas::codes::Kind;
use annuaire_schemas::model::{Activity, Structure};
use serde_json::{Value, json};

const ORG_TYPES: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-organization-types";

fn typed(slice: &str, coding: Value) -> Value {
    json!({"extension": [{"url": ORG_TYPES, "valueCode": slice}], "coding": [coding]})
}

fn address(s: &Structure) -> Option<Value> {
    let street: Vec<&str> =
        [s.street_number.as_str(), s.street_repetition.as_str(), s.street_type.code.as_str(), s.street_label.as_str()]
            .into_iter()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
    let mut lines: Vec<String> = [s.recipient_complement.trim(), s.geo_complement.trim()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if !street.is_empty() {
        lines.push(street.join(" "));
    }
    if !s.distribution.trim().is_empty() {
        lines.push(s.distribution.trim().to_string());
    }
    let city = s.town();
    let mut a = json!({"use": "work", "type": "both"});
    if !lines.is_empty() {
        a["line"] = json!(lines);
    }
    if !city.is_empty() {
        a["city"] = json!(city);
    }
    if !s.postal_code.trim().is_empty() {
        a["postalCode"] = json!(s.postal_code.trim());
    }
    if let Some(d) = s.department_code() {
        a["district"] = json!(d);
    }
    if !s.country.label.trim().is_empty() {
        a["country"] = json!(s.country.label.trim());
    }
    if !s.commune.code.trim().is_empty() {
        a["extension"] = json!([{
            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
            "valueCoding": {"system": nos_system("TRE_R13-Commune"), "code": s.commune.code.trim()},
        }]);
    }
    (a.as_object().map_or(0, |o| o.len()) > 2).then_some(a)
}

/// The `Organization` of an activity's structure (`None` when the structure has no identifier to name it by).
pub fn organization(a: &Activity, meta: &Meta) -> Option<Value> {
    let s = &a.structure;
    let id = s.fhir_id()?;
    let mut ids = Vec::new();
    if !s.technical_id.trim().is_empty() {
        ids.push(identifier("RPPSRG", Some("https://rppsrang.esante.gouv.fr"), s.technical_id.trim()));
    }
    if !s.old_id.trim().is_empty() {
        ids.push(identifier("IDNST", Some("urn:oid:1.2.250.1.71.4.2.2"), s.old_id.trim()));
    }
    if !s.finess_site.trim().is_empty() {
        ids.push(identifier("FINEG", Some("https://finess.esante.gouv.fr"), s.finess_site.trim()));
    }
    if !s.siret.trim().is_empty() {
        ids.push(identifier("SIRET", Some("https://sirene.fr"), s.siret.trim()));
    }
    if !s.siren.trim().is_empty() {
        ids.push(identifier("SIREN", Some("https://sirene.fr"), s.siren.trim()));
    }
    let mut types = vec![typed(
        "organizationType",
        json!({"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307", "code": "GEOGRAPHICAL-ENTITY"}),
    )];
    if let Some(c) = coding(Kind::Sector, &a.sector) {
        types.push(typed("secteurActiviteRASS", c));
    }
    let mut org = json!({
        "resourceType": "Organization",
        "id": id,
        "meta": meta.json("as-organization"),
        "identifier": ids,
        "active": true,
        "type": types,
    });
    if !s.name.trim().is_empty() {
        org["name"] = json!(s.name.trim());
    }
    if !s.commercial_name.trim().is_empty() {
        org["alias"] = json!([s.commercial_name.trim()]);
    }
    let mut telecom = Vec::new();
    for (system, value) in [("phone", &s.phone), ("phone", &s.phone2), ("fax", &s.fax), ("email", &s.email)] {
        if !value.trim().is_empty() {
            telecom.push(json!({"system": system, "value": value.trim()}));
        }
    }
    if !telecom.is_empty() {
        org["telecom"] = json!(telecom);
    }
    if let Some(a) = address(s) {
        org["address"] = json!([a]);
    }
    if !s.finess_ej.trim().is_empty() {
        org["partOf"] = json!({"identifier": {
            "system": "https://finess.esante.gouv.fr",
            "value": s.finess_ej.trim(),
            "type": {"coding": [{"system": ID_TYPE_SYSTEM, "code": "FINEJ"}]},
        }});
    }
    Some(org)
}

/// The distinct Organizations of a person's activities, in the order of their roles.
pub fn organizations_of(p: &Person, meta: &Meta) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    p.exercices
        .iter()
        .flat_map(|e| &e.activities)
        .filter(|a| a.structure.fhir_id().is_some_and(|id| seen.insert(id)))
        .filter_map(|a| organization(a, meta))
        .collect()
}
