//! The operators' bodies: runs, generations (served, held, with their diff and gate reasons), approvals, usage.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One run of the sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct Run {
    pub run: i64,
    /// The generation it built (none when nothing was ingested).
    pub generation: Option<i64>,
    /// `running`, `promoted`, `held`, `unchanged` or `failed`.
    pub status: String,
    /// The extract's path or URL.
    pub source: String,
    pub sha256: Option<String>,
    /// The extract's own timestamp (`yyyymmddhhmm`), from its file names.
    pub file_timestamp: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub rows_read: Option<i64>,
    pub rows_rejected: Option<i64>,
    pub duplicate_rows: Option<i64>,
    pub persons: Option<i64>,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    pub deleted: Option<i64>,
    /// The diff: by id group (`groups`) and by segment (`segments`: `department:75`, `profession:60`).
    #[schema(value_type = Option<Object>)]
    pub diff: Option<serde_json::Value>,
    /// What was read: rows, errors by kind and the first located ones.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Why it was held, or why it failed.
    pub reason: Option<String>,
}

impl From<annuaire_store::RunRecord> for Run {
    fn from(r: annuaire_store::RunRecord) -> Self {
        Run {
            run: r.run,
            generation: r.generation,
            status: r.status.as_str().to_string(),
            source: r.source,
            sha256: r.sha256,
            file_timestamp: r.file_timestamp,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
            rows_read: r.rows_read,
            rows_rejected: r.rows_rejected,
            duplicate_rows: r.duplicate_rows,
            persons: r.persons,
            created: r.created,
            updated: r.updated,
            deleted: r.deleted,
            diff: r.diff,
            report: r.report,
            reason: r.reason,
        }
    }
}

/// The runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Runs {
    pub runs: Vec<Run>,
}

/// A generation, with what its run found.
#[derive(Debug, Serialize, ToSchema)]
pub struct Generation {
    pub generation: i64,
    pub run: i64,
    /// `building`, `ready`, `held`, `promoted`, `failed` or `superseded`.
    pub state: String,
    pub created_at: String,
    pub promoted_at: Option<String>,
    pub persons: Option<i64>,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    pub deleted: Option<i64>,
    /// Why it was held (the gates' reasons, naming id groups and segments).
    pub reason: Option<String>,
    /// The run's diff (by id group and by segment).
    #[schema(value_type = Option<Object>)]
    pub diff: Option<serde_json::Value>,
}

/// The served generation, the held one if any, and the newest generations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Generations {
    pub served: Option<i64>,
    /// The generation waiting for approval.
    pub held: Option<Generation>,
    /// Newest first.
    pub generations: Vec<Generation>,
}

/// Approve a held generation, leaving out some kinds of change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// `delete`, `update` or `create`: the changes of these kinds are left out (as `annuaire approve --exclude`).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// A promoted generation and the changes it kept, by kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    pub generation: i64,
    /// Changes kept: `create`, `update`, `delete`.
    pub kept: BTreeMap<String, i64>,
    pub excluded: Vec<String>,
}

/// A generation's quality report (see `annuaire_ingest::quality`): text that looks mis-encoded with its places,
/// codes missing from the tables, SIRETs and FINESS shared by structures with different technical ids, persons
/// without activity, row errors by kind, counts by profession, authority kind and department, what moved most, and
/// the warnings against the previous generation.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityReport {
    pub generation: i64,
    /// The run that wrote it.
    pub run: i64,
    /// That run's status.
    pub status: String,
    /// The generation it was compared with (the one served when the run began).
    pub compared_with: Option<i64>,
    /// The report (`text`, `unknown_codes`, `unknown_code_persons`, `shared_siret`, `shared_finess`,
    /// `persons_without_activity`, `row_errors_by_kind`, `warnings_by_kind`, `counts`, `moved`, `warnings`).
    #[schema(value_type = Object)]
    pub quality: serde_json::Value,
}

/// One client service's indicators over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageClient {
    pub client: String,
    pub calls: i64,
    /// Distinct professionals asked about (per day, summed).
    pub distinct_professionals: i64,
    pub eligible: i64,
    pub refused: i64,
    /// Calls by `endpoint/outcome`.
    pub by_endpoint: BTreeMap<String, i64>,
}

/// One client service's indicators on one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    pub day: String,
    pub client: String,
    pub calls: i64,
    pub distinct_professionals: i64,
    pub eligible: i64,
    pub refused: i64,
}

impl From<annuaire_store::UsageReport> for UsageClient {
    fn from(c: annuaire_store::UsageReport) -> Self {
        UsageClient {
            client: c.client,
            calls: c.calls,
            distinct_professionals: c.distinct_professionals,
            eligible: c.eligible,
            refused: c.refused,
            by_endpoint: c.by_endpoint,
        }
    }
}

impl From<annuaire_store::UsageDay> for UsageDay {
    fn from(d: annuaire_store::UsageDay) -> Self {
        UsageDay {
            day: d.day,
            client: d.client,
            calls: d.calls,
            distinct_professionals: d.distinct_professionals,
            eligible: d.eligible,
            refused: d.refused,
        }
    }
}

/// Usage since a day (`annuaire usage`), in all and by day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The first day counted (`yyyy-mm-dd`).
    pub since: String,
    pub clients: Vec<UsageClient>,
    pub days: Vec<UsageDay>,
}
