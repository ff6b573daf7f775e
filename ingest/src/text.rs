//! Text that looks mis-encoded in an extract's fields: UTF-8 read as Latin-1 (`Ã©`, `Ã¨`, `Â `…), the replacement
//! character U+FFFD, control characters; counted while pass B reads the partitions, with the first places (file,
//! line, column). The quality report ([`crate::quality`]) shows them.

use crate::layout::Header;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Places kept per kind of text issue.
pub const KEPT: usize = 10;

/// One place where text looks wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TextPlace {
    /// The extract's file.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// The column's name and number.
    pub column: String,
    /// The value, cut to 80 characters.
    pub text: String,
}

/// Text issues of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextIssues {
    /// Fields affected.
    pub count: u64,
    /// The first ones, in file and line order.
    pub first: Vec<TextPlace>,
}

impl TextIssues {
    /// Add another partition's.
    pub fn merge(&mut self, o: TextIssues) {
        self.count += o.count;
        self.first.extend(o.first);
        self.first.sort();
        self.first.truncate(KEPT);
    }
}

/// Characters that follow `Ã` or `Â` when UTF-8 was decoded as Latin-1 or Windows-1252.
fn continuation(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{BF}') || "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ".contains(c)
}

/// The kind of issue a field shows, if any: `mojibake`, `replacement_character` or `control_character`.
pub fn text_issue(field: &str) -> Option<&'static str> {
    if field.is_ascii() {
        return field.bytes().any(|b| b < 0x20 || b == 0x7f).then_some("control_character");
    }
    if field.contains('\u{FFFD}') {
        return Some("replacement_character");
    }
    let mut prev = ' ';
    for c in field.chars() {
        if matches!(prev, 'Ã' | 'Â') && continuation(c) {
            return Some("mojibake");
        }
        prev = c;
    }
    field.chars().any(char::is_control).then_some("control_character")
}

/// Whether a line (or a field) could show any issue [`text_issue`] finds: a control character (ASCII, or C1 encoded
/// `C2 80`–`C2 9F`), `Ã` or `Â` (`C3 83`, `C3 82`, the start of every mojibake), or U+FFFD (`EF BF BD`). Most lines
/// have none, and are not split into fields.
pub fn may_have_issues(line: &[u8]) -> bool {
    // Every check below runs over the whole line without an early exit, which the compiler vectorises: most lines
    // are printable ASCII, and nearly every other one holds French accents (`é` is `C3 A9`), which a byte-by-byte
    // search for the pairs below took 1.5 s of a national re-sync's 18 s of CPU to read.
    if line.iter().fold(true, |printable, &b| printable & (b.wrapping_sub(0x20) < 0x5f)) {
        return false;
    }
    if line.iter().fold(false, |control, &b| control | (b < 0x20) | (b == 0x7f)) {
        return true;
    }
    // The pairs that start an issue, U+FFFD's `EF BF` for its three bytes: none (nearly always), and the line has
    // none of them; one, and the exact check says.
    let pairs = line.iter().zip(line.iter().skip(1)).fold(false, |seen, (&b, &n)| {
        seen | ((b == 0xC2) & (n.wrapping_sub(0x80) < 0x20))
            | ((b == 0xC3) & ((n | 1) == 0x83))
            | ((b == 0xEF) & (n == 0xBF))
    });
    pairs && exact_check(line)
}

/// [`may_have_issues`] byte by byte: what it answers, by definition.
fn exact_check(line: &[u8]) -> bool {
    line.iter().enumerate().any(|(i, &b)| match b {
        0..0x20 | 0x7f => true,
        0xC2 => line.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)),
        0xC3 => line.get(i + 1).is_some_and(|n| matches!(n, 0x82 | 0x83)),
        0xEF => line.get(i + 1..i + 3) == Some(&[0xBF, 0xBD]),
        _ => false,
    })
}

/// Look at every field of a line of `file` (fields of `body`, split on `|`) and count what looks wrong.
pub(crate) fn scan_line(
    file: &str,
    line: u64,
    header: &Header,
    fields: &[&str],
    out: &mut BTreeMap<String, TextIssues>,
) {
    for (i, f) in fields.iter().enumerate() {
        if let Some(kind) = text_issue(f) {
            let e = out.entry(kind.to_string()).or_default();
            e.count += 1;
            if e.first.len() < KEPT {
                e.first.push(TextPlace {
                    file: file.to_string(),
                    line,
                    column: header.describe(i),
                    text: f.chars().take(80).collect(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mis_encoded_text_is_told_from_french() {
        for ok in ["LEFÈVRE", "Médecin", "Île-de-France", "Œuvre", "Ã", "SAINT-ÉTIENNE", "rue de l'Église", ""] {
            assert_eq!(text_issue(ok), None, "{ok}");
        }
        assert_eq!(text_issue("MÃ©decin"), Some("mojibake"));
        assert_eq!(text_issue("Ã‰TIENNE"), Some("mojibake"));
        assert_eq!(text_issue("Â\u{A0}Paris"), Some("mojibake"));
        assert_eq!(text_issue("M\u{FFFD}decin"), Some("replacement_character"));
        assert_eq!(text_issue("ab\u{1}c"), Some("control_character"));
        assert_eq!(text_issue("é\u{7}"), Some("control_character"));
    }

    #[test]
    fn the_quick_check_is_the_exact_check_on_every_pair_and_triple_in_french_text() {
        let mut line = "Médecin|Spécialiste en Médecine Générale|".as_bytes().to_vec();
        let at = line.len();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in [0xBDu8, 0xA9, b'x'] {
                    line.truncate(at);
                    line.extend([a, b, c]);
                    line.extend("|Île".as_bytes());
                    assert_eq!(may_have_issues(&line), exact_check(&line), "{a:02x} {b:02x} {c:02x}");
                }
            }
        }
    }

    proptest::proptest! {
        /// The vectorised check answers as the byte-by-byte one, on any bytes (UTF-8 or not), the pairs it looks for
        /// drawn often.
        #[test]
        fn the_quick_check_is_the_exact_check(
            line in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(vec![0xC2u8, 0xC3, 0xEF, 0xBF, 0xBD, 0x82, 0x83, 0x80, 0x9F, 0xA9, b'a', b'|']),
                ],
                0..40,
            )
        ) {
            proptest::prop_assert_eq!(may_have_issues(&line), exact_check(&line), "{:02x?}", line);
        }

        /// A line that [`may_have_issues`] passes has no field [`text_issue`] flags.
        #[test]
        fn the_quick_check_misses_no_issue(s in "(\\PC|[ÃÂ\u{80}-\u{9f}\u{FFFD}\u{1}é€‰|])*") {
            if !may_have_issues(s.as_bytes()) {
                for f in s.split('|') {
                    proptest::prop_assert_eq!(text_issue(f), None, "{:?}", f);
                }
            }
            if s.split('|').any(|f| text_issue(f).is_some()) {
                proptest::prop_assert!(may_have_issues(s.as_bytes()));
            }
        }
    }
}
