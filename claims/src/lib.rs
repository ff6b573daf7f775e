//! Pro Santé Connect UserInfo claims, projected from a person record.
//!
//! The shape is ANS's (psc-claims-and-loaders.md §1.5–§1.7): every value a JSON string (`""`, never
//! `null`), `SubjectRefPro.exercices[]` with 7 fields and `activities[]` of 30 string fields,
//! `SubjectRole` one `<codeProfession>^1.2.250.1.213.1.1.5.5` per exercice, `otherIds`, and the constants
//! PSC sends. Two [`Profile`]s cover the two shapes seen in ANS's examples.
//!
//! Rules PSC leaves implicit, made explicit here:
//! - `given_name` / `family_name`: the civil-status names when the record has them (the restricted
//!   Extraction_ProSanteConnect file: `Nom de famille`, first of `Prénoms`), as PSC does; the public extract has
//!   none, so then the exercise names of the first exercice are used (as in every ANS example, where both agree).
//! - `SubjectOrganization`, `SubjectOrganizationID`, `Secteur_Activite` (and `codeGenreActivite` in the 2023
//!   shape) come from one activity: the first activity of the first exercice that has one, in canonical order
//!   (exercices by profession code; activities liberal first, then salaried, then by content). See
//!   [`annuaire_schemas::Person::main_activity`].
//! - the single savoir-faire of an exercice: the first of type `S`, then `CEX`, then `PAC`.
//! - `sub` is the identity provider's own (Keycloak federated id); it is not produced here.
//!
//! **Architecture invariant:** pure functions of a record; no I/O, no HTTP.
#![warn(missing_docs)]

pub mod eligibility;
pub mod fhir;
pub mod snapshot;

pub use eligibility::{Decision, Policy};

use annuaire_schemas::{Activity, Exercice, Person};
use serde::Serialize;

/// OID appended to profession codes in `SubjectRole`.
pub const ROLE_OID: &str = "1.2.250.1.213.1.1.5.5";
/// OID of TRE_R02 (sectors), appended in `Secteur_Activite`.
pub const SECTOR_OID: &str = "1.2.250.1.71.4.2.4";

/// The claim shapes seen in ANS's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Profile {
    /// 2021: `codeCivilite` inside `SubjectRefPro`.
    #[serde(rename = "psc-2021")]
    Psc2021,
    /// 2023: `codeCivilite` and `codeGenreActivite` at top level, not in `SubjectRefPro`.
    #[default]
    #[serde(rename = "psc-2023")]
    Psc2023,
}

impl Profile {
    /// Every profile, in the order the claims snapshot stores them.
    pub const ALL: [Profile; 2] = [Profile::Psc2021, Profile::Psc2023];

    /// Parse `psc-2021` or `psc-2023`.
    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "psc-2021" => Some(Profile::Psc2021),
            "psc-2023" => Some(Profile::Psc2023),
            _ => None,
        }
    }

    /// [`Profile::parse`], with the one message every caller (CLI, API) gives for an unknown name.
    ///
    /// ```
    /// use annuaire_claims::Profile;
    /// assert_eq!(Profile::parse_named("psc-2021"), Ok(Profile::Psc2021));
    /// assert_eq!(Profile::parse_named("v3").unwrap_err(), "unknown profile \"v3\" (psc-2021 or psc-2023)");
    /// ```
    pub fn parse_named(s: &str) -> Result<Profile, String> {
        Profile::parse(s).ok_or_else(|| {
            format!("unknown profile {:?} (psc-2021 or psc-2023)", s.chars().take(40).collect::<String>())
        })
    }

    /// `psc-2021` or `psc-2023`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Psc2021 => "psc-2021",
            Profile::Psc2023 => "psc-2023",
        }
    }
}

/// The UserInfo claims of one professional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// `codeSecteurDactivite^OID` of the main activity, `""` when none.
    #[serde(rename = "Secteur_Activite")]
    pub secteur_activite: String,
    /// 2023 shape only: genre of the main activity.
    #[serde(rename = "codeGenreActivite", skip_serializing_if = "Option::is_none")]
    pub code_genre_activite: Option<String>,
    /// Always `false` (PSC sends no e-mail claim).
    pub email_verified: bool,
    /// `raisonSocialeSite` of the main activity.
    #[serde(rename = "SubjectOrganization")]
    pub subject_organization: String,
    /// Always `""`.
    #[serde(rename = "Mode_Acces_Raison")]
    pub mode_acces_raison: String,
    /// The idNat.
    pub preferred_username: String,
    /// 2023 shape only: civilité at top level.
    #[serde(rename = "codeCivilite", skip_serializing_if = "Option::is_none")]
    pub code_civilite: Option<String>,
    /// First name.
    pub given_name: String,
    /// Always `FAUX`.
    #[serde(rename = "Acces_Regulation_Medicale")]
    pub acces_regulation_medicale: String,
    /// Always `1.0`.
    #[serde(rename = "UITVersion")]
    pub uit_version: String,
    /// Always `APPPRIP3^1.2.250.1.213.1.5.1.1.1`.
    #[serde(rename = "Palier_Authentification")]
    pub palier_authentification: String,
    /// The professional part.
    #[serde(rename = "SubjectRefPro")]
    pub subject_ref_pro: SubjectRefPro,
    /// `identifiantTechniqueDeLaStructure` of the main activity.
    #[serde(rename = "SubjectOrganizationID")]
    pub subject_organization_id: String,
    /// One `<codeProfession>^OID` per exercice.
    #[serde(rename = "SubjectRole")]
    pub subject_role: Vec<String>,
    /// Always `1.2.250.1.213.1.3.1.1`.
    #[serde(rename = "PSI_Locale")]
    pub psi_locale: String,
    /// The identifiers the person is known by.
    #[serde(rename = "otherIds")]
    pub other_ids: Vec<OtherId>,
    /// The idNat.
    #[serde(rename = "SubjectNameID")]
    pub subject_name_id: String,
    /// Family name.
    pub family_name: String,
}

/// `SubjectRefPro`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectRefPro {
    /// 2021 shape only.
    #[serde(rename = "codeCivilite", skip_serializing_if = "Option::is_none")]
    pub code_civilite: Option<String>,
    /// One per exercice.
    pub exercices: Vec<ExerciceClaim>,
}

/// One exercice in `SubjectRefPro`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ExerciceClaim {
    pub code_profession: String,
    pub code_categorie_professionnelle: String,
    pub code_civilite_dexercice: String,
    pub nom_dexercice: String,
    pub prenom_dexercice: String,
    pub code_type_savoir_faire: String,
    pub code_savoir_faire: String,
    pub activities: Vec<ActivityClaim>,
}

/// One activity: 30 string fields, in ANS's order and spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct ActivityClaim {
    #[serde(rename = "codeModeExercice")]
    pub code_mode_exercice: String,
    #[serde(rename = "codeSecteurDactivite")]
    pub code_secteur_dactivite: String,
    #[serde(rename = "codeSectionPharmacien")]
    pub code_section_pharmacien: String,
    #[serde(rename = "codeRole")]
    pub code_role: String,
    #[serde(rename = "codeGenreActivite")]
    pub code_genre_activite: String,
    #[serde(rename = "numeroSiretSite")]
    pub numero_siret_site: String,
    #[serde(rename = "numeroSirenSite")]
    pub numero_siren_site: String,
    #[serde(rename = "numeroFinessSite")]
    pub numero_finess_site: String,
    #[serde(rename = "numeroFinessetablissementJuridique")]
    pub numero_finess_etablissement_juridique: String,
    #[serde(rename = "identifiantTechniqueDeLaStructure")]
    pub identifiant_technique_de_la_structure: String,
    #[serde(rename = "raisonSocialeSite")]
    pub raison_sociale_site: String,
    #[serde(rename = "enseigneCommercialeSite")]
    pub enseigne_commerciale_site: String,
    #[serde(rename = "complementDestinataire")]
    pub complement_destinataire: String,
    #[serde(rename = "complementPointGeographique")]
    pub complement_point_geographique: String,
    #[serde(rename = "numeroVoie")]
    pub numero_voie: String,
    #[serde(rename = "indiceRepetitionVoie")]
    pub indice_repetition_voie: String,
    #[serde(rename = "codeTypeDeVoie")]
    pub code_type_de_voie: String,
    #[serde(rename = "libelleVoie")]
    pub libelle_voie: String,
    #[serde(rename = "mentionDistribution")]
    pub mention_distribution: String,
    #[serde(rename = "bureauCedex")]
    pub bureau_cedex: String,
    #[serde(rename = "codePostal")]
    pub code_postal: String,
    #[serde(rename = "codeCommune")]
    pub code_commune: String,
    #[serde(rename = "codePays")]
    pub code_pays: String,
    #[serde(rename = "telephone")]
    pub telephone: String,
    #[serde(rename = "telephone2")]
    pub telephone2: String,
    #[serde(rename = "telecopie")]
    pub telecopie: String,
    #[serde(rename = "adresseEMail")]
    pub adresse_email: String,
    #[serde(rename = "codeDepartement")]
    pub code_departement: String,
    #[serde(rename = "ancienIdentifiantDeLaStructure")]
    pub ancien_identifiant_de_la_structure: String,
    #[serde(rename = "autoriteDenregistrement")]
    pub autorite_denregistrement: String,
}

/// One entry of `otherIds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherId {
    /// The identifier (the idNat).
    pub identifiant: String,
    /// `RPPS`, `ADELI` ... from the id type.
    pub origine: String,
    /// 1 for directory identifiers.
    pub qualite: u8,
}

fn activity_claim(a: &Activity) -> ActivityClaim {
    let s = &a.structure;
    ActivityClaim {
        code_mode_exercice: a.mode.code.to_string(),
        code_secteur_dactivite: a.sector.code.to_string(),
        code_section_pharmacien: a.pharmacist_section.code.to_string(),
        code_role: a.role.code.to_string(),
        code_genre_activite: a.genre.code.to_string(),
        numero_siret_site: s.siret.clone(),
        numero_siren_site: s.siren.clone(),
        numero_finess_site: s.finess_site.clone(),
        numero_finess_etablissement_juridique: s.finess_ej.clone(),
        identifiant_technique_de_la_structure: s.technical_id.clone(),
        raison_sociale_site: s.name.clone(),
        enseigne_commerciale_site: s.commercial_name.clone(),
        complement_destinataire: s.recipient_complement.clone(),
        complement_point_geographique: s.geo_complement.clone(),
        numero_voie: s.street_number.clone(),
        indice_repetition_voie: s.street_repetition.clone(),
        code_type_de_voie: s.street_type.code.to_string(),
        libelle_voie: s.street_label.clone(),
        mention_distribution: s.distribution.clone(),
        bureau_cedex: s.cedex_office.clone(),
        code_postal: s.postal_code.clone(),
        code_commune: s.commune.code.to_string(),
        code_pays: s.country.code.to_string(),
        telephone: s.phone.clone(),
        telephone2: s.phone2.clone(),
        telecopie: s.fax.clone(),
        adresse_email: s.email.clone(),
        code_departement: s.department.code.to_string(),
        ancien_identifiant_de_la_structure: s.old_id.clone(),
        autorite_denregistrement: a.registration.raw.clone(),
    }
}

fn exercice_claim(e: &Exercice) -> ExerciceClaim {
    let sf = e.claim_savoir_faire();
    ExerciceClaim {
        code_profession: e.profession.code.to_string(),
        code_categorie_professionnelle: e.category.code.to_string(),
        code_civilite_dexercice: e.civilite_exercice.code.to_string(),
        nom_dexercice: e.family_name.clone(),
        prenom_dexercice: e.given_name.clone(),
        code_type_savoir_faire: sf.map(|s| s.kind.code.to_string()).unwrap_or_default(),
        code_savoir_faire: sf.map(|s| s.code.code.to_string()).unwrap_or_default(),
        activities: e.activities.iter().map(activity_claim).collect(),
    }
}

/// The UserInfo claims of a person in a profile.
pub fn user_info(p: &Person, profile: Profile) -> UserInfo {
    let main = p.main_activity().map(|(_, a)| a);
    let first = p.exercices.first();
    let civil = p.civil_status.as_ref().filter(|c| !c.family_name.is_empty() || !c.first_names.is_empty());
    let idnat = p.idnat.as_str().to_string();
    let civilite = p.civilite.code.to_string();
    let (top_civ, ref_civ, genre) = match profile {
        Profile::Psc2021 => (None, Some(civilite), None),
        Profile::Psc2023 => (Some(civilite), None, Some(main.map(|a| a.genre.code.to_string()).unwrap_or_default())),
    };
    let mut roles: Vec<String> = Vec::new();
    for e in &p.exercices {
        let role = format!("{}^{ROLE_OID}", e.profession.code);
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    UserInfo {
        secteur_activite: main
            .filter(|a| !a.sector.code.is_empty())
            .map(|a| format!("{}^{SECTOR_OID}", a.sector.code))
            .unwrap_or_default(),
        code_genre_activite: genre,
        email_verified: false,
        subject_organization: main.map(|a| a.structure.name.clone()).unwrap_or_default(),
        mode_acces_raison: String::new(),
        preferred_username: idnat.clone(),
        code_civilite: top_civ,
        given_name: civil
            .and_then(|c| c.first_names.first().cloned())
            .or_else(|| first.map(|e| e.given_name.clone()))
            .unwrap_or_default(),
        acces_regulation_medicale: "FAUX".into(),
        uit_version: "1.0".into(),
        palier_authentification: "APPPRIP3^1.2.250.1.213.1.5.1.1.1".into(),
        subject_ref_pro: SubjectRefPro {
            code_civilite: ref_civ,
            exercices: p.exercices.iter().map(exercice_claim).collect(),
        },
        subject_organization_id: main.map(|a| a.structure.technical_id.clone()).unwrap_or_default(),
        subject_role: roles,
        psi_locale: "1.2.250.1.213.1.3.1.1".into(),
        other_ids: vec![OtherId {
            identifiant: idnat.clone(),
            origine: p.idnat.id_type().origine().into(),
            qualite: 1,
        }],
        subject_name_id: idnat,
        family_name: civil
            .map(|c| c.family_name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| first.map(|e| e.family_name.clone()))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use annuaire_schemas::IdNat;
    use annuaire_schemas::model::{Coded, Structure};

    #[test]
    fn every_activity_has_thirty_string_fields() {
        let v = serde_json::to_value(activity_claim(&Activity::default())).expect("json");
        let obj = v.as_object().expect("object");
        assert_eq!(obj.len(), 30);
        assert!(obj.values().all(|v| v.as_str() == Some("")));
    }

    #[test]
    fn a_person_without_activity_has_empty_organisation_claims() {
        let p = Person {
            idnat: IdNat::new("0010004851"),
            civilite: Coded::new("MME", "Madame"),
            exercices: vec![Exercice { profession: Coded::new("72", ""), ..Default::default() }],
            ..Default::default()
        };
        let c = user_info(&p, Profile::Psc2023);
        assert_eq!(c.subject_organization, "");
        assert_eq!(c.secteur_activite, "");
        assert_eq!(c.code_genre_activite.as_deref(), Some(""));
        assert_eq!(c.subject_role, vec!["72^1.2.250.1.213.1.1.5.5".to_string()]);
        assert_eq!(c.other_ids[0].origine, "ADELI");
        let json = serde_json::to_value(user_info(&p, Profile::Psc2021)).expect("json");
        assert!(json.get("codeCivilite").is_none());
        assert_eq!(json["SubjectRefPro"]["codeCivilite"], "MME");
    }

    #[test]
    fn the_organisation_comes_from_the_liberal_activity() {
        let act = |mode: &str, name: &str, sector: &str| Activity {
            mode: Coded::new(mode, ""),
            sector: Coded::new(sector, ""),
            structure: Structure { name: name.into(), ..Default::default() },
            ..Default::default()
        };
        let mut p = Person {
            idnat: IdNat::new("810100271385"),
            exercices: vec![Exercice {
                profession: Coded::new("10", ""),
                activities: vec![act("S", "CH", "SA01"), act("L", "CABINET", "SA07")],
                ..Default::default()
            }],
            ..Default::default()
        };
        p.canonicalize();
        let c = user_info(&p, Profile::Psc2023);
        assert_eq!(c.subject_organization, "CABINET");
        assert_eq!(c.secteur_activite, "SA07^1.2.250.1.71.4.2.4");
    }
}
