//! What one person adds to a run's counters ([`Facts`]), and the hash of a person's raw lines
//! ([`RawHash`]): together they let a nightly re-sync skip the persons whose lines did not change (issue 17).
//!
//! A run's report, its segment counts and its quality report are sums over persons of what each person adds, plus
//! what lines that belong to no person add (orphans, organisations' mailboxes, rejected lines, mis-encoded text).
//! Pass B computes each parsed person's [`Facts`] and counts them; the sync stores them with the hash of the lines
//! they came from (`person_memo`, see `annuaire_store::Memo`). The next night, a person whose lines hash the same,
//! and whose served record is the one those lines gave, is counted from its stored facts without being parsed.
//!
//! **Invariant:** a person's record and facts are a function of their own lines (in file order, each with its file's
//! kind and header) and of what [`salt`] covers: the shipped code tables, the stored record encoding and [`MEMO_VERSION`]. Any change to how lines
//! are parsed, grouped or counted must bump [`MEMO_VERSION`]: every person is then parsed again, once.
//! `ingest/tests/memo.rs` checks that a re-sync that skips gives the report, diff and records of one that parses all.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Version of the parsing, grouping and counting rules (and of the [`Facts`] encoding) that memos were made with.
pub const MEMO_VERSION: u64 = 1;

/// The seed every person's line hash starts from: it changes with the code tables, the record encoding and
/// [`MEMO_VERSION`], so that a memo made under other rules never matches.
pub fn salt() -> u128 {
    static SALT: OnceLock<u128> = OnceLock::new();
    *SALT.get_or_init(|| {
        let mut text = String::from(annuaire_schemas::codes::tables_text());
        text.push_str(&format!("\nencoding {}\nmemo {MEMO_VERSION}\n", annuaire_store::record::ENCODING));
        xxhash_rust::xxh3::xxh3_128(text.as_bytes())
    })
}

/// The hash of one person's lines, fed line by line in file order (files in a fixed order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHash(pub u128);

impl Default for RawHash {
    fn default() -> Self {
        RawHash(salt())
    }
}

impl RawHash {
    /// Add a line of the file `file` names (a tag of its kind and header) as written, without its line number or end
    /// of line.
    pub fn line(&mut self, file: u64, body: &[u8]) {
        let h = self.0;
        let seed = (h as u64) ^ ((h >> 64) as u64).rotate_left(29) ^ file.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = xxhash_rust::xxh3::xxh3_128_with_seed(body, seed);
    }
}

/// What grouping counted of one person's lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Lines attached to the person.
    pub(crate) rows: u32,
    /// Exact duplicates among them (dropped).
    pub(crate) duplicate_rows: u32,
    /// Values their lines disagree on.
    pub(crate) conflicts: u32,
    /// Savoir-faire lines whose profession is none of the person's exercices.
    pub(crate) savoir_faire_without_exercice: u32,
}

/// What one person adds to a run's counters: the grouping's, the segments', the quality report's. Its text is
/// owned (`String`, the default) when a person was parsed, and borrowed from the memo's bytes (`&str`,
/// [`FactsRef`]) when it is read back: a re-sync reads 1.7 million of them, and allocating their ten or so strings
/// each, then freeing them, took about 1 s of its CPU. Both have the same stored form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts<S = String> {
    /// Lines attached to the person.
    pub rows: u32,
    /// Exact duplicate lines dropped.
    pub duplicate_rows: u32,
    /// Warnings by kind (`conflicting_values`, `bad_check_digit`…), sorted.
    pub warnings: Vec<(S, u32)>,
    /// Codes the shipped tables do not know: kind, code, occurrences; sorted.
    pub unknown: Vec<(S, S, u32)>,
    /// The person has no activity.
    pub without_activity: bool,
    /// The segments the person counts in (`department:75`, `profession:10`, `authority_kind:ordre`), sorted.
    pub segments: Vec<S>,
    /// The structures of their activities that give a SIRET or a FINESS: technical id, SIRET, FINESS site; sorted.
    pub structures: Vec<(S, S, S)>,
}

/// [`Facts`] read from a memo, its text borrowed from the memo's bytes.
pub type FactsRef<'a> = Facts<&'a str>;

impl Facts {
    /// The stored form: bincode's standard configuration (as `Reader` reads it), written directly rather than through
    /// bincode's serde encoder, which took 1.8 % of a full ingest's CPU growing its buffer field by field.
    /// `tests::the_writer_writes_what_bincode_writes` holds the two to the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        let text = |s: &String| 9 + s.len();
        let size = 24
            + self.warnings.iter().map(|(k, _)| text(k) + 5).sum::<usize>()
            + self.unknown.iter().map(|(k, c, _)| text(k) + text(c) + 5).sum::<usize>()
            + self.segments.iter().map(text).sum::<usize>()
            + self.structures.iter().map(|(t, s, f)| text(t) + text(s) + text(f)).sum::<usize>();
        let mut w = Writer(Vec::with_capacity(size));
        w.varint(u64::from(self.rows));
        w.varint(u64::from(self.duplicate_rows));
        w.seq(&self.warnings, |w, (k, n)| {
            w.str(k);
            w.varint(u64::from(*n));
        });
        w.seq(&self.unknown, |w, (k, c, n)| {
            w.str(k);
            w.str(c);
            w.varint(u64::from(*n));
        });
        w.0.push(u8::from(self.without_activity));
        w.seq(&self.segments, |w, s| w.str(s));
        w.seq(&self.structures, |w, (t, s, f)| {
            w.str(t);
            w.str(s);
            w.str(f);
        });
        w.0
    }

    /// Read the stored form back, borrowing its text; `None` when it is not one (the person is then parsed again).
    ///
    /// Read directly rather than through bincode's serde decoder, whose generic calls took most of the 0.7 s a
    /// national re-sync spends reading 1.7 million of them; `tests::the_reader_reads_what_bincode_reads` holds the
    /// two to the same answer, on what bincode writes and on any bytes.
    pub fn decode(bytes: &[u8]) -> Option<FactsRef<'_>> {
        let mut r = Reader(bytes);
        let f = Facts {
            rows: r.u32()?,
            duplicate_rows: r.u32()?,
            warnings: r.seq(|r| Some((r.str()?, r.u32()?)))?,
            unknown: r.seq(|r| Some((r.str()?, r.str()?, r.u32()?)))?,
            without_activity: r.bool()?,
            segments: r.seq(Reader::str)?,
            structures: r.seq(|r| Some((r.str()?, r.str()?, r.str()?)))?,
        };
        r.0.is_empty().then_some(f)
    }

    /// The same facts, their text borrowed.
    pub fn borrowed(&self) -> FactsRef<'_> {
        Facts {
            rows: self.rows,
            duplicate_rows: self.duplicate_rows,
            warnings: self.warnings.iter().map(|(k, n)| (k.as_str(), *n)).collect(),
            unknown: self.unknown.iter().map(|(k, c, n)| (k.as_str(), c.as_str(), *n)).collect(),
            without_activity: self.without_activity,
            segments: self.segments.iter().map(String::as_str).collect(),
            structures: self.structures.iter().map(|(t, s, f)| (t.as_str(), s.as_str(), f.as_str())).collect(),
        }
    }
}

/// bincode's standard configuration, written (as [`Reader`] reads it).
struct Writer(Vec<u8>);

impl Writer {
    /// A varint in its shortest form, as bincode writes it.
    fn varint(&mut self, v: u64) {
        if v < 251 {
            self.0.push(v as u8);
        } else if let Ok(v) = u16::try_from(v) {
            self.0.push(251);
            self.0.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = u32::try_from(v) {
            self.0.push(252);
            self.0.extend_from_slice(&v.to_le_bytes());
        } else {
            self.0.push(253);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn seq<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.varint(items.len() as u64);
        for i in items {
            item(self, i);
        }
    }
}

/// bincode's standard configuration, read: integers as varints (a byte below 251 is the value; 251, 252 and 253
/// announce a little-endian u16, u32 or u64), a length before each sequence and string, a bool as one byte 0 or 1.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    /// A varint of at most `widest` bytes after its first (bincode takes a longer form than needed, as written).
    fn varint(&mut self, widest: usize) -> Option<u64> {
        let le = |b: &[u8]| b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x));
        let width = match *self.take(1)?.first()? {
            b @ 0..=250 => return Some(u64::from(b)),
            251 => 2,
            252 => 4,
            253 => 8,
            _ => return None,
        };
        (width <= widest).then(|| self.take(width).map(le)).flatten()
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint(4)?).ok()
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.varint(8)?).ok()
    }

    fn bool(&mut self) -> Option<bool> {
        match *self.take(1)?.first()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn seq<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.len()?;
        // A length is only believed as far as the bytes left could hold it (one byte an item at least).
        let mut out = Vec::with_capacity(n.min(self.0.len()));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_read_back_as_written_and_garbage_is_refused() {
        let f = Facts {
            rows: 3,
            duplicate_rows: 1,
            warnings: vec![("conflicting_values".into(), 2)],
            unknown: vec![("profession".into(), "99".into(), 1)],
            without_activity: false,
            segments: vec!["department:75".into(), "profession:10".into()],
            structures: vec![("R10100000123456".into(), "12345678901234".into(), String::new())],
        };
        let bytes = f.encode();
        let back = Facts::decode(&bytes).expect("decodes");
        assert_eq!(back, f.borrowed());
        // Borrowed from the stored bytes, not copied.
        let within = |s: &str| bytes.as_ptr_range().contains(&s.as_ptr());
        assert!(back.segments.iter().all(|s| within(s)) && within(back.structures[0].0) && within(back.unknown[0].1));
        let mut longer = f.encode();
        longer.push(0);
        assert_eq!(Facts::decode(&longer), None, "trailing bytes");
        assert_eq!(Facts::decode(&[0xff; 3]), None);
    }

    fn bincode_reads(bytes: &[u8]) -> Option<FactsRef<'_>> {
        let (f, n) = bincode::serde::borrow_decode_from_slice(bytes, bincode::config::standard()).ok()?;
        (n == bytes.len()).then_some(f)
    }

    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        // Lengths across the varint's one- and three-byte forms.
        proptest::prop_oneof!["[a-zé:0-9]{0,12}", "x{240,300}", "[a-z]{0,3}"]
    }

    proptest::proptest! {
        #[test]
        fn the_reader_reads_what_bincode_reads(
            rows in proptest::prop_oneof![0u32..300, proptest::prelude::any::<u32>()],
            duplicate_rows in proptest::prelude::any::<u32>(),
            warnings in proptest::collection::vec((text(), proptest::prelude::any::<u32>()), 0..4),
            unknown in proptest::collection::vec((text(), text(), 0u32..70_000), 0..3),
            without_activity in proptest::prelude::any::<bool>(),
            segments in proptest::collection::vec(text(), 0..300),
            structures in proptest::collection::vec((text(), text(), text()), 0..3),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            flip in proptest::prelude::any::<(proptest::sample::Index, u8)>(),
        ) {
            let f = Facts { rows, duplicate_rows, warnings, unknown, without_activity, segments, structures };
            let bytes = f.encode();
            proptest::prop_assert_eq!(Facts::decode(&bytes), Some(f.borrowed()));
            proptest::prop_assert_eq!(Facts::decode(&bytes), bincode_reads(&bytes));
            // Cut short, or with one byte changed: both refuse it, or both read the same.
            let short = &bytes[..cut.index(bytes.len())];
            proptest::prop_assert_eq!(Facts::decode(short), bincode_reads(short));
            let mut changed = bytes.clone();
            let at = flip.0.index(changed.len());
            changed[at] ^= flip.1;
            proptest::prop_assert_eq!(Facts::decode(&changed), bincode_reads(&changed));
        }

        #[test]
        fn the_writer_writes_what_bincode_writes(
            rows in proptest::prelude::any::<u32>(),
            duplicate_rows in proptest::prop_oneof![0u32..300, 60_000u32..70_000, proptest::prelude::any::<u32>()],
            warnings in proptest::collection::vec((text(), proptest::prelude::any::<u32>()), 0..4),
            unknown in proptest::collection::vec((text(), text(), 0u32..70_000), 0..3),
            without_activity in proptest::prelude::any::<bool>(),
            segments in proptest::collection::vec(text(), 0..300),
            structures in proptest::collection::vec((text(), text(), text()), 0..3),
        ) {
            let f = Facts { rows, duplicate_rows, warnings, unknown, without_activity, segments, structures };
            let bincode = bincode::serde::encode_to_vec(&f, bincode::config::standard());
            proptest::prop_assert_eq!(Some(f.encode()), bincode.ok());
        }

        #[test]
        fn the_reader_refuses_what_bincode_refuses(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            proptest::prop_assert_eq!(Facts::decode(&bytes), bincode_reads(&bytes));
        }

        /// Integers in their longer forms (bincode reads them; it never writes them), and the forms a u32 cannot take.
        #[test]
        fn the_reader_reads_long_integers_as_bincode_does(tag in 251u8..=255, value in proptest::prelude::any::<u64>()) {
            let width = match tag { 251 => 2, 252 => 4, _ => 8 };
            let mut bytes = vec![tag];
            bytes.extend(&value.to_le_bytes()[..width]);
            // rows, duplicate_rows, then empty sequences and `false`; then the same with the integer as a length.
            let as_rows = [bytes.clone(), vec![0, 0, 0, 0, 0, 0]].concat();
            proptest::prop_assert_eq!(Facts::decode(&as_rows), bincode_reads(&as_rows));
            let as_length = [vec![1, 1], bytes, vec![0, 0, 0, 0, 0]].concat();
            proptest::prop_assert_eq!(Facts::decode(&as_length), bincode_reads(&as_length));
        }
    }

    #[test]
    fn a_line_hash_follows_content_order_and_file() {
        let hash = |lines: &[(u64, &str)]| {
            let mut h = RawHash::default();
            for (f, l) in lines {
                h.line(*f, l.as_bytes());
            }
            h
        };
        let a = hash(&[(0, "a|b"), (0, "c|d")]);
        assert_eq!(a, hash(&[(0, "a|b"), (0, "c|d")]));
        assert_ne!(
            a,
            hash(&[(0, "c|d"), (0, "a|b")]),
            "order counts: a reordered extract is parsed again, which is safe"
        );
        assert_ne!(a, hash(&[(0, "a|b"), (1, "c|d")]), "the file counts");
        assert_ne!(a, hash(&[(0, "a|b"), (0, "c|d"), (0, "c|d")]), "a repeated line counts");
        assert_ne!(a, hash(&[(0, "a|bc|d")]));
    }
}
