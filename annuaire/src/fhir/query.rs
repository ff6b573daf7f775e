//! A FHIR search request, parsed and bounded: the filters of [`super::params::PARAMS`], `active`, `_lastUpdated`,
//! the page (`_count`, `_cursor`) and the includes. An unknown parameter or modifier is refused (a strict server),
//! with the parameter named.

use super::params::{self, Filter, ResourceType, Role};
use super::{FhirError, Promotions};
use annuaire_search::fhir::{Clause, FhirQuery};

/// Default page size (the national API's).
pub const DEFAULT_COUNT: usize = 50;
/// Largest page.
pub const MAX_COUNT: usize = 1000;
/// Most parameters in one request.
pub const MAX_PARAMS: usize = 32;
/// Most values of one parameter (comma-separated).
pub const MAX_VALUES: usize = 20;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// Where the next page starts: one generation's results, after one person (and one of their roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The generation the search reads.
    pub generation: i64,
    /// The last id of the previous page (an idNat, or an Organization id).
    pub after: String,
    /// For PractitionerRole: the last role of that person already given (1-based).
    pub role: usize,
}

impl Cursor {
    /// `G.ID.N`, as it goes in a `next` link.
    pub fn token(&self) -> String {
        format!("{}.{}.{}", self.generation, self.after, self.role)
    }

    /// Read a cursor back (`None` when it is not one of this server's).
    pub fn parse(s: &str) -> Option<Cursor> {
        let (g, rest) = s.split_once('.')?;
        let (after, role) = rest.rsplit_once('.')?;
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.');
        if after.is_empty() || !after.chars().all(ok) {
            return None;
        }
        Some(Cursor { generation: g.parse().ok()?, after: after.to_string(), role: role.parse().ok()? })
    }
}

/// A parsed search.
#[derive(Debug, Clone)]
pub struct Search {
    /// What is searched.
    pub t: ResourceType,
    /// The filters (AND).
    pub filters: Vec<Filter>,
    /// `active` (`None`: the served directory, as `true`).
    pub active: Option<bool>,
    /// `_lastUpdated` as bounds on generations, inclusive (`Some((1, 0))`: none can match).
    pub versions: (Option<i64>, Option<i64>),
    /// Page size.
    pub count: usize,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
    /// `_include` values.
    pub include: Vec<String>,
    /// `_revinclude` values.
    pub revinclude: Vec<String>,
    /// The request's parameters but `_cursor`, for the `self` and `next` links.
    pub pairs: Vec<(String, String)>,
}

impl Search {
    /// The index query of this search (its cursor aside).
    pub fn index_query(&self) -> FhirQuery {
        FhirQuery {
            clauses: self.filters.iter().map(|f| f.clause.clone()).collect(),
            versions: self.versions,
            after: None,
            count: 0,
        }
    }

    /// Whether some filter also selects among a person's roles (or structures).
    pub fn per_role_filters(&self) -> Vec<&Clause> {
        self.filters.iter().filter(|f| f.per_role).map(|f| &f.clause).collect()
    }
}

fn bad(message: impl Into<String>) -> FhirError {
    FhirError::Invalid(message.into())
}

/// Parse the query string of `GET /fhir/{t}?…`.
pub fn parse(t: ResourceType, pairs: Vec<(String, String)>, promotions: &Promotions) -> Result<Search, FhirError> {
    if pairs.len() > MAX_PARAMS {
        return Err(bad(format!("{} parameters: at most {MAX_PARAMS}", pairs.len())));
    }
    let mut s = Search {
        t,
        filters: Vec::new(),
        active: None,
        versions: (None, None),
        count: DEFAULT_COUNT,
        cursor: None,
        include: Vec::new(),
        revinclude: Vec::new(),
        pairs: Vec::new(),
    };
    for (key, value) in pairs {
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(bad(format!("{key}: a value of more than {MAX_VALUE_CHARS} characters")));
        }
        if value.chars().any(char::is_control) {
            return Err(bad(format!("{key}: control characters")));
        }
        let (name, modifier) = match key.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (key.as_str(), None),
        };
        if key != "_cursor" {
            s.pairs.push((key.clone(), value.clone()));
        }
        match name {
            "_count" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| bad(format!("_count: {value:?} is not a number from 0 to {MAX_COUNT}")))?;
                if n > MAX_COUNT {
                    return Err(bad(format!("_count: {n} is more than {MAX_COUNT}")));
                }
                s.count = n;
                continue;
            }
            "_cursor" => {
                s.cursor = Some(
                    Cursor::parse(&value)
                        .ok_or_else(|| bad(format!("_cursor: {value:?} is not a cursor of this server")))?,
                );
                continue;
            }
            "_include" | "_revinclude" => {
                let (inc, rev) = params::includes(t);
                let allowed = if name == "_include" { inc } else { rev };
                if !allowed.contains(&value.as_str()) {
                    return Err(FhirError::NotSupported(format!(
                        "{name}={value} is not served on {} (served: {})",
                        t.name(),
                        if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
                    )));
                }
                if name == "_include" {
                    s.include.push(value)
                } else {
                    s.revinclude.push(value)
                }
                continue;
            }
            "_total" if matches!(value.as_str(), "none" | "estimate" | "accurate") => continue,
            "_format" if matches!(value.as_str(), "json" | "application/fhir+json" | "application/json") => continue,
            _ => {}
        }
        let def = params::find(t, name).ok_or_else(|| {
            FhirError::NotSupported(format!("unknown search parameter {name:?} for {}: see /fhir/metadata", t.name()))
        })?;
        match (def.kind, modifier) {
            (_, None) => {}
            ("string", Some("exact" | "contains")) | ("token", Some("exact")) => {}
            (_, Some(m)) => return Err(FhirError::NotSupported(format!("{name}: the modifier :{m} is not served"))),
        }
        match def.role {
            Role::Active => {
                s.active = Some(match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("active: {value:?} is neither true nor false"))),
                })
            }
            Role::LastUpdated => s.versions = intersect(s.versions, promotions.generations(&value)?),
            Role::Filter(param) => {
                let values: Vec<String> =
                    value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    return Err(bad(format!("{name}: no value")));
                }
                if values.len() > MAX_VALUES {
                    return Err(bad(format!("{name}: {} values, at most {MAX_VALUES}", values.len())));
                }
                let values = match (t, name) {
                    // A role's id is `<idNat>-<key>`: the index finds the person; the role filter picks the role.
                    (ResourceType::PractitionerRole, "_id") => {
                        let person = |v: &String| v.split_once('-').map_or(v.clone(), |(p, _)| p.to_string());
                        s.filters.push(Filter {
                            clause: Clause {
                                param: annuaire_search::fhir::Param::Id,
                                values: values.iter().map(person).collect(),
                            },
                            per_role: false,
                        });
                        s.filters.push(Filter { clause: Clause { param: param_role_id(), values }, per_role: true });
                        continue;
                    }
                    (_, "practitioner") => values
                        .into_iter()
                        .map(|v| v.strip_prefix("Practitioner/").map(str::to_string).unwrap_or(v))
                        .collect(),
                    _ => values,
                };
                let param = match (t, param) {
                    (ResourceType::Organization, annuaire_search::fhir::Param::Id) => {
                        annuaire_search::fhir::Param::Organization
                    }
                    (ResourceType::Organization, annuaire_search::fhir::Param::Identifier) => {
                        annuaire_search::fhir::Param::OrganizationIdentifier
                    }
                    (ResourceType::Organization, annuaire_search::fhir::Param::Name) => {
                        annuaire_search::fhir::Param::OrganizationName
                    }
                    (_, p) => p,
                };
                let per_role = def.per_role && t != ResourceType::Practitioner;
                s.filters.push(Filter { clause: Clause { param, values }, per_role });
            }
        }
    }
    if s.active == Some(false) && (!s.filters.is_empty() || t != ResourceType::Practitioner) {
        return Err(FhirError::NotSupported(
            "active=false lists the Practitioners removed from the extract, with _lastUpdated, _count and _cursor only"
                .into(),
        ));
    }
    Ok(s)
}

/// The role-id filter: `Param::Id` read on a role (see [`super::roles::matches`]).
fn param_role_id() -> annuaire_search::fhir::Param {
    annuaire_search::fhir::Param::Id
}

fn intersect(a: (Option<i64>, Option<i64>), b: (Option<i64>, Option<i64>)) -> (Option<i64>, Option<i64>) {
    let lo = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let hi = match (a.1, b.1) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promotions() -> Promotions {
        Promotions(vec![(1, "2026-11-01T02:00:00Z".into()), (2, "2026-11-02T02:00:00Z".into())])
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn unknown_parameters_and_modifiers_are_refused_by_name() {
        let p = promotions();
        let e = parse(ResourceType::Practitioner, pairs(&[("colour", "blue")]), &p).unwrap_err();
        assert!(matches!(&e, FhirError::NotSupported(m) if m.contains("colour")), "{e:?}");
        let e = parse(ResourceType::Practitioner, pairs(&[("family:above", "x")]), &p).unwrap_err();
        assert!(matches!(&e, FhirError::NotSupported(m) if m.contains(":above")), "{e:?}");
        let e = parse(ResourceType::Organization, pairs(&[("family", "x")]), &p).unwrap_err();
        assert!(matches!(e, FhirError::NotSupported(_)));
        let e = parse(ResourceType::Practitioner, pairs(&[("_count", "1001")]), &p).unwrap_err();
        assert!(matches!(e, FhirError::Invalid(_)));
    }

    #[test]
    fn last_updated_becomes_generations_and_cursors_round_trip() {
        let p = promotions();
        let s = parse(ResourceType::Practitioner, pairs(&[("_lastUpdated", "gt2026-11-01")]), &p).unwrap();
        assert_eq!(s.versions, (Some(2), None));
        let s = parse(ResourceType::Practitioner, pairs(&[("_lastUpdated", "le2026-11-01T02:00:00Z")]), &p).unwrap();
        assert_eq!(s.versions, (None, Some(1)));
        let c = Cursor { generation: 3, after: "810100271385".into(), role: 2 };
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        assert_eq!(Cursor::parse("3.a b.1"), None);
    }
}
