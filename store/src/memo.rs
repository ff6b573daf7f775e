//! The sync's memo of each person's raw lines (`person_memo`, migration 0006): the hash of their lines, the hash of
//! the record those lines gave, and what the person adds to a run's counters, opaque to the store. The ingest crate
//! trusts a row only when the served record's hash is its [`Memo::record`], so the memo is a cache of a pure function
//! and never has to follow generations: a held, abandoned or approved generation leaves it right.
//!
//! A partition of which nothing is memoised (a first load's: the sync writes whole partitions a wave at a time) is
//! written as one value, `person_memo_base` (migration 0011): 1.7 million rows inserted one by one were about 6 % of a
//! national first load. Rows written later override it person by person: a newer memo, or a removal (a row without
//! hashes nor facts) when the person is gone. [`Store::memos`] gives the result, so callers see one memo per person.

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

/// A partition's base memos, written when nothing is memoised for it (migration 0011).
pub(crate) const MEMO_BASE_INSERT: &str = "INSERT INTO person_memo_base (part, memos) VALUES ($1, $2) \
     ON CONFLICT (part) DO UPDATE SET memos = excluded.memos";

/// Whether a memo row is a removal: the person is gone, and their base memo with them. A memo as the sync makes it
/// always has a record hash; a removal is written with no hashes and no facts, and read back as hashes of zero.
pub(crate) fn is_removal(m: &Memo) -> bool {
    m.raw == 0 && m.record == 0 && m.facts.is_empty()
}

/// A memo's two hashes as stored (line hash, record hash): 16 bytes each, none for a removal.
pub(crate) fn stored_hashes(m: &Memo) -> (Vec<u8>, Vec<u8>) {
    if is_removal(m) {
        (Vec::new(), Vec::new())
    } else {
        (m.raw.to_be_bytes().to_vec(), m.record.to_be_bytes().to_vec())
    }
}

/// A partition's memos as one value: each field its length in bytes, `:`, its bytes (the layout `memos` reads).
fn encode_base(memos: &[Memo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(memos.iter().map(|m| m.idnat.len() + m.facts.len() + 48).sum());
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(bytes.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(bytes);
    };
    for m in memos {
        field(&mut out, m.idnat.as_bytes());
        field(&mut out, &m.raw.to_be_bytes());
        field(&mut out, &m.record.to_be_bytes());
        field(&mut out, &m.facts);
    }
    out
}

/// Give each memo of a partition's memos as one value (a base, or SQLite's concatenation of its rows) to `f`.
fn decode_memos(part: usize, blob: &[u8], mut f: impl FnMut(Memo)) -> Result<()> {
    let mut fields = crate::slices::Prefixed::new(blob);
    while !fields.is_empty() {
        let mut next = || fields.bytes().ok_or_else(|| Error::Invalid("a memo read back is malformed".into()));
        let idnat = std::str::from_utf8(next()?).map_err(|_| Error::Invalid("a memo's idNat is not UTF-8".into()))?;
        let (raw, record, facts) = (next()?, next()?, next()?);
        f(Memo { part, idnat: idnat.to_string(), raw: u128_of(raw), record: u128_of(record), facts: facts.to_vec() });
    }
    Ok(())
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
                    decode_memos(part, r.try_get::<&[u8], _>(1)?, |m| out.push(m))?;
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
        self.with_base(parts, out).await
    }

    /// The memos of `rows` (person_memo's, in partition order) over the base memos of the partitions in `parts`
    /// (`person_memo_base`, migration 0011): a row replaces its person's base memo, and a removal (a row with empty
    /// hashes) hides it and is not returned. In partition order.
    async fn with_base(&self, parts: Range<usize>, rows: Vec<Memo>) -> Result<Vec<Memo>> {
        let (from, to) = (parts.start as i64, parts.end as i64);
        let bases: Vec<(i64, Vec<u8>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT part, memos FROM person_memo_base WHERE part >= $1 AND part < $2 ORDER BY part")
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        if bases.is_empty() {
            return Ok(rows.into_iter().filter(|m| !is_removal(m)).collect());
        }
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        for (part, blob) in bases {
            let part = usize::try_from(part).unwrap_or(0);
            while rows.peek().is_some_and(|m| m.part < part) {
                out.extend(rows.next().filter(|m| !is_removal(m)));
            }
            let mut own = std::collections::HashSet::new();
            while rows.peek().is_some_and(|m| m.part == part) {
                if let Some(m) = rows.next() {
                    own.insert(m.idnat.clone());
                    if !is_removal(&m) {
                        out.push(m);
                    }
                }
            }
            decode_memos(part, &blob, |m| {
                if !own.contains(&m.idnat) {
                    out.push(m);
                }
            })?;
        }
        out.extend(rows.filter(|m| !is_removal(m)));
        Ok(out)
    }

    /// Whether nothing is memoised for partition `part` (neither a base nor a row): a first load's partition.
    async fn memo_empty(&self, part: usize) -> Result<bool> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(
                "SELECT NOT EXISTS (SELECT 1 FROM person_memo WHERE part = $1) \
                 AND NOT EXISTS (SELECT 1 FROM person_memo_base WHERE part = $1)",
            )
            .bind(part as i64)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Write memos (replacing a person's previous one) and remove those of persons gone (`gone`: partition and
    /// idNat), in one transaction.
    pub async fn put_memos(&self, mut memos: Vec<Memo>, gone: &[(usize, String)]) -> Result<()> {
        if memos.is_empty() && gone.is_empty() {
            return Ok(());
        }
        // In key order: a wave's rows are then appended to its partitions' ranges.
        memos.sort_unstable_by(|a, b| (a.part, &a.idnat).cmp(&(b.part, &b.idnat)));
        // A partition of which nothing is memoised (a first load's: a wave holds whole partitions) is written as one
        // base value; the others as rows, over their base.
        let mut bases = Vec::new();
        let mut rows = Vec::with_capacity(memos.len());
        for chunk in memos.chunk_by(|a, b| a.part == b.part) {
            if self.memo_empty(chunk[0].part).await? {
                bases.push((chunk[0].part as i64, encode_base(chunk)));
            } else {
                rows.extend_from_slice(chunk);
            }
        }
        // A person gone keeps a removal row, which hides their base memo.
        rows.extend(gone.iter().map(|(part, idnat)| Memo {
            part: *part,
            idnat: idnat.clone(),
            raw: 0,
            record: 0,
            facts: Vec::new(),
        }));
        rows.sort_unstable_by(|a, b| (a.part, &a.idnat).cmp(&(b.part, &b.idnat)));
        let pool = match self.pool() {
            Pool::Sqlite(_) => return self.sqlite_writer()?.put_memos(rows, bases).await,
            Pool::Postgres(pool) => pool,
        };
        let mut tx = pool.begin_write().await?;
        for (part, blob) in &bases {
            sqlx::query(MEMO_BASE_INSERT).bind(part).bind(blob.as_slice()).execute(&mut *tx).await?;
        }
        for chunk in rows.chunks(BATCH) {
            let mut q = QueryBuilder::new(MEMO_INSERT);
            q.push_values(chunk, |mut b, m| {
                let (raw, record) = stored_hashes(m);
                b.push_bind(m.part as i64)
                    .push_bind(m.idnat.as_str())
                    .push_bind(raw)
                    .push_bind(record)
                    .push_bind(m.facts.as_slice());
            });
            q.push(MEMO_UPSERT);
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forget every memo (the next sync parses every person again).
    pub async fn clear_memos(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM person_memo").execute(pool).await?;
            sqlx::query("DELETE FROM person_memo_base").execute(pool).await?;
        });
        Ok(())
    }
}
