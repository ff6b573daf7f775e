//! National identifiers and their check digits.
//!
//! Identifiers are kept as strings (leading zeros, letters in FINESS for Corsica and in test data).
//! A failed check digit is *reported* ([`Check::BadCheckDigit`]), never a reason to reject a record:
//! ANS's own fixtures carry invalid numbers (extract-format.md §11).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Result of validating an identifier's shape and check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Right length, digits only, Luhn key correct.
    Valid,
    /// Right shape but the Luhn key is wrong.
    BadCheckDigit,
    /// Wrong length or not digits.
    BadShape,
}

/// Luhn (mod 10) over a string of ASCII digits. `None` when a character is not a digit.
pub fn luhn_ok(digits: &str) -> Option<bool> {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    Some(sum.is_multiple_of(10))
}

fn check_digits(value: &str, len: usize) -> Check {
    if value.len() != len {
        return Check::BadShape;
    }
    match luhn_ok(value) {
        None => Check::BadShape,
        Some(true) => Check::Valid,
        Some(false) => Check::BadCheckDigit,
    }
}

/// RPPS number: 11 digits, Luhn over all of them.
///
/// ```
/// use annuaire_schemas::id::{rpps_check, Check};
/// assert_eq!(rpps_check("10100271385"), Check::Valid);
/// assert_eq!(rpps_check("10100271386"), Check::BadCheckDigit);
/// assert_eq!(rpps_check("1010027138"), Check::BadShape);
/// ```
pub fn rpps_check(value: &str) -> Check {
    check_digits(value, 11)
}

/// ADELI number: 9 digits (department, profession, sequence, key), Luhn over the 9.
pub fn adeli_check(value: &str) -> Check {
    check_digits(value, 9)
}

/// FINESS number (ET or EJ): 9 characters; Corsican `2A`/`2B` are mapped to `21`/`22` for the key
/// (a third-party rule, extract-format.md §11, kept as a check only).
pub fn finess_check(value: &str) -> Check {
    // Nine ASCII characters: slicing below is then always on character boundaries (`é` is two bytes).
    if value.len() != 9 || !value.is_ascii() {
        return Check::BadShape;
    }
    let mapped = match value.get(..2) {
        Some("2A" | "2a") => format!("21{}", &value[2..]),
        Some("2B" | "2b") => format!("22{}", &value[2..]),
        _ => value.to_string(),
    };
    check_digits(&mapped, 9)
}

/// Longest person identifier accepted (« Identification nationale PP »: a type and at most 30 characters).
pub const MAX_IDNAT_LEN: usize = 32;

/// Why an `Identification nationale PP` read from a line cannot be a person's identifier, or `None` when it can.
///
/// `type_code` is the « Type d'identifiant PP » column (empty when the file has none). The identifier must be ASCII
/// letters and digits only, at most [`MAX_IDNAT_LEN`] characters, start with its TRE_G08 type code (the column's
/// when given), and have the shape of its type: `8` + 11 digits (RPPS), `0` + 9 letters or digits (ADELI, `2A`/`2B`
/// allowed). Check digits are not judged here: a wrong key is a warning, never a rejection (extract-format.md §11).
///
/// ```
/// use annuaire_schemas::id::idnat_problem;
/// assert_eq!(idnat_problem("810100271385", "8"), None);
/// assert_eq!(idnat_problem("0012600631", "0"), None);
/// assert!(idnat_problem("Identification nationale PP", "Type d'identifiant PP").is_some());
/// assert!(idnat_problem("81010027138", "8").is_some()); // an RPPS has 11 digits
/// assert!(idnat_problem("010100271385", "8").is_some()); // the type column says 8
/// ```
pub fn idnat_problem(idnat: &str, type_code: &str) -> Option<String> {
    let (n, t) = (idnat.trim(), type_code.trim());
    if n.len() > MAX_IDNAT_LEN {
        return Some(format!("{} characters is more than {MAX_IDNAT_LEN}", n.chars().count()));
    }
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(format!("{:?} is not an identifier (letters and digits only)", shorten(n)));
    }
    if !t.is_empty() {
        if t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("type {:?} is not a TRE_G08 code", shorten(t)));
        }
        if !n.starts_with(t) {
            return Some(format!("{n:?} does not start with its type {t:?}"));
        }
    } else if !n.as_bytes()[0].is_ascii_digit() {
        return Some(format!("{n:?} does not start with a TRE_G08 type digit"));
    }
    let rest = &n[1..];
    match (t, &n[..1]) {
        ("8" | "", "8") if rest.len() != 11 || !rest.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("{n:?}: an RPPS idNat is 8 followed by 11 digits"))
        }
        ("0" | "", "0") if rest.len() != 9 => Some(format!("{n:?}: an ADELI idNat is 0 followed by 9 characters")),
        _ if rest.is_empty() => Some(format!("{n:?} has a type and no identifier")),
        _ => None,
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// SIRET: 14 digits, Luhn; La Poste's establishments (SIREN 356000000) use a digit-sum rule instead.
pub fn siret_check(value: &str) -> Check {
    if value.len() == 14 && value.starts_with("356000000") && value.bytes().all(|b| b.is_ascii_digit()) {
        let sum: u32 = value.bytes().map(|b| u32::from(b - b'0')).sum();
        return if sum.is_multiple_of(5) { Check::Valid } else { Check::BadCheckDigit };
    }
    check_digits(value, 14)
}

/// SIREN: 9 digits, Luhn.
pub fn siren_check(value: &str) -> Check {
    check_digits(value, 9)
}

/// Type of a person identifier (TRE_G08-TypeIdentifiantPersonne): the first character(s) of an idNat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// `0`: N° ADELI.
    Adeli,
    /// `1`: Id cabinet ADELI / internal number.
    CabAdeli,
    /// `2`: N° DRASS (closed 2020).
    Drass,
    /// `3`: FINESS / internal number.
    Finess,
    /// `4`: SIREN / internal number.
    Siren,
    /// `5`: SIRET / internal number.
    Siret,
    /// `6`: Id cabinet RPPS / internal number.
    CabRpps,
    /// `8`: N° RPPS.
    Rpps,
    /// `9`: N° étudiant (closed 2020).
    Etudiant,
    /// Anything else (sandbox ids such as `ANS2021…`, PSI UUIDs).
    Other,
}

impl IdType {
    /// From the `Type d'identifiant PP` code (TRE_G08).
    pub fn from_code(code: &str) -> IdType {
        match code {
            "0" => IdType::Adeli,
            "1" => IdType::CabAdeli,
            "2" => IdType::Drass,
            "3" => IdType::Finess,
            "4" => IdType::Siren,
            "5" => IdType::Siret,
            "6" => IdType::CabRpps,
            "8" => IdType::Rpps,
            "9" => IdType::Etudiant,
            _ => IdType::Other,
        }
    }

    /// The TRE_G08 code, `""` for [`IdType::Other`].
    pub fn code(self) -> &'static str {
        match self {
            IdType::Adeli => "0",
            IdType::CabAdeli => "1",
            IdType::Drass => "2",
            IdType::Finess => "3",
            IdType::Siren => "4",
            IdType::Siret => "5",
            IdType::CabRpps => "6",
            IdType::Rpps => "8",
            IdType::Etudiant => "9",
            IdType::Other => "",
        }
    }

    /// The `origine` PSC puts in `otherIds` for this type (psc-ps-api `determineOriginAndType`).
    pub fn origine(self) -> &'static str {
        match self {
            IdType::Adeli => "ADELI",
            IdType::CabAdeli => "CAB_ADELI",
            IdType::Finess => "FINESS",
            IdType::Siren => "SIREN",
            IdType::Siret => "SIRET",
            IdType::CabRpps => "CAB_RPPS",
            IdType::Rpps => "RPPS",
            IdType::Drass | IdType::Etudiant | IdType::Other => "RASS",
        }
    }

    /// The type of a national id, read from its prefix (what [`IdNat::id_type`] says, without building an [`IdNat`]).
    pub fn of_idnat(s: &str) -> IdType {
        match s.len() {
            12 if s.starts_with('8') && s.bytes().all(|b| b.is_ascii_digit()) => IdType::Rpps,
            10 if s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) => IdType::Adeli,
            _ if s.bytes().all(|b| b.is_ascii_alphanumeric()) && !s.is_empty() => {
                let t = IdType::from_code(&s[..1]);
                if matches!(t, IdType::Rpps | IdType::Adeli) { IdType::Other } else { t }
            }
            _ => IdType::Other,
        }
    }

    /// The group used for diff counts and the safety gate: `rpps`, `adeli` or `other`.
    pub fn group(self) -> &'static str {
        match self {
            IdType::Rpps => "rpps",
            IdType::Adeli => "adeli",
            _ => "other",
        }
    }
}

/// A national person identifier (`Identification nationale PP`): type prefix + identifier.
///
/// ```
/// use annuaire_schemas::{IdNat, IdType};
/// let id = IdNat::from_parts("8", "10100271385");
/// assert_eq!(id.as_str(), "810100271385");
/// assert_eq!(id.id_type(), IdType::Rpps);
/// assert_eq!(id.bare(), "10100271385");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdNat(String);

impl IdNat {
    /// Build from the `Type d'identifiant PP` and `Identifiant PP` columns.
    pub fn from_parts(type_code: &str, id: &str) -> IdNat {
        IdNat(format!("{type_code}{id}"))
    }

    /// Take a value as written in the `Identification nationale PP` column.
    pub fn new(value: impl Into<String>) -> IdNat {
        IdNat(value.into())
    }

    /// The full national id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type, read from the prefix. Ids that are not one of the known numeric shapes are `Other`.
    pub fn id_type(&self) -> IdType {
        IdType::of_idnat(&self.0)
    }

    /// The identifier without its type prefix (the RPPS or ADELI number for those types).
    pub fn bare(&self) -> &str {
        match self.id_type() {
            IdType::Other => &self.0,
            _ => &self.0[1..],
        }
    }

    /// Check digit of the bare identifier, for RPPS and ADELI; `None` for other types.
    pub fn check(&self) -> Option<Check> {
        match self.id_type() {
            IdType::Rpps => Some(rpps_check(self.bare())),
            IdType::Adeli => Some(adeli_check(self.bare())),
            _ => None,
        }
    }
}

impl fmt::Display for IdNat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IdNat {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// How a user-supplied identifier (CLI argument, API path, login hint) may be read.
///
/// Returns the candidate idNats, most likely first: an 11-digit number is an RPPS (`8` + it),
/// a 9-digit number an ADELI (`0` + it), anything else is taken as an idNat as written.
///
/// ```
/// use annuaire_schemas::id::candidates;
/// assert_eq!(candidates("10100271385"), vec!["810100271385".to_string(), "10100271385".to_string()]);
/// assert_eq!(candidates("012600631"), vec!["0012600631".to_string(), "012600631".to_string()]);
/// assert_eq!(candidates("810100271385"), vec!["810100271385".to_string()]);
/// ```
pub fn candidates(input: &str) -> Vec<String> {
    let s = input.trim();
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (digits, s.len()) {
        (true, 11) => vec![format!("8{s}"), s.to_string()],
        (true, 9) => vec![format!("0{s}"), s.to_string()],
        _ => vec![s.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_rpps_numbers_pass_luhn() {
        for n in ["10100271385", "10001045367", "10106476764", "10000013994", "10006122583", "10005831911"] {
            assert_eq!(rpps_check(n), Check::Valid, "{n}");
        }
    }

    #[test]
    fn ans_fixture_rpps_fails_luhn_but_is_only_reported() {
        assert_eq!(rpps_check("10107582544"), Check::BadCheckDigit);
        let id = IdNat::from_parts("8", "10107582544");
        assert_eq!(id.check(), Some(Check::BadCheckDigit));
        assert_eq!(id.id_type(), IdType::Rpps);
    }

    #[test]
    fn real_adeli_numbers_pass_luhn() {
        for n in ["012600631", "010001949", "010004851", "012800751", "019402379", "022802631"] {
            assert_eq!(adeli_check(n), Check::Valid, "{n}");
        }
        assert_eq!(adeli_check("01260063"), Check::BadShape);
        assert_eq!(adeli_check("01260063X"), Check::BadShape);
    }

    #[test]
    fn finess_siret_siren() {
        for n in ["010010288", "690035159", "750056335", "250000700", "010009496"] {
            assert_eq!(finess_check(n), Check::Valid, "{n}");
        }
        assert_eq!(finess_check("0B0193488"), Check::BadShape);
        assert_eq!(siret_check("26250462400012"), Check::Valid);
        assert_eq!(siret_check("26250462400013"), Check::BadCheckDigit);
        assert_eq!(siren_check("262504624"), Check::Valid);
        assert_eq!(siret_check("35600000000001"), Check::Valid, "La Poste digit-sum rule");
    }

    #[test]
    fn finess_check_never_slices_inside_a_character() {
        // 9 bytes, but not 9 ASCII characters: `é` is two bytes, so `[..2]` would cut it.
        assert_eq!(finess_check("2éaaaaaa"), Check::BadShape);
        assert_eq!(finess_check("é1234567"), Check::BadShape);
        assert_eq!(finess_check("2A0000012"), finess_check("210000012"));
    }

    #[test]
    fn identifiers_that_are_not_identifiers_are_refused() {
        for (n, t) in [
            ("810100271385", "8"),
            ("0012600631", "0"),
            ("0012A00631", "0"),
            ("3F010010288", "3"),
            ("810100271385", ""),
        ] {
            assert_eq!(idnat_problem(n, t), None, "{n} {t}");
        }
        for (n, t) in [
            ("Identification nationale PP", "Type d'identifiant PP"),
            ("DUPONT", "8"),
            ("8101002713850", "8"),
            ("8ABCDEFGHIJK", "8"),
            ("00126006", "0"),
            ("8", "8"),
            ("ANS20210107161422", ""),
            ("810100271385", "0"),
            ("81010027138\u{0}", "8"),
            ("8é0100271385", "8"),
            (&"8".repeat(40), "8"),
        ] {
            assert!(idnat_problem(n, t).is_some(), "{n:?} {t:?} should be refused");
        }
    }

    #[test]
    fn idnat_types_from_prefix() {
        assert_eq!(IdNat::new("810100271385").id_type(), IdType::Rpps);
        assert_eq!(IdNat::new("0012600631").id_type(), IdType::Adeli);
        assert_eq!(IdNat::new("0012600631").bare(), "012600631");
        assert_eq!(IdNat::new("ANS20210107161422").id_type(), IdType::Other);
        assert_eq!(IdNat::new("ANS20210107161422").bare(), "ANS20210107161422");
        assert_eq!(IdNat::new("3010010288").id_type(), IdType::Finess);
        assert_eq!(IdType::Rpps.origine(), "RPPS");
        assert_eq!(IdType::Other.origine(), "RASS");
    }
}
