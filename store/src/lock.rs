//! Single flight: one sync at a time per store, across processes.
//!
//! The lock is a row in the database (not a file), so it holds for every process that opens the same
//! store. A holder that died (same host, pid gone) is taken over at once; a holder on another host
//! is trusted until it releases.

use crate::{Error, Result, Store, now};

/// The sync lock, held until [`SyncLock::release`] (or until the process dies).
#[derive(Debug)]
pub struct SyncLock {
    store: Store,
    owner: String,
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
        let taken = sqlx::query(
            "UPDATE sync_lock SET owner = ?, host = ?, pid = ?, acquired_at = ? WHERE id = 1 AND owner IS NULL",
        )
        .bind(owner)
        .bind(&host)
        .bind(pid)
        .bind(now())
        .execute(self.pool())
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(SyncLock { store: self.clone(), owner: owner.to_string() });
        }
        let (h_owner, h_host, h_pid, since): (Option<String>, Option<String>, Option<i64>, Option<String>) =
            sqlx::query_as("SELECT owner, host, pid, acquired_at FROM sync_lock WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
        let h_pid = h_pid.unwrap_or(0);
        let h_host = h_host.unwrap_or_default();
        if h_host == host && h_pid != pid && !alive(h_pid) {
            tracing::warn!(holder = ?h_owner, pid = h_pid, "taking over the sync lock of a process that is gone");
            let stolen = sqlx::query(
                "UPDATE sync_lock SET owner = ?, host = ?, pid = ?, acquired_at = ? WHERE id = 1 AND pid = ? AND host = ?",
            )
            .bind(owner)
            .bind(&host)
            .bind(pid)
            .bind(now())
            .bind(h_pid)
            .bind(&h_host)
            .execute(self.pool())
            .await?;
            if stolen.rows_affected() == 1 {
                return Ok(SyncLock { store: self.clone(), owner: owner.to_string() });
            }
        }
        Err(Error::Busy {
            owner: h_owner.unwrap_or_default(),
            host: h_host,
            pid: h_pid,
            since: since.unwrap_or_default(),
        })
    }
}

impl SyncLock {
    /// Release the lock.
    pub async fn release(self) -> Result<()> {
        sqlx::query(
            "UPDATE sync_lock SET owner = NULL, host = NULL, pid = NULL, acquired_at = NULL WHERE id = 1 AND owner = ?",
        )
        .bind(&self.owner)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}
