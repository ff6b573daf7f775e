//! The index's schema: one document per person, its fields, and the `folded` tokenizer. The search index view's
//! version (`view.rs`) is bumped with it; an index of another schema is rebuilt, never updated.

use crate::fold;
use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};

/// Declares the fields once: the struct of their handles, the schema that adds them, and the reading of an index's
/// schema (which fails when a field is missing: the index is then of an older version).
macro_rules! fields {
    ($($(#[$doc:meta])* $name:ident: $add:ident($opts:expr)),* $(,)?) => {
        #[derive(Clone, Copy)]
        pub(crate) struct Fields {
            $($(#[$doc])* pub(crate) $name: Field,)*
        }

        pub(crate) fn schema() -> (Schema, Fields) {
            let mut b = Schema::builder();
            let f = Fields { $($name: b.$add(stringify!($name), $opts),)* };
            (b.build(), f)
        }

        pub(crate) fn fields_of(schema: &Schema) -> crate::index::Result<Fields> {
            Ok(Fields { $($name: schema.get_field(stringify!($name))?,)* })
        }
    };
}

fn folded() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("folded").set_index_option(IndexRecordOption::WithFreqs),
    )
}

fn facet() -> TextOptions {
    STRING | FAST | STORED
}

fields! {
    idnat: add_text_field(STRING | STORED | FAST),
    names: add_text_field(folded()),
    /// The ranking's tiers: the first word of each family name, its later words, the given names.
    family_head: add_text_field(folded()),
    family_rest: add_text_field(folded()),
    given: add_text_field(folded()),
    family_name: add_text_field(STORED),
    given_name: add_text_field(STORED),
    profession: add_text_field(facet()),
    category: add_text_field(STRING),
    savoir_faire: add_text_field(STRING),
    authority_kind: add_text_field(facet()),
    authority: add_text_field(STRING | STORED),
    department: add_text_field(facet()),
    commune: add_text_field(STRING),
    postal_code: add_text_field(STRING),
    mode: add_text_field(STRING),
    sector: add_text_field(STRING),
    id_type: add_text_field(STRING),
    place: add_text_field(STORED),
    card: add_text_field(STRING),
    valid_card: add_text_field(STRING | FAST),
    mailbox: add_text_field(STRING | FAST),
    /// The index is sorted on it (the first twelve letters of the first family name): the persons a name prefix
    /// matches are then neighbours, and counting their facets reads memory in order.
    name_key: add_u64_field(FAST),
    /// FHIR (`crate::fhir`): identifiers as `value` and `system|value`.
    identifier: add_text_field(STRING),
    /// FHIR: MSSanté addresses, lower case.
    mailbox_address: add_text_field(STRING),
    /// FHIR: the towns of the activities' places (commune or cedex office), folded.
    city: add_text_field(folded()),
    /// FHIR: the Organization ids of the activities' structures.
    organization: add_text_field(STRING),
    /// FHIR: the structures' identifiers, as `value` and `system|value`.
    organization_identifier: add_text_field(STRING),
    /// FHIR: the structures' names, folded.
    organization_name: add_text_field(folded()),
    /// FHIR: every code of the PractitionerRoles (profession, genre, mode, role, section, sector).
    role_code: add_text_field(STRING),
    /// FHIR: the generation that wrote the person's version (`meta.versionId`, `_lastUpdated`).
    version: add_u64_field(INDEXED | FAST | STORED),
    /// FHIR: how many PractitionerRoles the person has (the total of a role search without role filters).
    roles: add_u64_field(FAST | STORED),
}

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

/// Letters of a family name its sort key holds (equal keys are in index order).
pub const NAME_KEY_LETTERS: usize = 12;
