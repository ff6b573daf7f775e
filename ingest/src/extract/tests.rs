//! Tests of pass A and pass B on partition files.

use super::*;

/// A person's lines hash in line-number order, whatever order pass A's workers appended them in; a person whose
/// lines are in order hashes as the lines are read (so the memos of earlier loads still match).
#[test]
fn a_persons_lines_hash_in_line_order_whatever_order_the_partition_holds_them_in() {
    let ordered = b"3\tA\ta1\n5\tB\tb1\n9\tA\ta2\n12\tA\ta3\n".as_slice();
    let swapped = b"9\tA\ta2\n12\tA\ta3\n3\tA\ta1\n5\tB\tb1\n".as_slice();
    let savoir_faire = b"4\tA\tsf1\n2\tA\tsf0\n".as_slice();
    let hashes = |files: &[(u64, &[u8])]| {
        let (keys, of_lines) = hash_persons(files);
        let by_key: BTreeMap<Vec<u8>, u128> = keys.iter().map(|(k, h)| (k.to_vec(), h.0)).collect();
        (by_key, of_lines)
    };
    let (a, lines_a) = hashes(&[(1, ordered), (2, savoir_faire)]);
    let (b, lines_b) = hashes(&[(1, swapped), (2, savoir_faire)]);
    assert_eq!(a, b);
    // Each file's lines still name their person in the order the file holds them.
    assert_eq!(lines_a, vec![vec![0, 1, 0, 0], vec![0, 0]]);
    assert_eq!(lines_b, vec![vec![0, 0, 0, 1], vec![0, 0]]);
    // A's hash is that of its lines in order, file by file; B's, in order, is the plain hash.
    let mut h = crate::facts::RawHash::default();
    for (tag, body) in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "sf0"), (2, "sf1")] {
        h.line(tag, body.as_bytes());
    }
    assert_eq!(a[b"A".as_slice()], h.0);
    let mut h = crate::facts::RawHash::default();
    h.line(1, b"b1");
    assert_eq!(a[b"B".as_slice()], h.0);
    // The order of the files counts, as before.
    let (c, _) = hashes(&[(2, savoir_faire), (1, ordered)]);
    assert_ne!(a[b"A".as_slice()], c[b"A".as_slice()]);
}

fn kept() -> usize {
    READ_BUFFERS.with(|b| b.borrow().iter().map(Vec::capacity).sum())
}

#[test]
fn a_worker_reads_each_partition_alone_with_the_buffers_it_keeps_until_released() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples/PS_LibreAcces");
    let source = Source::open(&samples).expect("source");
    let tmp = tempfile::tempdir().expect("tmp");
    let parted = partition(&source, tmp.path(), &|_, _| {}).expect("pass A");
    let idnats = |part: &Part| part.persons.iter().map(|p| p.idnat.as_str().to_string()).collect::<Vec<_>>();
    // Each partition alone, on this thread: the first time, then after every other, whose bytes the buffers
    // held in between.
    release_read_buffers();
    let first: Vec<Part> = (0..PARTITIONS).map(|p| parted.process(p).expect("pass B")).collect();
    assert!(kept() > 0, "the buffers are kept for the next partition");
    let persons: usize = first.iter().map(|p| p.persons.len()).sum();
    assert!(persons > 100, "the sample's persons are read ({persons})");
    for p in (0..PARTITIONS).rev() {
        let again = parted.process(p).expect("pass B again");
        assert_eq!(idnats(&again), idnats(&first[p]), "partition {p}");
        assert_eq!(again.persons, first[p].persons, "partition {p}");
        assert_eq!(again.raw, first[p].raw, "partition {p}");
    }
    release_read_buffers();
    assert_eq!(kept(), 0);
}
