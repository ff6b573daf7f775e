//! The store's behaviour: one suite, run on a real SQLite file in a temporary directory and on a real
//! PostgreSQL server (a fresh database per test; see [`crate::testing`]), as quickwit does for its metastores.

use super::*;

/// A store of each backend for a test: `backend_tests!(a, b)` makes `sqlite::a` and `postgres::a` from
/// `async fn a(store: Store)`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("tmp");
                    let store = crate::Store::open(dir.path()).await.expect("open");
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::postgres_store(stringify!($name)).await else { return };
                    super::$name(store).await;
                }
            )*
        }
    };
}

backend_tests!(
    a_generation_is_invisible_until_promoted_and_then_whole,
    an_abandoned_or_interrupted_generation_leaves_the_served_one_untouched,
    approving_a_held_generation_can_leave_out_one_kind_of_change,
    records_with_any_character_survive_the_bulk_path,
    runs_downloads_and_usage_are_recorded,
    versions_removals_and_promotions_as_the_fhir_directory_reads_them,
    memos_are_read_by_partition_range_replaced_and_removed,
    a_first_load_gets_its_keys_when_finished_and_a_duplicate_is_never_served,
    many_changes_and_memos_in_one_write_all_arrive,
    a_first_load_keeps_its_creations_in_its_versions,
);

/// A store in a fresh PostgreSQL database, or `None` when no server is given.
async fn postgres_store(label: &str) -> Option<Store> {
    let admin = crate::testing::postgres_admin_url()?;
    let url = crate::testing::fresh_database(&admin, label).await.expect("create a test database");
    let dir = tempfile::tempdir().expect("tmp").keep();
    Some(Store::connect(&dir, Some(&url)).await.expect("open postgres"))
}

fn packed(record: &str) -> Vec<u8> {
    crate::record::pack(record).expect("pack")
}

fn change(idnat: &str, kind: ChangeKind, body: &str) -> Change {
    Change {
        idnat: idnat.into(),
        kind,
        id_group: "rpps",
        record: (kind != ChangeKind::Delete).then(|| (packed(&format!("{{\"v\":\"{body}\"}}")), format!("h-{body}"))),
    }
}

async fn generation(store: &Store, changes: &[Change]) -> i64 {
    let run = store.start_run("test").await.expect("run");
    let g = store.begin_generation(run).await.expect("begin");
    store.write_changes(g, changes.to_vec()).await.expect("write");
    store.finish_generation(g, changes.len() as i64).await.expect("finish");
    g
}

async fn record(store: &Store, idnat: &str) -> Option<String> {
    let served = store.served().await.expect("served")?;
    store.person_at(idnat, served.generation).await.expect("read").map(|p| p.record)
}

async fn a_generation_is_invisible_until_promoted_and_then_whole(store: Store) {
    assert_eq!(store.served().await.expect("served"), None);

    let g1 =
        generation(&store, &[change("8A", ChangeKind::Create, "a1"), change("8B", ChangeKind::Create, "b1")]).await;
    assert_eq!(record(&store, "8A").await, None, "not served before promotion");
    store.promote(g1).await.expect("promote");
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a1\"}"));

    let g2 = generation(&store, &[change("8A", ChangeKind::Update, "a2"), change("8B", ChangeKind::Delete, "")]).await;
    // Built but not promoted: readers still see generation 1, the deleted person included.
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a1\"}"));
    assert_eq!(record(&store, "8B").await.as_deref(), Some("{\"v\":\"b1\"}"));
    store.promote(g2).await.expect("promote");
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a2\"}"));
    assert_eq!(record(&store, "8B").await, None, "soft-deleted");
    // The old generation is still readable as it was.
    assert_eq!(store.person_at("8B", g1).await.expect("read").map(|p| p.record).as_deref(), Some("{\"v\":\"b1\"}"));

    let hashes = store.current_hashes().await.expect("hashes");
    assert_eq!(hashes.get("8A").map(String::as_str), Some("h-a2"));
    assert!(!hashes.contains_key("8B"));

    // A deleted person comes back: reactivated under the same id.
    let g3 = generation(&store, &[change("8B", ChangeKind::Create, "b3")]).await;
    store.promote(g3).await.expect("promote");
    assert_eq!(record(&store, "8B").await.as_deref(), Some("{\"v\":\"b3\"}"));

    let history: Vec<(i64, ChangeKind)> =
        store.history_of("8B").await.expect("history").into_iter().map(|h| (h.generation, h.change)).collect();
    assert_eq!(history, vec![(g1, ChangeKind::Create), (g2, ChangeKind::Delete), (g3, ChangeKind::Create)]);

    let changes = store.changes_since(g1).await.expect("changes");
    let listed: Vec<(i64, &str, ChangeKind)> =
        changes.iter().map(|c| (c.generation, c.id.as_str(), c.change)).collect();
    assert_eq!(
        listed,
        vec![(g2, "8A", ChangeKind::Update), (g2, "8B", ChangeKind::Delete), (g3, "8B", ChangeKind::Create)]
    );
    let listed: Vec<(i64, String, bool)> = store
        .generations(2)
        .await
        .expect("generations")
        .into_iter()
        .map(|g| (g.generation, g.state, g.promoted_at.is_some()))
        .collect();
    assert_eq!(listed, vec![(g3, "promoted".to_string(), true), (g2, "promoted".to_string(), true)]);
}

async fn an_abandoned_or_interrupted_generation_leaves_the_served_one_untouched(store: Store) {
    let g1 =
        generation(&store, &[change("8A", ChangeKind::Create, "a1"), change("8B", ChangeKind::Create, "b1")]).await;
    store.promote(g1).await.expect("promote");

    let g2 = generation(&store, &[change("8A", ChangeKind::Update, "a2"), change("8B", ChangeKind::Delete, "")]).await;
    store.abandon(g2, "superseded").await.expect("abandon");
    assert_eq!(store.current_hashes().await.expect("h").len(), 2);
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a1\"}"));

    // A writer that dies half-way leaves a `building` generation: recovery rolls it back.
    let run = store.start_run("killed").await.expect("run");
    let g3 = store.begin_generation(run).await.expect("begin");
    store.write_changes(g3, vec![change("8A", ChangeKind::Delete, "")]).await.expect("write");
    assert_eq!(store.recover().await.expect("recover"), vec![g3]);
    assert_eq!(store.current_hashes().await.expect("h").len(), 2);
    assert_eq!(store.served().await.expect("s").map(|s| s.generation), Some(g1));
    assert!(store.promote(g3).await.is_err(), "a failed generation cannot be promoted");
    let runs = store.runs().await.expect("runs");
    assert_eq!(runs.last().map(|r| r.status), Some(RunStatus::Failed));
    assert!(runs.last().and_then(|r| r.reason.clone()).unwrap_or_default().contains("interrupted"));
}

/// A first load is written without the keys on SQLite (`bulk.rs`): they are there once it is finished, a duplicate
/// key fails the generation before it can be served (when written on PostgreSQL, when finished on SQLite), and a first
/// load interrupted with its keys dropped leaves them made again by recovery.
async fn a_first_load_gets_its_keys_when_finished_and_a_duplicate_is_never_served(store: Store) {
    let sqlite = matches!(store.pool(), Pool::Sqlite(_));
    // Interrupted: begun on empty tables, written, never finished.
    let run = store.start_run("killed").await.expect("run");
    let g1 = store.begin_generation(run).await.expect("begin");
    let dropped = if sqlite { vec!["person_version_key", "change_log_key"] } else { vec![] };
    assert_eq!(store.missing_keys().await.expect("keys"), dropped);
    store.write_changes(g1, vec![change("8A", ChangeKind::Create, "a1")]).await.expect("write");
    assert_eq!(store.recover().await.expect("recover"), vec![g1]);
    assert_eq!(store.missing_keys().await.expect("keys"), Vec::<&str>::new());

    // A duplicate in a first load.
    let run = store.start_run("duplicate").await.expect("run");
    let g2 = store.begin_generation(run).await.expect("begin");
    assert_eq!(store.missing_keys().await.expect("keys").len(), if sqlite { 2 } else { 0 });
    store.write_changes(g2, vec![change("8A", ChangeKind::Create, "a1")]).await.expect("write");
    let again = store.write_changes(g2, vec![change("8A", ChangeKind::Create, "a2")]).await;
    let finished = match again {
        Err(_) => false,
        Ok(()) => store.finish_generation(g2, 1).await.is_ok(),
    };
    assert!(!finished, "a generation holding a duplicate key was finished");
    assert!(store.promote(g2).await.is_err(), "a generation holding a duplicate key was promoted");
    store.abandon(g2, "failed").await.expect("abandon");

    // A first load that finishes has its keys, and the next generation is written with them.
    let g3 =
        generation(&store, &[change("8A", ChangeKind::Create, "a1"), change("8B", ChangeKind::Create, "b1")]).await;
    assert_eq!(store.missing_keys().await.expect("keys"), Vec::<&str>::new());
    store.promote(g3).await.expect("promote");
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a1\"}"));
    let run = store.start_run("next").await.expect("run");
    let g4 = store.begin_generation(run).await.expect("begin");
    assert_eq!(store.missing_keys().await.expect("keys"), Vec::<&str>::new());
    store.write_changes(g4, vec![change("8C", ChangeKind::Create, "c1")]).await.expect("write");
    assert!(store.write_changes(g4, vec![change("8C", ChangeKind::Create, "c2")]).await.is_err());
}

/// A generation begun on an empty store writes no `change_log` row (migration 0009): every reader of the changes
/// finds its creations in its versions, with the same answers as for a logged generation; a held first load is
/// approved, with or without its creations, and abandoned; the next generation logs its changes again.
async fn a_first_load_keeps_its_creations_in_its_versions(store: Store) {
    let ids = ["810000000001", "810000000002", "0012800751", "3X"];
    let creations: Vec<Change> = ids.iter().map(|id| change(id, ChangeKind::Create, id)).collect();
    let logged = |store: &Store| {
        let store = store.clone();
        async move {
            with_pool!(store, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM change_log")
                .fetch_one(pool).await.expect("count"))
        }
    };

    // Abandoned: nothing is left, and the next one is a first load again.
    let run = store.start_run("abandoned").await.expect("run");
    let g1 = store.begin_generation(run).await.expect("begin");
    let refused = store.write_changes(g1, vec![change("810000000001", ChangeKind::Update, "u")]).await;
    assert!(refused.is_err(), "a first load can only create persons");
    store.write_changes(g1, creations.clone()).await.expect("write");
    assert_eq!(logged(&store).await, 0, "a first load's creations are not logged");
    let mut of_g1: Vec<String> = store.changes_of(g1).await.expect("changes of").into_iter().map(|c| c.0).collect();
    of_g1.sort();
    let mut sorted: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(of_g1, sorted);
    store.abandon(g1, "failed").await.expect("abandon");
    assert!(store.changes_of(g1).await.expect("changes of").is_empty());

    // Held, then approved without its creations: nothing is served.
    let g2 = generation(&store, &creations).await;
    store.hold(g2).await.expect("hold");
    let kept = store.approve(g2, &[ChangeKind::Create]).await.expect("approve");
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(store.generation(g2).await.expect("g").and_then(|g| g.persons), Some(0));
    assert!(store.changes_since(0).await.expect("changes").is_empty());
    assert!(store.history_of("810000000001").await.expect("history").is_empty());

    // The same store is empty again: held, approved with its creations, counted and listed as logged ones are.
    let g3 = generation(&store, &creations).await;
    store.hold(g3).await.expect("hold");
    let kept = store.approve(g3, &[ChangeKind::Update]).await.expect("approve");
    assert_eq!(kept, std::collections::HashMap::from([(ChangeKind::Create, 4)]));
    assert_eq!(logged(&store).await, 0);

    // The next generation logs its changes.
    let g4 = generation(
        &store,
        &[change("810000000002", ChangeKind::Update, "b2"), change("810000000009", ChangeKind::Create, "z")],
    )
    .await;
    store.promote(g4).await.expect("promote");
    assert_eq!(logged(&store).await, 2);

    let all = store.changes_since(0).await.expect("changes");
    let listed: Vec<(i64, &str, ChangeKind, &str)> =
        all.iter().map(|c| (c.generation, c.id.as_str(), c.change, c.id_group.as_str())).collect();
    assert_eq!(
        listed,
        vec![
            (g3, "0012800751", ChangeKind::Create, "adeli"),
            (g3, "3X", ChangeKind::Create, "other"),
            (g3, "810000000001", ChangeKind::Create, "rpps"),
            (g3, "810000000002", ChangeKind::Create, "rpps"),
            (g4, "810000000002", ChangeKind::Update, "rpps"),
            (g4, "810000000009", ChangeKind::Create, "rpps"),
        ]
    );
    // Pages cut across the two generations give the same list.
    for size in 1..=7 {
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let (page, total) = store.changes_page(0, size, offset).await.expect("page");
            assert_eq!(total, 6);
            if page.is_empty() {
                break;
            }
            offset += page.len() as i64;
            paged.extend(page);
        }
        assert_eq!(paged, all, "pages of {size}");
    }
    // Streamed a page at a time after the last idNat read, whatever the page's size.
    for page in [1, 2, 3, 4, 100] {
        let mut streamed = Vec::new();
        store
            .for_each_change_by(0, page, &mut |c| -> Result<()> {
                streamed.push(c);
                Ok(())
            })
            .await
            .expect("stream");
        assert_eq!(streamed, all, "streamed by {page}");
    }
    assert_eq!(store.changes_page(g3, 10, 0).await.expect("page").1, 2);
    let history: Vec<(i64, ChangeKind)> = store
        .history_of("810000000002")
        .await
        .expect("history")
        .into_iter()
        .map(|h| (h.generation, h.change))
        .collect();
    assert_eq!(history, vec![(g3, ChangeKind::Create), (g4, ChangeKind::Update)]);
    assert_eq!(store.changes_of(g4).await.expect("of g4").len(), 2);
}

/// A sync writing while a server on the same SQLite file records usage (two processes, two pools): no write fails
/// with "database is locked". A transaction that read first and then writes cannot wait for a writer that committed
/// in between (SQLite answers `SQLITE_BUSY` at once, whatever the busy timeout): write transactions begin `IMMEDIATE`.
#[tokio::test]
async fn a_sync_and_a_server_write_the_same_sqlite_file_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let sync = Store::open(dir.path()).await.expect("open");
    let server = Store::open(dir.path()).await.expect("open");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let usage = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let key = UsageKey {
                day: "2026-12-02".into(),
                client: "idp".into(),
                endpoint: "claims".into(),
                outcome: "ok".into(),
            };
            let mut flushes = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let subjects = [SubjectBatch::of_idnats("2026-12-02", "idp", ["810000000001"])];
                server.record_usage(&[(key.clone(), 1)], &subjects).await.expect("usage while a sync writes");
                flushes += 1;
                tokio::task::yield_now().await;
            }
            flushes
        })
    };
    for k in 0..30 {
        let changes: Vec<Change> =
            (0..50).map(|i| change(&format!("8{k:03}{i:03}"), ChangeKind::Create, &format!("{k}-{i}"))).collect();
        let g = generation(&sync, &changes).await;
        sync.promote(g).await.expect("promote while a server writes usage");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flushes = usage.await.expect("usage task");
    assert!(flushes > 0);
    assert_eq!(record(&sync, "8029049").await.as_deref().map(|r| r.contains("29-49")), Some(true));
}

#[tokio::test]
async fn one_sync_at_a_time_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("open");
    let lock = store.lock_sync("first").await.expect("lock");
    // Same process, same pid: a second take-over is allowed only for a dead holder; simulate another
    // live holder by writing a pid that exists (pid 1).
    sqlx::query("UPDATE sync_lock SET pid = 1").execute(sqlite_pool(&store)).await.expect("pid");
    match store.lock_sync("second").await {
        Err(Error::Busy { owner, .. }) => assert_eq!(owner, "first"),
        other => panic!("expected busy, got {other:?}"),
    }
    sqlx::query("UPDATE sync_lock SET pid = $1")
        .bind(i64::from(std::process::id()))
        .execute(sqlite_pool(&store))
        .await
        .expect("pid");
    lock.release().await.expect("release");
    store.lock_sync("second").await.expect("free again").release().await.expect("release");
    // A holder whose process is gone is taken over.
    sqlx::query("UPDATE sync_lock SET owner = 'dead', pid = 999999999, host = $1")
        .bind(super::lock_host())
        .execute(sqlite_pool(&store))
        .await
        .expect("dead");
    store.lock_sync("third").await.expect("take over a dead holder");
}

async fn approving_a_held_generation_can_leave_out_one_kind_of_change(store: Store) {
    let g1 =
        generation(&store, &[change("8A", ChangeKind::Create, "a1"), change("8B", ChangeKind::Create, "b1")]).await;
    store.promote(g1).await.expect("promote");
    let changes = [
        change("8A", ChangeKind::Update, "a2"),
        change("8B", ChangeKind::Delete, ""),
        change("8C", ChangeKind::Create, "c2"),
    ];
    let g2 = generation(&store, &changes).await;
    store.hold(g2).await.expect("hold");
    assert!(store.approve(g1, &[]).await.is_err(), "only a held generation can be approved");
    let kept = store.approve(g2, &[ChangeKind::Delete]).await.expect("approve");
    assert_eq!(kept.get(&ChangeKind::Delete), None);
    assert_eq!(kept.get(&ChangeKind::Update), Some(&1));
    assert_eq!(store.served().await.expect("s").map(|s| s.generation), Some(g2));
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a2\"}"));
    assert_eq!(record(&store, "8B").await.as_deref(), Some("{\"v\":\"b1\"}"), "the excluded deletion is not applied");
    assert_eq!(record(&store, "8C").await.as_deref(), Some("{\"v\":\"c2\"}"));
    assert_eq!(store.generation(g2).await.expect("g").and_then(|g| g.persons), Some(3));

    // Excluding updates and creations keeps the old record and leaves the new person out.
    let g3 =
        generation(&store, &[change("8A", ChangeKind::Update, "a3"), change("8D", ChangeKind::Create, "d3")]).await;
    store.hold(g3).await.expect("hold");
    store.approve(g3, &[ChangeKind::Update, ChangeKind::Create]).await.expect("approve");
    assert_eq!(record(&store, "8A").await.as_deref(), Some("{\"v\":\"a2\"}"));
    assert_eq!(record(&store, "8D").await, None);
    assert!(store.changes_since(g2).await.expect("changes").is_empty());
}

fn sqlite_pool(store: &Store) -> &SqlitePool {
    match store.pool() {
        Pool::Sqlite(p) => p,
        Pool::Postgres(_) => panic!("an SQLite store was expected"),
    }
}

/// On PostgreSQL the lock is a session advisory lock: a second store (another server) is refused with the
/// holder's name, and a holder whose connection ends (a crashed host) frees it.
#[tokio::test]
async fn one_sync_at_a_time_postgres() {
    let Some(admin) = crate::testing::postgres_admin_url() else { return };
    let url = crate::testing::fresh_database(&admin, "lock").await.expect("db");
    let (a, b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let first = Store::connect(a.path(), Some(&url)).await.expect("open");
    let second = Store::connect(b.path(), Some(&url)).await.expect("open");
    let lock = first.lock_sync("first").await.expect("lock");
    match second.lock_sync("second").await {
        Err(Error::Busy { owner, pid, .. }) => {
            assert_eq!(owner, "first");
            assert_eq!(pid, i64::from(std::process::id()));
        }
        other => panic!("expected busy, got {other:?}"),
    }
    lock.release().await.expect("release");
    let lock = second.lock_sync("second").await.expect("free again");
    // The holder's connection ends without a release (its process died): the lock is free.
    drop(lock);
    let mut tries = 0;
    loop {
        match first.lock_sync("third").await {
            Ok(l) => {
                l.release().await.expect("release");
                break;
            }
            Err(Error::Busy { .. }) if tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the lock of a closed session stays taken: {e}"),
        }
    }
}

/// Records go through COPY on PostgreSQL: tabs, newlines, backslashes, quotes, `|` and non-ASCII letters
/// must come back byte for byte, and a record that reads `\N` must not become NULL.
async fn records_with_any_character_survive_the_bulk_path(store: Store) {
    let tricky = [
        "{\"n\":\"L\\u00e9a \\\"Z\\\"\"}",
        "tab\there",
        "line\nbreak\r\n",
        "back\\slash \\N",
        "\\N",
        "ÉTIENNE|ŒUVRE|ß|日本",
    ];
    let changes: Vec<Change> = tricky
        .iter()
        .enumerate()
        .map(|(i, r)| Change {
            idnat: format!("81000000{i}"),
            kind: ChangeKind::Create,
            id_group: "rpps",
            record: Some((packed(r), format!("h{i}"))),
        })
        .collect();
    let g = generation(&store, &changes).await;
    store.analyze().await.expect("statistics refreshed");
    store.promote(g).await.expect("promote");
    for (i, r) in tricky.iter().enumerate() {
        assert_eq!(record(&store, &format!("81000000{i}")).await.as_deref(), Some(*r));
    }
    let all = store.persons_at(g).await.expect("all");
    let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "idNat order is bytewise on both backends");
    assert_eq!(store.changes_of(g).await.expect("changes").len(), tricky.len());

    // A raw NUL byte once made PostgreSQL refuse the whole batch. The ingest rejects such lines, so none should
    // arrive; one that does anyway is written instead of failing every other record (records are packed bytes, so
    // it survives on both backends). The other record is stored as an older binary stored it (encoding 1, its text).
    let nul = Change {
        idnat: "810000000099".into(),
        kind: ChangeKind::Create,
        id_group: "rpps",
        record: Some((packed("{\"n\":\"a\u{0}b\"}"), "h99".to_string())),
    };
    let other = Change { idnat: "810000000098".into(), record: Some((b"{}".to_vec(), "h98".into())), ..nul.clone() };
    let g2 = generation(&store, &[nul, other]).await;
    store.promote(g2).await.expect("promote");
    let got = record(&store, "810000000099").await.expect("the record with a NUL is written");
    assert_eq!(got, "{\"n\":\"a\u{0}b\"}");
    assert_eq!(record(&store, "810000000098").await.as_deref(), Some("{}"), "the rest of the batch too");

    // The served hashes come back whole whatever the idNat and hash hold (SQLite reads them as length-prefixed slices).
    let ids = ["12:34", "8 x\n9:", "É1", ":", "0"];
    let odd: Vec<Change> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Change {
            idnat: id.to_string(),
            kind: ChangeKind::Create,
            id_group: "other",
            record: Some((packed("{}"), format!("{i}:{id}"))),
        })
        .collect();
    let g3 = generation(&store, &odd).await;
    store.promote(g3).await.expect("promote");
    let hashes = store.current_hashes().await.expect("hashes");
    assert_eq!(hashes.len(), tricky.len() + 2 + ids.len());
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(hashes.get(*id), Some(&format!("{i}:{id}")), "{id:?}");
    }
    assert_eq!(hashes.get("810000000098").map(String::as_str), Some("h98"));
}

/// Run records, download state and usage counters read back as written.
async fn runs_downloads_and_usage_are_recorded(store: Store) {
    let run = store.start_run("https://example.test/extract.zip").await.expect("run");
    store.set_run_source(run, "abc", Some("202611280100")).await.expect("source");
    store
        .finish_run(
            run,
            &RunFinish {
                status: Some(RunStatus::Unchanged),
                rows_read: Some(12),
                diff: Some(serde_json::json!({"rpps": {"create": 1}})),
                reason: Some("same file".into()),
                ..Default::default()
            },
        )
        .await
        .expect("finish");
    let runs = store.runs().await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Unchanged);
    assert_eq!(runs[0].sha256.as_deref(), Some("abc"));
    assert_eq!(runs[0].file_timestamp.as_deref(), Some("202611280100"));
    assert_eq!(runs[0].rows_read, Some(12));
    assert_eq!(runs[0].diff, Some(serde_json::json!({"rpps": {"create": 1}})));
    assert!(runs[0].duration_ms.is_some());

    let state = DownloadState {
        url: "https://example.test/extract.zip".into(),
        etag: Some("\"v1\"".into()),
        last_modified: None,
        file_name: Some("PS_LibreAcces.zip".into()),
        sha256: "abc".into(),
        bytes: 1234,
    };
    store.save_download_state(&state).await.expect("save");
    let again = DownloadState { etag: Some("\"v2\"".into()), ..state.clone() };
    store.save_download_state(&again).await.expect("save again");
    assert_eq!(store.download_state(&state.url).await.expect("read"), Some(again));

    let key = |endpoint: &str, outcome: &str| UsageKey {
        day: "2026-11-28".into(),
        client: "sidep".into(),
        endpoint: endpoint.into(),
        outcome: outcome.into(),
    };
    let subjects = [SubjectBatch::of_idnats("2026-11-28", "sidep", ["810000000001"])];
    store.record_usage(&[(key("claims", "ok"), 3), (key("eligibility", "refused"), 1)], &subjects).await.expect("u");
    store.record_usage(&[(key("claims", "ok"), 2)], &subjects).await.expect("u");
    let report = store.usage_since("2026-11-01").await.expect("usage");
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].calls, 6);
    assert_eq!(report[0].refused, 1);
    assert_eq!(report[0].distinct_professionals, 1);
    assert_eq!(report[0].by_endpoint.get("claims/ok"), Some(&5));
    // Subjects are counted once a day and client across flushes (each flush is one row of hashes).
    let batch = |client: &str, ids: &[&'static str]| SubjectBatch::of_idnats("2026-11-27", client, ids.iter().copied());
    store.record_usage(&[], &[batch("sidep", &["810000000001", "810000000002", "810000000001"])]).await.expect("u");
    store
        .record_usage(&[], &[batch("sidep", &["810000000003", "810000000002"]), batch("psc", &["810000000002"])])
        .await
        .expect("u");
    let by_day = store.usage_by_day("2026-11-27").await.expect("by day");
    let distinct: Vec<(&str, &str, i64)> =
        by_day.iter().map(|d| (d.day.as_str(), d.client.as_str(), d.distinct_professionals)).collect();
    assert_eq!(distinct, [("2026-11-27", "psc", 1), ("2026-11-27", "sidep", 3), ("2026-11-28", "sidep", 1)]);
    assert_eq!(
        store.purge_usage_before("2026-11-28").await.expect("purge"),
        3,
        "two flushes of one client, one of another"
    );

    // Retention: days before the cut go, the others stay.
    let old = UsageKey { day: "2025-01-02".into(), ..key("claims", "ok") };
    let old_subject = [SubjectBatch::of_idnats("2025-01-02", "sidep", ["810000000002"])];
    store.record_usage(&[(old, 7)], &old_subject).await.expect("old usage");
    assert_eq!(store.usage_since("0000-00-00").await.expect("all")[0].calls, 13);
    assert_eq!(store.purge_usage_before("2026-01-01").await.expect("purge"), 2);
    let after = store.usage_since("0000-00-00").await.expect("after");
    assert_eq!((after[0].calls, after[0].distinct_professionals), (6, 1));
    assert_eq!(store.purge_usage_before("2026-01-01").await.expect("again"), 0);

    // By day.
    let day = UsageKey { day: "2026-11-29".into(), ..key("eligibility", "eligible") };
    store.record_usage(&[(day, 4)], &[]).await.expect("u");
    let days = store.usage_by_day("2026-11-01").await.expect("by day");
    let got: Vec<(&str, i64, i64, i64, i64)> =
        days.iter().map(|d| (d.day.as_str(), d.calls, d.distinct_professionals, d.eligible, d.refused)).collect();
    assert_eq!(got, [("2026-11-28", 6, 1, 0, 1), ("2026-11-29", 4, 0, 4, 0)]);
}

/// What the FHIR directory reads: the version visible at a generation and the generation that wrote it, a removed
/// person's last version with the generation that removed them, the removed persons in idNat order, pages of versions,
/// and the promotion instants.
async fn versions_removals_and_promotions_as_the_fhir_directory_reads_them(store: Store) {
    let g1 = generation(
        &store,
        &[
            change("a", ChangeKind::Create, "a1"),
            change("b", ChangeKind::Create, "b1"),
            change("c", ChangeKind::Create, "c1"),
        ],
    )
    .await;
    store.promote(g1).await.expect("promote 1");
    let g2 = generation(&store, &[change("a", ChangeKind::Update, "a2"), change("b", ChangeKind::Delete, "")]).await;
    store.promote(g2).await.expect("promote 2");
    let v = store.version_at("a", g2).await.expect("a").expect("a at 2");
    assert_eq!((v.record.as_str(), v.since_generation, v.deleted_by), ("{\"v\":\"a2\"}", g2, None));
    let v = store.version_at("a", g1).await.expect("a").expect("a at 1");
    assert_eq!((v.record.as_str(), v.since_generation), ("{\"v\":\"a1\"}", g1));
    let v = store.version_at("b", g2).await.expect("b").expect("b at 2: removed, still readable");
    assert_eq!((v.record.as_str(), v.since_generation, v.deleted_by), ("{\"v\":\"b1\"}", g1, Some(g2)));
    assert_eq!(store.version_at("b", g1).await.expect("b").map(|v| v.deleted_by), Some(None));
    assert_eq!(store.version_at("z", g2).await.expect("z"), None);
    assert_eq!(store.removed_page(g2, (None, None), "", 10).await.expect("removed"), (vec!["b".to_string()], 1));
    assert_eq!(store.removed_page(g1, (None, None), "", 10).await.expect("removed at 1"), (vec![], 0));
    assert_eq!(store.removed_page(g2, (Some(g2 + 1), None), "", 10).await.expect("later"), (vec![], 0));
    assert_eq!(store.removed_page(g2, (None, None), "b", 10).await.expect("after b").0, Vec::<String>::new());
    let page = store.versions_page_at(g2, "", 1).await.expect("page");
    assert_eq!(page, [("a".to_string(), "{\"v\":\"a2\"}".to_string(), g2)]);
    let page = store.versions_page_at(g2, "a", 10).await.expect("page 2");
    assert_eq!(page, [("c".to_string(), "{\"v\":\"c1\"}".to_string(), g1)]);
    let promotions = store.promotions().await.expect("promotions");
    assert_eq!(promotions.iter().map(|(g, _)| *g).collect::<Vec<_>>(), [g1, g2]);
    assert!(promotions.iter().all(|(_, at)| at.ends_with('Z')), "{promotions:?}");
}

/// The sync's memos: read a range of partitions at a time in (partition, idNat) order, replaced by a newer one of the
/// same person, removed when the person is gone; 128-bit hashes and any bytes survive both backends.
async fn memos_are_read_by_partition_range_replaced_and_removed(store: Store) {
    let memo = |part: usize, idnat: &str, raw: u128, facts: &[u8]| Memo {
        part,
        idnat: idnat.into(),
        raw,
        record: u128::MAX - raw,
        facts: facts.to_vec(),
    };
    assert_eq!(store.memos(0..128).await.expect("none"), []);
    let first = [memo(3, "b", 1, b"\x00\xff"), memo(3, "a", u128::MAX, b""), memo(7, "c", 1 << 100, b"x")];
    store.put_memos(first.to_vec(), &[]).await.expect("put");
    // Partitions of which nothing was memoised are written as one base value each (migration 0011).
    let counts = |store: &Store| {
        let store = store.clone();
        async move {
            with_pool!(store, pool => {
                let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM person_memo").fetch_one(pool).await.expect("rows");
                let bases: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM person_memo_base").fetch_one(pool).await.expect("bases");
                (rows, bases)
            })
        }
    };
    assert_eq!(counts(&store).await, (0, 2));
    let mut got = store.memos(0..4).await.expect("read");
    got.sort_by(|a, b| a.idnat.cmp(&b.idnat));
    assert_eq!(got, [first[1].clone(), first[0].clone()], "partition 3 only");
    assert_eq!(store.memos(4..128).await.expect("read"), [first[2].clone()]);
    // A newer memo of `a` replaces the old one; `b` is gone.
    store.put_memos(vec![memo(3, "a", 5, b"new")], &[(3, "b".into())]).await.expect("replace");
    assert_eq!(store.memos(3..4).await.expect("read"), [memo(3, "a", 5, b"new")]);
    assert_eq!(counts(&store).await, (2, 2), "a row over the base for `a`, a removal for `b`");
    // `b` comes back: its new memo replaces the removal.
    store.put_memos(vec![memo(3, "b", 6, b"back")], &[]).await.expect("back");
    let mut got = store.memos(3..4).await.expect("read");
    got.sort_by(|a, b| a.idnat.cmp(&b.idnat));
    assert_eq!(got, [memo(3, "a", 5, b"new"), memo(3, "b", 6, b"back")]);
    // Any idNat and any facts come back whole (SQLite reads a partition's memos as one concatenated value).
    let odd = [memo(9, "1:2", 7, b"3:\x00:\n\xff"), memo(9, "\n:É", 0, b":"), memo(9, "z", 1, &[b':'; 300])];
    store.put_memos(odd.to_vec(), &[]).await.expect("put odd");
    let mut sorted = odd.to_vec();
    sorted.sort_by(|a, b| a.idnat.as_bytes().cmp(b.idnat.as_bytes()));
    let mut got = store.memos(9..10).await.expect("read odd");
    got.sort_by(|a, b| a.idnat.as_bytes().cmp(b.idnat.as_bytes()));
    assert_eq!(got, sorted);
    store.clear_memos().await.expect("clear");
    assert_eq!(store.memos(0..128).await.expect("cleared"), []);
}

/// A write of more rows than one statement takes (SQLite's bulk writer writes 64 rows a statement, then the rest one
/// at a time): every version, change and memo arrives with its own values, on a first load and on the generation
/// after it (updates and deletions of some, creations of others), and a duplicate in a long write still fails it.
async fn many_changes_and_memos_in_one_write_all_arrive(store: Store) {
    let n = 64 * 2 + 13;
    let ids: Vec<String> = (0..n).map(|i| format!("8{i:05}")).collect();
    let first: Vec<Change> = ids.iter().map(|id| change(id, ChangeKind::Create, &format!("a{id}"))).collect();
    let g1 = generation(&store, &first).await;
    store.promote(g1).await.expect("promote");
    let hashes = store.current_hashes().await.expect("hashes");
    assert_eq!(hashes.len(), n);
    assert!(ids.iter().all(|id| hashes.get(id) == Some(&format!("h-a{id}"))));
    assert_eq!(record(&store, &ids[n - 1]).await.as_deref(), Some(format!("{{\"v\":\"a{}\"}}", ids[n - 1]).as_str()));

    // Generation 2: the first 70 updated, the next 7 deleted, 66 created.
    let mut next: Vec<Change> = ids[..70].iter().map(|id| change(id, ChangeKind::Update, &format!("b{id}"))).collect();
    next.extend(ids[70..77].iter().map(|id| change(id, ChangeKind::Delete, "")));
    next.extend((0..66).map(|i| change(&format!("9{i:05}"), ChangeKind::Create, "c")));
    let g2 = generation(&store, &next).await;
    store.promote(g2).await.expect("promote");
    let hashes = store.current_hashes().await.expect("hashes");
    assert_eq!(hashes.len(), n - 7 + 66);
    assert_eq!(hashes.get(&ids[69]), Some(&format!("h-b{}", ids[69])));
    assert_eq!(hashes.get(&ids[77]), Some(&format!("h-a{}", ids[77])));
    assert!(!hashes.contains_key(&ids[70]));
    let changes = store.changes_since(g1).await.expect("changes");
    assert_eq!(changes.len(), next.len());
    let mut streamed = Vec::new();
    store
        .for_each_change_by(0, 64, &mut |c| -> Result<()> {
            streamed.push(c);
            Ok(())
        })
        .await
        .expect("stream");
    assert_eq!(streamed.len(), n + next.len(), "a first load's creations, then the second generation's changes");
    assert_eq!(&streamed[n..], &changes[..]);
    let count = |k: ChangeKind| changes.iter().filter(|c| c.change == k).count();
    assert_eq!((count(ChangeKind::Update), count(ChangeKind::Delete), count(ChangeKind::Create)), (70, 7, 66));

    // A duplicate far into a long write fails the write, and nothing of it is kept.
    let run = store.start_run("duplicate").await.expect("run");
    let g3 = store.begin_generation(run).await.expect("begin");
    let mut dup: Vec<Change> = (0..100).map(|i| change(&format!("7{i:05}"), ChangeKind::Create, "d")).collect();
    dup.push(change("700099", ChangeKind::Create, "e"));
    assert!(store.write_changes(g3, dup).await.is_err());
    store.abandon(g3, "failed").await.expect("abandon");
    assert_eq!(store.current_hashes().await.expect("hashes").len(), n - 7 + 66);

    let memos: Vec<Memo> = (0..n)
        .map(|i| Memo {
            part: i % 3,
            idnat: ids[i].clone(),
            raw: i as u128,
            record: u128::MAX - i as u128,
            facts: vec![i as u8; i],
        })
        .collect();
    store.put_memos(memos.clone(), &[]).await.expect("put");
    let mut got = store.memos(0..3).await.expect("read");
    got.sort_by(|a, b| a.idnat.cmp(&b.idnat));
    assert_eq!(got, memos);
}

/// The two migration folders move in step: same version numbers, same names.
#[test]
fn both_backends_have_the_same_migrations() {
    let versions = |m: &sqlx::migrate::Migrator| -> Vec<(i64, String)> {
        m.iter().map(|x| (x.version, x.description.to_string())).collect()
    };
    assert_eq!(versions(&SQLITE_MIGRATOR), versions(&POSTGRES_MIGRATOR));
}

/// The migrations up to 0006: a store as a binary before encoding 2 left it (its records are text).
fn before_encoding_2(m: &sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    // `migrations` is public for `migrate!` (semver-exempt in sqlx, pinned by Cargo.lock): a test may take a prefix.
    sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(m.iter().filter(|x| x.version <= 6).cloned().collect()),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

const OLD_INSERT: &str =
    "INSERT INTO person_version (idnat, valid_from, valid_to, hash, record) VALUES ('x', 1, NULL, 'h', $1)";
const OLD_RECORD: &str = "{\"idnat\":\"810000000001\",\"n\":\"Léa \\\"Z\\\"\",\"exercices\":[]}";

/// A record stored as text by a binary before encoding 2 reads back as it was once the store is opened (and
/// migrated, `0007_packed_records`) by this one, on SQLite (text kept in place) and PostgreSQL (`bytea` since 0007).
#[tokio::test]
async fn a_store_written_before_encoding_2_reads_back_after_the_migration() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let opts =
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("annuaire.db")).create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.expect("sqlite");
        before_encoding_2(&SQLITE_MIGRATOR).run(&pool).await.expect("migrations 1-6");
        sqlx::query(OLD_INSERT).bind(OLD_RECORD).execute(&pool).await.expect("old record");
        pool.close().await;
    }
    let store = Store::open(dir.path()).await.expect("open and migrate");
    assert_eq!(store.person_at("x", 1).await.expect("read").map(|p| p.record).as_deref(), Some(OLD_RECORD));

    let Some(admin) = crate::testing::postgres_admin_url() else { return };
    let url = crate::testing::fresh_database(&admin, "before_encoding_2").await.expect("database");
    {
        let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
        before_encoding_2(&POSTGRES_MIGRATOR).run(&pool).await.expect("migrations 1-6");
        sqlx::query(OLD_INSERT).bind(OLD_RECORD).execute(&pool).await.expect("old record");
        pool.close().await;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::connect(dir.path(), Some(&url)).await.expect("open and migrate");
    let read = store.person_at("x", 1).await.expect("read").map(|p| p.record);
    assert_eq!(read.as_deref(), Some(OLD_RECORD));
}
