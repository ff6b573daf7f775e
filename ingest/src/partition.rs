//! Pass B for one partition ([`diff_partition`]): its persons grouped (or taken as unchanged from the memo of their
//! lines, [`crate::facts`]), each compared with the served record, with what the wave needs to write and count; and
//! the served hashes it compares with ([`ServedHashes`]), read while pass A runs.

use crate::diff::{Diff, SegmentDiff, id_group_of};
use crate::error::{Error, Result};
use crate::extract::{PARTITIONS, Partitioned, partition_of};
use crate::facts::{Facts, FactsRef};
use annuaire_schemas::Person;
use annuaire_store::{Change, ChangeKind, Memo, Store};
use std::collections::{BTreeMap, HashSet};

/// One partition grouped and diffed by pass B.
pub(crate) struct PartResult {
    pub(crate) partition: usize,
    pub(crate) changes: Vec<Change>,
    pub(crate) outcomes: Vec<(&'static str, Outcome)>,
    /// Served persons of this partition absent from the extract, sorted.
    pub(crate) gone: Vec<String>,
    pub(crate) tainted: HashSet<String>,
    pub(crate) stats: crate::group::GroupStats,
    pub(crate) persons: u64,
    /// Persons of this partition by segment.
    pub(crate) segments: BTreeMap<String, SegmentDiff>,
    /// What the quality report needs of this partition's persons.
    pub(crate) quality: crate::quality::Collector,
    /// Memos to write: persons parsed whose lines or record the store's memo did not have.
    pub(crate) memos: Vec<Memo>,
    /// Persons judged unchanged from their memo, without being parsed.
    pub(crate) skipped: u64,
}

/// One partition's served records: idNat → record hash.
pub(crate) type Served = foldhash::HashMap<Box<str>, u128>;

/// One partition's memos, by idNat: the hash of the lines, the record hash they gave, the person's facts (borrowed
/// from the memos read).
pub(crate) type Memos<'a> = foldhash::HashMap<&'a str, (u128, u128, FactsRef<'a>)>;

/// The memos of each of a wave's partitions (`first`, then the `count - 1` after it), from the wave's memos in
/// partition order, as the store gives them.
pub(crate) fn memos_by_partition(rows: &[Memo], first: usize, count: usize) -> Vec<&[Memo]> {
    (first..first + count)
        .map(|p| {
            let (from, to) = (rows.partition_point(|m| m.part < p), rows.partition_point(|m| m.part <= p));
            rows.get(from..to).unwrap_or_default()
        })
        .collect()
}

/// One partition's memos, decoded on the worker that diffs it (a memo that does not decode is left out: its person
/// is parsed).
fn decode_memos(rows: &[Memo]) -> Memos<'_> {
    let mut out = Memos::with_capacity_and_hasher(rows.len(), Default::default());
    for m in rows {
        if let Some(facts) = Facts::decode(&m.facts) {
            out.insert(m.idnat.as_str(), (m.raw, m.record, facts));
        }
    }
    out
}

/// The hashes of the served generation's records, one compact map per partition (1.7 million entries at national
/// size), read while pass A runs.
pub(crate) struct ServedHashes {
    pub(crate) current: Vec<Served>,
    /// Served persons by id group (the diff's references).
    pub(crate) diff: Diff,
    pub(crate) count: u64,
}

impl ServedHashes {
    pub(crate) async fn read(store: Store) -> Result<ServedHashes> {
        let t = std::time::Instant::now();
        let mut served = ServedHashes { current: vec![Served::default(); PARTITIONS], diff: Diff::default(), count: 0 };
        let mut references: BTreeMap<&'static str, u64> = BTreeMap::new();
        store
            .for_each_current_hash(|idnat, hash| {
                *references.entry(id_group_of(idnat)).or_default() += 1;
                served.count += 1;
                let h = u128::from_str_radix(hash, 16).unwrap_or(0);
                served.current[partition_of(idnat)].insert(idnat.into(), h);
            })
            .await?;
        for (group, n) in references {
            served.diff.group(group).reference += n;
        }
        tracing::info!(elapsed = ?t.elapsed(), served = served.count, "served hashes read");
        Ok(served)
    }
}

/// Pass B for one partition: its persons grouped, each compared by record hash with the served one. A person whose
/// lines hash as in their memo, and whose served record is the one the memo says those lines give, is unchanged: it
/// is counted from the memo's facts without being parsed.
pub(crate) fn diff_partition(
    parted: &Partitioned,
    p: usize,
    served: &Served,
    memos: &[Memo],
    tainted_a: &HashSet<String>,
    live: Option<&crate::live::Live>,
    identifiers: &std::sync::Mutex<crate::quality::Identifiers>,
) -> Result<PartResult> {
    let memos = decode_memos(memos);
    let known = |key: &str, raw: u128| {
        !tainted_a.contains(key)
            && memos.get(key).is_some_and(|(m_raw, m_record, _)| *m_raw == raw && served.get(key) == Some(m_record))
    };
    // A person's hash and stored record are made as soon as the person is grouped, while it is in the core's cache:
    // made here, after the whole partition was grouped, each read of one of its strings missed it (2026-12-05,
    // `docs/benchmarks.md`).
    // A new person goes to the views of a first load there too (they order their documents themselves), and is
    // then dropped by that thread: the diff below reads idNats, facts and hashes only.
    let each = |person: &Person| -> Result<crate::extract::Stored> {
        let old = served.get(person.idnat.as_str());
        if old.is_none()
            && let Some(live) = live
        {
            live.add(person)?;
        }
        Ok(annuaire_store::record::hash_then_pack(person, |h| old != Some(&h))?)
    };
    let part = parted.process_skipping(p, &known, Some(&each))?;
    let persons = (part.idnats.len() + part.skipped.len()) as u64;
    let mut changes = Vec::new();
    let mut outcomes = Vec::with_capacity(persons as usize);
    let mut seen: foldhash::HashSet<&str> =
        foldhash::HashSet::with_capacity_and_hasher(persons as usize, Default::default());
    let mut segments = BTreeMap::new();
    let mut quality = crate::quality::Collector::default();
    let mut stats = part.stats;
    let mut new_memos = Vec::with_capacity(part.idnats.len());
    let skipped: Vec<(&str, &FactsRef)> =
        part.skipped.iter().filter_map(|k| memos.get(k.as_str()).map(|(_, _, f)| (k.as_str(), f))).collect();
    {
        let mut ids = identifiers.lock().map_err(|_| Error::Interrupted("a worker panicked".into()))?;
        for f in &part.facts {
            ids.person(f);
        }
        for (_, f) in &skipped {
            ids.person(*f);
        }
    }
    for (idnat, facts) in &skipped {
        stats.add_person(facts);
        quality.person(idnat, facts);
        seen.insert(idnat);
        outcomes.push((id_group_of(idnat), Outcome::Unchanged));
        Diff::count_segments(&mut segments, &facts.segments, false);
    }
    for (((id, facts), raw), stored) in part.idnats.iter().zip(&part.facts).zip(&part.raw).zip(part.stored) {
        stats.add_person(facts);
        let idnat = id.as_str();
        quality.person(idnat, facts);
        seen.insert(idnat);
        let group = id.id_type().group();
        let old = served.get(idnat);
        if old.is_some() && (part.tainted.contains(idnat) || tainted_a.contains(idnat)) {
            outcomes.push((group, Outcome::KeptOnError));
            Diff::count_segments(&mut segments, &facts.segments, false);
            continue;
        }
        let (record, packed) = stored;
        if let Some(raw) = *raw
            && !tainted_a.contains(idnat)
            && memos.get(idnat).is_none_or(|(m_raw, m_record, _)| (*m_raw, *m_record) != (raw, record))
        {
            new_memos.push(Memo { part: p, idnat: idnat.to_string(), raw, record, facts: facts.encode() });
        }
        let updated = old.is_some_and(|h| *h != record);
        Diff::count_segments(&mut segments, &facts.segments, updated);
        // Packed exactly when the hash is not the served one: nothing packed is unchanged.
        match packed {
            None => outcomes.push((group, Outcome::Unchanged)),
            Some(packed) => {
                let (kind, outcome) = if old.is_some() {
                    (ChangeKind::Update, Outcome::Updated)
                } else {
                    (ChangeKind::Create, Outcome::Created)
                };
                outcomes.push((group, outcome));
                changes.push(change(idnat, kind, group, packed, record));
            }
        }
    }
    Ok(PartResult {
        partition: p,
        changes,
        outcomes,
        gone: {
            let mut gone: Vec<String> =
                served.keys().map(|k| &**k).filter(|id| !seen.contains(*id)).map(str::to_string).collect();
            gone.sort_unstable();
            gone
        },
        tainted: part.tainted,
        stats,
        persons,
        segments,
        quality,
        memos: new_memos,
        skipped: skipped.len() as u64,
    })
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Created,
    Updated,
    Unchanged,
    KeptOnError,
}

/// A change with its record packed for storage (here, on the pass's workers, rather than on the store's writer).
fn change(idnat: &str, kind: ChangeKind, group: &'static str, packed: Vec<u8>, hash: u128) -> Change {
    Change {
        idnat: idnat.to_string(),
        kind,
        id_group: group,
        record: Some((packed, annuaire_store::record::hash_hex(hash))),
    }
}
