//! Helpers for tests that run against both backends (this crate's suite and the end-to-end tests).
//!
//! PostgreSQL tests need a server: `ANNUAIRE_TEST_POSTGRES_URL` names a database on it that the tests may use to
//! create one fresh database per test (`postgres://postgres@127.0.0.1:55432/postgres`; `.ci/run` starts such a
//! server). Without it the PostgreSQL variants are skipped, unless `ANNUAIRE_TEST_REQUIRE_POSTGRES=1`, which
//! makes a missing server a failure (CI sets it, so a skipped suite cannot pass for a green one).

use sqlx::Connection;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "ANNUAIRE_TEST_POSTGRES_URL";
/// The variable that makes a missing PostgreSQL server a test failure.
pub const REQUIRE_POSTGRES_VAR: &str = "ANNUAIRE_TEST_REQUIRE_POSTGRES";

/// The admin URL of the test server, or `None` when PostgreSQL tests are to be skipped.
///
/// # Panics
/// When no server is given and [`REQUIRE_POSTGRES_VAR`] is set.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set");
            }
            eprintln!("skipped: set {POSTGRES_URL_VAR} to run the PostgreSQL variant");
            None
        }
    }
}

/// Create an empty database named after `label` and a counter on the server of `admin_url`; returns its URL.
pub async fn fresh_database(admin_url: &str, label: &str) -> Result<String, sqlx::Error> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let clean: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(30).collect();
    let name = format!("t_{clean}_{}_{n}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut conn).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    conn.close().await?;
    let base = match admin_url.rfind('/') {
        Some(i) if i > admin_url.find("://").map_or(0, |s| s + 2) => &admin_url[..i],
        _ => admin_url,
    };
    let query = admin_url.find('?').map(|q| &admin_url[q..]).unwrap_or("");
    Ok(format!("{base}/{name}{query}"))
}
