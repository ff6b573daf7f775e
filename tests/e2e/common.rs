//! Helpers for the end-to-end tests: run the `annuaire` binary on a data directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `annuaire` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_annuaire"))
}

/// The repository's `data-samples/` folder.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples")
}

/// Run `annuaire --data-dir DIR ARGS...`.
pub fn annuaire(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("ANNUAIRE_LOG", "error")
        .output()
        .expect("run annuaire")
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
