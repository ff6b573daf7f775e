//! [`Text`]: the string of a code or a label, borrowed from the shipped tables when it is one of theirs.
//!
//! A national extract has 1.9 million Personne_activite lines with 15 coded columns each (a code and a label), 11 of
//! them from shipped tables. Most of those are codes the tables know, with the tables' own labels: holding them as
//! `&'static str` instead of a `String` each saves an estimated 25 million allocations and as many frees per full
//! ingest, and the memory of the copies. A `Text` reads, compares, orders, hashes and serialises as the string it
//! holds, whichever way it holds it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

/// A string, owned or borrowed for the life of the process (see the module).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Cow<'static, str>);

impl Text {
    /// A string that lives as long as the process (a shipped table's code or label), not copied.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Cow::Borrowed(s))
    }

    /// A copy of `s`.
    pub fn owned(s: &str) -> Text {
        Text(Cow::Owned(s.to_string()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Cow::Owned(s))
    }
}

/// A copy (a string known to live as long as the process is taken with [`Text::from_static`]).
impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::owned(s)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.into_owned()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        **self == *other.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned_are_the_same_text() {
        let (b, o) = (Text::from_static("SM54"), Text::owned("SM54"));
        assert_eq!(b, o);
        assert_eq!(b.cmp(&o), std::cmp::Ordering::Equal);
        use std::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        assert_eq!(state.hash_one(&b), state.hash_one(&o));
        assert_eq!(
            state.hash_one(&b),
            state.hash_one("SM54"),
            "hashes as its str (a map keyed by Text is looked up by &str)"
        );
        assert_eq!(serde_json::to_string(&b).ok(), serde_json::to_string(&o).ok());
        assert_eq!(serde_json::to_string(&b).ok().as_deref(), Some("\"SM54\""));
        assert_eq!(format!("{b:?} {o}"), "\"SM54\" SM54");
        assert!(Text::from_static("a") < Text::owned("b"));
        assert_eq!(serde_json::from_str::<Text>("\"é\\n\"").ok(), Some(Text::owned("é\n")));
    }
}
