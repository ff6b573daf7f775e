//! Reading a whole extract (the three files) into person records, with memory bounded by a partition.
//!
//! **Pass A** streams each file once (chunks parsed in parallel), checks every line's width, and spills it,
//! with its line number and its person's key, into one of [`PARTITIONS`] files chosen by a hash of its idNat.
//! **Pass B** then takes one partition at a time: hashes each person's lines ([`crate::facts::RawHash`]), and
//! parses into rows, groups into persons and canonicalises the lines of every person the caller does not skip
//! ([`Partitioned::process_skipping`]). Every line of a person lands in the same partition, so a partition is
//! complete on its own; at most a few partitions are in memory at once, whatever the size of the extract.

use crate::error::{Error, Result};
use crate::group::{GroupStats, Grouper};
use crate::layout::{FileKind, Header};
use crate::parse::{Fields, FileStats, RowError, locate, read_file};
use crate::rows::{
    CardCols, DiplCols, MbCols, PaCols, SfCols, parse_card, parse_dipl, parse_mailbox, parse_pa, parse_sf,
};
use crate::source::Source;
use annuaire_schemas::Person;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Number of partitions an extract is spilled into.
pub const PARTITIONS: usize = 128;

/// The partition of an idNat.
pub fn partition_of(idnat: &str) -> usize {
    (xxhash_rust::xxh3::xxh3_64(idnat.as_bytes()) % PARTITIONS as u64) as usize
}

/// What was read from an extract.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParseReport {
    /// One entry per file read.
    pub files: Vec<FileStats>,
    /// Data lines read in all files.
    pub rows_read: u64,
    /// Lines rejected in all files.
    pub rows_rejected: u64,
    /// Persons built.
    pub persons: u64,
    /// Persons with a rejected line (their served record is kept as it was).
    pub persons_with_errors: u64,
    /// Persons taken as unchanged from the memo of their lines, without being parsed ([`crate::facts`]).
    pub persons_skipped: u64,
    /// Grouping counters: duplicates, errors and warnings by kind, unknown codes.
    #[serde(flatten)]
    pub group: GroupStats,
    /// The quality report, against the previous generation's ([`crate::quality`]); none when nothing was grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<Box<crate::quality::Quality>>,
}

/// An extract read into memory whole: sorted person records and the report (tests, small extracts).
#[derive(Debug, Default)]
pub struct Extract {
    /// Person records, canonical, sorted by idNat.
    pub persons: Vec<Person>,
    /// Persons that had a rejected line.
    pub tainted: HashSet<String>,
    /// What was read.
    pub report: ParseReport,
}

/// A person's change hash and, when `keep` took it as changed, its record as stored (`record::hash_then_pack`).
pub type Stored = (u128, Option<Vec<u8>>);
/// What pass B does with each person it groups ([`Partitioned::process_skipping`]).
pub type Each<'a> = Option<&'a (dyn Fn(&Person) -> Result<Stored> + Sync)>;

/// One partition, grouped.
#[derive(Debug, Default)]
pub struct Part {
    /// Its persons, sorted by idNat (those skipped aside); empty when an `each` was given, which had each of them.
    pub persons: Vec<Person>,
    /// Their idNats, sorted.
    pub idnats: Vec<annuaire_schemas::IdNat>,
    /// What each person adds to the counters, parallel to `idnats`.
    pub facts: Vec<crate::facts::Facts>,
    /// The hash of each person's lines, parallel to `idnats`; `None` when a line with their key was rejected
    /// (such a person must be parsed every time, to count the rejection).
    pub raw: Vec<Option<u128>>,
    /// What the caller's `each` gave of each person, parallel to `idnats` (empty without one).
    pub stored: Vec<Stored>,
    /// Persons whose lines the caller chose not to parse (their key), sorted.
    pub skipped: Vec<String>,
    /// Persons of this partition with a rejected line.
    pub tainted: HashSet<String>,
    /// Counters of what belongs to no person (orphans, organisations' mailboxes), rejected lines and mis-encoded
    /// text; each person's own are in `facts`.
    pub stats: GroupStats,
}

/// An extract spilled into partition files (removed on drop).
pub struct Partitioned {
    dir: tempfile::TempDir,
    members: Vec<(FileKind, String, Header)>,
    /// What pass A read, per file.
    pub files: Vec<FileStats>,
    /// Lines rejected by pass A (wrong width), with the persons they name.
    pub errors: GroupStats,
    /// Persons named by a line rejected in pass A.
    pub tainted: HashSet<String>,
}

/// What a partition's lines are gathered into before they are written: 128 of them stay in the CPU's caches, and
/// are made once for every file of a source. (They were 256 KiB each, grown by doubling, for each file: 64 MiB of
/// fresh pages per file, whose faults took about 0.4 s of a national re-sync's CPU.)
const SPILL_BUFFER: usize = 64 * 1024;

struct Spill {
    paths: Vec<PathBuf>,
    buffers: Vec<Vec<u8>>,
    files: Vec<Option<BufWriter<File>>>,
}

impl Spill {
    fn new(dir: &Path, kind: FileKind, mut buffers: Vec<Vec<u8>>) -> Spill {
        buffers.resize_with(PARTITIONS, || Vec::with_capacity(2 * SPILL_BUFFER));
        Spill {
            paths: (0..PARTITIONS).map(|p| dir.join(format!("{}-{p:02}", kind.name()))).collect(),
            buffers,
            files: (0..PARTITIONS).map(|_| None).collect(),
        }
    }

    fn flush(&mut self, p: usize) -> std::io::Result<()> {
        if self.buffers[p].is_empty() {
            return Ok(());
        }
        if self.files[p].is_none() {
            self.files[p] = Some(BufWriter::new(File::create(&self.paths[p])?));
        }
        if let Some(f) = self.files[p].as_mut() {
            f.write_all(&self.buffers[p])?;
        }
        self.buffers[p].clear();
        Ok(())
    }

    fn push(&mut self, rows: Vec<(u16, String)>) -> std::io::Result<()> {
        for (p, line) in rows {
            let p = usize::from(p);
            self.buffers[p].extend_from_slice(line.as_bytes());
            if self.buffers[p].len() > SPILL_BUFFER {
                self.flush(p)?;
            }
        }
        Ok(())
    }

    /// Write what is left; the buffers, emptied, for the next file.
    fn finish(mut self) -> std::io::Result<Vec<Vec<u8>>> {
        for p in 0..PARTITIONS {
            self.flush(p)?;
            if let Some(f) = self.files[p].as_mut() {
                f.flush()?;
            }
        }
        Ok(self.buffers)
    }
}

/// Pass A: read every file of a source and spill its lines into partitions under `tmp_root`.
pub fn partition(source: &Source, tmp_root: &Path, on_bytes: &(dyn Fn(&str, u64) + Sync)) -> Result<Partitioned> {
    std::fs::create_dir_all(tmp_root).map_err(|e| Error::io(tmp_root, e))?;
    let dir = tempfile::Builder::new().prefix("ingest-").tempdir_in(tmp_root).map_err(|e| Error::io(tmp_root, e))?;
    let mut members = Vec::new();
    let mut files = Vec::new();
    let mut errors = GroupStats::default();
    let mut tainted = HashSet::new();
    let mut buffers = Vec::new();
    for kind in FileKind::ALL {
        let Some(member) = source.member(kind) else { continue };
        let spill = Mutex::new(Spill::new(dir.path(), kind, std::mem::take(&mut buffers)));
        let failures: Mutex<Vec<RowError>> = Mutex::new(Vec::new());
        let spill_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
        let mut header_seen: Option<Header> = None;
        let progress = |b: u64| on_bytes(&member.name, b);
        let stats = read_file(
            member,
            |h| {
                header_seen = Some(h.clone());
                let (idnat, type_id, id) =
                    (h.get(crate::layout::IDNAT), h.get(crate::layout::TYPE_ID), h.get(crate::layout::ID));
                move |f: &Fields<'_>| {
                    let key = crate::rows::person_key_ref(f.at(idnat), f.at(type_id), f.at(id));
                    // A line whose identifier is not one never becomes a person (a stray header line, text in the
                    // id column): a row error, counted and located. Lines without any id are rejected in pass B.
                    if !key.is_empty() {
                        // Only the idNat is judged (type prefix and shape): ANS's own PSC fixture pairs an idNat
                        // with another `Identifiant PP` (810107592544 / 10107582544), and the idNat is the key.
                        let (t, n) = (f.at(type_id).trim(), f.at(idnat).trim());
                        if let Some(message) = annuaire_schemas::id::idnat_problem(&key, t) {
                            return Err(crate::parse::RowIssue {
                                field: if n.is_empty() { id } else { idnat },
                                kind: "bad_id",
                                message,
                                idnat: None,
                            });
                        }
                    }
                    // The line number, the person's key (empty when it could not be told apart from the fields'
                    // separators: such a line is parsed every time), then the fields.
                    let mut line = String::with_capacity(f.joined_len() + key.len() + 24);
                    let _ = write!(line, "{}\t", f.line());
                    if !key.contains(['\t', '\n', '\r']) {
                        line.push_str(&key);
                    }
                    line.push('\t');
                    f.join_into(&mut line);
                    line.push('\n');
                    Ok::<_, crate::parse::RowIssue>((partition_of(&key) as u16, line))
                }
            },
            |rows, errs| {
                if let Err(e) = lock(&spill).push(rows) {
                    *lock(&spill_error) = Some(e);
                }
                lock(&failures).extend(errs);
            },
            &progress,
        )?;
        if let Some(e) = lock(&spill_error).take() {
            return Err(Error::io(dir.path(), e));
        }
        buffers = spill
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish()
            .map_err(|e| Error::io(dir.path(), e))?;
        let mut g = Grouper::new();
        let failures = failures.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        tainted.extend(failures.iter().filter_map(|e| e.idnat.clone()));
        g.errors(failures);
        errors.merge(g.finish().2);
        if let Some(h) = header_seen {
            members.push((kind, member.name.clone(), h));
        }
        files.push(stats);
    }
    Ok(Partitioned { dir, members, files, errors, tainted })
}

/// What a person's line hash takes from the file a line is in: its kind and its header, since the same bytes under
/// other columns are another line (the file's name and date are left out: they change every night).
fn file_tag(kind: FileKind, header: &Header) -> u64 {
    let text = format!("{}\n{}\n{}", kind.name(), header.trailing_separator, header.names.join("|"));
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What parsing a partition file found besides its rows: rejected rows (with the key of their line), and text that
/// looks mis-encoded.
#[derive(Default)]
struct Parsed {
    errors: Vec<RowError>,
    erred_keys: Vec<String>,
    issues: BTreeMap<String, crate::text::TextIssues>,
}

/// A partition file's lines (`N<TAB>KEY<TAB>fields`): line number, key, fields joined by `|` (bytes: the file
/// was written from text, and only the lines parsed or scanned need to be read as text again). Lines are found with
/// `memchr` (a line of the national extract is 300 bytes; pass B reads 700 MB of them twice).
fn spilled_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> {
    let mut rest = text;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or(&[]);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(tab) = memchr::memchr(b'\t', line) else { continue };
            let (n, tail) = (&line[..tab], &line[tab + 1..]);
            let Some(tab) = memchr::memchr(b'\t', tail) else { continue };
            return Some((n, &tail[..tab], &tail[tab + 1..]));
        }
        None
    })
}

/// Parse the lines of a partition file that `wanted` accepts (`wanted[i]` for its `i`-th line), with a row parser,
/// as they are read: the rows go straight to the grouper, and what is not a row to `out`. Every line is scanned for
/// mis-encoded text (fields are split only when the line has a byte that could start an issue).
///
/// Rows are not collected first: a row is 1.5 KB, and a partition's vector of them took 25 MB of fresh pages, each
/// zeroed by the kernel, then every row was copied out of it again.
fn parse_part<'a, T>(
    text: &'a [u8],
    name: &'a str,
    header: &'a Header,
    wanted: impl Iterator<Item = bool> + 'a,
    parse: impl Fn(&Fields<'_>) -> std::result::Result<T, crate::parse::RowIssue> + 'a,
    out: &'a mut Parsed,
) -> impl Iterator<Item = T> + 'a {
    // Fields are borrowed from the line: one buffer of their ends for every line.
    let mut ends = crate::parse::Ends::default();
    spilled_lines(text).zip(wanted.chain(std::iter::repeat(true))).filter_map(move |((n, key, body), wanted)| {
        let suspect = crate::text::may_have_issues(body);
        if !suspect && !wanted {
            return None;
        }
        let line: u64 = std::str::from_utf8(n).ok().and_then(|n| n.parse().ok()).unwrap_or(0);
        // Written as text by pass A, so valid UTF-8 unless the file was damaged on disk (then read lossily).
        let body = match simdutf8::basic::from_utf8(body) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(body),
        };
        if suspect {
            let fields: Vec<&str> = body.split('|').collect();
            crate::text::scan_line(name, line, header, &fields, &mut out.issues);
        }
        if !wanted {
            return None;
        }
        match parse(&ends.line(&body, header, line)) {
            Ok(r) => Some(r),
            Err(issue) => {
                out.erred_keys.push(String::from_utf8_lossy(key).into_owned());
                out.errors.push(locate(name, line, header, issue));
                None
            }
        }
    })
}

thread_local! {
    /// A pass-B worker's buffers for the partition files it reads (one per member, in order), kept from one
    /// partition to the next: read afresh, a national load's 64 partitions took about 900 MB of new pages, each
    /// faulted in and zeroed by the kernel before the file's bytes were copied over it.
    static READ_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Drop this thread's read buffers (`READ_BUFFERS`), at the end of a pass B.
pub(crate) fn release_read_buffers() {
    READ_BUFFERS.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
}

/// The largest partition file buffer a worker keeps for the next partition (a national partition's largest file is
/// about 10 MB).
const KEEP_READ_BUFFER: usize = 64 << 20;

/// A partition's persons: each key and the hash of its lines.
type PersonHashes<'t> = Vec<(&'t [u8], crate::facts::RawHash)>;
/// Lines of a person: each line's file (an index), line number and body.
type NumberedLines<'t> = Vec<(usize, u64, &'t [u8])>;

/// Each person's [`crate::facts::RawHash`] over the partition's `files` (each its tag and text), with, for each file,
/// the person of each of its lines (an index in the keys), so that the parse reads them in the same order without
/// looking keys up again. A person is found once per line, by hash (foldhash: keys come from the extract, so seeded per
/// process, and several times faster than SipHash).
///
/// A person's lines are hashed in the order of their line numbers in each file. Pass A's workers append their chunks
/// to a partition in the order they finish them, so a person whose lines fell in two chunks can find them the other
/// way round (7 persons of 1.7 million in a national load): the hash of such a person is made again from their lines
/// sorted by line number, so that it is the same from one load to the next.
fn hash_persons<'t>(files: &[(u64, &'t [u8])]) -> (PersonHashes<'t>, Vec<Vec<u32>>) {
    let mut index: foldhash::HashMap<&[u8], u32> = foldhash::HashMap::default();
    let mut keys: Vec<(&[u8], crate::facts::RawHash)> = Vec::new();
    let mut persons_of_lines: Vec<Vec<u32>> = Vec::with_capacity(files.len());
    // Each person's last line number in the current file, and whether a line came before one it follows.
    let mut last: Vec<u64> = Vec::new();
    let mut unordered: Vec<u32> = Vec::new();
    let number = |n: &[u8]| std::str::from_utf8(n).ok().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    for (tag, text) in files {
        last.iter_mut().for_each(|l| *l = 0);
        let mut of_lines = Vec::with_capacity(text.len() / 256);
        for (n, key, body) in spilled_lines(text) {
            let i = *index.entry(key).or_insert_with(|| {
                keys.push((key, crate::facts::RawHash::default()));
                last.push(0);
                (keys.len() - 1) as u32
            });
            if let Some((_, hash)) = keys.get_mut(i as usize) {
                hash.line(*tag, body);
            }
            let n = number(n);
            if let Some(l) = last.get_mut(i as usize) {
                if n < *l {
                    unordered.push(i);
                }
                *l = n;
            }
            of_lines.push(i);
        }
        persons_of_lines.push(of_lines);
    }
    if !unordered.is_empty() {
        unordered.sort_unstable();
        unordered.dedup();
        let mut lines: foldhash::HashMap<u32, NumberedLines<'_>> = unordered.iter().map(|&i| (i, Vec::new())).collect();
        for (f, ((_, text), of_lines)) in files.iter().zip(&persons_of_lines).enumerate() {
            for ((n, _, body), i) in spilled_lines(text).zip(of_lines) {
                if let Some(v) = lines.get_mut(i) {
                    v.push((f, number(n), body));
                }
            }
        }
        for (i, mut v) in lines {
            v.sort_by_key(|&(f, n, _)| (f, n));
            let mut hash = crate::facts::RawHash::default();
            for (f, _, body) in v {
                hash.line(files[f].0, body);
            }
            if let Some((_, h)) = keys.get_mut(i as usize) {
                *h = hash;
            }
        }
    }
    (keys, persons_of_lines)
}

impl Partitioned {
    /// Pass B for one partition: its persons, grouped and canonical, each person's counters in its facts.
    pub fn process(&self, p: usize) -> Result<Part> {
        self.process_skipping(p, &|_, _| false, None)
    }

    /// Pass B for one partition, parsing only the persons `skip` does not take as known: `skip(key, raw)` is asked
    /// once per person (its key and the [`crate::facts::RawHash`] of its lines); a person it says yes to is not
    /// parsed and is listed in [`Part::skipped`]. Lines without a key are always parsed. `each` is called with every
    /// person grouped, by the thread that grouped it, while the person is in that core's cache ([`Part::stored`]).
    pub fn process_skipping(&self, p: usize, skip: &(dyn Fn(&str, u128) -> bool + Sync), each: Each) -> Result<Part> {
        let mut buffers = READ_BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()));
        buffers.resize_with(self.members.len(), Vec::new);
        let mut texts = Vec::with_capacity(self.members.len());
        for ((kind, name, header), mut text) in self.members.iter().zip(buffers) {
            let path = self.dir.path().join(format!("{}-{p:02}", kind.name()));
            text.clear();
            match File::open(&path).and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut text)) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            texts.push((*kind, name.as_str(), header, text));
        }
        // Each person's lines hashed in file order, files in the order they are read; then whether to parse them.
        let files: Vec<(u64, &[u8])> =
            texts.iter().map(|(kind, _, header, text)| (file_tag(*kind, header), &text[..])).collect();
        let (keys, persons_of_lines) = hash_persons(&files);
        let mut skipped = Vec::new();
        let skip_it: Vec<bool> = keys
            .iter()
            .map(|(key, hash)| match std::str::from_utf8(key) {
                Ok(k) if !k.is_empty() && skip(k, hash.0) => {
                    skipped.push(k.to_string());
                    true
                }
                _ => false,
            })
            .collect();
        skipped.sort_unstable();
        let raw: foldhash::HashMap<&[u8], u128> =
            keys.iter().zip(&skip_it).filter(|(_, s)| !**s).map(|((k, h), _)| (*k, h.0)).collect();
        let mut g = Grouper::with_capacity(keys.len().saturating_sub(skipped.len()));
        let mut erred: HashSet<String> = HashSet::new();
        for ((kind, name, header, text), of_lines) in texts.iter().zip(&persons_of_lines) {
            let wanted = of_lines.iter().map(|&i| !skip_it.get(i as usize).copied().unwrap_or(false));
            macro_rules! fold {
                ($cols:ident, $parse:ident, $group:ident) => {{
                    let c = $cols::resolve(header);
                    let mut parsed = Parsed::default();
                    g.$group(parse_part(text, name, header, wanted, |f| $parse(&c, f), &mut parsed));
                    erred.extend(parsed.erred_keys);
                    g.errors(parsed.errors);
                    g.text_issues(parsed.issues);
                }};
            }
            match kind {
                FileKind::PersonneActivite | FileKind::PscPersonneActivite => {
                    fold!(PaCols, parse_pa, personne_activite)
                }
                FileKind::SavoirFaire => fold!(SfCols, parse_sf, savoir_faire),
                FileKind::DiplAutExerc => fold!(DiplCols, parse_dipl, diplomas),
                FileKind::Cards => fold!(CardCols, parse_card, cards),
                FileKind::Mailboxes => fold!(MbCols, parse_mailbox, mailboxes),
            }
        }
        let (grouped, stored) = match each {
            Some(each) => g.finish_with(|p| each(&p)),
            None => (g.finish_grouped(), Vec::new()),
        };
        let stored = stored.into_iter().collect::<Result<_>>()?;
        let raw_of = |id: &annuaire_schemas::IdNat| {
            let id = id.as_str();
            if erred.contains(id) || grouped.tainted.contains(id) { None } else { raw.get(id.as_bytes()).copied() }
        };
        let raws = grouped.idnats.iter().map(raw_of).collect();
        // What borrows the files' bytes goes first; then the buffers are kept for the next partition.
        drop((raw, keys, persons_of_lines));
        let kept: Vec<Vec<u8>> =
            texts.into_iter().map(|(.., b)| if b.capacity() <= KEEP_READ_BUFFER { b } else { Vec::new() }).collect();
        READ_BUFFERS.with(|b| *b.borrow_mut() = kept);
        Ok(Part {
            raw: raws,
            stored,
            skipped,
            persons: grouped.persons,
            idnats: grouped.idnats,
            facts: grouped.facts,
            tainted: grouped.tainted,
            stats: grouped.stats,
        })
    }

    /// The report of pass A, before any partition is processed.
    pub fn report(&self) -> ParseReport {
        ParseReport {
            files: self.files.clone(),
            rows_read: self.files.iter().map(|f| f.rows).sum(),
            rows_rejected: self.errors.errors_by_kind.values().sum(),
            persons_with_errors: self.tainted.len() as u64,
            group: self.errors.clone(),
            ..ParseReport::default()
        }
    }
}

/// Read every file of a source into memory (both passes, all partitions). For tests and small extracts;
/// the sync processes partitions one wave at a time instead.
pub fn read_extract(source: &Source, on_bytes: &(dyn Fn(&str, u64) + Sync)) -> Result<Extract> {
    let parted = partition(source, &std::env::temp_dir(), on_bytes)?;
    let mut report = parted.report();
    let parts: Vec<Part> = (0..PARTITIONS).into_par_iter().map(|p| parted.process(p)).collect::<Result<_>>()?;
    let mut persons = Vec::new();
    let mut tainted = parted.tainted.clone();
    for part in parts {
        for f in &part.facts {
            report.group.add_person(f);
        }
        persons.extend(part.persons);
        tainted.extend(part.tainted);
        report.group.merge(part.stats);
    }
    persons.par_sort_unstable_by(|a, b| a.idnat.cmp(&b.idnat));
    report.persons = persons.len() as u64;
    report.persons_with_errors = tainted.len() as u64;
    report.rows_rejected = report.group.errors_by_kind.values().sum();
    Ok(Extract { persons, tainted, report })
}

#[cfg(test)]
mod tests;
