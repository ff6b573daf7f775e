//! What a run finds: the diff by id group and the safety gate that holds a generation ([`Diff::gate`]), how the run
//! ended ([`RunOutcome`]), and a record's stored encoding and change hash.

use crate::error::Result;
use crate::extract::ParseReport;
use annuaire_schemas::Person;
use annuaire_store::RunStatus;
use serde::Serialize;
use std::collections::BTreeMap;

/// Default of [`crate::RunOptions::gate_floor`].
pub const DEFAULT_GATE_FLOOR: u64 = 20;

/// Counts of one id group (`rpps`, `adeli`, `other`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupDiff {
    /// Persons of the group served before the run.
    pub reference: u64,
    /// New persons (or deleted ones that came back).
    pub created: u64,
    /// Persons whose record changed.
    pub updated: u64,
    /// Persons gone from the extract.
    pub deleted: u64,
    /// Persons identical to the served record.
    pub unchanged: u64,
    /// Persons with a rejected line whose served record was kept as it was.
    pub kept_on_error: u64,
}

/// The diff of a run against the served generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Per id group.
    pub groups: BTreeMap<String, GroupDiff>,
}

impl Diff {
    pub(crate) fn group(&mut self, g: &str) -> &mut GroupDiff {
        self.groups.entry(g.to_string()).or_default()
    }

    /// Sum over groups.
    pub fn total(&self) -> GroupDiff {
        self.groups.values().fold(GroupDiff::default(), |mut t, g| {
            t.reference += g.reference;
            t.created += g.created;
            t.updated += g.updated;
            t.deleted += g.deleted;
            t.unchanged += g.unchanged;
            t.kept_on_error += g.kept_on_error;
            t
        })
    }

    /// Why the gate holds this diff, or `None` when it passes. Creations are never gated. A group holds when its
    /// deletions (or updates) are more than `floor` **and** more than their rate of the group's served persons.
    pub fn gate(&self, max_delete_rate: f64, max_update_rate: f64, floor: u64) -> Option<String> {
        let mut reasons = Vec::new();
        for (name, g) in &self.groups {
            if g.reference == 0 {
                continue;
            }
            let pct = |n: u64| n as f64 * 100.0 / g.reference as f64;
            if g.deleted > floor && pct(g.deleted) > max_delete_rate {
                reasons.push(format!(
                    "{name}: {} deletions of {} ({:.2} % > {max_delete_rate} %)",
                    g.deleted,
                    g.reference,
                    pct(g.deleted)
                ));
            }
            if g.updated > floor && pct(g.updated) > max_update_rate {
                reasons.push(format!(
                    "{name}: {} updates of {} ({:.2} % > {max_update_rate} %)",
                    g.updated,
                    g.reference,
                    pct(g.updated)
                ));
            }
        }
        (!reasons.is_empty()).then(|| format!("safety gate: {}", reasons.join("; ")))
    }
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The run number.
    pub run: i64,
    /// `promoted`, `held` or `unchanged`.
    pub status: RunStatus,
    /// The generation built (none when unchanged).
    pub generation: Option<i64>,
    /// The generation served after the run.
    pub served: Option<i64>,
    /// The diff against what was served.
    pub diff: Diff,
    /// What was read.
    pub report: ParseReport,
    /// Why it was held.
    pub reason: Option<String>,
    /// sha256 of the source.
    pub sha256: String,
}

impl RunOutcome {
    pub(crate) fn unchanged(
        run: i64,
        served: Option<annuaire_store::Served>,
        reason: String,
        sha256: String,
    ) -> RunOutcome {
        RunOutcome {
            run,
            status: RunStatus::Unchanged,
            generation: None,
            served: served.map(|s| s.generation),
            diff: Diff::default(),
            report: ParseReport::default(),
            reason: Some(reason),
            sha256,
        }
    }
}

pub(crate) fn id_group(p: &Person) -> &'static str {
    p.idnat.id_type().group()
}

pub(crate) fn id_group_of(idnat: &str) -> &'static str {
    annuaire_schemas::IdNat::new(idnat).id_type().group()
}

/// The stored encoding of a record and its change hash ([`annuaire_store::record::encode`]).
pub fn record_and_hash(p: &Person) -> Result<(String, String)> {
    let e = annuaire_store::record::encode(p)?;
    Ok((e.record, e.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(groups: &[(&str, u64, u64, u64)]) -> Diff {
        let mut d = Diff::default();
        for (name, reference, deleted, updated) in groups {
            let g = d.group(name);
            g.reference = *reference;
            g.deleted = *deleted;
            g.updated = *updated;
        }
        d
    }

    #[test]
    fn a_handful_of_changes_never_holds_whatever_their_share() {
        // The odd person once served in `other`, gone the next night: 100 % of its group, and below the floor.
        assert_eq!(diff(&[("other", 1, 1, 0), ("rpps", 1000, 0, 0)]).gate(1.0, 5.0, DEFAULT_GATE_FLOOR), None);
        assert_eq!(diff(&[("adeli", 50, 20, 20)]).gate(1.0, 5.0, 20), None, "20 is not more than the floor of 20");
        // Past the floor, the rates decide as before.
        let held = diff(&[("adeli", 50, 21, 0)]).gate(1.0, 5.0, 20).expect("held");
        assert!(held.contains("adeli: 21 deletions of 50 (42.00 % > 1 %)"), "{held}");
        let held = diff(&[("rpps", 100_000, 0, 5_001)]).gate(1.0, 5.0, 20).expect("held");
        assert!(held.contains("rpps: 5001 updates of 100000"), "{held}");
        // Past the floor but under the rate: promoted.
        assert_eq!(diff(&[("rpps", 1_000_000, 9_999, 0)]).gate(1.0, 5.0, 20), None);
        // A floor of 0 is the old behaviour.
        assert!(diff(&[("other", 1, 1, 0)]).gate(1.0, 5.0, 0).is_some());
    }
}
