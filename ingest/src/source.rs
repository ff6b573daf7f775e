//! Where an extract comes from: a PS_LibreAcces zip, a folder holding its `.txt` files (as unzipped, or as
//! mirrored on data.gouv.fr), or a single Personne_activite `.txt` file. Members are found by name prefix,
//! never by position in the zip.

use crate::error::{Error, Result};
use crate::layout::{FileKind, file_timestamp};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// What one file of an extract may be: past these bounds a line is a located row error, and a member that inflates
/// too much stops the run with a message naming it. Read in bounded memory and linear time, whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest line, header included, in bytes (a real line is under 2 KB). A longer data line is skipped and
    /// counted as `line_too_long`; a longer header refuses the file.
    pub max_line_bytes: usize,
    /// Most bytes an archive member may inflate to.
    pub max_member_bytes: u64,
    /// Most an archive member may inflate relative to its compressed size (a real extract compresses about 8×);
    /// members under [`MIN_RATIO_CAP`] are not judged by their ratio.
    pub max_inflate_ratio: u64,
}

/// Below this many inflated bytes the ratio cap does not apply (small, very regular files compress far better).
pub const MIN_RATIO_CAP: u64 = 64 << 20;

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits { max_line_bytes: 64 * 1024, max_member_bytes: 16 << 30, max_inflate_ratio: 100 }
    }
}

impl ReadLimits {
    /// What a member of `compressed` bytes may inflate to.
    pub fn inflate_cap(&self, compressed: u64) -> u64 {
        self.max_member_bytes.min(compressed.saturating_mul(self.max_inflate_ratio).max(MIN_RATIO_CAP))
    }
}

/// One file of the extract.
#[derive(Debug, Clone)]
pub struct Member {
    /// What it is.
    pub kind: FileKind,
    /// Its name (zip member name or file name).
    pub name: String,
    /// The `YYYYMMDDhhmm` timestamp in its name, when there is one.
    pub timestamp: Option<String>,
    /// Uncompressed size in bytes (for progress).
    pub size: u64,
    /// Its bounds.
    pub limits: ReadLimits,
    location: Location,
}

#[derive(Debug, Clone)]
enum Location {
    Zip { archive: PathBuf, index: usize },
    File(PathBuf),
}

/// An opened source: its members and the sha256 of what was read.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path given.
    pub path: PathBuf,
    /// The files found, main file first.
    pub members: Vec<Member>,
    /// sha256 of the zip, or of the files' bytes in name order for a folder.
    pub sha256: String,
    /// Size in bytes of what was hashed.
    pub bytes: u64,
}

fn sha256_file(path: &Path, hasher: &mut Sha256) -> Result<u64> {
    let mut f = BufReader::with_capacity(1 << 20, File::open(path).map_err(|e| Error::io(path, e))?);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

impl Source {
    /// Open the main source and the other extracts given beside it (`Porteurs_CPS_CPF`, MSSanté: each a zip, a
    /// folder or a `.txt` file, recognised by name). The fingerprint covers every file, so a change in any
    /// extract makes a new generation; the report lists every file by name (with its timestamp).
    pub fn open_with(path: &Path, extras: &[PathBuf]) -> Result<Source> {
        Source::open_limited(path, extras, ReadLimits::default())
    }

    /// [`Source::open_with`], with the bounds every member is read within.
    pub fn open_limited(path: &Path, extras: &[PathBuf], limits: ReadLimits) -> Result<Source> {
        let mut source = Source::scan(path)?;
        source.validate()?;
        let mut source = Source::add_extras(source, extras)?;
        for m in &mut source.members {
            m.limits = limits;
        }
        Ok(source)
    }

    fn add_extras(mut source: Source, extras: &[PathBuf]) -> Result<Source> {
        if extras.is_empty() {
            return Ok(source);
        }
        let mut hasher = Sha256::new();
        hasher.update(source.sha256.as_bytes());
        for extra in extras {
            let other = Source::scan(extra)?;
            if other.members.is_empty() {
                return Err(Error::Source {
                    path: extra.clone(),
                    message: "no extract recognised (names start with Porteurs_CPS_CPF, \
                              Extraction_Correspondance_MSSante or PS_LibreAcces_)"
                        .into(),
                });
            }
            hasher.update(other.sha256.as_bytes());
            source.bytes += other.bytes;
            source.members.extend(other.members);
        }
        source.sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        source.validate()?;
        Ok(source)
    }

    /// Open a zip, a folder or a `.txt` file and find the extract's files in it.
    pub fn open(path: &Path) -> Result<Source> {
        let mut source = Source::scan(path)?;
        source.validate()?;
        Ok(source)
    }

    /// The recognised files of a zip, a folder or a `.txt` file (a `.txt` of unknown name counts as
    /// Personne_activite).
    fn scan(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0;
        let mut members = Vec::new();
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for p in entries {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if let Some(kind) = FileKind::from_file_name(&name) {
                    let size = sha256_file(&p, &mut hasher)?;
                    bytes += size;
                    members.push(Member {
                        kind,
                        timestamp: file_timestamp(&name),
                        name,
                        size,
                        limits: ReadLimits::default(),
                        location: Location::File(p),
                    });
                }
            }
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
            bytes = sha256_file(path, &mut hasher)?;
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::zip(path, e))?;
            for index in 0..archive.len() {
                let Some(Ok(name)) = archive.name_for_index(index).map(|n| n.map(|n| n.into_owned())) else { continue };
                if let Some(kind) = FileKind::from_file_name(&name) {
                    let size = archive.by_index_raw(index).map(|f| f.size()).unwrap_or(0);
                    members.push(Member {
                        kind,
                        timestamp: file_timestamp(&name),
                        size,
                        name,
                        limits: ReadLimits::default(),
                        location: Location::Zip { archive: path.to_path_buf(), index },
                    });
                }
            }
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let kind = FileKind::from_file_name(&name).unwrap_or(FileKind::PersonneActivite);
            bytes = sha256_file(path, &mut hasher)?;
            members.push(Member {
                kind,
                timestamp: file_timestamp(&name),
                name,
                size: bytes,
                limits: ReadLimits::default(),
                location: Location::File(path.to_path_buf()),
            });
        }
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Source { path: path.to_path_buf(), members, sha256, bytes })
    }

    /// One file of each kind at most, and a Personne_activite file.
    fn validate(&mut self) -> Result<()> {
        self.members.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        for kind in FileKind::ALL {
            if self.members.iter().filter(|m| m.kind == kind).count() > 1 {
                return Err(Error::Source {
                    path: self.path.clone(),
                    message: format!("more than one {} file", kind.name()),
                });
            }
        }
        match self.members.iter().filter(|m| m.kind.is_main()).count() {
            0 => {
                return Err(Error::Source {
                    path: self.path.clone(),
                    message: "no PS_LibreAcces_Personne_activite file found (looked for names starting with \
                              PS_LibreAcces_Personne_activite, ps-libreacces-personne-activite or \
                              Extraction_ProSanteConnect)"
                        .into(),
                });
            }
            1 => {}
            _ => {
                return Err(Error::Source {
                    path: self.path.clone(),
                    message: "both a PS_LibreAcces_Personne_activite and an Extraction_ProSanteConnect file: give one \
                              main file (the restricted one replaces the public one)"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// The main file: Personne_activite, or the restricted Extraction_ProSanteConnect file that replaces it.
    pub fn main(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.kind.is_main())
    }

    /// The member of a kind, if present.
    pub fn member(&self, kind: FileKind) -> Option<&Member> {
        self.members.iter().find(|m| m.kind == kind)
    }
}

impl Member {
    /// A member that is not read from disk (for [`crate::parse::read_bytes`]).
    pub(crate) fn in_memory(kind: FileKind, name: &str) -> Member {
        Member {
            kind,
            name: name.to_string(),
            timestamp: file_timestamp(name),
            size: 0,
            limits: ReadLimits::default(),
            location: Location::File(PathBuf::new()),
        }
    }

    /// Stream the member's bytes (inflating a zip member on the fly).
    pub fn with_reader<T>(&self, f: impl FnOnce(&mut (dyn Read + Send)) -> Result<T>) -> Result<T> {
        match &self.location {
            Location::File(p) => {
                let mut r = BufReader::with_capacity(1 << 20, File::open(p).map_err(|e| Error::io(p, e))?);
                f(&mut r)
            }
            Location::Zip { archive, index } => {
                let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
                let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::zip(archive, e))?;
                let entry = zip.by_index(*index).map_err(|e| Error::zip(archive, e))?;
                let cap = self.limits.inflate_cap(entry.compressed_size());
                let mut capped = Capped { inner: entry, read: 0, cap, member: self.name.clone() };
                f(&mut capped)
            }
        }
    }
}

/// An archive member's reader that fails once more than `cap` bytes came out of it: a member that inflates past
/// its bound (a zip bomb, or a broken upstream) stops the run after `cap` bytes, never after all of them.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    member: String,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(std::io::Error::other(format!(
                "archive member {} inflates past {} MiB (the lower of --max-inflate-mib and --max-inflate-ratio times \
                 its compressed size): refused",
                self.member,
                self.cap >> 20
            )));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_may_inflate_to_the_lower_of_its_two_caps() {
        let l = ReadLimits { max_line_bytes: 1024, max_member_bytes: 1 << 30, max_inflate_ratio: 100 };
        // A 1 MB zip that claims a 1 GiB member is stopped at 100 MB.
        assert_eq!(l.inflate_cap(1_000_000), 100_000_000);
        // Small members are not judged by their ratio (a tiny, regular file compresses far better).
        assert_eq!(l.inflate_cap(1_000), MIN_RATIO_CAP);
        // The absolute cap holds whatever the compressed size.
        assert_eq!(l.inflate_cap(100 << 20), 1 << 30);
        assert_eq!(l.inflate_cap(u64::MAX), 1 << 30);
    }

    #[test]
    fn a_capped_reader_fails_past_its_cap_and_names_the_member() {
        let data = vec![b'a'; 10_000];
        let mut r = Capped { inner: &data[..], read: 0, cap: 4096, member: "PS_LibreAcces_x.txt".into() };
        let mut out = Vec::new();
        let err = std::io::copy(&mut r, &mut out).expect_err("over the cap");
        assert!(err.to_string().contains("PS_LibreAcces_x.txt"), "{err}");
        assert!(out.len() <= 4096 + 8192, "stopped soon after the cap, read {}", out.len());
    }
}
