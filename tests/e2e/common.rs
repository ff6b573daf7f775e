//! Helpers for the end-to-end tests: run the `annuaire` binary on a data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The day every command of these tests takes as today (`ANNUAIRE_TODAY`): card validity, usage days and retention
/// are judged on it, so no test depends on the day it runs (the sample's cards were written around it).
pub const TODAY: &str = "2026-11-28";

/// The `annuaire` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_annuaire"))
}

/// The repository's `data-samples/` folder.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples")
}

/// The backend the end-to-end tests run on: `ANNUAIRE_TEST_BACKEND=postgres` runs every test on PostgreSQL
/// (one fresh database per data directory, on the server of `ANNUAIRE_TEST_POSTGRES_URL`); SQLite otherwise.
pub fn on_postgres() -> bool {
    std::env::var("ANNUAIRE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The store of each data directory given one: a PostgreSQL URL, or `None` for the embedded SQLite file.
static DATABASES: Mutex<BTreeMap<PathBuf, Option<String>>> = Mutex::new(BTreeMap::new());

/// Make every command run on `data_dir` use the PostgreSQL database `url`, whatever the backend under test
/// (several data directories may share one database, as several servers do).
pub fn use_database(data_dir: &Path, url: &str) {
    DATABASES.lock().unwrap_or_else(|e| e.into_inner()).insert(data_dir.to_path_buf(), Some(url.to_string()));
}

/// Make every command run on `data_dir` use the embedded SQLite store, whatever the backend under test.
pub fn use_sqlite(data_dir: &Path) {
    DATABASES.lock().unwrap_or_else(|e| e.into_inner()).insert(data_dir.to_path_buf(), None);
}

/// A new PostgreSQL database for a data directory (named after it) on the test server.
fn new_database(data_dir: &Path) -> String {
    let admin = annuaire_store::testing::postgres_admin_url()
        .expect("ANNUAIRE_TEST_BACKEND=postgres needs ANNUAIRE_TEST_POSTGRES_URL");
    let label = data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A thread of its own: some tests call this from inside a runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(annuaire_store::testing::fresh_database(&admin, &label)).expect("create a database")
    })
    .join()
    .expect("database thread")
}

/// `annuaire --data-dir DIR`, quiet logs, on the store given to `DIR` ([`use_database`], [`use_sqlite`]) or else
/// on the backend under test: with PostgreSQL, each data directory gets a database of its own on first use (the
/// same for every later command on it, as an operator's would).
pub fn annuaire_command(data_dir: &Path) -> Command {
    let mut c = Command::new(binary());
    c.arg("--data-dir")
        .arg(data_dir)
        .env("ANNUAIRE_LOG", "error")
        .env("ANNUAIRE_TODAY", TODAY)
        .env_remove("ANNUAIRE_LOG_FORMAT")
        .env_remove("ANNUAIRE_DATABASE_URL");
    let url = {
        let mut dbs = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
        match dbs.get(data_dir) {
            Some(given) => given.clone(),
            None if on_postgres() => {
                let url = new_database(data_dir);
                dbs.insert(data_dir.to_path_buf(), Some(url.clone()));
                Some(url)
            }
            None => None,
        }
    };
    if let Some(url) = url {
        c.env("ANNUAIRE_DATABASE_URL", url);
    }
    c
}

/// Run `annuaire --data-dir DIR ARGS...`.
pub fn annuaire(data_dir: &Path, args: &[&str]) -> Output {
    annuaire_command(data_dir).args(args).output().expect("run annuaire")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout parsed as JSON.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// Copy the sample extract's three files into `dir`, keeping only the Personne_activite lines for
/// which `keep(line_number, line)` is true (the header is always kept).
pub fn sample_copy(dir: &Path, keep: impl Fn(usize, &str) -> bool) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    for entry in std::fs::read_dir(samples().join("PS_LibreAcces")).expect("ls") {
        let p = entry.expect("entry").path();
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).expect("read");
        let text = if name.contains("Personne_activite") {
            text.lines().enumerate().filter(|(i, l)| *i == 0 || keep(*i, l)).map(|(_, l)| format!("{l}\n")).collect()
        } else {
            text
        };
        std::fs::write(dir.join(name), text).expect("write");
    }
    dir.to_path_buf()
}
