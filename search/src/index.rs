//! The tantivy index of one generation: one document per person.
//!
//! Names are searchable accent- and case-insensitively (tokenizer `folded`: simple split, lower case, ASCII
//! folding) with prefix and one-typo tolerance, ranked by what a person typing a name means ([`SearchIndex::search`]:
//! the first word of a family name, then a later word of it, then given names, then one-typo matches; ties by name);
//! profession, savoir-faire, authority kind and name, department, commune, a valid card and a mailbox are exact
//! filters (the [`SearchRequest`]'s; the index holds nothing it is not queried on), and the [`FACETS`] are counted
//! for every search from a table held in memory ([`crate::facets`]).

use crate::facets::FacetTable;
use crate::prefixes::{Precomputed, Prefixes};
use crate::{SearchRequest, fold};
use annuaire_schemas::{AuthorityKind, Person};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tantivy::collector::{Count, TopDocs};
use tantivy::indexer::UserOperation::Add;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// What can go wrong with an index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// tantivy failed.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory cannot be used.
    #[error("search index {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Facet results could not be read.
    #[error("search index: facets: {0}")]
    Facets(String),
    /// The request is outside its bounds ([`SearchRequest::validate`]).
    #[error("{0}")]
    Request(#[from] crate::RequestError),
}

/// Result with the index's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

use crate::ordered::{Encoded, Ordered};
pub use crate::schema::NAME_KEY_LETTERS;
use crate::schema::{Fields, add_shared, distinct, fields_of, name_key, register, schema};

/// Writes the index of one generation into an empty directory.
pub struct IndexBuilder {
    writer: IndexWriter,
    fields: Fields,
    /// The day card validity is judged on (`yyyy-mm-dd`).
    day: String,
    /// Documents made and not yet handed to tantivy: all of them, until [`IndexBuilder::finish`] hands them over in
    /// name order.
    pending: std::sync::Mutex<Ordered>,
}

/// Documents handed to tantivy's indexing threads at once when a build is finished. tantivy's queue carries a batch per
/// message (10,000 messages): a reader faster than the indexing threads keeps it full, so that its documents wait
/// there, up to 40,000 of them; one document a message made the indexing threads wake once per person when the
/// queue ran dry (about 2.5 % of a first load's CPU, "The night of 2026-12-03" in `docs/benchmarks.md`).
const BATCH: usize = 4;

impl IndexBuilder {
    /// Create the index in `dir` (created; must be empty).
    pub fn create(dir: &Path) -> Result<IndexBuilder> {
        Self::create_with(dir, None, 200_000_000)
    }

    /// Create the index in `dir` with `threads` indexing threads (default: one per core, at most 8) sharing `bytes`
    /// of indexing memory.
    pub fn create_with(dir: &Path, threads: Option<usize>, bytes: usize) -> Result<IndexBuilder> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
        let (schema, fields) = schema();
        // No index sort: the documents are handed over in name order (`Ordered`).
        let index = Index::builder().schema(schema).create_in_dir(dir)?;
        register(&index);
        let writer = match threads {
            Some(n) => index.writer_with_num_threads(n, bytes)?,
            None => index.writer(bytes)?,
        };
        Ok(IndexBuilder::with_writer(writer, fields))
    }

    fn with_writer(writer: IndexWriter, fields: Fields) -> IndexBuilder {
        let f = fields;
        let few = [
            f.profession,
            f.savoir_faire,
            f.authority_kind,
            f.authority,
            f.department,
            f.commune,
            f.valid_card,
            f.mailbox,
        ];
        let pending = std::sync::Mutex::new(Ordered::interning(&few));
        IndexBuilder { writer, fields, day: crate::today(), pending }
    }

    /// True when the index in `dir` has this version's schema (an index written by an older version is rebuilt,
    /// not updated).
    pub fn is_current(dir: &Path) -> bool {
        Index::open_in_dir(dir).is_ok_and(|i| fields_of(&i.schema()).is_ok())
    }

    /// Open an existing index (a copy of the previous generation's) to update it.
    pub fn open(dir: &Path) -> Result<IndexBuilder> {
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let fields = fields_of(&index.schema())?;
        let writer = index.writer(200_000_000)?;
        Ok(IndexBuilder::with_writer(writer, fields))
    }

    /// Remove a person's document (an update: before adding their new record, or for a deletion). Every document
    /// added is handed to tantivy after every removal, when the build is finished: a removal applies to the documents
    /// of the generation the update starts from.
    pub fn remove(&self, idnat: &str) -> Result<()> {
        self.writer.delete_term(Term::from_field_text(self.fields.idnat, idnat));
        Ok(())
    }

    /// Add one person (from any thread: the document is encoded and kept until [`IndexBuilder::finish`]).
    pub fn add(&self, p: &Person) -> Result<()> {
        use crate::schema::Sink;
        let f = self.fields;
        let mut doc = Encoded { bytes: Vec::with_capacity(256), key: 0 };
        add_shared(&mut doc, &f.shared(), p);
        let first = p.exercices.first();
        doc.add_text(f.family_name, first.map(|e| e.family_name.as_str()).unwrap_or(""));
        doc.add_text(f.given_name, first.map(|e| e.given_name.as_str()).unwrap_or(""));
        let acts: Vec<_> = p.exercices.iter().flat_map(|e| &e.activities).collect();
        for v in distinct(acts.iter().map(|a| a.structure.commune.code.as_str())) {
            doc.add_text(f.commune, v);
        }
        doc.add_text(f.valid_card, if p.valid_cards(&self.day).next().is_some() { "true" } else { "false" });
        doc.add_text(f.mailbox, if p.mailboxes.is_empty() { "false" } else { "true" });
        doc.key = name_key(first.map(|e| e.family_name.as_str()).unwrap_or(""));
        doc.add_u64(f.name_key, doc.key);
        if let Some((_, a)) = p.main_activity() {
            let s = &a.structure;
            doc.add_text(f.place, [s.postal_code.as_str(), s.town()].join(" ").trim());
        }
        self.pending.lock().map_err(|_| poisoned())?.push(doc);
        Ok(())
    }

    /// Commit and wait for merges: the index is complete on disk.
    pub fn finish(mut self) -> Result<()> {
        let ordered = std::mem::take(self.pending.get_mut().map_err(|_| poisoned())?);
        let started = std::time::Instant::now();
        let (documents, bytes) = ordered.size();
        let sorted = ordered.into_sorted();
        tracing::debug!(documents, bytes, elapsed = ?started.elapsed(), "the index's documents sorted by name");
        let mut batch = Vec::with_capacity(BATCH);
        for doc in sorted {
            batch.push(doc);
            if batch.len() == BATCH {
                self.writer.run(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)).into_iter().map(Add))?;
            }
        }
        if !batch.is_empty() {
            self.writer.run(batch.into_iter().map(Add))?;
        }
        tracing::debug!(elapsed = ?started.elapsed(), "the index's documents handed to tantivy");
        self.writer.commit()?;
        tracing::debug!(elapsed = ?started.elapsed(), "the index committed");
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

fn poisoned() -> Error {
    Error::Tantivy(tantivy::TantivyError::InternalError("a thread adding documents panicked".into()))
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// National id.
    pub idnat: String,
    /// Exercise family name (first exercice).
    pub family_name: String,
    /// Exercise given name (first exercice).
    pub given_name: String,
    /// Profession codes.
    pub professions: Vec<String>,
    /// Authority names.
    pub authorities: Vec<String>,
    /// Main activity place: postal code and town.
    pub place: String,
}

/// What a search returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResponse {
    /// Persons matching.
    pub total: u64,
    /// The page asked for.
    pub hits: Vec<Hit>,
    /// Counts of matching persons per value: `profession`, `authority_kind`, `department`, `valid_card` and
    /// `mailbox` (`"true"` / `"false"`).
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
}

/// An index open for searching.
pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
    /// The facet values of every document, read on first use (or by [`SearchIndex::prepare`]).
    facets: std::sync::OnceLock<std::result::Result<FacetTable, String>>,
    /// The largest bare prefixes' totals and facets, computed by [`SearchIndex::prepare`] (not by a search).
    prefixes: std::sync::OnceLock<Prefixes>,
}

/// Equal scores in name order: the score first, then the family name's sort key (smaller first).
fn by_name(
    segment: &tantivy::SegmentReader,
) -> impl Fn(tantivy::DocId, tantivy::Score) -> (tantivy::Score, std::cmp::Reverse<u64>) + use<> {
    let keys = segment.fast_fields().u64("name_key").ok();
    move |doc: tantivy::DocId, score: tantivy::Score| {
        let key = keys.as_ref().and_then(|k| k.first(doc)).unwrap_or(u64::MAX);
        (score, std::cmp::Reverse(key))
    }
}

/// The documents of ranked hits, in order.
fn addresses<S>(top: Vec<(S, tantivy::DocAddress)>) -> Vec<tantivy::DocAddress> {
    top.into_iter().map(|(_, a)| a).collect()
}

/// Words shorter than this match as prefixes only; from this length on, also with one typo (Meilisearch's default
/// `minWordSizeForTypos.oneTypo`: a typo allowed in a shorter word matches too much to be useful).
pub const MIN_WORD_FOR_TYPO: usize = 5;

/// Facets counted for every search.
pub const FACETS: [&str; 5] = ["profession", "authority_kind", "department", "valid_card", "mailbox"];

impl SearchIndex {
    /// Open the index in `dir`.
    pub fn open(dir: &Path) -> Result<SearchIndex> {
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let fields = fields_of(&index.schema())?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(SearchIndex { reader, fields, facets: std::sync::OnceLock::new(), prefixes: std::sync::OnceLock::new() })
    }

    /// Read the facet table now rather than at the first search, and count the largest bare prefixes (a server
    /// does it before it is asked; a few seconds at national size).
    pub fn prepare(&self) -> Result<()> {
        self.prepare_prefixes(crate::prefixes::MIN_MATCHES)
    }

    /// [`SearchIndex::prepare`], precomputing the bare prefixes that match at least `min_matches` persons (tests
    /// precompute all of them, to compare with searches that count).
    pub fn prepare_prefixes(&self, min_matches: u64) -> Result<()> {
        let table = self.facet_table()?;
        if self.prefixes.get().is_none() {
            let f = self.fields;
            let searcher = self.reader.searcher();
            let search = |prefix: &str| -> tantivy::Result<Precomputed> {
                let r = SearchRequest { text: Some(prefix.to_string()), ..Default::default() }.normalized();
                let top = TopDocs::with_limit(crate::prefixes::TOP).tweak_score(by_name);
                let (total, top, counts) = searcher.search(&*self.query(&r), &(Count, top, table.counts()))?;
                Ok(Precomputed { total: total as u64, counts, top: addresses(top) })
            };
            let computed = Prefixes::compute(&searcher, &[f.family_head, f.family_rest, f.given], min_matches, search)?;
            let _ = self.prefixes.set(computed);
        }
        Ok(())
    }

    /// How many bare prefixes [`SearchIndex::prepare`] precomputed.
    pub fn precomputed_prefixes(&self) -> usize {
        self.prefixes.get().map_or(0, Prefixes::len)
    }

    /// The precomputed search of a request that is one word and nothing else, if there is one.
    fn precomputed(&self, r: &SearchRequest) -> Option<&Precomputed> {
        let bare =
            [&r.profession, &r.authority, &r.department, &r.commune, &r.savoir_faire].iter().all(|f| f.is_none())
                && r.valid_card.is_none()
                && r.mailbox.is_none();
        if !bare {
            return None;
        }
        let folded = fold(r.text.as_deref()?);
        let mut words = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
        let (Some(word), None) = (words.next(), words.next()) else { return None };
        self.prefixes.get()?.get(word)
    }

    fn facet_table(&self) -> Result<&FacetTable> {
        self.facets
            .get_or_init(|| FacetTable::build(&self.reader.searcher(), &FACETS))
            .as_ref()
            .map_err(|e| Error::Facets(e.clone()))
    }

    fn query(&self, r: &SearchRequest) -> Box<dyn Query> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(text) = &r.text {
            for token in fold(text).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                // Every word must match a name, and scores by its best place (the words' scores are summed): the
                // first word of a family name (8), a later word of it (4), a given name (2), each as a prefix; then,
                // from MIN_WORD_FOR_TYPO letters on, any name word as a prefix with one typo (1).
                let tier = |field: Field, distance: u8, score: f32| -> Box<dyn Query> {
                    let q = FuzzyTermQuery::new_prefix(Term::from_field_text(field, token), distance, true);
                    Box::new(ConstScoreQuery::new(Box::new(q), score))
                };
                let names = [(f.family_head, 8.0), (f.family_rest, 4.0), (f.given, 2.0)];
                let mut tiers: Vec<_> = names.iter().map(|&(field, score)| tier(field, 0, score)).collect();
                let letters = token.chars().count();
                if (MIN_WORD_FOR_TYPO..=crate::MAX_TYPO_WORD_CHARS).contains(&letters) {
                    tiers.extend(names.iter().map(|&(field, _)| tier(field, 1, 1.0)));
                }
                clauses.push((Occur::Must, Box::new(DisjunctionMaxQuery::new(tiers))));
            }
        }
        // A filter adds nothing to a hit's score. As a scored term, its BM25 was lower for a person with two values of
        // the field (two professions, two departments) than for one with one, and ranked them apart within a tier.
        let filter = |field: Field, value: &str| -> Box<dyn Query> {
            let term = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(term), 0.0))
        };
        let mut exact = |field: Field, value: &Option<String>| {
            if let Some(v) = value {
                clauses.push((Occur::Must, filter(field, v.trim())));
            }
        };
        exact(f.profession, &r.profession);
        exact(f.valid_card, &r.valid_card.map(|b| b.to_string()));
        exact(f.mailbox, &r.mailbox.map(|b| b.to_string()));
        exact(f.department, &r.department.as_ref().map(|d| d.to_uppercase()));
        exact(f.commune, &r.commune);
        exact(f.savoir_faire, &r.savoir_faire);
        if let Some(a) = &r.authority {
            let (field, value) = match AuthorityKind::parse(a) {
                Some(k) => (f.authority_kind, k.as_str().to_string()),
                None => (f.authority, a.trim().to_ascii_uppercase()),
            };
            clauses.push((Occur::Must, filter(field, &value)));
        }
        if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) }
    }

    /// The idNat of the holder of a card number, if a person of this generation holds it.
    pub fn idnat_of_card(&self, number: &str) -> Result<Option<String>> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(Term::from_field_text(self.fields.card, number.trim()), IndexRecordOption::Basic);
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, addr)) => {
                let d: TantivyDocument = searcher.doc(*addr)?;
                Ok(d.get_first(self.fields.idnat).and_then(|v| v.as_str()).map(str::to_string))
            }
            None => Ok(None),
        }
    }

    /// Run a search: total, one page of hits (by relevance tier, equal scores by family name, stable for one index),
    /// facets.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        request.validate()?;
        let r = request.clone().normalized();
        let searcher = self.reader.searcher();
        let query = self.query(&r);
        let top_docs = TopDocs::with_limit(r.limit).and_offset(r.offset).tweak_score(by_name);
        let precomputed = self.precomputed(&r).zip(self.facets.get().and_then(|t| t.as_ref().ok()));
        let (total, top, facets) = match precomputed {
            // The page is among the first hits kept, or they are all the hits.
            Some((p, table)) if r.offset + r.limit <= p.top.len() || p.top.len() as u64 == p.total => {
                (p.total, p.top.iter().skip(r.offset).take(r.limit).copied().collect(), table.name(&p.counts))
            }
            Some((p, table)) => (p.total, addresses(searcher.search(&*query, &top_docs)?), table.name(&p.counts)),
            None => {
                let (total, top, facets) =
                    searcher.search(&*query, &(Count, top_docs, self.facet_table()?.collector()))?;
                (total as u64, addresses(top), facets)
            }
        };
        let f = self.fields;
        let text = |d: &TantivyDocument, field: Field| -> String {
            d.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_string()
        };
        let all = |d: &TantivyDocument, field: Field| -> Vec<String> {
            d.get_all(field).filter_map(|v| v.as_str().map(str::to_string)).collect()
        };
        let mut hits = Vec::with_capacity(top.len());
        for addr in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            hits.push(Hit {
                idnat: text(&d, f.idnat),
                family_name: text(&d, f.family_name),
                given_name: text(&d, f.given_name),
                professions: all(&d, f.profession),
                authorities: all(&d, f.authority),
                place: text(&d, f.place),
            });
        }
        Ok(SearchResponse { total, hits, facets })
    }
}
