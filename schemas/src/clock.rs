//! The day the directory is judged on: card validity, usage days, retention. One clock for every crate, which a
//! test (or a replay of a past night) sets with `ANNUAIRE_TODAY=YYYY-MM-DD`.
//!
//! The one exception to this crate's "no I/O": it reads the system clock and that variable.

/// The variable that fixes today (`YYYY-MM-DD`), for tests and replays.
pub const TODAY_VAR: &str = "ANNUAIRE_TODAY";

/// Today in Paris (`yyyy-mm-dd`), or the day `ANNUAIRE_TODAY` gives when it holds a date.
pub fn today() -> String {
    if let Ok(v) = std::env::var(TODAY_VAR)
        && chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").is_ok()
    {
        return v.trim().to_string();
    }
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d").to_string()
}

/// The day `days` before `day` (`yyyy-mm-dd`), or `day` unchanged when it is not a date.
///
/// ```
/// assert_eq!(annuaire_schemas::clock::days_before("2026-03-01", 1), "2026-02-28");
/// ```
pub fn days_before(day: &str, days: u32) -> String {
    match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(d) => (d - chrono::Days::new(u64::from(days))).format("%Y-%m-%d").to_string(),
        Err(_) => day.to_string(),
    }
}
