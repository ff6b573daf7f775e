//! The indexes' schemas (the analysts' index and the FHIR directory's), one document per person, their fields, and the
//! `folded` tokenizer. A view's version (`view.rs`, `fhir.rs`) is bumped with its schema; an index of another schema
//! is rebuilt, never updated.

use crate::fold;
use annuaire_schemas::Person;
use tantivy::Index;
use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};

/// Declares the fields once: the struct of their handles, the schema that adds them, and the reading of an index's
/// schema (which fails when a field is missing: the index is then of an older version).
macro_rules! fields {
    ($fields:ident, $schema:ident, $fields_of:ident { $($(#[$doc:meta])* $name:ident: $add:ident($opts:expr)),* $(,)? }) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $fields {
            $($(#[$doc])* pub(crate) $name: Field,)*
        }

        pub(crate) fn $schema() -> (Schema, $fields) {
            let mut b = Schema::builder();
            let f = $fields { $($name: b.$add(stringify!($name), $opts),)* };
            (b.build(), f)
        }

        /// The fields of an index of this schema; an index with a field more or less is of another version.
        pub(crate) fn $fields_of(schema: &Schema) -> tantivy::Result<$fields> {
            let names = [$(stringify!($name)),*];
            if schema.fields().count() != names.len() {
                return Err(tantivy::TantivyError::SchemaError(format!(
                    "{} fields, where this version has {}",
                    schema.fields().count(),
                    names.len()
                )));
            }
            Ok($fields { $($name: schema.get_field(stringify!($name))?,)* })
        }
    };
}

/// Folded words: filters and constant-score tiers, the smaller postings.
fn folded_filter() -> TextOptions {
    indexed("folded")
}

/// A value indexed whole, as tantivy's `STRING` but without field norms.
fn string() -> TextOptions {
    indexed("raw")
}

/// Indexed by `tokenizer`, without frequencies or field norms: every query of both indexes scores as a constant or
/// sorts by a column, so nothing reads either (a norm per document and indexed field was about 3 % of a first load's
/// CPU and 3.5 MB a segment, 2026-12-05).
fn indexed(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

/// A counted facet (`crate::facets` reads its column). Stored only where a hit shows it (`profession`).
fn facet() -> TextOptions {
    string() | FAST
}

// Stored: what a hit shows (`index::Hit`), nothing else (the sort copies the document store at every flush). No
// column for the idNat: nothing reads one in this index (the FHIR index has its own, for its order). Indexed: what
// `SearchIndex` queries, nothing else (categories, postal codes, modes, sectors and id types are the counting table's
// and the FHIR index's; in this index they were a fifth of the first load's postings, queried by nothing).
fields! { Fields, schema, fields_of {
    idnat: add_text_field(string() | STORED),
    /// The ranking's tiers: the first word of each family name, its later words, the given names. Every tier scores
    /// as a constant, so no frequencies; the one-typo tier reads the same three fields (no field of every name word:
    /// it was an eighth of the first load's postings).
    family_head: add_text_field(folded_filter()),
    family_rest: add_text_field(folded_filter()),
    given: add_text_field(folded_filter()),
    family_name: add_text_field(STORED),
    given_name: add_text_field(STORED),
    profession: add_text_field(facet() | STORED),
    savoir_faire: add_text_field(string()),
    authority_kind: add_text_field(facet()),
    authority: add_text_field(string() | STORED),
    department: add_text_field(facet()),
    commune: add_text_field(string()),
    place: add_text_field(STORED),
    card: add_text_field(string()),
    valid_card: add_text_field(string() | FAST),
    mailbox: add_text_field(string() | FAST),
    /// The documents are handed to tantivy in its order (the first twelve letters of the first family name; then the
    /// idNat: `crate::ordered`): the persons a name prefix matches are neighbours in each segment, and counting their
    /// facets reads memory in order. Ties of score are ranked by it.
    name_key: add_u64_field(FAST),
}}

// The FHIR directory's own index (`crate::fhir`): a view of its own, made by the server after a promotion, so that
// the sync's critical path does not carry it (in the analysts' index it cost the first load 40 % more CPU and 260 MB).
fields! { FhirFields, fhir_schema, fhir_fields_of {
    idnat: add_text_field(string() | STORED | FAST),
    /// Every word of the exercise names; the first word of each family name; its later words; the given names.
    names: add_text_field(folded_filter()),
    family_head: add_text_field(folded_filter()),
    family_rest: add_text_field(folded_filter()),
    given: add_text_field(folded_filter()),
    profession: add_text_field(string()),
    category: add_text_field(string()),
    savoir_faire: add_text_field(string()),
    authority_kind: add_text_field(string()),
    authority: add_text_field(string()),
    department: add_text_field(string()),
    postal_code: add_text_field(string()),
    sector: add_text_field(string()),
    card: add_text_field(string()),
    /// The types of the person's CPx cards (TRE_R87-TypeCarte: `CPS`, `CPF` ...).
    card_type: add_text_field(string()),
    /// MSSanté addresses, lower case.
    mailbox_address: add_text_field(string()),
    /// The types of the person's MSSanté mailboxes (TRE_R256-TypeMessagerie: `PER`, `CAB` ...), upper case.
    mailbox_type: add_text_field(string()),
    /// The towns of the activities' places (commune or cedex office), folded.
    city: add_text_field(folded_filter()),
    /// The Organization ids of the activities' structures.
    organization: add_text_field(string()),
    /// The structures' identifiers (RPPS rang, idNatSt, FINESS site and legal entity, SIRET), values only (a
    /// `system|value` search is read as its value: the systems' values do not overlap).
    organization_identifier: add_text_field(string()),
    /// The structures' names, folded.
    organization_name: add_text_field(folded_filter()),
    /// Every code of the PractitionerRoles (profession, genre, mode, role, section, sector).
    role_code: add_text_field(string()),
    /// The generation that wrote the person's version (`meta.versionId`, `_lastUpdated`).
    version: add_u64_field(FAST | STORED),
    /// How many PractitionerRoles the person has (the total of a role search without role filters).
    roles: add_u64_field(FAST),
}}

pub(crate) fn register(index: &Index) {
    let folded =
        TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build();
    index.tokenizers().register("folded", folded);
}

/// The sort key of a family name: its first twelve folded letters, five bits each (a separator sorts before `a`, a
/// shorter name before a longer one), so that integer order is name order.
pub(crate) fn name_key(family_name: &str) -> u64 {
    let mut key = 0u64;
    let mut n = 0;
    for c in fold(family_name).chars().take(NAME_KEY_LETTERS) {
        let v = if c.is_ascii_lowercase() { u64::from(c as u8 - b'a') + 2 } else { 1 };
        key = (key << 5) | v;
        n += 1;
    }
    key << (5 * (NAME_KEY_LETTERS - n))
}

/// Letters of a family name its sort key holds (equal keys are in idNat order within a segment).
pub const NAME_KEY_LETTERS: usize = 12;

// What the FHIR directory's parameters read (`crate::fhir`), added to each person's document.

/// The identifier system of idNatPs (Annuaire Santé IG, `as-practitioner`).
pub const SYSTEM_IDNPS: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// The identifier system of RPPS numbers.
pub const SYSTEM_RPPS: &str = "https://rpps.esante.gouv.fr";
/// The identifier system of structures' idNatSt.
pub const SYSTEM_IDNST: &str = "urn:oid:1.2.250.1.71.4.2.2";
/// The identifier system of FINESS numbers.
pub const SYSTEM_FINESS: &str = "https://finess.esante.gouv.fr";
/// The identifier system of RPPS rangs (structures' technical ids), as in the IG's example
/// `PP19DP-Organization-EG-CH.fsh`.
pub const SYSTEM_RPPS_RANG: &str = "https://rppsrang.esante.gouv.fr";
/// The identifier system of SIRET numbers (INSEE's SIRENE register).
pub const SYSTEM_SIRET: &str = "https://sirene.fr";

/// Add what the FHIR parameters read to a person's document.
pub(crate) fn add_fhir_fields(doc: &mut TantivyDocument, f: &FhirFields, p: &Person, since: i64) {
    add_shared(doc, &f.shared(), p);
    for e in &p.exercices {
        doc.add_text(f.names, format!("{} {}", e.family_name, e.given_name));
    }
    for m in distinct(p.mailboxes.iter().map(|m| m.address.trim().to_lowercase())) {
        doc.add_text(f.mailbox_address, m);
    }
    for t in distinct(p.cards.iter().map(|c| c.card_type.code.trim())) {
        doc.add_text(f.card_type, t);
    }
    let kinds = p.mailboxes.iter().filter(|m| !m.address.trim().is_empty()).map(|m| m.kind.trim().to_uppercase());
    for k in distinct(kinds) {
        doc.add_text(f.mailbox_type, k);
    }
    for v in distinct(p.exercices.iter().map(|e| e.category.code.as_str())) {
        doc.add_text(f.category, v);
    }
    let acts: Vec<_> = p.exercices.iter().flat_map(|e| e.activities.iter().map(move |a| (e, a))).collect();
    for v in distinct(acts.iter().map(|(_, a)| a.structure.postal_code.as_str())) {
        doc.add_text(f.postal_code, v);
    }
    for v in distinct(acts.iter().map(|(_, a)| a.sector.code.as_str())) {
        doc.add_text(f.sector, v);
    }
    for town in distinct(acts.iter().map(|(_, a)| a.structure.town())) {
        doc.add_text(f.city, town);
    }
    for id in distinct(acts.iter().filter_map(|(_, a)| a.structure.fhir_id())) {
        doc.add_text(f.organization, id);
    }
    for v in distinct(acts.iter().flat_map(|(_, a)| organization_identifiers(&a.structure))) {
        doc.add_text(f.organization_identifier, v);
    }
    for v in distinct(acts.iter().flat_map(|(_, a)| [a.structure.name.as_str(), a.structure.commercial_name.as_str()]))
    {
        doc.add_text(f.organization_name, v);
    }
    let codes = acts.iter().flat_map(|(e, a)| {
        [&e.profession, &a.genre, &a.mode, &a.role, &a.pharmacist_section, &a.sector].map(|c| c.code.as_str())
    });
    for v in distinct(codes) {
        doc.add_text(f.role_code, v);
    }
    doc.add_u64(f.version, u64::try_from(since).unwrap_or(0));
    doc.add_u64(f.roles, acts.len() as u64);
}

/// A structure's identifiers as the index holds them: their values.
fn organization_identifiers(s: &annuaire_schemas::model::Structure) -> impl Iterator<Item = String> + '_ {
    [&s.technical_id, &s.old_id, &s.finess_site, &s.finess_ej, &s.siret]
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The fields both indexes hold the same way: the names' tiers and the filters.
pub(crate) struct Shared {
    idnat: Field,
    family_head: Field,
    family_rest: Field,
    given: Field,
    profession: Field,
    savoir_faire: Field,
    authority_kind: Field,
    authority: Field,
    department: Field,
    card: Field,
}

macro_rules! shared_of {
    ($t:ty) => {
        impl $t {
            pub(crate) fn shared(&self) -> Shared {
                Shared {
                    idnat: self.idnat,
                    family_head: self.family_head,
                    family_rest: self.family_rest,
                    given: self.given,
                    profession: self.profession,
                    savoir_faire: self.savoir_faire,
                    authority_kind: self.authority_kind,
                    authority: self.authority,
                    department: self.department,
                    card: self.card,
                }
            }
        }
    };
}
shared_of!(Fields);
shared_of!(FhirFields);

/// Distinct non-blank values, sorted.
pub(crate) fn distinct<T: AsRef<str> + Ord>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.into_iter().filter(|s| !s.as_ref().trim().is_empty()).collect();
    v.sort();
    v.dedup();
    v
}

/// Each exercice's (family name, given name), without repeats.
pub(crate) fn ex_names(p: &Person) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> =
        p.exercices.iter().map(|e| (e.family_name.as_str(), e.given_name.as_str())).collect();
    v.sort();
    v.dedup();
    v
}

/// Where a document's values go: tantivy's document, or a build's buffer of documents to hand over in name order
/// (`ordered::Ordered`).
pub(crate) trait Sink {
    /// A text value.
    fn add_text<S: AsRef<str>>(&mut self, field: Field, text: S);
    /// A number.
    fn add_u64(&mut self, field: Field, value: u64);
}

impl Sink for TantivyDocument {
    fn add_text<S: AsRef<str>>(&mut self, field: Field, text: S) {
        TantivyDocument::add_text(self, field, text);
    }

    fn add_u64(&mut self, field: Field, value: u64) {
        TantivyDocument::add_u64(self, field, value);
    }
}

/// Add what both indexes hold the same way: the idNat, the first word of each family name, its later words and the
/// given names (folded), and the filters (professions, savoir-faire, authorities, departments, cards). The idNat comes
/// first: documents of equal name keys are handed to tantivy in the order of their first value (`ordered::Ordered`).
pub(crate) fn add_shared(doc: &mut impl Sink, f: &Shared, p: &Person) {
    doc.add_text(f.idnat, p.idnat.as_str());
    for (family, given) in ex_names(p) {
        let family = fold(family);
        let mut words = family.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
        if let Some(head) = words.next() {
            doc.add_text(f.family_head, head);
        }
        for w in words {
            doc.add_text(f.family_rest, w);
        }
        doc.add_text(f.given, fold(given));
    }
    let ex = &p.exercices;
    for v in distinct(ex.iter().map(|e| e.profession.code.as_str())) {
        doc.add_text(f.profession, v);
    }
    for v in distinct(ex.iter().flat_map(|e| e.savoir_faire.iter().map(|s| s.code.code.as_str()))) {
        doc.add_text(f.savoir_faire, v);
    }
    for v in distinct(ex.iter().map(|e| e.authority.kind.as_str())) {
        doc.add_text(f.authority_kind, v);
    }
    for v in distinct(ex.iter().map(|e| e.authority.name.as_str())) {
        doc.add_text(f.authority, v);
    }
    for v in p.department_codes() {
        doc.add_text(f.department, v);
    }
    for c in &p.cards {
        doc.add_text(f.card, c.number.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_with_a_field_more_is_of_another_version() {
        let (current, _) = schema();
        assert!(fields_of(&current).is_ok());
        // Version 5 had every field of version 6, and `names` besides.
        let mut b = Schema::builder();
        for (_, entry) in current.fields() {
            b.add_field(entry.clone());
        }
        b.add_text_field("names", string());
        assert!(fields_of(&b.build()).is_err());
        let (fhir, _) = fhir_schema();
        assert!(fhir_fields_of(&fhir).is_ok());
        assert!(fields_of(&fhir).is_err());
    }
}
