//! SQLite's bulk writer: the sync's versions, change log and memos, written through one connection of its own with
//! prepared statements (rusqlite), not through sqlx's pool.
//!
//! Why: a national first load writes 13 values for each of 1.7 million persons. Through sqlx each value is put in
//! an `Arc` on the calling thread, the statement's text (a multi-row `INSERT` of a thousand rows) is built again for
//! every batch, and the values are bound and then freed on the connection's own thread (a free across threads in
//! the allocator); a wave's last batch, of a row count of its own, is prepared anew. `perf` put that at about 9 % of a
//! first load's samples. Here 64 rows are one `sqlite3_step` of a statement prepared once and cached (the rest one
//! row a statement), their values bound from borrowed slices (SQLite copies each once, as it did), on a blocking
//! thread. What it saved, and the one-row-a-statement variant that did not: the section "The morning of 2026-12-03"
//! of `docs/benchmarks.md`.
//!
//! Invariants: this connection writes only inside `BEGIN IMMEDIATE` transactions, as every writer of the store does
//! (`BeginWrite`), with the pool's pragmas that matter to a writer (busy timeout, synchronous, checkpoint interval,
//! cache). It is opened at the first write, so a process that only reads never opens it. The two libraries drive one
//! SQLite library (`libsqlite3-sys`, bundled, one version: see the workspace's `Cargo.toml`).

use crate::memo::{MEMO_BASE_INSERT, MEMO_INSERT, MEMO_UPSERT, Memo, stored_hashes};
use crate::{Change, ChangeKind, Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The bulk writer of one SQLite store (cheap to clone: the connection is shared).
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    path: PathBuf,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").field("path", &self.path).finish()
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Write(e.to_string())
    }
}

impl SqliteWriter {
    /// The writer of the database file at `path` (not opened yet).
    pub(crate) fn new(path: PathBuf) -> SqliteWriter {
        SqliteWriter { path, conn: Arc::new(Mutex::new(None)) }
    }

    /// Run `f` with the connection on a blocking thread, opening it first if needed.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = this.conn.lock().map_err(|_| Error::Write("the bulk writer's lock is poisoned".into()))?;
            let conn = match &mut *guard {
                Some(c) => c,
                None => guard.insert(open(&this.path)?),
            };
            f(conn)
        })
        .await
        .map_err(|e| Error::Write(format!("the bulk writer's thread failed: {e}")))?
    }

    /// [`crate::Store::write_changes`] on SQLite.
    pub(crate) async fn write_changes(&self, generation: i64, mut changes: Vec<Change>) -> Result<()> {
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let state: Option<(String, i64)> = tx
                .query_row("SELECT state, implicit_creates FROM generation WHERE generation = ?1", [generation], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some(("building", implicit)) = state.as_ref().map(|(s, i)| (s.as_str(), *i != 0)) else {
                return Err(Error::Invalid(format!("generation {generation} is not being built")));
            };
            if implicit {
                crate::generations::only_creations(generation, &changes)?;
            }
            // In idNat order, so that consecutive rows go to neighbouring pages of the keys' B-trees.
            changes.sort_unstable_by(|a, b| a.idnat.cmp(&b.idnat));
            {
                let mut close =
                    tx.prepare_cached("UPDATE person_version SET valid_to = ?1 WHERE valid_to IS NULL AND idnat = ?2")?;
                for c in changes.iter().filter(|c| c.kind != ChangeKind::Create) {
                    close.execute(params![generation, c.idnat])?;
                }
            }
            let versions: Vec<(&str, &Vec<u8>, &String)> =
                changes.iter().filter_map(|c| c.record.as_ref().map(|(r, h)| (c.idnat.as_str(), r, h))).collect();
            // `OR FAIL`: a row that breaks a constraint still fails the statement, and the transaction is rolled
            // back, but SQLite keeps no statement journal (copies of pages to undo a statement alone).
            insert_rows(
                &tx,
                "INSERT OR FAIL INTO person_version (idnat, valid_from, valid_to, hash, record) VALUES ",
                "(?, ?, NULL, ?, ?)",
                "",
                &versions,
                |st, i, (idnat, record, hash)| {
                    st.raw_bind_parameter(i, idnat)?;
                    st.raw_bind_parameter(i + 1, generation)?;
                    st.raw_bind_parameter(i + 2, hash)?;
                    st.raw_bind_parameter(i + 3, &record[..])?;
                    Ok(4)
                },
            )?;
            // A first load's creations are its versions (`implicit_creates`, migration 0009).
            let logged: &[Change] = if implicit { &[] } else { &changes };
            insert_rows(
                &tx,
                "INSERT OR FAIL INTO change_log (generation, idnat, change, id_group) VALUES ",
                "(?, ?, ?, ?)",
                "",
                logged,
                |st, i, c| {
                    st.raw_bind_parameter(i, generation)?;
                    st.raw_bind_parameter(i + 1, &c.idnat)?;
                    st.raw_bind_parameter(i + 2, c.kind.as_str())?;
                    st.raw_bind_parameter(i + 3, c.id_group)?;
                    Ok(4)
                },
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// [`crate::Store::put_memos`] on SQLite: `memos` (removals included) come sorted by key, `bases` are whole
    /// partitions' base values.
    pub(crate) async fn put_memos(&self, memos: Vec<Memo>, bases: Vec<(i64, Vec<u8>)>) -> Result<()> {
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut base = tx.prepare_cached(&MEMO_BASE_INSERT.replace('$', "?"))?;
                for (part, blob) in &bases {
                    base.execute(params![part, blob])?;
                }
            }
            insert_rows(&tx, &format!("{MEMO_INSERT}VALUES "), "(?, ?, ?, ?, ?)", MEMO_UPSERT, &memos, |st, i, m| {
                let (raw, record) = stored_hashes(m);
                st.raw_bind_parameter(i, part_number(m.part)?)?;
                st.raw_bind_parameter(i + 1, &m.idnat)?;
                st.raw_bind_parameter(i + 2, &raw[..])?;
                st.raw_bind_parameter(i + 3, &record[..])?;
                st.raw_bind_parameter(i + 4, &m.facts[..])?;
                Ok(5)
            })?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

/// Rows a multi-row `INSERT` takes: starting a statement costs SQLite about what inserting a row does, so a statement
/// of one row doubled SQLite's share of a first load (measured: "The morning of 2026-12-03" in `docs/benchmarks.md`).
const ROWS: usize = 64;

/// Insert `items` with `head` + `ROWS` copies of `row` (comma-separated) + `tail`, the rest one row a statement;
/// `bind(statement, first parameter's index, item)` binds one row's values and says how many.
fn insert_rows<T>(
    tx: &rusqlite::Transaction<'_>,
    head: &str,
    row: &str,
    tail: &str,
    items: &[T],
    bind: impl Fn(&mut rusqlite::Statement<'_>, usize, &T) -> Result<usize>,
) -> Result<()> {
    let sql = |rows: usize| format!("{head}{}{tail}", vec![row; rows].join(", "));
    let mut chunks = items.chunks_exact(ROWS);
    if chunks.len() > 0 {
        let mut st = tx.prepare_cached(&sql(ROWS))?;
        for chunk in chunks.by_ref() {
            let mut i = 1;
            for item in chunk {
                i += bind(&mut st, i, item)?;
            }
            st.raw_execute()?;
        }
    }
    if !chunks.remainder().is_empty() {
        let mut st = tx.prepare_cached(&sql(1))?;
        for item in chunks.remainder() {
            bind(&mut st, 1, item)?;
            st.raw_execute()?;
        }
    }
    Ok(())
}

/// A partition's number as SQLite stores it.
fn part_number(part: usize) -> Result<i64> {
    i64::try_from(part).map_err(|_| Error::Invalid(format!("partition {part} out of range")))
}

/// Open the store's file for writing, with the pool's writer pragmas (`Store::open`).
fn open(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(60))?;
    // WAL is the file's own mode (set by the pool when it created the file); these are the connection's.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", "-32768")?;
    conn.pragma_update(None, "wal_autocheckpoint", "16384")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(8);
    Ok(conn)
}
