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
    /// The professional must hold a card valid today (inside its validity, not opposed), from the
    /// Porteurs_CPS_CPF extract.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_valid_card: bool,
    /// Card types that count (`CPS`, `CPF`, `CPE` ...). Given alone, it also requires a valid card of those types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub card_types: Vec<String>,
}

/// Today in Paris (`yyyy-mm-dd`): the day card validity is judged on ([`annuaire_schemas::clock::today`]).
pub use annuaire_schemas::clock::today;

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
                        || a.structure.department().is_some_and(|d| listed(&self.departments, d)))
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

    /// Why the person's cards do not satisfy the policy on `day`, or `None` when they do (or when the policy
    /// says nothing of cards).
    fn card_failure(&self, person: &Person, day: &str) -> Option<String> {
        if !self.require_valid_card && self.card_types.is_empty() {
            return None;
        }
        if person.cards.iter().any(|c| listed(&self.card_types, &c.card_type.code) && c.is_valid_on(day)) {
            return None;
        }
        if person.cards.is_empty() {
            return Some("no valid card: no CPS/CPF card in the card holders' extract".into());
        }
        let why: Vec<String> = person
            .cards
            .iter()
            .map(|c| {
                if !listed(&self.card_types, &c.card_type.code) {
                    format!("card {} ({}) not of type {}", c.number, c.card_type.code, fmt_list(&self.card_types))
                } else {
                    c.invalid_reason(day).unwrap_or_else(|| format!("card {} not valid", c.number))
                }
            })
            .collect();
        Some(format!("no valid card on {day}: {}", why.join("; ")))
    }

    /// Decide for a person, today (Paris time) for card validity.
    pub fn decide(&self, person: &Person) -> Decision {
        self.decide_on(person, &today())
    }

    /// Decide for a person, judging card validity on `day` (`yyyy-mm-dd`).
    pub fn decide_on(&self, person: &Person, day: &str) -> Decision {
        if let Some(card) = self.card_failure(person, day) {
            let mut reasons = vec![card];
            let rest =
                Policy { require_valid_card: false, card_types: Vec::new(), ..self.clone() }.decide_on(person, day);
            reasons.extend(rest.reasons);
            return Decision { eligible: false, reasons, exercice: None };
        }
        let mut reasons = Vec::new();
        for ex in &person.exercices {
            let failures = self.failures(person, ex);
            if failures.is_empty() {
                return Decision {
                    eligible: true,
                    reasons: Vec::new(),
                    exercice: Some(ExerciceRef {
                        profession: ex.profession.code.to_string(),
                        category: ex.category.code.to_string(),
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

    fn card(number: &str, kind: &str, from: &str, to: &str, opposed: &str) -> annuaire_schemas::Card {
        annuaire_schemas::Card {
            number: number.into(),
            card_type: Coded::new(kind, ""),
            valid_from: from.into(),
            valid_to: to.into(),
            opposed_on: opposed.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_card_of_the_right_type_is_required_when_the_policy_says_so() {
        let policy = Policy { require_valid_card: true, card_types: vec!["CPS".into(), "CPF".into()], ..si_dep() };
        let day = "2026-11-28";
        let mut p = person("10", Some("L"), "75009");
        let d = policy.decide_on(&p, day);
        assert!(!d.eligible);
        assert_eq!(d.reasons, vec!["no valid card: no CPS/CPF card in the card holders' extract".to_string()]);

        p.cards = vec![card("2000000016", "CPS", "2020-01-01", "2022-12-31", "")];
        let d = policy.decide_on(&p, day);
        assert_eq!(
            d.reasons,
            vec!["no valid card on 2026-11-28: card 2000000016 (CPS) expired on 2022-12-31".to_string()]
        );

        p.cards = vec![card("2500000024", "CPS", "2025-02-01", "2030-01-31", "2026-06-15")];
        let d = policy.decide_on(&p, day);
        assert_eq!(
            d.reasons,
            vec!["no valid card on 2026-11-28: card 2500000024 (CPS) opposed on 2026-06-15".to_string()]
        );
        // Opposed after the day asked about: still valid that day.
        assert!(policy.decide_on(&p, "2026-06-14").eligible);

        p.cards = vec![card("2501045367", "CPE", "2025-04-01", "2030-03-31", "")];
        let d = policy.decide_on(&p, day);
        assert_eq!(
            d.reasons,
            vec!["no valid card on 2026-11-28: card 2501045367 (CPE) not of type [CPS, CPF]".to_string()]
        );

        // One valid card among expired ones is enough; the other conditions still apply.
        p.cards.push(card("2500271385", "CPS", "2025-01-15", "2030-01-14", ""));
        let d = policy.decide_on(&p, day);
        assert!(d.eligible, "{:?}", d.reasons);
        let d = policy.decide_on(&Person { cards: p.cards.clone(), ..person("28", Some("L"), "75009") }, day);
        assert!(!d.eligible);
        assert_eq!(d.reasons, vec!["exercice 28/C: profession 28 not in [10, 21, 60, 50, 70, 40]".to_string()]);
        // Bounds are inclusive; a card not yet valid does not count.
        assert!(policy.decide_on(&p, "2030-01-14").eligible);
        p.cards = vec![card("2700000001", "CPF", "2027-01-01", "2030-01-01", "")];
        let d = policy.decide_on(&p, day);
        assert_eq!(
            d.reasons,
            vec!["no valid card on 2026-11-28: card 2700000001 (CPF) not valid before 2027-01-01".to_string()]
        );
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
