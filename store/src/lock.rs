//! Single flight: one sync at a time per store, across processes and hosts.
//!
//! The lock lives in the database, never in a file, so it holds for every process that opens the same store.
//! - SQLite: a row. A holder that died (same host, pid gone) is taken over at once; a holder on another host
//!   is trusted until it releases.
//! - PostgreSQL: a session advisory lock on a connection of its own, so the server releases it when the holder's
//!   connection ends, even when its host crashed. The row only names the holder, for messages.

use crate::{Error, Pool, Result, Store, now, with_pool};
use sqlx::Connection;

/// The key of the advisory lock (PostgreSQL): "annuaire sync" in ASCII, truncated to 63 bits.
const ADVISORY_KEY: i64 = 0x616e_6e75_6169_7265;

/// The sync lock, held until [`SyncLock::release`] (or until the process dies).
#[derive(Debug)]
pub struct SyncLock {
    store: Store,
    owner: String,
    /// PostgreSQL: the connection that holds the advisory lock (detached from the pool).
    session: Option<sqlx::PgConnection>,
}

pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

fn alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") { std::path::Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

impl Store {
    /// Take the sync lock, or fail with [`Error::Busy`] naming the holder.
    pub async fn lock_sync(&self, owner: &str) -> Result<SyncLock> {
        let (host, pid) = (host(), i64::from(std::process::id()));
        if let Pool::Postgres(pool) = self.pool() {
            let mut session = pool.acquire().await?.detach();
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(ADVISORY_KEY)
                .fetch_one(&mut session)
                .await?;
            if !got {
                let _ = session.close().await;
                return Err(self.holder().await?);
            }
            sqlx::query("UPDATE sync_lock SET owner = $1, host = $2, pid = $3, acquired_at = $4 WHERE id = 1")
                .bind(owner)
                .bind(&host)
                .bind(pid)
                .bind(now())
                .execute(&mut session)
                .await?;
            return Ok(SyncLock { store: self.clone(), owner: owner.to_string(), session: Some(session) });
        }
        let taken = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sync_lock SET owner = $1, host = $2, pid = $3, acquired_at = $4 WHERE id = 1 AND owner IS NULL",
            )
            .bind(owner)
            .bind(&host)
            .bind(pid)
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if taken == 1 {
            return Ok(SyncLock { store: self.clone(), owner: owner.to_string(), session: None });
        }
        let Error::Busy { owner: h_owner, host: h_host, pid: h_pid, since } = self.holder().await? else {
            return Err(Error::Invalid("cannot read the sync lock".into()));
        };
        if h_host == host && h_pid != pid && !alive(h_pid) {
            tracing::warn!(holder = %h_owner, pid = h_pid, "taking over the sync lock of a process that is gone");
            let stolen = with_pool!(self, pool => {
                sqlx::query(
                    "UPDATE sync_lock SET owner = $1, host = $2, pid = $3, acquired_at = $4 \
                     WHERE id = 1 AND pid = $5 AND host = $6",
                )
                .bind(owner)
                .bind(&host)
                .bind(pid)
                .bind(now())
                .bind(h_pid)
                .bind(&h_host)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if stolen == 1 {
                return Ok(SyncLock { store: self.clone(), owner: owner.to_string(), session: None });
            }
        }
        Err(Error::Busy { owner: h_owner, host: h_host, pid: h_pid, since })
    }

    /// The holder named in the lock row, as an [`Error::Busy`].
    async fn holder(&self) -> Result<Error> {
        let (owner, host, pid, since): (Option<String>, Option<String>, Option<i64>, Option<String>) = with_pool!(self, pool => {
            sqlx::query_as("SELECT owner, host, pid, acquired_at FROM sync_lock WHERE id = 1").fetch_one(pool).await?
        });
        Ok(Error::Busy {
            owner: owner.unwrap_or_default(),
            host: host.unwrap_or_default(),
            pid: pid.unwrap_or(0),
            since: since.unwrap_or_default(),
        })
    }
}

impl SyncLock {
    /// Release the lock.
    pub async fn release(self) -> Result<()> {
        let store = self.store;
        with_pool!(store, pool => {
            sqlx::query(
                "UPDATE sync_lock SET owner = NULL, host = NULL, pid = NULL, acquired_at = NULL \
                 WHERE id = 1 AND owner = $1",
            )
            .bind(&self.owner)
            .execute(pool)
            .await?;
        });
        if let Some(mut session) = self.session {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(ADVISORY_KEY).execute(&mut session).await?;
            session.close().await?;
        }
        Ok(())
    }
}
