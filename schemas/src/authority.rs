//! Registration authority (« Autorité d'enregistrement »).
//!
//! The extract's field has three `/`-separated parts, read as the authority of (1) the professional's
//! exercice, (2) the situation d'exercice (activity), (3) the place of practice (structure): `CNOM/CNOM/ARS`
//! for a hospital doctor, `ARS/CPAM/CPAM` for an ADELI professional in a liberal cabinet, `CNOM//` when
//! there is no activity. That reading is **inferred** (extract-format.md §9.2), so the raw value is kept
//! beside the parsed one.
//!
//! Every exercice gets an [`Authority`]: its kind (`ordre`, `ars`, `local`, `unknown`) and, for an ordre,
//! which one. When the field is empty, the profession-to-authority table of extract-format.md §9.3 decides,
//! and [`AuthoritySource::ProfessionTable`] says so.

use serde::{Deserialize, Serialize};

/// The ordres (and the SSA) that register professionals themselves.
pub const ORDRES: [&str; 8] = ["CNOM", "CNOP", "ONCD", "CNOSF", "ONI", "CNOMK", "CNOPP", "SSA"];

/// The three parts of the raw field. Parts are empty strings when absent. Serialised as the raw string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(from = "String")]
pub struct RegistrationField {
    /// The value as written in the file.
    pub raw: String,
    /// Part 1: authority of the professional's exercice.
    pub exercice: String,
    /// Part 2: authority of the situation d'exercice.
    pub situation: String,
    /// Part 3: authority of the place of practice.
    pub structure: String,
}

impl RegistrationField {
    /// Split the raw field. Never fails: missing parts are empty, extra `/` stay in the last part.
    ///
    /// ```
    /// use annuaire_schemas::RegistrationField;
    /// let f = RegistrationField::parse("CNOM/CNOM/ARS");
    /// assert_eq!((f.exercice.as_str(), f.situation.as_str(), f.structure.as_str()), ("CNOM", "CNOM", "ARS"));
    /// let f = RegistrationField::parse("ARS//");
    /// assert_eq!((f.exercice.as_str(), f.situation.as_str()), ("ARS", ""));
    /// assert_eq!(RegistrationField::parse("").exercice, "");
    /// ```
    pub fn parse(raw: &str) -> RegistrationField {
        let mut parts = raw.splitn(3, '/');
        let mut next = || parts.next().unwrap_or("").trim().to_string();
        let exercice = next();
        let situation = next();
        let structure = next();
        RegistrationField { raw: raw.to_string(), exercice, situation, structure }
    }

    /// True when the raw value is empty.
    pub fn is_blank(&self) -> bool {
        self.raw.is_empty()
    }

    /// True when the field is empty or only slashes.
    pub fn is_empty(&self) -> bool {
        self.exercice.is_empty() && self.situation.is_empty() && self.structure.is_empty()
    }
}

impl From<String> for RegistrationField {
    fn from(raw: String) -> RegistrationField {
        RegistrationField::parse(&raw)
    }
}

/// The raw string, as `#[serde(into = "String")]` wrote it, without cloning the four strings first (a record has
/// one per activity).
impl Serialize for RegistrationField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl From<RegistrationField> for String {
    fn from(f: RegistrationField) -> String {
        f.raw
    }
}

/// Kind of registration authority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityKind {
    /// A professional order (CNOM, CNOP, ONCD, CNOSF, ONI, CNOMK, CNOPP) or the SSA.
    Ordre,
    /// An Agence régionale de santé (ADELI professions, now RPPS through EPARS).
    Ars,
    /// A local registration authority (structures' own personnel, TRE_R60 `ENREG`).
    Local,
    /// Not known from the field nor from the profession.
    #[default]
    Unknown,
}

impl AuthorityKind {
    /// `ordre`, `ars`, `local` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Ordre => "ordre",
            AuthorityKind::Ars => "ars",
            AuthorityKind::Local => "local",
            AuthorityKind::Unknown => "unknown",
        }
    }

    /// What it is, for a person: `Ordre professionnel`, `Agence régionale de santé`, …
    pub fn label(self) -> &'static str {
        match self {
            AuthorityKind::Ordre => "Ordre professionnel",
            AuthorityKind::Ars => "Agence régionale de santé",
            AuthorityKind::Local => "Autorité locale",
            AuthorityKind::Unknown => "Inconnue",
        }
    }

    /// Parse `ordre`, `ars`, `local`, `unknown`.
    pub fn parse(s: &str) -> Option<AuthorityKind> {
        match s.to_ascii_lowercase().as_str() {
            "ordre" => Some(AuthorityKind::Ordre),
            "ars" => Some(AuthorityKind::Ars),
            "local" => Some(AuthorityKind::Local),
            "unknown" => Some(AuthorityKind::Unknown),
            _ => None,
        }
    }
}

/// Where an exercice's authority was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthoritySource {
    /// Part 1 of the « Autorité d'enregistrement » field.
    Field,
    /// The field was empty: the profession-to-authority table (§9.3) was used.
    ProfessionTable,
    /// Neither gave an answer.
    #[default]
    None,
}

/// The full name of a registration authority given by its short name (`CNOM`, `ONI`, `ARS`…), when known.
pub fn authority_label(name: &str) -> Option<&'static str> {
    Some(match name {
        "CNOM" => "Conseil national de l'Ordre des médecins",
        "CNOP" => "Conseil national de l'Ordre des pharmaciens",
        "ONCD" => "Ordre national des chirurgiens-dentistes",
        "CNOSF" => "Conseil national de l'Ordre des sages-femmes",
        "ONI" => "Ordre national des infirmiers",
        "CNOMK" => "Conseil national de l'Ordre des masseurs-kinésithérapeutes",
        "CNOPP" => "Conseil national de l'Ordre des pédicures-podologues",
        "ARS" => "Agence régionale de santé",
        _ => return None,
    })
}

/// The registration authority of one exercice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Authority {
    /// `ordre`, `ars`, `local` or `unknown`.
    pub kind: AuthorityKind,
    /// The authority's short name: the ordre (`CNOM` ...), `ARS`, the local authority's name, or `""`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Where this was read from.
    pub source: AuthoritySource,
}

/// The authority that registers a profession (extract-format.md §9.3), for when the field is empty.
pub fn authority_of_profession(profession: &str) -> Option<(AuthorityKind, &'static str)> {
    let ordre = match profession {
        "10" => Some("CNOM"),
        "21" => Some("CNOP"),
        "40" => Some("ONCD"),
        "50" => Some("CNOSF"),
        "60" => Some("ONI"),
        "70" => Some("CNOMK"),
        "80" => Some("CNOPP"),
        _ => None,
    };
    if let Some(name) = ordre {
        return Some((AuthorityKind::Ordre, name));
    }
    match profession {
        "26" | "28" | "31" | "32" | "81" | "82" | "83" | "84" | "85" | "86" | "91" | "92" | "94" | "95" | "96"
        | "98" | "71" | "72" | "73" | "93" | "41" => Some((AuthorityKind::Ars, "ARS")),
        // Personnel registered by their establishment (aides-soignants, ambulanciers, ...): local authorities.
        "35" | "36" | "37" | "38" | "39" | "69" => Some((AuthorityKind::Local, "ENREG")),
        _ => None,
    }
}

/// Classify one authority name (part 1 of the field).
pub fn classify(name: &str) -> AuthorityKind {
    let upper = name.trim().to_ascii_uppercase();
    if upper.is_empty() {
        AuthorityKind::Unknown
    } else if ORDRES.contains(&upper.as_str()) {
        AuthorityKind::Ordre
    } else if upper == "ARS" || upper.starts_with("ARS-") || upper.starts_with("AT-") {
        AuthorityKind::Ars
    } else {
        // ENREG and any other registering body that is neither an ordre nor an ARS.
        AuthorityKind::Local
    }
}

impl Authority {
    /// The authority of an exercice, from the part 1 values seen on its rows (first non-empty wins,
    /// in the order given) and its profession code as the fallback.
    ///
    /// ```
    /// use annuaire_schemas::{Authority, AuthorityKind};
    /// let a = Authority::resolve(["CNOM"], "10");
    /// assert_eq!((a.kind, a.name.as_str()), (AuthorityKind::Ordre, "CNOM"));
    /// let a = Authority::resolve([""], "86");
    /// assert_eq!((a.kind, a.name.as_str()), (AuthorityKind::Ars, "ARS"));
    /// assert_eq!(Authority::resolve([""], "").kind, AuthorityKind::Unknown);
    /// ```
    pub fn resolve<'a>(part1_values: impl IntoIterator<Item = &'a str>, profession: &str) -> Authority {
        if let Some(name) = part1_values.into_iter().map(str::trim).find(|v| !v.is_empty()) {
            let kind = classify(name);
            let name = if kind == AuthorityKind::Ars { "ARS".to_string() } else { name.to_ascii_uppercase() };
            return Authority { kind, name, source: AuthoritySource::Field };
        }
        match authority_of_profession(profession) {
            Some((kind, name)) => Authority { kind, name: name.to_string(), source: AuthoritySource::ProfessionTable },
            None => Authority { kind: AuthorityKind::Unknown, name: String::new(), source: AuthoritySource::None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_observed_value_parses() {
        for (raw, p1, p2, p3) in [
            ("CNOM/CNOM/CNOM", "CNOM", "CNOM", "CNOM"),
            ("CNOM/CNOM/ARS", "CNOM", "CNOM", "ARS"),
            ("CNOMK/CNOMK/CNOMK", "CNOMK", "CNOMK", "CNOMK"),
            ("ARS/ARS/ARS", "ARS", "ARS", "ARS"),
            ("ARS/CPAM/CPAM", "ARS", "CPAM", "CPAM"),
            ("ARS/Variable/Variable", "ARS", "Variable", "Variable"),
            ("ARS//", "ARS", "", ""),
            ("CNOM//", "CNOM", "", ""),
            ("//", "", "", ""),
            ("", "", "", ""),
        ] {
            let f = RegistrationField::parse(raw);
            assert_eq!((f.exercice.as_str(), f.situation.as_str(), f.structure.as_str()), (p1, p2, p3), "{raw}");
            assert_eq!(f.raw, raw);
        }
        assert!(RegistrationField::parse("//").is_empty());
    }

    #[test]
    fn kinds() {
        for o in ORDRES {
            assert_eq!(classify(o), AuthorityKind::Ordre);
        }
        assert_eq!(classify("ARS"), AuthorityKind::Ars);
        assert_eq!(classify("ARS-11"), AuthorityKind::Ars);
        assert_eq!(classify("ENREG"), AuthorityKind::Local);
        assert_eq!(classify(""), AuthorityKind::Unknown);
    }

    #[test]
    fn empty_field_falls_back_on_the_profession_table() {
        let a = Authority::resolve(["", ""], "60");
        assert_eq!(
            a,
            Authority { kind: AuthorityKind::Ordre, name: "ONI".into(), source: AuthoritySource::ProfessionTable }
        );
        let a = Authority::resolve([], "35");
        assert_eq!(a.kind, AuthorityKind::Local);
        let a = Authority::resolve(["ars"], "10");
        assert_eq!((a.kind, a.name.as_str(), a.source), (AuthorityKind::Ars, "ARS", AuthoritySource::Field));
    }
}
