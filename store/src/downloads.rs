//! What was last fetched from a URL (`download_state`), for conditional GET.

use crate::{Result, Store, now, with_pool};
use sqlx::Row;

/// The validators and fingerprint of the last extract ingested from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadState {
    /// The URL.
    pub url: String,
    /// `ETag` the server gave.
    pub etag: Option<String>,
    /// `Last-Modified` the server gave.
    pub last_modified: Option<String>,
    /// The file name (from `Content-Disposition` or the URL).
    pub file_name: Option<String>,
    /// sha256 of the file.
    pub sha256: String,
    /// Its size.
    pub bytes: i64,
}

impl Store {
    /// The state recorded for a URL.
    pub async fn download_state(&self, url: &str) -> Result<Option<DownloadState>> {
        with_pool!(self, pool => {
            let row =
                sqlx::query("SELECT url, etag, last_modified, file_name, sha256, bytes FROM download_state WHERE url = $1")
                    .bind(url)
                    .fetch_optional(pool)
                    .await?;
            Ok(row.map(|r| DownloadState {
                url: r.get(0),
                etag: r.get(1),
                last_modified: r.get(2),
                file_name: r.get(3),
                sha256: r.get(4),
                bytes: r.get(5),
            }))
        })
    }

    /// Record the state of a URL once its extract has been ingested.
    pub async fn save_download_state(&self, s: &DownloadState) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO download_state (url, etag, last_modified, file_name, sha256, bytes, fetched_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, \
                 file_name = excluded.file_name, sha256 = excluded.sha256, bytes = excluded.bytes, fetched_at = excluded.fetched_at",
            )
            .bind(&s.url)
            .bind(&s.etag)
            .bind(&s.last_modified)
            .bind(&s.file_name)
            .bind(&s.sha256)
            .bind(s.bytes)
            .bind(now())
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
