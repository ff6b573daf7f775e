//! A build's documents kept until it is finished and handed to tantivy in name order ([`Ordered`]), for
//! [`crate::IndexBuilder`].

use tantivy::TantivyDocument;
use tantivy::schema::Field;

/// A build's documents, encoded as they are made (from any thread, in any order) and handed to tantivy sorted by name
/// key, then by idNat, when the build is finished. tantivy then writes segments already in name order without being
/// told to sort them: its index sort (`IndexSettings::sort_by_field`, which builds before 2026-12-04's evening used)
/// remapped every segment's postings, columns and stored documents when it wrote them and merged segments by key,
/// about a tenth of a first load's CPU (docs/benchmarks.md, "The evening of 2026-12-04"). Each segment holds persons
/// in name order: the persons a name prefix matches are neighbours in each.
///
/// A document is its values one after the other, each a field byte (below [`INTERNED`]) with its kind's flag, then
/// a number's eight bytes, or a LEB128 length and a text's bytes, or the LEB128 number of a value of the
/// [`Ordered::interned`] fields in [`Ordered::words`]; [`END`] ends it. At national size about 90 bytes a person (151 MB), in
/// chunks of [`CHUNK`] bytes (no reallocation of the whole as the build grows).
#[derive(Default)]
pub(crate) struct Ordered {
    chunks: Vec<Vec<u8>>,
    /// Each document's name key, the first bytes of its encoding ([`head`]) and place: its chunk's index times
    /// [`CHUNK`] plus its offset in the chunk.
    keys: Vec<(u64, u128, u64)>,
    /// The fields whose values are few and repeated (professions, authorities, departments, communes…), one bit
    /// each: their values are written once, in `words`.
    interned: u64,
    /// The interned values, by number.
    words: Vec<Box<str>>,
    /// The interned values' numbers.
    numbers: std::collections::HashMap<Box<str>, u32>,
}

/// The size of an [`Ordered`] chunk (a larger document gets a chunk of its own).
const CHUNK: usize = 1 << 20;
/// Ends a document in [`Ordered`].
const END: u8 = 0xff;
/// Marks a number's field byte in [`Ordered`].
const NUMBER: u8 = 0x80;
/// Marks an interned text's field byte in [`Ordered`]; field numbers are below it.
const INTERNED: u8 = 0x40;

/// One document being encoded for [`Ordered`] (its texts in full: [`Ordered::push`] interns them).
#[derive(Default)]
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) key: u64,
}

impl crate::schema::Sink for Encoded {
    fn add_text<S: AsRef<str>>(&mut self, field: Field, text: S) {
        let text = text.as_ref().as_bytes();
        self.bytes.push(field_byte(field));
        put_len(&mut self.bytes, text.len());
        self.bytes.extend_from_slice(text);
    }

    fn add_u64(&mut self, field: Field, value: u64) {
        self.bytes.push(field_byte(field) | NUMBER);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
}

/// A field's byte in [`Ordered`]: the schema's fields are fewer than [`INTERNED`] (a test holds it).
fn field_byte(field: Field) -> u8 {
    debug_assert!(field.field_id() < u32::from(INTERNED));
    field.field_id() as u8
}

/// The first 16 bytes of an encoded document, big-endian (zeros past its end): heads compare as the bytes they
/// hold, so that ordering documents by head, then by their bytes, orders them by their bytes. The idNat comes first
/// (`add_shared`), so the head holds its field byte, its length and up to 14 of its bytes. Ties of name key were
/// broken by comparing the documents' bytes where they lie, one cache miss each: the sort of a national load's
/// documents took 0.44 s on two cores.
fn head(bytes: &[u8]) -> u128 {
    let mut first = [0u8; 16];
    let n = bytes.len().min(16);
    first[..n].copy_from_slice(&bytes[..n]);
    u128::from_be_bytes(first)
}

/// Write `n` in LEB128.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Read a LEB128 number (`None` when the bytes end first or it is too long for a value's length).
fn take_len(bytes: &mut &[u8]) -> Option<usize> {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

/// A value of a document of [`Ordered`].
enum Stored<'a> {
    Text(&'a [u8]),
    Number(u64),
    Word(usize),
}

/// The values of a document of [`Ordered`] (or of an [`Encoded`]), each with its field's number, up to [`END`] or to
/// a malformed value.
struct Values<'a>(&'a [u8]);

impl<'a> Iterator for Values<'a> {
    type Item = (u32, Stored<'a>);

    fn next(&mut self) -> Option<(u32, Stored<'a>)> {
        let (&head, mut rest) = self.0.split_first()?;
        if head == END {
            return None;
        }
        let value = if head & NUMBER != 0 {
            let (number, r) = rest.split_first_chunk::<8>()?;
            rest = r;
            Stored::Number(u64::from_le_bytes(*number))
        } else if head & INTERNED != 0 {
            Stored::Word(take_len(&mut rest)?)
        } else {
            let n = take_len(&mut rest)?;
            let (text, r) = rest.split_at_checked(n)?;
            rest = r;
            Stored::Text(text)
        };
        self.0 = rest;
        Some((u32::from(head & !(NUMBER | INTERNED)), value))
    }
}

impl Ordered {
    /// A build of documents whose `interned` fields' values are written once.
    pub(crate) fn interning(interned: &[Field]) -> Ordered {
        let interned = interned.iter().fold(0u64, |bits, f| bits | 1 << f.field_id());
        Ordered { interned, ..Default::default() }
    }

    pub(crate) fn push(&mut self, doc: Encoded) {
        let mut bytes = Vec::with_capacity(doc.bytes.len() + 1);
        for (field, value) in Values(&doc.bytes) {
            match value {
                Stored::Text(text) if self.interned & (1 << field) != 0 => {
                    let text = std::str::from_utf8(text).unwrap_or_default();
                    let number = match self.numbers.get(text) {
                        Some(&n) => n,
                        None => {
                            let n = self.words.len() as u32;
                            self.words.push(text.into());
                            self.numbers.insert(text.into(), n);
                            n
                        }
                    };
                    bytes.push(field as u8 | INTERNED);
                    put_len(&mut bytes, number as usize);
                }
                Stored::Text(text) => {
                    bytes.push(field as u8);
                    put_len(&mut bytes, text.len());
                    bytes.extend_from_slice(text);
                }
                Stored::Number(n) => {
                    bytes.push(field as u8 | NUMBER);
                    bytes.extend_from_slice(&n.to_le_bytes());
                }
                // An `Encoded` holds no interned value.
                Stored::Word(_) => {}
            }
        }
        bytes.push(END);
        let room = self.chunks.last().map_or(0, |c| CHUNK.saturating_sub(c.len()));
        if room < bytes.len() {
            self.chunks.push(Vec::with_capacity(CHUNK.max(bytes.len())));
        }
        let index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[index];
        self.keys.push((doc.key, head(&bytes), (index * CHUNK + chunk.len()) as u64));
        chunk.extend_from_slice(&bytes);
    }

    /// How many documents, and how many bytes they take.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.keys.len(), self.chunks.iter().map(Vec::len).sum())
    }

    /// The encoded document at `place`, and what follows it in its chunk.
    fn at(&self, place: u64) -> &[u8] {
        let place = place as usize;
        &self.chunks[place / CHUNK][place % CHUNK..]
    }

    /// The documents in name key order, then in the order of their encoded values (the idNat first: `add_shared`).
    pub(crate) fn into_sorted(mut self) -> impl Iterator<Item = TantivyDocument> {
        use rayon::slice::ParallelSliceMut;
        let mut keys = std::mem::take(&mut self.keys);
        // The heads decide between the documents of one name key but for idNats of 15 bytes or more: the documents'
        // bytes are read only then, and the sort stays in the keys' memory.
        keys.par_sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| self.at(a.2).cmp(self.at(b.2))));
        keys.into_iter().map(move |(.., place)| self.decode(self.at(place)))
    }

    /// A document made a tantivy document again (read past a malformed value, it stops there).
    fn decode(&self, bytes: &[u8]) -> TantivyDocument {
        let word = |n: usize| self.words.get(n).map_or("", |w| w.as_ref());
        let size: usize = Values(bytes)
            .map(|(_, v)| match v {
                Stored::Text(t) => t.len(),
                Stored::Number(_) => 8,
                Stored::Word(n) => word(n).len(),
            })
            .sum();
        let mut doc = TantivyDocument::with_capacity(size + 16);
        for (field, value) in Values(bytes) {
            let field = Field::from_field_id(field);
            match value {
                Stored::Text(t) => doc.add_text(field, std::str::from_utf8(t).unwrap_or_default()),
                Stored::Number(n) => doc.add_u64(field, n),
                Stored::Word(n) => doc.add_text(field, word(n)),
            }
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Sink;
    use crate::schema::schema;
    use tantivy::schema::{OwnedValue, Value};

    /// A document's values, as tantivy holds them.
    fn values(doc: &TantivyDocument) -> Vec<(u32, OwnedValue)> {
        doc.field_values().map(|(f, v)| (f.field_id(), OwnedValue::from(v))).collect()
    }

    #[test]
    fn a_buffered_document_is_the_document_it_was_made_as() {
        let mut made = TantivyDocument::default();
        let mut encoded = Encoded::default();
        let long = "é".repeat(70_000);
        let texts = ["", "a", "MARTIN", long.as_str(), "ÿ\u{ff}"];
        for (k, t) in texts.iter().enumerate() {
            let field = Field::from_field_id(k as u32);
            made.add_text(field, t);
            Sink::add_text(&mut encoded, field, t);
        }
        for (k, n) in [0, 1, u64::MAX, 0xff00_ff00_ff00_ffff].into_iter().enumerate() {
            let field = Field::from_field_id(20 + k as u32);
            made.add_u64(field, n);
            Sink::add_u64(&mut encoded, field, n);
        }
        // Fields 1 and 3 interned (twice the same value, in two documents), the others in full.
        let mut ordered = Ordered::interning(&[Field::from_field_id(1), Field::from_field_id(3)]);
        let mut again = Encoded { key: 1, ..Default::default() };
        Sink::add_text(&mut again, Field::from_field_id(3), long.as_str());
        ordered.push(again);
        ordered.push(encoded);
        assert_eq!(ordered.words.len(), 2);
        let docs: Vec<_> = ordered.into_sorted().collect();
        assert_eq!(docs.len(), 2);
        // Key 0 before key 1.
        assert_eq!(values(&docs[0]), values(&made));
        assert_eq!(values(&docs[1]), vec![(3, OwnedValue::Str(long.clone()))]);
    }

    #[test]
    fn buffered_documents_come_out_by_key_then_by_their_first_value_across_chunks() {
        // Ids of 8 digits differ within the heads; ids of 20 digits have their first 14 in common, so that only
        // their bytes tell them apart.
        for width in [8, 20] {
            documents_come_out_by_key_then_by_id(width);
        }
    }

    fn documents_come_out_by_key_then_by_id(width: usize) {
        let mut ordered = Ordered::default();
        let mut want = Vec::new();
        // Enough to fill several chunks, and one document larger than a chunk.
        for k in (0..20_000u64).rev() {
            let mut e = Encoded { key: k % 7, ..Default::default() };
            let id = format!("{k:0width$}");
            Sink::add_text(&mut e, Field::from_field_id(0), &id);
            let filler = if k == 777 { "x".repeat(CHUNK + 10) } else { "y".repeat(60) };
            Sink::add_text(&mut e, Field::from_field_id(1), &filler);
            want.push((k % 7, id));
            ordered.push(e);
        }
        assert!(ordered.chunks.len() > 2);
        want.sort();
        let got: Vec<(u64, String)> = ordered
            .into_sorted()
            .map(|d| {
                let id = d.get_first(Field::from_field_id(0)).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                (id.parse::<u64>().unwrap_or(u64::MAX) % 7, id)
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_malformed_document_stops_where_it_stops_making_sense() {
        // A text longer than what follows, then a number cut short: nothing read past them, no panic.
        let o = Ordered::default();
        assert!(values(&o.decode(&[1, 50, b'a', END])).is_empty());
        assert!(values(&o.decode(&[2 | NUMBER, 1, 2, 3])).is_empty());
        assert_eq!(values(&o.decode(&[1, 1, b'a', 2 | NUMBER, 1])), vec![(1, OwnedValue::Str("a".into()))]);
        assert!(values(&o.decode(&[])).is_empty());
        // A length that never ends, and an interned value the build never made: read as nothing, or as empty.
        assert!(values(&o.decode(&[1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).is_empty());
        assert_eq!(values(&o.decode(&[3 | INTERNED, 7, END])), vec![(3, OwnedValue::Str(String::new()))]);
    }

    #[test]
    fn every_field_of_the_schema_fits_a_buffered_field_byte() {
        let (schema, _) = schema();
        assert!(schema.fields().all(|(f, _)| f.field_id() < u32::from(INTERNED)));
    }
}
