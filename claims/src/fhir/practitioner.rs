//! `Practitioner` (one per person: identifiers, exercise names, qualifications, CPx cards, MSSanté mailboxes) and
//! `PractitionerRole` (one per activity: genre, mode, role, section, sector; the practitioner and the organisation by
//! reference), after the IG's `as-practitioner` and `as-practitionerrole` and its example
//! `PP19DP-Practitioner.fsh`.

use super::{IG, Meta, concept, data_trace, identifier, nos_system, savoir_faire_table};
use annuaire_schemas::codes::{self, Kind};
use annuaire_schemas::model::Coded;
use annuaire_schemas::{IdType, Person};
use serde_json::{Value, json};

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

/// A date of the extract (`dd/mm/yyyy` or `yyyy-mm-dd`) as a FHIR date, if it reads as one.
fn fhir_date(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() == 10 && digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) {
        return Some(raw.to_string());
    }
    if b.len() == 10 && digits(0..2) && b[2] == b'/' && digits(3..5) && b[5] == b'/' && digits(6..10) {
        return Some(format!("{}-{}-{}", &raw[6..10], &raw[3..5], &raw[0..2]));
    }
    None
}

/// The IG's `as-ext-smartcard` for each CPx card.
fn smartcards(p: &Person) -> Vec<Value> {
    p.cards
        .iter()
        .map(|c| {
            let mut parts = Vec::new();
            if !c.card_type.code.is_empty() {
                let mut coding = json!({"system": nos_system("TRE_R87-TypeCarte"), "code": c.card_type.code});
                if !c.card_type.label.trim().is_empty() {
                    coding["display"] = json!(c.card_type.label.trim());
                }
                parts.push(json!({"url": "type", "valueCodeableConcept": {"coding": [coding]}}));
            }
            parts.push(json!({"url": "number", "valueString": c.number.trim()}));
            let mut period = json!({});
            if let Some(d) = fhir_date(&c.valid_from) {
                period["start"] = json!(d);
            }
            if let Some(d) = fhir_date(&c.valid_to) {
                period["end"] = json!(d);
            }
            if period.as_object().is_some_and(|o| !o.is_empty()) {
                parts.push(json!({"url": "period", "valuePeriod": period}));
            }
            if let Some(d) = fhir_date(&c.opposed_on) {
                parts.push(json!({"url": "oppositionDate", "valueDateTime": d}));
            }
            json!({"url": format!("{IG}/as-ext-smartcard"), "extension": parts})
        })
        .collect()
}

/// MSSanté mailboxes as the IG's `telecom[mailbox-mss]` (FR Core's e-mail type `MSSANTE`, TRE_R256).
fn mailboxes(p: &Person) -> Vec<Value> {
    p.mailboxes
        .iter()
        .filter(|m| !m.address.trim().is_empty())
        .map(|m| {
            json!({
                "system": "email",
                "value": m.address.trim(),
                "extension": [{
                    "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type",
                    "valueCoding": {"system": nos_system("TRE_R256-TypeMessagerie"), "code": "MSSANTE"},
                }],
            })
        })
        .collect()
}

/// The `Practitioner` of a person.
pub fn practitioner(p: &Person, meta: &Meta) -> Value {
    let idnat = p.idnat.as_str();
    let mut identifiers = vec![identifier("IDNPS", Some("urn:oid:1.2.250.1.71.4.2.1"), idnat)];
    match p.idnat.id_type() {
        IdType::Rpps => identifiers.push(identifier("RPPS", Some("https://rpps.esante.gouv.fr"), p.idnat.bare())),
        IdType::Adeli => identifiers.push(identifier("ADELI", None, p.idnat.bare())),
        _ => {}
    }
    let mut names = Vec::new();
    for ex in &p.exercices {
        let mut name = json!({"use": "usual"});
        if !ex.family_name.trim().is_empty() {
            name["family"] = json!(ex.family_name);
        }
        if !ex.given_name.trim().is_empty() {
            name["given"] = json!([ex.given_name]);
        }
        if let Some(label) = codes::label(Kind::CiviliteExercice, &ex.civilite_exercice.code) {
            name["prefix"] = json!([label]);
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let left = meta.left.as_deref().and_then(|l| l.get(..10));
    let mut qualifications = Vec::new();
    for ex in &p.exercices {
        qualifications.extend(concept(Kind::Profession, &ex.profession).map(|c| match left {
            Some(end) => json!({"code": c, "period": {"end": end}}),
            None => json!({"code": c}),
        }));
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
    let authority = p.exercices.iter().map(|e| e.authority.name.as_str()).find(|n| !n.is_empty());
    let mut extensions = vec![data_trace(authority, "RPPS")];
    extensions.extend(smartcards(p));
    let mut out = json!({
        "resourceType": "Practitioner",
        "id": idnat,
        "meta": meta.json("as-practitioner"),
        "extension": extensions,
        "identifier": identifiers,
        "active": meta.left.is_none(),
        "name": names,
        "qualification": qualifications,
    });
    let telecom = mailboxes(p);
    if !telecom.is_empty() {
        out["telecom"] = json!(telecom);
    }
    if let Some(gender) = match p.civilite.code.as_str() {
        "M" => Some("male"),
        "MME" | "MLLE" => Some("female"),
        _ => None,
    } {
        out["gender"] = json!(gender);
    }
    out
}

/// The ids of a person's PractitionerRoles, in the order of [`practitioner_roles`]: `<idNat>-<key>`, where the key
/// (8 hex digits) is a hash of what makes the activity (profession, category, structure, mode, genre, function,
/// section, sector), so that an id names the same work site in every generation while it lasts, whatever else the
/// person gains or loses (`-2`, `-3` … follow a key twice in one person).
pub fn role_ids(p: &Person) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ex in &p.exercices {
        for a in &ex.activities {
            let s = &a.structure;
            let place = s.fhir_id().unwrap_or_else(|| format!("{}|{}|{}", s.name, s.postal_code, s.commune.code));
            let key = [
                ex.profession.code.as_str(),
                ex.category.code.as_str(),
                place.as_str(),
                a.mode.code.as_str(),
                a.genre.code.as_str(),
                a.role.code.as_str(),
                a.pharmacist_section.code.as_str(),
                a.sector.code.as_str(),
            ]
            .join("|");
            // FNV-1a: stable across releases and platforms (the ids are published).
            let hash =
                key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
            let base = format!("{}-{:08x}", p.idnat.as_str(), (hash >> 32) as u32 ^ hash as u32);
            let mut id = base.clone();
            let mut n = 1;
            while out.contains(&id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            out.push(id);
        }
    }
    out
}

/// One `PractitionerRole` per activity of every exercice (ids from [`role_ids`]), in canonical order.
pub fn practitioner_roles(p: &Person, meta: &Meta) -> Vec<Value> {
    let idnat = p.idnat.as_str();
    let ids = role_ids(p);
    let mut out = Vec::new();
    for ex in &p.exercices {
        for a in &ex.activities {
            let id = ids.get(out.len()).cloned().unwrap_or_default();
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
            let mut org = json!({});
            if !s.name.trim().is_empty() {
                org["display"] = json!(s.name);
            }
            if let Some(oid) = s.fhir_id() {
                org["reference"] = json!(format!("Organization/{oid}"));
            }
            if !s.old_id.is_empty() {
                org["identifier"] = json!({"system": "urn:oid:1.2.250.1.71.4.2.2", "value": s.old_id,
                    "type": {"coding": [{"system": super::ID_TYPE_SYSTEM, "code": "IDNST"}]}});
            } else if !s.finess_site.is_empty() {
                org["identifier"] = json!({"system": "https://finess.esante.gouv.fr", "value": s.finess_site});
            }
            let mut extensions = vec![data_trace(Some(ex.authority.name.as_str()), "RPPS")];
            if !a.registration.raw.is_empty() {
                extensions.push(json!({
                    "url": format!("{IG}/as-ext-practitionerrole-registration"),
                    "valueString": a.registration.raw,
                }));
            }
            let mut role = json!({
                "resourceType": "PractitionerRole",
                "id": id,
                "meta": meta.json("as-practitionerrole"),
                "extension": extensions,
                "identifier": [{"system": "https://annuaire.sante.fr", "value": id}],
                "active": meta.left.is_none(),
                "practitioner": {"reference": format!("Practitioner/{idnat}")},
                "organization": org,
                "code": codes,
            });
            if let Some(sector) = concept(Kind::Sector, &a.sector) {
                role["specialty"] = json!([sector]);
            }
            out.push(role);
        }
    }
    out
}
