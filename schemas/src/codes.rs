//! The ANS nomenclatures (TRE_*) as data, with their labels.
//!
//! The tables live in `schemas/codes/nomenclatures.tsv` (embedded at build time) so that a new code is a
//! one-line data change. A lookup gives the label and the table the code belongs to; an unknown code is
//! not an error: callers keep the raw value and count it (see `annuaire_ingest`'s run report).

use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("../codes/nomenclatures.tsv");

/// The code tables (value sets) that a column of the extract is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Professions: TRE_G15 (santé) + TRE_R94 (social) + TRE_R95 (usagers de titre).
    Profession,
    /// TRE_R09 professional categories.
    Category,
    /// TRE_R81 civilités.
    Civilite,
    /// TRE_R11 civilités d'exercice.
    CiviliteExercice,
    /// TRE_R04 types of savoir-faire.
    SavoirFaireType,
    /// Savoir-faire codes: TRE_R38 (spécialités ordinales) and the lists of other types when known.
    SavoirFaire,
    /// TRE_R23 modes d'exercice.
    Mode,
    /// TRE_R02 sectors of activity.
    Sector,
    /// TRE_R21 roles (fonctions).
    Role,
    /// TRE_R22 genres d'activité.
    Genre,
    /// Pharmacist sections: TRE_R06 and the sub-sections of TRE_G05.
    PharmacistSection,
    /// TRE_G08 person identifier types.
    IdType,
    /// TRE_R60 registration authorities.
    Authority,
    /// TRE_R14 diploma types.
    DiplomaType,
    /// TRE_R17 authorisation types.
    AuthorisationType,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 15] = [
        Kind::Profession,
        Kind::Category,
        Kind::Civilite,
        Kind::CiviliteExercice,
        Kind::SavoirFaireType,
        Kind::SavoirFaire,
        Kind::Mode,
        Kind::Sector,
        Kind::Role,
        Kind::Genre,
        Kind::PharmacistSection,
        Kind::IdType,
        Kind::Authority,
        Kind::DiplomaType,
        Kind::AuthorisationType,
    ];

    /// Stable name used in reports (`profession`, `sector` ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Profession => "profession",
            Kind::Category => "category",
            Kind::Civilite => "civilite",
            Kind::CiviliteExercice => "civilite_exercice",
            Kind::SavoirFaireType => "savoir_faire_type",
            Kind::SavoirFaire => "savoir_faire",
            Kind::Mode => "mode",
            Kind::Sector => "sector",
            Kind::Role => "role",
            Kind::Genre => "genre",
            Kind::PharmacistSection => "pharmacist_section",
            Kind::IdType => "id_type",
            Kind::Authority => "authority",
            Kind::DiplomaType => "diploma_type",
            Kind::AuthorisationType => "authorisation_type",
        }
    }

    fn tables(self) -> &'static [&'static str] {
        match self {
            Kind::Profession => &["TRE_G15-ProfessionSante", "TRE_R94-ProfessionSocial", "TRE_R95-UsagerTitre"],
            Kind::Category => &["TRE_R09-CategorieProfessionnelle"],
            Kind::Civilite => &["TRE_R81-Civilite"],
            Kind::CiviliteExercice => &["TRE_R11-CiviliteExercice"],
            Kind::SavoirFaireType => &["TRE_R04-TypeSavoirFaire"],
            Kind::SavoirFaire => &["TRE_R38-SpecialiteOrdinale"],
            Kind::Mode => &["TRE_R23-ModeExercice"],
            Kind::Sector => &["TRE_R02-SecteurActivite"],
            Kind::Role => &["TRE_R21-Fonction"],
            Kind::Genre => &["TRE_R22-GenreActivite"],
            Kind::PharmacistSection => &["TRE_R06-SectionTableauCNOP", "TRE_G05-SousSectionTableauCNOP"],
            Kind::IdType => &["TRE_G08-TypeIdentifiantPersonne"],
            Kind::Authority => &["TRE_R60-AutoriteEnregistrement"],
            Kind::DiplomaType => &["TRE_R14-TypeDiplome"],
            Kind::AuthorisationType => &["TRE_R17-TypeAutorisation"],
        }
    }
}

/// One code of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The table (e.g. `TRE_G15-ProfessionSante`).
    pub table: &'static str,
    /// The table's OID.
    pub oid: &'static str,
    /// The code.
    pub code: &'static str,
    /// The TRE display.
    pub label: &'static str,
}

struct Tables {
    by_table: HashMap<&'static str, HashMap<&'static str, Entry>>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut by_table: HashMap<&'static str, HashMap<&'static str, Entry>> = HashMap::new();
        let mut current: Option<(&'static str, &'static str)> = None;
        for line in DATA.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut parts = line.split('\t');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("@"), Some(table), Some(oid)) => current = Some((table, oid)),
                (Some(code), Some(label), None) => {
                    if let Some((table, oid)) = current {
                        by_table.entry(table).or_default().insert(code, Entry { table, oid, code, label });
                    }
                }
                _ => {}
            }
        }
        Tables { by_table }
    })
}

/// Each kind's codes (its tables merged, the first table of a kind winning), indexed by `Kind as usize` (the order
/// of [`Kind::ALL`]), for the lookups of every row of an extract: one probe of a small map instead of a probe per
/// table, with SipHash, by table name and then by code. foldhash: the codes are a few bytes.
fn by_kind() -> &'static [foldhash::HashMap<&'static str, &'static Entry>] {
    static K: OnceLock<Vec<foldhash::HashMap<&'static str, &'static Entry>>> = OnceLock::new();
    K.get_or_init(|| {
        let t = tables();
        Kind::ALL
            .iter()
            .map(|kind| {
                let mut m = foldhash::HashMap::default();
                for name in kind.tables() {
                    for (code, e) in t.by_table.get(name).into_iter().flatten() {
                        m.entry(*code).or_insert(e);
                    }
                }
                m
            })
            .collect()
    })
}

/// The shipped tables as text (what a cache of parsed records must be invalidated by when it changes).
pub fn tables_text() -> &'static str {
    DATA
}

/// Look a code up in the tables of a kind. `None` for an unknown code (keep the raw value).
///
/// ```
/// use annuaire_schemas::codes::{lookup, Kind};
/// let e = lookup(Kind::Profession, "10").unwrap();
/// assert_eq!(e.label, "Médecin");
/// assert_eq!(e.table, "TRE_G15-ProfessionSante");
/// assert_eq!(lookup(Kind::Profession, "71").unwrap().table, "TRE_R95-UsagerTitre");
/// assert!(lookup(Kind::Profession, "9999").is_none());
/// ```
pub fn lookup(kind: Kind, code: &str) -> Option<&'static Entry> {
    by_kind().get(kind as usize).and_then(|m| m.get(code)).copied()
}

/// The label of a code, or `None` when unknown.
pub fn label(kind: Kind, code: &str) -> Option<&'static str> {
    lookup(kind, code).map(|e| e.label)
}

/// All entries of a kind, sorted by table then code.
pub fn entries(kind: Kind) -> Vec<&'static Entry> {
    let t = tables();
    let mut out: Vec<&'static Entry> =
        kind.tables().iter().filter_map(|name| t.by_table.get(name)).flat_map(|m| m.values()).collect();
    out.sort_by(|a, b| (a.table, a.code).cmp(&(b.table, b.code)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_listed_in_their_order() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{}", kind.name());
        }
    }

    #[test]
    fn every_kind_has_entries() {
        for kind in Kind::ALL {
            assert!(!entries(kind).is_empty(), "{}", kind.name());
        }
    }

    #[test]
    fn the_28_professions_of_the_public_extract_are_known() {
        for code in [
            "10", "21", "40", "50", "60", "70", "80", "26", "28", "31", "32", "81", "82", "83", "84", "85", "86", "91",
            "92", "94", "95", "96", "98", "71", "72", "73", "93", "41",
        ] {
            assert!(lookup(Kind::Profession, code).is_some(), "{code}");
        }
    }

    #[test]
    fn labels_and_tables() {
        assert_eq!(label(Kind::SavoirFaire, "SM53"), Some("Spécialiste en Médecine générale"));
        assert_eq!(label(Kind::Mode, "L"), Some("Libéral, indépendant, artisan, commerçant"));
        assert_eq!(lookup(Kind::Sector, "SA07").map(|e| e.oid), Some("1.2.250.1.71.4.2.4"));
        assert_eq!(label(Kind::Role, "FON-AU"), Some("Fonction non définie"));
        assert_eq!(label(Kind::Genre, "GENR01"), Some("Activité de soin et de pharmacie"));
        assert_eq!(label(Kind::Civilite, "MLLE"), Some("Mademoiselle"));
        assert_eq!(label(Kind::PharmacistSection, "EA"), Some("Pharmacien titulaire d'officine - OM"));
        assert_eq!(label(Kind::Authority, "ONI"), Some("Ordre des infirmiers"));
    }
}
