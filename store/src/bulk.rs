//! SQLite's first load: a generation written into empty tables is written without the two keys (the unique indexes of
//! `person_version` and `change_log`), which are made once, by sorting, when the generation is finished.
//!
//! Why: the sync writes a wave of partitions per transaction, in idNat-hash order. With the keys in place, each of the
//! 64 waves of a national load inserted into nearly every leaf page of two B-trees larger than the page cache, so every
//! transaction rewrote them (35 s of writing for 1.7 million persons, measured; 12 s without the keys).
//!
//! Invariant: a generation that is `ready`, `held` or served has its keys. [`Store::finish_generation`] makes them
//! before it marks the generation `ready`; the keys are dropped only by [`Store::begin_generation`] when nothing at all
//! is stored (so no reader has anything to look up); a generation begun when rows exist, and [`Store::recover`], make
//! them again if a first load was interrupted. PostgreSQL keeps its primary keys (migration 0008).

use crate::{BeginWrite, Pool, Result, Store};

/// The keys: name, how to make one (`IF NOT EXISTS`: making them is also how a dropped pair is healed), how to drop it.
const KEYS: [(&str, &str, &str); 2] = [
    (
        "person_version_key",
        "CREATE UNIQUE INDEX IF NOT EXISTS person_version_key ON person_version (idnat, valid_from)",
        "DROP INDEX IF EXISTS person_version_key",
    ),
    (
        "change_log_key",
        "CREATE UNIQUE INDEX IF NOT EXISTS change_log_key ON change_log (generation, idnat)",
        "DROP INDEX IF EXISTS change_log_key",
    ),
];

impl Store {
    /// Whether nothing at all is stored: no version and no change (a first load, or the first after every generation
    /// was abandoned). A generation begun then only creates persons (`generation.implicit_creates`, migration 0009).
    pub(crate) async fn nothing_stored(&self) -> Result<bool> {
        const EMPTY: &str =
            "SELECT NOT EXISTS (SELECT 1 FROM person_version) AND NOT EXISTS (SELECT 1 FROM change_log)";
        Ok(crate::with_pool!(self, pool => sqlx::query_scalar(EMPTY).fetch_one(pool).await?))
    }

    /// At the start of a generation: on SQLite, drop the keys when nothing is stored (`empty`, from
    /// [`Store::nothing_stored`]), else make sure they are there.
    pub(crate) async fn prepare_keys(&self, empty: bool) -> Result<()> {
        let Pool::Sqlite(pool) = self.pool() else { return Ok(()) };
        if !empty {
            return self.make_keys().await;
        }
        let mut tx = pool.begin_write().await?;
        for (_, _, drop) in KEYS {
            sqlx::query(drop).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Make the keys where they are missing (nothing to do on PostgreSQL, nor on SQLite when they are there). A
    /// duplicate key, which the diff never writes, fails here, before the generation can be served.
    pub(crate) async fn make_keys(&self) -> Result<()> {
        use sqlx::Connection;
        let Pool::Sqlite(pool) = self.pool() else { return Ok(()) };
        let mut conn = pool.acquire().await?;
        // The sort that makes a key spills its runs to a temporary file, which stays in the page cache, not in the
        // process: with the connection's `temp_store = MEMORY` they were part of the first load's peak RSS (measured
        // by hand at national size: 735 MB, 675 MB with this).
        sqlx::query("PRAGMA temp_store = FILE").execute(&mut *conn).await?;
        let made = async {
            // Begun as every writing transaction of the store (`BeginWrite`), on this connection of the pool.
            let mut tx = conn.begin_with(crate::SQLITE_BEGIN_WRITE).await?;
            for (_, make, _) in KEYS {
                sqlx::query(make).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *conn).await?;
        made?;
        Ok(())
    }

    /// The keys missing from the store (SQLite's index names; none on PostgreSQL).
    pub async fn missing_keys(&self) -> Result<Vec<&'static str>> {
        let Pool::Sqlite(pool) = self.pool() else { return Ok(Vec::new()) };
        let mut missing = Vec::new();
        for (name, _, _) in KEYS {
            let there: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = $1)")
                    .bind(name)
                    .fetch_one(pool)
                    .await?;
            if !there {
                missing.push(name);
            }
        }
        Ok(missing)
    }
}
