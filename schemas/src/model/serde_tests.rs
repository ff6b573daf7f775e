//! The record's serialised form.

use super::*;
use crate::authority::RegistrationField;

#[test]
fn records_round_trip_and_omit_empty_fields() {
    let p = Person {
        idnat: IdNat::new("810100271385"),
        id_type: "8".into(),
        id: "10100271385".into(),
        exercices: vec![Exercice {
            profession: Coded::new("10", "Médecin"),
            activities: vec![Activity {
                mode: Coded::new("L", ""),
                registration: RegistrationField::parse("CNOM/CNOM/CNOM"),
                structure: Structure { name: "CABINET".into(), ..Default::default() },
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let json = serde_json::to_string(&p).expect("json");
    assert!(!json.contains("\"\""), "no empty strings stored: {json}");
    assert!(json.contains("\"registration\":\"CNOM/CNOM/CNOM\""), "{json}");
    let back: Person = serde_json::from_str(&json).expect("back");
    assert_eq!(back, p);
    assert_eq!(back.exercices[0].activities[0].registration.situation, "CNOM");
}
