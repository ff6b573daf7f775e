//! Grouping rows into person records.
//!
//! Personne_activite has one line per person x savoir-faire x activity (extract-format.md §2), and the same
//! line can appear twice. Rows are folded into one [`Person`] per national id: one exercice per
//! (profession, category), its savoir-faire and activities de-duplicated; exact duplicate lines are
//! dropped and counted. Nothing here depends on the order rows arrive in (chunks are parsed in
//! parallel): conflicts between rows are settled by a rule that does not look at order, and
//! [`Person::canonicalize`] sorts every list.

use crate::facts::{Counters, Facts};
use crate::parse::RowError;
use crate::rows::{CardRow, DiplRow, MailboxRow, PaRow, SfRow};
use annuaire_schemas::codes::{self, Kind};
use annuaire_schemas::id::Check;
use annuaire_schemas::model::{Coded, Exercice};
use annuaire_schemas::{Authority, IdNat, Person, Text};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Push onto one of a person's lists, most of which hold one element: the first push makes room for one, not for
/// the four a `Vec` makes room for when its elements are under 1 KB. An activity is about 1 KB: room for four
/// allocated, and had the kernel zero, about 3 KB per person for nothing (5 GB over a national full ingest).
fn push_first_alone<T>(list: &mut Vec<T>, item: T) {
    if list.capacity() == 0 {
        list.reserve_exact(1);
    }
    list.push(item);
}

/// How many located errors a report keeps (all are counted).
pub const KEPT_ERRORS: usize = 50;

struct Builder {
    person: Person,
    /// Part 1 of the authority field seen on each exercice's rows, parallel to `person.exercices`.
    part1: Vec<Vec<String>>,
    lines: Vec<u64>,
    /// What grouping counted of this person's lines (their [`Facts`]).
    counters: Counters,
}

/// A partition grouped: its persons with what each adds to the counters, and the counters of what belongs to no
/// person.
#[derive(Debug, Default)]
pub struct Grouped {
    /// Persons, sorted by idNat (empty from [`Grouper::finish_with`], which hands them to its `each`).
    pub persons: Vec<Person>,
    /// Their idNats, sorted.
    pub idnats: Vec<IdNat>,
    /// What each person adds to the counters, parallel to `idnats`.
    pub facts: Vec<Facts>,
    /// Persons with at least one rejected row.
    pub tainted: HashSet<String>,
    /// Rows that belong to no person (orphans, organisations' mailboxes), rejected rows and mis-encoded text; the
    /// persons' own counters are in `facts`.
    pub stats: GroupStats,
}

/// Counters of what grouping saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupStats {
    /// Rows accepted.
    pub rows: u64,
    /// Exact duplicate lines dropped.
    pub duplicate_rows: u64,
    /// Rows rejected, by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Things worth knowing that did not reject a row, by kind.
    pub warnings_by_kind: BTreeMap<String, u64>,
    /// The first rejected rows, with file, line and column.
    pub first_errors: Vec<RowError>,
    /// Codes not found in the shipped tables: kind → code → occurrences (exercices or activities).
    pub unknown_codes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Text that looks mis-encoded, by kind, with its first places ([`crate::quality`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub text_issues: BTreeMap<String, crate::text::TextIssues>,
}

impl GroupStats {
    /// Add one person's counters (its [`Facts`]).
    pub fn add_person<S: AsRef<str>>(&mut self, f: &Facts<S>) {
        self.rows += u64::from(f.rows);
        self.duplicate_rows += u64::from(f.duplicate_rows);
        // A key is copied only when it is new: a re-sync adds 1.7 million persons' counters, to keys already there.
        for (k, n) in &f.warnings {
            match self.warnings_by_kind.get_mut(k.as_ref()) {
                Some(c) => *c += u64::from(*n),
                None => drop(self.warnings_by_kind.insert(k.as_ref().to_string(), u64::from(*n))),
            }
        }
        for (kind, code, n) in &f.unknown {
            let codes = match self.unknown_codes.get_mut(kind.as_ref()) {
                Some(c) => c,
                None => self.unknown_codes.entry(kind.as_ref().to_string()).or_default(),
            };
            match codes.get_mut(code.as_ref()) {
                Some(c) => *c += u64::from(*n),
                None => drop(codes.insert(code.as_ref().to_string(), u64::from(*n))),
            }
        }
    }

    /// Add another partition's counters.
    pub fn merge(&mut self, o: GroupStats) {
        self.rows += o.rows;
        self.duplicate_rows += o.duplicate_rows;
        for (k, v) in o.errors_by_kind {
            *self.errors_by_kind.entry(k).or_default() += v;
        }
        for (k, v) in o.warnings_by_kind {
            *self.warnings_by_kind.entry(k).or_default() += v;
        }
        merge_counts(&mut self.unknown_codes, o.unknown_codes);
        for (k, v) in o.text_issues {
            self.text_issues.entry(k).or_default().merge(v);
        }
        self.first_errors.extend(o.first_errors);
        self.first_errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        self.first_errors.truncate(KEPT_ERRORS);
    }
}

/// Folds rows into persons.
#[derive(Default)]
pub struct Grouper {
    /// Each person's place in `builders`. foldhash: keys come from the extract, so seeded per process, and several
    /// times faster than SipHash.
    persons: foldhash::HashMap<String, u32>,
    /// The persons being built, in the order they were met: a person's lines are neighbours in a file, so the
    /// person of the line before is checked first ([`Grouper::place`]), and the builders (half a kilobyte each) sit
    /// in memory in the order they are filled rather than scattered over the map.
    builders: Vec<Builder>,
    /// The place of the person found last.
    last: Option<usize>,
    /// Persons with at least one rejected row: their served record must not be replaced by a partial one.
    tainted: HashSet<String>,
    stats: GroupStats,
}

/// Fill an empty slot with a row's value (moved: the rows are consumed); two different values are a conflict, and the
/// greatest is kept, so that the record does not depend on the order of lines.
fn settle<T: Blank + Ord>(slot: &mut T, new: T, conflicts: &mut u64) {
    if slot.is_blank() {
        *slot = new;
    } else if !new.is_blank() && *slot != new {
        *conflicts += 1;
        if new > *slot {
            *slot = new;
        }
    }
}

/// What [`settle`] takes as no value: a code without its code (whatever its label), an empty text.
trait Blank {
    fn is_blank(&self) -> bool;
}

impl Blank for Coded {
    fn is_blank(&self) -> bool {
        self.is_empty()
    }
}

impl Blank for String {
    fn is_blank(&self) -> bool {
        self.is_empty()
    }
}

impl Grouper {
    /// A new, empty grouper.
    pub fn new() -> Grouper {
        Grouper::default()
    }

    /// A new, empty grouper for about `persons` persons.
    pub fn with_capacity(persons: usize) -> Grouper {
        Grouper {
            persons: foldhash::HashMap::with_capacity_and_hasher(persons, Default::default()),
            builders: Vec::with_capacity(persons),
            ..Grouper::default()
        }
    }

    /// Record text that looks mis-encoded.
    pub fn text_issues(&mut self, issues: BTreeMap<String, crate::text::TextIssues>) {
        for (k, v) in issues {
            self.stats.text_issues.entry(k).or_default().merge(v);
        }
    }

    /// Record rejected rows.
    pub fn errors(&mut self, errors: Vec<RowError>) {
        for e in errors {
            *self.stats.errors_by_kind.entry(e.kind.to_string()).or_default() += 1;
            if let Some(id) = &e.idnat {
                self.tainted.insert(id.clone());
            }
            if self.stats.first_errors.len() < KEPT_ERRORS {
                self.stats.first_errors.push(e);
            } else if let Some(last) = self.stats.first_errors.iter().map(|e| (&e.file, e.line)).max()
                && (&e.file, e.line) < last
            {
                // Keep the earliest errors whatever order chunks were parsed in.
                if let Some(pos) = self.stats.first_errors.iter().position(|x| (&x.file, x.line) == last) {
                    self.stats.first_errors[pos] = e;
                }
            }
        }
    }

    fn warn(&mut self, kind: &str, n: u64) {
        if n > 0 {
            *self.stats.warnings_by_kind.entry(kind.to_string()).or_default() += n;
        }
    }

    /// The place in `builders` of the person of `idnat`, if one of their Personne_activite lines was folded: the
    /// person of the line before first, then the map.
    fn place(&mut self, idnat: &str) -> Option<usize> {
        let at = match self.last {
            Some(at) if self.builders.get(at).is_some_and(|b| b.person.idnat.as_str() == idnat) => at,
            _ => *self.persons.get(idnat)? as usize,
        };
        self.last = Some(at);
        Some(at)
    }

    /// The person of `idnat`, if one of their Personne_activite lines was folded.
    fn person(&mut self, idnat: &str) -> Option<&mut Builder> {
        let at = self.place(idnat)?;
        self.builders.get_mut(at)
    }

    /// Fold Personne_activite rows.
    pub(crate) fn personne_activite(&mut self, rows: impl IntoIterator<Item = PaRow>) {
        for row in rows {
            // The row's identifiers are moved: the idNat becomes the key, and a new person's fields.
            let ids = row.ids;
            let at = match self.place(&ids.idnat) {
                Some(at) => at,
                None => {
                    let at = self.builders.len();
                    self.builders.push(Builder {
                        person: Person {
                            idnat: IdNat::new(ids.idnat.clone()),
                            id_type: ids.id_type,
                            id: ids.id,
                            ..Person::default()
                        },
                        part1: Vec::new(),
                        lines: Vec::new(),
                        counters: Counters::default(),
                    });
                    self.persons.insert(ids.idnat, at as u32);
                    self.last = Some(at);
                    at
                }
            };
            let Some(b) = self.builders.get_mut(at) else { continue };
            b.counters.rows += 1;
            if b.lines.contains(&row.line_hash) {
                b.counters.duplicate_rows += 1;
                continue;
            }
            b.lines.push(row.line_hash);
            let mut conflicts = 0u64;
            settle(&mut b.person.civilite, row.civilite, &mut conflicts);
            if let Some(cs) = row.civil_status {
                match &b.person.civil_status {
                    None => b.person.civil_status = Some(cs),
                    // Lines of one person disagree: keep the greatest, so that the record does not depend on
                    // the order of lines, and count it.
                    Some(old) if *old != cs => {
                        conflicts += 1;
                        if cs > *old {
                            b.person.civil_status = Some(cs);
                        }
                    }
                    Some(_) => {}
                }
            }
            let pos = b
                .person
                .exercices
                .iter()
                .position(|e| e.profession.code == row.profession.code && e.category.code == row.category.code);
            let pos = match pos {
                Some(p) => p,
                None => {
                    // Its profession and category are settled below, from the row.
                    push_first_alone(&mut b.person.exercices, Exercice::default());
                    push_first_alone(&mut b.part1, Vec::new());
                    b.person.exercices.len() - 1
                }
            };
            let ex = &mut b.person.exercices[pos];
            settle(&mut ex.profession, row.profession, &mut conflicts);
            settle(&mut ex.category, row.category, &mut conflicts);
            settle(&mut ex.civilite_exercice, row.civilite_exercice, &mut conflicts);
            settle(&mut ex.family_name, row.family_name, &mut conflicts);
            settle(&mut ex.given_name, row.given_name, &mut conflicts);
            if let Some(sf) = row.savoir_faire
                && !ex.savoir_faire.contains(&sf)
            {
                push_first_alone(&mut ex.savoir_faire, sf);
            }
            if let Some(act) = row.activity
                // The structure's technical id tells most of a person's activities apart at once (the derived
                // equality reads mode, sector, role ... before the structure).
                && !ex.activities.iter().any(|a| a.structure.technical_id == act.structure.technical_id && *a == act)
            {
                push_first_alone(&mut ex.activities, act);
            }
            if !b.part1[pos].contains(&row.authority_part1) {
                push_first_alone(&mut b.part1[pos], row.authority_part1);
            }
            b.counters.conflicts += conflicts as u32;
        }
    }

    /// Fold SavoirFaire rows into the exercices already built from Personne_activite.
    pub(crate) fn savoir_faire(&mut self, rows: impl IntoIterator<Item = SfRow>) {
        let mut orphans = 0;
        for row in rows {
            let Some(b) = self.person(&row.ids.idnat) else {
                self.stats.rows += 1;
                orphans += 1;
                continue;
            };
            b.counters.rows += 1;
            let Some(ex) = b.person.exercices.iter_mut().find(|e| {
                e.profession.code == row.profession && (row.category.is_empty() || e.category.code == row.category)
            }) else {
                b.counters.savoir_faire_without_exercice += 1;
                continue;
            };
            if ex
                .savoir_faire
                .iter()
                .any(|s| s.kind.code == row.savoir_faire.kind.code && s.code.code == row.savoir_faire.code.code)
            {
                continue;
            }
            ex.savoir_faire.push(row.savoir_faire);
        }
        self.warn("savoir_faire_of_unknown_person", orphans);
    }

    /// Fold Dipl_AutExerc rows.
    pub(crate) fn diplomas(&mut self, rows: impl IntoIterator<Item = DiplRow>) {
        let mut orphans = 0;
        for row in rows {
            let Some(b) = self.person(&row.ids.idnat) else {
                self.stats.rows += 1;
                orphans += 1;
                continue;
            };
            b.counters.rows += 1;
            if !b.person.diplomas.contains(&row.diploma) {
                push_first_alone(&mut b.person.diplomas, row.diploma);
            }
        }
        self.warn("diploma_of_unknown_person", orphans);
    }

    /// Attach Porteurs_CPS_CPF rows to their persons (a card of a person absent from Personne_activite is counted).
    pub(crate) fn cards(&mut self, rows: impl IntoIterator<Item = CardRow>) {
        let mut orphans = 0;
        for row in rows {
            let Some(b) = self.person(&row.idnat) else {
                self.stats.rows += 1;
                orphans += 1;
                continue;
            };
            b.counters.rows += 1;
            if b.person.cards.contains(&row.card) {
                b.counters.duplicate_rows += 1;
            } else {
                b.person.cards.push(row.card);
            }
        }
        self.warn("card_of_unknown_person", orphans);
    }

    /// Attach MSSanté rows of type `PER` to their persons, without duplicates. Organisations' mailboxes (no person)
    /// and mailboxes of persons absent from Personne_activite are counted.
    pub(crate) fn mailboxes(&mut self, rows: impl IntoIterator<Item = MailboxRow>) {
        let (mut orphans, mut organisations) = (0, 0);
        for row in rows {
            if row.idnat.is_empty() {
                self.stats.rows += 1;
                organisations += 1;
                continue;
            }
            let Some(b) = self.person(&row.idnat) else {
                self.stats.rows += 1;
                orphans += 1;
                continue;
            };
            b.counters.rows += 1;
            if b.person.mailboxes.contains(&row.mailbox) {
                b.counters.duplicate_rows += 1;
            } else {
                b.person.mailboxes.push(row.mailbox);
            }
        }
        self.warn("mailbox_of_unknown_person", orphans);
        self.warn("organisation_mailbox_not_stored", organisations);
    }

    /// Finish: resolve authorities, canonicalise, count unknown codes and bad identifiers.
    /// Persons come out sorted by idNat, their counters added to the partition's.
    pub fn finish(self) -> (Vec<Person>, HashSet<String>, GroupStats) {
        let mut g = self.finish_grouped();
        for f in &g.facts {
            g.stats.add_person(f);
        }
        (g.persons, g.tainted, g.stats)
    }

    /// Finish, keeping what each person adds to the counters apart ([`Grouped::facts`]).
    pub fn finish_grouped(self) -> Grouped {
        let (g, persons) = self.finish_with(|p| p);
        Grouped { persons, ..g }
    }

    /// Finish, handing `each` every person as soon as it is complete, on the thread that completed it (still in that
    /// core's cache), which drops what `each` does not keep. Its results are parallel to [`Grouped::idnats`].
    pub fn finish_with<T: Send>(mut self, each: impl Fn(Person) -> T + Sync) -> (Grouped, Vec<T>) {
        drop(self.persons);
        let builders = self.builders;
        let mut grouped: Vec<(IdNat, Facts, T)> = builders
            .into_par_iter()
            .map(|b| {
                let mut person = b.person;
                for (ex, mut part1) in person.exercices.iter_mut().zip(b.part1) {
                    part1.sort();
                    ex.authority = Authority::resolve(part1.iter().map(String::as_str), &ex.profession.code);
                }
                fill_labels(&mut person);
                person.canonicalize();
                let facts = facts_of(&person, &b.counters);
                (person.idnat.clone(), facts, each(person))
            })
            .collect();
        grouped.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // `unzip` reserves each vector's length at once (a Vec<Person> grown by doubling was 3 % of a first load's CPU).
        let (idnats, (facts, done)) = grouped.into_iter().map(|(i, f, d)| (i, (f, d))).unzip();
        self.stats.first_errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        (Grouped { persons: Vec::new(), idnats, facts, tainted: self.tainted, stats: self.stats }, done)
    }
}

/// The facts of a grouped person: its counters, and what the segments and the quality report need of it. Made for
/// every person a sync parses: its lists are built in place (a person has a handful of segments and warnings), with
/// no list of borrowed strings made, sorted and deduplicated first.
pub(crate) fn facts_of(p: &Person, c: &Counters) -> Facts {
    let mut warnings: Vec<(String, u32)> = Vec::new();
    let mut warn = |kind: &str, n: u32| match warnings.iter_mut().find(|(k, _)| k == kind) {
        Some((_, count)) => *count += n,
        None => warnings.push((kind.to_string(), n)),
    };
    for (kind, n) in
        [("conflicting_values", c.conflicts), ("savoir_faire_without_exercice", c.savoir_faire_without_exercice)]
    {
        if n > 0 {
            warn(kind, n);
        }
    }
    check_ids(p, |k| warn(k, 1));
    warnings.sort_unstable();
    let mut unknown: BTreeMap<(String, String), u32> = BTreeMap::new();
    unknown_codes_of(p, |kind, code| {
        *unknown.entry((kind.name().to_string(), code.to_string())).or_default() += 1;
    });
    let mut segments: Vec<String> = Vec::with_capacity(4);
    let mut segment = |prefix: &str, value: &str| {
        if !segments.iter().any(|s| s.strip_prefix(prefix) == Some(value)) {
            segments.push([prefix, value].concat());
        }
    };
    for d in p.exercices.iter().flat_map(|e| &e.activities).filter_map(|a| a.structure.department()) {
        segment("department:", d);
    }
    for e in &p.exercices {
        if !e.profession.code.is_empty() {
            segment("profession:", &e.profession.code);
        }
        segment("authority_kind:", e.authority.kind.as_str());
    }
    segments.sort_unstable();
    let mut structures: Vec<(String, String, String)> = p
        .exercices
        .iter()
        .flat_map(|e| &e.activities)
        .map(|a| &a.structure)
        .filter(|s| !s.technical_id.is_empty() && (!s.siret.is_empty() || !s.finess_site.is_empty()))
        .map(|s| (s.technical_id.clone(), s.siret.clone(), s.finess_site.clone()))
        .collect();
    structures.sort_unstable();
    structures.dedup();
    Facts {
        rows: c.rows,
        duplicate_rows: c.duplicate_rows,
        warnings,
        unknown: unknown.into_iter().map(|((k, c), n)| (k, c, n)).collect(),
        without_activity: !p.exercices.iter().any(|e| !e.activities.is_empty()),
        segments,
        structures,
    }
}

type UnknownCodes = BTreeMap<String, BTreeMap<String, u64>>;

fn merge_counts(into: &mut UnknownCodes, from: UnknownCodes) {
    for (kind, codes) in from {
        let slot = into.entry(kind).or_default();
        for (code, n) in codes {
            *slot.entry(code).or_default() += n;
        }
    }
}

/// Give a label from the shipped tables to every known code the file left without one (the restricted PSC file
/// has codes only). Labels the file wrote are kept as written.
fn fill_labels(p: &mut Person) {
    fn fill(kind: Kind, c: &mut Coded) {
        if c.label.is_empty()
            && !c.code.is_empty()
            && let Some(l) = codes::label(kind, &c.code)
        {
            c.label = Text::from_static(l);
        }
    }
    fill(Kind::Civilite, &mut p.civilite);
    for ex in &mut p.exercices {
        fill(Kind::Profession, &mut ex.profession);
        fill(Kind::Category, &mut ex.category);
        fill(Kind::CiviliteExercice, &mut ex.civilite_exercice);
        for sf in &mut ex.savoir_faire {
            fill(Kind::SavoirFaireType, &mut sf.kind);
            if sf.kind.code == "S" {
                fill(Kind::SavoirFaire, &mut sf.code);
            }
        }
        for a in &mut ex.activities {
            fill(Kind::Mode, &mut a.mode);
            fill(Kind::Sector, &mut a.sector);
            fill(Kind::Role, &mut a.role);
            fill(Kind::Genre, &mut a.genre);
            fill(Kind::PharmacistSection, &mut a.pharmacist_section);
        }
    }
}

/// Call `f` with each code of a person that the shipped tables do not know.
pub(crate) fn unknown_codes_of(p: &Person, mut f: impl FnMut(Kind, &str)) {
    let mut check = |kind: Kind, code: &str| {
        if !code.is_empty() && codes::lookup(kind, code).is_none() {
            f(kind, code);
        }
    };
    check(Kind::IdType, &p.id_type);
    check(Kind::Civilite, &p.civilite.code);
    for ex in &p.exercices {
        check(Kind::Profession, &ex.profession.code);
        check(Kind::Category, &ex.category.code);
        check(Kind::CiviliteExercice, &ex.civilite_exercice.code);
        for sf in &ex.savoir_faire {
            check(Kind::SavoirFaireType, &sf.kind.code);
            // Only the specialties (type S, TRE_R38) are shipped; other types' lists are not known.
            if sf.kind.code == "S" {
                check(Kind::SavoirFaire, &sf.code.code);
            }
        }
        for a in &ex.activities {
            check(Kind::Mode, &a.mode.code);
            check(Kind::Sector, &a.sector.code);
            check(Kind::Role, &a.role.code);
            check(Kind::Genre, &a.genre.code);
            check(Kind::PharmacistSection, &a.pharmacist_section.code);
        }
    }
}

/// Call `warn` with each kind of identifier problem of a person.
pub(crate) fn check_ids(p: &Person, mut warn: impl FnMut(&str)) {
    // The idNat is the type followed by the identifier (compared in place: this runs for every person).
    if !p.id_type.is_empty() && p.idnat.as_str().strip_prefix(p.id_type.as_str()) != Some(p.id.as_str()) {
        warn("idnat_mismatch");
    }
    match p.idnat.check() {
        Some(Check::BadCheckDigit) => warn("bad_check_digit"),
        Some(Check::BadShape) => warn("bad_id_shape"),
        _ => {}
    }
}
