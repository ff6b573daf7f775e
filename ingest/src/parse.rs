//! Reading one `|`-separated file of the extract: in chunks, in parallel, with located errors.
//!
//! The physical format (extract-format.md §2): `|` separator, **no quoting** (a `"` is a literal
//! character), a trailing `|` on every line (header included), LF line endings (CR tolerated), an optional
//! UTF-8 BOM, UTF-8 text (a line that is not UTF-8 is decoded as Windows-1252 and reported).
//!
//! The file is never held in memory whole: a reader thread cuts it into chunks of whole lines, rayon
//! parses chunks in parallel, and each parsed chunk is handed to a sink (the grouper).

use crate::error::{Error, Result};
use crate::layout::{FileKind, Header, HeaderError};
use crate::source::Member;
use rayon::iter::{ParallelBridge, ParallelIterator};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

const CHUNK: usize = 4 << 20;

/// A problem with one line: where it is and what it is. Rejected lines are counted, not fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The file (member name).
    pub file: String,
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// The column, as `column N (name)`, when the problem is in one column.
    pub column: Option<String>,
    /// Stable kind: `too_few_fields`, `too_many_fields`, `missing_id` ...
    pub kind: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    /// The person the line is about, when it could be read.
    #[serde(skip)]
    pub idnat: Option<String>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}", self.file, self.line)?;
        if let Some(c) = &self.column {
            write!(f, ", {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A row problem found by a row parser, before the file and line are known.
#[derive(Debug, Clone)]
pub struct RowIssue {
    /// Field index, when the problem is in one field.
    pub field: Option<usize>,
    /// Stable kind.
    pub kind: &'static str,
    /// What is wrong.
    pub message: String,
    /// The person the line is about, when readable.
    pub idnat: Option<String>,
}

/// The fields of one line, by header name, borrowed from the text they were read from.
///
/// Field `i` is `text[start..ends[i]]`, where `start` is `ends[i - 1] + sep` (0 for the first): `sep` is 1 when `text`
/// is the line as read (fields joined by `|`), 0 when it is a record's fields end to end (a line csv read, or one
/// decoded from Windows-1252). No field is copied to be parsed.
pub struct Fields<'a> {
    text: &'a str,
    ends: &'a [usize],
    sep: usize,
    header: &'a Header,
    line: u64,
}

/// Where the fields of a line end: one buffer, filled again for each line.
#[derive(Default)]
pub(crate) struct Ends(Vec<usize>);

impl Ends {
    /// The fields of `text`, a line as read, split at each `|`. Separators are a few bytes apart: a plain scan beats
    /// memchr's call per match.
    pub(crate) fn line<'a>(&'a mut self, text: &'a str, header: &'a Header, line: u64) -> Fields<'a> {
        self.0.clear();
        self.0.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'|').map(|(i, _)| i));
        self.0.push(text.len());
        Fields { text, ends: &self.0, sep: 1, header, line }
    }

    /// The fields of a record (its fields end to end in one buffer).
    pub(crate) fn record<'a>(&'a mut self, record: &'a csv::StringRecord, header: &'a Header, line: u64) -> Fields<'a> {
        self.0.clear();
        let mut end = 0;
        self.0.extend(record.iter().map(|f| {
            end += f.len();
            end
        }));
        Fields { text: record.as_slice(), ends: &self.0, sep: 0, header, line }
    }
}

impl<'a> Fields<'a> {
    /// The 1-based line number in the file.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// How many fields the line has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the line has no field (never: an empty line has one empty field).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The field at `i`, if the line has that many.
    pub fn field(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before)? + self.sep,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.ends.len()).filter_map(|i| self.field(i))
    }

    /// The line again, fields joined with `|` (as in the file, without its end of line).
    pub fn joined(&self) -> String {
        let mut out = String::with_capacity(self.joined_len());
        self.join_into(&mut out);
        out
    }

    /// The length of [`Fields::joined`].
    pub fn joined_len(&self) -> usize {
        match self.sep {
            1 => self.text.len(),
            _ => self.text.len() + self.ends.len().saturating_sub(1),
        }
    }

    /// Append [`Fields::joined`] to `out` (the line as read when there is one: one copy instead of one per field).
    pub fn join_into(&self, out: &mut String) {
        if self.sep == 1 {
            out.push_str(self.text);
            return;
        }
        for (i, f) in self.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            out.push_str(f);
        }
    }

    /// The value of a column by index (`""` when the column is absent from this file's layout).
    pub fn at(&self, index: Option<usize>) -> &'a str {
        index.and_then(|i| self.field(i)).unwrap_or("")
    }

    /// A hash of the whole line's content ([`Fields::joined`]), to find exact duplicate lines: one pass over the line
    /// as read when there is one.
    pub fn line_hash(&self) -> u64 {
        if self.sep == 1 {
            return xxhash_rust::xxh3::xxh3_64(self.text.as_bytes());
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (i, f) in self.iter().enumerate() {
            if i > 0 {
                h.update(b"|");
            }
            h.update(f.as_bytes());
        }
        h.digest()
    }

    /// The value of a column by name.
    pub fn get(&self, name: &str) -> &'a str {
        self.at(self.header.get(name))
    }
}

/// What was read from one file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileStats {
    /// Member name.
    pub name: String,
    /// `Personne_activite`, `SavoirFaire`, `Dipl_AutExerc`.
    pub kind: String,
    /// `YYYYMMDDhhmm` from the name.
    pub timestamp: Option<String>,
    /// Named columns in the header (52 or 56 for Personne_activite).
    pub columns: usize,
    /// Whether lines end with `|`.
    pub trailing_separator: bool,
    /// Data lines read (header and empty lines excluded).
    pub rows: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Lines that were not UTF-8 and were decoded as Windows-1252.
    pub latin1_lines: u64,
    /// The first such line.
    pub first_latin1_line: Option<u64>,
    /// Whether the file started with a UTF-8 BOM.
    pub bom: bool,
    /// Bytes read (uncompressed).
    pub bytes: u64,
}

struct Chunk {
    /// Whole lines.
    bytes: Vec<u8>,
    first_line: u64,
    /// A line after these ones that ran past the line cap: its number (it is skipped, never held whole).
    too_long: Option<u64>,
}

/// The fields of a line that is not UTF-8, read as Windows-1252.
fn windows_1252<'a>(fields: impl Iterator<Item = &'a [u8]>) -> csv::StringRecord {
    fields.map(|f| encoding_rs::WINDOWS_1252.decode_without_bom_handling(f).0.into_owned()).collect()
}

fn decode_header(raw: &[u8]) -> String {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0.into_owned(),
    }
}

/// Build a located [`RowError`] from an issue.
pub(crate) fn locate(file: &str, line: u64, header: &Header, issue: RowIssue) -> RowError {
    RowError {
        file: file.to_string(),
        line,
        column: issue.field.map(|i| header.describe(i)),
        kind: issue.kind,
        message: issue.message,
        idnat: issue.idnat,
    }
}

/// The row error of a line over the line cap (skipped, never parsed).
fn too_long(file: &str, line: u64, max_line: usize) -> RowError {
    RowError {
        file: file.to_string(),
        line,
        column: None,
        kind: "line_too_long",
        message: format!("the line is longer than {max_line} bytes (--max-line-bytes): skipped"),
        idnat: None,
    }
}

/// Check the number of fields of a line against the header.
fn check_width(fields: &Fields<'_>, idnat_field: Option<usize>) -> Option<RowIssue> {
    let n = fields.len();
    let expected = fields.header.columns;
    let idnat = idnat_field.and_then(|i| fields.field(i)).filter(|s| !s.is_empty()).map(str::to_string);
    if n < expected {
        return Some(RowIssue {
            field: Some(n.saturating_sub(1)),
            kind: "too_few_fields",
            message: format!("expected {expected} fields, found {n} (is a `|` missing, or the line cut?)"),
            idnat,
        });
    }
    if let Some(extra) = (expected..n).find(|&i| fields.field(i).is_some_and(|v| !v.is_empty())) {
        return Some(RowIssue {
            field: Some(extra),
            kind: "too_many_fields",
            message: format!("expected {expected} fields, found {n} with a value after the last column"),
            idnat,
        });
    }
    None
}

/// Read one file: parse its header for `kind`, then every line with `parse_row` in parallel, handing
/// each parsed chunk (rows and errors, in no particular order) to `sink`. `on_bytes` is called with the
/// number of bytes read so far (for progress bars).
pub fn read_file<T, M, P, S>(
    member: &Member,
    make_parser: M,
    sink: S,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<FileStats>
where
    T: Send,
    M: FnOnce(&Header) -> P,
    P: Fn(&Fields<'_>) -> std::result::Result<T, RowIssue> + Sync,
    S: FnMut(Vec<T>, Vec<RowError>) + Send,
{
    member.with_reader(|reader| read_stream(member, reader, make_parser, sink, on_bytes))
}

fn read_stream<T, M, P, S>(
    member: &Member,
    reader: &mut (dyn Read + Send),
    make_parser: M,
    sink: S,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<FileStats>
where
    T: Send,
    M: FnOnce(&Header) -> P,
    P: Fn(&Fields<'_>) -> std::result::Result<T, RowIssue> + Sync,
    S: FnMut(Vec<T>, Vec<RowError>) + Send,
{
    let file = member.name.clone();
    let io_err = |e: std::io::Error| Error::Io { path: file.clone().into(), cause: e };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let max_line = member.limits.max_line_bytes.max(1024);
    let mut first = Vec::new();
    (&mut reader).take(max_line as u64 + 1).read_until(b'\n', &mut first).map_err(io_err)?;
    if first.len() > max_line {
        return Err(Error::Header {
            file: file.clone(),
            message: format!("the header line is longer than {max_line} bytes (--max-line-bytes)"),
        });
    }
    let bom = first.starts_with(b"\xEF\xBB\xBF");
    let header_text = decode_header(&first);
    let header = Header::parse(&header_text, member.kind).map_err(|e| Error::Header {
        file: file.clone(),
        message: match e {
            HeaderError::Empty => "the file is empty".to_string(),
            HeaderError::Missing(cols) => format!("required columns missing: {}", cols.join(", ")),
        },
    })?;
    let idnat_field = header.get(crate::layout::IDNAT);
    let parse_row = make_parser(&header);
    let stats = Mutex::new(FileStats {
        name: file.clone(),
        kind: member.kind.name().to_string(),
        timestamp: member.timestamp.clone(),
        columns: header.columns,
        trailing_separator: header.trailing_separator,
        bom,
        bytes: first.len() as u64,
        ..FileStats::default()
    });
    let sink = Mutex::new(sink);

    let read_result: Result<()> = std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Chunk>(4);
        // The reader cuts the file into chunks of whole lines. Memory is bounded by a chunk plus the line cap: the
        // unfinished line carried from one chunk to the next is at most `max_line` bytes; past that it is skipped up
        // to its end (reported once, by number) and never rescanned, so any input is read in linear time.
        let producer = scope.spawn(move || -> std::io::Result<u64> {
            let mut line = 2u64;
            let mut carry: Vec<u8> = Vec::new();
            let mut total = 0u64;
            let mut skipping = false;
            loop {
                let mut buf = std::mem::take(&mut carry);
                let start = buf.len();
                buf.resize(start + CHUNK, 0);
                let mut filled = start;
                while filled < buf.len() {
                    let n = reader.read(&mut buf[filled..])?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                total += (filled - start) as u64;
                buf.truncate(filled);
                let eof = filled < start + CHUNK;
                if skipping {
                    // Inside a line over the cap (the carry is empty): drop bytes up to its end.
                    match memchr::memchr(b'\n', &buf) {
                        Some(pos) => {
                            buf.drain(..=pos);
                            skipping = false;
                            line += 1;
                        }
                        None if eof => break,
                        None => continue,
                    }
                }
                let mut too_long = None;
                if !eof {
                    // The carry holds no line end: look for the last one in the new bytes only.
                    let from = start.min(buf.len());
                    let cut = memchr::memrchr(b'\n', &buf[from..]).map_or(0, |p| from + p + 1);
                    if buf.len() - cut > max_line {
                        // The unfinished line is already over the cap: report it, skip the rest of it.
                        buf.truncate(cut);
                        skipping = true;
                    } else {
                        carry = buf.split_off(cut);
                    }
                }
                let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
                let first_line = line;
                line += lines;
                if skipping {
                    too_long = Some(line);
                }
                if (!buf.is_empty() || too_long.is_some())
                    && tx.send(Chunk { bytes: buf, first_line, too_long }).is_err()
                {
                    break;
                }
                if eof {
                    break;
                }
            }
            Ok(total)
        });

        let result = rx.into_iter().par_bridge().try_for_each(|chunk| -> Result<()> {
            let (mut rows, mut errors) = (Vec::new(), Vec::new());
            let (mut n_rows, mut latin1, mut first_latin1) = (0u64, 0u64, None::<u64>);
            if let Some(line) = chunk.too_long {
                n_rows += 1;
                errors.push(too_long(&file, line, max_line));
            }
            // What every line read ends in: its width checked, then parsed.
            let finish = |fields: &Fields<'_>, rows: &mut Vec<T>, errors: &mut Vec<RowError>| {
                let line = fields.line;
                if let Some(issue) = check_width(fields, idnat_field) {
                    errors.push(locate(&file, line, &header, issue));
                } else {
                    match parse_row(fields) {
                        Ok(row) => rows.push(row),
                        Err(issue) => errors.push(locate(&file, line, &header, issue)),
                    }
                }
            };
            let nul_byte = |line: u64, field: usize| RowError {
                file: file.clone(),
                line,
                column: Some(header.describe(field)),
                kind: "nul_byte",
                message: "a NUL byte in the value".into(),
                idnat: None,
            };
            // Lines that are not UTF-8, read as Windows-1252: how many, and the first.
            let mut note_latin1 = |line: u64| {
                latin1 += 1;
                first_latin1 = Some(first_latin1.map_or(line, |f: u64| f.min(line)));
            };
            if memchr::memchr(b'\r', &chunk.bytes).is_none() {
                // Lines end with `\n` only (the extract's case): split here, check UTF-8 once per line rather than
                // once per field, and fill one record. What csv does is kept: blank lines are skipped, and a line's
                // number is the one after the previous line read (csv's position, which counts a blank line before a
                // line as that line's). `parse::tests::the_fast_path_reads_as_csv_does` compares both.
                let mut ends = Ends::default();
                let (mut at, mut pos, mut rest) = (chunk.first_line, chunk.first_line, &chunk.bytes[..]);
                while !rest.is_empty() {
                    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                    let l = &rest[..end];
                    rest = rest.get(end + 1..).unwrap_or(&[]);
                    let this = at;
                    at += 1;
                    if l.is_empty() {
                        continue;
                    }
                    let line = pos;
                    pos = this + 1;
                    n_rows += 1;
                    // A line inside one chunk may still be over the cap (a chunk is larger than the cap).
                    if l.len() + 1 > max_line {
                        errors.push(too_long(&file, line, max_line));
                        continue;
                    }
                    // PostgreSQL's text cannot hold a NUL byte, and no real value has one.
                    if let Some(nul) = memchr::memchr(0, l) {
                        errors.push(nul_byte(line, memchr::memchr_iter(b'|', &l[..nul]).count()));
                        continue;
                    }
                    match simdutf8::basic::from_utf8(l) {
                        Ok(text) => finish(&ends.line(text, &header, line), &mut rows, &mut errors),
                        Err(_) => {
                            note_latin1(line);
                            let record = windows_1252(l.split(|b| *b == b'|'));
                            finish(&ends.record(&record, &header, line), &mut rows, &mut errors);
                        }
                    }
                }
            } else {
                let mut rdr = csv::ReaderBuilder::new()
                    .delimiter(b'|')
                    .quoting(false)
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&chunk.bytes[..]);
                let (mut raw, mut ends) = (csv::ByteRecord::new(), Ends::default());
                loop {
                    match rdr.read_byte_record(&mut raw) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            return Err(Error::Header { file: file.clone(), message: format!("unreadable: {e}") });
                        }
                    }
                    let line = chunk.first_line + raw.position().map_or(1, |p| p.line()) - 1;
                    n_rows += 1;
                    let bytes = raw.as_slice().len() + raw.len();
                    if bytes > max_line {
                        errors.push(too_long(&file, line, max_line));
                        continue;
                    }
                    if let Some(field) = raw.iter().position(|f| f.contains(&0)) {
                        errors.push(nul_byte(line, field));
                        continue;
                    }
                    let record = match csv::StringRecord::from_byte_record(std::mem::take(&mut raw)) {
                        Ok(r) => r,
                        Err(e) => {
                            note_latin1(line);
                            windows_1252(e.into_byte_record().iter())
                        }
                    };
                    finish(&ends.record(&record, &header, line), &mut rows, &mut errors);
                    raw = record.into_byte_record();
                }
            }
            {
                let mut s = stats.lock().map_err(|_| Error::Interrupted("a parser thread panicked".into()))?;
                s.rows += n_rows;
                s.rejected += errors.len() as u64;
                s.latin1_lines += latin1;
                if let Some(l) = first_latin1 {
                    s.first_latin1_line = Some(s.first_latin1_line.map_or(l, |f| f.min(l)));
                }
                s.bytes += chunk.bytes.len() as u64;
                on_bytes(s.bytes);
            }
            let mut sink = sink.lock().map_err(|_| Error::Interrupted("a parser thread panicked".into()))?;
            (*sink)(rows, errors);
            Ok(())
        });
        let produced = producer.join().map_err(|_| Error::Interrupted("the reader thread panicked".into()))?;
        result?;
        produced.map_err(|e| Error::Io { path: file.clone().into(), cause: e })?;
        Ok(())
    });
    read_result?;
    stats.into_inner().map_err(|_| Error::Interrupted("a parser thread panicked".into()))
}

/// Read rows from an in-memory file (tests, small inputs).
#[doc(hidden)]
pub fn read_bytes<T, M, P>(
    name: &str,
    kind: FileKind,
    bytes: &[u8],
    make_parser: M,
) -> Result<(Vec<T>, Vec<RowError>, FileStats)>
where
    T: Send,
    M: FnOnce(&Header) -> P,
    P: Fn(&Fields<'_>) -> std::result::Result<T, RowIssue> + Sync,
{
    read_bytes_limited(name, kind, bytes, crate::source::ReadLimits::default(), make_parser)
}

/// [`read_bytes`] within `limits` (tests of the line cap).
#[doc(hidden)]
pub fn read_bytes_limited<T, M, P>(
    name: &str,
    kind: FileKind,
    bytes: &[u8],
    limits: crate::source::ReadLimits,
    make_parser: M,
) -> Result<(Vec<T>, Vec<RowError>, FileStats)>
where
    T: Send,
    M: FnOnce(&Header) -> P,
    P: Fn(&Fields<'_>) -> std::result::Result<T, RowIssue> + Sync,
{
    let mut member = Member::in_memory(kind, name);
    member.limits = limits;
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let stats = read_stream(
        &member,
        &mut &bytes[..],
        make_parser,
        |r, e| {
            rows.extend(r);
            errors.extend(e);
        },
        &|_| {},
    )?;
    errors.sort_by_key(|e: &RowError| e.line);
    Ok((rows, errors, stats))
}

#[cfg(test)]
mod tests;
