//! The native record of a professional as the API (`GET /v1/professionals/{id}`) and `annuaire show` give it:
//! the record's parts under the API's names, with what is derived from it and from the store's history. Empty
//! strings, empty lists and blank codes are left out, as they always were.

use super::blank;
use annuaire_schemas::{Person, model};
use annuaire_store::{ChangeKind, HistoryRow};
use serde::Serialize;
use utoipa::ToSchema;

/// A code and its label in an ANS table.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeLabel {
    #[serde(skip_serializing_if = "blank")]
    pub code: String,
    #[serde(skip_serializing_if = "blank")]
    pub label: String,
}

fn coded(c: &model::Coded) -> Option<CodeLabel> {
    (!c.is_blank()).then(|| CodeLabel { code: c.code.to_string(), label: c.label.to_string() })
}

/// Who registered an exercice.
#[derive(Debug, Serialize, ToSchema)]
pub struct Authority {
    /// `ordre`, `ars`, `local` or `unknown`.
    pub kind: String,
    /// `CNOM`, `ONI`, an ARS, …
    #[serde(skip_serializing_if = "blank")]
    pub name: String,
    /// `field` (read from the extract), `profession_table` (deduced from the profession) or `none`.
    pub source: String,
}

/// A savoir-faire (specialty, competence, …).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavoirFaire {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeLabel>,
}

/// A place of practice.
#[derive(Debug, Serialize, ToSchema)]
pub struct Structure {
    #[serde(skip_serializing_if = "blank")]
    pub siret: String,
    #[serde(skip_serializing_if = "blank")]
    pub siren: String,
    #[serde(skip_serializing_if = "blank")]
    pub finess_site: String,
    #[serde(skip_serializing_if = "blank")]
    pub finess_ej: String,
    #[serde(skip_serializing_if = "blank")]
    pub technical_id: String,
    #[serde(skip_serializing_if = "blank")]
    pub name: String,
    #[serde(skip_serializing_if = "blank")]
    pub commercial_name: String,
    #[serde(skip_serializing_if = "blank")]
    pub recipient_complement: String,
    #[serde(skip_serializing_if = "blank")]
    pub geo_complement: String,
    #[serde(skip_serializing_if = "blank")]
    pub street_number: String,
    #[serde(skip_serializing_if = "blank")]
    pub street_repetition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_type: Option<CodeLabel>,
    #[serde(skip_serializing_if = "blank")]
    pub street_label: String,
    #[serde(skip_serializing_if = "blank")]
    pub distribution: String,
    #[serde(skip_serializing_if = "blank")]
    pub cedex_office: String,
    #[serde(skip_serializing_if = "blank")]
    pub postal_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commune: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<CodeLabel>,
    #[serde(skip_serializing_if = "blank")]
    pub phone: String,
    #[serde(skip_serializing_if = "blank")]
    pub phone2: String,
    #[serde(skip_serializing_if = "blank")]
    pub fax: String,
    #[serde(skip_serializing_if = "blank")]
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<CodeLabel>,
    #[serde(skip_serializing_if = "blank")]
    pub old_id: String,
}

impl From<&model::Structure> for Structure {
    fn from(s: &model::Structure) -> Self {
        Structure {
            siret: s.siret.clone(),
            siren: s.siren.clone(),
            finess_site: s.finess_site.clone(),
            finess_ej: s.finess_ej.clone(),
            technical_id: s.technical_id.clone(),
            name: s.name.clone(),
            commercial_name: s.commercial_name.clone(),
            recipient_complement: s.recipient_complement.clone(),
            geo_complement: s.geo_complement.clone(),
            street_number: s.street_number.clone(),
            street_repetition: s.street_repetition.clone(),
            street_type: coded(&s.street_type),
            street_label: s.street_label.clone(),
            distribution: s.distribution.clone(),
            cedex_office: s.cedex_office.clone(),
            postal_code: s.postal_code.clone(),
            commune: coded(&s.commune),
            country: coded(&s.country),
            phone: s.phone.clone(),
            phone2: s.phone2.clone(),
            fax: s.fax.clone(),
            email: s.email.clone(),
            department: coded(&s.department),
            old_id: s.old_id.clone(),
        }
    }
}

/// An activity of an exercice, at a structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pharmacist_section: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<CodeLabel>,
    /// The « Autorité d'enregistrement » field as written in the extract.
    #[serde(skip_serializing_if = "blank")]
    pub registration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
}

/// An exercice: one profession and category, with its savoir-faire and activities.
#[derive(Debug, Serialize, ToSchema)]
pub struct Exercice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civilite_exercice: Option<CodeLabel>,
    #[serde(skip_serializing_if = "blank")]
    pub family_name: String,
    #[serde(skip_serializing_if = "blank")]
    pub given_name: String,
    pub authority: Authority,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire: Vec<SavoirFaire>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<Activity>,
}

impl From<&model::Exercice> for Exercice {
    fn from(e: &model::Exercice) -> Self {
        Exercice {
            profession: coded(&e.profession),
            category: coded(&e.category),
            civilite_exercice: coded(&e.civilite_exercice),
            family_name: e.family_name.clone(),
            given_name: e.given_name.clone(),
            authority: Authority {
                kind: e.authority.kind.as_str().to_string(),
                name: e.authority.name.clone(),
                source: match e.authority.source {
                    annuaire_schemas::authority::AuthoritySource::Field => "field",
                    annuaire_schemas::authority::AuthoritySource::ProfessionTable => "profession_table",
                    annuaire_schemas::authority::AuthoritySource::None => "none",
                }
                .to_string(),
            },
            savoir_faire: e
                .savoir_faire
                .iter()
                .map(|s| SavoirFaire { kind: coded(&s.kind), code: coded(&s.code) })
                .collect(),
            activities: e
                .activities
                .iter()
                .map(|a| Activity {
                    mode: coded(&a.mode),
                    sector: coded(&a.sector),
                    pharmacist_section: coded(&a.pharmacist_section),
                    role: coded(&a.role),
                    genre: coded(&a.genre),
                    registration: a.registration.raw.clone(),
                    structure: (!a.structure.is_empty()).then(|| Structure::from(&a.structure)),
                })
                .collect(),
        }
    }
}

/// A diploma or an authorisation to practise.
#[derive(Debug, Serialize, ToSchema)]
pub struct Diploma {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diploma_type: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diploma: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorisation_type: Option<CodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorisation_discipline: Option<CodeLabel>,
}

/// Civil status and contacts, from the restricted Extraction_ProSanteConnect file only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CivilStatus {
    #[serde(skip_serializing_if = "blank")]
    pub family_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_names: Vec<String>,
    #[serde(skip_serializing_if = "blank")]
    pub first_names_raw: String,
    #[serde(skip_serializing_if = "blank")]
    pub birth_date: String,
    #[serde(skip_serializing_if = "blank")]
    pub birth_date_raw: String,
    #[serde(skip_serializing_if = "blank")]
    pub birth_commune: String,
    #[serde(skip_serializing_if = "blank")]
    pub birth_country: String,
    #[serde(skip_serializing_if = "blank")]
    pub birth_place: String,
    #[serde(skip_serializing_if = "blank")]
    pub sex: String,
    #[serde(skip_serializing_if = "blank")]
    pub phone: String,
    #[serde(skip_serializing_if = "blank")]
    pub email: String,
}

/// A CPS or CPF card.
#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_type: Option<CodeLabel>,
    #[serde(skip_serializing_if = "blank")]
    pub embedded_id: String,
    /// `yyyy-mm-dd`.
    #[serde(skip_serializing_if = "blank")]
    pub valid_from: String,
    #[serde(skip_serializing_if = "blank")]
    pub valid_to: String,
    #[serde(skip_serializing_if = "blank")]
    pub opposed_on: String,
    #[serde(skip_serializing_if = "blank")]
    pub updated_on: String,
}

/// An MSSanté mailbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mailbox {
    pub address: String,
    /// `PER` (the person's) or `ORG`.
    pub kind: String,
    #[serde(skip_serializing_if = "blank")]
    pub structure_id: String,
    #[serde(skip_serializing_if = "blank")]
    pub service: String,
    #[serde(skip_serializing_if = "blank")]
    pub structure_name: String,
    #[serde(skip_serializing_if = "blank")]
    pub dematerialisation: String,
}

/// One change of the person, by generation.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub generation: i64,
    pub change: super::Change,
    /// When that generation was promoted.
    pub promoted_at: String,
}

/// The whole native record of a professional.
#[derive(Debug, Serialize, ToSchema)]
pub struct Professional {
    /// National id: type prefix and identifier.
    pub idnat: String,
    #[serde(skip_serializing_if = "blank")]
    pub id_type: String,
    #[serde(skip_serializing_if = "blank")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civilite: Option<CodeLabel>,
    pub exercices: Vec<Exercice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diplomas: Vec<Diploma>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civil_status: Option<CivilStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<Card>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<Mailbox>,
    /// The generation it is read from.
    pub generation: i64,
    /// At least one card valid today (Paris time).
    pub has_valid_card: bool,
    /// Numbers of the cards valid today.
    pub valid_cards: Vec<String>,
    /// At least one MSSanté mailbox.
    pub has_mailbox: bool,
    /// When the generation that last created the person was promoted (null when unknown).
    pub activated_at: Option<String>,
    /// When the generation that last deleted the person was promoted (null when never).
    pub deactivated_at: Option<String>,
    /// Every change, in order.
    pub history: Vec<HistoryEntry>,
}

impl Professional {
    /// The record of `person` as served in `generation`, with its `history`, judged on `day` (`yyyy-mm-dd`).
    pub fn new(person: &Person, generation: i64, history: &[HistoryRow], day: &str) -> Professional {
        let last = |kind: ChangeKind| history.iter().rev().find(|h| h.change == kind).map(|h| h.promoted_at.clone());
        let p = person;
        Professional {
            idnat: p.idnat.as_str().to_string(),
            id_type: p.id_type.clone(),
            id: p.id.clone(),
            civilite: coded(&p.civilite),
            exercices: p.exercices.iter().map(Exercice::from).collect(),
            diplomas: p
                .diplomas
                .iter()
                .map(|d| Diploma {
                    diploma_type: coded(&d.diploma_type),
                    diploma: coded(&d.diploma),
                    authorisation_type: coded(&d.authorisation_type),
                    authorisation_discipline: coded(&d.authorisation_discipline),
                })
                .collect(),
            civil_status: p.civil_status.as_ref().map(|c| CivilStatus {
                family_name: c.family_name.clone(),
                first_names: c.first_names.clone(),
                first_names_raw: c.first_names_raw.clone(),
                birth_date: c.birth_date.clone(),
                birth_date_raw: c.birth_date_raw.clone(),
                birth_commune: c.birth_commune.clone(),
                birth_country: c.birth_country.clone(),
                birth_place: c.birth_place.clone(),
                sex: c.sex.clone(),
                phone: c.phone.clone(),
                email: c.email.clone(),
            }),
            cards: p
                .cards
                .iter()
                .map(|c| Card {
                    number: c.number.clone(),
                    card_type: coded(&c.card_type),
                    embedded_id: c.embedded_id.clone(),
                    valid_from: c.valid_from.clone(),
                    valid_to: c.valid_to.clone(),
                    opposed_on: c.opposed_on.clone(),
                    updated_on: c.updated_on.clone(),
                })
                .collect(),
            mailboxes: p
                .mailboxes
                .iter()
                .map(|m| Mailbox {
                    address: m.address.clone(),
                    kind: m.kind.clone(),
                    structure_id: m.structure_id.clone(),
                    service: m.service.clone(),
                    structure_name: m.structure_name.clone(),
                    dematerialisation: m.dematerialisation.clone(),
                })
                .collect(),
            generation,
            has_valid_card: p.valid_cards(day).next().is_some(),
            valid_cards: p.valid_cards(day).map(|c| c.number.clone()).collect(),
            has_mailbox: !p.mailboxes.is_empty(),
            activated_at: last(ChangeKind::Create),
            deactivated_at: last(ChangeKind::Delete),
            history: history
                .iter()
                .map(|h| HistoryEntry {
                    generation: h.generation,
                    change: h.change.into(),
                    promoted_at: h.promoted_at.clone(),
                })
                .collect(),
        }
    }
}
