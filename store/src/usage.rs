//! Usage indicators: calls per client service, endpoint and outcome, and distinct professionals.

use crate::{BeginWrite, Result, Store, with_pool};
use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use std::collections::{BTreeMap, HashSet};

/// The hash a professional asked about is recorded as (xxh3, 64 bits: for 1.7 million idNats a collision is about
/// one chance in ten million).
pub fn subject_hash(idnat: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(idnat.as_bytes())
}

/// The professionals one client asked about on one day, since the last flush: one row of sorted distinct hashes,
/// 8 bytes each (little endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectBatch {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Client name.
    pub client: String,
    blob: Vec<u8>,
}

impl SubjectBatch {
    /// A batch of [`subject_hash`]es (in any order, repeats allowed).
    pub fn new(day: String, client: String, mut hashes: Vec<u64>) -> SubjectBatch {
        hashes.sort_unstable();
        hashes.dedup();
        SubjectBatch { day, client, blob: hashes.iter().flat_map(|h| h.to_le_bytes()).collect() }
    }

    /// A batch of the idNats asked about.
    pub fn of_idnats<'a>(day: &str, client: &str, idnats: impl IntoIterator<Item = &'a str>) -> SubjectBatch {
        Self::new(day.into(), client.into(), idnats.into_iter().map(subject_hash).collect())
    }

    /// Its hashes, sorted.
    pub fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        hashes_of(&self.blob)
    }
}

fn hashes_of(blob: &[u8]) -> impl Iterator<Item = u64> + '_ {
    blob.chunks_exact(8).map(|h| {
        let mut a = [0u8; 8];
        a.copy_from_slice(h);
        u64::from_le_bytes(a)
    })
}

/// Calls to add to a day's counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Client name.
    pub client: String,
    /// Endpoint name.
    pub endpoint: String,
    /// Outcome.
    pub outcome: String,
}

/// One client's indicators over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// Client name.
    pub client: String,
    /// Calls, all endpoints.
    pub calls: i64,
    /// Distinct professionals asked about (counted per day, summed over days).
    pub distinct_professionals: i64,
    /// Eligibility decisions that said yes.
    pub eligible: i64,
    /// Eligibility decisions that said no.
    pub refused: i64,
    /// Calls per endpoint and outcome (`claims/ok`, `eligibility/refused` ...).
    pub by_endpoint: BTreeMap<String, i64>,
}

/// Calls of one client to one endpoint with one outcome on one day.
struct UsageRow {
    day: String,
    client: String,
    endpoint: String,
    outcome: String,
    calls: i64,
}

impl UsageRow {
    fn eligible(&self) -> i64 {
        if (self.endpoint.as_str(), self.outcome.as_str()) == ("eligibility", "eligible") { self.calls } else { 0 }
    }

    fn refused(&self) -> i64 {
        if (self.endpoint.as_str(), self.outcome.as_str()) == ("eligibility", "refused") { self.calls } else { 0 }
    }
}

/// One client's indicators on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Client name.
    pub client: String,
    /// Calls, all endpoints.
    pub calls: i64,
    /// Distinct professionals asked about that day.
    pub distinct_professionals: i64,
    /// Eligibility decisions that said yes.
    pub eligible: i64,
    /// Eligibility decisions that said no.
    pub refused: i64,
}

impl Store {
    /// Add counters and subjects (one transaction).
    pub async fn record_usage(&self, counts: &[(UsageKey, i64)], subjects: &[SubjectBatch]) -> Result<()> {
        with_pool!(self, pool => {
            if counts.is_empty() && subjects.is_empty() {
                return Ok(());
            }
            let mut tx = pool.begin_write().await?;
            for chunk in counts.chunks(500) {
                let mut q = QueryBuilder::new("INSERT INTO usage_count (day, client, endpoint, outcome, calls) ");
                q.push_values(chunk, |mut b, (k, n)| {
                    b.push_bind(&k.day).push_bind(&k.client).push_bind(&k.endpoint).push_bind(&k.outcome).push_bind(*n);
                });
                q.push(" ON CONFLICT (day, client, endpoint, outcome) DO UPDATE SET calls = usage_count.calls + excluded.calls");
                q.build().execute(&mut *tx).await?;
            }
            for b in subjects.iter().filter(|b| !b.blob.is_empty()) {
                sqlx::query("INSERT INTO usage_subject_batch (day, client, subjects) VALUES ($1, $2, $3)")
                    .bind(&b.day)
                    .bind(&b.client)
                    .bind(&b.blob)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Remove the usage records (counters and the professionals asked about) of days before `before_day`
    /// (`YYYY-MM-DD`); returns how many rows went.
    pub async fn purge_usage_before(&self, before_day: &str) -> Result<u64> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let a = sqlx::query("DELETE FROM usage_count WHERE day < $1").bind(before_day).execute(&mut *tx).await?;
            let b = sqlx::query("DELETE FROM usage_subject WHERE day < $1").bind(before_day).execute(&mut *tx).await?;
            let c = sqlx::query("DELETE FROM usage_subject_batch WHERE day < $1")
                .bind(before_day)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
        })
    }

    /// The calls (day, client, endpoint, outcome, calls) and the distinct professionals (day, client, count) since
    /// `since_day`, by day: what both reports fold.
    async fn usage_rows(&self, since_day: &str) -> Result<(Vec<UsageRow>, Vec<(String, String, i64)>)> {
        with_pool!(self, pool => {
            let calls = sqlx::query(
                "SELECT day, client, endpoint, outcome, CAST(SUM(calls) AS BIGINT) FROM usage_count WHERE day >= $1 \
                 GROUP BY day, client, endpoint, outcome",
            )
            .bind(since_day)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| UsageRow { day: r.get(0), client: r.get(1), endpoint: r.get(2), outcome: r.get(3), calls: r.get(4) })
            .collect();
            // Distinct professionals per day and client: the hashes of both tables, one day and client at a time
            // (memory bounded by one day's distinct professionals of one client).
            let mut subjects: Vec<(String, String, i64)> = Vec::new();
            let mut seen: HashSet<u64> = HashSet::new();
            let mut rows = sqlx::query(
                "SELECT day, client, subjects, NULL FROM usage_subject_batch WHERE day >= $1 \
                 UNION ALL SELECT day, client, NULL, idnat FROM usage_subject WHERE day >= $1 ORDER BY 1, 2",
            )
            .bind(since_day)
            .fetch(pool);
            while let Some(r) = rows.try_next().await? {
                let (day, client): (String, String) = (r.get(0), r.get(1));
                if subjects.last().is_none_or(|(d, c, _)| (d, c) != (&day, &client)) {
                    seen.clear();
                    subjects.push((day, client, 0));
                }
                let blob: Option<Vec<u8>> = r.get(2);
                let idnat: Option<String> = r.get(3);
                seen.extend(blob.as_deref().map(hashes_of).into_iter().flatten());
                seen.extend(idnat.as_deref().map(subject_hash));
                if let Some(last) = subjects.last_mut() {
                    last.2 = seen.len() as i64;
                }
            }
            Ok((calls, subjects))
        })
    }

    /// Indicators per client since a day (`YYYY-MM-DD`, inclusive), by client name.
    pub async fn usage_since(&self, since_day: &str) -> Result<Vec<UsageReport>> {
        let (calls, subjects) = self.usage_rows(since_day).await?;
        let mut out: BTreeMap<String, UsageReport> = BTreeMap::new();
        for r in calls {
            let e = out
                .entry(r.client.clone())
                .or_insert_with(|| UsageReport { client: r.client.clone(), ..Default::default() });
            e.calls += r.calls;
            e.eligible += r.eligible();
            e.refused += r.refused();
            *e.by_endpoint.entry(format!("{}/{}", r.endpoint, r.outcome)).or_default() += r.calls;
        }
        // A professional counts once a day: the days' counts add up.
        for (_, client, n) in subjects {
            out.entry(client.clone())
                .or_insert_with(|| UsageReport { client, ..Default::default() })
                .distinct_professionals += n;
        }
        Ok(out.into_values().collect())
    }

    /// Each client's indicators by day since `since_day` (inclusive), by day then client.
    pub async fn usage_by_day(&self, since_day: &str) -> Result<Vec<UsageDay>> {
        let (calls, subjects) = self.usage_rows(since_day).await?;
        let mut out: BTreeMap<(String, String), UsageDay> = BTreeMap::new();
        for r in calls {
            let e = out.entry((r.day.clone(), r.client.clone())).or_insert_with(|| UsageDay {
                day: r.day.clone(),
                client: r.client.clone(),
                ..Default::default()
            });
            e.calls += r.calls;
            e.eligible += r.eligible();
            e.refused += r.refused();
        }
        for (day, client, n) in subjects {
            out.entry((day.clone(), client.clone()))
                .or_insert_with(|| UsageDay { day, client, ..Default::default() })
                .distinct_professionals = n;
        }
        Ok(out.into_values().collect())
    }
}
