//! Repacking ([`Store::repack`]): the records an older binary stored as text (encoding 1) rewritten in the current
//! encoding ([`crate::record::pack`]), in place.
//!
//! A sync writes what it changes in the current encoding, so without this a store written before encoding 2 keeps
//! the text of every person who never changes (ten times the bytes at national size). A record's hash is of its
//! canonical form, which both encodings hold, so repacking changes no hash and no answer: readers ([`unpack`]) read
//! either encoding, and a server may serve while it runs. A row whose text is not the canonical form its hash names
//! is left as it is, and counted.

use crate::record::{ZSTD_MAGIC, pack, unpack};
use crate::{BeginWrite, Pool, Result, Store};
use sqlx::Row;

/// How many rows [`Store::repack`] rewrites per transaction by default.
pub const BATCH_REPACK: usize = 2000;

/// What [`Store::repack`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repacked {
    /// Rows read as text and rewritten packed.
    pub records: u64,
    /// Their bytes as text.
    pub bytes_before: u64,
    /// Their bytes packed.
    pub bytes_after: u64,
    /// Rows left as text: their text does not hash to the hash stored beside it (never rewritten, so that nothing
    /// a later check could use is lost).
    pub left: u64,
}

/// Rows of text after a key, in key order (SQLite holds a text record as TEXT: `hex` of its first character is
/// `7B`, `{`; a packed one is a BLOB starting with zstd's magic number).
const TEXT_ROWS_SQLITE: &str = "SELECT idnat, valid_from, hash, record FROM person_version \
     WHERE (idnat, valid_from) > ($1, $2) AND hex(substr(record, 1, 1)) = '7B' \
     ORDER BY idnat, valid_from LIMIT $3";
const TEXT_ROWS_POSTGRES: &str = "SELECT idnat, valid_from, hash, record FROM person_version \
     WHERE (idnat, valid_from) > ($1, $2) AND substring(record from 1 for 1) = '\\x7b'::bytea \
     ORDER BY idnat, valid_from LIMIT $3";
/// One row rewritten (nothing else rewrites a stored version's record, and the caller holds the sync lock).
const REWRITE: &str = "UPDATE person_version SET record = $1 WHERE idnat = $2 AND valid_from = $3";

impl Store {
    /// Rewrite every record stored as text, in every version (served, history, held), in the current encoding: by
    /// batches of `batch` rows in key order, each batch in one transaction. The caller holds the sync lock
    /// ([`Store::lock_sync`]). Run again, it rewrites nothing more (rows left are counted again).
    pub async fn repack(&self, batch: usize) -> Result<Repacked> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut done = Repacked::default();
        let (mut after_idnat, mut after_from) = (String::new(), i64::MIN);
        loop {
            let sql = match self.pool() {
                Pool::Sqlite(_) => TEXT_ROWS_SQLITE,
                Pool::Postgres(_) => TEXT_ROWS_POSTGRES,
            };
            let rows = crate::with_pool!(self, pool => sqlx::query(sql)
                .bind(&after_idnat)
                .bind(after_from)
                .bind(batch)
                .fetch_all(pool)
                .await?
                .iter()
                .map(text_row)
                .collect::<Result<Vec<_>>>()?);
            let Some(last) = rows.last() else { break };
            (after_idnat, after_from) = (last.idnat.clone(), last.valid_from);
            let mut rewrites = Vec::with_capacity(rows.len());
            for row in rows {
                let hash = crate::record::hash_hex(xxhash_rust::xxh3::xxh3_128(row.text.as_bytes()));
                if hash != row.hash {
                    done.left += 1;
                    continue;
                }
                let packed = pack(&row.text)?;
                // Written only when it reads back as the same text.
                if !packed.starts_with(&ZSTD_MAGIC) || unpack(&packed)? != row.text {
                    done.left += 1;
                    continue;
                }
                done.records += 1;
                done.bytes_before += row.stored as u64;
                done.bytes_after += packed.len() as u64;
                rewrites.push((row, packed));
            }
            crate::with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (row, packed) in &rewrites {
                    sqlx::query(REWRITE)
                        .bind(packed.as_slice())
                        .bind(&row.idnat)
                        .bind(row.valid_from)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
        }
        Ok(done)
    }
}

/// A row stored as text.
struct TextRow {
    idnat: String,
    valid_from: i64,
    hash: String,
    /// How many bytes it takes as stored.
    stored: usize,
    text: String,
}

fn text_row<R: Row>(r: &R) -> Result<TextRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a [u8]: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let stored: &[u8] = r.try_get(3)?;
    Ok(TextRow {
        idnat: r.try_get(0)?,
        valid_from: r.try_get(1)?,
        hash: r.try_get(2)?,
        stored: stored.len(),
        text: unpack(stored)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSERT: &str =
        "INSERT INTO person_version (idnat, valid_from, valid_to, hash, record) VALUES ($1, $2, NULL, $3, $4)";

    fn hash(text: &str) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
    }

    /// Rows as the binaries of each encoding left them: (idNat, generation, hash, stored bytes; as text or not).
    async fn insert(store: &Store, rows: &[(&str, i64, String, Vec<u8>, bool)]) {
        for (idnat, from, hash, bytes, as_text) in rows {
            match store.pool() {
                // SQLite kept a text record as TEXT, a packed one as a BLOB.
                Pool::Sqlite(pool) => {
                    let q = sqlx::query(INSERT).bind(*idnat).bind(*from).bind(hash);
                    let q = match (as_text, std::str::from_utf8(bytes)) {
                        (true, Ok(text)) => q.bind(text.to_string()),
                        _ => q.bind(bytes.clone()),
                    };
                    q.execute(pool).await.expect("insert");
                }
                Pool::Postgres(pool) => {
                    let q = sqlx::query(INSERT).bind(*idnat).bind(*from).bind(hash).bind(bytes.clone());
                    q.execute(pool).await.expect("insert");
                }
            }
        }
    }

    async fn repack_rewrites_text_records_only(store: Store) {
        let texts: Vec<String> = (0..5).map(|i| format!("{{\"idnat\":\"8{i}\",\"n\":\"Léa \\\"{i}\\\"\"}}")).collect();
        let packed = pack(&texts[4]).expect("pack");
        let mut rows: Vec<(&str, i64, String, Vec<u8>, bool)> = Vec::new();
        for (i, idnat) in ["80", "81", "82"].into_iter().enumerate() {
            rows.push((idnat, 1, hash(&texts[i]), texts[i].clone().into_bytes(), true));
        }
        // A text whose hash is not its own: left as it is.
        rows.push(("83", 1, hash("something else"), texts[3].clone().into_bytes(), true));
        // Already packed.
        rows.push(("84", 1, hash(&texts[4]), packed.clone(), false));
        insert(&store, &rows).await;

        // Batches of two: the keys carry from one batch to the next.
        let done = store.repack(2).await.expect("repack");
        assert_eq!((done.records, done.left), (3, 1), "{done:?}");
        let before: usize = texts[..3].iter().map(String::len).sum();
        assert_eq!(done.bytes_before, before as u64);
        assert!(done.bytes_after > 0);
        for (i, idnat) in ["80", "81", "82", "83", "84"].into_iter().enumerate() {
            let read = store.person_at(idnat, 1).await.expect("read").expect("present");
            assert_eq!(read.record, texts[i], "{idnat} reads as it did");
        }
        let stored: Vec<(String, Vec<u8>)> = crate::with_pool!(store, pool => {
            sqlx::query("SELECT idnat, record FROM person_version ORDER BY idnat")
                .fetch_all(pool)
                .await
                .expect("rows")
                .iter()
                .map(|r| (r.get::<String, _>(0), r.get::<&[u8], _>(1).to_vec()))
                .collect()
        });
        for (idnat, bytes) in &stored {
            assert_eq!(bytes.starts_with(&ZSTD_MAGIC), idnat != "83", "{idnat}");
        }
        assert_eq!(stored.iter().find(|(i, _)| i == "84").map(|(_, b)| b), Some(&packed));

        // Nothing more to rewrite.
        let again = store.repack(1000).await.expect("repack again");
        assert_eq!((again.records, again.left), (0, 1));
    }

    #[tokio::test]
    async fn sqlite_repack_rewrites_text_records_only() {
        let dir = tempfile::tempdir().expect("tmp");
        repack_rewrites_text_records_only(Store::open(dir.path()).await.expect("open")).await;
    }

    #[tokio::test]
    async fn postgres_repack_rewrites_text_records_only() {
        let Some(admin) = crate::testing::postgres_admin_url() else { return };
        let url = crate::testing::fresh_database(&admin, "repack").await.expect("database");
        let dir = tempfile::tempdir().expect("tmp");
        repack_rewrites_text_records_only(Store::connect(dir.path(), Some(&url)).await.expect("open")).await;
    }
}
