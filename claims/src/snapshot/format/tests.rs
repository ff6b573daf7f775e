//! The snapshot files' writer and reader, on real files.

use super::*;

/// A lookup that must not wait finds what `get` finds while the entry is in the page cache, and says `OnDisk`,
/// at once, when it is not; `get` then reads it from the disk.
#[test]
#[cfg(target_os = "linux")]
fn a_lookup_that_must_not_wait_says_when_the_entry_is_on_disk() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut w = SnapshotWriter::create(&dir.path().join("3"), 3, &["a", "b"], &[])?;
    // Entries of several pages each (incompressible), so that a dropped page is an entry's.
    let mut ids = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    };
    for k in 0..40 {
        let id = format!("8100{k:08}");
        w.add(&id, &[&noise(20_000), format!("b of {id}").as_bytes()])?;
        ids.push(id);
    }
    let path = w.finish()?;
    let s = ClaimsSnapshot::open(&path)?;
    assert_eq!(s.get_cached("8100999", 0)?, Cached::Absent);
    // Written just now: in the page cache.
    for id in &ids {
        assert_eq!(s.get_cached(id, 1)?, Cached::Found(format!("b of {id}").into_bytes()));
    }
    // Out of the page cache (written back first: only clean pages can be dropped).
    let layer = path.join(&s.meta().layers[0].file);
    let file = std::fs::File::open(&layer)?;
    file.sync_all()?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    let on_tmpfs = rustix::fs::statfs(&layer)?.f_type as i64 == 0x0102_1994; // TMPFS_MAGIC: pages stay
    let mut on_disk = 0;
    for id in &ids {
        match s.get_cached(id, 1)? {
            Cached::OnDisk => on_disk += 1,
            found => assert_eq!(found, Cached::Found(format!("b of {id}").into_bytes())),
        }
        assert_eq!(s.get(id, 1)?, Some(format!("b of {id}").into_bytes()));
    }
    if !on_tmpfs && !s.nowait_refused.load(std::sync::atomic::Ordering::Relaxed) {
        assert!(on_disk > 0, "no entry was reported on disk after its pages were dropped");
    }
    // Read back by `get`: cached again, found without waiting.
    for id in &ids {
        assert_eq!(s.get_cached(id, 1)?, Cached::Found(format!("b of {id}").into_bytes()));
    }
    // Dropped again, then read ahead: every entry comes back to the page cache without a lookup waiting.
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    assert_eq!(s.read_ahead(), std::fs::metadata(&layer)?.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut missing: Vec<&String> = ids.iter().collect();
    while !missing.is_empty() && std::time::Instant::now() < deadline {
        let mut still = Vec::new();
        for id in missing {
            match s.get_cached(id, 1)? {
                Cached::OnDisk => still.push(id),
                found => assert_eq!(found, Cached::Found(format!("b of {id}").into_bytes())),
            }
        }
        missing = still;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(missing.is_empty(), "read ahead, still not in the page cache: {missing:?}");
    Ok(())
}

#[test]
fn entries_round_trip_in_every_variant() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let dict = dictionary(&[vec![b"{\"x\":0}", b"first"]]);
    let mut w = SnapshotWriter::create(&dir.path().join("7"), 7, &["a", "b"], &dict)?;
    w.add("0123", &[b"{\"x\":1}", b""])?;
    w.add("810000000001", &[b"first", "é \u{1F600}".as_bytes()])?;
    // Out of order: refused, not silently stored.
    assert!(w.add("0001", &[b"", b""]).is_err());
    let path = w.finish()?;
    assert_eq!(path, dir.path().join("7"));
    assert!(ClaimsSnapshot::is_current(&path));
    let s = ClaimsSnapshot::open(&path)?;
    assert_eq!(s.meta().persons, 2);
    assert_eq!(s.variant("b"), Some(1));
    assert_eq!(s.get("0123", 0)?.as_deref(), Some(&b"{\"x\":1}"[..]));
    assert_eq!(s.get("0123", 1)?.as_deref(), Some(&b""[..]));
    assert_eq!(s.get("810000000001", 1)?.as_deref(), Some("é \u{1F600}".as_bytes()));
    assert_eq!(s.get("810000000002", 0)?, None);
    assert!(s.get("0123", 2).is_err());
    assert_eq!(s.idnats().collect::<Vec<_>>(), ["0123", "810000000001"]);
    let mut seen = Vec::new();
    s.for_each_entry(|k, e| {
        seen.push((k.to_string(), e.to_vec()));
        Ok(())
    })?;
    assert_eq!(seen.len(), 2);
    assert_eq!(Some(seen[1].1.clone()), s.raw("810000000001")?);
    // A raw entry copied into another snapshot reads the same.
    let mut w = SnapshotWriter::create(&dir.path().join("8"), 8, &["a", "b"], s.dict())?;
    w.add_encoded("0123", &s.raw("0123")?.unwrap_or_default())?;
    let s8 = ClaimsSnapshot::open(&w.finish()?)?;
    assert_eq!(s8.get("0123", 0)?, s.get("0123", 0)?);
    Ok(())
}

#[test]
fn a_damaged_entry_is_refused_without_allocating_what_it_claims() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let dict = dictionary(&[vec![b"{\"x\":0}"]]);
    let good = encode(&dict, &[b"{\"x\":1}"]);
    let with_size = |size: u32| {
        let mut e = size.to_le_bytes().to_vec();
        e.extend_from_slice(&good[4..]);
        e
    };
    let mut w = SnapshotWriter::create(&dir.path().join("1"), 1, &["a"], &dict)?;
    w.add_encoded("01", &good)?;
    // Claims 4 GiB: refused before the allocation.
    w.add_encoded("02", &with_size(u32::MAX))?;
    // Claims one byte more than the limit.
    w.add_encoded("03", &with_size(MAX_ENTRY as u32 + 1))?;
    // Claims less than it holds: an error, not a panic.
    w.add_encoded("04", &with_size(2))?;
    // Shorter than its size.
    w.add_encoded("05", &good[..2])?;
    let s = ClaimsSnapshot::open(&w.finish()?)?;
    assert_eq!(s.get("01", 0)?.as_deref(), Some(&b"{\"x\":1}"[..]));
    for (idnat, says) in
        [("02", "claims 4294967295 bytes"), ("03", "more than 67108864"), ("04", ""), ("05", "truncated")]
    {
        let e = s.get(idnat, 0).expect_err(idnat).to_string();
        assert!(e.contains(says), "{idnat}: {e}");
    }
    Ok(())
}

#[test]
fn a_layer_over_a_base_keeps_its_entries_in_place_and_writes_only_the_changed() -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir()?;
    let mut w = SnapshotWriter::create(&dir.path().join("1"), 1, &["a"], b"")?;
    for id in ["10", "20", "30"] {
        w.add(id, &[id.repeat(100).as_bytes()])?;
    }
    let s1 = ClaimsSnapshot::open(&w.finish()?)?;
    // Generation 2: 20 changed, 25 new, 30 gone.
    let mut w = SnapshotWriter::on(&dir.path().join("2"), 2, &s1)?;
    s1.for_each_place(|id, place| match id {
        "10" => w.add_kept(id, place),
        "20" => {
            w.add_encoded("20", &encode(s1.dict(), &[b"twenty"]))?;
            w.add_encoded("25", &encode(s1.dict(), &[b"twenty-five"]))
        }
        _ => Ok(()),
    })?;
    let s2 = ClaimsSnapshot::open(&w.finish()?)?;
    assert_eq!(s2.idnats().collect::<Vec<_>>(), ["10", "20", "25"]);
    assert_eq!(s2.get("10", 0)?, Some("10".repeat(100).into_bytes()));
    assert_eq!(s2.get("20", 0)?.as_deref(), Some(&b"twenty"[..]));
    assert_eq!(s2.get("30", 0)?, None);
    // The first layer is the same file (a hard link), with a third of its bytes live; the second holds two.
    let (l1, l2) = (&s2.meta().layers[0], &s2.meta().layers[1]);
    assert_eq!((l1.file.as_str(), l2.file.as_str()), ("data-1.bin", "data-2.bin"));
    let inode = |g: &str| std::fs::metadata(dir.path().join(g).join("data-1.bin")).map(|m| m.ino());
    assert_eq!(inode("1")?, inode("2")?);
    assert_eq!(l1.live * 3, l1.bytes);
    assert_eq!(l2.live, l2.bytes);
    assert_eq!(s2.meta().dead_percent(), (l1.bytes - l1.live) * 100 / (l1.bytes + l2.bytes));
    assert!(!s2.meta().takes_a_layer(), "more than a quarter is dead");
    // An entry kept must come from a base layer, not the new one.
    let mut w = SnapshotWriter::on(&dir.path().join("3"), 3, &s2)?;
    assert!(w.add_kept("10", EntryPlace(Place { layer: 2, offset: 0, len: 1 }.pack().unwrap_or(0))).is_err());
    // The base of generation 1 removed: generation 2 still reads its entries (the link keeps the file).
    drop(s1);
    std::fs::remove_dir_all(dir.path().join("1"))?;
    assert_eq!(ClaimsSnapshot::open(&dir.path().join("2"))?.get("10", 0)?, Some("10".repeat(100).into_bytes()));
    Ok(())
}

#[test]
fn places_pack_and_refuse_what_does_not_fit() {
    let p = Place { layer: 63, offset: (1 << 34) - 1, len: (1 << 24) - 1 };
    assert_eq!(p.pack().map(Place::unpack), Some(p));
    assert_eq!(Place { layer: 64, offset: 0, len: 0 }.pack(), None);
    assert_eq!(Place { layer: 0, offset: 1 << 34, len: 0 }.pack(), None);
    assert_eq!(Place { layer: 0, offset: 0, len: 1 << 24 }.pack(), None);
}

#[test]
fn an_unfinished_snapshot_is_not_current() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut w = SnapshotWriter::create(dir.path(), 3, &["a"], b"")?;
    w.add("1", &[b"x"])?;
    drop(w);
    assert!(!ClaimsSnapshot::is_current(dir.path()));
    assert!(ClaimsSnapshot::open(dir.path()).is_err());
    Ok(())
}
