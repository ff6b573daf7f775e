//! The store: generations of the directory in SQL.
//!
//! This crate owns the schema (`migrations/`), the generation lifecycle (build → promote, or hold, or
//! fail and roll back) and every query. It knows person records only as canonical JSON with a hash;
//! it knows nothing of files, HTTP or claims.
//!
//! **Invariants**
//! - Readers follow one pointer (`serving`) and read versions visible at that generation. Promotion moves
//!   the pointer in one statement, so a reader sees the old generation or the new one, never a mix.
//! - A generation that is not promoted leaves no trace in what is served: [`Store::abandon`] removes its
//!   versions and reopens the ones it closed; [`Store::recover`] does that for any generation a killed
//!   process left `building`.
//! - Versions of a served generation are never deleted while it may be read.
#![warn(missing_docs)]

mod downloads;
mod lock;
#[cfg(test)]
pub(crate) use lock::host as lock_host;
mod runs;
pub mod snapshot;
pub mod testing;
mod usage;

pub use downloads::DownloadState;
pub use lock::SyncLock;
pub use runs::{RunFinish, RunRecord, RunStatus};
pub use snapshot::{ClaimsSnapshot, SnapshotWriter};
pub use usage::{UsageKey, UsageReport};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, QueryBuilder, Row, SqlitePool};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Embedded migrations for SQLite.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// Embedded migrations for PostgreSQL (same version numbers as SQLite's).
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory cannot be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another sync holds the lock.
    #[error("another sync is running (owner {owner}, pid {pid} on {host}, since {since})")]
    Busy {
        /// Who holds it.
        owner: String,
        /// Its host.
        host: String,
        /// Its pid.
        pid: i64,
        /// Since when.
        since: String,
    },
    /// The request does not fit the store's state (e.g. approving a generation that is not held).
    #[error("{0}")]
    Invalid(String),
}

/// A kind of change between two generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A person appears (or comes back after a deletion).
    Create,
    /// A person's record changed.
    Update,
    /// A person is gone from the extract (soft delete).
    Delete,
}

impl ChangeKind {
    /// `create`, `update`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }

    /// Parse `create`, `update`, `delete`.
    pub fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "create" => Some(ChangeKind::Create),
            "update" => Some(ChangeKind::Update),
            "delete" => Some(ChangeKind::Delete),
            _ => None,
        }
    }
}

/// One change to write into a new generation.
#[derive(Debug, Clone)]
pub struct Change {
    /// The person.
    pub idnat: String,
    /// What happens.
    pub kind: ChangeKind,
    /// `rpps`, `adeli` or `other`.
    pub id_group: &'static str,
    /// The new record and its hash (create and update).
    pub record: Option<(String, String)>,
}

/// A change as listed by [`Store::changes_since`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    /// The idNat.
    pub id: String,
    /// `create`, `update`, `delete`.
    pub change: ChangeKind,
    /// The generation that made it.
    pub generation: i64,
    /// `rpps`, `adeli`, `other`.
    pub id_group: String,
}

/// One change in a person's history ([`Store::history_of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The generation that made it.
    pub generation: i64,
    /// `create` (activated), `update`, `delete` (deactivated).
    pub change: ChangeKind,
    /// When that generation was promoted (RFC 3339).
    pub promoted_at: String,
}

/// The generation being served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Served {
    /// Its number.
    pub generation: i64,
    /// When it was promoted (RFC 3339).
    pub promoted_at: String,
}

/// A person record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPerson {
    /// The canonical JSON record.
    pub record: String,
    /// Its hash.
    pub hash: String,
    /// The generation the version was written by.
    pub since_generation: i64,
}

/// A generation's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationRow {
    /// Its number.
    pub generation: i64,
    /// The run that built it.
    pub run: i64,
    /// `building`, `ready`, `held`, `promoted`, `failed`, `superseded`.
    pub state: String,
    /// Persons in it.
    pub persons: Option<i64>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The state of a generation, read inside the caller's transaction `$tx`.
macro_rules! state_in {
    ($tx:expr, $generation:expr) => {{
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM generation WHERE generation = $1")
            .bind($generation)
            .fetch_optional(&mut *$tx)
            .await?;
        state
    }};
}

/// Mark a generation promoted (with its person count when given) and point `serving` at it, inside the
/// caller's transaction `$tx`. Evaluates to the promotion time.
macro_rules! serve_generation {
    ($tx:expr, $generation:expr, $persons:expr) => {{
        let at = now();
        let persons: Option<i64> = $persons;
        sqlx::query(
            "UPDATE generation SET state = 'promoted', promoted_at = $1, persons = COALESCE($2, persons) \
             WHERE generation = $3",
        )
        .bind(&at)
        .bind(persons)
        .bind($generation)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO serving (id, generation, promoted_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, promoted_at = excluded.promoted_at",
        )
        .bind($generation)
        .bind(&at)
        .execute(&mut *$tx)
        .await?;
        at
    }};
}

/// Run `$body` with `$pool` bound to the store's pool, whichever the backend: the SQL is written once
/// (numbered `$N` parameters, which both SQLite and PostgreSQL accept) and compiled for each.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// How many rows one multi-row INSERT carries (5 bound values each; SQLite allows 32,766).
const BATCH: usize = 1000;

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// The embedded default: `DATA_DIR/annuaire.db`.
    Sqlite(SqlitePool),
    /// A PostgreSQL database shared by several servers.
    Postgres(PgPool),
}

/// Which database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A handle on the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    data_dir: PathBuf,
}

impl Store {
    /// Open (creating if needed) the embedded store of a data directory: `DIR/annuaire.db`, migrated.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Io { path: data_dir.to_path_buf(), source: e })?;
        let path = data_dir.join("annuaire.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60))
            .foreign_keys(true)
            // A national load inserts 1.7 million versions in idNat-hash order: a 128 MiB page cache per
            // connection (allocated as used) keeps the primary-key index in memory, and checkpointing
            // every 64 MiB of WAL instead of 4 MiB stops rewriting the same pages (profiled).
            .pragma("cache_size", "-131072")
            .pragma("wal_autocheckpoint", "16384")
            .pragma("temp_store", "memory")
            // Streaming a whole generation (index build, stats) is long by design: only warn past a minute.
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(60));
        // Two processes opening a new data directory together (a sync and `annuaire runs`, two servers) would race
        // to create the tables: sqlx does not lock SQLite migrations, so an exclusive file lock does.
        let lock_path = data_dir.join("annuaire.db.migrate-lock");
        let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
            rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
            Ok(f)
        })
        .await
        .map_err(|e| Error::Invalid(format!("migration lock: {e}")))?
        .map_err(|e| Error::Io { path: data_dir.join("annuaire.db.migrate-lock"), source: e })?;
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        drop(lock); // closing the file releases the lock
        Ok(Store { pool: Pool::Sqlite(pool), data_dir: data_dir.to_path_buf() })
    }

    /// Open the store in a PostgreSQL database (`postgres://...`), migrated; `data_dir` keeps what stays
    /// local to this process (search indexes, downloads).
    pub async fn open_postgres(data_dir: &Path, url: &str) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Io { path: data_dir.to_path_buf(), source: e })?;
        let opts = PgConnectOptions::from_str(url)?
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(60))
            .application_name("annuaire");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await?;
        // Several servers may start together: sqlx serialises migrations with an advisory lock.
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Store { pool: Pool::Postgres(pool), data_dir: data_dir.to_path_buf() })
    }

    /// Open the store: PostgreSQL when `database_url` is given, else the embedded SQLite file of
    /// `data_dir`.
    pub async fn connect(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
        match database_url {
            None => Store::open(data_dir).await,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Store::open_postgres(data_dir, url).await
            }
            Some(url) => Err(Error::Invalid(format!(
                "unsupported database URL {:?}: give postgres://USER@HOST:PORT/DB, or no URL for the embedded store",
                redact(url)
            ))),
        }
    }

    /// The data directory (search indexes, downloads; the SQLite file when embedded).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Which database this store lives in.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the store is, for messages: the SQLite file, or the PostgreSQL URL without its password.
    pub fn location(&self) -> String {
        match &self.pool {
            Pool::Sqlite(_) => self.data_dir.join("annuaire.db").display().to_string(),
            Pool::Postgres(p) => {
                let o = p.connect_options();
                format!(
                    "postgres://{}@{}:{}/{}",
                    o.get_username(),
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or("")
                )
            }
        }
    }

    /// The generation being served, if any.
    pub async fn served(&self) -> Result<Option<Served>> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT generation, promoted_at FROM serving WHERE id = 1")
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| Served { generation: r.get(0), promoted_at: r.get(1) }))
        })
    }

    /// Roll back every generation a dead writer left `building` or `ready`. Call with the sync lock held.
    /// Returns the generations cleaned up.
    pub async fn recover(&self) -> Result<Vec<i64>> {
        let stale: Vec<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT generation FROM generation WHERE state IN ('building', 'ready') ORDER BY generation",
            )
            .fetch_all(pool)
            .await?
        });
        for g in &stale {
            self.abandon(*g, "failed").await?;
            with_pool!(self, pool => {
                sqlx::query(
                    "UPDATE ingest_run SET status = 'failed', finished_at = $1, reason = COALESCE(reason, \
                     'interrupted: the process stopped before the generation was promoted') \
                     WHERE generation = $2 AND status = 'running'",
                )
                .bind(now())
                .bind(g)
                .execute(pool)
                .await?;
            });
        }
        // Runs that died before making a generation.
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE ingest_run SET status = 'failed', finished_at = $1, \
                 reason = 'interrupted: the process stopped during the run' WHERE status = 'running'",
            )
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(stale)
    }

    /// The held generation, if one waits for approval.
    pub async fn held(&self) -> Result<Option<GenerationRow>> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT generation, run, state, persons FROM generation WHERE state = 'held' \
                 ORDER BY generation DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|r| GenerationRow { generation: r.get(0), run: r.get(1), state: r.get(2), persons: r.get(3) }))
        })
    }

    /// A generation's row.
    pub async fn generation(&self, generation: i64) -> Result<Option<GenerationRow>> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT generation, run, state, persons FROM generation WHERE generation = $1")
                .bind(generation)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| GenerationRow { generation: r.get(0), run: r.get(1), state: r.get(2), persons: r.get(3) }))
        })
    }

    /// idNat → hash of every person current in the served generation (deleted persons excluded).
    /// Call when no other generation is being built or held.
    pub async fn current_hashes(&self) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        self.for_each_current_hash(|idnat, hash| {
            out.insert(idnat, hash);
        })
        .await?;
        Ok(out)
    }

    /// Stream idNat and hash of every person current in the served generation into `f`, without holding
    /// them all at once (1.7 million at national size).
    pub async fn for_each_current_hash(&self, mut f: impl FnMut(String, String)) -> Result<()> {
        use futures_util::TryStreamExt;
        with_pool!(self, pool => {
            let mut rows = sqlx::query("SELECT idnat, hash FROM person_version WHERE valid_to IS NULL").fetch(pool);
            while let Some(r) = rows.try_next().await? {
                f(r.get(0), r.get(1));
            }
        });
        Ok(())
    }

    /// Start a new generation for a run.
    pub async fn begin_generation(&self, run: i64) -> Result<i64> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(generation), 0) + 1 FROM generation")
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO generation (generation, run, state, created_at) VALUES ($1, $2, 'building', $3)")
                .bind(next)
                .bind(run)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE ingest_run SET generation = $1 WHERE run = $2")
                .bind(next)
                .bind(run)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(next)
        })
    }

    /// Write a batch of changes into a generation that is `building`, in one transaction. Call as many
    /// times as needed; nothing written is visible to readers until [`Store::promote`].
    ///
    /// SQLite gets multi-row INSERTs; PostgreSQL gets `COPY ... FROM STDIN`, its bulk path.
    pub async fn write_changes(&self, generation: i64, changes: &[Change]) -> Result<()> {
        match self.pool() {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                if state_in!(tx, generation).as_deref() != Some("building") {
                    return Err(Error::Invalid(format!("generation {generation} is not being built")));
                }
                for chunk in changes.chunks(BATCH) {
                    let closing: Vec<&Change> = chunk.iter().filter(|c| c.kind != ChangeKind::Create).collect();
                    for part in closing.chunks(500) {
                        let mut q = QueryBuilder::new("UPDATE person_version SET valid_to = ");
                        q.push_bind(generation).push(" WHERE valid_to IS NULL AND idnat IN (");
                        let mut sep = q.separated(", ");
                        for c in part {
                            sep.push_bind(&c.idnat);
                        }
                        q.push(")");
                        q.build().execute(&mut *tx).await?;
                    }
                    let versions: Vec<(&Change, &(String, String))> =
                        chunk.iter().filter_map(|c| c.record.as_ref().map(|r| (c, r))).collect();
                    if !versions.is_empty() {
                        let mut q = QueryBuilder::new(
                            "INSERT INTO person_version (idnat, valid_from, valid_to, hash, record) ",
                        );
                        q.push_values(versions, |mut b, (c, (record, hash))| {
                            b.push_bind(&c.idnat).push_bind(generation).push("NULL").push_bind(hash).push_bind(record);
                        });
                        q.build().execute(&mut *tx).await?;
                    }
                    let mut q = QueryBuilder::new("INSERT INTO change_log (generation, idnat, change, id_group) ");
                    q.push_values(chunk, |mut b, c| {
                        b.push_bind(generation).push_bind(&c.idnat).push_bind(c.kind.as_str()).push_bind(c.id_group);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                if state_in!(tx, generation).as_deref() != Some("building") {
                    return Err(Error::Invalid(format!("generation {generation} is not being built")));
                }
                let closing: Vec<&str> =
                    changes.iter().filter(|c| c.kind != ChangeKind::Create).map(|c| c.idnat.as_str()).collect();
                if !closing.is_empty() {
                    sqlx::query("UPDATE person_version SET valid_to = $1 WHERE valid_to IS NULL AND idnat = ANY($2)")
                        .bind(generation)
                        .bind(&closing)
                        .execute(&mut *tx)
                        .await?;
                }
                let mut versions = Vec::new();
                let mut log = Vec::new();
                for c in changes {
                    if let Some((record, hash)) = &c.record {
                        copy_row(
                            &mut versions,
                            &[Some(&c.idnat), Some(&generation.to_string()), None, Some(hash), Some(record)],
                        );
                    }
                    copy_row(
                        &mut log,
                        &[Some(&generation.to_string()), Some(&c.idnat), Some(c.kind.as_str()), Some(c.id_group)],
                    );
                }
                for (sql, data) in [
                    ("COPY person_version (idnat, valid_from, valid_to, hash, record) FROM STDIN", versions),
                    ("COPY change_log (generation, idnat, change, id_group) FROM STDIN", log),
                ] {
                    if data.is_empty() {
                        continue;
                    }
                    let mut copy = tx.copy_in_raw(sql).await?;
                    copy.send(data).await?;
                    copy.finish().await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Refresh the planner's statistics after a large write: `ANALYZE` on PostgreSQL (about a second at national
    /// size); SQLite's `PRAGMA optimize`, which analyses only what needs it.
    pub async fn analyze(&self) -> Result<()> {
        match self.pool() {
            Pool::Postgres(pool) => {
                sqlx::query("ANALYZE person_version").execute(pool).await?;
                sqlx::query("ANALYZE change_log").execute(pool).await?;
            }
            Pool::Sqlite(pool) => {
                sqlx::query("PRAGMA optimize").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Mark a generation complete (all changes written), with its person count.
    pub async fn finish_generation(&self, generation: i64, persons: i64) -> Result<()> {
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE generation SET state = 'ready', persons = $1 WHERE generation = $2 AND state = 'building'")
                .bind(persons)
                .bind(generation)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done != 1 {
            return Err(Error::Invalid(format!("generation {generation} is not being built")));
        }
        Ok(())
    }

    /// Serve a generation (`ready` or `held`): one statement moves the pointer.
    pub async fn promote(&self, generation: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let state = state_in!(tx, generation);
            if !matches!(state.as_deref(), Some("ready" | "held")) {
                return Err(Error::Invalid(format!(
                    "generation {generation} cannot be promoted (state {})",
                    state.as_deref().unwrap_or("unknown")
                )));
            }
            serve_generation!(tx, generation, None);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Keep a `ready` generation aside, unserved, until approved or superseded.
    pub async fn hold(&self, generation: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE generation SET state = 'held' WHERE generation = $1 AND state = 'ready'")
                .bind(generation)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Apply an approval's exclusions to a held generation, which stays held (one transaction): what the generation
    /// will serve is then final, so what is derived from it (its search index) can be built before it is promoted by
    /// [`Store::approve`] with the same exclusions (applying them again changes nothing).
    pub async fn exclude_changes(&self, generation: i64, exclude: &[ChangeKind]) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let state = state_in!(tx, generation);
            if state.as_deref() != Some("held") {
                return Err(Error::Invalid(format!(
                    "generation {generation} is not held (state {}); `annuaire runs` lists held generations",
                    state.as_deref().unwrap_or("unknown")
                )));
            }
            for kind in exclude {
                if *kind != ChangeKind::Delete {
                    sqlx::query(
                        "DELETE FROM person_version WHERE valid_from = $1 AND idnat IN \
                         (SELECT idnat FROM change_log WHERE generation = $1 AND change = $2)",
                    )
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                if *kind != ChangeKind::Create {
                    sqlx::query(
                        "UPDATE person_version SET valid_to = NULL WHERE valid_to = $1 AND idnat IN \
                         (SELECT idnat FROM change_log WHERE generation = $1 AND change = $2)",
                    )
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("DELETE FROM change_log WHERE generation = $1 AND change = $2")
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Promote a held generation, first taking out the changes of the excluded kinds: an excluded
    /// deletion keeps the person served as they were, an excluded update keeps the old record, an
    /// excluded creation leaves the person out. Returns the changes kept, by kind. One transaction.
    pub async fn approve(&self, generation: i64, exclude: &[ChangeKind]) -> Result<HashMap<ChangeKind, i64>> {
        let kept: Vec<(String, i64)> = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let state = state_in!(tx, generation);
            if state.as_deref() != Some("held") {
                return Err(Error::Invalid(format!(
                    "generation {generation} is not held (state {}); `annuaire runs` lists held generations",
                    state.as_deref().unwrap_or("unknown")
                )));
            }
            for kind in exclude {
                if *kind != ChangeKind::Delete {
                    // Drop the new versions written for these persons.
                    sqlx::query(
                        "DELETE FROM person_version WHERE valid_from = $1 AND idnat IN \
                         (SELECT idnat FROM change_log WHERE generation = $1 AND change = $2)",
                    )
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                if *kind != ChangeKind::Create {
                    // Reopen the versions this generation closed for them.
                    sqlx::query(
                        "UPDATE person_version SET valid_to = NULL WHERE valid_to = $1 AND idnat IN \
                         (SELECT idnat FROM change_log WHERE generation = $1 AND change = $2)",
                    )
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("DELETE FROM change_log WHERE generation = $1 AND change = $2")
                    .bind(generation)
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let kept: Vec<(String, i64)> =
                sqlx::query_as("SELECT change, COUNT(*) FROM change_log WHERE generation = $1 GROUP BY change")
                    .bind(generation)
                    .fetch_all(&mut *tx)
                    .await?;
            let persons: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM person_version WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
            )
            .bind(generation)
            .fetch_one(&mut *tx)
            .await?;
            let at = serve_generation!(tx, generation, Some(persons));
            let excluded: Vec<&str> = exclude.iter().map(|k| k.as_str()).collect();
            let note = if excluded.is_empty() {
                format!("; approved at {at}")
            } else {
                format!("; approved at {at} without {}", excluded.join(", "))
            };
            sqlx::query(
                "UPDATE ingest_run SET status = 'promoted', reason = COALESCE(reason, '') || $1 WHERE generation = $2",
            )
            .bind(note)
            .bind(generation)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            kept
        });
        Ok(kept.into_iter().filter_map(|(k, n)| ChangeKind::parse(&k).map(|k| (k, n))).collect())
    }

    /// Drop an unpromoted generation: delete its versions, reopen the versions it closed, forget its
    /// changes, and mark it `state` (`failed` or `superseded`). One transaction.
    pub async fn abandon(&self, generation: i64, state: &str) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if state_in!(tx, generation).as_deref() == Some("promoted") {
                return Err(Error::Invalid(format!("generation {generation} is served and cannot be abandoned")));
            }
            sqlx::query(
                "DELETE FROM person_version WHERE valid_from = $1 AND idnat IN \
                 (SELECT idnat FROM change_log WHERE generation = $1)",
            )
            .bind(generation)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE person_version SET valid_to = NULL WHERE valid_to = $1")
                .bind(generation)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM change_log WHERE generation = $1").bind(generation).execute(&mut *tx).await?;
            sqlx::query("UPDATE generation SET state = $1 WHERE generation = $2")
                .bind(state)
                .bind(generation)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The record of a person as visible in a generation.
    pub async fn person_at(&self, idnat: &str, generation: i64) -> Result<Option<StoredPerson>> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT record, hash, valid_from FROM person_version \
                 WHERE idnat = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) \
                 ORDER BY valid_from DESC LIMIT 1",
            )
            .bind(idnat)
            .bind(generation)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|r| StoredPerson { record: r.get(0), hash: r.get(1), since_generation: r.get(2) }))
        })
    }

    /// Every record visible in a generation, in idNat order (for exports and comparisons).
    pub async fn persons_at(&self, generation: i64) -> Result<Vec<(String, String)>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT idnat, record FROM person_version WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) \
                 ORDER BY idnat",
            )
            .bind(generation)
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Stream every record visible in a generation, in idNat order, into `f` (for building an index).
    pub async fn for_each_person_at<E>(
        &self,
        generation: i64,
        mut f: impl FnMut(&str) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        use futures_util::TryStreamExt;
        with_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT record FROM person_version WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) \
                 ORDER BY idnat",
            )
            .bind(generation)
            .fetch(pool);
            while let Some(r) = rows.try_next().await? {
                if let Err(e) = f(r.get::<&str, _>(0)) {
                    return Ok(Err(e));
                }
            }
        });
        Ok(Ok(()))
    }

    /// The changes a generation made (promoted or not), by idNat.
    pub async fn changes_of(&self, generation: i64) -> Result<Vec<(String, ChangeKind)>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT idnat, change FROM change_log WHERE generation = $1 ORDER BY idnat")
                .bind(generation)
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().filter_map(|r| Some((r.get(0), ChangeKind::parse(r.get::<&str, _>(1))?))).collect())
        })
    }

    /// What promoted generations did to one person, oldest first: when they were created (activated), updated,
    /// deleted (deactivated) or created again.
    pub async fn history_of(&self, idnat: &str) -> Result<Vec<HistoryRow>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.generation, c.change, g.promoted_at FROM change_log c \
                 JOIN generation g ON g.generation = c.generation \
                 WHERE c.idnat = $1 AND g.state = 'promoted' ORDER BY c.generation",
            )
            .bind(idnat)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    Some(HistoryRow {
                        generation: r.get(0),
                        change: ChangeKind::parse(r.get::<&str, _>(1))?,
                        promoted_at: r.get::<Option<String>, _>(2).unwrap_or_default(),
                    })
                })
                .collect())
        })
    }

    /// The last generation promoted before `generation`: the state its changes were computed against.
    pub async fn promoted_before(&self, generation: i64) -> Result<Option<i64>> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(
                "SELECT MAX(generation) FROM generation WHERE generation < $1 AND state = 'promoted'",
            )
            .bind(generation)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Changes made by promoted generations after `since`, in a stable order (generation, idNat).
    pub async fn changes_since(&self, since: i64) -> Result<Vec<ChangeRow>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.idnat, c.change, c.generation, c.id_group FROM change_log c \
                 JOIN generation g ON g.generation = c.generation \
                 WHERE c.generation > $1 AND g.state = 'promoted' ORDER BY c.generation, c.idnat",
            )
            .bind(since)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    Some(ChangeRow {
                        id: r.get(0),
                        change: ChangeKind::parse(r.get::<&str, _>(1))?,
                        generation: r.get(2),
                        id_group: r.get(3),
                    })
                })
                .collect())
        })
    }

    /// One page of [`Store::changes_since`], in the same order, and how many changes there are in all: the page is
    /// cut by the database, so memory holds one page whatever the size of the changelog.
    pub async fn changes_page(&self, since: i64, limit: i64, offset: i64) -> Result<(Vec<ChangeRow>, i64)> {
        with_pool!(self, pool => {
            let (total,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM change_log c JOIN generation g ON g.generation = c.generation \
                 WHERE c.generation > $1 AND g.state = 'promoted'",
            )
            .bind(since)
            .fetch_one(pool)
            .await?;
            let rows = sqlx::query(
                "SELECT c.idnat, c.change, c.generation, c.id_group FROM change_log c \
                 JOIN generation g ON g.generation = c.generation \
                 WHERE c.generation > $1 AND g.state = 'promoted' ORDER BY c.generation, c.idnat LIMIT $2 OFFSET $3",
            )
            .bind(since)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let page = rows
                .into_iter()
                .filter_map(|r| {
                    Some(ChangeRow {
                        id: r.get(0),
                        change: ChangeKind::parse(r.get::<&str, _>(1))?,
                        generation: r.get(2),
                        id_group: r.get(3),
                    })
                })
                .collect();
            Ok((page, total))
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Append one row in COPY's text format: tab-separated, `\N` for NULL, with backslash, tab, newline and
/// carriage return escaped in the values. PostgreSQL's text cannot hold a NUL byte at all (one would make it
/// refuse the whole batch): the ingest rejects lines holding one, and a NUL that reached this point anyway is
/// written as U+FFFD.
fn copy_row(out: &mut Vec<u8>, values: &[Option<&str>]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let Some(v) = v else {
            out.extend_from_slice(b"\\N");
            continue;
        };
        for b in v.bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
                _ => out.push(b),
            }
        }
    }
    out.push(b'\n');
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..s + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
