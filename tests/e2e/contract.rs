//! The API's contract, byte for byte: a fixed set of requests (every route, the common errors) against the sample
//! in two generations, and their answers (status, content type, generation header, body) compared with
//! `tests/e2e/golden/api-responses.txt`. A change of any answer fails here, on purpose: the identity provider and the
//! integrators' scripts read these bytes. Times (promotions) are written `<time>`, the only part that varies.
//!
//! The file is written by an explicit command, never by an ordinary test run:
//! `ANNUAIRE_WRITE_GOLDEN=1 cargo test -p annuaire --test e2e contract`.

use crate::api::{ANALYST, IDP, OPS, start, sync_with_lefevre_renamed, synced, wait_for_snapshot};

/// (method, path and query, token, body).
const REQUESTS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("GET", "/healthz", None, None),
    ("GET", "/v1/claims/810100271385", Some(IDP), None),
    ("GET", "/v1/claims/10100271385?profile=psc-2021", Some(IDP), None),
    ("GET", "/v1/claims/899999999999", Some(IDP), None),
    ("GET", "/v1/claims/810100271385", Some(ANALYST), None),
    ("GET", "/v1/claims/810100271385", None, None),
    ("GET", "/v1/claims/810100271385?profile=psc-1999", Some(IDP), None),
    ("POST", "/v1/claims/batch", Some(IDP), Some(r#"{"ids":["810100271385","899999999999","10100271385"]}"#)),
    ("POST", "/v1/claims/batch", Some(IDP), Some(r#"{"ids":"#)),
    ("POST", "/v1/eligibility", Some(IDP), Some(r#"{"subject":"810100271385","service":"si-dep"}"#)),
    ("POST", "/v1/eligibility", Some(IDP), Some(r#"{"subject":"810100271385","service":"liberal-doctors"}"#)),
    ("POST", "/v1/eligibility", Some(IDP), Some(r#"{"subject":"810100271385","service":"nope"}"#)),
    ("GET", "/v1/services", Some(IDP), None),
    ("GET", "/v1/subjects/resolve?hint=10100271385", Some(IDP), None),
    ("GET", "/v1/professionals/810100271385", Some(IDP), None),
    ("GET", "/v1/professionals/899999999999", Some(IDP), None),
    ("GET", "/v1/changes?since=0&limit=3", Some(OPS), None),
    ("GET", "/v1/changes?since=1&limit=5", Some(OPS), None),
    ("GET", "/v1/generations?limit=5", Some(OPS), None),
    ("POST", "/v1/generations/1/approve", Some(OPS), Some(r#"{"exclude":["delete"]}"#)),
    ("GET", "/v1/search?q=lef&limit=3", Some(ANALYST), None),
    ("GET", "/v1/search?profession=60&limit=2&offset=1", Some(ANALYST), None),
    ("GET", "/v1/search?q=martn&valid_card=true&limit=2", Some(ANALYST), None),
    ("GET", "/v1/search?offset=20000", Some(ANALYST), None),
    ("GET", "/v1/stats?by=profession,authority_kind", Some(ANALYST), None),
    ("GET", "/v1/stats?by=department&profession=10", Some(ANALYST), None),
    ("GET", "/v1/stats?by=nope", Some(ANALYST), None),
    ("GET", "/v1/codes/category", None, None),
    ("GET", "/v1/codes/nope", None, None),
    ("GET", "/fhir/Practitioner/810100271385", Some(IDP), None),
    ("GET", "/fhir/PractitionerRole?practitioner=810100271385", Some(IDP), None),
    ("GET", "/fhir/Practitioner?family=lef&given=eti&_count=1", Some(ANALYST), None),
    ("GET", "/fhir/Organization?address-postalcode=25300&_count=2", Some(ANALYST), None),
    ("GET", "/fhir/Practitioner?colour=blue", Some(ANALYST), None),
    ("GET", "/fhir/Practitioner/810100271385/_history", Some(ANALYST), None),
    ("GET", "/v1/nope", None, None),
    ("DELETE", "/v1/claims/810100271385", Some(IDP), None),
];

/// `"2026-11-28T09:00:00.123Z"` (or with a space, or an offset) → `"<time>"`, everywhere in `text`.
fn without_times(text: &str) -> String {
    let b = text.as_bytes();
    let looks_like_time = |i: usize| {
        let d = |k: usize| b.get(i + k).is_some_and(u8::is_ascii_digit);
        (0..4).all(d)
            && b.get(i + 4) == Some(&b'-')
            && d(5)
            && d(6)
            && b.get(i + 7) == Some(&b'-')
            && d(8)
            && d(9)
            && matches!(b.get(i + 10), Some(b'T' | b' '))
            && d(11)
            && d(12)
            && b.get(i + 13) == Some(&b':')
    };
    let (mut out, mut i) = (String::with_capacity(text.len()), 0);
    while i < b.len() {
        if b[i] == b'"' && looks_like_time(i + 1) {
            let end = text[i + 1..].find('"').map_or(b.len(), |e| i + 1 + e);
            out.push_str("\"<time>");
            i = end;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn fixed_requests_answer_byte_for_byte_what_the_golden_file_holds() {
    let (dir, config) = synced();
    sync_with_lefevre_renamed(dir.path());
    let server = start(dir.path(), &config);
    let mut transcript = String::new();
    crate::api::rt().block_on(async {
        let c = reqwest::Client::new();
        wait_for_snapshot(&c, &server.base, 2).await;
        for (method, path, token, body) in REQUESTS {
            let mut req = c.request(method.parse().expect("method"), format!("{}{path}", server.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.header("content-type", "application/json").body(b.to_string());
            }
            let resp = req.send().await.expect("request");
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
            let (status, kind, generation) =
                (resp.status().as_u16(), header("content-type"), header("x-annuaire-generation"));
            let text = resp.text().await.expect("body");
            let who = token.map_or("-", |t| {
                if t == IDP {
                    "idp"
                } else if t == ANALYST {
                    "analyst"
                } else {
                    "ops"
                }
            });
            transcript.push_str(&format!(
                "### {method} {path} ({who}){}\n{status} {kind} generation={generation}\n{}\n\n",
                body.map(|b| format!(" {b}")).unwrap_or_default(),
                without_times(&text)
            ));
        }
    });
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/golden/api-responses.txt");
    if std::env::var_os("ANNUAIRE_WRITE_GOLDEN").is_some() {
        std::fs::write(&golden, &transcript).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&golden).expect("tests/e2e/golden/api-responses.txt");
    if want != transcript {
        let first = want.lines().zip(transcript.lines()).position(|(a, b)| a != b).unwrap_or(0);
        let show = |t: &str| t.lines().skip(first.saturating_sub(3)).take(8).collect::<Vec<_>>().join("\n");
        panic!(
            "the API's answers changed (line {}):\n--- golden\n{}\n--- now\n{}",
            first + 1,
            show(&want),
            show(&transcript)
        );
    }
}
