//! The stored record of a person: how a [`Person`] is written in `person_version.record`, read back, and hashed
//! for the diff. Every writer and reader of stored records goes through [`encode`] and [`decode`].
//!
//! **Encoding 1** ([`ENCODING`]) is the JSON of `annuaire_schemas`' serde form: field names as the serde attributes
//! of `schemas/src/model.rs` and `authority.rs` give them, empty strings, empty lists and blank codes left out, every
//! list in the order `Person::canonicalize` gives. The change hash is xxh3-128 of those bytes, so the same record
//! always gives the same hash, and a sync compares hashes only.
//!
//! The HTTP API does not use this form (its bodies are the binary's wire types), so nothing outside storage
//! depends on it. It must not move by accident: renaming a Rust field, or changing what is left out, would change
//! every stored record's bytes and hash (the next sync would see every person updated, and the gate would hold it).
//! `tests::encoding_1_is_frozen` pins every field name and the hash of a record that fills every field; a change
//! it catches needs a new [`ENCODING`] and a migration of the stored records, on purpose.

use crate::{Error, Result};
use annuaire_schemas::Person;

/// The version of the stored encoding.
pub const ENCODING: u32 = 1;

/// A record as stored: its bytes and their hash (32 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The stored text.
    pub record: String,
    /// xxh3-128 of `record`, hex.
    pub hash: String,
}

/// Encode a record (already canonicalised) for storage, with its change hash.
pub fn encode(p: &Person) -> Result<Encoded> {
    let record = serde_json::to_string(p).map_err(|e| Error::Record(e.to_string()))?;
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(record.as_bytes()));
    Ok(Encoded { record, hash })
}

/// A stored record as a [`Person`].
pub fn decode(record: &str) -> Result<Person> {
    serde_json::from_str(record).map_err(|e| Error::Record(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use annuaire_schemas::authority::{AuthorityKind, AuthoritySource};
    use annuaire_schemas::model::*;
    use annuaire_schemas::{Authority, IdNat, RegistrationField};

    fn c(code: &str, label: &str) -> Coded {
        Coded::new(code, label)
    }

    /// A record with every field of every part filled.
    fn full() -> Person {
        let structure = Structure {
            siret: "si".into(),
            siren: "sn".into(),
            finess_site: "fs".into(),
            finess_ej: "fe".into(),
            technical_id: "ti".into(),
            name: "na".into(),
            commercial_name: "cn".into(),
            recipient_complement: "rc".into(),
            geo_complement: "gc".into(),
            street_number: "1".into(),
            street_repetition: "B".into(),
            street_type: c("R", "Rue"),
            street_label: "sl".into(),
            distribution: "di".into(),
            cedex_office: "co".into(),
            postal_code: "75001".into(),
            commune: c("75101", "Paris"),
            country: c("99100", "France"),
            phone: "ph".into(),
            phone2: "p2".into(),
            fax: "fx".into(),
            email: "em".into(),
            department: c("75", "Paris"),
            old_id: "oi".into(),
        };
        Person {
            idnat: IdNat::new("810100271385"),
            id_type: "8".into(),
            id: "10100271385".into(),
            civilite: c("M", "Monsieur"),
            exercices: vec![Exercice {
                profession: c("10", "Médecin"),
                category: c("C", "Civil"),
                civilite_exercice: c("DR", "Docteur"),
                family_name: "F".into(),
                given_name: "G".into(),
                authority: Authority {
                    kind: AuthorityKind::Ordre,
                    name: "CNOM".into(),
                    source: AuthoritySource::Field,
                },
                savoir_faire: vec![SavoirFaire {
                    kind: c("S", "Spécialité"), code: c("SM54", "Médecine générale")
                }],
                activities: vec![Activity {
                    mode: c("L", "Libéral"),
                    sector: c("SA07", "Cabinet"),
                    pharmacist_section: c("A", "Section A"),
                    role: c("FON-01", "Rôle"),
                    genre: c("GENR01", "Genre"),
                    registration: RegistrationField::parse("CNOM/CNOM/CNOM"),
                    structure,
                }],
            }],
            diplomas: vec![Diploma {
                diploma_type: c("DE", "Diplôme d'Etat"),
                diploma: c("DE01", "DE de docteur"),
                authorisation_type: c("A", "Autorisation"),
                authorisation_discipline: c("D", "Discipline"),
            }],
            civil_status: Some(CivilStatus {
                family_name: "FN".into(),
                first_names: vec!["A".into(), "B".into()],
                first_names_raw: "A'B".into(),
                birth_date: "1970-01-02".into(),
                birth_date_raw: "02/01/1970".into(),
                birth_commune: "bc".into(),
                birth_country: "bp".into(),
                birth_place: "pl".into(),
                sex: "M".into(),
                phone: "ph".into(),
                email: "em".into(),
            }),
            cards: vec![Card {
                number: "2100000001".into(),
                card_type: c("CPS", "Carte de professionnel de santé"),
                embedded_id: "ei".into(),
                valid_from: "2024-01-01".into(),
                valid_to: "2027-01-01".into(),
                opposed_on: "2026-01-01".into(),
                updated_on: "2025-01-01".into(),
            }],
            mailboxes: vec![Mailbox {
                address: "a@medecin.mssante.fr".into(),
                kind: "PER".into(),
                structure_id: "sid".into(),
                service: "sv".into(),
                structure_name: "sn".into(),
                dematerialisation: "O".into(),
            }],
        }
    }

    const FROZEN: &str = concat!(
        r#"{"idnat":"810100271385","id_type":"8","id":"10100271385","civilite":{"code":"M","label":"Monsieur"},"#,
        r#""exercices":[{"profession":{"code":"10","label":"Médecin"},"category":{"code":"C","label":"Civil"},"#,
        r#""civilite_exercice":{"code":"DR","label":"Docteur"},"family_name":"F","given_name":"G","#,
        r#""authority":{"kind":"ordre","name":"CNOM","source":"field"},"#,
        r#""savoir_faire":[{"kind":{"code":"S","label":"Spécialité"},"code":{"code":"SM54","label":"Médecine générale"}}],"#,
        r#""activities":[{"mode":{"code":"L","label":"Libéral"},"sector":{"code":"SA07","label":"Cabinet"},"#,
        r#""pharmacist_section":{"code":"A","label":"Section A"},"role":{"code":"FON-01","label":"Rôle"},"#,
        r#""genre":{"code":"GENR01","label":"Genre"},"registration":"CNOM/CNOM/CNOM","#,
        r#""structure":{"siret":"si","siren":"sn","finess_site":"fs","finess_ej":"fe","technical_id":"ti","name":"na","#,
        r#""commercial_name":"cn","recipient_complement":"rc","geo_complement":"gc","street_number":"1","#,
        r#""street_repetition":"B","street_type":{"code":"R","label":"Rue"},"street_label":"sl","distribution":"di","#,
        r#""cedex_office":"co","postal_code":"75001","commune":{"code":"75101","label":"Paris"},"#,
        r#""country":{"code":"99100","label":"France"},"phone":"ph","phone2":"p2","fax":"fx","email":"em","#,
        r#""department":{"code":"75","label":"Paris"},"old_id":"oi"}}]}],"#,
        r#""diplomas":[{"diploma_type":{"code":"DE","label":"Diplôme d'Etat"},"diploma":{"code":"DE01","label":"DE de docteur"},"#,
        r#""authorisation_type":{"code":"A","label":"Autorisation"},"authorisation_discipline":{"code":"D","label":"Discipline"}}],"#,
        r#""civil_status":{"family_name":"FN","first_names":["A","B"],"first_names_raw":"A'B","birth_date":"1970-01-02","#,
        r#""birth_date_raw":"02/01/1970","birth_commune":"bc","birth_country":"bp","birth_place":"pl","sex":"M","#,
        r#""phone":"ph","email":"em"},"#,
        r#""cards":[{"number":"2100000001","card_type":{"code":"CPS","label":"Carte de professionnel de santé"},"#,
        r#""embedded_id":"ei","valid_from":"2024-01-01","valid_to":"2027-01-01","opposed_on":"2026-01-01","#,
        r#""updated_on":"2025-01-01"}],"#,
        r#""mailboxes":[{"address":"a@medecin.mssante.fr","kind":"PER","structure_id":"sid","service":"sv","#,
        r#""structure_name":"sn","dematerialisation":"O"}]}"#,
    );

    #[test]
    fn encoding_1_is_frozen() -> Result<()> {
        let e = encode(&full())?;
        assert_eq!(e.record, FROZEN, "the stored encoding moved: bump ENCODING and migrate the stored records");
        assert_eq!(e.hash, format!("{:032x}", xxhash_rust::xxh3::xxh3_128(FROZEN.as_bytes())));
        assert_eq!(decode(&e.record)?, full());
        // Empty parts are left out.
        let bare = Person { idnat: IdNat::new("810000000001"), ..Person::default() };
        assert_eq!(encode(&bare)?.record, r#"{"idnat":"810000000001","exercices":[]}"#);
        Ok(())
    }

    #[test]
    fn a_record_that_is_not_encoding_1_is_an_error_not_a_panic() {
        for bad in ["", "{", "[]", r#"{"exercices":[]}"#, r#"{"idnat":3,"exercices":[]}"#] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
