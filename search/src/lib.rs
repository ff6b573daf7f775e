//! Search for analysts: a tantivy index per generation ([`index`]), distinct-person counts and exports with
//! polars ([`analytics`]), the engine-free [`SearchRequest`], and the name folding every search path shares.
//!
//! **Architecture invariant:** no HTTP and no store here: the ingest feeds [`index::IndexBuilder`] the
//! persons of a generation, the HTTP layer turns query strings into a [`SearchRequest`].
#![warn(missing_docs)]

pub mod analytics;
pub mod facets;
pub mod index;

pub use index::{Hit, IndexBuilder, SearchIndex, SearchResponse};

/// What an analyst asks for. Filters combine with AND; an empty request matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text over names (folded: accents and case do not matter).
    pub text: Option<String>,
    /// Profession code (TRE_G15 / R94 / R95).
    pub profession: Option<String>,
    /// Authority kind (`ordre`, `ars`, `local`, `unknown`) or name (`CNOM`, `ONI` ...).
    pub authority: Option<String>,
    /// Department code (`75`, `2A`, `974`).
    pub department: Option<String>,
    /// INSEE commune code.
    pub commune: Option<String>,
    /// Savoir-faire code.
    pub savoir_faire: Option<String>,
    /// Holds a CPS/CPF card valid on the day the generation's index (or counting table) was built.
    pub valid_card: Option<bool>,
    /// Has an MSSanté mailbox.
    pub mailbox: Option<bool>,
    /// Page size, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Hits skipped.
    pub offset: usize,
}

/// Largest page.
pub const MAX_LIMIT: usize = 1000;

impl SearchRequest {
    /// Clamp the page to `1..=MAX_LIMIT` (default 20) and drop empty filters.
    pub fn normalized(mut self) -> SearchRequest {
        self.limit = if self.limit == 0 { 20 } else { self.limit.min(MAX_LIMIT) };
        for f in [
            &mut self.text,
            &mut self.profession,
            &mut self.authority,
            &mut self.department,
            &mut self.commune,
            &mut self.savoir_faire,
        ] {
            if f.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *f = None;
            }
        }
        self
    }
}

/// Fold a name for matching: lower case, Latin diacritics removed, ligatures expanded, every run of
/// non-alphanumeric characters (apostrophes, hyphens, spaces) made one space.
///
/// ```
/// use annuaire_search::fold;
/// assert_eq!(fold("LEFÈVRE"), "lefevre");
/// assert_eq!(fold("Étienne"), "etienne");
/// assert_eq!(fold("D'ARTAGNAN"), "d artagnan");
/// assert_eq!(fold("MEDDAH-LAÏD  Cœur"), "meddah laid coeur");
/// ```
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let mapped: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            'ß' => "ss",
            _ => "",
        };
        if !mapped.is_empty() {
            out.push_str(mapped);
            space = false;
        } else if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space && !out.is_empty() {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Today in Paris (`yyyy-mm-dd`): the day card validity is judged on when an index or a counting table is built.
pub fn today() -> String {
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_idempotent_and_case_insensitive() {
        for s in ["ÉTIENNE", "étienne", "Lefèvre", "GUÉRIN", "NOËL", "BENOÎT", "FRANÇOIS", "O'NEILL"] {
            assert_eq!(fold(&fold(s)), fold(s));
            assert_eq!(fold(&s.to_uppercase()), fold(&s.to_lowercase()));
        }
        assert_eq!(fold("FRANÇOIS"), "francois");
    }

    #[test]
    fn requests_are_clamped() {
        let r = SearchRequest { limit: 5000, text: Some("  ".into()), ..Default::default() }.normalized();
        assert_eq!(r.limit, MAX_LIMIT);
        assert_eq!(r.text, None);
        assert_eq!(SearchRequest::default().normalized().limit, 20);
    }
}
