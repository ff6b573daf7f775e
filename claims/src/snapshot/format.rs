//! The claims snapshot's files: a generation's answers, rendered once and kept in read-only files, so that the
//! identity provider's lookups touch neither SQL nor JSON parsing: `DATA_DIR/claims/gen-N/`
//!
//! - `claims.fst`: an [`fst::Map`] from idNat to where its entry is (offset << 24 | length), held in memory
//!   (about 10 bytes a person: idNats share long prefixes);
//! - `claims.bin`: the entries, one lz4 block each, holding the person's answers in every *variant* (the claim
//!   profiles, in an order the writer chooses), each as `u32` length (little endian) and bytes;
//! - `dict.bin`: the lz4 dictionary every entry is compressed with (a few typical answers: entries of 1 to 3 KB share
//!   little with themselves and much with each other, so the dictionary makes them about three times smaller);
//! - `meta.json`: format, generation, persons, variants. Written last: a folder without it is unfinished.
//!
//! A snapshot is written aside and renamed into place by `annuaire_views::Building`, so a reader sees a whole one
//! or none; it is never changed afterwards. The store stays the truth: a snapshot is derived from one generation's
//! records and may be deleted at any time (it is rebuilt).
//!
//! Reads use positioned reads (`pread`) on one shared file handle: no `unsafe` memory map, and the page cache
//! does the caching.

use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Version of the file layout; a snapshot of another version is rebuilt.
pub const FORMAT: u32 = 2;
/// Largest useful dictionary (lz4's window).
pub const MAX_DICT: usize = 64 * 1024;
const LEN_BITS: u32 = 24;

/// What a snapshot's `meta.json` says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotMeta {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The generation it holds.
    pub generation: i64,
    /// Persons in it.
    pub persons: u64,
    /// Names of the variants, in entry order.
    pub variants: Vec<String>,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

/// Writes a snapshot; entries must come in strictly increasing idNat (byte) order, as the store streams them.
pub struct SnapshotWriter {
    map: fst::MapBuilder<BufWriter<std::fs::File>>,
    data: BufWriter<std::fs::File>,
    offset: u64,
    tmp: PathBuf,
    meta: SnapshotMeta,
    dict: std::sync::Arc<Vec<u8>>,
}

impl SnapshotWriter {
    /// Start generation `generation`'s snapshot in the folder `dir` with these variant names, compressing with
    /// `dict` (its last [`MAX_DICT`] bytes are used; see [`dictionary`]).
    pub fn create(dir: &Path, generation: i64, variants: &[&str], dict: &[u8]) -> std::io::Result<SnapshotWriter> {
        let tmp = dir.to_path_buf();
        std::fs::create_dir_all(&tmp)?;
        let map = fst::MapBuilder::new(BufWriter::new(std::fs::File::create(tmp.join("claims.fst"))?))
            .map_err(|e| io_err(&tmp, e))?;
        let data = BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp.join("claims.bin"))?);
        let dict = dict[dict.len().saturating_sub(MAX_DICT)..].to_vec();
        std::fs::write(tmp.join("dict.bin"), &dict)?;
        let meta = SnapshotMeta {
            format: FORMAT,
            generation,
            persons: 0,
            variants: variants.iter().map(|v| v.to_string()).collect(),
        };
        Ok(SnapshotWriter { map, data, offset: 0, tmp, meta, dict: std::sync::Arc::new(dict) })
    }

    /// The dictionary, for [`encode`] (callers may encode in parallel, then add in order).
    pub fn dict(&self) -> std::sync::Arc<Vec<u8>> {
        self.dict.clone()
    }

    /// Add one person's answers, one per variant.
    pub fn add(&mut self, idnat: &str, answers: &[&[u8]]) -> std::io::Result<()> {
        if answers.len() != self.meta.variants.len() {
            return Err(io_err(
                &self.tmp,
                format!("{} answers for {} variants", answers.len(), self.meta.variants.len()),
            ));
        }
        let entry = encode(&self.dict, answers);
        self.add_encoded(idnat, &entry)
    }

    /// Add an entry made by [`encode`] with this writer's dictionary (or copied from a snapshot with the same one).
    pub fn add_encoded(&mut self, idnat: &str, entry: &[u8]) -> std::io::Result<()> {
        if entry.len() >= 1 << LEN_BITS {
            return Err(io_err(&self.tmp, format!("entry of {idnat} too large ({} bytes)", entry.len())));
        }
        self.map.insert(idnat, (self.offset << LEN_BITS) | entry.len() as u64).map_err(|e| io_err(&self.tmp, e))?;
        self.data.write_all(entry)?;
        self.offset += entry.len() as u64;
        self.meta.persons += 1;
        Ok(())
    }

    /// Persons added so far.
    pub fn persons(&self) -> u64 {
        self.meta.persons
    }

    /// Flush, and write `meta.json`: the folder holds a finished snapshot.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        let SnapshotWriter { map, mut data, tmp, meta, .. } = self;
        map.into_inner().map_err(|e| io_err(&tmp, e))?.flush()?;
        data.flush()?;
        data.get_ref().sync_all()?;
        std::fs::write(tmp.join("meta.json"), serde_json::to_vec(&meta).map_err(|e| io_err(&tmp, e))?)?;
        Ok(tmp)
    }
}

/// Encode one person's answers (one per variant, in order) as an entry for [`SnapshotWriter::add_encoded`].
pub fn encode(dict: &[u8], answers: &[&[u8]]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size_with_dict(&concat(answers), dict)
}

fn concat(answers: &[&[u8]]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(answers.iter().map(|a| a.len() + 4).sum());
    for a in answers {
        raw.extend_from_slice(&(a.len() as u32).to_le_bytes());
        raw.extend_from_slice(a);
    }
    raw
}

/// A dictionary made of some persons' answers (as many as fit in [`MAX_DICT`], taken evenly from `samples`).
pub fn dictionary(samples: &[Vec<&[u8]>]) -> Vec<u8> {
    let mut dict = Vec::new();
    let step = (samples.len() / 32).max(1);
    for answers in samples.iter().step_by(step) {
        let raw = concat(answers);
        if dict.len() + raw.len() > MAX_DICT {
            break;
        }
        dict.extend_from_slice(&raw);
    }
    dict
}

/// A snapshot open for lookups (cheap to share: `Sync`, no lock).
pub struct ClaimsSnapshot {
    dict: Vec<u8>,
    map: fst::Map<Vec<u8>>,
    data: std::fs::File,
    meta: SnapshotMeta,
    path: PathBuf,
}

impl ClaimsSnapshot {
    /// True when `dir` holds a finished snapshot of this [`FORMAT`].
    pub fn is_current(dir: &Path) -> bool {
        Self::read_meta(dir).is_ok_and(|m| m.format == FORMAT)
    }

    fn read_meta(dir: &Path) -> std::io::Result<SnapshotMeta> {
        let path = dir.join("meta.json");
        serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| io_err(&path, e))
    }

    /// Open the snapshot in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<ClaimsSnapshot> {
        let meta = Self::read_meta(dir)?;
        if meta.format != FORMAT {
            return Err(io_err(dir, format!("snapshot format {} (this version reads {FORMAT})", meta.format)));
        }
        let fst_path = dir.join("claims.fst");
        let map = fst::Map::new(std::fs::read(&fst_path)?).map_err(|e| io_err(&fst_path, e))?;
        let data = std::fs::File::open(dir.join("claims.bin"))?;
        let dict = std::fs::read(dir.join("dict.bin"))?;
        Ok(ClaimsSnapshot { dict, map, data, meta, path: dir.to_path_buf() })
    }

    /// The dictionary its entries are compressed with (a snapshot that copies entries from this one needs it).
    pub fn dict(&self) -> &[u8] {
        &self.dict
    }

    /// What `meta.json` says.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// The generation held.
    pub fn generation(&self) -> i64 {
        self.meta.generation
    }

    /// The position of a variant by name.
    pub fn variant(&self, name: &str) -> Option<usize> {
        self.meta.variants.iter().position(|v| v == name)
    }

    /// A person's entry as stored (compressed), to copy into the next generation's snapshot.
    pub fn raw(&self, idnat: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(v) = self.map.get(idnat) else { return Ok(None) };
        let (offset, len) = (v >> LEN_BITS, (v & ((1 << LEN_BITS) - 1)) as usize);
        let mut buf = vec![0; len];
        self.data.read_exact_at(&mut buf, offset).map_err(|e| io_err(&self.path, e))?;
        Ok(Some(buf))
    }

    /// Every entry as stored (compressed), in idNat order, read sequentially (for copying the unchanged persons into
    /// the next generation's snapshot).
    pub fn for_each_entry(&self, mut f: impl FnMut(&str, &[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        use fst::Streamer;
        use std::io::Read;
        let bin = self.path.join("claims.bin");
        let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&bin)?);
        let (mut position, mut buf) = (0u64, Vec::new());
        let mut stream = self.map.stream();
        while let Some((key, v)) = stream.next() {
            let (offset, len) = (v >> LEN_BITS, (v & ((1 << LEN_BITS) - 1)) as usize);
            if offset != position {
                return Err(io_err(&bin, format!("entry at {offset}, expected at {position}")));
            }
            buf.resize(len, 0);
            reader.read_exact(&mut buf).map_err(|e| io_err(&bin, e))?;
            position += len as u64;
            f(std::str::from_utf8(key).map_err(|e| io_err(&bin, e))?, &buf)?;
        }
        Ok(())
    }

    /// Every idNat held, in order.
    pub fn idnats(&self) -> impl Iterator<Item = String> + '_ {
        use fst::Streamer;
        let mut stream = self.map.keys();
        std::iter::from_fn(move || stream.next().map(|k| String::from_utf8_lossy(k).into_owned()))
    }

    /// A person's answer in variant `variant`, or `None` when the generation has no such idNat.
    pub fn get(&self, idnat: &str, variant: usize) -> std::io::Result<Option<Vec<u8>>> {
        let Some(entry) = self.raw(idnat)? else { return Ok(None) };
        let raw = lz4_flex::block::decompress_size_prepended_with_dict(&entry, &self.dict)
            .map_err(|e| io_err(&self.path, e))?;
        let mut rest = &raw[..];
        let mut k = 0;
        loop {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| io_err(&self.path, "truncated entry"))?;
            let len = u32::from_le_bytes(*len) as usize;
            let (answer, tail) = tail.split_at_checked(len).ok_or_else(|| io_err(&self.path, "truncated entry"))?;
            if k == variant {
                return Ok(Some(answer.to_vec()));
            }
            rest = tail;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_in_every_variant() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let dict = dictionary(&[vec![b"{\"x\":0}", b"first"]]);
        let mut w = SnapshotWriter::create(&dir.path().join("7"), 7, &["a", "b"], &dict)?;
        w.add("0123", &[b"{\"x\":1}", b""])?;
        w.add("810000000001", &[b"first", "é \u{1F600}".as_bytes()])?;
        // Out of order: refused, not silently stored.
        assert!(w.add("0001", &[b"", b""]).is_err());
        let path = w.finish()?;
        assert_eq!(path, dir.path().join("7"));
        assert!(ClaimsSnapshot::is_current(&path));
        let s = ClaimsSnapshot::open(&path)?;
        assert_eq!(s.meta().persons, 2);
        assert_eq!(s.variant("b"), Some(1));
        assert_eq!(s.get("0123", 0)?.as_deref(), Some(&b"{\"x\":1}"[..]));
        assert_eq!(s.get("0123", 1)?.as_deref(), Some(&b""[..]));
        assert_eq!(s.get("810000000001", 1)?.as_deref(), Some("é \u{1F600}".as_bytes()));
        assert_eq!(s.get("810000000002", 0)?, None);
        assert!(s.get("0123", 2).is_err());
        assert_eq!(s.idnats().collect::<Vec<_>>(), ["0123", "810000000001"]);
        let mut seen = Vec::new();
        s.for_each_entry(|k, e| {
            seen.push((k.to_string(), e.to_vec()));
            Ok(())
        })?;
        assert_eq!(seen.len(), 2);
        assert_eq!(Some(seen[1].1.clone()), s.raw("810000000001")?);
        // A raw entry copied into another snapshot reads the same.
        let mut w = SnapshotWriter::create(&dir.path().join("8"), 8, &["a", "b"], s.dict())?;
        w.add_encoded("0123", &s.raw("0123")?.unwrap_or_default())?;
        let s8 = ClaimsSnapshot::open(&w.finish()?)?;
        assert_eq!(s8.get("0123", 0)?, s.get("0123", 0)?);
        Ok(())
    }

    #[test]
    fn an_unfinished_snapshot_is_not_current() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut w = SnapshotWriter::create(dir.path(), 3, &["a"], b"")?;
        w.add("1", &[b"x"])?;
        drop(w);
        assert!(!ClaimsSnapshot::is_current(dir.path()));
        assert!(ClaimsSnapshot::open(dir.path()).is_err());
        Ok(())
    }
}
