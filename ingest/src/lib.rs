//! The ingest: from a PS_LibreAcces extract on disk to a promoted generation in the store.
//!
//! Data flow: [`source`] finds the files (zip, folder) → [`parse`] reads each in parallel chunks with
//! located errors, columns mapped by [`layout`] → [`group`] folds rows into canonical person records →
//! [`run`] hashes records, diffs them against the served generation, applies the safety gate, writes the
//! new generation and promotes it.
//!
//! **Architecture invariant:** this crate knows files and the store's API; it knows nothing of HTTP,
//! claims or search. A failed run never changes what is served.

pub mod datagouv;
mod diff;
pub mod error;
pub mod extract;
pub mod facts;
pub mod fetch;
pub mod group;
pub mod layout;
mod live;
mod obtain;
mod options;
pub mod parse;
mod partition;
pub mod quality;
mod rows;
pub mod run;
pub mod source;
mod stages;
pub mod text;

pub use error::{Error, Result};

/// Progress callback: `(phase, done, total)`; phases are `download` and `read <file>` (bytes) and `write` (persons).
pub type ProgressFn = std::sync::Arc<dyn Fn(&str, u64, u64) + Send + Sync>;
pub use extract::{Extract, ParseReport, read_extract};
pub use run::{Origin, RunOptions, RunOutcome, approve, run_once};
pub use source::Source;
