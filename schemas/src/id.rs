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
    if value.len() != 9 {
        return Check::BadShape;
    }
    let mapped = match &value[..2] {
        "2A" | "2a" => format!("21{}", &value[2..]),
        "2B" | "2b" => format!("22{}", &value[2..]),
        _ => value.to_string(),
    };
    check_digits(&mapped, 9)
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
        let s = self.0.as_str();
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
