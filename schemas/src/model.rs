//! The professional record: one [`Person`] with its [`Exercice`]s (one per profession and category),
//! each with its [`SavoirFaire`]s and [`Activity`]s, each activity at a [`Structure`].
//!
//! This follows PSC's own document model (psc-claims-and-loaders.md §2.5: Ps → professions → expertises /
//! workSituations → structure), with the extract's labels kept verbatim beside each code.
//!
//! **Invariant: a record's identity does not depend on row order.** [`Person::canonicalize`] sorts and
//! de-duplicates every list; the ingest calls it before a record is hashed, diffed, stored or served, so
//! the same extract with its lines shuffled gives byte-identical records and claims.

use crate::authority::{Authority, RegistrationField};
use crate::id::IdNat;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// A code with the label the file gave it (labels are not always the TRE display: keep them verbatim).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Coded {
    /// The code, `""` when absent.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub code: Text,
    /// The label as written in the file, `""` when absent.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub label: Text,
}

impl Coded {
    /// A code and its label.
    pub fn new(code: impl Into<Text>, label: impl Into<Text>) -> Coded {
        Coded { code: code.into(), label: label.into() }
    }

    /// True when there is no code.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// True when there is neither code nor label.
    pub fn is_blank(&self) -> bool {
        self.code.is_empty() && self.label.is_empty()
    }
}

/// A health professional, as the directory knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    /// National id (`Identification nationale PP`): type prefix + identifier.
    pub idnat: IdNat,
    /// `Type d'identifiant PP` (TRE_G08): `8` RPPS, `0` ADELI ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_type: String,
    /// `Identifiant PP`: the RPPS or ADELI number as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `Code civilité` / `Libellé civilité` (TRE_R81).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub civilite: Coded,
    /// One per (profession, category), sorted by profession then category.
    pub exercices: Vec<Exercice>,
    /// Diplomas and authorisations (`PS_LibreAcces_Dipl_AutExerc`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diplomas: Vec<Diploma>,
    /// Civil status, from the restricted Extraction_ProSanteConnect file only (the public extract has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub civil_status: Option<CivilStatus>,
    /// CPS / CPF cards (`Porteurs_CPS_CPF`), sorted by number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<Card>,
    /// MSSanté mailboxes of the person (`Extraction_Correspondance_MSSante`, type `PER`), sorted, without duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<Mailbox>,
}

/// Civil status and correspondence contacts (`Extraction_ProSanteConnect_Personne_activite`, columns 4 to 12).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CivilStatus {
    /// `Nom de famille`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family_name: String,
    /// `Prénoms`, split on `'` (the file pads the list to three with empty names, which are dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_names: Vec<String>,
    /// `Prénoms` as written (`PIERRE'DANIEL'PATRICK`, `Bernadette''`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_names_raw: String,
    /// `Date de naissance` as `yyyy-mm-dd` (the file writes `dd/MM/yyyy`); empty when absent or unreadable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birth_date: String,
    /// `Date de naissance` as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birth_date_raw: String,
    /// `Code commune de naissance` (INSEE).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birth_commune: String,
    /// `Code pays de naissance` (`99000` France).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birth_country: String,
    /// `Lieu de naissance`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birth_place: String,
    /// `Code sexe`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sex: String,
    /// `Téléphone (coord. correspondance)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    /// `Adresse e-mail (coord. correspondance)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
}

impl CivilStatus {
    /// Split `Prénoms` as ANS does (`split("'", -1)`), dropping the empty padding.
    pub fn split_first_names(raw: &str) -> Vec<String> {
        raw.split('\'').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect()
    }

    /// True when no field is filled.
    pub fn is_empty(&self) -> bool {
        *self == CivilStatus::default()
    }
}

/// A CPS or CPF smart card (`Porteurs_CPS_CPF`). Dates are ISO `yyyy-mm-dd` (the file writes `dd/mm/yyyy` or
/// `yyyymmdd`), empty when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Card {
    /// `Numéro carte`.
    pub number: String,
    /// `Code type de carte` / `Libellé type de carte` (TRE_G02-TypeProduit: `CPS`, `CPF`, `CPE` ...).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub card_type: Coded,
    /// `Identifiant national contenu dans la carte`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub embedded_id: String,
    /// `Date début validité`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub valid_from: String,
    /// `Date fin validité`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub valid_to: String,
    /// `Date opposition`: the card was reported lost, stolen or revoked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub opposed_on: String,
    /// `Date de mise à jour`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_on: String,
}

impl Card {
    /// Valid on `day` (`yyyy-mm-dd`): inside its validity (bounds included; an absent bound is open) and not
    /// opposed on or before that day.
    pub fn is_valid_on(&self, day: &str) -> bool {
        (self.valid_from.is_empty() || self.valid_from.as_str() <= day)
            && (self.valid_to.is_empty() || day <= self.valid_to.as_str())
            && (self.opposed_on.is_empty() || day < self.opposed_on.as_str())
    }

    /// Why the card is not valid on `day`, or `None` when it is.
    pub fn invalid_reason(&self, day: &str) -> Option<String> {
        let what = format!("card {} ({})", self.number, self.card_type.code);
        if !self.opposed_on.is_empty() && self.opposed_on.as_str() <= day {
            Some(format!("{what} opposed on {}", self.opposed_on))
        } else if !self.valid_to.is_empty() && self.valid_to.as_str() < day {
            Some(format!("{what} expired on {}", self.valid_to))
        } else if !self.valid_from.is_empty() && day < self.valid_from.as_str() {
            Some(format!("{what} not valid before {}", self.valid_from))
        } else {
            None
        }
    }
}

/// An MSSanté secure-mail address (`Extraction_Correspondance_MSSante`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mailbox {
    /// `Adresse BAL`.
    pub address: String,
    /// `Type de BAL`: `PER` (a person's) or `ORG` (an organisation's).
    pub kind: String,
    /// `Type identifiant structure` and `Identification Structure` of the attached structure, when given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub structure_id: String,
    /// `Service de rattachement`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// `Raison Sociale structure BAL`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub structure_name: String,
    /// `Dématérialisation` as written (`True`, `False`, `1`, `0` ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dematerialisation: String,
}

/// An exercice professionnel: one profession in one category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Exercice {
    /// `Code profession` (TRE_G15 / R94 / R95).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub profession: Coded,
    /// `Code catégorie professionnelle` (TRE_R09).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub category: Coded,
    /// `Code civilité d'exercice` (TRE_R11).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub civilite_exercice: Coded,
    /// `Nom d'exercice`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family_name: String,
    /// `Prénom d'exercice`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub given_name: String,
    /// Registration authority of this exercice.
    pub authority: Authority,
    /// Savoir-faire (specialties, competences ...), sorted by type then code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire: Vec<SavoirFaire>,
    /// Activities (situations d'exercice), liberal first then salaried, then by content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<Activity>,
}

/// One savoir-faire of an exercice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SavoirFaire {
    /// `Code type savoir-faire` (TRE_R04): `S`, `CEX`, `PAC`, `C`, `DEC` ...
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub kind: Coded,
    /// `Code savoir-faire` (TRE_R38 for type `S` ...).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub code: Coded,
}

/// A situation d'exercice at a structure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Activity {
    /// `Code mode exercice` (TRE_R23): `L`, `S`, `B`.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub mode: Coded,
    /// `Code secteur d'activité` (TRE_R02).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub sector: Coded,
    /// `Code section tableau pharmaciens` (TRE_R06 / G05).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub pharmacist_section: Coded,
    /// `Code rôle` (TRE_R21), 56-column files only.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub role: Coded,
    /// `Code genre activité` (TRE_R22), 56-column files only.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub genre: Coded,
    /// `Autorité d'enregistrement` of the row, raw and split (stored as the raw string).
    #[serde(default, skip_serializing_if = "RegistrationField::is_blank")]
    pub registration: RegistrationField,
    /// The place of practice.
    #[serde(default, skip_serializing_if = "Structure::is_empty")]
    pub structure: Structure,
}

impl Activity {
    /// True when no field is filled (as `self == &Activity::default()`, without making one: a line of the extract
    /// carries an activity when this is false).
    pub fn is_empty(&self) -> bool {
        let Activity { mode, sector, pharmacist_section, role, genre, registration, structure } = self;
        [mode, sector, pharmacist_section, role, genre].iter().all(|c| c.is_blank())
            && *registration == RegistrationField::default()
            && structure.is_empty()
    }
}

/// A structure (place of practice) as the row describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Structure {
    /// `Numéro SIRET site`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub siret: String,
    /// `Numéro SIREN site`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub siren: String,
    /// `Numéro FINESS site`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finess_site: String,
    /// `Numéro FINESS établissement juridique`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finess_ej: String,
    /// `Identifiant technique de la structure` (join key only, not stable).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub technical_id: String,
    /// `Raison sociale site`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `Enseigne commerciale site`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commercial_name: String,
    /// `Complément destinataire`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient_complement: String,
    /// `Complément point géographique`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub geo_complement: String,
    /// `Numéro Voie` (not always numeric).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub street_number: String,
    /// `Indice répétition voie`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub street_repetition: String,
    /// `Code type de voie` (TRE_R35) and its label.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub street_type: Coded,
    /// `Libellé Voie`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub street_label: String,
    /// `Mention distribution`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub distribution: String,
    /// `Bureau cedex`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cedex_office: String,
    /// `Code postal` (not always 5 digits: foreign addresses).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub postal_code: String,
    /// `Code commune` (INSEE) and its label.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub commune: Coded,
    /// `Code pays` (INSEE 99xxx) and its label.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub country: Coded,
    /// `Téléphone`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    /// `Téléphone 2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone2: String,
    /// `Télécopie`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fax: String,
    /// `Adresse e-mail`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// `Code Département (structure)` and its label (often empty in the file).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub department: Coded,
    /// `Ancien identifiant de la structure` (TRE_G07 digit + identifier).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub old_id: String,
}

/// A diploma or an authorisation to practise (`PS_LibreAcces_Dipl_AutExerc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Diploma {
    /// `Code type diplôme obtenu` (TRE_R14).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub diploma_type: Coded,
    /// `Code diplôme obtenu`.
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub diploma: Coded,
    /// `Code type autorisation` (TRE_R17).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub authorisation_type: Coded,
    /// `Code discipline autorisation` (TRE_R18).
    #[serde(default, skip_serializing_if = "Coded::is_blank")]
    pub authorisation_discipline: Coded,
}

fn mode_rank(mode: &str) -> u8 {
    match mode {
        "L" => 0,
        "S" => 1,
        "B" => 2,
        "" => 4,
        _ => 3,
    }
}

/// Savoir-faire types that PSC puts in the claims, in order of preference.
pub const CLAIM_SAVOIR_FAIRE_TYPES: [&str; 3] = ["S", "CEX", "PAC"];

impl Structure {
    /// True when every field is empty (as `self == &Structure::default()`, without making one: this runs for every
    /// activity of every record serialised).
    pub fn is_empty(&self) -> bool {
        // Each field is named once, and destructured: a field added to the struct is a compile error here until it
        // is checked.
        macro_rules! all_empty {
            (texts: $($t:ident),*; coded: $($c:ident),*) => {{
                let Structure { $($t,)* $($c,)* } = self;
                $($t.is_empty() &&)* $($c.is_blank() &&)* true
            }};
        }
        all_empty!(
            texts: siret, siren, finess_site, finess_ej, technical_id, name, commercial_name, recipient_complement,
                geo_complement, street_number, street_repetition, street_label, distribution, cedex_office, postal_code,
                phone, phone2, fax, email, old_id;
            coded: street_type, commune, country, department
        )
    }

    /// Its town: the commune's label, else the cedex office without its postal code.
    ///
    /// ```
    /// use annuaire_schemas::model::Structure;
    /// let s = Structure { cedex_office: "25304 PONTARLIER CEDEX".into(), postal_code: "25304".into(), ..Default::default() };
    /// assert_eq!(s.town(), "PONTARLIER CEDEX");
    /// ```
    pub fn town(&self) -> &str {
        if self.commune.label.is_empty() {
            self.cedex_office.strip_prefix(self.postal_code.as_str()).unwrap_or(&self.cedex_office).trim()
        } else {
            self.commune.label.trim()
        }
    }

    /// The id of its FHIR `Organization`: the technical id (`F250000700`, the IG's RPPS rang), else the old
    /// national id, else the FINESS site, else the SIRET, keeping the characters a FHIR id allows (`None` when none).
    ///
    /// ```
    /// use annuaire_schemas::model::Structure;
    /// let s = Structure { technical_id: "F250000700".into(), old_id: "1250000700".into(), ..Default::default() };
    /// assert_eq!(s.fhir_id().as_deref(), Some("F250000700"));
    /// assert_eq!(Structure::default().fhir_id(), None);
    /// ```
    pub fn fhir_id(&self) -> Option<String> {
        let raw = [&self.technical_id, &self.old_id, &self.finess_site, &self.siret]
            .into_iter()
            .find(|v| !v.trim().is_empty())?;
        let id: String = raw.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')).take(64).collect();
        (!id.is_empty()).then_some(id)
    }

    /// The department of the structure: the file's code when given, else derived from the INSEE commune
    /// code (`2A`, `2B`, `97x` included), else from a French postal code. `None` when unknown
    /// (foreign addresses).
    ///
    /// ```
    /// use annuaire_schemas::model::{Coded, Structure};
    /// let s = Structure { commune: Coded::new("2A104", ""), ..Default::default() };
    /// assert_eq!(s.department_code().as_deref(), Some("2A"));
    /// assert_eq!(s.department(), Some("2A"));
    /// let s = Structure { postal_code: "20167".into(), ..Default::default() };
    /// assert_eq!(s.department(), Some("2A"));
    /// let s = Structure { postal_code: "97400".into(), ..Default::default() };
    /// assert_eq!(s.department_code().as_deref(), Some("974"));
    /// let s = Structure { postal_code: "GL".into(), ..Default::default() };
    /// assert_eq!(s.department_code(), None);
    /// ```
    pub fn department_code(&self) -> Option<String> {
        self.department().map(str::to_string)
    }

    /// [`Structure::department_code`], borrowed from the structure's own fields (or, for Corsica's postal codes,
    /// a constant): what the sync counts and indexes for every activity, without a copy each.
    pub fn department(&self) -> Option<&str> {
        if !self.department.code.is_empty() {
            return Some(&self.department.code);
        }
        fn from_code(c: &str) -> Option<&str> {
            if c.len() != 5 {
                return None;
            }
            let b = c.as_bytes();
            if c.starts_with("97") || c.starts_with("98") {
                return c.get(..3);
            }
            if b[..2].iter().all(u8::is_ascii_digit) || c.starts_with("2A") || c.starts_with("2B") {
                return c.get(..2);
            }
            None
        }
        if let Some(d) = from_code(&self.commune.code) {
            return Some(d);
        }
        let pc = self.postal_code.as_str();
        if pc.len() == 5 && pc.bytes().all(|b| b.is_ascii_digit()) {
            if pc.starts_with("20") {
                // Corsica: 200xx/201xx Corse-du-Sud, 202xx-206xx Haute-Corse.
                return Some(if pc.as_bytes()[2] < b'2' { "2A" } else { "2B" });
            }
            return from_code(pc);
        }
        None
    }
}

impl Exercice {
    /// The single savoir-faire PSC shows for an exercice: the first of type `S`, then `CEX`, then `PAC`
    /// (PSC's adapters take the first of these types in list order; our lists are canonical, so
    /// we rank by type then code, which picks the same one whenever a person has one of them).
    pub fn claim_savoir_faire(&self) -> Option<&SavoirFaire> {
        CLAIM_SAVOIR_FAIRE_TYPES.iter().find_map(|t| self.savoir_faire.iter().find(|sf| sf.kind.code == *t))
    }
}

impl Person {
    /// Sort and de-duplicate every list so that the record does not depend on the order of rows.
    pub fn canonicalize(&mut self) {
        for ex in &mut self.exercices {
            ex.savoir_faire.sort();
            ex.savoir_faire.dedup();
            ex.activities.sort_by(|a, b| mode_rank(&a.mode.code).cmp(&mode_rank(&b.mode.code)).then_with(|| a.cmp(b)));
            ex.activities.dedup();
        }
        self.exercices.sort_by(|a, b| {
            (&a.profession.code, &a.category.code).cmp(&(&b.profession.code, &b.category.code)).then_with(|| a.cmp(b))
        });
        self.exercices.dedup();
        self.diplomas.sort();
        self.diplomas.dedup();
        self.cards.sort_by(|a, b| a.number.cmp(&b.number).then_with(|| a.cmp(b)));
        self.cards.dedup();
        self.mailboxes.sort();
        self.mailboxes.dedup();
    }

    /// The cards valid on `day` (`yyyy-mm-dd`).
    pub fn valid_cards(&self, day: &str) -> impl Iterator<Item = &Card> {
        self.cards.iter().filter(move |c| c.is_valid_on(day))
    }

    /// The activity PSC's organisation claims (`SubjectOrganization`, `SubjectOrganizationID`,
    /// `Secteur_Activite`) are drawn from: the first activity of the first exercice that has one, in
    /// canonical order (exercices by profession code, activities liberal first). In every ANS example
    /// the claims come from the first activity listed, and that one is the liberal practice.
    pub fn main_activity(&self) -> Option<(&Exercice, &Activity)> {
        self.exercices.iter().find_map(|ex| ex.activities.first().map(|a| (ex, a)))
    }

    /// Every distinct department where the person has an activity.
    pub fn departments(&self) -> Vec<String> {
        self.department_codes().into_iter().map(str::to_string).collect()
    }

    /// [`Person::departments`], borrowed.
    pub fn department_codes(&self) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.exercices.iter().flat_map(|e| &e.activities).filter_map(|a| a.structure.department()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod serde_tests;
