//! Reads of a generation: one person, every person (streamed), its changes, a person's history, the changelog.

use crate::record::unpack;
use crate::{ChangeKind, ChangeRow, HistoryRow, Result, Store, StoredPerson, Version};
use crate::{implicit_in, with_pool};
use annuaire_schemas::IdType;
use sqlx::Row;

impl Store {
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
            row.map(|r| Ok(StoredPerson { record: unpack(r.try_get(0)?)?, hash: r.get(1), since_generation: r.get(2) }))
                .transpose()
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
            rows.into_iter().map(|r| Ok((r.get(0), unpack(r.try_get(1)?)?))).collect()
        })
    }

    /// Stream every record visible in a generation, in idNat order, into `f` (for building an index).
    pub async fn for_each_person_at<E>(
        &self,
        generation: i64,
        mut f: impl FnMut(&str) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        self.for_each_version_at(generation, |record, _| f(record)).await
    }

    /// [`Store::for_each_person_at`], with the generation that wrote each version (FHIR's `meta.versionId`).
    pub async fn for_each_version_at<E>(
        &self,
        generation: i64,
        mut f: impl FnMut(&str, i64) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        use futures_util::TryStreamExt;
        with_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT record, valid_from FROM person_version \
                 WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) ORDER BY idnat",
            )
            .bind(generation)
            .fetch(pool);
            while let Some(r) = rows.try_next().await? {
                if let Err(e) = f(&unpack(r.try_get(0)?)?, r.get::<i64, _>(1)) {
                    return Ok(Err(e));
                }
            }
        });
        Ok(Ok(()))
    }

    /// One page of the records visible in a generation, in idNat order after `after`, with the generation that wrote
    /// each (idNat, record, version): what a long export reads page by page, so that its work between pages can run
    /// off the async threads.
    pub async fn versions_page_at(
        &self,
        generation: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT idnat, record, valid_from FROM person_version \
                 WHERE idnat > $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) ORDER BY idnat LIMIT $3",
            )
            .bind(after)
            .bind(generation)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(|r| Ok((r.get(0), unpack(r.try_get(1)?)?, r.get(2)))).collect()
        })
    }

    /// A person as a reader of `generation` may see them: the version visible then, or, when they were deleted by
    /// `generation` or before, their last version with the generation that deleted them (FHIR's `active: false`).
    pub async fn version_at(&self, idnat: &str, generation: i64) -> Result<Option<Version>> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT record, valid_from, valid_to FROM person_version WHERE idnat = $1 AND valid_from <= $2 \
                 ORDER BY valid_from DESC LIMIT 1",
            )
            .bind(idnat)
            .bind(generation)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                let until: Option<i64> = r.get(2);
                Ok(Version {
                    record: unpack(r.try_get(0)?)?,
                    since_generation: r.get(1),
                    deleted_by: until.filter(|&u| u <= generation),
                })
            })
            .transpose()
        })
    }

    /// Persons removed from the directory as a reader of `generation` sees it (deleted by a promoted generation up to
    /// it, not back since), in idNat order after `after`, at most `limit`, the deleting generation within `deleted_in`
    /// (inclusive bounds); and how many there are in all.
    pub async fn removed_page(
        &self,
        generation: i64,
        deleted_in: (Option<i64>, Option<i64>),
        after: &str,
        limit: i64,
    ) -> Result<(Vec<String>, i64)> {
        let (lo, hi) = (deleted_in.0.unwrap_or(0), deleted_in.1.unwrap_or(i64::MAX).min(generation));
        let from = "FROM change_log c JOIN generation g ON g.generation = c.generation \
             WHERE c.change = 'delete' AND g.promoted_at IS NOT NULL AND c.generation BETWEEN $1 AND $2 \
             AND NOT EXISTS (SELECT 1 FROM person_version v WHERE v.idnat = c.idnat AND v.valid_from <= $3 \
                 AND (v.valid_to IS NULL OR v.valid_to > $3)) \
             AND NOT EXISTS (SELECT 1 FROM change_log l WHERE l.idnat = c.idnat AND l.change = 'delete' \
                 AND l.generation > c.generation AND l.generation <= $3)";
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {from}")))
                .bind(lo)
                .bind(hi)
                .bind(generation)
                .fetch_one(pool)
                .await?;
            let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT c.idnat {from} AND c.idnat > $4 ORDER BY c.idnat LIMIT $5"
            )))
            .bind(lo)
            .bind(hi)
            .bind(generation)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            Ok((ids, total))
        })
    }

    /// [`Store::version_at`] for many idNats in one query (a page of a FHIR search), in no particular order; an idNat
    /// without a version by `generation` is left out.
    pub async fn versions_at(&self, idnats: &[String], generation: i64) -> Result<Vec<(String, Version)>> {
        if idnats.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..idnats.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT idnat, record, valid_from, valid_to FROM person_version WHERE valid_from <= $1 AND idnat IN ({}) \
             ORDER BY idnat, valid_from DESC",
            marks.join(", ")
        );
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(generation);
            for id in idnats {
                q = q.bind(id);
            }
            q.fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| {
                    let until: Option<i64> = r.get(3);
                    let v = Version {
                        record: unpack(r.try_get(1)?)?,
                        since_generation: r.get(2),
                        deleted_by: until.filter(|&u| u <= generation),
                    };
                    Ok((r.get::<String, _>(0), v))
                })
                .collect::<Result<Vec<_>>>()?
        });
        let mut out: Vec<(String, Version)> = Vec::with_capacity(idnats.len());
        for (id, v) in rows {
            // The newest version of each idNat comes first.
            if out.last().is_none_or(|(last, _)| *last != id) {
                out.push((id, v));
            }
        }
        Ok(out)
    }

    /// Every promoted generation (including those served before the current one) and when it was promoted, oldest
    /// first: what turns FHIR's instants (`_lastUpdated`, `_since`) into generations and back.
    pub async fn promotions(&self) -> Result<Vec<(i64, String)>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT generation, promoted_at FROM generation WHERE promoted_at IS NOT NULL ORDER BY generation",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// The changes a generation made (promoted or not), by idNat.
    pub async fn changes_of(&self, generation: i64) -> Result<Vec<(String, ChangeKind)>> {
        with_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            if implicit_in!(conn, generation) {
                let ids: Vec<String> =
                    sqlx::query_scalar("SELECT idnat FROM person_version WHERE valid_from = $1 ORDER BY idnat")
                        .bind(generation)
                        .fetch_all(&mut *conn)
                        .await?;
                return Ok(ids.into_iter().map(|id| (id, ChangeKind::Create)).collect());
            }
            let rows = sqlx::query("SELECT idnat, change FROM change_log WHERE generation = $1 ORDER BY idnat")
                .bind(generation)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows.into_iter().filter_map(|r| Some((r.get(0), ChangeKind::parse(r.get::<&str, _>(1))?))).collect())
        })
    }

    /// What promoted generations did to one person, oldest first: when they were created (activated), updated,
    /// deleted (deactivated) or created again. A creation by a generation whose creations are implicit is its version.
    pub async fn history_of(&self, idnat: &str) -> Result<Vec<HistoryRow>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.generation, c.change, g.promoted_at FROM change_log c \
                 JOIN generation g ON g.generation = c.generation \
                 WHERE c.idnat = $1 AND g.state = 'promoted' \
                 UNION ALL \
                 SELECT v.valid_from, 'create', g.promoted_at FROM person_version v \
                 JOIN generation g ON g.generation = v.valid_from \
                 WHERE v.idnat = $1 AND g.state = 'promoted' AND g.implicit_creates <> 0 \
                 ORDER BY 1",
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
        let mut out = Vec::new();
        self.for_each_change_since(since, |c| -> Result<()> {
            out.push(c);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// [`Store::changes_since`] handed to `f` one at a time, read 10,000 at a time (`CHANGE_PAGE`) after the last idNat read
    /// (no offset to skip again), so that memory holds a page whatever the size of the changelog: `annuaire changes`
    /// over a national first load lists 1.7 million.
    pub async fn for_each_change_since<E: From<crate::Error>>(
        &self,
        since: i64,
        mut f: impl FnMut(ChangeRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.for_each_change_by(since, CHANGE_PAGE, &mut f).await
    }

    /// [`Store::for_each_change_since`], `page` at a time.
    pub(crate) async fn for_each_change_by<E: From<crate::Error>>(
        &self,
        since: i64,
        page: i64,
        f: &mut impl FnMut(ChangeRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        for g in self.change_counts(since).await? {
            let mut after: Option<String> = None;
            loop {
                let rows = self.changes_in(&g, after.as_deref(), page, 0).await?;
                let full = rows.len() as i64 == page;
                after = rows.last().map(|c| c.id.clone());
                for c in rows {
                    f(c)?;
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One page of [`Store::changes_since`], in the same order, and how many changes there are in all: the page is
    /// cut by the database, so memory holds one page whatever the size of the changelog.
    pub async fn changes_page(&self, since: i64, limit: i64, offset: i64) -> Result<(Vec<ChangeRow>, i64)> {
        let counts = self.change_counts(since).await?;
        let total = counts.iter().map(|c| c.changes).sum();
        Ok((self.change_rows(&counts, limit, offset).await?, total))
    }

    /// How many changes each promoted generation after `since` made, oldest first (those that made none left out).
    /// A generation whose creations are implicit counts its versions (a scan of the versions' key; only a first load
    /// is such a generation, so a feed read from after it scans nothing).
    async fn change_counts(&self, since: i64) -> Result<Vec<GenerationChanges>> {
        with_pool!(self, pool => {
            let logged: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT c.generation, COUNT(*) FROM change_log c JOIN generation g ON g.generation = c.generation \
                 WHERE c.generation > $1 AND g.state = 'promoted' GROUP BY c.generation",
            )
            .bind(since)
            .fetch_all(pool)
            .await?;
            let implicit: Vec<i64> = sqlx::query_scalar(
                "SELECT generation FROM generation WHERE generation > $1 AND state = 'promoted' \
                 AND implicit_creates <> 0",
            )
            .bind(since)
            .fetch_all(pool)
            .await?;
            let mut counts: Vec<GenerationChanges> = logged
                .into_iter()
                .map(|(generation, changes)| GenerationChanges { generation, implicit: false, changes })
                .collect();
            for generation in implicit {
                let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM person_version WHERE valid_from = $1")
                    .bind(generation)
                    .fetch_one(pool)
                    .await?;
                counts.push(GenerationChanges { generation, implicit: true, changes });
            }
            counts.retain(|c| c.changes > 0);
            counts.sort_by_key(|c| c.generation);
            Ok(counts)
        })
    }

    /// The changes of the generations `counts`, by generation then idNat, `limit` of them from `offset`: each
    /// generation's share is cut by the database (its creations from its versions when they are implicit).
    async fn change_rows(&self, counts: &[GenerationChanges], limit: i64, offset: i64) -> Result<Vec<ChangeRow>> {
        let (mut skip, mut left) = (offset.max(0), limit.max(0));
        let mut out = Vec::new();
        for g in counts {
            if left == 0 {
                break;
            }
            if skip >= g.changes {
                skip -= g.changes;
                continue;
            }
            let rows = self.changes_in(g, None, left, skip).await?;
            skip = 0;
            left -= i64::try_from(rows.len()).unwrap_or(left);
            out.extend(rows);
        }
        Ok(out)
    }

    /// One generation's changes in idNat order, after the idNat `after` when given, `offset` of them skipped, at most
    /// `limit`: from `change_log`, or from its versions when its creations are implicit.
    async fn changes_in(
        &self,
        g: &GenerationChanges,
        after: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ChangeRow>> {
        let (table, key, change, group) = if g.implicit {
            ("person_version", "valid_from", "'create'", "NULL")
        } else {
            ("change_log", "generation", "change", "id_group")
        };
        let from = if after.is_some() { "AND idnat > $2" } else { "AND $2 IS NULL" };
        let sql = format!(
            "SELECT idnat, {change}, {group} FROM {table} WHERE {key} = $1 {from} ORDER BY idnat LIMIT $3 OFFSET $4"
        );
        let rows: Vec<(String, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(g.generation)
                .bind(after)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().filter_map(|row| change_row(g.generation, row)).collect())
    }
}

/// How many changes [`Store::for_each_change_since`] reads at a time.
pub const CHANGE_PAGE: i64 = 10_000;

/// A change as read (idNat, kind, id group: `None` for an implicit creation, whose group is its idNat's).
fn change_row(generation: i64, (id, change, group): (String, String, Option<String>)) -> Option<ChangeRow> {
    let id_group = group.unwrap_or_else(|| IdType::of_idnat(&id).group().to_string());
    Some(ChangeRow { change: ChangeKind::parse(&change)?, generation, id_group, id })
}

/// How many changes one promoted generation made, and whether its creations are implicit (its versions).
struct GenerationChanges {
    generation: i64,
    implicit: bool,
    changes: i64,
}
