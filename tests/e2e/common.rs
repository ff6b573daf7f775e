//! Helpers for the end-to-end tests: run the `annuaire` binary on a data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

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

/// The PostgreSQL database of each data directory that has one.
static DATABASES: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

/// Make every command run on `data_dir` use the PostgreSQL database `url`, whatever the backend under test
/// (several data directories may share one database, as several servers do).
pub fn use_database(data_dir: &Path, url: &str) {
    DATABASES.lock().unwrap_or_else(|e| e.into_inner()).insert(data_dir.to_path_buf(), url.to_string());
}

/// The PostgreSQL database of a data directory, created on first use (the same for every command run on
/// that directory, as an operator's would be).
pub fn database_url(data_dir: &Path) -> String {
    let mut dbs = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    dbs.entry(data_dir.to_path_buf())
        .or_insert_with(|| {
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
        })
        .clone()
}

/// `annuaire --data-dir DIR`, on the backend under test, quiet logs.
pub fn annuaire_command(data_dir: &Path) -> Command {
    let mut c = Command::new(binary());
    c.arg("--data-dir").arg(data_dir).env("ANNUAIRE_LOG", "error").env_remove("ANNUAIRE_DATABASE_URL");
    let given = DATABASES.lock().unwrap_or_else(|e| e.into_inner()).get(data_dir).cloned();
    if let Some(url) = given {
        c.env("ANNUAIRE_DATABASE_URL", url);
    } else if on_postgres() {
        c.env("ANNUAIRE_DATABASE_URL", database_url(data_dir));
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
