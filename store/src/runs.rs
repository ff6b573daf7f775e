//! The run records (`ingest_run`): one per ingest attempt, whatever its outcome.

use crate::{Result, Store, now, with_pool};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (or died: [`Store::recover`] turns those into `failed`).
    Running,
    /// Its generation is served.
    Promoted,
    /// Its generation waits for approval (safety gate).
    Held,
    /// It stopped on an error; nothing changed.
    Failed,
    /// The extract was the one already served: nothing to do.
    Unchanged,
}

impl RunStatus {
    /// `running`, `promoted`, `held`, `failed`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Promoted => "promoted",
            RunStatus::Held => "held",
            RunStatus::Failed => "failed",
            RunStatus::Unchanged => "unchanged",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "promoted" => RunStatus::Promoted,
            "held" => RunStatus::Held,
            "failed" => RunStatus::Failed,
            "unchanged" => RunStatus::Unchanged,
            _ => RunStatus::Running,
        }
    }
}

/// What a finished run records.
#[derive(Debug, Clone, Default)]
pub struct RunFinish {
    /// The outcome.
    pub status: Option<RunStatus>,
    /// sha256 of the source.
    pub sha256: Option<String>,
    /// `YYYYMMDDhhmm` of the main file.
    pub file_timestamp: Option<String>,
    /// Lines read.
    pub rows_read: Option<i64>,
    /// Lines rejected.
    pub rows_rejected: Option<i64>,
    /// Exact duplicate lines dropped.
    pub duplicate_rows: Option<i64>,
    /// Persons in the extract.
    pub persons: Option<i64>,
    /// Persons created, updated, deleted.
    pub created: Option<i64>,
    /// See `created`.
    pub updated: Option<i64>,
    /// See `created`.
    pub deleted: Option<i64>,
    /// Diff counts per id group, as JSON.
    pub diff: Option<serde_json::Value>,
    /// The parse report, as JSON.
    pub report: Option<serde_json::Value>,
    /// Why the run failed or was held.
    pub reason: Option<String>,
}

/// A run as listed by `annuaire runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run number.
    pub run: i64,
    /// The generation it built, `null` when none.
    pub generation: Option<i64>,
    /// `promoted`, `held`, `failed`, `unchanged` (or `running`).
    pub status: RunStatus,
    /// The source given.
    pub source: String,
    /// sha256 of the source.
    pub sha256: Option<String>,
    /// `YYYYMMDDhhmm` of the main file.
    pub file_timestamp: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: Option<String>,
    /// Wall time.
    pub duration_ms: Option<i64>,
    /// Lines read in all files.
    pub rows_read: Option<i64>,
    /// Lines rejected.
    pub rows_rejected: Option<i64>,
    /// Exact duplicate lines dropped.
    pub duplicate_rows: Option<i64>,
    /// Persons in the extract.
    pub persons: Option<i64>,
    /// Persons created.
    pub created: Option<i64>,
    /// Persons updated.
    pub updated: Option<i64>,
    /// Persons deleted.
    pub deleted: Option<i64>,
    /// Diff counts per id group and reference counts.
    pub diff: Option<serde_json::Value>,
    /// Files, errors and warnings by kind, unknown codes, first errors.
    pub report: Option<serde_json::Value>,
    /// Why it failed or was held.
    pub reason: Option<String>,
}

impl Store {
    /// Record the start of a run.
    pub async fn start_run(&self, source: &str) -> Result<i64> {
        with_pool!(self, pool => {
            let run: i64 = sqlx::query_scalar(
                "INSERT INTO ingest_run (status, source, started_at) VALUES ('running', $1, $2) RETURNING run",
            )
            .bind(source)
            .bind(now())
            .fetch_one(pool)
            .await?;
            Ok(run)
        })
    }

    /// Record what a run found and how it ended.
    pub async fn finish_run(&self, run: i64, f: &RunFinish) -> Result<()> {
        with_pool!(self, pool => {
            let started: String = sqlx::query_scalar("SELECT started_at FROM ingest_run WHERE run = $1")
                .bind(run)
                .fetch_one(pool)
                .await?;
            let finished = chrono::Utc::now();
            let duration = chrono::DateTime::parse_from_rfc3339(&started)
                .map(|s| (finished - s.with_timezone(&chrono::Utc)).num_milliseconds())
                .ok();
            sqlx::query(
                "UPDATE ingest_run SET status = $1, sha256 = COALESCE($2, sha256), file_timestamp = COALESCE($3, file_timestamp), \
                 finished_at = $4, duration_ms = $5, rows_read = $6, rows_rejected = $7, duplicate_rows = $8, persons = $9, \
                 created = $10, updated = $11, deleted = $12, diff = $13, report = $14, reason = $15 WHERE run = $16",
            )
            .bind(f.status.unwrap_or(RunStatus::Failed).as_str())
            .bind(&f.sha256)
            .bind(&f.file_timestamp)
            .bind(finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .bind(duration)
            .bind(f.rows_read)
            .bind(f.rows_rejected)
            .bind(f.duplicate_rows)
            .bind(f.persons)
            .bind(f.created)
            .bind(f.updated)
            .bind(f.deleted)
            .bind(f.diff.as_ref().map(serde_json::Value::to_string))
            .bind(f.report.as_ref().map(serde_json::Value::to_string))
            .bind(&f.reason)
            .bind(run)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Record the sha256 of a run's source as soon as it is known.
    pub async fn set_run_source(&self, run: i64, sha256: &str, file_timestamp: Option<&str>) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE ingest_run SET sha256 = $1, file_timestamp = $2 WHERE run = $3")
                .bind(sha256)
                .bind(file_timestamp)
                .bind(run)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Every run, oldest first.
    pub async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.select_runs("ORDER BY run", None).await
    }

    /// The newest `limit` runs, newest first (what a page of runs, an alert or a gauge needs, without reading every
    /// run's diff and report).
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        self.select_runs("ORDER BY run DESC LIMIT $1", Some(limit)).await
    }

    /// The run that built `generation`.
    pub async fn run_of_generation(&self, generation: i64) -> Result<Option<RunRecord>> {
        Ok(self.select_runs("WHERE generation = $1 ORDER BY run DESC LIMIT 1", Some(generation)).await?.pop())
    }

    /// Runs selected by `tail` (a WHERE, ORDER BY or LIMIT clause, with at most one parameter, `bind`).
    async fn select_runs(&self, tail: &'static str, bind: Option<i64>) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT run, generation, status, source, sha256, file_timestamp, started_at, finished_at, duration_ms, \
             rows_read, rows_rejected, duplicate_rows, persons, created, updated, deleted, diff, report, reason \
             FROM ingest_run {tail}"
        );
        with_pool!(self, pool => {
            // Only this file's constant clauses are appended: no caller text reaches the SQL.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            if let Some(v) = bind {
                q = q.bind(v);
            }
            let rows = q.fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let json = |i: usize| r.get::<Option<String>, _>(i).and_then(|s| serde_json::from_str(&s).ok());
                    RunRecord {
                        run: r.get(0),
                        generation: r.get(1),
                        status: RunStatus::parse(r.get::<&str, _>(2)),
                        source: r.get(3),
                        sha256: r.get(4),
                        file_timestamp: r.get(5),
                        started_at: r.get(6),
                        finished_at: r.get(7),
                        duration_ms: r.get(8),
                        rows_read: r.get(9),
                        rows_rejected: r.get(10),
                        duplicate_rows: r.get(11),
                        persons: r.get(12),
                        created: r.get(13),
                        updated: r.get(14),
                        deleted: r.get(15),
                        diff: json(16),
                        report: json(17),
                        reason: r.get(18),
                    }
                })
                .collect())
        })
    }

    /// The sha256 of the source of the generation being served, when known.
    pub async fn served_sha256(&self) -> Result<Option<String>> {
        with_pool!(self, pool => {
            let sha: Option<Option<String>> = sqlx::query_scalar(
                "SELECT r.sha256 FROM serving s JOIN generation g ON g.generation = s.generation JOIN ingest_run r ON r.run = g.run",
            )
            .fetch_optional(pool)
            .await?;
            Ok(sha.flatten())
        })
    }
}
