//! The filters that also pick among one person's activities: the index finds the persons with *some* activity that
//! matches each filter; a PractitionerRole (or an Organization) is given only when its own activity matches all of
//! them, with the same matching rules as the index (prefixes of folded words, codes exactly).

use annuaire_schemas::model::{Activity, Exercice};
use annuaire_schemas::{AuthorityKind, Person};
use annuaire_search::fhir::{Clause, Param};
use annuaire_search::fold;

/// One activity of a person, with its place among them (for cursors) and its role id
/// (`annuaire_claims::fhir::role_ids`).
pub struct RoleRef<'a> {
    /// The exercice.
    pub exercice: &'a Exercice,
    /// The activity.
    pub activity: &'a Activity,
    /// The role's place among the person's (1-based).
    pub n: usize,
    /// The role's id.
    pub id: String,
}

/// A person's activities in the order of `annuaire_claims::fhir::practitioner_roles`.
pub fn of(p: &Person) -> Vec<RoleRef<'_>> {
    let mut ids = annuaire_claims::fhir::role_ids(p).into_iter();
    let mut out = Vec::new();
    for e in &p.exercices {
        for a in &e.activities {
            let n = out.len() + 1;
            out.push(RoleRef { exercice: e, activity: a, n, id: ids.next().unwrap_or_default() });
        }
    }
    out
}

fn words_prefix(have: &str, want: &str) -> bool {
    let have = fold(have);
    let have: Vec<&str> = have.split_whitespace().collect();
    let want = fold(want);
    let mut ws = want.split_whitespace().peekable();
    ws.peek().is_some() && ws.all(|w| have.iter().any(|h| h.starts_with(w)))
}

fn value_matches(r: &RoleRef<'_>, param: Param, v: &str) -> bool {
    let a = r.activity;
    let s = &a.structure;
    match param {
        Param::Id => r.id == v,
        Param::Organization => s.fhir_id().as_deref() == Some(v.strip_prefix("Organization/").unwrap_or(v)),
        Param::OrganizationIdentifier => {
            let v = v.rsplit('|').next().unwrap_or(v);
            [&s.technical_id, &s.old_id, &s.finess_site, &s.finess_ej, &s.siret].iter().any(|x| x.trim() == v)
        }
        Param::OrganizationName => words_prefix(&format!("{} {}", s.name, s.commercial_name), v),
        Param::PostalCode => s.postal_code.starts_with(v),
        Param::City => words_prefix(s.town(), v),
        Param::Department => s.department().is_some_and(|d| d.eq_ignore_ascii_case(v)),
        Param::RoleCode => [&r.exercice.profession, &a.genre, &a.mode, &a.role, &a.pharmacist_section, &a.sector]
            .iter()
            .any(|c| c.code == v),
        Param::Specialty => a.sector.code == v || r.exercice.savoir_faire.iter().any(|sf| sf.code.code == v),
        Param::Authority => match AuthorityKind::parse(v) {
            Some(k) => r.exercice.authority.kind == k,
            None => r.exercice.authority.name.eq_ignore_ascii_case(v),
        },
        // Person-level parameters are not per role: the index has checked them.
        _ => true,
    }
}

/// Whether a role matches every per-role clause (any value of each).
pub fn matches(r: &RoleRef<'_>, clauses: &[&Clause]) -> bool {
    clauses.iter().all(|c| c.values.iter().any(|v| value_matches(r, c.param, v.trim())))
}
