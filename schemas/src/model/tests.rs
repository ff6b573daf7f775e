//! The record's order, emptiness and claim rules.

use super::*;
use crate::authority::RegistrationField;

fn activity(mode: &str, name: &str) -> Activity {
    Activity {
        mode: Coded::new(mode, ""),
        structure: Structure { name: name.into(), ..Default::default() },
        ..Default::default()
    }
}

#[test]
fn canonical_order_puts_liberal_activities_first_and_ignores_row_order() {
    let ex = |acts: Vec<Activity>| Exercice {
        profession: Coded::new("10", "Médecin"),
        activities: acts,
        ..Default::default()
    };
    let mut a = Person {
        exercices: vec![ex(vec![activity("S", "HOPITAL"), activity("L", "CABINET"), activity("S", "HOPITAL")])],
        ..Default::default()
    };
    let mut b =
        Person { exercices: vec![ex(vec![activity("L", "CABINET"), activity("S", "HOPITAL")])], ..Default::default() };
    a.canonicalize();
    b.canonicalize();
    assert_eq!(a, b);
    assert_eq!(a.exercices[0].activities.len(), 2);
    assert_eq!(a.main_activity().map(|(_, act)| act.structure.name.as_str()), Some("CABINET"));
}

/// `is_empty` is equality with the default: a structure or an activity with any one field filled is not empty.
#[test]
fn a_structure_or_activity_is_empty_only_when_it_is_the_default() {
    assert!(Structure::default().is_empty() && Activity::default().is_empty());
    let structure_fields = [
        "siret",
        "siren",
        "finess_site",
        "finess_ej",
        "technical_id",
        "name",
        "commercial_name",
        "recipient_complement",
        "geo_complement",
        "street_number",
        "street_repetition",
        "street_label",
        "distribution",
        "cedex_office",
        "postal_code",
        "phone",
        "phone2",
        "fax",
        "email",
        "old_id",
    ];
    let coded = ["street_type", "commune", "country", "department"];
    let mut checked = 0;
    for (field, value) in structure_fields.iter().map(|f| (*f, serde_json::json!("x"))).chain(
        coded.iter().flat_map(|f| [(*f, serde_json::json!({"code": "x"})), (*f, serde_json::json!({"label": "x"}))]),
    ) {
        let s: Structure = serde_json::from_value(serde_json::json!({ field: value })).expect("a structure");
        assert_ne!(s, Structure::default(), "{field}");
        assert!(!s.is_empty(), "{field}");
        let a = Activity { structure: s, ..Default::default() };
        assert!(!a.is_empty(), "{field}");
        checked += 1;
    }
    // Every field of the struct was set once (a field missing from the lists above fails here).
    let full = serde_json::to_value(Structure {
        street_type: Coded::new("x", ""),
        commune: Coded::new("x", ""),
        country: Coded::new("x", ""),
        department: Coded::new("x", ""),
        ..serde_json::from_value(serde_json::Value::Object(
            structure_fields.iter().map(|f| (f.to_string(), serde_json::json!("x"))).collect(),
        ))
        .expect("a structure")
    })
    .expect("json");
    assert_eq!(full.as_object().map(|o| o.len()), Some(structure_fields.len() + coded.len()));
    assert_eq!(checked, structure_fields.len() + 2 * coded.len());
    for a in [
        Activity { mode: Coded::new("", "x"), ..Default::default() },
        Activity { genre: Coded::new("x", ""), ..Default::default() },
        Activity {
            registration: RegistrationField { situation: "x".into(), ..Default::default() },
            ..Default::default()
        },
    ] {
        assert_ne!(a, Activity::default());
        assert!(!a.is_empty(), "{a:?}");
    }
}

#[test]
fn claim_savoir_faire_prefers_s_then_cex_then_pac() {
    let sf = |k: &str, c: &str| SavoirFaire { kind: Coded::new(k, ""), code: Coded::new(c, "") };
    let ex =
        Exercice { savoir_faire: vec![sf("C", "CAPA1"), sf("CEX", "CEX9"), sf("S", "SM53")], ..Default::default() };
    assert_eq!(ex.claim_savoir_faire().map(|s| s.code.code.as_str()), Some("SM53"));
    let ex = Exercice { savoir_faire: vec![sf("C", "X"), sf("PAC", "PAC00")], ..Default::default() };
    assert_eq!(ex.claim_savoir_faire().map(|s| s.code.code.as_str()), Some("PAC00"));
    let ex = Exercice { savoir_faire: vec![sf("DEC", "X")], ..Default::default() };
    assert!(ex.claim_savoir_faire().is_none());
}
