//! The writer of the canonical form (`record.rs`): byte for byte what `serde_json::to_writer` writes (compact JSON),
//! for the serde forms of `annuaire_schemas`, in a third of the time.
//!
//! Why: a first load writes the canonical form of every person (1.7 million, about 1.1 KB each) to hash it. serde_json
//! scans each string a byte at a time through its escape table and writes each piece (quote, key, colon, value)
//! through `io::Write`; that was a fifth of a first load's serialising and hashing (`docs/benchmarks.md`, the night of
//! 2026-12-05). Here a string without anything to escape (every code and nearly every name) is checked in one pass
//! that the compiler vectorises, and copied at once.
//!
//! What it does not write the way serde_json does (floats, maps keyed by anything but strings) it refuses
//! ([`Unsupported`]); the caller then writes the record with serde_json, so the canonical form never depends on this
//! file being complete. `tests::the_same_bytes_as_serde_json` holds it to serde_json's bytes on every record of the
//! bundled extracts, and on every character that JSON escapes.

use serde::Serialize;
use serde::ser::{self, Impossible};
use std::fmt::Display;

/// A value this writer leaves to serde_json (or a serialisation error of the value itself).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not written by the canonical writer")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: Display>(_: T) -> Self {
        Unsupported
    }
}

/// Append the compact JSON of `value` to `out`. On [`Unsupported`], `out` holds a partial write: the caller clears it.
pub(crate) fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    value.serialize(Writer(out))
}

/// A JSON string: what serde_json escapes (`"`, `\`, and the control characters below 0x20, as `\b \t \n \f \r` or
/// `\u00xx` in lower case), escaped the same way; everything else, UTF-8 included, as it is.
fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // No short-circuit, so that the loop is vectorised: the strings are short, and nearly none has a byte to escape.
    if !bytes.iter().fold(false, |any, &b| any | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.extend_from_slice(bytes);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..0x20 => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xF)]);
                }
                _ => out.push(b),
            }
        }
    }
    out.push(b'"');
}

fn integer(out: &mut Vec<u8>, v: impl Display) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

struct Writer<'a>(&'a mut Vec<u8>);

/// An object or array being written: whether an element was written yet (the next one needs a comma), and how many
/// closing brackets it ends with (an enum variant's value sits in an object of one key).
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: &'static [u8],
}

impl<'a> Compound<'a> {
    fn open(out: &'a mut Vec<u8>, open: &[u8], close: &'static [u8]) -> Compound<'a> {
        out.extend_from_slice(open);
        Compound { out, first: true, close }
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.comma();
        value.serialize(Writer(self.out))
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Unsupported> {
        self.comma();
        string(self.out, key);
        self.out.push(b':');
        value.serialize(Writer(self.out))
    }

    fn close(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// A variant's object: `{"variant":` then what `open` opens.
fn in_variant<'a>(out: &'a mut Vec<u8>, name: &str, open: &[u8], close: &'static [u8]) -> Compound<'a> {
    out.push(b'{');
    string(out, name);
    out.push(b':');
    Compound::open(out, open, close)
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        Ok(integer(self.0, v))
    }
    /// serde_json writes floats with ryu and non-finite ones as `null`: left to it.
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        Ok(string(self.0, v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        Ok(string(self.0, v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        let mut seq = Compound::open(self.0, b"[", b"]");
        for b in v {
            seq.element(b)?;
        }
        seq.close()
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let mut object = Compound::open(self.0, b"{", b"}");
        object.field(variant, value)?;
        object.close()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        Ok(Compound::open(self.0, b"[", b"]"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(Compound::open(self.0, b"[", b"]"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(Compound::open(self.0, b"[", b"]"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unsupported> {
        Ok(in_variant(self.0, variant, b"[", b"]}"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        Ok(Compound::open(self.0, b"{", b"}"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(Compound::open(self.0, b"{", b"}"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unsupported> {
        Ok(in_variant(self.0, variant, b"{", b"}}"))
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        self.serialize_str(&value.to_string())
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.element(value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        }
    )*};
}
elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        }
    )*};
}
fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.comma();
        key.serialize(Key(self.out))?;
        self.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Writer(self.out))
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A map key: a string (or what serde writes as one); serde_json quotes other keys in ways left to it.
struct Key<'a>(&'a mut Vec<u8>);

macro_rules! refused {
    ($($method:ident($($arg:ty),*)),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<(), Unsupported> {
            Err(Unsupported)
        }
    )*};
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        Ok(string(self.0, v))
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        Ok(string(self.0, v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Unsupported> {
        Ok(string(self.0, variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    refused!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str)
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        self.serialize_str(&value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both<T: Serialize + ?Sized>(value: &T) -> (Result<Vec<u8>, Unsupported>, Vec<u8>) {
        let mut ours = Vec::new();
        let ours = write(value, &mut ours).map(|()| ours);
        (ours, serde_json::to_vec(value).expect("serde_json"))
    }

    #[test]
    fn every_character_json_escapes_the_same_bytes_as_serde_json() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€𝄞 \u{7f}\u{80}\u{2028}");
        for s in [all.as_str(), "", "plain", "a\"b", "back\\slash", "tab\there", "\u{1f}"] {
            let (ours, theirs) = both(s);
            assert_eq!(ours.expect("a string is written"), theirs, "{s:?}");
        }
    }

    #[test]
    fn the_shapes_serde_gives_the_same_bytes_as_serde_json() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u32),
            Tuple(i8, String),
            Struct { a: bool, b: Vec<u8> },
        }
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct S {
            e: Vec<E>,
            o: Option<Empty>,
            n: Option<()>,
            m: std::collections::BTreeMap<String, (u64, i128, char)>,
            #[serde(with = "serde_bytes_like")]
            raw: Vec<u8>,
        }
        mod serde_bytes_like {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let s = S {
            e: vec![E::Unit, E::New(7), E::Tuple(-3, "x\ny".into()), E::Struct { a: true, b: vec![1, 255] }],
            o: Some(Empty {}),
            n: None,
            m: [("k\"".to_string(), (u64::MAX, i128::MIN, '\u{8}'))].into_iter().collect(),
            raw: vec![0, 9],
        };
        let (ours, theirs) = both(&s);
        assert_eq!(String::from_utf8(ours.expect("written")), String::from_utf8(theirs));
    }

    #[test]
    fn floats_and_keys_that_are_not_strings_are_left_to_serde_json() {
        assert!(write(&1.5f64, &mut Vec::new()).is_err());
        let by_number: std::collections::BTreeMap<u32, u32> = [(1, 2)].into_iter().collect();
        assert!(write(&by_number, &mut Vec::new()).is_err());
    }
}
