//! What a run finds: the diff by id group and the safety gate that holds a generation ([`Diff::gate`]), how the run
//! ended ([`RunOutcome`]), and a record's stored encoding and change hash.

use crate::extract::ParseReport;
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

/// Persons of one segment (`department:75`, `profession:60`) in the served generation and in the new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SegmentDiff {
    /// Persons of the segment in the served generation (its run's `now`); 0 when unknown.
    pub reference: u64,
    /// Persons of the segment in the new generation.
    pub now: u64,
    /// Persons of the segment (by their new record) whose record changed.
    pub updated: u64,
}

impl GroupDiff {
    /// Add another count of the same group (or of another, for a total).
    pub fn add(&mut self, o: &GroupDiff) {
        self.reference += o.reference;
        self.created += o.created;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.unchanged += o.unchanged;
        self.kept_on_error += o.kept_on_error;
    }
}

impl SegmentDiff {
    /// Persons the segment lost: served before, not there now (net of arrivals).
    pub fn lost(&self) -> u64 {
        self.reference.saturating_sub(self.now)
    }
}

/// The gate by segment: a department or a profession that loses (or changes) too many of its persons holds the
/// generation, even when the country as a whole moves little.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentGate {
    /// Segments with fewer served persons are not judged (too small to mean something).
    pub min_persons: u64,
    /// Hold when a segment loses more than this share (percent) of its served persons…
    pub max_loss_rate: f64,
    /// …or when more than this share of them changed.
    pub max_update_rate: f64,
    /// …and in both cases more than this many persons.
    pub floor: u64,
}

impl Default for SegmentGate {
    /// 200 persons, 5 % lost, 25 % changed, more than 20 persons: a department or a profession that vanishes from
    /// the extract holds the night; daily churn (a few tenths of a percent) never does.
    fn default() -> Self {
        SegmentGate { min_persons: 200, max_loss_rate: 5.0, max_update_rate: 25.0, floor: 20 }
    }
}

/// The diff of a run against the served generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Per id group.
    pub groups: BTreeMap<String, GroupDiff>,
    /// Per segment (`department:CODE`, `profession:CODE`, `authority_kind:KIND`): the reference of the next run.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<String, SegmentDiff>,
}

impl Diff {
    pub(crate) fn group(&mut self, g: &str) -> &mut GroupDiff {
        self.groups.entry(g.to_string()).or_default()
    }

    /// Sum over groups.
    pub fn total(&self) -> GroupDiff {
        self.groups.values().fold(GroupDiff::default(), |mut t, g| {
            t.add(g);
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

    /// Why the gate by segment holds this diff: each segment with at least `g.min_persons` served persons that lost
    /// (or changed) more than `g.floor` persons and more than its rate of them, named.
    pub fn gate_segments(&self, g: &SegmentGate) -> Option<String> {
        let mut reasons = Vec::new();
        // Departments and professions are judged; authority kinds are counted for the quality report only.
        let judged = self.segments.iter().filter(|(k, _)| k.starts_with("department:") || k.starts_with("profession:"));
        for (name, s) in judged {
            if s.reference == 0 || s.reference < g.min_persons {
                continue;
            }
            let pct = |n: u64| n as f64 * 100.0 / s.reference as f64;
            let label = name.replacen(':', " ", 1);
            if s.lost() > g.floor && pct(s.lost()) > g.max_loss_rate {
                reasons.push(format!(
                    "{label}: {} of {} persons gone ({:.2} % > {} %)",
                    s.lost(),
                    s.reference,
                    pct(s.lost()),
                    g.max_loss_rate
                ));
            }
            if s.updated > g.floor && pct(s.updated) > g.max_update_rate {
                reasons.push(format!(
                    "{label}: {} of {} persons changed ({:.2} % > {} %)",
                    s.updated,
                    s.reference,
                    pct(s.updated),
                    g.max_update_rate
                ));
            }
        }
        (!reasons.is_empty()).then(|| format!("safety gate by segment: {}", reasons.join("; ")))
    }

    /// Both gates: by id group ([`Diff::gate`]), then by segment ([`Diff::gate_segments`]).
    pub fn gate_all(&self, max_delete_rate: f64, max_update_rate: f64, floor: u64, g: &SegmentGate) -> Option<String> {
        let reasons: Vec<String> =
            [self.gate(max_delete_rate, max_update_rate, floor), self.gate_segments(g)].into_iter().flatten().collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Count a person of the new generation in its segments (its facts' `segments`; `updated` when its record
    /// changed). A segment's name is allocated once, when it is first seen.
    pub(crate) fn count_segments<S: AsRef<str>>(
        segments: &mut BTreeMap<String, SegmentDiff>,
        names: &[S],
        updated: bool,
    ) {
        for name in names {
            let s = match segments.get_mut(name.as_ref()) {
                Some(s) => s,
                None => segments.entry(name.as_ref().to_string()).or_default(),
            };
            s.now += 1;
            if updated {
                s.updated += 1;
            }
        }
    }

    /// Set each segment's reference from the served generation's counts (its run's `now`), segments gone included.
    pub(crate) fn set_references(&mut self, reference: &BTreeMap<String, u64>) {
        for (k, n) in reference {
            self.segments.entry(k.clone()).or_default().reference = *n;
        }
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

pub(crate) fn id_group_of(idnat: &str) -> &'static str {
    annuaire_schemas::IdType::of_idnat(idnat).group()
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
    fn a_segment_that_loses_its_persons_holds_and_is_named_small_ones_never() {
        let mut d = Diff::default();
        let seg = |reference, now, updated| SegmentDiff { reference, now, updated };
        d.segments.insert("department:23".into(), seg(250, 0, 0));
        d.segments.insert("department:75".into(), seg(40_000, 39_950, 100));
        d.segments.insert("department:975".into(), seg(30, 0, 0));
        d.segments.insert("profession:60".into(), seg(10_000, 10_000, 3_000));
        let g = SegmentGate::default();
        let held = d.gate_segments(&g).expect("held");
        assert!(held.contains("department 23: 250 of 250 persons gone (100.00 % > 5 %)"), "{held}");
        assert!(held.contains("profession 60: 3000 of 10000 persons changed (30.00 % > 25 %)"), "{held}");
        assert!(!held.contains("department 75"), "daily churn passes: {held}");
        assert!(!held.contains("975"), "a segment under min_persons is not judged: {held}");
        // Under the floor, whatever the share.
        assert_eq!(d.gate_segments(&SegmentGate { floor: 5_000, ..g }), None);
        // Both gates together.
        let all = d.gate_all(1.0, 5.0, 20, &g).expect("held");
        assert!(all.starts_with("safety gate by segment"), "{all}");
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
