//! The search index as a view of a generation: fed by a sync's first load, it answers like one built from the
//! store afterwards.

use annuaire_ingest::{RunOptions, run_once};
use annuaire_search::view::{INDEX, SearchIndexView};
use annuaire_search::{SearchIndex, SearchRequest};
use annuaire_store::Store;
use annuaire_views::GenerationView;
use std::path::Path;
use std::sync::Arc;

#[test]
fn the_index_built_during_a_first_load_answers_like_one_built_from_the_store() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let store = rt.block_on(Store::open(dir.path())).expect("store");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let view: Arc<dyn GenerationView> = Arc::new(SearchIndexView);
    let mut opts = RunOptions::new(samples);
    opts.views = vec![view.clone()];
    let run = rt.block_on(run_once(&store, &opts)).expect("first sync");
    let g = run.generation.expect("generation");
    let requests = [
        SearchRequest { limit: 1000, ..Default::default() },
        SearchRequest { text: Some("mar".into()), limit: 1000, ..Default::default() },
        SearchRequest { text: Some("lefebre".into()), limit: 1000, ..Default::default() },
        SearchRequest { profession: Some("60".into()), limit: 1000, ..Default::default() },
    ];
    // Totals, facets and hits; the order of equal hits (same score, same name) may differ between two builds.
    let answers = |dir: &Path| {
        let idx = SearchIndex::open(dir).expect("open");
        requests
            .iter()
            .map(|r| {
                let mut a = idx.search(r).expect("search");
                a.hits.sort_by(|x, y| x.idnat.cmp(&y.idnat));
                a
            })
            .collect::<Vec<_>>()
    };
    let during_dir = annuaire_views::dir(store.data_dir(), INDEX, g);
    assert!(annuaire_views::is_current(view.as_ref(), &during_dir), "the sync made the index before promoting");
    let during = answers(&during_dir);
    let persons = rt.block_on(store.persons_at(g)).expect("persons").len();
    assert_eq!(during[0].total as usize, persons);
    // Built beside a sync as a small load is (one indexing thread) and as a national one is (two, each writing its
    // own segments): the same answers.
    let all: Vec<annuaire_schemas::Person> = rt
        .block_on(store.persons_at(g))
        .expect("persons")
        .iter()
        .map(|(_, record)| annuaire_store::record::decode(record).expect("record"))
        .collect();
    for documents in [all.len() as u64, 10_000_000] {
        let aside = tempfile::tempdir().expect("tmp");
        let mut w = view.build(aside.path(), g, annuaire_views::Build::BesideSync { documents }).expect("build");
        for p in &all {
            w.add(p).expect("add");
        }
        w.finish().expect("finish");
        assert_eq!(during, answers(aside.path()), "built beside a sync of about {documents} persons");
    }
    // Built again from the records in the store, after the fact.
    std::fs::remove_dir_all(&during_dir).expect("rm");
    let rebuilt = rt.block_on(store.prepare(g, &[view])).expect("rebuild");
    assert_eq!(during, answers(&rebuilt[0]));
}
