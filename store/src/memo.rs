//! The sync's memo of each person's raw lines (`person_memo`, migration 0006): the hash of their lines, the hash of
//! the record those lines gave, and what the person adds to a run's counters, opaque to the store. The ingest crate
//! trusts a row only when the served record's hash is its [`Memo::record`], so the memo is a cache of a pure function
//! and never has to follow generations: a held, abandoned or approved generation leaves it right.

use crate::{BATCH, BeginWrite, Error, Pool, Result, Store, with_pool};
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, Row};
use std::ops::Range;

/// A memo's row, before its values (both backends' bulk paths).
pub(crate) const MEMO_INSERT: &str = "INSERT INTO person_memo (part, idnat, raw_hash, record_hash, facts) ";
/// After the values: a newer memo of the same person replaces the old one.
pub(crate) const MEMO_UPSERT: &str = " ON CONFLICT (part, idnat) DO UPDATE SET raw_hash = excluded.raw_hash, \
     record_hash = excluded.record_hash, facts = excluded.facts";

/// One person's memo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memo {
    /// The sync's partition of the person (rows are read a range of partitions at a time).
    pub part: usize,
    /// The person's idNat.
    pub idnat: String,
    /// The hash of their raw lines.
    pub raw: u128,
    /// The hash of the record those lines gave ([`crate::record`]'s change hash).
    pub record: u128,
    /// What the person adds to a run's counters, as the ingest crate encodes it.
    pub facts: Vec<u8>,
}

fn u128_of(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    let n = b.len().min(16);
    a[..n].copy_from_slice(&b[..n]);
    u128::from_be_bytes(a)
}

impl Store {
    /// The memos of the partitions in `parts`, in partition order (within a partition, in no set order: the sync
    /// looks them up by idNat).
    ///
    /// On SQLite, one row per partition: its memos concatenated by SQLite (see `slices`), a 1.7 million rows read
    /// at national size taking most of its time in sqlx's hand-over of each row otherwise. The concatenation has no
    /// `ORDER BY` of its own: SQLite would copy every memo into a temporary index to sort it, about 0.8 s of CPU
    /// per national re-sync.
    pub async fn memos(&self, parts: Range<usize>) -> Result<Vec<Memo>> {
        let (from, to) = (parts.start as i64, parts.end as i64);
        let mut out = Vec::new();
        match self.pool() {
            Pool::Sqlite(pool) => {
                let mut rows = sqlx::query(
                    "SELECT part, CAST(group_concat(length(CAST(idnat AS BLOB)) || ':' || idnat \
                     || length(raw_hash) || ':' || raw_hash || length(record_hash) || ':' || record_hash \
                     || length(facts) || ':' || facts, '') AS BLOB) \
                     FROM person_memo WHERE part >= $1 AND part < $2 GROUP BY part ORDER BY part",
                )
                .bind(from)
                .bind(to)
                .fetch(pool);
                while let Some(r) = rows.try_next().await? {
                    let part = usize::try_from(r.get::<i64, _>(0)).unwrap_or(0);
                    let mut fields = crate::slices::Prefixed::new(r.try_get::<&[u8], _>(1)?);
                    while !fields.is_empty() {
                        let mut next =
                            || fields.bytes().ok_or_else(|| Error::Invalid("a memo read back is malformed".into()));
                        let idnat = std::str::from_utf8(next()?)
                            .map_err(|_| Error::Invalid("a memo's idNat is not UTF-8".into()))?;
                        let (raw, record, facts) = (next()?, next()?, next()?);
                        out.push(Memo {
                            part,
                            idnat: idnat.to_string(),
                            raw: u128_of(raw),
                            record: u128_of(record),
                            facts: facts.to_vec(),
                        });
                    }
                }
            }
            Pool::Postgres(pool) => {
                let mut rows = sqlx::query(
                    "SELECT part, idnat, raw_hash, record_hash, facts FROM person_memo \
                     WHERE part >= $1 AND part < $2 ORDER BY part",
                )
                .bind(from)
                .bind(to)
                .fetch(pool);
                while let Some(r) = rows.try_next().await? {
                    let (raw, record): (&[u8], &[u8]) = (r.get(2), r.get(3));
                    out.push(Memo {
                        part: usize::try_from(r.get::<i64, _>(0)).unwrap_or(0),
                        idnat: r.get(1),
                        raw: u128_of(raw),
                        record: u128_of(record),
                        facts: r.get(4),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Write memos (replacing a person's previous one) and remove those of persons gone (`gone`: partition and
    /// idNat), in one transaction.
    pub async fn put_memos(&self, mut memos: Vec<Memo>, gone: &[(usize, String)]) -> Result<()> {
        if memos.is_empty() && gone.is_empty() {
            return Ok(());
        }
        // In key order: a wave's rows are then appended to its partitions' ranges.
        memos.sort_unstable_by(|a, b| (a.part, &a.idnat).cmp(&(b.part, &b.idnat)));
        let pool = match self.pool() {
            Pool::Sqlite(_) => return self.sqlite_writer()?.put_memos(memos, gone.to_vec()).await,
            Pool::Postgres(pool) => pool,
        };
        let mut tx = pool.begin_write().await?;
        for chunk in memos.chunks(BATCH) {
            let mut q = QueryBuilder::new(MEMO_INSERT);
            q.push_values(chunk, |mut b, m| {
                b.push_bind(m.part as i64)
                    .push_bind(m.idnat.as_str())
                    .push_bind(m.raw.to_be_bytes().to_vec())
                    .push_bind(m.record.to_be_bytes().to_vec())
                    .push_bind(m.facts.as_slice());
            });
            q.push(MEMO_UPSERT);
            q.build().execute(&mut *tx).await?;
        }
        for (part, idnat) in gone {
            sqlx::query("DELETE FROM person_memo WHERE part = $1 AND idnat = $2")
                .bind(*part as i64)
                .bind(idnat.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forget every memo (the next sync parses every person again).
    pub async fn clear_memos(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM person_memo").execute(pool).await?;
        });
        Ok(())
    }
}
