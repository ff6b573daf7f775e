//! The claims snapshot's files: a generation's answers, rendered once and kept in read-only files, so that the
//! identity provider's lookups touch neither SQL nor JSON parsing: `DATA_DIR/claims/gen-N/`
//!
//! - `claims.fst`: an [`fst::Map`] from idNat to where its entry is (data file, offset and length packed in a
//!   `u64`), held in memory (about 10 bytes a person: idNats share long prefixes);
//! - `data-G.bin`, one or more *layers*: the entries written by generation G, one lz4 block each, holding the
//!   person's answers in every *variant* (the claim profiles, in an order the writer chooses), each as `u32` length
//!   (little endian) and bytes. A full build writes one layer. An update hard-links the previous snapshot's layers
//!   (no byte copied) and writes only the changed persons into a new one, so a nightly re-sync writes what changed
//!   plus the map; when the layers are too many ([`MAX_LAYERS`]) or hold too many dead entries
//!   ([`MAX_DEAD_PERCENT`]), the update rewrites every entry into one layer instead;
//! - `dict.bin`: the lz4 dictionary every entry is compressed with (a few typical answers: entries of 1 to 3 KB share
//!   little with themselves and much with each other, so the dictionary makes them about three times smaller); an
//!   update keeps its base's;
//! - `meta.json`: format, generation, persons, variants, layers with their live bytes. Written last: a folder
//!   without it is unfinished.
//!
//! A snapshot is written aside and renamed into place by `annuaire_views::Building`, so a reader sees a whole one
//! or none; it is never changed afterwards (a layer shared by hard links is never written again: its generation's
//! writer finished it). The store stays the truth: a snapshot is derived from one generation's records and may be
//! deleted at any time (it is rebuilt).
//!
//! Reads use positioned reads (`pread`) on shared file handles: no `unsafe` memory map, and the page cache
//! does the caching. A server must not wait on the disk on its async threads, so it asks first with
//! [`ClaimsSnapshot::get_cached`], a read that fails at once (Linux's `RWF_NOWAIT`) when the entry is not in the page
//! cache, and does only those reads on a blocking thread; and it asks the kernel to read the layers ahead
//! ([`ClaimsSnapshot::read_ahead`]) when it opens a snapshot and then every minute, so that a server just started,
//! just switched to a new generation, or whose pages were taken for other work, gets them back in sequential reads
//! rather than one lookup's random read at a time.

use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Version of the file layout; a snapshot of another version is rebuilt.
pub const FORMAT: u32 = 3;
/// Largest useful dictionary (lz4's window).
pub const MAX_DICT: usize = 64 * 1024;
/// Most layers a snapshot has: past it, an update rewrites every entry into one.
pub const MAX_LAYERS: usize = 8;
/// Most dead bytes (entries no longer referenced) in a base's layers, in percent of their size, for an update to
/// add a layer rather than rewrite.
pub const MAX_DEAD_PERCENT: u64 = 25;

/// The largest decompressed entry a lookup accepts (64 MiB): a person's answers in every profile, a few KB at national
/// size, and derived from a record of at most 4 MiB. An entry claiming more is refused as damaged.
pub const MAX_ENTRY: usize = 64 << 20;
const LEN_BITS: u32 = 24;
const OFFSET_BITS: u32 = 34;
const LAYER_BITS: u32 = 64 - LEN_BITS - OFFSET_BITS;

/// Where an entry is: layer, offset, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    layer: usize,
    offset: u64,
    len: usize,
}

impl Place {
    fn pack(self) -> Option<u64> {
        let fits = (self.layer as u64) < 1 << LAYER_BITS && self.offset < 1 << OFFSET_BITS && self.len < 1 << LEN_BITS;
        fits.then_some(((self.layer as u64) << (OFFSET_BITS + LEN_BITS)) | (self.offset << LEN_BITS) | self.len as u64)
    }

    fn unpack(v: u64) -> Place {
        Place {
            layer: (v >> (OFFSET_BITS + LEN_BITS)) as usize,
            offset: (v >> LEN_BITS) & ((1 << OFFSET_BITS) - 1),
            len: (v & ((1 << LEN_BITS) - 1)) as usize,
        }
    }
}

/// One layer of a snapshot, as `meta.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layer {
    /// Its file name in the snapshot's folder (`data-G.bin`).
    pub file: String,
    /// Its size.
    pub bytes: u64,
    /// The bytes of its entries this snapshot refers to (the rest belong to persons changed or removed since).
    pub live: u64,
}

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
    /// Its layers, oldest first; the last one was written by this generation.
    pub layers: Vec<Layer>,
}

impl SnapshotMeta {
    /// Bytes of the layers no longer referred to, in percent of their size.
    pub fn dead_percent(&self) -> u64 {
        let bytes: u64 = self.layers.iter().map(|l| l.bytes).sum();
        let live: u64 = self.layers.iter().map(|l| l.live).sum();
        (bytes - live.min(bytes)) * 100 / bytes.max(1)
    }

    /// True when an update from this snapshot should add a layer, not rewrite every entry.
    pub fn takes_a_layer(&self) -> bool {
        self.layers.len() < MAX_LAYERS && self.dead_percent() <= MAX_DEAD_PERCENT
    }
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
    /// `dict` (its last [`MAX_DICT`] bytes are used; see [`dictionary`]). It has one layer.
    pub fn create(dir: &Path, generation: i64, variants: &[&str], dict: &[u8]) -> std::io::Result<SnapshotWriter> {
        let meta = SnapshotMeta {
            format: FORMAT,
            generation,
            persons: 0,
            variants: variants.iter().map(|v| v.to_string()).collect(),
            layers: Vec::new(),
        };
        Self::start(dir, meta, &dict[dict.len().saturating_sub(MAX_DICT)..])
    }

    /// Start generation `generation`'s snapshot in the empty folder `dir` on `base`: the base's layers are
    /// hard-linked into `dir` (same file system), its dictionary and variants kept; entries kept from the base are
    /// added with [`SnapshotWriter::add_kept`], changed ones with [`SnapshotWriter::add_encoded`] into a new layer.
    pub fn on(dir: &Path, generation: i64, base: &ClaimsSnapshot) -> std::io::Result<SnapshotWriter> {
        std::fs::create_dir_all(dir)?;
        let mut layers = Vec::new();
        for l in &base.meta.layers {
            std::fs::hard_link(base.path.join(&l.file), dir.join(&l.file))?;
            layers.push(Layer { live: 0, ..l.clone() });
        }
        let meta = SnapshotMeta { generation, persons: 0, layers, ..base.meta.clone() };
        Self::start(dir, meta, &base.dict)
    }

    fn start(dir: &Path, mut meta: SnapshotMeta, dict: &[u8]) -> std::io::Result<SnapshotWriter> {
        let tmp = dir.to_path_buf();
        std::fs::create_dir_all(&tmp)?;
        let file = format!("data-{}.bin", meta.generation);
        if meta.layers.iter().any(|l| l.file == file) {
            return Err(io_err(&tmp, format!("the base already has a layer {file}")));
        }
        let map = fst::MapBuilder::new(BufWriter::new(std::fs::File::create(tmp.join("claims.fst"))?))
            .map_err(|e| io_err(&tmp, e))?;
        let data = BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp.join(&file))?);
        meta.layers.push(Layer { file, bytes: 0, live: 0 });
        if meta.layers.len() > 1 << LAYER_BITS {
            return Err(io_err(&tmp, "too many layers"));
        }
        std::fs::write(tmp.join("dict.bin"), dict)?;
        Ok(SnapshotWriter { map, data, offset: 0, tmp, meta, dict: std::sync::Arc::new(dict.to_vec()) })
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

    /// Add an entry made by [`encode`] with this writer's dictionary (or copied from a snapshot with the same one),
    /// into this generation's layer.
    pub fn add_encoded(&mut self, idnat: &str, entry: &[u8]) -> std::io::Result<()> {
        let layer = self.meta.layers.len() - 1;
        let place = Place { layer, offset: self.offset, len: entry.len() };
        self.insert(idnat, place)?;
        self.data.write_all(entry)?;
        self.offset += entry.len() as u64;
        self.meta.layers[layer].bytes = self.offset;
        Ok(())
    }

    /// Keep an entry where it is in the base this writer was started [`on`](SnapshotWriter::on), as
    /// [`ClaimsSnapshot::for_each_place`] gave it.
    pub fn add_kept(&mut self, idnat: &str, place: EntryPlace) -> std::io::Result<()> {
        let place = Place::unpack(place.0);
        if place.layer + 1 >= self.meta.layers.len() {
            return Err(io_err(&self.tmp, format!("entry of {idnat} in layer {} of no base", place.layer)));
        }
        self.insert(idnat, place)
    }

    fn insert(&mut self, idnat: &str, place: Place) -> std::io::Result<()> {
        let packed = place.pack().ok_or_else(|| io_err(&self.tmp, format!("entry of {idnat} too large or too far")))?;
        self.map.insert(idnat, packed).map_err(|e| io_err(&self.tmp, e))?;
        self.meta.layers[place.layer].live += place.len as u64;
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

/// Where a kept entry is, opaque: from [`ClaimsSnapshot::for_each_place`] to [`SnapshotWriter::add_kept`].
#[derive(Debug, Clone, Copy)]
pub struct EntryPlace(u64);

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

/// Bytes advised per call by [`ClaimsSnapshot::read_ahead`] (at most Linux's read-ahead window, so that each call
/// starts all of its range).
pub const READ_AHEAD_CHUNK: u64 = 1 << 20;

/// A snapshot open for lookups (cheap to share: `Sync`, no lock).
pub struct ClaimsSnapshot {
    dict: Vec<u8>,
    map: fst::Map<Vec<u8>>,
    layers: Vec<std::fs::File>,
    meta: SnapshotMeta,
    path: PathBuf,
    /// Set when the kernel or the file system refuses reads that do not wait (`RWF_NOWAIT`): every read then waits.
    nowait_refused: std::sync::atomic::AtomicBool,
}

/// What a lookup that must not wait on the disk found ([`ClaimsSnapshot::get_cached`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// The answer.
    Found(Vec<u8>),
    /// The generation has no such idNat.
    Absent,
    /// The entry is not (wholly) in the page cache: [`ClaimsSnapshot::get`] would wait on the disk.
    OnDisk,
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
        let layers = meta.layers.iter().map(|l| std::fs::File::open(dir.join(&l.file))).collect::<Result<_, _>>()?;
        let dict = std::fs::read(dir.join("dict.bin"))?;
        Ok(ClaimsSnapshot {
            dict,
            map,
            layers,
            meta,
            path: dir.to_path_buf(),
            nowait_refused: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Ask the kernel to bring every layer into the page cache (`POSIX_FADV_WILLNEED`): the reads are started, not
    /// waited for, and pages already there cost a lookup. Linux starts at most its read-ahead window (a few MB) per
    /// call, so the layers are advised [`READ_AHEAD_CHUNK`] at a time. It may still wait for the disk's queue: call
    /// it where waiting is allowed. Returns the bytes advised (a refusal is ignored: advice changes only speed).
    pub fn read_ahead(&self) -> u64 {
        let mut advised = 0;
        #[cfg(target_os = "linux")]
        for file in &self.layers {
            let len = file.metadata().map_or(0, |m| m.len());
            let mut offset = 0;
            while offset < len {
                let chunk = READ_AHEAD_CHUNK.min(len - offset);
                if let Some(n) = std::num::NonZeroU64::new(chunk)
                    && rustix::fs::fadvise(file, offset, Some(n), rustix::fs::Advice::WillNeed).is_ok()
                {
                    advised += chunk;
                }
                offset += chunk;
            }
        }
        advised
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

    /// The layer file and place of an entry.
    fn locate(&self, idnat: &str, v: u64) -> std::io::Result<(&std::fs::File, Place)> {
        let place = Place::unpack(v);
        let file = self.layers.get(place.layer).ok_or_else(|| io_err(&self.path, format!("{idnat}: no layer")))?;
        Ok((file, place))
    }

    fn read(&self, idnat: &str, v: u64) -> std::io::Result<Vec<u8>> {
        let (file, place) = self.locate(idnat, v)?;
        let mut buf = vec![0; place.len];
        file.read_exact_at(&mut buf, place.offset).map_err(|e| io_err(&self.path, e))?;
        Ok(buf)
    }

    /// [`ClaimsSnapshot::read`] if the entry is wholly in the page cache, else `None` at once (Linux; elsewhere, and
    /// where the file system refuses such reads, it reads and waits).
    fn read_cached(&self, idnat: &str, v: u64) -> std::io::Result<Option<Vec<u8>>> {
        #[cfg(target_os = "linux")]
        if !self.nowait_refused.load(std::sync::atomic::Ordering::Relaxed) {
            use rustix::io::{Errno, ReadWriteFlags, preadv2};
            let (file, place) = self.locate(idnat, v)?;
            let mut buf = vec![0; place.len];
            match preadv2(file, &mut [std::io::IoSliceMut::new(&mut buf)], place.offset, ReadWriteFlags::NOWAIT) {
                Ok(n) if n == place.len => return Ok(Some(buf)),
                // Partly cached, or a truncated file: the waiting read tells which.
                Ok(_) | Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => {
                    self.nowait_refused.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => return Err(io_err(&self.path, std::io::Error::from(e))),
            }
        }
        self.read(idnat, v).map(Some)
    }

    /// A person's entry as stored (compressed), to copy into the next generation's snapshot.
    pub fn raw(&self, idnat: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(v) = self.map.get(idnat) else { return Ok(None) };
        self.read(idnat, v).map(Some)
    }

    /// Every entry as stored (compressed), in idNat order (for rewriting every entry into one layer).
    pub fn for_each_entry(&self, mut f: impl FnMut(&str, &[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        use fst::Streamer;
        let mut stream = self.map.stream();
        while let Some((key, v)) = stream.next() {
            let idnat = std::str::from_utf8(key).map_err(|e| io_err(&self.path, e))?;
            f(idnat, &self.read(idnat, v)?)?;
        }
        Ok(())
    }

    /// Every idNat with where its entry is, in idNat order, reading no entry (for a snapshot written
    /// [`on`](SnapshotWriter::on) this one).
    pub fn for_each_place(&self, mut f: impl FnMut(&str, EntryPlace) -> std::io::Result<()>) -> std::io::Result<()> {
        use fst::Streamer;
        let mut stream = self.map.stream();
        while let Some((key, v)) = stream.next() {
            f(std::str::from_utf8(key).map_err(|e| io_err(&self.path, e))?, EntryPlace(v))?;
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
        self.answer(&entry, variant).map(Some)
    }

    /// [`ClaimsSnapshot::get`] without waiting on the disk: [`Cached::OnDisk`] at once when the entry is not in the
    /// page cache (the caller reads it with `get` where waiting is allowed).
    pub fn get_cached(&self, idnat: &str, variant: usize) -> std::io::Result<Cached> {
        let Some(v) = self.map.get(idnat) else { return Ok(Cached::Absent) };
        match self.read_cached(idnat, v)? {
            Some(entry) => self.answer(&entry, variant).map(Cached::Found),
            None => Ok(Cached::OnDisk),
        }
    }

    /// Variant `variant` of a stored entry.
    fn answer(&self, entry: &[u8], variant: usize) -> std::io::Result<Vec<u8>> {
        // The entry says its decompressed size first; it is bounded before anything is allocated for it, so that a
        // damaged file cannot make a lookup allocate up to 4 GiB.
        let (size, compressed) =
            lz4_flex::block::uncompressed_size(entry).map_err(|_| io_err(&self.path, "truncated entry"))?;
        if size > MAX_ENTRY {
            return Err(io_err(&self.path, format!("an entry claims {size} bytes, more than {MAX_ENTRY}")));
        }
        let raw =
            lz4_flex::block::decompress_with_dict(compressed, size, &self.dict).map_err(|e| io_err(&self.path, e))?;
        let mut rest = &raw[..];
        let mut k = 0;
        loop {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| io_err(&self.path, "truncated entry"))?;
            let len = u32::from_le_bytes(*len) as usize;
            let (answer, tail) = tail.split_at_checked(len).ok_or_else(|| io_err(&self.path, "truncated entry"))?;
            if k == variant {
                return Ok(answer.to_vec());
            }
            rest = tail;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests;
