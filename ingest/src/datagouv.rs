//! The data.gouv.fr source (`--source datagouv[:DATASET_ID]`): ANS publishes the public extracts there every day,
//! unzipped, under lower-case names (`ps-libreacces-personne-activite.txt`, `ps-libreacces-savoirfaire.txt`,
//! `ps-libreacces-dipl-autexerc.txt`, `porteurs-cps-cpf.txt`, `extraction-correspondance-mssante.txt`), each at a URL
//! whose timestamp folder changes every day (`…/resources/<slug>/20260217-084840/ps-libreacces-personne-activite.txt`),
//! so a fixed URL breaks the next day (`../shared/domain/extract-format.md` §1, "data.gouv.fr mirror").
//!
//! The dataset is read from data.gouv.fr's API (udata): `GET {api}/datasets/{id}/` answers the dataset with its
//! `resources`, each with (udata `udata/core/dataset/api_fields.py`, `resource_fields` and `checksum_fields`):
//! - `url`: where the file is (its last path segment names the kind of extract);
//! - `title`;
//! - `last_modified` (ISO 8601): which of two resources of one kind is the newest;
//! - `checksum`: `{"type": "sha1" | "sha2" | "sha256" | "md5" | "crc", "value"}` or null;
//! - `filesize`: bytes, or null.
//!
//! The newest resource of each kind is downloaded like any URL (conditional GET from what was last ingested, resume),
//! and a new file's published checksum is checked (sha256 and sha1; other kinds are recorded, not checked).

use crate::error::{Error, Result};
use crate::layout::FileKind;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::Path;

/// The dataset ANS publishes the PS_LibreAcces extracts in (issue 16).
pub const DEFAULT_DATASET: &str = "69025e6c73d1f9b79ca3c365";
/// data.gouv.fr's API.
pub const DEFAULT_API: &str = "https://www.data.gouv.fr/api/1";
/// The largest dataset description read.
pub const MAX_DATASET_BYTES: usize = 8 << 20;

/// A resource as the API gives it (only the fields read here).
#[derive(Debug, Clone, Deserialize)]
struct ApiResource {
    #[serde(default)]
    title: Option<String>,
    url: String,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    checksum: Option<ApiChecksum>,
    #[serde(default)]
    filesize: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct ApiChecksum {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    value: String,
}

#[derive(Debug, Deserialize)]
struct ApiDataset {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

/// A resource chosen to be read: the newest of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// The kind of extract (`Personne_activite`, `SavoirFaire`, …).
    pub kind: String,
    /// Its URL.
    pub url: String,
    /// Its title on data.gouv.fr.
    pub title: String,
    /// When data.gouv.fr says it last changed.
    pub last_modified: String,
    /// The published checksum: `type:value`.
    pub checksum: Option<String>,
    /// The published size.
    pub filesize: Option<i64>,
}

/// The kind of extract a resource URL holds, from its last path segment.
fn kind_of(url: &str) -> Option<FileKind> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    FileKind::from_file_name(path.rsplit('/').next().unwrap_or(path))
}

/// The newest resource of each known kind of the dataset's description `json`, main extract first.
pub fn choose(json: &[u8]) -> Result<Vec<Resource>> {
    let dataset: ApiDataset = serde_json::from_slice(json)
        .map_err(|e| Error::Download { url: "data.gouv.fr".into(), message: format!("not a dataset: {e}") })?;
    let mut newest: Vec<(FileKind, ApiResource)> = Vec::new();
    for r in dataset.resources {
        let Some(kind) = kind_of(&r.url) else { continue };
        let when = |r: &ApiResource| r.last_modified.clone().or_else(|| r.created_at.clone()).unwrap_or_default();
        match newest.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, best)) if when(&r) > when(best) => *best = r,
            Some(_) => {}
            None => newest.push((kind, r)),
        }
    }
    newest.sort_by_key(|(k, _)| (!k.is_main(), *k));
    if !newest.first().is_some_and(|(k, _)| k.is_main()) {
        return Err(Error::Download {
            url: "data.gouv.fr".into(),
            message: "the dataset has no ps-libreacces-personne-activite resource".into(),
        });
    }
    Ok(newest
        .into_iter()
        .map(|(kind, r)| Resource {
            kind: kind.name().to_string(),
            last_modified: r.last_modified.or(r.created_at).unwrap_or_default(),
            title: r.title.unwrap_or_default(),
            checksum: r.checksum.map(|c| format!("{}:{}", c.kind.unwrap_or_else(|| "sha1".into()), c.value)),
            filesize: r.filesize,
            url: r.url,
        })
        .collect())
}

/// Read the dataset's description from the API and choose its resources.
pub async fn resolve(api: &str, dataset: &str, opts: &crate::fetch::FetchOptions) -> Result<Vec<Resource>> {
    let url = format!("{}/datasets/{dataset}/", api.trim_end_matches('/'));
    let err = |message: String| Error::Download { url: url.clone(), message };
    let parsed = reqwest::Url::parse(&url).map_err(|e| err(format!("not a URL: {e}")))?;
    if let Some(problem) = crate::fetch::url_problem(&parsed, opts.allow_http) {
        return Err(err(problem));
    }
    let client = crate::fetch::client(opts)?;
    let mut last = String::new();
    for attempt in 0..=opts.retries {
        if attempt > 0 {
            tokio::time::sleep(opts.backoff * 2u32.saturating_pow(attempt - 1)).await;
        }
        let mut resp = match client.get(url.as_str()).header("accept", "application/json").send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                last = format!("HTTP {}", r.status());
                continue;
            }
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > MAX_DATASET_BYTES {
                        return Err(err(format!("the dataset's description is larger than {MAX_DATASET_BYTES} bytes")));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => return choose(&body),
                Err(e) => {
                    last = e.to_string();
                    break;
                }
            }
        }
    }
    Err(err(format!("cannot read the dataset after {} attempts: {last}", opts.retries + 1)))
}

/// Check a downloaded file against its published checksum (`type:value`); `Ok(false)` when the type is not one
/// checked here.
pub fn check(path: &Path, sha256: &str, checksum: &str) -> Result<bool> {
    let (kind, value) = checksum.split_once(':').unwrap_or(("sha1", checksum));
    let value = value.trim().to_ascii_lowercase();
    let got = match kind {
        "sha256" | "sha2" => sha256.to_string(),
        "sha1" => {
            let mut h = sha1::Sha1::new();
            let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        _ => return Ok(false),
    };
    if got != value {
        return Err(Error::Source {
            path: path.to_path_buf(),
            message: format!("{kind} is {got}, data.gouv.fr publishes {value}: the download is not the published file"),
        });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_resource_of_each_kind_is_chosen_main_first() -> Result<()> {
        let json = br#"{"id": "x", "resources": [
            {"title": "MSSante", "url": "https://static.example/r/20261127-080000/extraction-correspondance-mssante.txt",
             "last_modified": "2026-11-27T08:00:00+00:00", "checksum": null},
            {"title": "old", "url": "https://static.example/r/20261127-080000/ps-libreacces-personne-activite.txt",
             "last_modified": "2026-11-27T08:00:00+00:00"},
            {"title": "new", "url": "https://static.example/r/20261128-080000/ps-libreacces-personne-activite.txt",
             "last_modified": "2026-11-28T08:00:00+00:00", "checksum": {"type": "sha256", "value": "AB"}, "filesize": 12},
            {"title": "doc", "url": "https://static.example/r/notice.pdf", "last_modified": "2026-11-29T08:00:00+00:00"}
        ]}"#;
        let r = choose(json)?;
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].title.as_str(), r[0].checksum.as_deref()), ("new", Some("sha256:AB")));
        assert_eq!(r[1].kind, FileKind::Mailboxes.name());
        assert!(choose(br#"{"resources": []}"#).is_err(), "no main extract");
        assert!(choose(b"<html>").is_err());
        Ok(())
    }
}
