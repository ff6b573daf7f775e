//! What bounds a request once it is read: the concurrency budget of its endpoint class (the identity provider's
//! lookups never wait behind analysts' work), the client's rate limit, and its parameters (query string, path
//! segments, numbers), each refused with a JSON error and a stable code.

use super::error::ApiError;
use crate::config::{ClientConfig, ServerLimits};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest query string, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Longest identifier in a path (`/v1/claims/{id}` ...), in characters.
pub const MAX_ID_CHARS: usize = 64;

/// Who an endpoint serves, for its concurrency budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The identity provider: claims, batch claims, eligibility, resolve, records, services, FHIR reads.
    Claims,
    /// Analysts: search, stats, exports, FHIR searches, history and bulk export.
    Analysts,
    /// Operators: changes, metrics, runs, generations, approvals, usage.
    Admin,
}

impl Class {
    /// The class of an endpoint (the names used in metrics).
    pub fn of(endpoint: &str) -> Class {
        match endpoint {
            "search" | "stats" | "export" | "fhir_search" | "fhir_history" | "fhir_export" | "fhir_export_status"
            | "fhir_export_file" => Class::Analysts,
            "changes" | "metrics" | "runs" | "generations" | "approve" | "usage" | "quality" => Class::Admin,
            _ => Class::Claims,
        }
    }

    /// Its name, in messages.
    pub fn name(self) -> &'static str {
        match self {
            Class::Claims => "claims",
            Class::Analysts => "analysts'",
            Class::Admin => "admin",
        }
    }
}

/// One semaphore per class. A request takes a permit or is refused at once (503 `overloaded`): it never queues,
/// so a saturated class cannot make another one wait.
#[derive(Clone)]
pub struct Budgets {
    claims: Arc<Semaphore>,
    analysts: Arc<Semaphore>,
    admin: Arc<Semaphore>,
}

impl Budgets {
    /// From the `[server]` limits (`analysts_concurrency = 0`: the number of cores).
    pub fn new(l: &ServerLimits) -> Budgets {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let analysts = if l.analysts_concurrency == 0 { cores } else { l.analysts_concurrency };
        Budgets {
            claims: Arc::new(Semaphore::new(l.claims_concurrency.max(1))),
            analysts: Arc::new(Semaphore::new(analysts.max(1))),
            admin: Arc::new(Semaphore::new(l.admin_concurrency.max(1))),
        }
    }

    /// A permit of `class`, or `overloaded`.
    pub fn try_acquire(&self, class: Class) -> Result<Arc<OwnedSemaphorePermit>, ApiError> {
        let s = match class {
            Class::Claims => &self.claims,
            Class::Analysts => &self.analysts,
            Class::Admin => &self.admin,
        };
        s.clone().try_acquire_owned().map(Arc::new).map_err(|_| ApiError::overloaded(class.name()))
    }
}

/// Per-client rate limits (`max_requests_per_second` in `[[clients]]`), GCRA from `governor`.
#[derive(Clone, Default)]
pub struct RateLimits {
    by_client: Arc<HashMap<String, DefaultDirectRateLimiter>>,
}

impl RateLimits {
    /// A limiter for every client that has a rate.
    pub fn new(clients: &[ClientConfig]) -> RateLimits {
        let by_client = clients
            .iter()
            .filter_map(|c| {
                let rate = NonZeroU32::new(c.max_requests_per_second?)?;
                Some((c.name.clone(), RateLimiter::direct(Quota::per_second(rate))))
            })
            .collect();
        RateLimits { by_client: Arc::new(by_client) }
    }

    /// Let one request of `client` through, or `rate_limited` with the seconds to wait.
    pub fn check(&self, client: &str) -> Result<(), ApiError> {
        let Some(limiter) = self.by_client.get(client) else { return Ok(()) };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::rate_limited(client, wait.as_secs_f64().ceil() as u64)
        })
    }
}

/// The query string as a map, bounded, with a JSON error for what does not parse (`?a=%zz`).
pub struct Q(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Q {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let len = parts.uri.query().map_or(0, str::len);
        if len > MAX_QUERY_BYTES {
            return Err(ApiError::new(
                axum::http::StatusCode::URI_TOO_LONG,
                "bad_request",
                format!("the query string has {len} bytes: at most {MAX_QUERY_BYTES}"),
            ));
        }
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Q(q))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))
    }
}

/// One identifier in the path, at most [`MAX_ID_CHARS`] characters, without control characters, with a JSON
/// error for a bad percent-encoding.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))?;
        check_id("id", &id)?;
        Ok(Id(id))
    }
}

/// An identifier given by a caller (path, hint, body): at most [`MAX_ID_CHARS`] characters, no control character.
pub fn check_id(name: &str, id: &str) -> Result<(), ApiError> {
    let n = id.chars().count();
    if n > MAX_ID_CHARS {
        return Err(ApiError::bad_request(format!("{name} has {n} characters: at most {MAX_ID_CHARS}")));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("{name} holds a control character")));
    }
    Ok(())
}

/// A whole number parameter within `min..=max`, or `default` when absent.
pub fn query_number<T>(q: &HashMap<String, String>, name: &str, default: T, min: T, max: T) -> Result<T, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = q.get(name) else { return Ok(default) };
    let v: T = raw.trim().parse().map_err(|_| {
        ApiError::bad_request(format!("{name} must be a whole number from {min} to {max}, not {:?}", shorten(raw)))
    })?;
    if v < min || v > max {
        return Err(ApiError::bad_request(format!("{name} must be from {min} to {max}, not {v}")));
    }
    Ok(v)
}

/// `true`/`1`/`yes` or `false`/`0`/`no`; absent is `None`; anything else is a 400.
pub fn query_bool(q: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match q.get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!("{name} must be true or false, not {:?}", shorten(other)))),
    }
}

/// The first characters of a value, for a message.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_bounded() {
        let q: HashMap<String, String> =
            [("a", "10000000000000"), ("b", "4.6e18"), ("c", "-1"), ("d", "20"), ("e", "99999999999999999999999999")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for name in ["a", "b", "c", "e"] {
            let e = query_number::<usize>(&q, name, 0, 0, 10_000).expect_err(name);
            assert_eq!((e.status.as_u16(), e.code), (400, "bad_request"), "{name}: {}", e.message);
        }
        assert_eq!(query_number::<usize>(&q, "d", 0, 1, 1000).ok(), Some(20));
        assert_eq!(query_number::<usize>(&q, "absent", 7, 1, 1000).ok(), Some(7));
    }

    #[test]
    fn a_full_class_refuses_at_once_and_others_still_answer() {
        let b = Budgets::new(&ServerLimits { analysts_concurrency: 2, ..ServerLimits::default() });
        let _p1 = b.try_acquire(Class::Analysts).expect("first");
        let _p2 = b.try_acquire(Class::Analysts).expect("second");
        let Err(e) = b.try_acquire(Class::Analysts) else { panic!("the third is refused") };
        assert_eq!((e.status.as_u16(), e.code, e.retry_after), (503, "overloaded", Some(1)));
        assert!(b.try_acquire(Class::Claims).is_ok(), "claims keep their own budget");
        drop(_p1);
        assert!(b.try_acquire(Class::Analysts).is_ok(), "a permit comes back when a request ends");
    }

    #[test]
    fn a_client_over_its_rate_is_told_when_to_come_back() {
        let clients = vec![ClientConfig {
            name: "slow".into(),
            token_sha256: String::new(),
            scopes: vec![],
            max_requests_per_second: Some(2),
        }];
        let r = RateLimits::new(&clients);
        assert!(r.check("slow").is_ok());
        assert!(r.check("slow").is_ok());
        let e = r.check("slow").expect_err("third within a second");
        assert_eq!((e.status.as_u16(), e.code, e.retry_after), (429, "rate_limited", Some(1)));
        assert!(r.check("other").is_ok(), "clients without a rate are not limited");
    }
}
