//! Search over the sample extract, checked against counts computed directly from the records.

use annuaire_ingest::{Source, read_extract};
use annuaire_schemas::Person;
use annuaire_search::{IndexBuilder, SearchIndex, SearchRequest, fold};
use std::collections::BTreeMap;
use std::path::Path;

fn setup() -> (tempfile::TempDir, SearchIndex, Vec<Person>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let persons = read_extract(&Source::open(&dir).expect("source"), &|_, _| {}).expect("read").persons;
    let tmp = tempfile::tempdir().expect("tmp");
    let b = IndexBuilder::create(&tmp.path().join("idx")).expect("create");
    for p in &persons {
        b.add(p).expect("add");
    }
    b.finish().expect("finish");
    let idx = SearchIndex::open(&tmp.path().join("idx")).expect("open");
    (tmp, idx, persons)
}

fn text(t: &str) -> SearchRequest {
    SearchRequest { text: Some(t.into()), limit: 1000, ..Default::default() }
}

fn ids(r: &annuaire_search::SearchResponse) -> Vec<String> {
    r.hits.iter().map(|h| h.idnat.clone()).collect()
}

#[test]
fn names_match_without_accents_case_or_the_end_of_the_word_and_with_one_typo() {
    let (_t, idx, persons) = setup();
    let r = idx.search(&text("etienne lefevre")).expect("search");
    assert!(ids(&r).contains(&"810100271385".to_string()), "{r:?}");
    let r = idx.search(&text("LEFÈVRE")).expect("search");
    assert!(ids(&r).contains(&"810100271385".to_string()));
    let r = idx.search(&text("lefebre")).expect("one typo");
    assert!(ids(&r).contains(&"810100271385".to_string()));
    // `marti` finds every MARTIN and MARTINEZ of the sample, counted from the records themselves.
    let r = idx.search(&text("marti")).expect("search");
    let want: Vec<&Person> = persons
        .iter()
        .filter(|p| {
            p.exercices
                .iter()
                .any(|e| fold(&e.family_name).starts_with("marti") || fold(&e.given_name).starts_with("marti"))
        })
        .collect();
    assert!(
        want.iter().any(|p| p.exercices[0].family_name == "MARTINEZ")
            || want.iter().any(|p| p.exercices[0].family_name == "MARTIN")
    );
    for p in &want {
        assert!(ids(&r).contains(&p.idnat.as_str().to_string()), "{} missing", p.idnat);
    }
    // Exact prefixes come before one-typo matches.
    let first: Vec<String> = ids(&r).into_iter().take(want.len()).collect();
    for p in &want {
        assert!(first.contains(&p.idnat.as_str().to_string()), "{} is ranked after a typo match", p.idnat);
    }
    let r = idx.search(&text("d'artagnan")).expect("apostrophes");
    assert_eq!(ids(&r), vec!["810006122583".to_string()]);
}

#[test]
fn filters_facets_and_paging_agree_with_the_records() {
    let (_t, idx, persons) = setup();
    let all = idx.search(&SearchRequest { limit: 5, ..Default::default() }).expect("all");
    assert_eq!(all.total, persons.len() as u64);
    // Facet counts equal a count over the records.
    let doctors = persons.iter().filter(|p| p.exercices.iter().any(|e| e.profession.code == "10")).count() as u64;
    assert_eq!(all.facets["profession"].get("10"), Some(&doctors));
    let ordre =
        persons.iter().filter(|p| p.exercices.iter().any(|e| e.authority.kind.as_str() == "ordre")).count() as u64;
    assert_eq!(all.facets["authority_kind"].get("ordre"), Some(&ordre));
    let in_25 = persons.iter().filter(|p| p.departments().contains(&"25".to_string())).count() as u64;
    assert_eq!(all.facets["department"].get("25"), Some(&in_25));
    assert!(all.facets["department"].get("2A").copied().unwrap_or(0) > 0, "Corsica is a department");

    let r = idx
        .search(&SearchRequest { profession: Some("10".into()), limit: 1000, ..Default::default() })
        .expect("filter");
    assert_eq!(r.total, doctors);
    let r = idx
        .search(&SearchRequest { authority: Some("CNOMK".into()), limit: 1000, ..Default::default() })
        .expect("by name");
    let kines = persons.iter().filter(|p| p.exercices.iter().any(|e| e.authority.name == "CNOMK")).count() as u64;
    assert_eq!(r.total, kines);
    let r = idx
        .search(&SearchRequest {
            authority: Some("ars".into()),
            department: Some("25".into()),
            limit: 1000,
            ..Default::default()
        })
        .expect("kind");
    let want = persons
        .iter()
        .filter(|p| {
            p.exercices.iter().any(|e| e.authority.kind.as_str() == "ars")
                && p.departments().contains(&"25".to_string())
        })
        .count() as u64;
    assert_eq!(r.total, want);

    // Paging: stable, no overlap, covers everyone.
    let mut seen = Vec::new();
    for offset in (0..persons.len()).step_by(100) {
        let page = idx.search(&SearchRequest { limit: 100, offset, ..Default::default() }).expect("page");
        seen.extend(ids(&page));
    }
    let again: Vec<String> = (0..persons.len())
        .step_by(100)
        .flat_map(|offset| ids(&idx.search(&SearchRequest { limit: 100, offset, ..Default::default() }).expect("page")))
        .collect();
    assert_eq!(seen, again, "stable order");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), persons.len());
}

/// The facet counts a response should have: every facet value counted once per hit, from the hits' records.
fn facets_by_hand(r: &annuaire_search::SearchResponse, persons: &[Person]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let day = annuaire_search::today();
    let mut out: BTreeMap<String, BTreeMap<String, u64>> =
        annuaire_search::index::FACETS.iter().map(|f| (f.to_string(), BTreeMap::new())).collect();
    for hit in &r.hits {
        let p = persons.iter().find(|p| p.idnat.as_str() == hit.idnat).expect("hit of the extract");
        let mut values: Vec<(&str, String)> = Vec::new();
        values.extend(p.exercices.iter().map(|e| ("profession", e.profession.code.to_string())));
        values.extend(p.exercices.iter().map(|e| ("authority_kind", e.authority.kind.as_str().to_string())));
        values.extend(p.departments().into_iter().map(|d| ("department", d)));
        values.push(("valid_card", (p.valid_cards(&day).next().is_some()).to_string()));
        values.push(("mailbox", (!p.mailboxes.is_empty()).to_string()));
        values.retain(|(_, v)| !v.is_empty());
        values.sort();
        values.dedup();
        for (f, v) in values {
            *out.entry(f.to_string()).or_default().entry(v).or_default() += 1;
        }
    }
    out
}

#[test]
fn facet_counts_equal_counts_over_the_hits_also_after_an_update_with_deletions() {
    let (t, idx, persons) = setup();
    let requests = [
        SearchRequest { limit: 1000, ..Default::default() },
        text("mar"),
        text("marti"),
        SearchRequest { profession: Some("60".into()), limit: 1000, ..Default::default() },
        SearchRequest { text: Some("le".into()), authority: Some("ordre".into()), limit: 1000, ..Default::default() },
        SearchRequest { valid_card: Some(false), limit: 1000, ..Default::default() },
    ];
    for req in &requests {
        let r = idx.search(req).expect("search");
        assert_eq!(r.total as usize, r.hits.len(), "{req:?}: all hits on one page");
        assert_eq!(r.facets, facets_by_hand(&r, &persons), "{req:?}");
    }
    // An update (as a re-sync does): a third of the persons removed, some re-added; deleted documents and a new
    // segment are then in the index.
    drop(idx);
    let b = IndexBuilder::open(&t.path().join("idx")).expect("open");
    for (k, p) in persons.iter().enumerate() {
        if k % 3 == 0 {
            b.remove(p.idnat.as_str()).expect("remove");
            if k % 2 == 0 {
                b.add(p).expect("add");
            }
        }
    }
    b.finish().expect("finish");
    let idx = SearchIndex::open(&t.path().join("idx")).expect("reopen");
    let kept = persons.iter().enumerate().filter(|(k, _)| k % 3 != 0 || k % 2 == 0).count();
    for req in &requests {
        let r = idx.search(req).expect("search");
        assert_eq!(r.facets, facets_by_hand(&r, &persons), "{req:?} after the update");
    }
    assert_eq!(idx.search(&requests[0]).expect("all").total as usize, kept);
}

#[test]
fn precomputed_bare_prefixes_answer_what_a_counting_search_answers() {
    let (t, live, persons) = setup();
    // Every prefix precomputed (a server keeps only those of 2,000 matches or more).
    let pre = SearchIndex::open(&t.path().join("idx")).expect("open");
    pre.prepare_prefixes(1).expect("prepare");
    assert!(pre.precomputed_prefixes() > 100, "{} prefixes", pre.precomputed_prefixes());
    let mut compared = 0;
    for p in persons.iter().step_by(7) {
        for e in &p.exercices {
            let word: String = fold(&e.family_name).split(' ').next().unwrap_or_default().to_string();
            for len in 1..=7 {
                let prefix: String = word.chars().take(len).collect();
                for (limit, offset) in [(20, 0), (5, 3), (50, 60), (1000, 0), (7, 95)] {
                    let r = SearchRequest { text: Some(prefix.to_uppercase()), limit, offset, ..Default::default() };
                    let (a, b) = (pre.search(&r).expect("pre"), live.search(&r).expect("live"));
                    assert_eq!(a, b, "{prefix} limit {limit} offset {offset}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 500, "{compared}");
    // A filter, or two words, are never answered from the precomputed prefixes: still the same answers.
    let r = SearchRequest { text: Some("ma".into()), profession: Some("10".into()), ..Default::default() };
    assert_eq!(pre.search(&r).expect("pre"), live.search(&r).expect("live"));
    let r = SearchRequest { text: Some("ma le".into()), ..Default::default() };
    assert_eq!(pre.search(&r).expect("pre"), live.search(&r).expect("live"));
}

/// The documents reach tantivy when the build is finished, sorted by name (their key, then their idNat) whatever
/// the order they were added in: hits of equal scores come in name order, persons of the same name in idNat order,
/// the same from one build to the next (of one indexing thread: two share the documents between two segments).
#[test]
fn documents_are_indexed_in_name_order_whatever_the_order_they_are_added_in() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let persons = read_extract(&Source::open(&dir).expect("source"), &|_, _| {}).expect("read").persons;
    assert!(persons.len() > 40, "{} persons", persons.len());
    let build = |order: Vec<&Person>| {
        let tmp = tempfile::tempdir().expect("tmp");
        // One indexing thread: one segment (two would each take some of the documents, in their order).
        let b = IndexBuilder::create_with(&tmp.path().join("idx"), Some(1), 50_000_000).expect("create");
        for p in order {
            b.add(p).expect("add");
        }
        b.finish().expect("finish");
        let idx = SearchIndex::open(&tmp.path().join("idx")).expect("open");
        idx.search(&SearchRequest { limit: 1000, ..Default::default() }).expect("all")
    };
    let forward = build(persons.iter().collect());
    let backward = build(persons.iter().rev().collect());
    assert_eq!(forward.total as usize, persons.len());
    assert_eq!(forward.hits, backward.hits);
    let names: Vec<(String, &str)> = forward.hits.iter().map(|h| (fold(&h.family_name), h.idnat.as_str())).collect();
    let mut same_name = 0;
    for w in names.windows(2) {
        let letters = |n: &str| n.chars().all(|c| c.is_ascii_lowercase());
        if letters(&w[0].0) && letters(&w[1].0) && w[0].0.len() <= 12 && w[1].0.len() <= 12 {
            assert!(w[0].0 <= w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
        if w[0].0 == w[1].0 {
            assert!(w[0].1 < w[1].1, "{:?} before {:?}", w[0], w[1]);
            same_name += 1;
        }
    }
    assert!(same_name > 0, "the sample has persons of the same name");
}
