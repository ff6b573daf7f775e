//! A generation's lifecycle: begin, write its changes (COPY on PostgreSQL, multi-row INSERT on SQLite), finish,
//! promote, hold, approve (with exclusions), abandon, and recover what a killed writer left.

use crate::{BeginWrite, Pool, implicit_in, now, serve_generation, state_in, with_pool};
use crate::{Change, ChangeKind, Error, GenerationInfo, GenerationRow, Result, Served, Store};
use sqlx::Row;
use std::collections::HashMap;

impl Store {
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
        // A first load interrupted while its keys were dropped: its rows are gone now, but make the keys anyway, so
        // that what is stored always has them outside a first load (`bulk.rs`).
        self.make_keys().await?;
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

    /// The newest `limit` generations, newest first, whatever their state.
    pub async fn generations(&self, limit: i64) -> Result<Vec<GenerationInfo>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT generation, run, state, created_at, promoted_at, persons FROM generation \
                 ORDER BY generation DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| GenerationInfo {
                    generation: r.get(0),
                    run: r.get(1),
                    state: r.get(2),
                    created_at: r.get(3),
                    promoted_at: r.get(4),
                    persons: r.get(5),
                })
                .collect())
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
            out.insert(idnat.to_string(), hash.to_string());
        })
        .await?;
        Ok(out)
    }

    /// Stream idNat and hash of every person current in the served generation into `f`, without holding
    /// them all at once (1.7 million at national size).
    ///
    /// On SQLite the rows come in slices of 65,536 rowids, each slice concatenated by SQLite into one value
    /// (length-prefixed, so that no idNat can break it): sqlx hands a row over at the cost of a copy of each value and
    /// a wake-up of the reading task, which took 4.3 to 7 s for the 1.7 million rows of a national re-sync where SQLite
    /// itself scans them in under a second (measured, `docs/benchmarks.md`).
    pub async fn for_each_current_hash(&self, mut f: impl FnMut(&str, &str)) -> Result<()> {
        use futures_util::TryStreamExt;
        match self.pool() {
            Pool::Sqlite(pool) => {
                let last: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(rowid) FROM person_version").fetch_one(pool).await?;
                let mut from = 0i64;
                while from <= last.unwrap_or(-1) {
                    let slice: Option<String> = sqlx::query_scalar(
                        "SELECT group_concat(length(CAST(idnat AS BLOB)) || ':' || idnat || \
                         length(CAST(hash AS BLOB)) || ':' || hash, '') \
                         FROM person_version WHERE rowid >= $1 AND rowid < $2 AND valid_to IS NULL",
                    )
                    .bind(from)
                    .bind(from.saturating_add(HASH_SLICE))
                    .fetch_one(pool)
                    .await?;
                    split_slice(slice.as_deref().unwrap_or(""), &mut f)?;
                    from = from.saturating_add(HASH_SLICE);
                }
            }
            Pool::Postgres(pool) => {
                let mut rows = sqlx::query("SELECT idnat, hash FROM person_version WHERE valid_to IS NULL").fetch(pool);
                while let Some(r) = rows.try_next().await? {
                    f(r.get(0), r.get(1));
                }
            }
        }
        Ok(())
    }

    /// Start a new generation for a run. A generation begun when nothing is stored can only create persons: its
    /// creations are read from its versions, not written to `change_log` (`implicit_creates`, migration 0009); on
    /// SQLite it is also written without its keys, which [`Store::finish_generation`] makes (`bulk.rs`).
    pub async fn begin_generation(&self, run: i64) -> Result<i64> {
        let empty = self.nothing_stored().await?;
        self.prepare_keys(empty).await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(generation), 0) + 1 FROM generation")
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO generation (generation, run, state, created_at, implicit_creates) \
                 VALUES ($1, $2, 'building', $3, $4)",
            )
                .bind(next)
                .bind(run)
                .bind(now())
                .bind(i64::from(empty))
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
    /// SQLite gets multi-row INSERTs of 64 rows, prepared once, on its bulk writer's connection (`sqlite_writer.rs`);
    /// PostgreSQL gets `COPY ... FROM STDIN`, its bulk path.
    pub async fn write_changes(&self, generation: i64, changes: Vec<Change>) -> Result<()> {
        match self.pool() {
            Pool::Sqlite(_) => self.sqlite_writer()?.write_changes(generation, changes).await?,
            Pool::Postgres(pool) => {
                let mut tx = pool.begin_write().await?;
                if state_in!(tx, generation).as_deref() != Some("building") {
                    return Err(Error::Invalid(format!("generation {generation} is not being built")));
                }
                let implicit = implicit_in!(tx, generation);
                if implicit {
                    only_creations(generation, &changes)?;
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
                for c in &changes {
                    if let Some((record, hash)) = &c.record {
                        copy_row(
                            &mut versions,
                            &[Some(&c.idnat), Some(&generation.to_string()), None, Some(hash), Some(&bytea(record))],
                        );
                    }
                    if implicit {
                        continue;
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

    /// Mark a generation complete (all changes written), with its person count, once its keys are made.
    pub async fn finish_generation(&self, generation: i64, persons: i64) -> Result<()> {
        self.make_keys().await?;
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
            let mut tx = pool.begin_write().await?;
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
            let mut tx = pool.begin_write().await?;
            let state = state_in!(tx, generation);
            if state.as_deref() != Some("held") {
                return Err(Error::Invalid(format!(
                    "generation {generation} is not held (state {}); `annuaire runs` lists held generations",
                    state.as_deref().unwrap_or("unknown")
                )));
            }
            if implicit_in!(tx, generation) {
                // Its versions are its creations, and it has no other change.
                if exclude.contains(&ChangeKind::Create) {
                    sqlx::query("DELETE FROM person_version WHERE valid_from = $1")
                        .bind(generation)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                return Ok(());
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

    /// Promote a held generation, first taking out the changes of the excluded kinds ([`Store::exclude_changes`],
    /// which a caller may have applied already: applying them again changes nothing): an excluded deletion keeps the
    /// person served as they were, an excluded update keeps the old record, an excluded creation leaves the person
    /// out. Returns the changes kept, by kind. The exclusions and the promotion are two transactions: between them the
    /// generation is still held, with its exclusions applied.
    pub async fn approve(&self, generation: i64, exclude: &[ChangeKind]) -> Result<HashMap<ChangeKind, i64>> {
        self.exclude_changes(generation, exclude).await?;
        let kept: Vec<(String, i64)> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let state = state_in!(tx, generation);
            if state.as_deref() != Some("held") {
                return Err(Error::Invalid(format!(
                    "generation {generation} is not held (state {}); `annuaire runs` lists held generations",
                    state.as_deref().unwrap_or("unknown")
                )));
            }
            let kept: Vec<(String, i64)> = if implicit_in!(tx, generation) {
                sqlx::query_as("SELECT 'create', COUNT(*) FROM person_version WHERE valid_from = $1")
                    .bind(generation)
                    .fetch_all(&mut *tx)
                    .await?
            } else {
                sqlx::query_as("SELECT change, COUNT(*) FROM change_log WHERE generation = $1 GROUP BY change")
                    .bind(generation)
                    .fetch_all(&mut *tx)
                    .await?
            };
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
        Ok(kept
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(k, n)| ChangeKind::parse(&k).map(|k| (k, n)))
            .collect())
    }

    /// Drop an unpromoted generation: delete its versions, reopen the versions it closed, forget its
    /// changes, and mark it `state` (`failed` or `superseded`). One transaction.
    pub async fn abandon(&self, generation: i64, state: &str) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if state_in!(tx, generation).as_deref() == Some("promoted") {
                return Err(Error::Invalid(format!("generation {generation} is served and cannot be abandoned")));
            }
            // The versions it wrote: every version of a generation whose creations are implicit (written without
            // the keys, perhaps, if it was interrupted: this does not need them), else those of its changes.
            let delete = if implicit_in!(tx, generation) {
                "DELETE FROM person_version WHERE valid_from = $1"
            } else {
                "DELETE FROM person_version WHERE valid_from = $1 AND idnat IN \
                 (SELECT idnat FROM change_log WHERE generation = $1)"
            };
            sqlx::query(delete).bind(generation).execute(&mut *tx).await?;
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
}

/// A generation whose creations are implicit has no other change (it was begun on an empty store): a change of
/// another kind is refused, not lost.
pub(crate) fn only_creations(generation: i64, changes: &[Change]) -> Result<()> {
    match changes.iter().find(|c| c.kind != ChangeKind::Create) {
        Some(c) => Err(Error::Invalid(format!(
            "generation {generation} was begun on an empty store and can only create persons, not {} {}",
            c.kind.as_str(),
            c.idnat
        ))),
        None => Ok(()),
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

/// A `bytea` in COPY's text format: `\x` and the bytes in hex (the backslash is escaped by [`copy_row`]).
fn bytea(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("\\x");
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// How many rowids of `person_version` one slice of [`Store::for_each_current_hash`] covers on SQLite (a slice's text
/// is about 45 bytes per current person: 3 MB).
pub(crate) const HASH_SLICE: i64 = 65_536;

/// Split a slice of length-prefixed `idnat`, `hash` pairs (`12:81010027138532:0123…`) and give each to `f`.
fn split_slice(text: &str, f: &mut impl FnMut(&str, &str)) -> Result<()> {
    let mut fields = crate::slices::Prefixed::new(text.as_bytes());
    while !fields.is_empty() {
        let idnat = fields.text().ok_or_else(malformed)?;
        let hash = fields.text().ok_or_else(malformed)?;
        f(idnat, hash);
    }
    Ok(())
}

fn malformed() -> Error {
    Error::Invalid("the served hashes read back from SQLite are malformed".into())
}
