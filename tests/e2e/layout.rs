//! The code stays navigable (issue 14): no source file over 600 lines outside data tables and tests, and no import
//! circle between the modules of a crate (read from `crate::a::b` and `super::x` paths outside comments and test
//! modules).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] =
    &["schemas", "views", "store", "ingest", "claims", "search", "annuaire", "bench", "data-samples"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines_outside_data_tables_and_tests() {
    let mut long = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(krate).join("src"), &mut files);
        for f in files {
            let name = f.to_string_lossy().into_owned();
            let lines = std::fs::read_to_string(&f).expect("read").lines().count();
            // Test modules and data tables may be long.
            if lines > 600 && !name.ends_with("tests.rs") && !name.ends_with("tables.rs") {
                long.push(format!("{name}: {lines} lines"));
            }
        }
    }
    assert!(long.is_empty(), "{long:#?}");
}

/// The module of each file of a crate, and the modules it uses.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut refs: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(src).expect("prefix").with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
            parts.pop();
        }
        let text = std::fs::read_to_string(f).expect("read");
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let code: String = text.lines().map(|l| format!("{}\n", l.split("//").next().unwrap_or(""))).collect();
        let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect::<String>();
        let mut found = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            let a = ident(rest);
            let b = rest[a.len()..].strip_prefix("::").map(ident).filter(|b| !b.is_empty());
            found.push((a, b));
        }
        for (i, _) in code.match_indices("super::") {
            let x = ident(&code[i + 7..]);
            let mut base = parts[..parts.len().saturating_sub(1)].to_vec();
            base.push(x);
            found.push((base[0].clone(), base.get(1).cloned()));
        }
        refs.insert(parts.join("::"), found);
    }
    let names: BTreeSet<String> = refs.keys().cloned().collect();
    refs.into_iter()
        .map(|(k, found)| {
            let deps = found
                .into_iter()
                .filter_map(|(a, b)| {
                    let long = b.map(|b| format!("{a}::{b}"));
                    [long, Some(a)].into_iter().flatten().find(|c| names.contains(c))
                })
                .filter(|c| *c != k && !k.starts_with(&format!("{c}::")) && !c.starts_with(&format!("{k}::")))
                .collect();
            (k, deps)
        })
        .collect()
}

fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    fn visit(g: &BTreeMap<String, BTreeSet<String>>, stack: &mut Vec<String>, found: &mut BTreeSet<String>) {
        let Some(node) = stack.last().cloned() else { return };
        for next in g.get(&node).into_iter().flatten() {
            if let Some(i) = stack.iter().position(|s| s == next) {
                found.insert(format!("{} -> {next}", stack[i..].join(" -> ")));
            } else if stack.len() < 8 {
                stack.push(next.clone());
                visit(g, stack, found);
                stack.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for n in g.keys() {
        visit(g, &mut vec![n.clone()], &mut found);
    }
    found
}

#[test]
fn no_import_circle_between_the_modules_of_a_crate() {
    let mut all = Vec::new();
    for krate in CRATES {
        for c in circles(&graph(&root().join(krate).join("src"))) {
            all.push(format!("{krate}: {c}"));
        }
    }
    assert!(all.is_empty(), "{all:#?}");
    // The reader sees a circle when there is one.
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a".to_string(), ["b".to_string()].into()), ("b".to_string(), ["a".to_string()].into())].into();
    assert!(!circles(&g).is_empty());
}
