//! What a run is given: where the extract comes from ([`Origin`]) and how the run behaves ([`RunOptions`]).

use crate::diff::DEFAULT_GATE_FLOOR;
use std::path::PathBuf;

pub use crate::ProgressFn;

/// Where an extract comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A zip, a folder or a `.txt` file on disk.
    Path(PathBuf),
    /// An http(s) URL, downloaded with [`crate::fetch`].
    Url(String),
    /// A data.gouv.fr dataset: the newest resource of each kind of extract ([`crate::datagouv`]).
    DataGouv(String),
}

impl Origin {
    /// `datagouv` or `datagouv:DATASET_ID` is data.gouv.fr's dataset; an `http://` or `https://` string is a URL;
    /// anything else a path.
    pub fn parse(s: &str) -> Origin {
        let lower = s.to_ascii_lowercase();
        if lower == "datagouv" {
            return Origin::DataGouv(crate::datagouv::DEFAULT_DATASET.to_string());
        }
        if let Some(id) = s.strip_prefix("datagouv:").filter(|id| !id.is_empty()) {
            return Origin::DataGouv(id.to_string());
        }
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Origin::Url(s.to_string())
        } else {
            Origin::Path(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Path(p) => write!(f, "{}", p.display()),
            Origin::Url(u) => f.write_str(u),
            Origin::DataGouv(id) => write!(f, "datagouv:{id}"),
        }
    }
}

/// How a run behaves.
#[derive(Clone)]
pub struct RunOptions {
    /// Where the extract is.
    pub source: Origin,
    /// Download settings, for a URL.
    pub fetch: crate::fetch::FetchOptions,
    /// data.gouv.fr's API, for `Origin::DataGouv` (default [`crate::datagouv::DEFAULT_API`]).
    pub datagouv_api: String,
    /// Other extracts read with the main one (`Porteurs_CPS_CPF`, `Extraction_Correspondance_MSSante`): http(s)
    /// URLs (downloaded like the main one, with conditional GET) or paths to a zip, a folder or a `.txt` file. (A
    /// folder or zip given as the source may hold them too.)
    pub with: Vec<Origin>,
    /// Where downloads go (default: `downloads/` beside the store).
    pub downloads_dir: Option<PathBuf>,
    /// Fail the run when more than this share of lines (percent) is rejected. Default 1 %.
    pub max_error_rate: f64,
    /// Hold the generation when deletions pass this share (percent) of an id group's reference count.
    pub max_delete_rate: f64,
    /// Hold the generation when updates pass this share (percent) of an id group's reference count.
    pub max_update_rate: f64,
    /// Changes per id group that never hold a generation, whatever their share: a handful of odd persons (in a
    /// small group above all) can never hold every later sync.
    pub gate_floor: u64,
    /// The gate by department and by profession ([`crate::run::SegmentGate`]).
    pub segment_gate: crate::diff::SegmentGate,
    /// Bounds of every file read (line length, archive members).
    pub limits: crate::source::ReadLimits,
    /// Ingest even when the source is byte-identical to the one served.
    pub force: bool,
    /// Parse every person, even those whose lines are those of their served record (the memo of persons' lines is
    /// not read, and is written again: [`crate::facts`]).
    pub reparse: bool,
    /// Progress reports.
    pub progress: Option<ProgressFn>,
    /// The views of a generation that must be complete before it is promoted (the binary gives the search
    /// index): a first load feeds them the persons as they are grouped; later runs and `approve` prepare them
    /// from the store ([`annuaire_store::Store::prepare`]). None by default.
    pub views: Vec<std::sync::Arc<dyn annuaire_views::GenerationView>>,
    /// Test hook: fail after writing this many waves of partitions (proves a half-written generation is
    /// never served).
    #[doc(hidden)]
    pub fail_after_batches: Option<usize>,
}

impl RunOptions {
    /// Defaults for a source (a path, or an http(s) URL): 1 % error rate, gate at 1 % deletions and
    /// 5 % updates.
    pub fn new(source: impl AsRef<std::path::Path>) -> RunOptions {
        RunOptions {
            source: Origin::parse(&source.as_ref().to_string_lossy()),
            fetch: crate::fetch::FetchOptions::default(),
            datagouv_api: crate::datagouv::DEFAULT_API.to_string(),
            with: Vec::new(),
            downloads_dir: None,
            max_error_rate: 1.0,
            max_delete_rate: 1.0,
            max_update_rate: 5.0,
            gate_floor: DEFAULT_GATE_FLOOR,
            segment_gate: crate::diff::SegmentGate::default(),
            limits: crate::source::ReadLimits::default(),
            force: false,
            reparse: false,
            progress: None,
            views: Vec::new(),
            fail_after_batches: None,
        }
    }
}
