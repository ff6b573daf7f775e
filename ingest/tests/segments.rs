//! The gate by segment: an extract without one department, under 1 % of the persons, passes the gate by id group
//! but is held, with the department named (issue 16).

use annuaire_ingest::{RunOptions, run_once};
use annuaire_store::{RunStatus, Store};

/// Synthetic persons, with those of one commune whose idNat ends in 3 or 7 moved to Guéret (Creuse, department 23):
/// about 0.4 % of them.
fn extract_with_creuse(persons: u64) -> String {
    let files = annuaire_data_samples::sample(persons);
    let mut out = String::with_capacity(files.personne_activite.len());
    for (i, line) in files.personne_activite.lines().enumerate() {
        let mut f: Vec<&str> = line.split('|').collect();
        if i > 0 && f.len() > 37 && f[36] == "63113" && (f[2].ends_with('7') || f[2].ends_with('3')) {
            (f[35], f[36], f[37]) = ("23000", "23096", "Guéret");
        }
        out.push_str(&f.join("|"));
        out.push('\n');
    }
    out
}

fn write(dir: &std::path::Path, personne_activite: &str) -> std::path::PathBuf {
    let mut files = annuaire_data_samples::sample(0);
    files.personne_activite = personne_activite.to_string();
    // The other two files of the sample are kept whole: they only add to persons present.
    files.savoir_faire = annuaire_data_samples::sample(0).savoir_faire;
    files.write_dir(dir, "202611280900").expect("write");
    dir.to_path_buf()
}

#[test]
fn an_extract_without_one_small_department_is_held_with_the_department_named() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let tmp = tempfile::tempdir().expect("tmp");
    let store = rt.block_on(Store::open(&tmp.path().join("data"))).expect("store");
    let full = extract_with_creuse(60_000);
    let first = rt.block_on(run_once(&store, &RunOptions::new(write(&tmp.path().join("a"), &full)))).expect("sync");
    assert_eq!(first.status, RunStatus::Promoted);
    let creuse = &first.diff.segments["department:23"];
    let persons = first.report.persons;
    assert!(creuse.now >= 200 && creuse.now * 100 < persons, "{} of {persons} persons in Creuse", creuse.now);

    // The next night's extract has no line in department 23.
    let without: String = full.lines().filter(|l| !l.contains("|23096|")).map(|l| format!("{l}\n")).collect();
    let second = rt.block_on(run_once(&store, &RunOptions::new(write(&tmp.path().join("b"), &without)))).expect("sync");
    assert_eq!(second.status, RunStatus::Held, "{:?}", second.reason);
    let reason = second.reason.unwrap_or_default();
    assert!(reason.contains("department 23:"), "{reason}");
    assert!(reason.contains("persons gone (100.00 %"), "{reason}");
    // The gate by id group alone would have passed it: the country lost well under 1 %.
    let opts = RunOptions::new(".");
    assert_eq!(second.diff.gate(opts.max_delete_rate, opts.max_update_rate, opts.gate_floor), None);
    assert_eq!(rt.block_on(store.served()).expect("served").map(|s| s.generation), first.generation);
}
