//! The ingest on real files: the committed samples, the real 2021 lines, and broken copies of them.

use annuaire_ingest::layout::FileKind;
use annuaire_ingest::parse::read_bytes;
use annuaire_ingest::{Error, RunOptions, Source, read_extract, run_once};
use annuaire_schemas::{AuthorityKind, Person};
use annuaire_store::{RunStatus, Store};
use std::path::{Path, PathBuf};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples")
}

fn read(dir: &Path) -> annuaire_ingest::Extract {
    read_extract(&Source::open(dir).expect("source"), &|_, _| {}).expect("read")
}

fn person<'a>(persons: &'a [Person], idnat: &str) -> &'a Person {
    persons.iter().find(|p| p.idnat.as_str() == idnat).unwrap_or_else(|| panic!("{idnat} not found"))
}

/// Copy the sample folder, letting `edit` change the Personne_activite text.
fn edited_sample(dir: &Path, edit: impl FnOnce(String) -> Vec<u8>) -> PathBuf {
    let out = dir.join("extract");
    std::fs::create_dir_all(&out).expect("mkdir");
    for entry in std::fs::read_dir(samples().join("PS_LibreAcces")).expect("ls") {
        let p = entry.expect("entry").path();
        let name = p.file_name().expect("name").to_owned();
        std::fs::copy(&p, out.join(&name)).expect("copy");
    }
    let pa = out.join("PS_LibreAcces_Personne_activite_202611280900.txt");
    let text = std::fs::read_to_string(&pa).expect("read");
    std::fs::write(&pa, edit(text)).expect("write");
    out
}

#[test]
fn the_52_and_56_column_extracts_give_the_same_persons() {
    let e56 = read(&samples().join("PS_LibreAcces"));
    let e52 = read(&samples().join("PS_LibreAcces_52col"));
    assert_eq!(e56.report.files[0].columns, 56);
    assert_eq!(e52.report.files[0].columns, 52);
    assert_eq!(e56.persons.len(), e52.persons.len());
    assert!(e56.persons.len() > 300);
    // The 52-column layout has no role and no genre: apart from those, records are identical.
    let strip = |p: &Person| {
        let mut p = p.clone();
        for e in &mut p.exercices {
            for a in &mut e.activities {
                a.role = Default::default();
                a.genre = Default::default();
            }
        }
        p.canonicalize();
        p
    };
    for (a, b) in e56.persons.iter().zip(&e52.persons) {
        assert_eq!(strip(a), strip(b));
    }
}

#[test]
fn the_real_december_2021_lines_ingest() {
    let e = read(&samples().join("real-2021"));
    assert_eq!(e.report.rows_read, 22);
    assert_eq!(e.report.rows_rejected, 0);
    assert_eq!(e.persons.len(), 22);
    let p = person(&e.persons, "0018602292");
    let a = &p.exercices[0].activities[0];
    assert_eq!(a.structure.commune.label, "Ambérieu-en-Bugey");
    assert_eq!(a.registration.raw, "ARS/ARS/ARS");
    assert_eq!(p.exercices[0].authority.kind, AuthorityKind::Ars);
    // A line with an empty authority field: the profession table decides (86 → ARS).
    let p = person(&e.persons, "0018600064");
    assert_eq!(p.exercices[0].authority.kind, AuthorityKind::Ars);
    assert_eq!(p.exercices[0].activities.len(), 1, "a mode without structure is an activity");
    // No activity: `ARS//` only.
    assert!(person(&e.persons, "0010004851").exercices[0].activities.is_empty());
    let doctor = person(&e.persons, "810106476764");
    assert_eq!(doctor.exercices[0].authority.name, "CNOM");
    assert_eq!(doctor.exercices[0].savoir_faire[0].code.code, "SM20");
}

#[test]
fn rows_are_grouped_into_persons_whatever_their_order() {
    let e = read(&samples().join("PS_LibreAcces"));
    // The doctor with 2 savoir-faire x 2 activities: 4 lines, one exercice.
    let p = person(&e.persons, "810100271385");
    assert_eq!(p.exercices.len(), 1);
    assert_eq!(p.exercices[0].savoir_faire.len(), 2);
    assert_eq!(p.exercices[0].activities.len(), 2);
    assert_eq!(p.exercices[0].activities[0].mode.code, "L", "liberal first");
    assert_eq!(
        p.exercices[0].activities[0].structure.commercial_name, "CABINET \"LES TILLEULS\"",
        "quotes are literal"
    );
    // Two exercices: pharmacist civil and military.
    let ph = person(&e.persons, "810005831911");
    assert_eq!(ph.exercices.len(), 2);
    assert_eq!(ph.exercices[1].category.code, "M");
    assert_eq!(ph.exercices[1].authority.name, "SSA");
    assert!(e.report.group.duplicate_rows >= 5, "exact duplicate lines are dropped and counted");
    // Diplomas and savoir-faire from their own files are attached.
    assert!(!p.diplomas.is_empty());

    // Shuffle the lines: same records.
    let tmp = tempfile::tempdir().expect("tmp");
    let shuffled = edited_sample(tmp.path(), |text| {
        let mut lines: Vec<&str> = text.lines().collect();
        let header = lines.remove(0);
        lines.reverse();
        let third = lines.len() / 3;
        lines.rotate_left(third);
        format!("{header}\n{}\n", lines.join("\n")).into_bytes()
    });
    let again = read(&shuffled);
    assert_eq!(again.persons, e.persons);
}

#[test]
fn row_errors_name_the_file_line_and_column() {
    let header = annuaire_data_samples_header();
    let line = |values: &[(usize, &str)]| {
        let mut fields = vec![""; 56];
        for (i, v) in values {
            fields[*i] = v;
        }
        format!("{}|", fields.join("|"))
    };
    let person = [(7, "A"), (8, "B"), (9, "10"), (10, "Médecin"), (11, "C"), (12, "Civil"), (47, "CNOM//")];
    let good = line(&[&[(0, "8"), (1, "10100271385"), (2, "810100271385")][..], &person[..]].concat());
    let short = "8|10001045367|810001045367|||M|Monsieur|A|B|10|Médecin";
    let extra = format!("{good}surplus|");
    let no_id = line(&person);
    let text = format!("{header}\n{good}\n{short}\n{extra}\n{no_id}\n");
    let (rows, errors, stats) = read_bytes(
        "PS_LibreAcces_Personne_activite_202611280900.txt",
        FileKind::PersonneActivite,
        text.as_bytes(),
        |_h| {
            |f: &annuaire_ingest::parse::Fields<'_>| {
                Ok::<_, annuaire_ingest::parse::RowIssue>(f.get("Identification nationale PP").to_string())
            }
        },
    )
    .expect("read");
    // The width check rejects the short and the long line; the id-less line passes it (this test's row
    // parser accepts anything) and is rejected by the Personne_activite parser: see below.
    assert_eq!(rows, vec!["810100271385".to_string(), String::new()]);
    assert_eq!(stats.rows, 4);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].kind, "too_few_fields");
    assert_eq!(
        errors[0].to_string(),
        "PS_LibreAcces_Personne_activite_202611280900.txt: line 3, column 11 (Libellé profession): expected 56 fields, found 11 (is a `|` missing, or the line cut?)"
    );
    assert_eq!(errors[1].line, 4);
    assert_eq!(errors[1].kind, "too_many_fields");
    assert!(errors[1].to_string().contains("column 57: expected 56 fields, found 58"), "{}", errors[1]);
    // The missing-id line is rejected by the Personne_activite row parser, not by the width check: see below.
    let dir = tempfile::tempdir().expect("tmp");
    let src = edited_sample(dir.path(), |t| format!("{t}{no_id}\n").into_bytes());
    let e = read(&src);
    assert_eq!(e.report.group.errors_by_kind.get("missing_id"), Some(&1));
    let err = &e.report.group.first_errors[0];
    assert!(err.to_string().contains("column 3 (Identification nationale PP)"), "{err}");
}

fn annuaire_data_samples_header() -> String {
    let text =
        std::fs::read_to_string(samples().join("PS_LibreAcces/PS_LibreAcces_Personne_activite_202611280900.txt"))
            .expect("sample");
    text.lines().next().expect("header").to_string()
}

#[test]
fn bom_crlf_and_latin1_lines_are_tolerated_and_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = edited_sample(dir.path(), |t| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        let crlf = t.replace('\n', "\r\n");
        // Re-encode one line with an accent in Windows-1252.
        let line = crlf.lines().find(|l| l.contains("LEFÈVRE")).expect("line").to_string();
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(&line);
        let rest = crlf.replacen(&line, "@@LATIN1@@", 1);
        let (a, b) = rest.split_once("@@LATIN1@@").expect("marker");
        bytes.extend_from_slice(a.as_bytes());
        bytes.extend_from_slice(&latin1);
        bytes.extend_from_slice(b.as_bytes());
        bytes
    });
    let e = read(&src);
    let reference = read(&samples().join("PS_LibreAcces"));
    let f = &e.report.files[0];
    assert!(f.bom);
    assert_eq!(f.latin1_lines, 1);
    assert!(f.first_latin1_line.is_some());
    assert_eq!(e.report.rows_rejected, 0);
    assert_eq!(e.persons, reference.persons, "BOM, CRLF and one Windows-1252 line change nothing");
}

#[test]
fn an_unusable_header_fails_with_the_file_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let src =
        edited_sample(dir.path(), |t| t.replacen("Identification nationale PP", "Identification", 1).into_bytes());
    let err = read_extract(&Source::open(&src).expect("source"), &|_, _| {}).expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("PS_LibreAcces_Personne_activite_202611280900.txt: line 1: unusable header"), "{msg}");
    assert!(msg.contains("Identification nationale PP"), "{msg}");
}

fn served_record(rt: &tokio::runtime::Runtime, store: &Store, idnat: &str) -> Option<String> {
    rt.block_on(async {
        let g = store.served().await.expect("served")?.generation;
        store.person_at(idnat, g).await.expect("read").map(|p| p.record)
    })
}

#[test]
fn a_failed_or_interrupted_ingest_leaves_the_served_generation_served() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let store = rt.block_on(Store::open(&dir.path().join("data"))).expect("store");
    let first = rt.block_on(run_once(&store, &RunOptions::new(samples().join("PS_LibreAcces")))).expect("first sync");
    assert_eq!(first.status, RunStatus::Promoted);
    let before = served_record(&rt, &store, "810100271385").expect("served");

    // A new extract where every doctor changed, stopped half-way through writing.
    let changed = edited_sample(dir.path(), |t| t.replace("|Médecin|", "|Medecin|").into_bytes());
    let mut opts = RunOptions::new(&changed);
    opts.fail_after_batches = Some(2);
    opts.max_update_rate = 100.0;
    let err = rt.block_on(run_once(&store, &opts)).expect_err("interrupted");
    assert!(matches!(err, Error::Interrupted(_)), "{err}");
    assert_eq!(served_record(&rt, &store, "810100271385").as_deref(), Some(before.as_str()));
    assert_eq!(rt.block_on(store.served()).expect("s").map(|s| s.generation), first.generation);
    let hashes = rt.block_on(store.current_hashes()).expect("hashes");
    assert_eq!(hashes.len() as u64, first.report.persons, "no trace of the interrupted generation");

    // Too many bad lines: the run fails, names the first one, and changes nothing.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    let text = std::fs::read_to_string(changed.join("PS_LibreAcces_Personne_activite_202611280900.txt")).expect("read");
    let mangled: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i > 0 && i % 20 == 0 { format!("{}\n", &l[..40]) } else { format!("{l}\n") })
        .collect();
    std::fs::write(broken.join("PS_LibreAcces_Personne_activite_202611280900.txt"), mangled).expect("write");
    let err = rt.block_on(run_once(&store, &RunOptions::new(&broken))).expect_err("too many errors");
    let msg = err.to_string();
    assert!(msg.contains("above the 1.00 % threshold"), "{msg}");
    assert!(msg.contains("line 21, column"), "{msg}");
    assert_eq!(served_record(&rt, &store, "810100271385").as_deref(), Some(before.as_str()));

    // The next sync completes, and the change is served.
    let mut opts = RunOptions::new(&changed);
    opts.max_update_rate = 100.0;
    let done = rt.block_on(run_once(&store, &opts)).expect("sync");
    assert_eq!(done.status, RunStatus::Promoted);
    assert!(served_record(&rt, &store, "810100271385").expect("served").contains("\"Medecin\""));
    let runs = rt.block_on(store.runs()).expect("runs");
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![RunStatus::Promoted, RunStatus::Failed, RunStatus::Failed, RunStatus::Promoted]);
    assert!(runs[1].reason.as_deref().unwrap_or("").contains("interrupted"));
}

#[test]
fn a_rejected_line_keeps_that_person_as_served() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let store = rt.block_on(Store::open(&dir.path().join("data"))).expect("store");
    rt.block_on(run_once(&store, &RunOptions::new(samples().join("PS_LibreAcces")))).expect("first");
    let before = served_record(&rt, &store, "810100271385").expect("served");
    // Cut one of the doctor's four lines: without care the person would lose an activity.
    let src = edited_sample(dir.path(), |t| {
        let line = t.lines().find(|l| l.contains("CABINET DU DR LEFÈVRE")).expect("line").to_string();
        let cut: String = line.chars().take(line.chars().count() - 80).collect();
        t.replacen(&line, &cut, 1).into_bytes()
    });
    let out = rt.block_on(run_once(&store, &RunOptions::new(&src))).expect("sync");
    assert_eq!(out.report.rows_rejected, 1);
    assert_eq!(out.diff.total().kept_on_error, 1, "{:?} {:?}", out.diff, out.report.group.first_errors);
    assert_eq!(served_record(&rt, &store, "810100271385").as_deref(), Some(before.as_str()));
}

/// The card and MSSanté samples read beside the main extract, in their real format and quirks.
fn read_with(extras: &[&str]) -> annuaire_ingest::Extract {
    let extras: Vec<PathBuf> = extras.iter().map(|e| samples().join(e)).collect();
    read_extract(&Source::open_with(&samples().join("PS_LibreAcces"), &extras).expect("source"), &|_, _| {})
        .expect("read")
}

#[test]
fn the_card_file_reads_in_iso_8859_1_with_its_dates_and_duplicates() {
    let e = read_with(&["Porteurs_CPS_CPF"]);
    let cards = e.report.files.iter().find(|f| f.name.starts_with("Porteurs_CPS_CPF")).expect("card file");
    assert_eq!(cards.columns, 17);
    assert_eq!(cards.rejected, 0);
    assert_eq!(cards.latin1_lines, 8, "every data line holds an accent in ISO-8859-1");
    let p = person(&e.persons, "810100271385");
    assert_eq!(p.cards.len(), 2, "the duplicate line counts once");
    assert_eq!(p.cards[0].valid_to, "2023-02-28");
    assert_eq!(p.cards[1].valid_from, "2025-01-15");
    assert_eq!(p.cards[1].card_type.label, "Carte de Professionnel de Santé");
    assert!(p.cards[1].is_valid_on("2026-11-28") && !p.cards[0].is_valid_on("2026-11-28"));
    assert_eq!(person(&e.persons, "810001045367").cards[0].card_type.label, "Carte de Personnel d'Établissement");
    assert_eq!(person(&e.persons, "810100000024").cards[0].opposed_on, "2026-06-15");
    assert_eq!(e.report.group.warnings_by_kind.get("card_of_unknown_person"), Some(&1));
    // Persons without a card have none, and the rest of the record is what the main extract alone gives.
    let alone = read(&samples().join("PS_LibreAcces"));
    for (a, b) in alone.persons.iter().zip(&e.persons) {
        let mut b = b.clone();
        b.cards.clear();
        assert_eq!(a, &b);
    }
}

#[test]
fn the_card_file_of_the_data_gouv_mirror_reads_by_name_with_yyyymmdd_dates() {
    // The mirror's columns (extract-format.md §7): no type or national id, dates as yyyymmdd, UTF-8.
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("porteurs-cps-cpf.txt");
    std::fs::write(
        &f,
        "Identifiant PP|Code type de carte|Libellé type de carte|Numéro carte|Identifiant national contenu dans la carte|\
Date début validité|Date fin validité|Date opposition|Date de mise à jour|\n\
10100271385|CPS|Carte de Professionnel de Santé|2500271385|810100271385|20250115|20300114||20250120|\n\
012800751|CPS|Carte de Professionnel de Santé|2500128007|0012800751|20250901|20300831||20250902|\n\
10100000016|CPS|Carte de Professionnel de Santé|2000000016|810100000016|20200101|31/12/2022||20230102|\n\
10100000024|CPS|Carte de Professionnel de Santé|2500000024|810100000024|2025-02-01|20301301||20250201|\n",
    )
    .expect("write");
    let e = read_extract(&Source::open_with(&samples().join("PS_LibreAcces"), &[f]).expect("source"), &|_, _| {})
        .expect("read");
    let p = person(&e.persons, "810100271385");
    assert_eq!((p.cards[0].valid_from.as_str(), p.cards[0].valid_to.as_str()), ("2025-01-15", "2030-01-14"));
    assert_eq!(person(&e.persons, "0012800751").cards[0].number, "2500128007", "a 9-character id is an ADELI");
    assert_eq!(person(&e.persons, "810100000016").cards[0].valid_to, "2022-12-31", "both date forms in one file");
    // Month 13 is no date: the line is rejected with its file, line and column, and the person keeps no card.
    let err = e.report.group.first_errors.iter().find(|r| r.kind == "bad_date").expect("bad date");
    assert_eq!((err.file.as_str(), err.line), ("porteurs-cps-cpf.txt", 5));
    assert_eq!(err.column.as_deref(), Some("column 7 (Date fin validité)"));
    assert!(person(&e.persons, "810100000024").cards.is_empty());
}

#[test]
fn mailboxes_are_deduplicated_with_or_without_a_trailing_separator() {
    let e = read_with(&["MSSante"]);
    let f = e.report.files.iter().find(|f| f.name.starts_with("Extraction_Correspondance_MSSante")).expect("file");
    assert_eq!((f.columns, f.trailing_separator, f.rejected), (31, false, 0));
    let p = person(&e.persons, "810100271385");
    assert_eq!(p.mailboxes.len(), 2, "the repeated address counts once");
    assert_eq!(p.mailboxes[1].address, "etienne.lefevre@medecin.mssante.fr");
    assert_eq!(person(&e.persons, "0012800751").mailboxes[0].kind, "PER");
    assert_eq!(e.report.group.warnings_by_kind.get("organisation_mailbox_not_stored"), Some(&1));
    assert_eq!(e.report.group.warnings_by_kind.get("mailbox_of_unknown_person"), Some(&1));

    // The 2018 layout ended every line with `|`: same mailboxes.
    let dir = tempfile::tempdir().expect("tmp");
    let src = std::fs::read_dir(samples().join("MSSante")).expect("ls").next().expect("file").expect("entry").path();
    let text = std::fs::read_to_string(&src).expect("read");
    let trailing: String = text.lines().map(|l| format!("{l}|\n")).collect();
    let copy = dir.path().join(src.file_name().expect("name"));
    std::fs::write(&copy, trailing).expect("write");
    let t = read_extract(&Source::open_with(&samples().join("PS_LibreAcces"), &[copy]).expect("source"), &|_, _| {})
        .expect("read");
    assert_eq!(person(&t.persons, "810100271385").mailboxes, p.mailboxes);
}

#[test]
fn an_extra_source_that_holds_no_known_extract_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("notes.csv");
    std::fs::write(&f, "a|b\n").expect("write");
    let folder = dir.path().join("empty");
    std::fs::create_dir_all(&folder).expect("mkdir");
    match Source::open_with(&samples().join("PS_LibreAcces"), std::slice::from_ref(&folder)) {
        Err(Error::Source { path, message }) => {
            assert_eq!(path, folder);
            assert!(message.contains("Porteurs_CPS_CPF"), "{message}");
        }
        other => panic!("expected a source error, got {other:?}"),
    }
}

#[test]
fn the_restricted_psc_file_replaces_the_public_one_with_civil_status() {
    // ANS's own fixture (psc-rass-loader), byte for byte: 49 columns, codes without labels.
    let e = read(&samples().join("ProSanteConnect"));
    assert_eq!(e.report.files[0].columns, 49);
    assert_eq!(e.report.rows_rejected, 0);
    assert_eq!(e.persons.len(), 5);
    let p = person(&e.persons, "0012800736");
    let cs = p.civil_status.as_ref().expect("civil status");
    assert_eq!((cs.family_name.as_str(), cs.first_names_raw.as_str()), ("PIERRE", "Bernadette''"));
    assert_eq!(cs.first_names, ["Bernadette"], "the padding of the list is dropped");
    assert_eq!((cs.birth_date.as_str(), cs.birth_date_raw.as_str()), ("1963-01-04", "04/01/1963"));
    assert_eq!(p.exercices[0].family_name, "EVRARD", "exercise names stay the exercise's");
    let p = person(&e.persons, "810107592585");
    let cs = p.civil_status.as_ref().expect("civil status");
    assert_eq!(cs.first_names, ["PIERRE", "DANIEL", "PATRICK"]);
    assert_eq!(
        (cs.birth_commune.as_str(), cs.birth_country.as_str(), cs.birth_place.as_str()),
        ("56260", "99000", "VANNES")
    );
    assert_eq!((cs.phone.as_str(), cs.email.as_str(), cs.sex.as_str()), ("+33 222222222", "roleau@outlook.fr", "M"));
    // Codes without labels get the shipped tables' labels; the authority comes from the same field as ever.
    assert_eq!(p.exercices[0].profession.code, "70");
    assert!(!p.exercices[0].profession.label.is_empty());
    assert_eq!(p.exercices[0].authority.kind, AuthorityKind::Ordre);
    // One fixture line carries an idNat that disagrees with type + id: kept, and reported.
    assert_eq!(e.report.group.warnings_by_kind.get("idnat_mismatch"), Some(&1));

    // Both main files at once is refused, naming the source.
    let dir = tempfile::tempdir().expect("tmp");
    for d in ["PS_LibreAcces", "ProSanteConnect"] {
        for f in std::fs::read_dir(samples().join(d)).expect("ls") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, dir.path().join(f.file_name().expect("name"))).expect("copy");
        }
    }
    match Source::open(dir.path()) {
        Err(Error::Source { message, .. }) => assert!(message.contains("give one main file"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
