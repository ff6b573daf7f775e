//! The FHIR directory: reads, searches, history and bulk export of `Practitioner`, `PractitionerRole` and
//! `Organization` (resources from `annuaire_claims::fhir`), answered from the search index and the store of one
//! generation. No HTTP here: `crate::api::fhir` turns requests into these calls, and `annuaire export --format
//! fhir-ndjson` writes the same files as `$export`.
//!
//! **Invariant:** a search reads one generation: a page's `next` link carries a cursor bound to the generation of
//! the first page, and is answered from that generation (its index is kept until the one after next is served) or
//! refused with 410, never from another one.

pub mod export;
pub mod history;
pub mod metadata;
pub mod params;
pub mod query;
pub mod roles;
pub mod search;

use annuaire_claims::fhir::Meta;
use annuaire_schemas::Person;
use annuaire_store::Store;
use serde_json::{Value, json};

/// What a FHIR request can fail with, each answered as an `OperationOutcome`.
#[derive(Debug)]
pub enum FhirError {
    /// 400 `invalid`: a malformed value.
    Invalid(String),
    /// 400 `not-supported`: an unknown parameter, modifier or include.
    NotSupported(String),
    /// 400 `too-costly`: a search that would read too many records (narrow it).
    TooCostly(String),
    /// 404 `not-found`.
    NotFound(String),
    /// 410 `deleted`... or a cursor whose generation is no longer kept.
    Gone(String),
    /// 503 `transient`: nothing is served yet.
    NotReady(String),
    /// 415 `not-supported`: a body of a media type the interaction does not take.
    UnsupportedMedia(String),
    /// 413 `too-long`: a body past its bound.
    TooLong(String),
    /// 500.
    Internal(anyhow::Error),
}

impl FhirError {
    /// HTTP status, FHIR issue code, diagnostics.
    pub fn parts(&self) -> (u16, &'static str, String) {
        match self {
            FhirError::Invalid(m) => (400, "invalid", m.clone()),
            FhirError::NotSupported(m) => (400, "not-supported", m.clone()),
            FhirError::TooCostly(m) => (400, "too-costly", m.clone()),
            FhirError::NotFound(m) => (404, "not-found", m.clone()),
            FhirError::Gone(m) => (410, "deleted", m.clone()),
            FhirError::NotReady(m) => (503, "transient", m.clone()),
            FhirError::UnsupportedMedia(m) => (415, "not-supported", m.clone()),
            FhirError::TooLong(m) => (413, "too-long", m.clone()),
            FhirError::Internal(e) => (500, "exception", format!("{e:#}")),
        }
    }

    /// The `OperationOutcome`.
    pub fn outcome(&self) -> Value {
        let (_, code, diagnostics) = self.parts();
        operation_outcome(code, &diagnostics)
    }
}

impl<E: Into<anyhow::Error>> From<E> for FhirError {
    fn from(e: E) -> FhirError {
        FhirError::Internal(e.into())
    }
}

/// An `OperationOutcome` of one error.
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]})
}

/// Promoted generations and when (oldest first): turns `_lastUpdated` and `_since` into generations and versions
/// into `meta.lastUpdated`.
#[derive(Debug, Clone, Default)]
pub struct Promotions(pub Vec<(i64, String)>);

impl Promotions {
    /// Read them from the store.
    pub async fn read(store: &Store) -> anyhow::Result<Promotions> {
        Ok(Promotions(store.promotions().await?))
    }

    /// When generation `g` was promoted (empty when it was not).
    pub fn at(&self, g: i64) -> &str {
        self.0.iter().find(|(x, _)| *x == g).map_or("", |(_, at)| at.as_str())
    }

    /// The `meta` of a version written by `since`, removed by `deleted_by` if so.
    pub fn meta(&self, since: i64, deleted_by: Option<i64>) -> Meta {
        match deleted_by {
            Some(d) => Meta { version: d, last_updated: self.at(d).to_string(), left: Some(self.at(d).to_string()) },
            None => Meta { version: since, last_updated: self.at(since).to_string(), left: None },
        }
    }

    /// The generations whose promotion instant satisfies a FHIR date comparison (`ge2026-11-01`,
    /// `lt2026-11-30T10:00:00Z`, `2026-11-01`), as inclusive bounds (`(Some(1), Some(0))` when none does).
    pub fn generations(&self, value: &str) -> Result<(Option<i64>, Option<i64>), FhirError> {
        let (prefix, date) = match value.get(..2) {
            Some(p @ ("eq" | "gt" | "ge" | "lt" | "le")) => (p, &value[2..]),
            Some(p @ ("ne" | "sa" | "eb" | "ap")) => {
                return Err(FhirError::NotSupported(format!("the date prefix {p} is not served")));
            }
            _ => ("eq", value),
        };
        let (start, end) = instant_range(date)?;
        let keep = |at: chrono::DateTime<chrono::Utc>| match prefix {
            "gt" => at >= end,
            "ge" => at >= start,
            "lt" => at < start,
            "le" => at < end,
            _ => at >= start && at < end,
        };
        let matching: Vec<i64> = self
            .0
            .iter()
            .filter(|(_, at)| chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| keep(t.to_utc())))
            .map(|(g, _)| *g)
            .collect();
        // An end that reaches the first or last promotion stays open (versions are never older than the first one,
        // and a generation promoted after this request's list still satisfies `gt` and `ge`).
        let (first, last) = (self.0.first().map(|p| p.0), self.0.last().map(|p| p.0));
        Ok(match (matching.first(), matching.last()) {
            (Some(&lo), Some(&hi)) => ((Some(lo) != first).then_some(lo), (Some(hi) != last).then_some(hi)),
            _ => (Some(1), Some(0)),
        })
    }

    /// The last generation promoted at or before `instant` (for `_since`: changes made after it).
    pub fn before(&self, instant: &str) -> Result<i64, FhirError> {
        let (start, _) = instant_range(instant)?;
        Ok(self
            .0
            .iter()
            .filter(|(_, at)| chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| t.to_utc() < start))
            .map(|(g, _)| *g)
            .max()
            .unwrap_or(0))
    }
}

/// The interval a FHIR date or instant stands for: a day, or one instant.
pub(crate) fn instant_range(
    value: &str,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), FhirError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        let t = t.to_utc();
        return Ok((t, t + chrono::Duration::milliseconds(1)));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(start) = d.and_hms_opt(0, 0, 0)
    {
        let start = start.and_utc();
        return Ok((start, start + chrono::Duration::days(1)));
    }
    Err(FhirError::Invalid(format!("{value:?} is not a FHIR date (yyyy-mm-dd) or instant (RFC 3339)")))
}

/// A person of one generation as FHIR shows them: their record and the `meta` of their version.
pub struct Found {
    /// The record (their last one, when they were removed).
    pub person: Person,
    /// `meta` and `active`.
    pub meta: Meta,
}

/// A person by idNat (or bare RPPS/ADELI) as a reader of generation `g` sees them: served, or removed by then
/// (`active: false`, with when they left).
pub async fn find(store: &Store, promotions: &Promotions, id: &str, g: i64) -> anyhow::Result<Option<Found>> {
    for candidate in annuaire_schemas::id::candidates(id) {
        if let Some(v) = store.version_at(&candidate, g).await? {
            let person = crate::record::parse(&v.record)?;
            return Ok(Some(Found { person, meta: promotions.meta(v.since_generation, v.deleted_by) }));
        }
    }
    Ok(None)
}

/// A Bundle's `link` list.
pub fn links(base: &str, t: &str, pairs: &[(String, String)], next: Option<String>) -> Value {
    let query = |extra: Option<(&str, &str)>| -> String {
        let mut all: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend(extra);
        let encoded: Vec<String> = all.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        if encoded.is_empty() { String::new() } else { format!("?{}", encoded.join("&")) }
    };
    let mut out = vec![json!({"relation": "self", "url": format!("{base}/{t}{}", query(None))})];
    if let Some(c) = next {
        out.push(json!({"relation": "next", "url": format!("{base}/{t}{}", query(Some(("_cursor", &c))))}));
    }
    json!(out)
}

/// Percent-encode a query string component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
