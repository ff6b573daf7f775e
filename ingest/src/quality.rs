//! The quality report of a run: what in an extract looks wrong although nothing rejected it, compared with the
//! previous generation's, so that a sudden change shows.
//!
//! - text that looks mis-encoded ([`crate::text`]), each kind with a count and its first places (file, line,
//!   column);
//! - codes missing from the shipped tables (from the grouping's counters);
//! - structures that share a SIRET or a FINESS under different technical ids;
//! - persons without any activity;
//! - persons by profession, authority kind and department against the previous generation (what moved most);
//! - the row errors and warnings by kind.
//!
//! It is written into the run record (`report.quality`) by every run that reads an extract; `annuaire quality` and
//! `GET /v1/quality/{generation}` read it back. Its `warnings` are what an operator should look at (and what the
//! `quality` alert carries).

pub use crate::text::{KEPT, TextIssues, TextPlace};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One identifier (SIRET or FINESS) used by structures with different technical ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedId {
    /// The SIRET or FINESS.
    pub value: String,
    /// The technical ids of the structures that give it (at most [`KEPT`]).
    pub technical_ids: Vec<String>,
}

/// Identifiers shared by several structures, of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedIds {
    /// How many identifiers are shared.
    pub count: u64,
    /// The first ones, by identifier.
    pub first: Vec<SharedId>,
}

/// A technical id held inline (no allocation per structure): its first 31 bytes and their length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TechId([u8; 32]);

impl TechId {
    fn new(id: &str) -> TechId {
        let mut b = [0u8; 32];
        let n = id.len().min(31);
        b[..n].copy_from_slice(&id.as_bytes()[..n]);
        b[31] = n as u8;
        TechId(b)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0[..usize::from(self.0[31]).min(31)]).into_owned()
    }
}

/// Identifiers (SIRET, FINESS) given by structures, and those given by more than one technical id. Shared by every
/// partition of a run behind a lock, so that a sharing is seen with both its strings whichever partitions they are in;
/// about 40 bytes per identifier (its hash and the first technical id, inline).
#[derive(Debug, Default)]
pub(crate) struct Identifiers {
    siret: HashMap<u64, TechId>,
    finess: HashMap<u64, TechId>,
    shared_siret: BTreeMap<String, BTreeSet<String>>,
    shared_finess: BTreeMap<String, BTreeSet<String>>,
}

impl Identifiers {
    fn add(first: &mut HashMap<u64, TechId>, shared: &mut BTreeMap<String, BTreeSet<String>>, value: &str, tech: &str) {
        let t = TechId::new(tech);
        match first.entry(xxhash_rust::xxh3::xxh3_64(value.as_bytes())) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(t);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                if *e.get() != t || shared.contains_key(value) {
                    let ids = shared.entry(value.to_string()).or_default();
                    if ids.len() < KEPT {
                        ids.insert(e.get().text());
                        ids.insert(tech.to_string());
                    }
                }
            }
        }
    }

    /// Note the structures of one person.
    pub(crate) fn person<S: AsRef<str>>(&mut self, f: &crate::facts::Facts<S>) {
        for (tech, siret, finess) in &f.structures {
            let (tech, siret, finess) = (tech.as_ref(), siret.as_ref(), finess.as_ref());
            if !siret.is_empty() {
                Self::add(&mut self.siret, &mut self.shared_siret, siret, tech);
            }
            if !finess.is_empty() {
                Self::add(&mut self.finess, &mut self.shared_finess, finess, tech);
            }
        }
    }
}

/// Collects, over every person of a partition, what the report needs beyond the grouping's counters and the
/// identifiers.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    without_activity: u64,
    without_activity_first: Vec<String>,
    /// kind → code → the smallest idNat of a person who has it.
    unknown_first: BTreeMap<String, BTreeMap<String, String>>,
}

impl Collector {
    /// Look at one person of the new generation (`idnat`, with its facts).
    pub(crate) fn person<S: AsRef<str>>(&mut self, idnat: &str, f: &crate::facts::Facts<S>) {
        for (kind, code, _) in &f.unknown {
            let slot = self.unknown_first.entry(kind.as_ref().to_string()).or_default();
            match slot.get_mut(code.as_ref()) {
                Some(first) if idnat < first.as_str() => *first = idnat.to_string(),
                Some(_) => {}
                None => {
                    slot.insert(code.as_ref().to_string(), idnat.to_string());
                }
            }
        }
        if f.without_activity {
            self.without_activity += 1;
            // The smallest idNats, whatever order persons come in.
            let first = &mut self.without_activity_first;
            if first.len() < KEPT {
                first.push(idnat.to_string());
                first.sort();
            } else if first.last().is_some_and(|last| idnat < last.as_str()) {
                first.pop();
                first.push(idnat.to_string());
                first.sort();
            }
        }
    }

    /// Add another partition's.
    pub(crate) fn merge(&mut self, o: Collector) {
        for (kind, codes) in o.unknown_first {
            let slot = self.unknown_first.entry(kind).or_default();
            for (code, idnat) in codes {
                let first = slot.entry(code).or_insert_with(|| idnat.clone());
                if idnat < *first {
                    *first = idnat;
                }
            }
        }
        self.without_activity += o.without_activity;
        self.without_activity_first.extend(o.without_activity_first);
        self.without_activity_first.sort();
        self.without_activity_first.truncate(KEPT);
    }
}

fn shared(map: BTreeMap<String, BTreeSet<String>>) -> SharedIds {
    let many: Vec<(String, BTreeSet<String>)> = map.into_iter().filter(|(_, ids)| ids.len() > 1).collect();
    SharedIds {
        count: many.len() as u64,
        first: many
            .into_iter()
            .take(KEPT)
            .map(|(value, ids)| SharedId { value, technical_ids: ids.into_iter().take(KEPT).collect() })
            .collect(),
    }
}

/// A segment that moved between the previous generation and this one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    /// `profession:60`, `authority_kind:ars`, `department:23`.
    pub segment: String,
    /// Persons in the previous generation.
    pub before: u64,
    /// Persons now.
    pub now: u64,
    /// `now - before`.
    pub change: i64,
    /// The change in percent of `before` (null when `before` is 0).
    pub percent: Option<f64>,
}

/// The quality report of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Text that looks wrong, by kind (`mojibake`, `replacement_character`, `control_character`).
    pub text: BTreeMap<String, TextIssues>,
    /// Codes not found in the shipped tables: kind → code → occurrences.
    pub unknown_codes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Where to see each of them: kind → code → the first person (by idNat) whose record has it.
    pub unknown_code_persons: BTreeMap<String, BTreeMap<String, String>>,
    /// SIRETs given by structures with different technical ids.
    pub shared_siret: SharedIds,
    /// FINESS (site) given by structures with different technical ids.
    pub shared_finess: SharedIds,
    /// Persons without any activity.
    pub persons_without_activity: u64,
    /// The first of them.
    pub persons_without_activity_first: Vec<String>,
    /// Rows rejected, by kind.
    pub row_errors_by_kind: BTreeMap<String, u64>,
    /// Warnings of the grouping, by kind.
    pub warnings_by_kind: BTreeMap<String, u64>,
    /// Persons by profession, authority kind and department, now.
    pub counts: BTreeMap<String, u64>,
    /// The segments that moved most against the previous generation (at most 20, by size of the change).
    pub moved: Vec<Moved>,
    /// What to look at, compared with the previous generation's report.
    pub warnings: Vec<String>,
}

/// The counters the report compares with the previous one: name → value.
fn indicators(q: &Quality) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (k, t) in &q.text {
        m.insert(format!("text {k}"), t.count);
    }
    m.insert("codes missing from the tables".into(), q.unknown_codes.values().map(|c| c.values().sum::<u64>()).sum());
    m.insert("SIRETs shared by several structures".into(), q.shared_siret.count);
    m.insert("FINESS shared by several structures".into(), q.shared_finess.count);
    m.insert("persons without any activity".into(), q.persons_without_activity);
    for (k, n) in &q.row_errors_by_kind {
        m.insert(format!("row errors {k}"), *n);
    }
    m
}

impl Quality {
    /// The report of a run: the grouping's counters, what `collector` saw, the persons by segment now (`counts`), and
    /// the warnings against `previous` (the served generation's report, when there is one).
    pub(crate) fn build(
        stats: &crate::group::GroupStats,
        collector: Collector,
        identifiers: Identifiers,
        counts: BTreeMap<String, u64>,
        previous: Option<&Quality>,
    ) -> Quality {
        let mut q = Quality {
            text: stats.text_issues.clone(),
            unknown_codes: stats.unknown_codes.clone(),
            unknown_code_persons: collector.unknown_first,
            shared_siret: shared(identifiers.shared_siret),
            shared_finess: shared(identifiers.shared_finess),
            persons_without_activity: collector.without_activity,
            persons_without_activity_first: collector.without_activity_first,
            row_errors_by_kind: stats.errors_by_kind.clone(),
            warnings_by_kind: stats.warnings_by_kind.clone(),
            counts,
            moved: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(prev) = previous {
            let keys: BTreeSet<&String> = prev.counts.keys().chain(q.counts.keys()).collect();
            let mut moved: Vec<Moved> = keys
                .into_iter()
                .map(|k| {
                    let (before, now) =
                        (prev.counts.get(k).copied().unwrap_or(0), q.counts.get(k).copied().unwrap_or(0));
                    let change = now as i64 - before as i64;
                    let percent = (before > 0).then(|| change as f64 * 100.0 / before as f64);
                    Moved { segment: k.clone(), before, now, change, percent }
                })
                .filter(|m| m.change != 0)
                .collect();
            moved.sort_by(|a, b| b.change.abs().cmp(&a.change.abs()).then_with(|| a.segment.cmp(&b.segment)));
            moved.truncate(20);
            q.moved = moved;
            q.warnings = compare(&indicators(prev), &indicators(&q));
        } else {
            // No previous report: anything mis-encoded is worth a look.
            q.warnings = q
                .text
                .iter()
                .filter(|(_, t)| t.count > 0)
                .map(|(k, t)| format!("text {k}: {} fields (first: {})", t.count, first_place(t)))
                .collect();
        }
        q
    }
}

fn first_place(t: &TextIssues) -> String {
    t.first.first().map(|p| format!("{} line {} column {}", p.file, p.line, p.column)).unwrap_or_default()
}

/// A warning for each indicator that appeared, or more than doubled and grew by more than 10.
fn compare(before: &BTreeMap<String, u64>, now: &BTreeMap<String, u64>) -> Vec<String> {
    now.iter()
        .filter_map(|(k, &n)| {
            let b = before.get(k).copied().unwrap_or(0);
            let jumped = n > b.saturating_mul(2) && n - b > 10;
            let appeared = b == 0 && n > 0;
            (jumped || appeared).then(|| format!("{k}: {n} (previous generation: {b})"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_when_an_indicator_appears_or_more_than_doubles() {
        let m = |v: &[(&str, u64)]| v.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>();
        let w = compare(&m(&[("a", 100), ("b", 0), ("c", 5)]), &m(&[("a", 150), ("b", 3), ("c", 30)]));
        assert_eq!(w, ["b: 3 (previous generation: 0)", "c: 30 (previous generation: 5)"]);
    }
}
