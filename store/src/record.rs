//! The stored record of a person: how a [`Person`] is written in `person_version.record`, read back, and hashed
//! for the diff. Every writer and reader of stored records goes through [`encode`], [`pack`], [`unpack`] and
//! [`decode`].
//!
//! A record has a **canonical form**, the JSON of `annuaire_schemas`' serde form: field names as the serde attributes
//! of `schemas/src/model.rs` and `authority.rs` give them, empty strings, empty lists and blank codes left out, every
//! list in the order `Person::canonicalize` gives. The change hash is xxh3-128 of those bytes, so the same record
//! always gives the same hash, and a sync compares hashes only.
//!
//! **Encoding 2** ([`ENCODING`]) stores the canonical form as one zstd frame made with a frozen dictionary
//! ([`DICTIONARY`], 32 KiB, trained on the records of the bundled sample extract; `bench --record-dictionary` made
//! it). At national size a record of 1.1 KB of JSON takes about 110 bytes (10 ×); the 22 real records of
//! `data-samples/real-2021` take 4.4 × less. The labels the code tables give stay in the canonical form: the
//! dictionary holds them, so they cost a few bytes, and every reader keeps reading one form.
//! **Encoding 1** stored the canonical form as text. [`unpack`] reads both (a zstd frame starts with its magic
//! number, a canonical form with `{`), so a store written by an older binary is read as it is, and the next sync
//! writes what it changes in encoding 2. The hash is of the canonical form in both: moving to encoding 2 changes no
//! hash, and no person is seen as changed.
//!
//! The HTTP API does not use this form (its bodies are the binary's wire types), so nothing outside storage
//! depends on it. It must not move by accident: renaming a Rust field, or changing what is left out, would change
//! every stored record's bytes and hash (the next sync would see every person updated, and the gate would hold it).
//! `tests::the_canonical_form_is_frozen` pins every field name and the hash of a record that fills every field, and
//! `tests::the_dictionary_is_frozen` pins the dictionary: a change either catches needs a new [`ENCODING`] that
//! still reads the old one, on purpose.

use crate::{Error, Result};
use annuaire_schemas::Person;
use std::cell::RefCell;
use std::sync::OnceLock;

/// The version of the stored encoding.
pub const ENCODING: u32 = 2;

/// The zstd dictionary of encoding 2. Frozen: records written with it can only be read with it.
pub const DICTIONARY: &[u8] = include_bytes!("record_dictionary_2.zstd-dict");

/// The zstd level records are packed at. 1, with the dictionary: a national record takes 118 bytes on average where
/// level 3 gave 114 (3.7 % more), in 1.73 µs instead of 1.82 (2026-12-05; most of it is a fixed cost per frame, which
/// no level moves). Any level reads back with the same dictionary, so this can move without a new [`ENCODING`].
pub const LEVEL: i32 = 1;

/// The longest canonical form [`unpack`] gives back (4 MiB; the largest at national size is under 20 KB): a stored
/// value that claims more is refused, not allocated.
pub const MAX_RECORD: usize = 4 << 20;

/// The first bytes of a zstd frame.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A record in its canonical form, with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The canonical JSON.
    pub record: String,
    /// xxh3-128 of `record`, hex.
    pub hash: String,
}

/// The change hash of a record (already canonicalised) and, when `keep` says so of that hash, the record as stored
/// ([`pack`]): what a sync does for every person it parses. The canonical form is written in a buffer of this
/// thread's, never made a `String` (serde_json writes UTF-8; a `String` would check all of it again), and is
/// compressed only for the persons whose hash `keep` takes as changed. The same bytes and hash as [`encode`].
pub fn hash_then_pack(p: &Person, keep: impl FnOnce(u128) -> bool) -> Result<(u128, Option<Vec<u8>>)> {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    // Taken out of the thread's slot while it is used, so that nothing here can find it borrowed.
    let mut bytes = BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    bytes.clear();
    let done = write_canonical(p, &mut bytes).and_then(|hash| {
        let packed = if keep(hash) { Some(pack_bytes(&bytes)?) } else { None };
        Ok((hash, packed))
    });
    // A buffer grown by an outsized record is not kept.
    if bytes.capacity() <= 64 << 10 {
        BUFFER.with(|b| *b.borrow_mut() = bytes);
    }
    done
}

/// The canonical form of `p` appended to `bytes`, which it is all of; its change hash.
///
/// The canonical form is serde_json's compact JSON of the record (stored hashes and records are of it). sonic-rs
/// writes the same bytes with its strings escaped a vector at a time, where serde_json checks them byte by byte: 1.6 %
/// of a first load's CPU (2026-12-05; the 1.7 million national records were byte for byte those of serde_json).
/// `tests::the_canonical_form_is_serde_json_s` holds the two to the same bytes.
fn write_canonical(p: &Person, bytes: &mut Vec<u8>) -> Result<u128> {
    sonic_rs::to_writer(&mut *bytes, p).map_err(|e| Error::Record(e.to_string()))?;
    Ok(xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A change hash as stored: 32 lower-case hex digits (what `format!("{h:032x}")` gives, without the formatting
/// machinery, which a first load ran 1.7 million times).
pub fn hash_hex(h: u128) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in h.to_be_bytes() {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// The canonical form of a record (already canonicalised), with its change hash.
pub fn encode(p: &Person) -> Result<Encoded> {
    // Sized for most records at once (serde_json starts at 128 bytes and doubles: four copies for 1.1 KB).
    let mut bytes = Vec::with_capacity(2048);
    let hash = hash_hex(write_canonical(p, &mut bytes)?);
    let record = String::from_utf8(bytes).map_err(|e| Error::Record(e.to_string()))?;
    Ok(Encoded { record, hash })
}

/// A canonical form as a [`Person`].
pub fn decode(record: &str) -> Result<Person> {
    serde_json::from_str(record).map_err(|e| Error::Record(e.to_string()))
}

fn zstd_error(e: std::io::Error) -> Error {
    Error::Record(format!("zstd: {e}"))
}

/// A canonical form as stored in encoding 2.
pub fn pack(record: &str) -> Result<Vec<u8>> {
    pack_bytes(record.as_bytes())
}

fn pack_bytes(record: &[u8]) -> Result<Vec<u8>> {
    static PREPARED: OnceLock<zstd::dict::EncoderDictionary<'static>> = OnceLock::new();
    // A compression context and a scratch buffer per thread: the frame is copied out at its size (a buffer of zstd's
    // bound would hold ten times the record). `ZSTD_compress_usingCDict` takes its parameters from the prepared
    // dictionary; `ZSTD_compress2` on a context the dictionary was referenced in resolved them again for every
    // frame (about 1 % of a first load's CPU, 2026-12-05), for the same bytes.
    type Scratch = (Option<zstd::zstd_safe::CCtx<'static>>, Vec<u8>);
    thread_local! {
        static COMPRESSOR: RefCell<Scratch> = const { RefCell::new((None, Vec::new())) };
    }
    let prepared = PREPARED.get_or_init(|| zstd::dict::EncoderDictionary::copy(DICTIONARY, LEVEL));
    COMPRESSOR.with(|c| {
        let (context, buffer) = &mut *c.borrow_mut();
        let context = match context {
            Some(context) => context,
            None => context.insert(
                zstd::zstd_safe::CCtx::try_create()
                    .ok_or_else(|| Error::Record("zstd: no compression context".into()))?,
            ),
        };
        buffer.clear();
        buffer.reserve(zstd::zstd_safe::compress_bound(record.len()));
        context
            .compress_using_cdict(buffer, record, prepared.as_cdict())
            .map_err(|code| Error::Record(format!("zstd: {}", zstd::zstd_safe::get_error_name(code))))?;
        Ok(buffer.as_slice().to_vec())
    })
}

/// A stored record (encoding 2, or the text of encoding 1) in its canonical form.
pub fn unpack(stored: &[u8]) -> Result<String> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return String::from_utf8(stored.to_vec()).map_err(|_| Error::Record("a stored record is not UTF-8".into()));
    }
    static PREPARED: OnceLock<zstd::dict::DecoderDictionary<'static>> = OnceLock::new();
    thread_local! {
        static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    }
    let prepared = PREPARED.get_or_init(|| zstd::dict::DecoderDictionary::copy(DICTIONARY));
    let bytes = DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        let decompressor = match &mut *d {
            Some(decompressor) => decompressor,
            None => d.insert(zstd::bulk::Decompressor::with_prepared_dictionary(prepared).map_err(zstd_error)?),
        };
        // The frame says its content's size (`pack` writes it): the buffer is that size, not the cap.
        let size = match zstd::zstd_safe::get_frame_content_size(stored) {
            Ok(Some(size)) if size <= MAX_RECORD as u64 => size as usize,
            Ok(Some(size)) => return Err(Error::Record(format!("a stored record claims {size} bytes"))),
            _ => return Err(Error::Record("a stored record's frame does not say its size".into())),
        };
        let mut out = Vec::with_capacity(size);
        decompressor.decompress_to_buffer(stored, &mut out).map_err(zstd_error)?;
        Ok(out)
    })?;
    String::from_utf8(bytes).map_err(|_| Error::Record("a stored record is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use annuaire_schemas::authority::{AuthorityKind, AuthoritySource};
    use annuaire_schemas::model::*;
    use annuaire_schemas::{Authority, IdNat, RegistrationField};

    fn c(code: &str, label: &str) -> Coded {
        Coded::new(code, label)
    }

    /// A record with every field of every part filled.
    fn full() -> Person {
        let structure = Structure {
            siret: "si".into(),
            siren: "sn".into(),
            finess_site: "fs".into(),
            finess_ej: "fe".into(),
            technical_id: "ti".into(),
            name: "na".into(),
            commercial_name: "cn".into(),
            recipient_complement: "rc".into(),
            geo_complement: "gc".into(),
            street_number: "1".into(),
            street_repetition: "B".into(),
            street_type: c("R", "Rue"),
            street_label: "sl".into(),
            distribution: "di".into(),
            cedex_office: "co".into(),
            postal_code: "75001".into(),
            commune: c("75101", "Paris"),
            country: c("99100", "France"),
            phone: "ph".into(),
            phone2: "p2".into(),
            fax: "fx".into(),
            email: "em".into(),
            department: c("75", "Paris"),
            old_id: "oi".into(),
        };
        Person {
            idnat: IdNat::new("810100271385"),
            id_type: "8".into(),
            id: "10100271385".into(),
            civilite: c("M", "Monsieur"),
            exercices: vec![Exercice {
                profession: c("10", "Médecin"),
                category: c("C", "Civil"),
                civilite_exercice: c("DR", "Docteur"),
                family_name: "F".into(),
                given_name: "G".into(),
                authority: Authority {
                    kind: AuthorityKind::Ordre,
                    name: "CNOM".into(),
                    source: AuthoritySource::Field,
                },
                savoir_faire: vec![SavoirFaire {
                    kind: c("S", "Spécialité"), code: c("SM54", "Médecine générale")
                }],
                activities: vec![Activity {
                    mode: c("L", "Libéral"),
                    sector: c("SA07", "Cabinet"),
                    pharmacist_section: c("A", "Section A"),
                    role: c("FON-01", "Rôle"),
                    genre: c("GENR01", "Genre"),
                    registration: RegistrationField::parse("CNOM/CNOM/CNOM"),
                    structure,
                }],
            }],
            diplomas: vec![Diploma {
                diploma_type: c("DE", "Diplôme d'Etat"),
                diploma: c("DE01", "DE de docteur"),
                authorisation_type: c("A", "Autorisation"),
                authorisation_discipline: c("D", "Discipline"),
            }],
            civil_status: Some(CivilStatus {
                family_name: "FN".into(),
                first_names: vec!["A".into(), "B".into()],
                first_names_raw: "A'B".into(),
                birth_date: "1970-01-02".into(),
                birth_date_raw: "02/01/1970".into(),
                birth_commune: "bc".into(),
                birth_country: "bp".into(),
                birth_place: "pl".into(),
                sex: "M".into(),
                phone: "ph".into(),
                email: "em".into(),
            }),
            cards: vec![Card {
                number: "2100000001".into(),
                card_type: c("CPS", "Carte de professionnel de santé"),
                embedded_id: "ei".into(),
                valid_from: "2024-01-01".into(),
                valid_to: "2027-01-01".into(),
                opposed_on: "2026-01-01".into(),
                updated_on: "2025-01-01".into(),
            }],
            mailboxes: vec![Mailbox {
                address: "a@medecin.mssante.fr".into(),
                kind: "PER".into(),
                structure_id: "sid".into(),
                service: "sv".into(),
                structure_name: "sn".into(),
                dematerialisation: "O".into(),
            }],
        }
    }

    const FROZEN: &str = concat!(
        r#"{"idnat":"810100271385","id_type":"8","id":"10100271385","civilite":{"code":"M","label":"Monsieur"},"#,
        r#""exercices":[{"profession":{"code":"10","label":"Médecin"},"category":{"code":"C","label":"Civil"},"#,
        r#""civilite_exercice":{"code":"DR","label":"Docteur"},"family_name":"F","given_name":"G","#,
        r#""authority":{"kind":"ordre","name":"CNOM","source":"field"},"#,
        r#""savoir_faire":[{"kind":{"code":"S","label":"Spécialité"},"code":{"code":"SM54","label":"Médecine générale"}}],"#,
        r#""activities":[{"mode":{"code":"L","label":"Libéral"},"sector":{"code":"SA07","label":"Cabinet"},"#,
        r#""pharmacist_section":{"code":"A","label":"Section A"},"role":{"code":"FON-01","label":"Rôle"},"#,
        r#""genre":{"code":"GENR01","label":"Genre"},"registration":"CNOM/CNOM/CNOM","#,
        r#""structure":{"siret":"si","siren":"sn","finess_site":"fs","finess_ej":"fe","technical_id":"ti","name":"na","#,
        r#""commercial_name":"cn","recipient_complement":"rc","geo_complement":"gc","street_number":"1","#,
        r#""street_repetition":"B","street_type":{"code":"R","label":"Rue"},"street_label":"sl","distribution":"di","#,
        r#""cedex_office":"co","postal_code":"75001","commune":{"code":"75101","label":"Paris"},"#,
        r#""country":{"code":"99100","label":"France"},"phone":"ph","phone2":"p2","fax":"fx","email":"em","#,
        r#""department":{"code":"75","label":"Paris"},"old_id":"oi"}}]}],"#,
        r#""diplomas":[{"diploma_type":{"code":"DE","label":"Diplôme d'Etat"},"diploma":{"code":"DE01","label":"DE de docteur"},"#,
        r#""authorisation_type":{"code":"A","label":"Autorisation"},"authorisation_discipline":{"code":"D","label":"Discipline"}}],"#,
        r#""civil_status":{"family_name":"FN","first_names":["A","B"],"first_names_raw":"A'B","birth_date":"1970-01-02","#,
        r#""birth_date_raw":"02/01/1970","birth_commune":"bc","birth_country":"bp","birth_place":"pl","sex":"M","#,
        r#""phone":"ph","email":"em"},"#,
        r#""cards":[{"number":"2100000001","card_type":{"code":"CPS","label":"Carte de professionnel de santé"},"#,
        r#""embedded_id":"ei","valid_from":"2024-01-01","valid_to":"2027-01-01","opposed_on":"2026-01-01","#,
        r#""updated_on":"2025-01-01"}],"#,
        r#""mailboxes":[{"address":"a@medecin.mssante.fr","kind":"PER","structure_id":"sid","service":"sv","#,
        r#""structure_name":"sn","dematerialisation":"O"}]}"#,
    );

    #[test]
    fn the_canonical_form_is_frozen() -> Result<()> {
        let e = encode(&full())?;
        assert_eq!(e.record, FROZEN, "the stored encoding moved: bump ENCODING and migrate the stored records");
        assert_eq!(e.hash, format!("{:032x}", xxhash_rust::xxh3::xxh3_128(FROZEN.as_bytes())));
        assert_eq!(decode(&e.record)?, full());
        // Empty parts are left out.
        let bare = Person { idnat: IdNat::new("810000000001"), ..Person::default() };
        assert_eq!(encode(&bare)?.record, r#"{"idnat":"810000000001","exercices":[]}"#);
        Ok(())
    }

    #[test]
    fn hash_hex_is_the_formatted_hash() {
        for h in [0, 1, 0xf0, u128::MAX, u128::MAX / 3, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            assert_eq!(hash_hex(h), format!("{h:032x}"));
        }
    }

    #[test]
    fn hash_then_pack_gives_the_hash_and_frame_of_encode() -> Result<()> {
        let bare = Person { idnat: IdNat::new("810000000001"), ..Person::default() };
        for p in [full(), bare, full()] {
            let e = encode(&p)?;
            let (hash, packed) = hash_then_pack(&p, |_| true)?;
            assert_eq!(format!("{hash:032x}"), e.hash);
            assert_eq!(hash_hex(hash), e.hash);
            assert_eq!(packed.map(|b| unpack(&b)).transpose()?, Some(e.record));
            let mut asked = None;
            assert_eq!(
                hash_then_pack(&p, |h| {
                    asked = Some(h);
                    false
                })?,
                (hash, None)
            );
            assert_eq!(asked, Some(hash), "keep is asked about the record's hash");
        }
        Ok(())
    }

    #[test]
    fn the_canonical_form_is_serde_json_s() -> Result<()> {
        // Every character class JSON escapes, or does not: quotes, backslashes, each control character (short
        // escapes and `\u00XX`), DEL, non-ASCII (accents, a ligature, a four-byte character).
        let controls: String = (0u8..0x20).map(char::from).collect();
        let mut odd = full();
        odd.exercices[0].family_name = format!("O'Brien \"le\" \\ {controls}\u{7f}");
        odd.exercices[0].given_name = "Zoë Œdipe 𝄞 é".into();
        let bare = Person { idnat: IdNat::new("810000000001"), ..Person::default() };
        for p in [full(), bare, odd] {
            let mut ours = Vec::new();
            write_canonical(&p, &mut ours)?;
            let theirs = serde_json::to_vec(&p).map_err(|e| Error::Record(e.to_string()))?;
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
            assert_eq!(ours, theirs);
        }
        Ok(())
    }

    #[test]
    fn a_frame_is_the_one_the_dictionary_s_compressor_makes() -> Result<()> {
        // `pack` calls `ZSTD_compress_usingCDict`; the zstd crate's compressor on the same prepared dictionary (what
        // wrote encoding 2 before 2026-12-05) calls `ZSTD_compress2`: the same bytes, for a record of every field,
        // an empty one and one far larger than a block.
        let prepared = zstd::dict::EncoderDictionary::copy(DICTIONARY, LEVEL);
        let mut theirs = zstd::bulk::Compressor::with_prepared_dictionary(&prepared).map_err(zstd_error)?;
        let big = format!("{{\"idnat\":\"{}\"}}", "x".repeat(300_000));
        for record in [encode(&full())?.record, encode(&Person::default())?.record, big] {
            let ours = pack(&record)?;
            assert_eq!(ours, theirs.compress(record.as_bytes()).map_err(zstd_error)?);
            assert_eq!(unpack(&ours)?, record);
        }
        Ok(())
    }

    #[test]
    fn a_record_that_is_not_a_canonical_form_is_an_error_not_a_panic() {
        for bad in ["", "{", "[]", r#"{"exercices":[]}"#, r#"{"idnat":3,"exercices":[]}"#] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_dictionary_is_frozen() {
        assert_eq!(DICTIONARY.len(), 32_768);
        assert_eq!(
            format!("{:032x}", xxhash_rust::xxh3::xxh3_128(DICTIONARY)),
            DICTIONARY_HASH,
            "the dictionary of encoding 2 moved: records written with it could no longer be read"
        );
    }

    const DICTIONARY_HASH: &str = "22c5d7baaa73fa26bb384c9ce0f13332";

    #[test]
    fn packed_records_read_back_as_written_and_much_smaller() -> Result<()> {
        let e = encode(&full())?;
        let packed = pack(&e.record)?;
        assert!(packed.starts_with(&ZSTD_MAGIC));
        assert!(packed.len() * 2 < e.record.len(), "{} bytes packed for {}", packed.len(), e.record.len());
        assert_eq!(unpack(&packed)?, e.record);
        // Encoding 1, as an older binary stored it, reads as it was.
        assert_eq!(unpack(e.record.as_bytes())?, e.record);
        // Any text survives, from any thread.
        let odd = "{\"n\":\"a\u{0}b\tc\nÉ日本\"}".repeat(100);
        let back = std::thread::spawn(move || pack(&odd).and_then(|p| unpack(&p).map(|u| (u, odd)))).join();
        let (u, odd) = back.map_err(|_| Error::Record("thread".into()))??;
        assert_eq!(u, odd);
        Ok(())
    }

    #[test]
    fn a_stored_value_that_is_not_a_record_is_an_error_not_a_panic_nor_a_large_allocation() -> Result<()> {
        let packed = pack(&encode(&full())?.record)?;
        for bad in [&packed[..4], &packed[..packed.len() / 2], &[0xFF, 0xFE][..], &[0x28, 0xB5, 0x2F, 0xFD, 0, 0][..]] {
            assert!(unpack(bad).is_err(), "{bad:?}");
        }
        // A frame that claims a canonical form past MAX_RECORD is refused, and so is one that does not say its size.
        let big = zstd::bulk::compress(&vec![b' '; MAX_RECORD + 1], 1).map_err(zstd_error)?;
        assert!(unpack(&big).is_err());
        let mut unsized_frame = Vec::new();
        {
            let mut e = zstd::stream::write::Encoder::new(&mut unsized_frame, 1).map_err(zstd_error)?;
            std::io::Write::write_all(&mut e, b"{}").map_err(zstd_error)?;
            e.finish().map_err(zstd_error)?;
        }
        assert!(unpack(&unsized_frame).is_err());
        Ok(())
    }
}
