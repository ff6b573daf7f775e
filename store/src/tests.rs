//! The store's behaviour, on a real SQLite file in a temporary directory.

use super::*;

fn change(idnat: &str, kind: ChangeKind, body: &str) -> Change {
    Change {
        idnat: idnat.into(),
        kind,
        id_group: "rpps",
        record: (kind != ChangeKind::Delete).then(|| (format!("{{\"v\":\"{body}\"}}"), format!("h-{body}"))),
    }
}

async fn generation(store: &Store, changes: &[Change]) -> i64 {
    let run = store.start_run("test").await.expect("run");
    let g = store.begin_generation(run).await.expect("begin");
    store.write_changes(g, changes).await.expect("write");
    store.finish_generation(g, changes.len() as i64).await.expect("finish");
    g
}

async fn record(store: &Store, idnat: &str) -> Option<String> {
    let served = store.served().await.expect("served")?;
    store.person_at(idnat, served.generation).await.expect("read").map(|p| p.record)
}

#[tokio::test]
async fn a_generation_is_invisible_until_promoted_and_then_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("open");
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

    let changes = store.changes_since(g1).await.expect("changes");
    let listed: Vec<(i64, &str, ChangeKind)> =
        changes.iter().map(|c| (c.generation, c.id.as_str(), c.change)).collect();
    assert_eq!(
        listed,
        vec![(g2, "8A", ChangeKind::Update), (g2, "8B", ChangeKind::Delete), (g3, "8B", ChangeKind::Create)]
    );
}

#[tokio::test]
async fn an_abandoned_or_interrupted_generation_leaves_the_served_one_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("open");
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
    store.write_changes(g3, &[change("8A", ChangeKind::Delete, "")]).await.expect("write");
    assert_eq!(store.recover().await.expect("recover"), vec![g3]);
    assert_eq!(store.current_hashes().await.expect("h").len(), 2);
    assert_eq!(store.served().await.expect("s").map(|s| s.generation), Some(g1));
    assert!(store.promote(g3).await.is_err(), "a failed generation cannot be promoted");
    let runs = store.runs().await.expect("runs");
    assert_eq!(runs.last().map(|r| r.status), Some(RunStatus::Failed));
    assert!(runs.last().and_then(|r| r.reason.clone()).unwrap_or_default().contains("interrupted"));
}

#[tokio::test]
async fn one_sync_at_a_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("open");
    let lock = store.lock_sync("first").await.expect("lock");
    // Same process, same pid: a second take-over is allowed only for a dead holder; simulate another
    // live holder by writing a pid that exists (pid 1).
    sqlx::query("UPDATE sync_lock SET pid = 1").execute(store.pool()).await.expect("pid");
    match store.lock_sync("second").await {
        Err(Error::Busy { owner, .. }) => assert_eq!(owner, "first"),
        other => panic!("expected busy, got {other:?}"),
    }
    sqlx::query("UPDATE sync_lock SET pid = ?")
        .bind(i64::from(std::process::id()))
        .execute(store.pool())
        .await
        .expect("pid");
    lock.release().await.expect("release");
    store.lock_sync("second").await.expect("free again").release().await.expect("release");
    // A holder whose process is gone is taken over.
    sqlx::query("UPDATE sync_lock SET owner = 'dead', pid = 999999999, host = ?")
        .bind(super::lock_host())
        .execute(store.pool())
        .await
        .expect("dead");
    store.lock_sync("third").await.expect("take over a dead holder");
}

#[tokio::test]
async fn approving_a_held_generation_can_leave_out_one_kind_of_change() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).await.expect("open");
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
