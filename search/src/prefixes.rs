//! Totals and facet counts of the bare name prefixes that match the most persons, computed once when an index is
//! prepared: a search for one such prefix and nothing else then only ranks its page (the counting over tens of
//! thousands of matches was most of the p95; see docs/benchmarks.md). Each is counted by running the very query the
//! search runs, so the counts are the same by construction (a test compares them with a search that counts).
//! The hits are document addresses of the searcher they were computed with: valid because a generation's index is
//! never reloaded once open (`ReloadPolicy::Manual`, no writer), like the facet table's segment ids.

use crate::facets::Counts;
use std::collections::HashMap;
use tantivy::schema::Field;
use tantivy::{DocAddress, Searcher};

/// Prefixes of at most this many letters are considered.
pub const MAX_CHARS: usize = 6;
/// A prefix is precomputed when it matches at least this many persons (smaller ones are counted fast enough).
pub const MIN_MATCHES: u64 = 2_000;
/// At most this many prefixes are kept (about 2 KB each), the largest first.
pub const MAX_PREFIXES: usize = 50_000;
/// The first hits kept per prefix, in the search's order: the pages a client reads first.
pub const TOP: usize = 100;

/// One precomputed prefix: total, facet counts, the first [`TOP`] hits in order.
pub struct Precomputed {
    /// Persons matching.
    pub total: u64,
    /// Facet counts by value index.
    pub counts: Counts,
    /// The first hits, in the search's order.
    pub top: Vec<DocAddress>,
}

/// The precomputed prefixes of one index.
#[derive(Default)]
pub struct Prefixes {
    by_prefix: HashMap<String, Precomputed>,
}

impl Prefixes {
    /// Count, with `search` (the search's own query, ranking and counting for a one-word text, its first [`TOP`]
    /// hits), every prefix of the terms of `name_fields` that may match `min_matches` persons ([`MIN_MATCHES`] in a
    /// server), and keep those that do.
    pub fn compute(
        searcher: &Searcher,
        name_fields: &[Field],
        min_matches: u64,
        search: impl Fn(&str) -> tantivy::Result<Precomputed>,
    ) -> tantivy::Result<Prefixes> {
        // An upper bound of each prefix's matches: the document frequencies of the terms it begins.
        let mut bound: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            for &field in name_fields {
                let inverted = segment.inverted_index(field)?;
                let mut terms = inverted.terms().stream()?;
                while terms.advance() {
                    let Ok(term) = std::str::from_utf8(terms.key()) else { continue };
                    let df = u64::from(terms.value().doc_freq);
                    // The byte ends of its prefixes of 1, 2, … letters.
                    let ends = term.char_indices().map(|(i, _)| i).skip(1).chain(std::iter::once(term.len()));
                    for end in ends.take(MAX_CHARS) {
                        *bound.entry(term[..end].to_string()).or_default() += df;
                    }
                }
            }
        }
        let mut candidates: Vec<(u64, String)> =
            bound.into_iter().filter(|(_, n)| *n >= min_matches).map(|(p, n)| (n, p)).collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        let mut by_prefix = HashMap::new();
        for (_, prefix) in candidates {
            if by_prefix.len() == MAX_PREFIXES {
                break;
            }
            let p = search(&prefix)?;
            if p.total >= min_matches {
                by_prefix.insert(prefix, p);
            }
        }
        Ok(Prefixes { by_prefix })
    }

    /// The total and counts of a folded one-word prefix, when precomputed.
    pub fn get(&self, prefix: &str) -> Option<&Precomputed> {
        self.by_prefix.get(prefix)
    }

    /// How many prefixes are held.
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}
