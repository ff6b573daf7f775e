//! The HTTP API's bodies ("wire types"): what a client sends and receives, apart from the engine's types
//! (`annuaire_schemas::Person`, `annuaire_search::SearchResponse`, …) and from the stored record's encoding
//! (`annuaire_store::record`). A field renamed in the engine changes neither the API nor the stored records: the
//! conversions below are where the API's names are chosen.
//!
//! `/openapi.json`'s schemas are generated from these types (utoipa's `ToSchema`; `openapi.rs` adds the route
//! table), and a test sends a request to every route and checks each answer against its documented schema
//! (`api::tests::every_answer_matches_its_documented_schema`). Another test pins the answers byte for byte
//! (`tests/e2e/contract.rs`). JSON answers are written with their keys in byte order (`super::answer`).

use annuaire_schemas::Person;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, schema::Schema};

/// A schema written as JSON (for bodies whose shape another contract fixes: PSC's UserInfo, FHIR resources).
fn schema_from(v: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(v).unwrap_or_else(|_| RefOr::T(Schema::Object(Default::default())))
}

/// `value` as JSON with its keys in byte order: how every JSON answer is written.
pub fn sorted(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// Skip empty strings, as the record does.
fn blank(s: &str) -> bool {
    s.is_empty()
}

/// An error: `code` is stable (`unauthorized`, `forbidden`, `not_found`, `bad_request`, `payload_too_large`,
/// `unknown_service`, `not_ready`, `overloaded`, `rate_limited`, `timeout`, `method_not_allowed`, `conflict`,
/// `internal`),
/// `message` is for a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Error {
    pub code: String,
    pub message: String,
}

/// Liveness and the served generation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `no_generation` (503) before the first promotion.
    pub status: &'static str,
    pub generation: Option<i64>,
    /// The generation whose claims snapshot answers claims; null while it is written (claims then come from the
    /// store).
    pub claims_snapshot: Option<i64>,
}

/// A department and its square on the tile map of France (row 0 at the top; the overseas departments on the last
/// row).
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentTile {
    pub code: &'static str,
    pub name: &'static str,
    pub row: u8,
    pub col: u8,
}

/// One code of a nomenclature.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeEntry {
    pub code: String,
    pub label: String,
    /// The ANS table (`TRE_G15-ProfessionSante`, …).
    pub table: String,
}

/// PSC UserInfo claims, in the shape Pro Santé Connect sends (psc-claims-and-loaders.md §1.5–§1.7): every value a
/// string (`""`, never `null`). Rendered by `annuaire_claims::user_info`, whose golden files are ANS's examples.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct UserInfo(pub serde_json::Value);

impl utoipa::PartialSchema for UserInfo {
    fn schema() -> RefOr<Schema> {
        let s = serde_json::json!({"type": "string"});
        let activity: serde_json::Map<String, serde_json::Value> =
            ACTIVITY_KEYS.iter().map(|k| (k.to_string(), s.clone())).collect();
        schema_from(serde_json::json!({"type": "object",
            "required": ["Secteur_Activite", "SubjectOrganization", "Mode_Acces_Raison", "preferred_username", "given_name",
                "Acces_Regulation_Medicale", "UITVersion", "Palier_Authentification", "SubjectRefPro", "SubjectRole",
                "PSI_Locale", "otherIds", "SubjectNameID", "family_name"],
            "properties": {"Secteur_Activite": s, "codeGenreActivite": s, "email_verified": {"type": "boolean"},
                "SubjectOrganization": s, "Mode_Acces_Raison": s, "preferred_username": s, "codeCivilite": s,
                "given_name": s, "Acces_Regulation_Medicale": s, "UITVersion": s, "Palier_Authentification": s,
                "SubjectRefPro": {"type": "object", "properties": {"codeCivilite": s, "exercices": {"type": "array",
                    "items": {"type": "object",
                        "required": ["codeProfession", "codeCategorieProfessionnelle", "codeCiviliteDexercice",
                            "nomDexercice", "prenomDexercice", "codeTypeSavoirFaire", "codeSavoirFaire", "activities"],
                        "properties": {"codeProfession": s, "codeCategorieProfessionnelle": s,
                            "codeCiviliteDexercice": s, "nomDexercice": s, "prenomDexercice": s,
                            "codeTypeSavoirFaire": s, "codeSavoirFaire": s,
                            "activities": {"type": "array", "items": {"type": "object", "required": ACTIVITY_KEYS,
                                "properties": activity}}}}}}},
                "SubjectOrganizationID": s, "SubjectRole": {"type": "array", "items": s}, "PSI_Locale": s,
                "otherIds": {"type": "array", "items": {"type": "object", "required": ["identifiant", "origine", "qualite"],
                    "properties": {"identifiant": s, "origine": s, "qualite": {"type": "integer"}}}},
                "SubjectNameID": s, "family_name": s}}))
    }
}

impl ToSchema for UserInfo {}

/// The 30 fields of a PSC activity.
const ACTIVITY_KEYS: &[&str] = &[
    "codeModeExercice",
    "codeSecteurDactivite",
    "codeSectionPharmacien",
    "codeRole",
    "codeGenreActivite",
    "numeroSiretSite",
    "numeroSirenSite",
    "numeroFinessSite",
    "numeroFinessetablissementJuridique",
    "identifiantTechniqueDeLaStructure",
    "raisonSocialeSite",
    "enseigneCommercialeSite",
    "complementDestinataire",
    "complementPointGeographique",
    "numeroVoie",
    "indiceRepetitionVoie",
    "codeTypeDeVoie",
    "libelleVoie",
    "mentionDistribution",
    "bureauCedex",
    "codePostal",
    "codeCommune",
    "codePays",
    "telephone",
    "telephone2",
    "telecopie",
    "adresseEMail",
    "codeDepartement",
    "ancienIdentifiantDeLaStructure",
    "autoriteDenregistrement",
];

/// A FHIR resource (`application/fhir+json`), after the Annuaire Santé profiles.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct FhirResource(pub serde_json::Value);

impl utoipa::PartialSchema for FhirResource {
    fn schema() -> RefOr<Schema> {
        schema_from(serde_json::json!({"type": "object", "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string"}}, "additionalProperties": true}))
    }
}

impl ToSchema for FhirResource {}

/// Claims of many professionals at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// idNat, RPPS or ADELI; at most 1,000.
    pub ids: Vec<String>,
    /// `psc-2021` or `psc-2023` (default).
    #[serde(default)]
    pub profile: Option<String>,
}

/// One id of a batch: its claims, or why there are none.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<UserInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// The answers of a batch, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub generation: i64,
    pub results: Vec<BatchResult>,
}

/// Is this professional eligible to this service?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRequest {
    /// idNat, RPPS or ADELI.
    pub subject: String,
    /// A service of the configuration's `[services]`.
    pub service: String,
}

/// The exercice a decision rests on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExerciceRef {
    pub profession: String,
    pub category: String,
}

/// An eligibility decision, with its reasons.
#[derive(Debug, Serialize, ToSchema)]
pub struct EligibilityResponse {
    pub eligible: bool,
    pub reasons: Vec<String>,
    pub exercice: Option<ExerciceRef>,
    pub generation: i64,
    pub subject: String,
    pub service: String,
}

impl EligibilityResponse {
    pub fn new(d: &annuaire_claims::Decision, generation: i64, person: &Person, service: &str) -> Self {
        EligibilityResponse {
            eligible: d.eligible,
            reasons: d.reasons.clone(),
            exercice: d
                .exercice
                .as_ref()
                .map(|e| ExerciceRef { profession: e.profession.clone(), category: e.category.clone() }),
            generation,
            subject: person.idnat.as_str().to_string(),
            service: service.to_string(),
        }
    }
}

/// A service's eligibility policy: every list left out matches everything.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePolicy {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub professions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub savoir_faire_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authority_kinds: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id_types: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_activity: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_valid_card: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub card_types: Vec<String>,
}

impl From<&annuaire_claims::Policy> for ServicePolicy {
    fn from(p: &annuaire_claims::Policy) -> Self {
        ServicePolicy {
            professions: p.professions.clone(),
            categories: p.categories.clone(),
            savoir_faire: p.savoir_faire.clone(),
            savoir_faire_types: p.savoir_faire_types.clone(),
            modes: p.modes.clone(),
            sectors: p.sectors.clone(),
            roles: p.roles.clone(),
            authority_kinds: p.authority_kinds.clone(),
            departments: p.departments.clone(),
            id_types: p.id_types.clone(),
            require_activity: p.require_activity,
            require_valid_card: p.require_valid_card,
            card_types: p.card_types.clone(),
        }
    }
}

/// The services a client may ask eligibility for, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Services {
    pub services: BTreeMap<String, ServicePolicy>,
}

/// Whom a hint (an identifier or a card number) designates.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resolved {
    /// The idNat.
    pub subject: String,
    /// PSC's `origine` of the identifier (`RPPS`, `ADELI`, …).
    pub id_type: String,
    /// `id` or `card`.
    pub matched: &'static str,
    pub generation: i64,
}

/// A kind of change between two generations.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Create,
    Update,
    Delete,
}

impl From<annuaire_store::ChangeKind> for Change {
    fn from(k: annuaire_store::ChangeKind) -> Self {
        match k {
            annuaire_store::ChangeKind::Create => Change::Create,
            annuaire_store::ChangeKind::Update => Change::Update,
            annuaire_store::ChangeKind::Delete => Change::Delete,
        }
    }
}

/// One entry of the changelog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeEntry {
    /// The idNat.
    pub id: String,
    pub change: Change,
    pub generation: i64,
    /// `rpps`, `adeli`, …
    pub id_group: String,
}

/// A page of the changelog.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changes {
    pub changes: Vec<ChangeEntry>,
    pub total: i64,
    /// The offset of the next page; null on the last.
    pub next_offset: Option<i64>,
}

/// One hit of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub idnat: String,
    pub family_name: String,
    pub given_name: String,
    /// Profession codes.
    pub professions: Vec<String>,
    /// Registration authorities.
    pub authorities: Vec<String>,
    /// Postal code and town of the main activity.
    pub place: String,
}

/// A page of hits, the total, and counts by facet (`profession`, `authority_kind`, `department`, `valid_card`,
/// `mailbox`) over every hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<SearchHit>,
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    pub generation: i64,
}

impl SearchResponse {
    pub fn new(r: annuaire_search::SearchResponse, generation: i64) -> Self {
        let hits = r
            .hits
            .into_iter()
            .map(|h| SearchHit {
                idnat: h.idnat,
                family_name: h.family_name,
                given_name: h.given_name,
                professions: h.professions,
                authorities: h.authorities,
                place: h.place,
            })
            .collect();
        SearchResponse { total: r.total, hits, facets: r.facets, generation }
    }
}

/// One group of a count: its value for each `by` column (a string, or null when the person has none), and the
/// distinct persons in it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct StatsRow(pub serde_json::Map<String, serde_json::Value>);

impl utoipa::PartialSchema for StatsRow {
    fn schema() -> RefOr<Schema> {
        schema_from(serde_json::json!({"type": "object", "required": ["persons"],
            "properties": {"persons": {"type": "integer"}},
            "additionalProperties": {"type": ["string", "null"]}}))
    }
}

impl ToSchema for StatsRow {}

mod operators;
mod record;
pub use operators::*;
pub use record::Professional;
