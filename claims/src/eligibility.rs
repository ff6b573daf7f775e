//! Eligibility of a professional for a client service, from that service's policy.
//!
//! A professional is eligible when **one exercice** satisfies every condition the policy gives; the
//! activity-level conditions (modes, sectors, roles, departments, `require_activity`) must all hold for
//! at least one activity of that exercice. Conditions left out do not constrain. When no exercice
//! qualifies, the reasons say, for each exercice, which conditions failed.

use annuaire_schemas::{Exercice, Person};
use serde::{Deserialize, Serialize};

/// The policy of one client service (`[services.NAME]` in the config file). Every list is an allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Profession codes (`10`, `21` ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub professions: Vec<String>,
    /// Category codes (`C`, `E`, `M` ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Savoir-faire codes (`SM53` ...): one of the exercice's must be listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire: Vec<String>,
    /// Savoir-faire types (`S`, `CEX`, `PAC` ...): one of the exercice's must be listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire_types: Vec<String>,
    /// Modes d'exercice (`L`, `S`, `B`), activity level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<String>,
    /// Sectors (`SA07` ...), activity level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<String>,
    /// Roles (`FON-01` ...), activity level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Authority kinds (`ordre`, `ars`, `local`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority_kinds: Vec<String>,
    /// Departments of the activity's structure (`75`, `2A`, `974`), activity level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    /// Identifier types (`8` RPPS, `0` ADELI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_types: Vec<String>,
    /// At least one activity is required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_activity: bool,
}

/// The exercice a decision rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExerciceRef {
    /// Profession code.
    pub profession: String,
    /// Category code.
    pub category: String,
}

/// An eligibility decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The verdict.
    pub eligible: bool,
    /// Why not (one entry per failed condition per exercice); empty when eligible.
    pub reasons: Vec<String>,
    /// The first exercice that qualifies, `null` when none.
    pub exercice: Option<ExerciceRef>,
}

fn listed(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|v| v == value)
}

fn fmt_list(list: &[String]) -> String {
    format!("[{}]", list.join(", "))
}

impl Policy {
    fn has_activity_conditions(&self) -> bool {
        self.require_activity
            || !self.modes.is_empty()
            || !self.sectors.is_empty()
            || !self.roles.is_empty()
            || !self.departments.is_empty()
    }

    /// Which conditions an exercice fails (empty: it qualifies).
    fn failures(&self, person: &Person, ex: &Exercice) -> Vec<String> {
        let mut out = Vec::new();
        if !listed(&self.id_types, &person.id_type) {
            out.push(format!("id type {:?} not in {}", person.id_type, fmt_list(&self.id_types)));
        }
        if !listed(&self.professions, &ex.profession.code) {
            out.push(format!("profession {} not in {}", ex.profession.code, fmt_list(&self.professions)));
        }
        if !listed(&self.categories, &ex.category.code) {
            out.push(format!("category {} not in {}", ex.category.code, fmt_list(&self.categories)));
        }
        if !self.authority_kinds.is_empty() && !listed(&self.authority_kinds, ex.authority.kind.as_str()) {
            out.push(format!("authority {} not in {}", ex.authority.kind.as_str(), fmt_list(&self.authority_kinds)));
        }
        if !self.savoir_faire.is_empty() && !ex.savoir_faire.iter().any(|s| listed(&self.savoir_faire, &s.code.code)) {
            out.push(format!("no savoir-faire in {}", fmt_list(&self.savoir_faire)));
        }
        if !self.savoir_faire_types.is_empty()
            && !ex.savoir_faire.iter().any(|s| listed(&self.savoir_faire_types, &s.kind.code))
        {
            out.push(format!("no savoir-faire of type in {}", fmt_list(&self.savoir_faire_types)));
        }
        if self.has_activity_conditions() {
            let ok = ex.activities.iter().any(|a| {
                listed(&self.modes, &a.mode.code)
                    && listed(&self.sectors, &a.sector.code)
                    && listed(&self.roles, &a.role.code)
                    && (self.departments.is_empty()
                        || a.structure.department_code().is_some_and(|d| listed(&self.departments, &d)))
            });
            if !ok {
                if ex.activities.is_empty() {
                    out.push("no activity".to_string());
                } else {
                    let mut parts = Vec::new();
                    for (name, list) in [
                        ("mode", &self.modes),
                        ("sector", &self.sectors),
                        ("role", &self.roles),
                        ("department", &self.departments),
                    ] {
                        if !list.is_empty() {
                            parts.push(format!("{name} in {}", fmt_list(list)));
                        }
                    }
                    out.push(format!("no activity with {}", parts.join(" and ")));
                }
            }
        }
        out
    }

    /// Decide for a person.
    pub fn decide(&self, person: &Person) -> Decision {
        let mut reasons = Vec::new();
        for ex in &person.exercices {
            let failures = self.failures(person, ex);
            if failures.is_empty() {
                return Decision {
                    eligible: true,
                    reasons: Vec::new(),
                    exercice: Some(ExerciceRef {
                        profession: ex.profession.code.clone(),
                        category: ex.category.code.clone(),
                    }),
                };
            }
            let key = format!("exercice {}/{}", ex.profession.code, ex.category.code);
            reasons.extend(failures.into_iter().map(|f| format!("{key}: {f}")));
        }
        if person.exercices.is_empty() {
            reasons.push("no exercice".to_string());
        }
        Decision { eligible: false, reasons, exercice: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use annuaire_schemas::model::{Activity, Coded, SavoirFaire, Structure};
    use annuaire_schemas::{Authority, AuthorityKind, IdNat};

    fn person(profession: &str, mode: Option<&str>, postal: &str) -> Person {
        let activities = mode
            .map(|m| {
                vec![Activity {
                    mode: Coded::new(m, ""),
                    sector: Coded::new("SA07", ""),
                    structure: Structure { postal_code: postal.into(), ..Default::default() },
                    ..Default::default()
                }]
            })
            .unwrap_or_default();
        Person {
            idnat: IdNat::new("810100271385"),
            id_type: "8".into(),
            id: "10100271385".into(),
            exercices: vec![Exercice {
                profession: Coded::new(profession, ""),
                category: Coded::new("C", ""),
                authority: Authority { kind: AuthorityKind::Ordre, name: "CNOM".into(), ..Default::default() },
                savoir_faire: vec![SavoirFaire { kind: Coded::new("S", ""), code: Coded::new("SM53", "") }],
                activities,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn si_dep() -> Policy {
        Policy {
            professions: ["10", "21", "60", "50", "70", "40"].map(String::from).to_vec(),
            categories: vec!["C".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_doctor_is_eligible_for_si_dep_and_a_kine_of_another_list_is_not() {
        let d = si_dep().decide(&person("10", Some("L"), "75009"));
        assert!(d.eligible);
        assert_eq!(d.exercice, Some(ExerciceRef { profession: "10".into(), category: "C".into() }));
        let d = si_dep().decide(&person("28", Some("L"), "75009"));
        assert!(!d.eligible);
        assert_eq!(d.reasons, vec!["exercice 28/C: profession 28 not in [10, 21, 60, 50, 70, 40]".to_string()]);
    }

    #[test]
    fn activity_conditions_need_one_activity_meeting_all_of_them() {
        let p = Policy { modes: vec!["L".into()], departments: vec!["75".into()], ..si_dep() };
        assert!(p.decide(&person("10", Some("L"), "75009")).eligible);
        let d = p.decide(&person("10", Some("S"), "75009"));
        assert_eq!(d.reasons, vec!["exercice 10/C: no activity with mode in [L] and department in [75]".to_string()]);
        let d = Policy { require_activity: true, ..Policy::default() }.decide(&person("10", None, ""));
        assert_eq!(d.reasons, vec!["exercice 10/C: no activity".to_string()]);
    }

    #[test]
    fn exercice_level_conditions() {
        let p = Policy {
            savoir_faire: vec!["SM04".into()],
            authority_kinds: vec!["ars".into()],
            id_types: vec!["0".into()],
            ..Default::default()
        };
        let d = p.decide(&person("10", Some("L"), "75009"));
        assert!(!d.eligible);
        assert_eq!(d.reasons.len(), 3, "{:?}", d.reasons);
        let ok = Policy {
            savoir_faire_types: vec!["S".into()],
            authority_kinds: vec!["ordre".into()],
            id_types: vec!["8".into()],
            ..Default::default()
        };
        assert!(ok.decide(&person("10", None, "")).eligible);
    }
}
