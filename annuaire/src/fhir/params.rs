//! The FHIR search parameters this server answers, per resource type: one table that the query parser, the role
//! filters and the capability statement (`/fhir/metadata`) all read, so that what is advertised is what is served.
//! Names and types follow the Annuaire Santé IG (`input/fsh/SearchParameters/*.fsh`: `data-registration-authority`,
//! `mailbox-mss`, `mailbox-mss-type`, `number-smartcard`, `type-smartcard`, `qualification-code`) and FHIR R4's base
//! parameters.

use annuaire_search::fhir::{Clause, Param};

/// A resource type the directory serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// A person.
    Practitioner,
    /// An activity.
    PractitionerRole,
    /// A structure.
    Organization,
}

impl ResourceType {
    /// Every type, in the capability statement's order.
    pub const ALL: [ResourceType; 3] =
        [ResourceType::Practitioner, ResourceType::PractitionerRole, ResourceType::Organization];

    /// The FHIR name.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Practitioner => "Practitioner",
            ResourceType::PractitionerRole => "PractitionerRole",
            ResourceType::Organization => "Organization",
        }
    }

    /// From the FHIR name.
    pub fn parse(s: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The IG profile's canonical URL.
    pub fn profile(self) -> String {
        let id = match self {
            ResourceType::Practitioner => "as-practitioner",
            ResourceType::PractitionerRole => "as-practitionerrole",
            ResourceType::Organization => "as-organization",
        };
        format!("https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/{id}")
    }
}

/// What a parameter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A filter on the index.
    Filter(Param),
    /// `active`.
    Active,
    /// `_lastUpdated`.
    LastUpdated,
}

/// One search parameter.
pub struct ParamDef {
    /// Its name in the query string.
    pub name: &'static str,
    /// FHIR's search type (`token`, `string`, `reference`, `date`).
    pub kind: &'static str,
    /// The types it applies to.
    pub types: &'static [ResourceType],
    /// What it does.
    pub role: Role,
    /// For `PractitionerRole` (and `Organization`), whether it also selects among one person's roles (structures).
    pub per_role: bool,
    /// The capability statement's documentation.
    pub doc: &'static str,
}

use ResourceType::{Organization as O, Practitioner as P, PractitionerRole as R};

const fn def(
    name: &'static str,
    kind: &'static str,
    types: &'static [ResourceType],
    role: Role,
    per_role: bool,
    doc: &'static str,
) -> ParamDef {
    ParamDef { name, kind, types, role, per_role, doc }
}

/// Every search parameter served.
pub const PARAMS: &[ParamDef] = &[
    def("_id", "token", &[P, R, O], Role::Filter(Param::Id), true, "The resource id (idNat for a Practitioner)."),
    def(
        "identifier",
        "token",
        &[P, O],
        Role::Filter(Param::Identifier),
        true,
        "`system|value` or `value`: idNatPs, RPPS, ADELI; FINESS, SIRET, idNatSt, RPPS rang.",
    ),
    def(
        "name",
        "string",
        &[P, O],
        Role::Filter(Param::Name),
        true,
        "Any word of a name, as a prefix (accents and case ignored).",
    ),
    def(
        "family",
        "string",
        &[P],
        Role::Filter(Param::Family),
        false,
        "The family name, from its first word, each word a prefix.",
    ),
    def("given", "string", &[P], Role::Filter(Param::Given), false, "A given name, each word a prefix."),
    def(
        "active",
        "token",
        &[P, R, O],
        Role::Active,
        false,
        "`true` (the served directory) or `false` (persons removed from the extract).",
    ),
    def(
        "_lastUpdated",
        "date",
        &[P, R, O],
        Role::LastUpdated,
        false,
        "When the generation that wrote the version was promoted (`eq`, `gt`, `ge`, `lt`, `le`).",
    ),
    def(
        "data-registration-authority",
        "token",
        &[P, R],
        Role::Filter(Param::Authority),
        false,
        "The registration authority (`CNOM`, `ONI`, `ARS` ...) or its kind (`ordre`, `ars`, `local`).",
    ),
    def("number-smartcard", "string", &[P, R], Role::Filter(Param::Card), false, "A CPS/CPF card number."),
    def(
        "type-smartcard",
        "token",
        &[P, R],
        Role::Filter(Param::CardType),
        false,
        "The type of a CPx card the professional holds (TRE_R87-TypeCarte: `CPS`, `CPF` ...), `code` or `system|code`.",
    ),
    def("mailbox-mss", "string", &[P, R], Role::Filter(Param::Mailbox), false, "An MSSanté address (a prefix)."),
    def(
        "mailbox-mss-type",
        "token",
        &[P, R],
        Role::Filter(Param::MailboxType),
        false,
        "The type of an MSSanté mailbox the professional holds (TRE_R256-TypeMessagerie: `PER`, `CAB`), `code` or \
         `system|code`. Organisations' mailboxes are not kept here: `ORG` and `APP` match no professional.",
    ),
    def(
        "address-postalcode",
        "string",
        &[P, R, O],
        Role::Filter(Param::PostalCode),
        true,
        "A postal code of a place of practice (a prefix).",
    ),
    def(
        "address-city",
        "string",
        &[P, R, O],
        Role::Filter(Param::City),
        true,
        "A town of a place of practice (each word a prefix).",
    ),
    def(
        "department",
        "token",
        &[P, R, O],
        Role::Filter(Param::Department),
        true,
        "This server's own: a department code of a place of practice (`75`, `2A`, `974`).",
    ),
    def(
        "qualification-code",
        "token",
        &[P],
        Role::Filter(Param::Qualification),
        false,
        "A profession, category or savoir-faire code.",
    ),
    def(
        "practitioner",
        "reference",
        &[R],
        Role::Filter(Param::Id),
        false,
        "The Practitioner (`Practitioner/<idNat>` or the idNat).",
    ),
    def(
        "organization",
        "reference",
        &[R],
        Role::Filter(Param::Organization),
        true,
        "The Organization of the activity.",
    ),
    def(
        "role",
        "token",
        &[R],
        Role::Filter(Param::RoleCode),
        true,
        "A code of the role: profession, genre, mode, function, section, sector.",
    ),
    def("specialty", "token", &[R], Role::Filter(Param::Specialty), true, "A sector of activity or savoir-faire code."),
];

/// `_include` and `_revinclude` values served, per type.
pub fn includes(t: ResourceType) -> (&'static [&'static str], &'static [&'static str]) {
    match t {
        P => (&[], &["PractitionerRole:practitioner"]),
        R => (&["PractitionerRole:practitioner", "PractitionerRole:organization"], &[]),
        O => (&[], &["PractitionerRole:organization"]),
    }
}

/// The definition of `name` for `t`.
pub fn find(t: ResourceType, name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|d| d.name == name && d.types.contains(&t))
}

/// One parsed filter: the clause for the index, and whether it also selects roles (structures).
#[derive(Debug, Clone)]
pub struct Filter {
    /// The clause.
    pub clause: Clause,
    /// Selects among a person's roles too.
    pub per_role: bool,
}
