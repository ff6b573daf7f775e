//! Rows read from SQLite as one value: a long read (the 1.7 million served hashes, a wave's memos) asks SQLite to
//! concatenate its rows' columns, each as its length in bytes, `:`, and its bytes (`12:810100271385`), and splits them
//! here. sqlx hands a row over at the cost of a copy of each value and a wake-up of the reading task, which took longer
//! than the read itself for a million rows; SQLite's `||` and `group_concat` copy bytes as they are (NUL included),
//! and the length prefix means no value can be mistaken for a separator (`store::tests` reads idNats holding `:`,
//! new lines and NUL bytes back).

/// Length-prefixed values, read one after the other.
pub(crate) struct Prefixed<'a>(&'a [u8]);

impl<'a> Prefixed<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Prefixed<'a> {
        Prefixed(bytes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next value's bytes, or `None` when what is left is not a length-prefixed value.
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let colon = self.0.iter().position(|b| *b == b':')?;
        let len: usize = std::str::from_utf8(&self.0[..colon]).ok()?.parse().ok()?;
        let rest = &self.0[colon + 1..];
        let value = rest.get(..len)?;
        self.0 = &rest[len..];
        Some(value)
    }

    /// The next value as text.
    pub(crate) fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_back_and_garbage_is_refused() {
        let mut p = Prefixed::new(b"3:a:b0:2:\x00\n");
        assert_eq!(p.text(), Some("a:b"));
        assert_eq!(p.bytes(), Some(&b""[..]));
        assert_eq!(p.bytes(), Some(&b"\x00\n"[..]));
        assert!(p.is_empty());
        for bad in [&b"5:ab"[..], b"x:ab", b"ab", b"-1:a", b"99999999999999999999999:a"] {
            assert_eq!(Prefixed::new(bad).bytes(), None, "{bad:?}");
        }
    }
}
