//! The FHIR directory's index (`annuaire`'s `/fhir/{type}?…`): one document per person with the fields the Annuaire
//! Santé search parameters read (`crate::schema`'s `FhirFields`), answering a [`FhirQuery`] in idNat order after a
//! cursor with the total of matching persons and of their PractitionerRoles. A view of its own ([`FhirIndexView`],
//! `DATA_DIR/fhir-index/gen-N`), made by the server after a promotion and updated by each generation's changes, so
//! that the sync's critical path does not carry it. The HTTP layer turns FHIR query strings into a [`FhirQuery`];
//! this module knows nothing of FHIR's wire format.

use crate::fold;
use crate::index::Result;
use crate::schema::{FhirFields, add_fhir_fields, fhir_fields_of, fhir_schema, register};
use annuaire_schemas::{AuthorityKind, Person};
use annuaire_views::{Build, GenerationView, ViewWriter};
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument};
use tantivy::{DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentReader, Term};

pub use crate::schema::{SYSTEM_FINESS, SYSTEM_IDNPS, SYSTEM_IDNST, SYSTEM_RPPS, SYSTEM_RPPS_RANG, SYSTEM_SIRET};

/// A field a FHIR search parameter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `_id`, `practitioner`: the idNat.
    Id,
    /// `identifier`: `value` or `system|value` of idNatPs, RPPS, ADELI.
    Identifier,
    /// `family`: the family names, each word a prefix, in order from the first.
    Family,
    /// `given`: the given names, each word a prefix.
    Given,
    /// `name`: any word of a name, each a prefix.
    Name,
    /// `number-smartcard`: a CPS/CPF number.
    Card,
    /// `type-smartcard`: a CPx card type (`CPS`, `CPF` ...), `code` or `system|code`.
    CardType,
    /// `mailbox-mss`: an MSSanté address (a prefix, case-insensitive).
    Mailbox,
    /// `mailbox-mss-type`: the type of an MSSanté mailbox (`PER`, `CAB` ...), `code` or `system|code`.
    MailboxType,
    /// `address-postalcode`: a postal code prefix.
    PostalCode,
    /// `address-city`: a town, each word a prefix.
    City,
    /// `data-registration-authority`: an authority (`CNOM`, `ONI`, an ARS ...) or its kind (`ordre`, `ars`, `local`).
    Authority,
    /// `organization`: the Organization id of an activity's structure.
    Organization,
    /// Organization's `identifier`: a structure's FINESS, SIRET, idNatSt or RPPS rang.
    OrganizationIdentifier,
    /// Organization's `name`: a structure's name, each word a prefix.
    OrganizationName,
    /// `role`: a code of a PractitionerRole (profession, genre, mode, role, section, sector).
    RoleCode,
    /// `specialty`: a savoir-faire or sector code.
    Specialty,
    /// `qualification-code`: a profession, category or savoir-faire code.
    Qualification,
    /// `department` (this server's own parameter): a department code.
    Department,
}

/// One parameter: any of its values matches (FHIR's comma is OR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// What it reads.
    pub param: Param,
    /// Its values (at least one).
    pub values: Vec<String>,
}

/// A FHIR search: every clause must match (FHIR's repeated parameters are AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FhirQuery {
    /// The filters.
    pub clauses: Vec<Clause>,
    /// The versions (generations that wrote them) allowed, inclusive: `_lastUpdated` turned into generations.
    pub versions: (Option<i64>, Option<i64>),
    /// Only idNats after this one (the cursor of the previous page).
    pub after: Option<String>,
    /// Page size (0: count only).
    pub count: usize,
}

/// One person a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirHit {
    /// The idNat (the Practitioner's id).
    pub idnat: String,
    /// The generation that wrote their version.
    pub version: i64,
}

/// A page of a FHIR search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirPage {
    /// Persons matching (whatever the cursor).
    pub total: u64,
    /// Their PractitionerRoles, in all.
    pub roles: u64,
    /// The page, in idNat order.
    pub hits: Vec<FhirHit>,
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn prefix(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(FuzzyTermQuery::new_prefix(Term::from_field_text(field, value), 0, false))
}

/// Every folded word of `value` as a prefix in `field` (at least one word; none matches nothing).
fn words(field: Field, value: &str, first: Option<Field>) -> Box<dyn Query> {
    let folded = fold(value);
    let ws: Vec<&str> = folded.split_whitespace().collect();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        let f = match (i, first) {
            (0, Some(head)) => head,
            _ => field,
        };
        clauses.push((Occur::Must, prefix(f, w)));
    }
    if clauses.is_empty() {
        return Box::new(BooleanQuery::new(vec![(Occur::MustNot, Box::new(AllQuery) as Box<dyn Query>)]));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// The FHIR index's folder name under the data directory.
pub const FHIR_INDEX: &str = "fhir-index";

/// Writes a FHIR index (a new one, or a copy of the previous generation's to update).
pub struct FhirIndexBuilder {
    writer: IndexWriter,
    fields: FhirFields,
}

impl FhirIndexBuilder {
    /// A new index in an empty directory (`threads`: indexing threads, `None` for tantivy's default).
    pub fn create(dir: &Path, threads: Option<usize>) -> Result<FhirIndexBuilder> {
        let (schema, fields) = fhir_schema();
        let index = Index::builder().schema(schema).create_in_dir(dir)?;
        register(&index);
        let writer = match threads {
            Some(n) => index.writer_with_num_threads(n, 100_000_000)?,
            None => index.writer(200_000_000)?,
        };
        Ok(FhirIndexBuilder { writer, fields })
    }

    /// True when the index in `dir` has this version's schema.
    pub fn is_current(dir: &Path) -> bool {
        Index::open_in_dir(dir).is_ok_and(|i| fhir_fields_of(&i.schema()).is_ok())
    }

    /// Open a copy of the previous generation's index to update it.
    pub fn open(dir: &Path) -> Result<FhirIndexBuilder> {
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let fields = fhir_fields_of(&index.schema())?;
        Ok(FhirIndexBuilder { writer: index.writer(100_000_000)?, fields })
    }

    /// Remove a person's document.
    pub fn remove(&self, idnat: &str) {
        self.writer.delete_term(Term::from_field_text(self.fields.idnat, idnat));
    }

    /// Add a person with the generation that wrote their version.
    pub fn add(&self, p: &Person, since: i64) -> Result<()> {
        let mut doc = TantivyDocument::default();
        add_fhir_fields(&mut doc, &self.fields, p, since);
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Commit and wait for merges.
    pub fn finish(mut self) -> Result<()> {
        self.writer.commit()?;
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// The FHIR index of a generation: a view made by the server after a promotion (not by the sync).
pub struct FhirIndexView;

impl GenerationView for FhirIndexView {
    fn name(&self) -> &'static str {
        FHIR_INDEX
    }

    fn version(&self) -> u32 {
        // 2: the card types (`type-smartcard`); 3: the mailboxes' types (`mailbox-mss-type`); 4: no field norms.
        4
    }

    fn build(&self, dir: &Path, _: i64, how: Build) -> annuaire_views::Result<Box<dyn ViewWriter>> {
        // One indexing thread either way: a server makes this view while it answers claims, and leaves them a core.
        let _ = how;
        Ok(Box::new(FhirWriting(FhirIndexBuilder::create(dir, Some(1))?)))
    }

    fn update(&self, base: &Path, dir: &Path, _: i64) -> annuaire_views::Result<Option<Box<dyn ViewWriter>>> {
        if !FhirIndexBuilder::is_current(base) {
            return Ok(None);
        }
        crate::view::copy_dir(base, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Some(Box::new(FhirWriting(FhirIndexBuilder::open(dir)?))))
    }
}

struct FhirWriting(FhirIndexBuilder);

impl ViewWriter for FhirWriting {
    fn remove(&mut self, idnat: &str) -> annuaire_views::Result<()> {
        self.0.remove(idnat);
        Ok(())
    }

    fn add(&mut self, person: &Person) -> annuaire_views::Result<()> {
        Ok(self.0.add(person, 0)?)
    }

    fn add_version(&mut self, person: &Person, since: i64) -> annuaire_views::Result<()> {
        Ok(self.0.add(person, since)?)
    }

    fn finish(self: Box<Self>) -> annuaire_views::Result<()> {
        Ok(self.0.finish()?)
    }
}

/// A FHIR index open for searching.
pub struct FhirIndex {
    reader: IndexReader,
    fields: FhirFields,
}

impl FhirIndex {
    /// Open the index in `dir`.
    pub fn open(dir: &Path) -> Result<FhirIndex> {
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let fields = fhir_fields_of(&index.schema())?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(FhirIndex { reader, fields })
    }

    fn fields(&self) -> FhirFields {
        self.fields
    }

    fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }

    fn fhir_value(&self, param: Param, v: &str) -> Box<dyn Query> {
        let f = self.fields();
        let v = v.trim();
        let any = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(qs.into_iter().map(|q| (Occur::Should, q)).collect()))
        };
        match param {
            Param::Id => term(f.idnat, v),
            // `system|value`: idNatPs is the idNat, an RPPS number is `8` + it; a bare value is read as a user types it
            // (idNat, RPPS, ADELI); another system matches nothing.
            Param::Identifier => match v.split_once('|') {
                Some((SYSTEM_RPPS, rpps)) => term(f.idnat, &format!("8{rpps}")),
                Some(("" | SYSTEM_IDNPS, id)) => {
                    any(annuaire_schemas::id::candidates(id).iter().map(|c| term(f.idnat, c)).collect())
                }
                Some(_) => any(Vec::new()),
                None => any(annuaire_schemas::id::candidates(v).iter().map(|c| term(f.idnat, c)).collect()),
            },
            // The first word of a family name (a later one: any word of the family names).
            Param::Family => any(vec![words(f.family_rest, v, Some(f.family_head)), words(f.family_rest, v, None)]),
            Param::Given => words(f.given, v, None),
            Param::Name => words(f.names, v, None),
            Param::Card => term(f.card, v),
            Param::CardType => term(f.card_type, v.rsplit('|').next().unwrap_or(v).trim()),
            Param::Mailbox => prefix(f.mailbox_address, &v.to_lowercase()),
            Param::MailboxType => term(f.mailbox_type, &v.rsplit('|').next().unwrap_or(v).trim().to_uppercase()),
            Param::PostalCode => prefix(f.postal_code, v),
            Param::City => words(f.city, v, None),
            Param::Authority => match AuthorityKind::parse(v) {
                Some(k) => term(f.authority_kind, k.as_str()),
                None => term(f.authority, &v.to_ascii_uppercase()),
            },
            Param::Organization => term(f.organization, v.strip_prefix("Organization/").unwrap_or(v)),
            Param::OrganizationIdentifier => term(f.organization_identifier, v.rsplit('|').next().unwrap_or(v)),
            Param::OrganizationName => words(f.organization_name, v, None),
            Param::RoleCode => term(f.role_code, v),
            Param::Specialty => any(vec![term(f.savoir_faire, v), term(f.sector, v)]),
            Param::Qualification => any(vec![term(f.profession, v), term(f.category, v), term(f.savoir_faire, v)]),
            Param::Department => term(f.department, &v.to_uppercase()),
        }
    }

    fn fhir_query(&self, q: &FhirQuery, after: bool) -> Box<dyn Query> {
        let f = self.fields();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for c in &q.clauses {
            let values: Vec<(Occur, Box<dyn Query>)> =
                c.values.iter().map(|v| (Occur::Should, self.fhir_value(c.param, v))).collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(values))));
        }
        if q.versions != (None, None) {
            let bound = |b: Option<i64>| match b {
                Some(g) => Bound::Included(Term::from_field_u64(f.version, u64::try_from(g.max(0)).unwrap_or(0))),
                None => Bound::Unbounded,
            };
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(q.versions.0), bound(q.versions.1)))));
        }
        if after && let Some(a) = &q.after {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(Bound::Excluded(Term::from_field_text(f.idnat, a)), Bound::Unbounded)),
            ));
        }
        if clauses.is_empty() {
            return Box::new(AllQuery);
        }
        if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Run a FHIR search: the persons matching, their roles, and one page in idNat order after the cursor.
    pub fn fhir_search(&self, q: &FhirQuery) -> Result<FhirPage> {
        let searcher = self.searcher();
        let top = TopDocs::with_limit(q.count.max(1)).order_by_string_fast_field("idnat", Order::Asc);
        // A first page counts and takes its page in one pass; a later one (after a cursor) counts without the cursor.
        let (total, roles, page) = if q.after.is_none() {
            searcher.search(&*self.fhir_query(q, false), &(Count, SumRoles, top))?
        } else {
            let (total, roles) = searcher.search(&*self.fhir_query(q, false), &(Count, SumRoles))?;
            (total, roles, searcher.search(&*self.fhir_query(q, true), &top)?)
        };
        let mut hits = Vec::new();
        if q.count > 0 {
            // The idNat is the sort key and the version a fast field: the document store (a block decompressed per
            // document) is not read.
            // One version column per segment (opening a column reads its block index).
            let mut columns: std::collections::HashMap<u32, tantivy::columnar::Column<u64>> = Default::default();
            for (idnat, addr) in page {
                let versions = match columns.entry(addr.segment_ord) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(searcher.segment_reader(addr.segment_ord).fast_fields().u64("version")?)
                    }
                };
                let version = versions.first(addr.doc_id).unwrap_or(0);
                hits.push(FhirHit {
                    idnat: idnat.unwrap_or_default(),
                    version: i64::try_from(version).unwrap_or(i64::MAX),
                });
            }
        }
        Ok(FhirPage { total: total as u64, roles, hits })
    }
}

/// Sums the `roles` fast field of the matching documents.
struct SumRoles;

struct SumRolesSegment(Option<tantivy::columnar::Column<u64>>, u64);

impl Collector for SumRoles {
    type Fruit = u64;
    type Child = SumRolesSegment;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SumRolesSegment> {
        Ok(SumRolesSegment(segment.fast_fields().u64("roles").ok(), 0))
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<u64>) -> tantivy::Result<u64> {
        Ok(fruits.into_iter().sum())
    }
}

impl SegmentCollector for SumRolesSegment {
    type Fruit = u64;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(c) = &self.0 {
            self.1 += c.first(doc).unwrap_or(0);
        }
    }

    fn harvest(self) -> u64 {
        self.1
    }
}
