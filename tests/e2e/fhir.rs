//! The FHIR directory end to end, on the sample synced with its cards and mailboxes, over real HTTP: every search
//! parameter against counts computed from the records (the CLI's `fhir-ndjson` export, which reads the store, not
//! the index), paging across a promotion, history and `_since` with a deletion made by a sync, `$export` against
//! `stats`, and every resource checked by a FHIR R4 validating library (Python `fhir.resources` 6.1.0, FHIR 4.0.1:
//! `scripts/fhir-validator-setup.sh`, `scripts/fhir-validate.py`).

use crate::api::{ANALYST, IDP, call, rt, start, write_config};
use crate::common::{annuaire, json, sample_copy, samples, stderr};
use annuaire_search::fold;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// POST a body of the given media type as the analyst: status and JSON answer.
async fn post_form(c: &reqwest::Client, url: &str, kind: &str, body: String) -> (u16, Value) {
    let resp = c.post(url).bearer_auth(ANALYST).header("content-type", kind).body(body).send().await.expect("request");
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().await.expect("body")).unwrap_or(Value::Null))
}

/// Validate FHIR resources (ndjson or JSON files) with the R4 library, when it is installed
/// (`ANNUAIRE_FHIR_PYTHON`); CI requires it (`ANNUAIRE_TEST_REQUIRE_FHIR_VALIDATOR=1`).
fn validate(files: &[PathBuf]) {
    let Ok(python) = std::env::var("ANNUAIRE_FHIR_PYTHON") else {
        assert!(
            std::env::var("ANNUAIRE_TEST_REQUIRE_FHIR_VALIDATOR").is_err(),
            "ANNUAIRE_FHIR_PYTHON is not set: eval \"$(scripts/fhir-validator-setup.sh)\""
        );
        eprintln!("FHIR validation skipped: eval \"$(scripts/fhir-validator-setup.sh)\" to run it");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fhir-validate.py");
    let out = std::process::Command::new(python).arg(script).args(files).output().expect("python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "FHIR R4 validation failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", text.trim());
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).expect("ndjson").lines().map(|l| serde_json::from_str(l).expect("line")).collect()
}

fn sync_sample(dir: &Path, source: &Path) {
    let (cards, mss) = (samples().join("Porteurs_CPS_CPF"), samples().join("MSSante"));
    let out = annuaire(
        dir,
        &[
            "sync",
            "--source",
            source.to_str().expect("p"),
            "--with",
            cards.to_str().expect("p"),
            "--with",
            mss.to_str().expect("p"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn words(v: &Value) -> Vec<String> {
    fold(v.as_str().unwrap_or("")).split_whitespace().map(str::to_string).collect()
}

/// Wait until `/healthz` says `generation` is served (60 s at most).
async fn wait_for(c: &reqwest::Client, base: &str, generation: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while call(c, "GET", &format!("{base}/healthz"), None, None).await.body["generation"] != generation {
        assert!(std::time::Instant::now() < deadline, "generation {generation} never served");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every page of a search, following `next`: (the ids of the matches, the `total`, the generations answered).
async fn all_pages(c: &reqwest::Client, base: &str, query: &str) -> (Vec<String>, Value, BTreeSet<i64>) {
    let mut url = format!("{base}/fhir/{query}");
    let (mut ids, mut gens) = (Vec::new(), BTreeSet::new());
    for _ in 0..500 {
        let r = call(c, "GET", &url, Some(ANALYST), None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        gens.extend(r.generation);
        let total = r.body["total"].clone();
        for e in r.body["entry"].as_array().into_iter().flatten().filter(|e| e["search"]["mode"] == "match") {
            ids.push(e["resource"]["id"].as_str().expect("id").to_string());
        }
        let next = r.body["link"].as_array().into_iter().flatten().find(|l| l["relation"] == "next");
        match next {
            Some(l) => url = format!("{base}/{}", l["url"].as_str().expect("url")),
            None => return (ids, total, gens),
        }
    }
    panic!("{query}: more than 500 pages");
}

#[test]
fn fhir_search_parameters_match_the_records_and_paging_reads_one_generation() {
    let dir = tempfile::tempdir().expect("tmp");
    sync_sample(dir.path(), &samples().join("PS_LibreAcces"));
    let out_dir = dir.path().join("ndjson");
    let out = annuaire(dir.path(), &["export", "--format", "fhir-ndjson", "--out", out_dir.to_str().expect("p")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files: Vec<PathBuf> = ["Practitioner", "PractitionerRole", "Organization"]
        .iter()
        .map(|t| out_dir.join(format!("{t}.ndjson")))
        .collect();
    validate(&files);
    let (pracs, roles, orgs) = (ndjson(&files[0]), ndjson(&files[1]), ndjson(&files[2]));
    // The export holds what `stats` counts: persons by profession.
    let stats = json(&annuaire(dir.path(), &["stats", "--format", "json"]));
    for row in stats.as_array().expect("rows") {
        let code = row["profession"].as_str().expect("profession");
        let n = pracs
            .iter()
            .filter(|p| {
                p["qualification"].as_array().into_iter().flatten().any(|q| {
                    q["code"]["coding"][0]["code"] == code
                        && q["code"]["coding"][0]["system"]
                            .as_str()
                            .is_some_and(|s| ["TRE_G15", "TRE_R94", "TRE_R95"].iter().any(|t| s.contains(t)))
                })
            })
            .count();
        assert_eq!(Value::from(n), row["persons"], "profession {code}");
    }
    let everyone = json(&annuaire(dir.path(), &["search", "--format", "json"]));
    assert_eq!(Value::from(pracs.len()), everyone["total"]);
    let org_of: BTreeMap<String, &Value> =
        orgs.iter().map(|o| (format!("Organization/{}", o["id"].as_str().unwrap_or("")), o)).collect();
    let role_org = |r: &Value| org_of.get(r["organization"]["reference"].as_str().unwrap_or("")).copied();
    let roles_of = |p: &Value| -> Vec<&Value> {
        let reference = format!("Practitioner/{}", p["id"].as_str().unwrap_or(""));
        roles.iter().filter(|r| r["practitioner"]["reference"] == reference.as_str()).collect()
    };
    let names = |p: &Value, part: &str| -> Vec<String> {
        p["name"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|n| match part {
                "family" => words(&n["family"]),
                _ => n["given"].as_array().into_iter().flatten().flat_map(words).collect(),
            })
            .collect()
    };
    let codes = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["coding"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["code"].as_str().map(str::to_string))
            .collect()
    };
    // Who holds a personal (PER) mailbox, read from the MSSanté sample itself (type, then the idNat in column 5).
    let mss = std::fs::read_dir(samples().join("MSSante")).expect("ls").next().expect("a file").expect("entry").path();
    let per: BTreeSet<String> = std::fs::read_to_string(&mss)
        .expect("read")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.first() == Some(&"PER")).then(|| f.get(4).map(|s| s.to_string())).flatten()
        })
        .collect();
    // The types of a Practitioner's cards, from its `as-ext-smartcard` extensions.
    let card_types = |p: &Value| -> Vec<String> {
        p["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with("as-ext-smartcard")))
            .flat_map(|e| e["extension"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["url"] == "type")
            .flat_map(|e| codes(&Value::Array(vec![e["valueCodeableConcept"].clone()])))
            .collect()
    };
    let card = pracs
        .iter()
        .flat_map(|p| p["extension"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["extension"].as_array().cloned().unwrap_or_default())
        .find(|e| e["url"] == "number")
        .and_then(|e| e["valueString"].as_str().map(str::to_string))
        .expect("a card");
    let mailbox = pracs.iter().find_map(|p| p["telecom"][0]["value"].as_str().map(str::to_string)).expect("a mailbox");
    let org_id = roles
        .iter()
        .find_map(|r| r["organization"]["reference"].as_str())
        .expect("org")
        .trim_start_matches("Organization/")
        .to_string();
    let finess = orgs
        .iter()
        .flat_map(|o| o["identifier"].as_array().cloned().unwrap_or_default())
        .find(|i| i["system"] == "https://finess.esante.gouv.fr")
        .and_then(|i| i["value"].as_str().map(str::to_string))
        .expect("a FINESS");
    let postal = |o: Option<&Value>, p: &str| {
        o.is_some_and(|o| o["address"][0]["postalCode"].as_str().is_some_and(|c| c.starts_with(p)))
    };
    type Pred<'a> = Box<dyn Fn(&Value) -> bool + 'a>;
    let p_cases: Vec<(String, Pred)> = vec![
        ("family=lef".into(), Box::new(|p| names(p, "family").iter().any(|w| w.starts_with("lef")))),
        ("given=mar".into(), Box::new(|p| names(p, "given").iter().any(|w| w.starts_with("mar")))),
        (
            "name=mar".into(),
            Box::new(|p| names(p, "family").iter().chain(&names(p, "given")).any(|w| w.starts_with("mar"))),
        ),
        ("identifier=https://rpps.esante.gouv.fr|10100271385".into(), Box::new(|p| p["id"] == "810100271385")),
        (
            "identifier=810100271385,0018600064".into(),
            Box::new(|p| p["id"] == "810100271385" || p["id"] == "0018600064"),
        ),
        (
            format!("number-smartcard={card}"),
            Box::new(|p| p.to_string().contains(&format!("\"valueString\":\"{card}\""))),
        ),
        ("mailbox-mss-type=PER".into(), Box::new(|p| per.contains(p["id"].as_str().unwrap_or("")))),
        (
            "mailbox-mss-type=https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie|per"
                .into(),
            Box::new(|p| per.contains(p["id"].as_str().unwrap_or(""))),
        ),
        ("type-smartcard=CPS".into(), Box::new(|p| card_types(p).contains(&"CPS".to_string()))),
        (
            "type-smartcard=https://mos.esante.gouv.fr/NOS/TRE_R87-TypeCarte/FHIR/TRE-R87-TypeCarte|CPF".into(),
            Box::new(|p| card_types(p).contains(&"CPF".to_string())),
        ),
        (
            format!("mailbox-mss={}", &mailbox[..6]),
            Box::new(|p| {
                p["telecom"].as_array().into_iter().flatten().any(|t| {
                    t["value"].as_str().is_some_and(|v| v.to_lowercase().starts_with(&mailbox[..6].to_lowercase()))
                })
            }),
        ),
        ("address-postalcode=25".into(), Box::new(|p| roles_of(p).iter().any(|r| postal(role_org(r), "25")))),
        (
            "department=25".into(),
            Box::new(|p| roles_of(p).iter().any(|r| role_org(r).is_some_and(|o| o["address"][0]["district"] == "25"))),
        ),
        (
            "qualification-code=10".into(),
            Box::new(|p| {
                p["qualification"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|q| codes(&Value::Array(vec![q["code"].clone()])).contains(&"10".to_string()))
            }),
        ),
        ("_lastUpdated=ge2000-01-01".into(), Box::new(|_| true)),
        ("_lastUpdated=lt2000-01-01".into(), Box::new(|_| false)),
    ];
    let r_cases: Vec<(String, Pred)> = vec![
        (
            "practitioner=810100271385".into(),
            Box::new(|r| r["practitioner"]["reference"] == "Practitioner/810100271385"),
        ),
        (
            "role=SA07".into(),
            Box::new(|r| codes(&r["code"]).iter().chain(&codes(&r["specialty"])).any(|c| c == "SA07")),
        ),
        ("specialty=SA07".into(), Box::new(|r| codes(&r["specialty"]).iter().any(|c| c == "SA07"))),
        (
            format!("organization={org_id}"),
            Box::new(|r| r["organization"]["reference"] == format!("Organization/{org_id}").as_str()),
        ),
        ("address-postalcode=25".into(), Box::new(|r| postal(role_org(r), "25"))),
        (
            "type-smartcard=CPS".into(),
            Box::new(|r| {
                let of = r["practitioner"]["reference"].as_str().unwrap_or("").trim_start_matches("Practitioner/");
                pracs.iter().any(|p| p["id"] == of && card_types(p).contains(&"CPS".to_string()))
            }),
        ),
    ];
    let o_cases: Vec<(String, Pred)> = vec![
        ("address-postalcode=25".into(), Box::new(|o| postal(Some(o), "25"))),
        (
            "name=cabinet".into(),
            Box::new(|o| {
                words(&o["name"])
                    .iter()
                    .chain(o["alias"].as_array().into_iter().flatten().flat_map(words).collect::<Vec<_>>().iter())
                    .any(|w| w.starts_with("cabinet"))
            }),
        ),
        (
            format!("identifier={finess}"),
            Box::new(|o| o["identifier"].as_array().into_iter().flatten().any(|i| i["value"] == finess.as_str())),
        ),
    ];
    let config = write_config(dir.path());
    let server = start(dir.path(), &config);
    let authority = json(&annuaire(dir.path(), &["search", "--authority", "CNOM", "--format", "json"]));
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        for (t, cases, all) in [("Practitioner", &p_cases, &pracs), ("PractitionerRole", &r_cases, &roles), ("Organization", &o_cases, &orgs)] {
            for (q, pred) in cases.iter() {
                let want: BTreeSet<String> = all.iter().filter(|r| pred(r)).map(|r| r["id"].as_str().expect("id").to_string()).collect();
                // Every case but the one meant to match nothing finds someone in the sample: none passes by being empty.
                assert!(!want.is_empty() || q.contains("lt2000"), "{t}?{q} matches nothing in the sample");
                let (ids, total, gens) = all_pages(&c, b, &format!("{t}?{q}&_count=7")).await;
                let got: BTreeSet<String> = ids.iter().cloned().collect();
                assert_eq!(got.len(), ids.len(), "{t}?{q}: an id twice across pages");
                assert_eq!(got, want, "{t}?{q}");
                assert_eq!(total, Value::from(want.len()), "{t}?{q}: total");
                assert_eq!(gens, BTreeSet::from([1]));
            }
        }
        // Search by POST (a form body, its parameters added to the URL's) answers what the same GET answers.
        for (t, q) in [("Practitioner", "family=lef&_count=7"), ("PractitionerRole", "practitioner=810100271385"), ("Organization", "_count=3")] {
            let get = call(&c, "GET", &format!("{b}/fhir/{t}?{q}"), Some(ANALYST), None).await;
            let post = post_form(&c, &format!("{b}/fhir/{t}/_search"), "application/x-www-form-urlencoded", q.to_string()).await;
            assert_eq!((post.0, &post.1), (200, &get.body), "POST {t}/_search {q}");
        }
        let get = call(&c, "GET", &format!("{b}/fhir/Practitioner?_count=2&family=lef"), Some(ANALYST), None).await;
        let mixed = post_form(&c, &format!("{b}/fhir/Practitioner/_search?_count=2"), "application/x-www-form-urlencoded; charset=utf-8", "family=lef".into()).await;
        assert_eq!((mixed.0, &mixed.1["total"], &mixed.1["entry"]), (200, &get.body["total"], &get.body["entry"]));
        // Another media type, a body past the bound, an unknown parameter: OperationOutcomes.
        for (kind, body, status) in [("application/json", "{}".to_string(), 415), ("application/x-www-form-urlencoded", format!("family={}", "a".repeat(5000)), 413), ("application/x-www-form-urlencoded", "colour=blue".into(), 400)] {
            let r = post_form(&c, &format!("{b}/fhir/Practitioner/_search"), kind, body).await;
            assert_eq!((r.0, r.1["resourceType"].as_str()), (status, Some("OperationOutcome")), "{kind}: {}", r.1);
        }
        // Organisations' mailboxes are not kept: no professional holds an ORG one.
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner?mailbox-mss-type=ORG"), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["total"].clone()), (200, Value::from(0)), "{}", r.text);
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner?data-registration-authority=CNOM&_count=0"), Some(ANALYST), None).await;
        assert_eq!(r.body["total"], authority["total"]);
        // Unknown parameters are refused with an OperationOutcome, as a strict server does.
        for q in ["Practitioner?colour=blue", "Practitioner?family:above=x", "Practitioner?_count=1001", "Patient?name=x", "PractitionerRole?_include=Practitioner:x"] {
            let r = call(&c, "GET", &format!("{b}/fhir/{q}"), Some(ANALYST), None).await;
            assert!(matches!(r.status, 400 | 404), "{q}: {}", r.status);
            assert_eq!(r.body["resourceType"], "OperationOutcome", "{q}");
        }
        // Includes: the roles' practitioner and organizations.
        let r = call(&c, "GET", &format!("{b}/fhir/PractitionerRole?practitioner=810100271385&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization"), Some(IDP), None).await;
        let kinds: Vec<&str> = r.body["entry"].as_array().expect("entries").iter().filter_map(|e| e["resource"]["resourceType"].as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "Practitioner").count(), 1, "{kinds:?}");
        assert!(kinds.contains(&"Organization"), "{kinds:?}");
        let files = [("bundle.json", r.body), ("metadata.json", call(&c, "GET", &format!("{b}/fhir/metadata"), Some(ANALYST), None).await.body)];
        let paths: Vec<PathBuf> = files.iter().map(|(n, v)| { let p = dir.path().join(n); std::fs::write(&p, v.to_string()).expect("w"); p }).collect();
        validate(&paths);

        // A search begun on generation 1 goes on reading generation 1 after generation 2 is served.
        let first = call(&c, "GET", &format!("{b}/fhir/Practitioner?_count=100"), Some(ANALYST), None).await;
        let next = first.body["link"][1]["url"].as_str().expect("next").to_string();
        let mut ids: Vec<String> = first.body["entry"].as_array().expect("e").iter().map(|e| e["resource"]["id"].as_str().expect("id").to_string()).collect();
        let gone = "0018600064";
        // Generation 2 also takes one of the two work sites of 810100271385, who stays.
        let doctor_roles: Vec<String> = roles_of(pracs.iter().find(|p| p["id"] == "810100271385").expect("doctor"))
            .iter().map(|r| r["id"].as_str().expect("id").to_string()).collect();
        let data = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let src = sample_copy(&data.join("without"), |_, l| {
                let cabinet = l.contains("|810100271385|") && l.contains("|R10100000328372|");
                !l.contains(&format!("|{gone}|")) && !cabinet
            });
            sync_sample(&data, &src);
        }).await.expect("sync");
        wait_for(&c, b, 2).await;
        let (rest, total, gens) = all_pages(&c, b, next.trim_start_matches("fhir/")).await;
        ids.extend(rest);
        assert_eq!(gens, BTreeSet::from([1]), "the pages after the promotion read generation 1");
        assert_eq!(Value::from(ids.len()), total);
        assert!(ids.contains(&gone.to_string()));
        let fresh = call(&c, "GET", &format!("{b}/fhir/Practitioner?_count=0"), Some(ANALYST), None).await;
        assert_eq!((fresh.generation, fresh.body["total"].as_u64()), (Some(2), total.as_u64().map(|t| t - 1)));

        // The removal is kept: the resource reads as inactive, with its history and in `_since`.
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner/{gone}"), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["active"].clone(), r.body["meta"]["versionId"].clone()), (200, Value::Bool(false), Value::from("2")), "{}", r.text);
        let h = call(&c, "GET", &format!("{b}/fhir/Practitioner/{gone}/_history"), Some(ANALYST), None).await;
        let methods: Vec<&str> = h.body["entry"].as_array().expect("e").iter().filter_map(|e| e["request"]["method"].as_str()).collect();
        assert_eq!(methods, ["DELETE", "POST"], "{}", h.text);
        // vread: the version each generation wrote; the removal's version is gone, a version never written is not found.
        let v1 = call(&c, "GET", &format!("{b}/fhir/Practitioner/{gone}/_history/1"), Some(ANALYST), None).await;
        assert_eq!((v1.status, v1.body["meta"]["versionId"].clone(), v1.body["active"].clone()), (200, Value::from("1"), Value::Bool(true)), "{}", v1.text);
        for (vid, status) in [("2", 410), ("9", 404), ("x", 404)] {
            let r = call(&c, "GET", &format!("{b}/fhir/Practitioner/{gone}/_history/{vid}"), Some(ANALYST), None).await;
            assert_eq!((r.status, r.body["resourceType"].as_str()), (status, Some("OperationOutcome")), "vid {vid}: {}", r.text);
        }
        let r = call(&c, "GET", &format!("{b}/fhir/Practitioner?active=false"), Some(ANALYST), None).await;
        assert_eq!((r.body["total"].clone(), r.body["entry"][0]["resource"]["id"].clone()), (Value::from(1), Value::from(gone)));
        let promoted_1 = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
        let since = promoted_1.as_array().and_then(|runs| runs.iter().find_map(|r| (r["generation"] == 1).then(|| r["finished_at"].as_str().map(str::to_string)).flatten())).expect("run 1");
        // `_since` is inclusive, and run 1 may finish in the millisecond its generation was promoted: ask from the next.
        let since = chrono::DateTime::parse_from_rfc3339(&since)
            .map(|t| (t + chrono::Duration::milliseconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .expect("an instant");
        for t in ["Practitioner", "PractitionerRole"] {
            let h = call(&c, "GET", &format!("{b}/fhir/{t}/_history?_since={since}"), Some(ANALYST), None).await;
            let deletes: Vec<&str> = h.body["entry"].as_array().expect("e").iter()
                .filter(|e| e["request"]["method"] == "DELETE").filter_map(|e| e["fullUrl"].as_str()).collect();
            assert!(deletes.iter().any(|u| u.contains(gone)), "{t}: {}", h.text);
            if t == "PractitionerRole" {
                // The doctor's lost work site is a DELETE of its role; the kept one is not.
                let lost: Vec<&String> = doctor_roles.iter().filter(|id| deletes.iter().any(|u| u.ends_with(id.as_str()))).collect();
                assert_eq!(lost.len(), 1, "{doctor_roles:?} in {deletes:?}");
                assert!(deletes.iter().all(|u| u.contains(gone) || u.ends_with(lost[0].as_str())), "{deletes:?}");
            } else {
                assert!(deletes.iter().all(|u| u.contains(gone)), "{deletes:?}");
            }
        }
        // After generation 3, generation 1 is no longer kept: its cursor is refused (410), never answered from 3.
        let data = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || sync_sample(&data, &samples().join("PS_LibreAcces"))).await.expect("sync");
        wait_for(&c, b, 3).await;
        let r = call(&c, "GET", &format!("{b}/{next}"), Some(ANALYST), None).await;
        assert_eq!((r.status, r.body["resourceType"].clone()), (410, Value::from("OperationOutcome")), "{}", r.text);
    });
}

#[test]
fn bulk_export_over_http_gives_the_counts_of_stats() {
    let dir = tempfile::tempdir().expect("tmp");
    sync_sample(dir.path(), &samples().join("PS_LibreAcces"));
    let config = write_config(dir.path());
    let server = start(dir.path(), &config);
    let stats = json(&annuaire(dir.path(), &["search", "--format", "json"]));
    let doctors_25 =
        json(&annuaire(dir.path(), &["search", "--department", "25", "--profession", "10", "--format", "json"]));
    rt().block_on(async {
        let c = reqwest::Client::new();
        let b = &server.base;
        for (query, want) in [
            ("_type=Practitioner,PractitionerRole", stats["total"].clone()),
            (
                "_type=Practitioner&_typeFilter=Practitioner%3Fdepartment%3D25%26qualification-code%3D10",
                doctors_25["total"].clone(),
            ),
        ] {
            let r = c
                .get(format!("{b}/fhir/$export?{query}"))
                .bearer_auth(ANALYST)
                .header("prefer", "respond-async")
                .send()
                .await
                .expect("kick-off");
            assert_eq!(r.status().as_u16(), 202);
            let status_url = format!("{b}{}", r.headers()["content-location"].to_str().expect("location"));
            let manifest = loop {
                let s = call(&c, "GET", &status_url, Some(ANALYST), None).await;
                if s.status == 200 {
                    break s.body;
                }
                assert_eq!(s.status, 202, "{}", s.text);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            assert!(manifest["transactionTime"].is_string());
            let output = manifest["output"].as_array().expect("output");
            let practitioners = output.iter().find(|o| o["type"] == "Practitioner").expect("Practitioner file");
            assert_eq!(practitioners["count"], want, "{query}: {manifest}");
            let url = practitioners["url"].as_str().expect("url").replace("http://", "");
            let url = format!("http://{url}");
            let body = c.get(&url).bearer_auth(ANALYST).send().await.expect("file").text().await.expect("text");
            assert_eq!(Value::from(body.lines().count()), want);
            let r = c.delete(&status_url).bearer_auth(ANALYST).send().await.expect("delete");
            assert_eq!(r.status().as_u16(), 202);
        }
    });
}

/// An export that cannot write (here its Practitioner file is `/dev/full`, a disk that is always full) stops with the
/// disk's error, and soon: the store's reader and the renderer stop when the writer does (they run a page apart, and
/// a writer that stopped must not leave them waiting). Several pages, so that the writer fails while pages are still
/// being read and rendered.
#[test]
fn an_export_that_cannot_write_stops_with_the_disk_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let source = dir.path().join("extract");
    annuaire_data_samples::sample(7000).write_dir(&source, "202611280900").expect("sample");
    let out = annuaire(dir.path(), &["sync", "--source", source.to_str().expect("p")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out_dir = dir.path().join("ndjson");
    std::fs::create_dir_all(&out_dir).expect("folder");
    std::os::unix::fs::symlink("/dev/full", out_dir.join("Practitioner.ndjson")).expect("symlink");
    let mut child = crate::common::annuaire_command(dir.path())
        .args(["export", "--format", "fhir-ndjson", "--type", "Practitioner,PractitionerRole", "--out"])
        .arg(&out_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("export");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the export did not stop within 120 s after its writer failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).expect("stderr");
    assert!(!status.success(), "the export succeeded on a full disk: {err}");
    assert!(err.contains("No space left on device"), "not the disk's error: {err}");
}
