//! Search for analysts: a tantivy index per generation ([`index`]), distinct-person counts and exports with
//! polars ([`analytics`]), the engine-free [`SearchRequest`], and the name folding every search path shares.
//!
//! **Architecture invariant:** no HTTP and no store here: the index and the counting table are views of a
//! generation ([`view`]), fed the persons by whoever prepares them (the store, or the sync's first load); the HTTP
//! layer turns query strings into a [`SearchRequest`].
#![warn(missing_docs)]

pub mod analytics;
pub mod facets;
pub mod fhir;
pub mod index;
mod ordered;
pub mod prefixes;
mod schema;
pub mod view;

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
/// Deepest page start: deeper reads are what exports and the changelog are for (a top-k collector allocates
/// `offset + limit` entries, so an unbounded offset is an unbounded allocation).
pub const MAX_OFFSET: usize = 10_000;
/// Most words in the search text (after folding).
pub const MAX_WORDS: usize = 10;
/// Most characters in one word of the search text (after folding).
pub const MAX_WORD_CHARS: usize = 64;
/// Most characters in a filter value (codes are a few characters; commune names are not filters).
pub const MAX_FILTER_CHARS: usize = 64;
/// Words longer than this match as prefixes only, without a typo: the one-typo automaton grows with the word.
pub const MAX_TYPO_WORD_CHARS: usize = 24;

/// A request outside its bounds: which parameter, and why. Shown to the caller as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct RequestError {
    /// The parameter (`offset`, `limit`, `text`, `profession` ...).
    pub param: &'static str,
    /// What is wrong, with the bound.
    pub message: String,
}

impl SearchRequest {
    /// Check every bound: `limit` at most [`MAX_LIMIT`], `offset` at most [`MAX_OFFSET`], at most [`MAX_WORDS`]
    /// words of at most [`MAX_WORD_CHARS`] characters, filters of at most [`MAX_FILTER_CHARS`] characters.
    ///
    /// ```
    /// use annuaire_search::SearchRequest;
    /// assert!(SearchRequest { offset: 10_000, ..Default::default() }.validate().is_ok());
    /// assert_eq!(SearchRequest { offset: 10_001, ..Default::default() }.validate().unwrap_err().param, "offset");
    /// let long = "a".repeat(65);
    /// assert_eq!(SearchRequest { text: Some(long), ..Default::default() }.validate().unwrap_err().param, "text");
    /// ```
    pub fn validate(&self) -> Result<(), RequestError> {
        let err = |param, message: String| Err(RequestError { param, message });
        if self.limit > MAX_LIMIT {
            return err("limit", format!("{} is more than {MAX_LIMIT}", self.limit));
        }
        if self.offset > MAX_OFFSET {
            return err(
                "offset",
                format!("{} is more than {MAX_OFFSET}: read further with export or /v1/changes", self.offset),
            );
        }
        if let Some(text) = &self.text {
            // Bound the raw text before folding it (folding allocates in proportion).
            let raw_bound = MAX_WORDS * (MAX_WORD_CHARS + 1) * 4;
            if text.len() > raw_bound {
                return err("text", format!("{} bytes is more than {raw_bound}", text.len()));
            }
            let folded = fold(text);
            let words: Vec<&str> = folded.split_whitespace().collect();
            if words.len() > MAX_WORDS {
                return err("text", format!("{} words is more than {MAX_WORDS}", words.len()));
            }
            if let Some(w) = words.iter().find(|w| w.chars().count() > MAX_WORD_CHARS) {
                return err(
                    "text",
                    format!("a word of {} characters is longer than {MAX_WORD_CHARS}", w.chars().count()),
                );
            }
        }
        for (param, value) in [
            ("profession", &self.profession),
            ("authority", &self.authority),
            ("department", &self.department),
            ("commune", &self.commune),
            ("savoir_faire", &self.savoir_faire),
        ] {
            if let Some(v) = value
                && v.chars().count() > MAX_FILTER_CHARS
            {
                return err(param, format!("{} characters is more than {MAX_FILTER_CHARS}", v.chars().count()));
            }
        }
        Ok(())
    }

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
    for c in s.chars() {
        // ASCII (most names of the extract) is lower-cased in place; other letters may lower-case to several.
        if c.is_ascii() {
            fold_char(&mut out, &mut space, c.to_ascii_lowercase());
        } else {
            for l in c.to_lowercase() {
                fold_char(&mut out, &mut space, l);
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// One lower-case character of [`fold`]: its Latin letter without diacritic, itself when alphanumeric, else a
/// space (one per run, none first).
fn fold_char(out: &mut String, space: &mut bool, c: char) {
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
        *space = false;
    } else if c.is_alphanumeric() {
        out.push(c);
        *space = false;
    } else if !*space && !out.is_empty() {
        out.push(' ');
        *space = true;
    }
}

/// Today in Paris (`yyyy-mm-dd`): the day card validity is judged on when an index or a counting table is built
/// ([`annuaire_schemas::clock::today`]).
pub use annuaire_schemas::clock::today;

#[cfg(test)]
mod tests {
    use super::*;

    /// `fold` of ASCII text through a non-ASCII letter, which the text's own folding must not change.
    fn fold_by_chars(s: &str) -> String {
        let mut out = fold(&format!("{s}é"));
        out.pop();
        out.trim_end().to_string()
    }

    #[test]
    fn ascii_folds_as_the_general_path() {
        let every: String = (0u8..0x80).map(char::from).collect();
        for s in [every.as_str(), "DUPONT", "Jean-Pierre", "  D'ARTAGNAN  ", "O'NEILL 3", "a\tb\nc", "", " ", "--"] {
            assert_eq!(fold(s), fold_by_chars(s), "{s:?}");
        }
    }

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

    #[test]
    fn bounds_are_checked() {
        let ok = SearchRequest { limit: MAX_LIMIT, offset: MAX_OFFSET, ..Default::default() };
        assert!(ok.validate().is_ok());
        for (r, param) in [
            (SearchRequest { limit: MAX_LIMIT + 1, ..Default::default() }, "limit"),
            (SearchRequest { offset: 10_000_000_000_000, ..Default::default() }, "offset"),
            (SearchRequest { offset: usize::MAX, ..Default::default() }, "offset"),
            (SearchRequest { text: Some("a ".repeat(11)), ..Default::default() }, "text"),
            (SearchRequest { text: Some("é".repeat(65)), ..Default::default() }, "text"),
            (SearchRequest { text: Some("x".repeat(60_000)), ..Default::default() }, "text"),
            (SearchRequest { profession: Some("1".repeat(65)), ..Default::default() }, "profession"),
        ] {
            assert_eq!(r.validate().map_err(|e| e.param), Err(param), "{r:?}");
        }
        // Ten words of 64 letters, accents included, pass.
        let words = vec!["é".repeat(64); 10].join(" ");
        assert!(SearchRequest { text: Some(words), ..Default::default() }.validate().is_ok());
    }
}
