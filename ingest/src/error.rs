//! Errors of the ingest. Every error names the file it is about; row-level problems are not errors but
//! [`crate::parse::RowError`]s, counted in the report, that fail the run only past a threshold.

use std::path::{Path, PathBuf};

/// Result with the ingest's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop an ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed. (The cause is in the message, not chained as a source, so that `{:#}` says it once.)
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The zip could not be read.
    #[error("{}: not a readable zip: {cause}", path.display())]
    Zip {
        /// The zip.
        path: PathBuf,
        /// The cause.
        cause: zip::result::ZipError,
    },
    /// The source does not hold a usable extract.
    #[error("{}: {message}", path.display())]
    Source {
        /// The source given.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file's header cannot be used.
    #[error("{file}: line 1: unusable header: {message}")]
    Header {
        /// The file (member name).
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Too many rows were rejected.
    #[error("{rejected} of {rows} rows rejected ({rate:.2} %, above the {threshold:.2} % threshold); first: {first}")]
    TooManyErrors {
        /// Rejected rows.
        rejected: u64,
        /// Rows read.
        rows: u64,
        /// Rejected share in percent.
        rate: f64,
        /// Threshold in percent.
        threshold: f64,
        /// The first error, with file, line and column.
        first: String,
    },
    /// A download failed (after its retries).
    #[error("{url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] annuaire_store::Error),
    /// Serialising a record failed (a bug).
    #[error("cannot serialise a record: {0}")]
    Json(#[from] serde_json::Error),
    /// The ingest was stopped on purpose (tests inject this to prove nothing half-done is served).
    #[error("ingest interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), cause: source }
    }

    pub(crate) fn zip(path: &Path, source: zip::result::ZipError) -> Error {
        Error::Zip { path: path.to_path_buf(), cause: source }
    }
}
