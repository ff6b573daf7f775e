//! Stage 1's one source: a URL downloaded with conditional GET (or its previous download when it has no new file),
//! or a path taken as it is.

use crate::error::{Error, Result};
use crate::options::{Origin, RunOptions};
use annuaire_store::Store;
use std::path::PathBuf;

/// A source made ready to read.
pub(crate) struct Obtained {
    /// The file or folder to read; `None` for a URL without a new file and without a previous download.
    pub(crate) path: Option<PathBuf>,
    /// The URL or path, for messages.
    pub(crate) origin: String,
    /// What to record once its extract is ingested (a URL just downloaded).
    pub(crate) state: Option<annuaire_store::DownloadState>,
    /// A URL that had no new file (HTTP 304 or 503): `path` is its previous download.
    pub(crate) unchanged: Option<u16>,
}

/// Download a URL (conditional GET from what was last ingested from it) or take a path as it is. A URL without a
/// new file gives its previous download, so that a run reading several extracts can still read it; when that file
/// is gone, the URL is fetched again without validators.
pub(crate) async fn obtain(store: &Store, opts: &RunOptions, origin: &Origin) -> Result<Obtained> {
    let url = match origin {
        Origin::Path(p) => {
            return Ok(Obtained {
                path: Some(p.clone()),
                origin: p.display().to_string(),
                state: None,
                unchanged: None,
            });
        }
        Origin::Url(url) => url,
        Origin::DataGouv(id) => {
            return Err(Error::Source {
                path: PathBuf::from(format!("datagouv:{id}")),
                message: "a data.gouv.fr dataset is resolved into its resources first".into(),
            });
        }
    };
    let dir = opts.downloads_dir.clone().unwrap_or_else(|| store.data_dir().join("downloads"));
    let state = if opts.force { None } else { store.download_state(url).await? };
    let previous = state.as_ref().and_then(|s| s.file_name.as_ref()).map(|n| dir.join(n)).filter(|p| p.is_file());
    let validators = match (&state, &previous) {
        (Some(s), Some(_)) => crate::fetch::Validators { etag: s.etag.clone(), last_modified: s.last_modified.clone() },
        _ => crate::fetch::Validators::default(),
    };
    match crate::fetch::fetch(url, &dir, &validators, &opts.fetch, opts.progress.as_ref()).await? {
        crate::fetch::Fetched::NoNewExtract { status } => {
            Ok(Obtained { path: previous, origin: url.clone(), state: None, unchanged: Some(status) })
        }
        crate::fetch::Fetched::File { path, file_name, sha256, bytes, etag, last_modified } => Ok(Obtained {
            path: Some(path),
            origin: url.clone(),
            state: Some(annuaire_store::DownloadState {
                url: url.clone(),
                etag,
                last_modified,
                file_name: Some(file_name),
                sha256,
                bytes: bytes as i64,
            }),
            unchanged: None,
        }),
    }
}
