//! `annuaire sync` lifecycle: runs, unchanged extracts, the safety gate, bad input, kill -9.

use crate::common::{annuaire, annuaire_command, json, sample_copy, samples, stderr, stdout};
use std::process::Stdio;
use std::time::Duration;

fn sample_path() -> String {
    samples().join("PS_LibreAcces").to_string_lossy().into_owned()
}

#[test]
fn syncing_the_same_extract_twice_ingests_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = annuaire(dir.path(), &["sync", "--source", &sample_path()]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("promoted generation 1"), "{}", stdout(&first));
    let second = annuaire(dir.path(), &["sync", "--source", &sample_path()]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stdout(&second).contains("unchanged"), "{}", stdout(&second));
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), 2);
    for key in ["run", "generation", "status", "source", "sha256", "started_at", "finished_at", "persons", "rows_read"]
    {
        assert!(runs[0].get(key).is_some(), "runs[0] has no {key}");
    }
    assert_eq!(runs[0]["status"], "promoted");
    assert_eq!(runs[0]["generation"], 1);
    assert_eq!(runs[1]["status"], "unchanged");
    assert_eq!(runs[1]["generation"], serde_json::Value::Null);
    assert_eq!(runs[0]["sha256"], runs[1]["sha256"]);
    assert!(runs[0]["report"]["duplicate_rows"].as_u64().unwrap_or(0) > 0);
}

/// `annuaire repack` on a store this binary wrote finds nothing to rewrite, says so in its JSON, takes and frees the
/// sync lock (a sync runs after it), and changes no answer. The rewriting itself is tested on both backends in
/// `store/src/repack.rs`, from rows as an older binary stored them.
#[test]
fn repack_on_a_packed_store_rewrites_nothing_and_changes_no_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = annuaire(dir.path(), &["sync", "--source", &sample_path()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = annuaire(dir.path(), &["claims", "810100271385"]);
    let repack = annuaire(dir.path(), &["repack", "--format", "json"]);
    assert!(repack.status.success(), "{}", stderr(&repack));
    let done = json(&repack);
    for key in ["records", "bytes_before", "bytes_after", "left"] {
        assert_eq!(done[key], 0, "{key}: {done}");
    }
    let table = annuaire(dir.path(), &["repack"]);
    assert!(stdout(&table).starts_with("repacked 0 records"), "{}", stdout(&table));
    assert_eq!(stdout(&annuaire(dir.path(), &["claims", "810100271385"])), stdout(&before));
    let again = annuaire(dir.path(), &["sync", "--source", &sample_path()]);
    assert!(again.status.success(), "the lock was released: {}", stderr(&again));
}

#[test]
fn an_extract_missing_30_percent_of_persons_is_held_and_nothing_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(annuaire(dir.path(), &["sync", "--source", &sample_path()]).status.success());
    let before = stdout(&annuaire(dir.path(), &["claims", "810100271385"]));
    // Drop every line of about 30 % of the persons (by id), the LEFÈVRE doctor among them.
    let smaller = sample_copy(&dir.path().join("smaller"), |_, l| {
        let id = l.split('|').nth(1).unwrap_or("");
        let n: u64 = id.bytes().map(u64::from).sum();
        n % 10 >= 3 && id != "10100271385"
    });
    let out = annuaire(dir.path(), &["sync", "--source", smaller.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(3), "held is a distinct exit status: {}", stdout(&out));
    assert!(stdout(&out).contains("HELD"));
    // Still served, the removed doctor included.
    assert_eq!(stdout(&annuaire(dir.path(), &["claims", "810100271385"])), before);
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    let last = runs.as_array().and_then(|r| r.last()).cloned().expect("run");
    assert_eq!(last["status"], "held");
    assert!(last["reason"].as_str().unwrap_or("").contains("deletions"), "{last}");
    let deleted = last["deleted"].as_i64().unwrap_or(0);
    assert!(deleted > 50, "{deleted}");

    // An approval whose search index cannot be built promotes nothing (invariant 6): a file stands where the index
    // must go.
    let generation = last["generation"].to_string();
    let blocker = dir.path().join("index").join(format!("gen-{generation}"));
    std::fs::create_dir_all(dir.path().join("index")).expect("mkdir");
    std::fs::write(&blocker, "not an index").expect("blocker");
    let out = annuaire(dir.path(), &["approve", &generation, "--exclude", "delete"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("not promoted, still held"), "{}", stderr(&out));
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    assert_eq!(runs.as_array().and_then(|r| r.last()).map(|r| r["status"].clone()), Some("held".into()));
    assert_eq!(stdout(&annuaire(dir.path(), &["claims", "810100271385"])), before);
    std::fs::remove_file(&blocker).expect("unblock");

    // Approved without its deletions: the removed persons stay served.
    let out = annuaire(dir.path(), &["approve", &generation, "--exclude", "delete"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("0 deleted"), "{}", stdout(&out));
    assert_eq!(stdout(&annuaire(dir.path(), &["claims", "810100271385"])), before);
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    assert_eq!(runs.as_array().and_then(|r| r.last()).map(|r| r["status"].clone()), Some("promoted".into()));
    // Approving again is refused: it is no longer held.
    assert_eq!(annuaire(dir.path(), &["approve", &generation]).status.code(), Some(1));

    // Held again (the same persons are still missing), then approved whole: now they are deleted.
    let out = annuaire(dir.path(), &["sync", "--source", smaller.to_str().expect("path"), "--force"]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    let generation = runs.as_array().and_then(|r| r.last()).map(|r| r["generation"].to_string()).expect("gen");
    assert!(annuaire(dir.path(), &["approve", &generation]).status.success());
    assert_eq!(annuaire(dir.path(), &["claims", "810100271385"]).status.code(), Some(1), "deleted after approval");
    let changes = json(&annuaire(dir.path(), &["changes", "--since", "0", "--format", "json"]));
    let deletions = changes.as_array().expect("array").iter().filter(|c| c["change"] == "delete").count();
    assert_eq!(deletions as i64, deleted);
}

#[test]
fn a_small_change_is_promoted_and_listed_by_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(annuaire(dir.path(), &["sync", "--source", &sample_path()]).status.success());
    let changed = sample_copy(&dir.path().join("changed"), |_, _| true);
    let pa = changed.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text = std::fs::read_to_string(&pa).expect("read").replace("|BUGEY OPTIQUE|", "|BUGEY OPTIQUE ET AUDITION|");
    std::fs::write(&pa, text).expect("write");
    // 1 ADELI person of 17 is 5.9 % of its id group: above the default 5 % gate on such a small sample.
    let out = annuaire(dir.path(), &["sync", "--source", changed.to_str().expect("path"), "--max-update-rate", "10"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let changes = json(&annuaire(dir.path(), &["changes", "--since", "1", "--format", "json"]));
    assert_eq!(
        changes,
        serde_json::json!([{"id": "0012800751", "change": "update", "generation": 2, "id_group": "adeli"}])
    );
    assert!(stdout(&annuaire(dir.path(), &["claims", "012800751"])).contains("BUGEY OPTIQUE ET AUDITION"));
}

#[test]
fn bad_input_names_file_line_and_column_and_keeps_the_served_generation() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(annuaire(dir.path(), &["sync", "--source", &sample_path()]).status.success());
    let before = stdout(&annuaire(dir.path(), &["claims", "899700366240"]));
    let broken = sample_copy(&dir.path().join("broken"), |_, _| true);
    let pa = broken.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text: String = std::fs::read_to_string(&pa)
        .expect("read")
        .lines()
        .enumerate()
        .map(|(i, l)| if i % 10 == 5 { format!("{}\n", l.replacen('|', " ", 3)) } else { format!("{l}\n") })
        .collect();
    std::fs::write(&pa, text).expect("write");
    let out = annuaire(dir.path(), &["sync", "--source", broken.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("PS_LibreAcces_Personne_activite_202611280900.txt: line 6, column"), "{err}");
    assert!(err.contains("the served generation is unchanged"), "{err}");
    assert_eq!(stdout(&annuaire(dir.path(), &["claims", "899700366240"])), before);
}

/// The claims of `ids`, as the CLI prints them (one generation's, or a mix if something were wrong).
fn claims_of(dir: &std::path::Path, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| stdout(&annuaire(dir, &["claims", id]))).collect()
}

#[test]
fn a_sync_killed_at_any_point_leaves_one_whole_generation_served() {
    let dir = tempfile::tempdir().expect("tmp");
    // Two versions of a 30,000-person extract, 5 % of persons different: every kill lands in reading, diffing,
    // writing or promoting one of them over the other.
    let a = dir.path().join("PS_LibreAcces_A.zip");
    let b = dir.path().join("PS_LibreAcces_B.zip");
    annuaire_data_samples::write_national_zip(&a, 30_000, 7, 0).expect("A");
    annuaire_data_samples::write_national_zip(&b, 30_000, 7, 50).expect("B");
    let sync = |src: &std::path::Path| {
        let mut c = annuaire_command(dir.path());
        c.args(["sync", "--force", "--max-delete-rate", "100", "--max-update-rate", "100", "--source"]).arg(src);
        c
    };
    let started = std::time::Instant::now();
    let out = sync(&a).output().expect("sync A");
    assert!(out.status.success(), "{}", stderr(&out));
    let full = started.elapsed();
    // Sampled persons: those whose claims differ between A and B, and some that do not.
    let ids: Vec<String> = {
        let out = sync(&b).output().expect("sync B");
        assert!(out.status.success(), "{}", stderr(&out));
        let changes = json(&annuaire(dir.path(), &["changes", "--since", "1", "--format", "json"]));
        let ids: Vec<String> = changes
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["change"] == "update")
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .take(8)
            .collect();
        assert!(ids.len() >= 4, "B updates persons of A: {changes}");
        ids
    };
    let claims_b = claims_of(dir.path(), &ids);
    let out = sync(&a).output().expect("sync A again");
    assert!(out.status.success(), "{}", stderr(&out));
    let claims_a = claims_of(dir.path(), &ids);
    assert_ne!(claims_a, claims_b, "the two generations differ for the sampled persons");
    // Kill points spread over a whole sync (its measured length), each sync the other version.
    let mut landed = Vec::new();
    for (k, fraction) in [0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2].into_iter().enumerate() {
        let src = if k % 2 == 0 { &b } else { &a };
        let mut child = sync(src).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(full.mul_f64(fraction));
        let finished = child.try_wait().expect("wait").is_some();
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let now = claims_of(dir.path(), &ids);
        let whole = if now == claims_a {
            "A"
        } else if now == claims_b {
            "B"
        } else {
            panic!("killed at {fraction} of a sync: the sampled claims mix generations or lost someone: {now:?}")
        };
        landed.push((fraction, finished, whole));
    }
    // The next sync cleans up whatever was left and completes.
    let out = sync(&b).output().expect("sync");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(claims_of(dir.path(), &ids), claims_b);
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    let runs = runs.as_array().expect("runs");
    assert!(runs.iter().all(|r| r["status"] != "running"), "no run is left running: {runs:?}");
    assert_eq!(runs.last().and_then(|r| r["persons"].as_i64()), Some(30_000), "{:?}", runs.last());
    // Some kills interrupted a sync (not every one ran to its end before the kill).
    assert!(landed.iter().any(|(_, finished, _)| !finished), "{landed:?}");
}

/// Run `serve --source SAMPLE ARGS` until the run statuses satisfy `done` (at most 20 s); returns them.
fn serve_until(dir: &std::path::Path, args: &[&str], done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut child = annuaire_command(dir)
        .args(["serve", "--source", &sample_path()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(500));
        let runs = json(&annuaire(dir, &["runs", "--format", "json"]));
        statuses =
            runs.as_array().expect("runs").iter().map(|r| r["status"].as_str().unwrap_or("").to_string()).collect();
        if done(&statuses) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    statuses
}

#[test]
fn serve_runs_the_sync_on_its_schedule() {
    let dir = tempfile::tempdir().expect("tmp");
    // Two runs, the second one finished (a tick may have just started it).
    let statuses = serve_until(dir.path(), &["--schedule", "*/2 * * * * *", "--timezone", "Europe/Paris"], |s| {
        s.len() >= 2 && s[1] != "running"
    });
    assert!(statuses.len() >= 2, "the schedule did not fire twice: {statuses:?}");
    assert_eq!(statuses[0], "promoted");
    assert_eq!(statuses[1], "unchanged");
}

#[test]
fn a_second_sync_while_one_runs_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("PS_LibreAcces_202611290900.zip");
    annuaire_data_samples::sample(30_000).write_zip(&big, "202611290900").expect("zip");
    let spawn = || {
        annuaire_command(dir.path())
            .args(["sync", "--source", big.to_str().expect("path")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut first = spawn();
    // The second starts once the first holds the lock: its run is recorded as running.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // (While the first sync creates the store, `runs` may not read it yet: keep asking.)
        let out = annuaire(dir.path(), &["runs", "--format", "json"]);
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if runs.as_array().is_some_and(|r| r.iter().any(|r| r["status"] == "running")) {
            break;
        }
        if first.try_wait().expect("first").is_some() {
            let out = first.wait_with_output().expect("first");
            panic!("the first sync ended before it was seen running: {:?} {}", out.status, stderr(&out));
        }
        assert!(std::time::Instant::now() < deadline, "the first sync never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = spawn();
    let outs = [first.wait_with_output().expect("first"), second.wait_with_output().expect("second")];
    let ok = outs.iter().filter(|o| o.status.success()).count();
    let busy: Vec<&std::process::Output> =
        outs.iter().filter(|o| o.status.code() == Some(1) && stderr(o).contains("another sync is running")).collect();
    assert_eq!((ok, busy.len()), (1, 1), "{:?}", outs.iter().map(stderr).collect::<Vec<_>>());
    assert!(stderr(busy[0]).contains("pid"), "the message names the holder: {}", stderr(busy[0]));
}

#[test]
fn an_extract_with_half_a_percent_of_persons_changed_is_promoted_and_changes_lists_exactly_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().join("base");
    annuaire_data_samples::sample(2000).write_dir(&base, "202611280900").expect("sample");
    assert!(annuaire(dir.path(), &["sync", "--source", base.to_str().expect("path")]).status.success());
    // Change the exercise name of 10 RPPS persons (0.5 % of about 1,900): every one of their lines.
    let pa_name = "PS_LibreAcces_Personne_activite_202611280900.txt";
    let text = std::fs::read_to_string(base.join(pa_name)).expect("read");
    let mut ids: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('|').nth(2))
        .filter(|id| id.starts_with("8101"))
        .map(str::to_string)
        .collect();
    ids.dedup();
    let chosen: Vec<String> = ids.iter().step_by(ids.len() / 10).take(10).cloned().collect();
    let changed_text: String = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            if f.len() > 8 && chosen.iter().any(|c| c == f[2]) {
                let mut f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
                f[7] = format!("{}-NOUVEAU", f[7]);
                format!("{}\n", f.join("|"))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let next = dir.path().join("next");
    annuaire_data_samples::sample(2000).write_dir(&next, "202611290900").expect("sample");
    std::fs::write(next.join("PS_LibreAcces_Personne_activite_202611290900.txt"), changed_text).expect("write");
    let out = annuaire(dir.path(), &["sync", "--source", next.to_str().expect("path")]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("promoted generation 2"), "{}", stdout(&out));
    let changes = json(&annuaire(dir.path(), &["changes", "--since", "1", "--format", "json"]));
    let mut listed: Vec<String> = changes
        .as_array()
        .expect("array")
        .iter()
        .map(|c| {
            assert_eq!(c["change"], "update");
            assert_eq!(c["generation"], 2);
            c["id"].as_str().unwrap_or("").to_string()
        })
        .collect();
    let mut want = chosen.clone();
    want.sort();
    listed.sort();
    assert_eq!(listed, want);
}

#[test]
fn serve_also_runs_the_sync_at_the_extra_times_given() {
    // The nightly schedule will not fire during the test; the extra time (every two seconds) does.
    let dir = tempfile::tempdir().expect("tmp");
    let statuses = serve_until(dir.path(), &["--schedule", "0 0 2 * * *", "--also-at", "*/2 * * * * *"], |s| {
        s.first().is_some_and(|s| s != "running")
    });
    assert_eq!(statuses.first().map(String::as_str), Some("promoted"), "{statuses:?}");
}
