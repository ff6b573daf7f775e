//! Skipping the unchanged early (issue 17): a re-sync that takes persons as unchanged from the memo of their lines
//! finds what a re-sync that parses every person finds: the same diff, the same report (grouping counters, segments,
//! quality report, errors), the same records. Every file kind takes part: the public extract, cards and mailboxes.

use annuaire_ingest::{Origin, RunOptions, RunOutcome, run_once};
use annuaire_store::{RunStatus, Store};
use std::path::{Path, PathBuf};

fn samples(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples").join(name)
}

/// Each sample file rewritten line by line by `edit(line index, line)` (bytes: the card file is in ISO-8859-1; the
/// header is kept), under a newer timestamp.
/// How a line is rewritten: its index and bytes, to the new bytes or nothing.
type Edit<'a> = &'a dyn Fn(usize, &[u8]) -> Option<Vec<u8>>;

fn edited(dir: &Path, name: &str, edit: Edit<'_>) -> anyhow::Result<PathBuf> {
    let out = dir.join(name);
    std::fs::create_dir_all(&out)?;
    for e in std::fs::read_dir(samples(name))? {
        let path = e?.path();
        let file = path.file_name().map(|n| n.to_string_lossy().replace("_2026", "_2027")).unwrap_or_default();
        let bytes = std::fs::read(&path)?;
        let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let mut body = lines.next().map(<[u8]>::to_vec).unwrap_or_default();
        body.push(b'\n');
        for (i, l) in lines.enumerate() {
            if let Some(l) = edit(i, l) {
                body.extend_from_slice(&l);
                body.push(b'\n');
            }
        }
        std::fs::write(out.join(file), body)?;
    }
    Ok(out)
}

/// The next night's extract: some lines changed (lower case: new names, unknown codes), some gone, a line with
/// mis-encoded text, a line of the wrong width; cards and mailboxes with some lines changed and some gone.
fn next_night(dir: &Path) -> anyhow::Result<RunOptions> {
    let main = edited(dir, "PS_LibreAcces", &|i, l| {
        let l = String::from_utf8_lossy(l);
        let l = match i % 23 {
            3 => return None,
            7 => l.to_lowercase(),
            11 if i < 200 => l.replacen('|', "|MÃ©decin ", 9).replacen("|MÃ©decin ", "|", 8),
            _ if i == 40 => format!("{l}|extra"),
            _ => l.into_owned(),
        };
        Some(l.into_bytes())
    })?;
    let cards = edited(dir, "Porteurs_CPS_CPF", &|i, l| (i % 17 != 5).then(|| l.to_vec()))?;
    let mailboxes =
        edited(dir, "MSSante", &|i, l| Some(if i % 13 == 2 { l.to_ascii_uppercase() } else { l.to_vec() }))?;
    let mut opts = RunOptions::new(main);
    opts.with = vec![Origin::Path(cards), Origin::Path(mailboxes)];
    (opts.max_delete_rate, opts.max_update_rate, opts.gate_floor) = (100.0, 100.0, 1_000_000);
    opts.max_error_rate = 100.0;
    Ok(opts)
}

fn first_night() -> RunOptions {
    let mut opts = RunOptions::new(samples("PS_LibreAcces"));
    opts.with = vec![Origin::Path(samples("Porteurs_CPS_CPF")), Origin::Path(samples("MSSante"))];
    opts
}

/// The report as the run record keeps it, without what only says how the work was done.
fn report(o: &RunOutcome) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(&o.report)?;
    if let Some(m) = v.as_object_mut() {
        m.remove("persons_skipped");
    }
    Ok(v)
}

/// Two nights on one store; with `reparse`, the second parses every person.
async fn two_nights(dir: &Path, reparse: bool) -> anyhow::Result<(Store, RunOutcome)> {
    let store = Store::open(&dir.join(if reparse { "parsed" } else { "skipped" })).await?;
    let first = run_once(&store, &first_night()).await?;
    assert_eq!(first.status, RunStatus::Promoted);
    assert_eq!(first.report.persons_skipped, 0, "nothing to skip on a first load");
    let mut next = next_night(dir)?;
    next.reparse = reparse;
    let second = run_once(&store, &next).await?;
    assert_eq!(second.status, RunStatus::Promoted, "{:?}", second.reason);
    Ok((store, second))
}

#[tokio::test]
async fn a_resync_that_skips_the_unchanged_finds_what_parsing_everyone_finds() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (parsed_store, parsed) = two_nights(dir.path(), true).await?;
    let (skipped_store, skipped) = two_nights(dir.path(), false).await?;
    assert_eq!(parsed.report.persons_skipped, 0);
    let total = skipped.diff.total();
    assert!(total.updated > 10 && total.deleted > 0 && total.unchanged > 100, "{total:?}");
    assert!(
        skipped.report.persons_skipped > 0 && skipped.report.persons_skipped <= total.unchanged,
        "skipped {} of {} unchanged",
        skipped.report.persons_skipped,
        total.unchanged
    );
    assert_eq!(skipped.diff, parsed.diff);
    let quality = skipped.report.quality.as_ref().ok_or_else(|| anyhow::anyhow!("no quality report"))?;
    assert!(quality.text.contains_key("mojibake"), "the edited names are seen: {:?}", quality.text.keys());
    assert!(skipped.report.rows_rejected > 0, "the line of the wrong width");
    assert_eq!(report(&skipped)?, report(&parsed)?);
    let (g1, g2) = (skipped.generation.unwrap_or(0), parsed.generation.unwrap_or(0));
    assert_eq!(skipped_store.persons_at(g1).await?, parsed_store.persons_at(g2).await?);

    // The same extract again, forced: every person whose lines were accepted is taken from the memo, and still
    // nothing changes.
    let mut again = next_night(dir.path())?;
    again.force = true;
    let third = run_once(&skipped_store, &again).await?;
    let t = third.diff.total();
    assert_eq!((t.created, t.updated, t.deleted), (0, 0, 0), "{t:?}");
    assert_eq!(third.report.persons_skipped, t.unchanged, "every unchanged person was skipped");
    assert_eq!(serde_json::to_value(&third.report.group)?, serde_json::to_value(&skipped.report.group)?);
    let now = |o: &RunOutcome| o.diff.segments.iter().map(|(k, s)| (k.clone(), s.now)).collect::<Vec<_>>();
    assert_eq!(now(&third), now(&skipped));
    Ok(())
}

/// The same lines under a header whose two name columns are swapped mean other records: the memo of the lines must not
/// hide that (a line's hash takes its file's header).
#[tokio::test]
async fn the_same_lines_under_another_header_are_parsed_again() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let swapped = |dir: &Path| -> anyhow::Result<RunOptions> {
        let out = dir.join("swapped");
        std::fs::create_dir_all(&out)?;
        for e in std::fs::read_dir(samples("PS_LibreAcces"))? {
            let path = e?.path();
            let file = path.file_name().map(|n| n.to_string_lossy().replace("_2026", "_2027")).unwrap_or_default();
            let text = std::fs::read_to_string(&path)?;
            let text = if file.contains("Personne_activite") {
                text.replacen("|Nom d'exercice|Prénom d'exercice|", "|Prénom d'exercice|Nom d'exercice|", 1)
            } else {
                text
            };
            std::fs::write(out.join(file), text)?;
        }
        let mut opts = RunOptions::new(out);
        (opts.max_delete_rate, opts.max_update_rate, opts.gate_floor) = (100.0, 100.0, 1_000_000);
        Ok(opts)
    };
    let mut outcomes = Vec::new();
    for reparse in [false, true] {
        let store = Store::open(&dir.path().join(format!("store-{reparse}"))).await?;
        run_once(&store, &RunOptions::new(samples("PS_LibreAcces"))).await?;
        let mut next = swapped(dir.path())?;
        next.reparse = reparse;
        let o = run_once(&store, &next).await?;
        assert_eq!(o.status, RunStatus::Promoted, "{:?}", o.reason);
        outcomes.push((o.diff.clone(), store.persons_at(o.generation.unwrap_or(0)).await?));
    }
    let t = outcomes[0].0.total();
    assert!(t.updated > 100, "the names moved: {t:?}");
    assert_eq!(outcomes[0], outcomes[1], "skipping finds what parsing everyone finds");
    Ok(())
}
