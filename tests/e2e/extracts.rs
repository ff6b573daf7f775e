//! The other extracts (issue 7): card holders (Porteurs_CPS_CPF, ISO-8859-1) and MSSanté mailboxes read with the
//! main extract, the native record, eligibility on cards, and the native record agreeing with the claims.

use crate::api::{IDP, call, rt, sha, start};
use crate::common::{annuaire, json, samples, stderr};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn synced_with_cards_and_mailboxes() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let s = |p: &str| samples().join(p).to_string_lossy().into_owned();
    let out = annuaire(
        dir.path(),
        &["sync", "--source", &s("PS_LibreAcces"), "--with", &s("Porteurs_CPS_CPF"), "--with", &s("MSSante")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let config = dir.path().join("annuaire.toml");
    std::fs::write(
        &config,
        format!(
            r#"version = 1
[services.dmp]
professions = ["10", "21", "28", "60"]
require_valid_card = true
card_types = ["CPS", "CPF"]

[[clients]]
name = "idp"
token_sha256 = "{}"
scopes = ["claims"]
"#,
            sha(IDP)
        ),
    )
    .expect("config");
    (dir, config)
}

fn show(dir: &Path, id: &str) -> Value {
    json(&annuaire(dir, &["show", id]))
}

#[test]
fn cards_and_mailboxes_are_stored_and_shown() {
    let (dir, _) = synced_with_cards_and_mailboxes();
    let runs = json(&annuaire(dir.path(), &["runs", "--format", "json"]));
    let files: Vec<String> = runs[0]["report"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["file"].as_str().or(f["name"].as_str()).map(str::to_string))
        .collect();
    assert!(files.iter().any(|f| f == "Porteurs_CPS_CPF_202611280800.txt"), "{files:?}");
    assert!(files.iter().any(|f| f == "Extraction_Correspondance_MSSante_202611280700.txt"), "{files:?}");

    let p = show(dir.path(), "810100271385");
    let numbers: Vec<&str> =
        p["cards"].as_array().expect("cards").iter().filter_map(|c| c["number"].as_str()).collect();
    assert_eq!(numbers, ["2000271385", "2500271385"], "both cards, the duplicate line once, sorted");
    assert_eq!(p["cards"][1]["valid_from"], "2025-01-15", "dd/mm/yyyy read as ISO");
    assert_eq!(p["cards"][1]["card_type"], json!({"code": "CPS", "label": "Carte de Professionnel de Santé"}));
    assert_eq!(p["has_valid_card"], true);
    assert_eq!(p["valid_cards"], json!(["2500271385"]));
    let addresses: Vec<&str> =
        p["mailboxes"].as_array().expect("mailboxes").iter().filter_map(|m| m["address"].as_str()).collect();
    assert_eq!(addresses, ["e.lefevre@ch-ambérieu.mssante.fr", "etienne.lefevre@medecin.mssante.fr"]);
    assert_eq!(p["mailboxes"][0]["structure_id"], "3010008407");
    assert_eq!(p["has_mailbox"], true);
    assert_eq!(p["history"][0]["change"], "create");
    assert!(p["activated_at"].is_string());

    // The card file is ISO-8859-1: its accented labels read correctly.
    let p = show(dir.path(), "810001045367");
    assert_eq!(p["cards"][0]["card_type"]["label"], "Carte de Personnel d'Établissement");
    // ADELI, by bare number.
    let p = show(dir.path(), "012800751");
    assert_eq!(p["cards"][0]["number"], "2500128007");
    assert_eq!(p["mailboxes"][0]["address"], "patrick.pithoud@orthoptiste.mssante.fr");
    // No card: the fields say so.
    let p = show(dir.path(), "810000237041");
    assert_eq!((p["has_valid_card"].clone(), p.get("cards").is_none()), (json!(false), true));
}

#[test]
fn eligibility_requires_a_valid_card_of_the_listed_types() {
    let (dir, config) = synced_with_cards_and_mailboxes();
    let cfg = config.to_str().expect("path");
    let decide = |id: &str| json(&annuaire(dir.path(), &["--config", cfg, "eligible", id, "--service", "dmp"]));
    assert_eq!(decide("810100271385")["eligible"], true);
    assert_eq!(decide("012800751")["eligible"], true);
    assert_eq!(decide("810100000008")["eligible"], true, "a CPF counts");
    let d = decide("810100000016");
    assert_eq!(d["eligible"], false);
    assert!(d["reasons"][0].as_str().unwrap_or("").ends_with("card 2000000016 (CPS) expired on 2022-12-31"), "{d}");
    let d = decide("810100000024");
    assert!(d["reasons"][0].as_str().unwrap_or("").ends_with("card 2500000024 (CPS) opposed on 2026-06-15"), "{d}");
    let d = decide("810001045367");
    assert!(d["reasons"][0].as_str().unwrap_or("").ends_with("card 2501045367 (CPE) not of type [CPS, CPF]"), "{d}");
    let d = decide("810000237041");
    assert_eq!(d["reasons"][0], "no valid card: no CPS/CPF card in the card holders' extract");
}

/// Every field the claims share with the native record has the same value, for every sample person.
#[test]
fn the_native_record_and_the_claims_agree_for_every_sample_person() {
    let (dir, config) = synced_with_cards_and_mailboxes();
    let ids: Vec<String> = json(&annuaire(dir.path(), &["changes", "--since", "0", "--format", "json"]))
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() > 300);
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let batch = call(
            &c,
            "POST",
            &format!("{}/v1/claims/batch", server.base),
            Some(IDP),
            Some(json!({"ids": ids}).to_string()),
        )
        .await;
        assert_eq!(batch.status, 200, "{}", batch.text);
        let mut compared = 0;
        for (id, result) in ids.iter().zip(batch.body["results"].as_array().expect("results")) {
            let claims = &result["claims"];
            let n = call(&c, "GET", &format!("{}/v1/professionals/{id}", server.base), Some(IDP), None).await;
            assert_eq!(n.status, 200, "{}", n.text);
            let native = &n.body;
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            assert_eq!(s(&claims["preferred_username"]), s(&native["idnat"]), "{id}");
            assert_eq!(s(&claims["SubjectNameID"]), s(&native["idnat"]), "{id}");
            assert_eq!(s(&claims["codeCivilite"]), s(&native["civilite"]["code"]), "{id}");
            let nex = native["exercices"].as_array().expect("exercices");
            let cex = claims["SubjectRefPro"]["exercices"].as_array().expect("claim exercices");
            assert_eq!(nex.len(), cex.len(), "{id}");
            if let Some(first) = nex.first() {
                assert_eq!(s(&claims["family_name"]), s(&first["family_name"]), "{id}");
                assert_eq!(s(&claims["given_name"]), s(&first["given_name"]), "{id}");
            }
            for (ne, ce) in nex.iter().zip(cex) {
                assert_eq!(s(&ce["codeProfession"]), s(&ne["profession"]["code"]), "{id}");
                assert_eq!(s(&ce["codeCategorieProfessionnelle"]), s(&ne["category"]["code"]), "{id}");
                assert_eq!(s(&ce["codeCiviliteDexercice"]), s(&ne["civilite_exercice"]["code"]), "{id}");
                assert_eq!(s(&ce["nomDexercice"]), s(&ne["family_name"]), "{id}");
                assert_eq!(s(&ce["prenomDexercice"]), s(&ne["given_name"]), "{id}");
                let sf = s(&ce["codeSavoirFaire"]);
                let native_sf: Vec<(String, String)> = ne["savoir_faire"]
                    .as_array()
                    .map(|a| a.iter().map(|x| (s(&x["kind"]["code"]), s(&x["code"]["code"]))).collect())
                    .unwrap_or_default();
                assert!(
                    (sf.is_empty() && native_sf.iter().all(|(k, _)| !["S", "CEX", "PAC"].contains(&k.as_str())))
                        || native_sf.contains(&(s(&ce["codeTypeSavoirFaire"]), sf.clone())),
                    "{id}: savoir-faire {sf} not in {native_sf:?}"
                );
                let nacts = ne["activities"].as_array().cloned().unwrap_or_default();
                let cacts = ce["activities"].as_array().cloned().unwrap_or_default();
                assert_eq!(nacts.len(), cacts.len(), "{id}");
                for (na, ca) in nacts.iter().zip(&cacts) {
                    let st = &na["structure"];
                    for (claim, native) in [
                        ("codeModeExercice", &na["mode"]["code"]),
                        ("codeSecteurDactivite", &na["sector"]["code"]),
                        ("codeRole", &na["role"]["code"]),
                        ("codeGenreActivite", &na["genre"]["code"]),
                        ("autoriteDenregistrement", &na["registration"]),
                        ("identifiantTechniqueDeLaStructure", &st["technical_id"]),
                        ("raisonSocialeSite", &st["name"]),
                        ("enseigneCommercialeSite", &st["commercial_name"]),
                        ("numeroSiretSite", &st["siret"]),
                        ("numeroFinessSite", &st["finess_site"]),
                        ("codePostal", &st["postal_code"]),
                        ("codeCommune", &st["commune"]["code"]),
                        ("libelleVoie", &st["street_label"]),
                        ("numeroVoie", &st["street_number"]),
                        ("telephone", &st["phone"]),
                    ] {
                        assert_eq!(s(&ca[claim]), s(native), "{id}: {claim}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 3000, "{compared} activity fields compared");
    });
}

#[test]
fn search_filters_and_counts_on_cards_and_mailboxes_and_a_card_number_resolves() {
    let (dir, config) = synced_with_cards_and_mailboxes();
    let search = |args: &[&str]| {
        let mut a = vec!["search", "--format", "json", "--limit", "50"];
        a.extend_from_slice(args);
        json(&annuaire(dir.path(), &a))
    };
    // Valid today: LEFÈVRE's new CPS, PITHOUD's CPS, GUILLAUME's CPF, O'NEILL's CPE; not the expired or opposed ones.
    let r = search(&["--valid-card", "true"]);
    let mut ids: Vec<&str> = r["hits"].as_array().expect("hits").iter().filter_map(|h| h["idnat"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["0012800751", "810001045367", "810100000008", "810100271385"]);
    assert_eq!(r["facets"]["valid_card"], json!({"true": 4}));
    let all = search(&[]);
    let total = all["total"].as_u64().expect("total");
    assert_eq!(all["facets"]["valid_card"], json!({"true": 4, "false": total - 4}));
    assert_eq!(all["facets"]["mailbox"], json!({"true": 2, "false": total - 2}));
    let r = search(&["--mailbox", "true", "--profession", "28"]);
    assert_eq!(r["total"], 1);
    assert_eq!(r["hits"][0]["idnat"], "0012800751");
    // Counts agree with the search.
    let stats = json(&annuaire(dir.path(), &["stats", "--by", "valid_card", "--format", "json"]));
    assert_eq!(stats, json!([{"valid_card": "false", "persons": total - 4}, {"valid_card": "true", "persons": 4}]));

    let server = start(dir.path(), &config);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let r = call(&c, "GET", &format!("{}/v1/subjects/resolve?hint=2500271385", server.base), Some(IDP), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["subject"].clone(), r.body["matched"].clone()), (json!("810100271385"), json!("card")));
        let r =
            call(&c, "GET", &format!("{}/v1/subjects/resolve?hint=10100271385", server.base), Some(IDP), None).await;
        assert_eq!(r.body["matched"], "id");
        let r = call(&c, "GET", &format!("{}/v1/subjects/resolve?hint=2599999999", server.base), Some(IDP), None).await;
        assert_eq!(r.status, 404, "a card of nobody in the directory resolves to nobody");
    });
}

#[test]
fn the_restricted_psc_file_gives_civil_status_names_in_the_claims() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", samples().join("ProSanteConnect").to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let claims = json(&annuaire(dir.path(), &["claims", "0012800736"]));
    assert_eq!((claims["family_name"].clone(), claims["given_name"].clone()), (json!("PIERRE"), json!("Bernadette")));
    assert_eq!(claims["SubjectRefPro"]["exercices"][0]["nomDexercice"], "EVRARD");
    let claims = json(&annuaire(dir.path(), &["claims", "810107592585", "--profile", "psc-2021"]));
    assert_eq!((claims["family_name"].clone(), claims["given_name"].clone()), (json!("ROLEAU"), json!("PIERRE")));
    // The native record carries the same names, and the rest.
    let p = show(dir.path(), "810107592585");
    assert_eq!(p["civil_status"]["family_name"], claims["family_name"]);
    assert_eq!(p["civil_status"]["first_names"][0], claims["given_name"]);
    assert_eq!(p["civil_status"]["birth_date"], "1987-08-26");
    assert_eq!(p["exercices"][0]["profession"]["code"], claims["SubjectRefPro"]["exercices"][0]["codeProfession"]);
}
