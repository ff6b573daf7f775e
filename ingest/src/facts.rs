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

/// What one person adds to a run's counters: the grouping's, the segments', the quality report's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Lines attached to the person.
    pub rows: u32,
    /// Exact duplicate lines dropped.
    pub duplicate_rows: u32,
    /// Warnings by kind (`conflicting_values`, `bad_check_digit`…), sorted.
    pub warnings: Vec<(String, u32)>,
    /// Codes the shipped tables do not know: kind, code, occurrences; sorted.
    pub unknown: Vec<(String, String, u32)>,
    /// The person has no activity.
    pub without_activity: bool,
    /// The segments the person counts in (`department:75`, `profession:10`, `authority_kind:ordre`), sorted.
    pub segments: Vec<String>,
    /// The structures of their activities that give a SIRET or a FINESS: technical id, SIRET, FINESS site; sorted.
    pub structures: Vec<(String, String, String)>,
}

impl Facts {
    /// The stored form (bincode, standard configuration).
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard()).unwrap_or_default()
    }

    /// Read the stored form back; `None` when it is not one (the person is then parsed again).
    pub fn decode(bytes: &[u8]) -> Option<Facts> {
        let (f, n) = bincode::serde::decode_from_slice(bytes, bincode::config::standard()).ok()?;
        (n == bytes.len()).then_some(f)
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
        assert_eq!(Facts::decode(&f.encode()), Some(f.clone()));
        let mut longer = f.encode();
        longer.push(0);
        assert_eq!(Facts::decode(&longer), None, "trailing bytes");
        assert_eq!(Facts::decode(&[0xff; 3]), None);
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
