//! The line reader's fast path against csv.

use super::*;

/// Lines read by the fast path (lines ending in `\n` only) are read as csv reads them: the same records, line numbers
/// (csv's, which give a line after blank lines the number after the previous line), row errors and counts. Blank
/// lines, a NUL, Latin-1, too few and too many fields, a line over the cap, a last line without its end. The same
/// lines ending in `\r\n` (read by csv) give the same rows, errors and counts.
#[test]
fn the_fast_path_reads_as_csv_does() {
    let header = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom d'exercice|Prénom d'exercice|\
        Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|\
        Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|";
    let good = "8|99700366240|899700366240|DOC|KIT|10|Médecin|C|Civil|S|Spécialité ordinale|SM26|Qualifié|";
    let latin1: Vec<u8> = good.replace('é', "\u{1}").bytes().map(|b| if b == 1 { 0xE9 } else { b }).collect();
    let lines: Vec<Vec<u8>> = vec![
        header.into(),
        good.into(),
        Vec::new(),
        Vec::new(),
        good.replace("DOC", "AFTER").into(),
        b"8|1|".to_vec(),
        good.replace("KIT", "K\0T").into(),
        latin1,
        format!("{good}x|y|").into(),
        format!("{good}{}", "z".repeat(3000)).into(),
        Vec::new(),
        good.replace("DOC", "LAST").into(),
    ];
    let read = |end: &[u8]| {
        let limits = crate::source::ReadLimits { max_line_bytes: 2048, ..Default::default() };
        let (mut rows, mut errors, stats) =
            read_bytes_limited("SavoirFaire.txt", FileKind::SavoirFaire, &lines.join(end), limits, |_| {
                |f: &Fields<'_>| Ok::<_, RowIssue>((f.line(), f.joined()))
            })
            .expect("read");
        rows.sort();
        errors.sort_by_key(|e| e.line);
        let errors: Vec<(u64, &'static str, Option<String>)> =
            errors.iter().map(|e| (e.line, e.kind, e.column.clone())).collect();
        (rows, errors, (stats.rows, stats.rejected, stats.latin1_lines))
    };
    let fast = read(b"\n");
    // What csv gives on the same bytes: each record's line (the header is line 1) and text.
    let body = lines[1..].join(&b"\n"[..]);
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b'|')
        .quoting(false)
        .has_headers(false)
        .flexible(true)
        .from_reader(&body[..]);
    let (mut record, mut by_csv) = (csv::ByteRecord::new(), Vec::new());
    while r.read_byte_record(&mut record).expect("csv") {
        // A line that is not UTF-8 is read as Windows-1252, field by field, as the reader does.
        let utf8 = std::str::from_utf8(record.as_slice()).is_ok();
        let text: Vec<String> = record
            .iter()
            .map(|f| match utf8 {
                true => String::from_utf8_lossy(f).into_owned(),
                false => encoding_rs::WINDOWS_1252.decode_without_bom_handling(f).0.into_owned(),
            })
            .collect();
        by_csv.push((record.position().map_or(0, |p| p.line()) + 1, text.join("|")));
    }
    let mut lines_read: Vec<u64> = fast.0.iter().map(|r| r.0).chain(fast.1.iter().map(|e| e.0)).collect();
    lines_read.sort_unstable();
    assert_eq!(lines_read, by_csv.iter().map(|r| r.0).collect::<Vec<_>>());
    for row in &fast.0 {
        assert!(by_csv.contains(row), "{row:?} not as csv reads it: {by_csv:?}");
    }
    let kinds = |e: &[(u64, &'static str, Option<String>)]| e.iter().map(|e| (e.1, e.2.clone())).collect::<Vec<_>>();
    assert_eq!(
        kinds(&fast.1),
        [
            ("too_few_fields", Some("column 3 (Identification nationale PP)".to_string())),
            ("nul_byte", Some("column 5 (Prénom d'exercice)".to_string())),
            ("too_many_fields", Some("column 14".to_string())),
            ("line_too_long", None)
        ]
    );
    assert_eq!(fast.2, (8, 4, 1));
    assert_eq!(fast.0.len(), 4);
    assert!(fast.0.iter().any(|(_, l)| l.contains("Médecin") && l.contains("Spécialité") && !l.contains('\u{FFFD}')));
    // The same lines ending in `\r\n` go through csv: the same rows, errors and counts (csv numbers them otherwise).
    let crlf = read(b"\r\n");
    let texts = |rows: &[(u64, String)]| {
        let mut t = rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>();
        t.sort();
        t
    };
    assert_eq!((texts(&crlf.0), kinds(&crlf.1), crlf.2), (texts(&fast.0), kinds(&fast.1), fast.2));
}

/// A line's fields, text and duplicate hash are the same whether they are borrowed from the line as read or from a
/// record's fields end to end (a line csv read), and the hash tells lines apart where only a separator moved.
#[test]
fn a_line_hashes_the_same_from_its_text_or_its_fields() {
    let header = Header::parse(
        "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom d'exercice|Prénom d'exercice|\
         Code profession|Code catégorie professionnelle",
        FileKind::PersonneActivite,
    );
    let Ok(header) = header else { panic!("header: {header:?}") };
    let hashes = |line: &str| {
        let record = csv::StringRecord::from(line.split('|').collect::<Vec<_>>());
        let (mut a, mut b) = (Ends::default(), Ends::default());
        let (of_line, of_record) = (a.line(line, &header, 1), b.record(&record, &header, 1));
        assert_eq!(of_line.iter().collect::<Vec<_>>(), of_record.iter().collect::<Vec<_>>(), "{line:?}");
        assert_eq!((of_line.joined(), of_line.joined_len()), (of_record.joined(), of_record.joined_len()));
        (of_line.line_hash(), of_record.line_hash())
    };
    for line in ["8|1|81|DOC|KIT|10|C", "8|1|81|DO|CKIT|10|C", "||||||", "é|\u{0}|||||"] {
        let (raw, fields) = hashes(line);
        assert_eq!(raw, fields, "{line:?}");
    }
    assert_ne!(hashes("8|1|81|DOC|KIT|10|C").0, hashes("8|1|81|DO|CKIT|10|C").0);
    assert_ne!(hashes("8|1|81|DOC|KIT|10|C").0, hashes("8|1|81|DOC|KIT|10|C|").0);
}
