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

mod bulk;
mod downloads;
mod generations;
mod lock;
mod memo;
mod reads;
pub mod record;
mod repack;
#[cfg(test)]
pub(crate) use lock::host as lock_host;
mod runs;
mod slices;
mod sqlite_writer;
pub mod testing;
mod usage;
pub mod views;

pub use downloads::DownloadState;
pub use lock::SyncLock;
pub use memo::Memo;
pub use repack::{BATCH_REPACK, Repacked};
pub use runs::{RunFinish, RunRecord, RunStatus};
pub use usage::{SubjectBatch, UsageDay, UsageKey, UsageReport, subject_hash};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, SqlitePool};
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
    /// SQLite's bulk writer failed (a constraint, the disk, the lock's timeout).
    #[error("database error: {0}")]
    Write(String),
    /// The request does not fit the store's state (e.g. approving a generation that is not held).
    #[error("{0}")]
    Invalid(String),
    /// A stored record cannot be read.
    #[error("a stored record cannot be read: {0}")]
    Record(String),
    /// A generation's view (search index, claims snapshot, ...) cannot be prepared.
    #[error("the {view} of generation {generation} cannot be prepared: {source}")]
    View {
        /// The view's name.
        view: String,
        /// The generation.
        generation: i64,
        /// The view's error.
        source: annuaire_views::Error,
    },
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
    /// The new record as stored ([`record::pack`]) and the hash of its canonical form (create and update).
    pub record: Option<(Vec<u8>, String)>,
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

/// A person's version as [`Store::version_at`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The canonical JSON record.
    pub record: String,
    /// The generation that wrote it.
    pub since_generation: i64,
    /// The generation that deleted the person, when they were deleted (their last version is then `record`).
    pub deleted_by: Option<i64>,
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

/// A generation as [`Store::generations`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationInfo {
    /// Its number.
    pub generation: i64,
    /// The run that built it.
    pub run: i64,
    /// `building`, `ready`, `held`, `promoted`, `failed` or `superseded`.
    pub state: String,
    /// When its run began it.
    pub created_at: String,
    /// When it was promoted (none if never).
    pub promoted_at: Option<String>,
    /// Persons in it.
    pub persons: Option<i64>,
}

pub(crate) fn now() -> String {
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

/// Whether a generation's creations are implicit (`generation.implicit_creates`, migration 0009: begun on an empty
/// store, its versions are its creations and it has no other change), read inside the caller's transaction `$tx`.
macro_rules! implicit_in {
    ($tx:expr, $generation:expr) => {{
        let implicit: Option<i64> = sqlx::query_scalar("SELECT implicit_creates FROM generation WHERE generation = $1")
            .bind($generation)
            .fetch_optional(&mut *$tx)
            .await?;
        implicit.is_some_and(|i| i != 0)
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
pub(crate) use {implicit_in, serve_generation, state_in};

/// A transaction that writes. On SQLite it begins `IMMEDIATE`: it takes the write lock at once, waiting for another
/// writer up to the busy timeout. A deferred one that reads first and writes later fails at once with
/// `SQLITE_BUSY_SNAPSHOT` ("database is locked") when another connection committed in between, whatever the busy
/// timeout: a sync beside a server recording usage on the same file did (`tests::a_sync_and_a_server_write_the_same_sqlite_file_at_once`).
pub(crate) trait BeginWrite {
    /// The database.
    type Db: sqlx::Database;
    /// Begin the transaction.
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
}

/// How [`BeginWrite`] begins on SQLite; also for a writing transaction on one connection of the pool (`bulk.rs`).
pub(crate) const SQLITE_BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>>> + Send {
        self.begin_with(SQLITE_BEGIN_WRITE)
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>>> + Send {
        self.begin()
    }
}

/// How many rows one multi-row INSERT carries (5 bound values each; SQLite allows 32,766).
pub(crate) const BATCH: usize = 1000;

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
    /// SQLite's bulk writer (the sync's versions, change log and memos); none on PostgreSQL.
    writer: Option<sqlite_writer::SqliteWriter>,
}

impl Store {
    /// SQLite's bulk writer (`sqlite_writer.rs`).
    fn sqlite_writer(&self) -> Result<&sqlite_writer::SqliteWriter> {
        self.writer.as_ref().ok_or_else(|| Error::Invalid("this store has no SQLite writer".into()))
    }

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
            // A national load inserts 1.7 million versions in idNat-hash order: a page cache of 32 MiB per
            // connection (allocated as used), and checkpointing every 64 MiB of WAL instead of 4 MiB stops rewriting
            // the same pages (profiled). 128 MiB (2026-11-28) was no faster when measured again on 2026-11-30
            // (full ingest 63.5-65.4 s against 64.7 s), and held 110-230 MB more at peak (724-730 MB against 842).
            .pragma("cache_size", "-32768")
            .pragma("wal_autocheckpoint", "16384")
            .pragma("temp_store", "memory")
            // The sync streams the 1.7 million served hashes and memos: let the connection's thread run ahead of
            // the reader by a few thousand rows instead of 50 (each hand-over wakes a thread).
            .row_buffer_size(4096)
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
        let writer = Some(sqlite_writer::SqliteWriter::new(path));
        Ok(Store { pool: Pool::Sqlite(pool), data_dir: data_dir.to_path_buf(), writer })
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
        Ok(Store { pool: Pool::Postgres(pool), data_dir: data_dir.to_path_buf(), writer: None })
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

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
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
