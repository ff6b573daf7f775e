//! The analysts' page, driven in a real headless Chromium through chromedriver (WebDriver): type a name, apply a
//! filter, check the results and the charts against the API. Skipped when chromedriver is not installed, unless
//! `ANNUAIRE_TEST_REQUIRE_BROWSER=1` (CI installs the Debian packages `chromium` and `chromium-driver`).

use crate::api::{ANALYST, OPS, call, rt, start, write_config};
use crate::common::{annuaire, samples, stderr};
use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<(Driver, String)> {
    // The same lookup as `.ci/run`'s `command -v chromedriver`: `$CHROMEDRIVER`, then every folder of `$PATH`, then
    // Debian's private folder.
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("chromedriver")).collect::<Vec<_>>())
        .unwrap_or_default();
    let exe = std::env::var_os("CHROMEDRIVER")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(on_path)
        .chain([std::path::PathBuf::from("/usr/lib/chromium/chromedriver")])
        .find(|p| p.is_file());
    let Some(exe) = exe else {
        assert!(
            std::env::var("ANNUAIRE_TEST_REQUIRE_BROWSER").ok().is_none_or(|v| v != "1"),
            "ANNUAIRE_TEST_REQUIRE_BROWSER=1 but chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: chromedriver is not installed (apt-get install chromium chromium-driver)");
        return None;
    };
    // A chromedriver that exits before it says its port (seen once in CI, on a busy machine) is
    // started again, twice at most; what it printed on stderr is in the failure.
    let mut failures = Vec::new();
    let (driver, port) = loop {
        match start_driver(&exe) {
            Ok(started) => break started,
            Err(e) if failures.len() < 2 => failures.push(e),
            Err(e) => {
                failures.push(e);
                panic!("chromedriver did not say its port, three times: {failures:#?}");
            }
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Ready: the WebDriver status endpoint answers.
        if rt().block_on(async { reqwest::Client::new().get(format!("{base}/status")).send().await.is_ok() }) {
            return Some((driver, base));
        }
        assert!(Instant::now() < deadline, "chromedriver did not answer /status");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One chromedriver on a free port it picks itself (`--port=0`) and says on stdout: no port is guessed here.
fn start_driver(exe: &std::path::Path) -> Result<(Driver, u16), String> {
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let err = log.reopen().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let driver = Driver(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            // "ChromeDriver was started successfully on port 34567." (an earlier line says "on port 0")
            if !line.contains("started successfully") {
                continue;
            }
            if let Some(port) =
                line.split("on port ").nth(1).and_then(|p| p.trim_end_matches('.').trim().parse::<u16>().ok())
            {
                let _ = tx.send(port);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => Ok((driver, port)),
        Err(e) => {
            drop(driver);
            let said = std::fs::read_to_string(log.path()).unwrap_or_default();
            Err(format!("{e}; stderr: {}", said.chars().take(2000).collect::<String>()))
        }
    }
}

/// With `ANNUAIRE_SCREENSHOTS=DIR`, save what the browser shows as `DIR/name` (the README's pictures are taken so:
/// `ANNUAIRE_SCREENSHOTS=docs/img cargo test -p annuaire --test e2e web`).
async fn screenshot(c: &fantoccini::Client, name: &str) {
    if let Some(dir) = std::env::var_os("ANNUAIRE_SCREENSHOTS") {
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(std::path::Path::new(&dir).join(name), png).expect("write the screenshot");
    }
}

/// Wait until `check` gives `Some`, at most 10 s.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn an_analyst_searches_filters_and_reads_the_charts_in_chromium() {
    let Some((_driver, webdriver)) = chromedriver() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", samples().join("PS_LibreAcces").to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config = write_config(dir.path());
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let http = reqwest::Client::new();
        let expected = |q: &'static str| {
            let (http, base) = (http.clone(), server.base.clone());
            async move { call(&http, "GET", &format!("{base}/v1/search?{q}"), Some(ANALYST), None).await.body }
        };
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}
        }))
        .expect("caps");
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        c.goto(&server.base).await.expect("open the page");
        assert_eq!(c.title().await.expect("title"), "annuaire — professionnels de santé");

        // Without a token the page says what it needs.
        let status = c.find(Locator::Id("status")).await.expect("status");
        until("the token message", || async { status.text().await.ok().filter(|t| t.contains("jeton")) }).await;

        // The token, then a name typed letter by letter: live results.
        c.find(Locator::Id("token")).await.expect("token").send_keys(ANALYST).await.expect("type the token");
        let q = c.find(Locator::Id("q")).await.expect("search box");
        q.click().await.expect("focus");
        q.send_keys("marti").await.expect("type a name");
        let want = expected("text=marti&limit=20").await;
        let total = want["total"].as_u64().expect("total");
        assert!(total >= 2, "{want}");
        // The token is kept for the tab only (sessionStorage), never in localStorage for good.
        let stored = c
            .execute(
                "return [localStorage.getItem('annuaire-token'), sessionStorage.getItem('annuaire-token')];",
                vec![],
            )
            .await
            .expect("storage");
        assert_eq!(stored, json!([null, ANALYST]), "where the page keeps the token");
        // Live: every letter may start a search; wait for the one of the whole name, then read its rows.
        let names = until("results for marti", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            let query = body.attr("data-query").await.ok()??;
            let ready = body.attr("data-state").await.ok()?? == "ready";
            let t = c.find(Locator::Id("total")).await.ok()?.text().await.ok()?;
            if !(ready && query.starts_with("text=marti&") && t == total.to_string()) {
                return None;
            }
            let mut names = Vec::new();
            for row in c.find_all(Locator::Css("#results tr")).await.ok()? {
                names.push(row.text().await.ok()?);
            }
            Some(names)
        })
        .await;
        assert!(names.iter().any(|n| n.contains("MARTIN")), "{names:?}");
        assert!(names.iter().any(|n| n.contains("MARTINEZ")), "{names:?}");
        assert_eq!(names.len(), want["hits"].as_array().map(Vec::len).unwrap_or(0));

        // The profession chart shows the facet counts of the current query.
        let bars = c.find_all(Locator::Css("#chart-profession .bar")).await.expect("bars");
        let mut chart = serde_json::Map::new();
        for b in &bars {
            let key = b.attr("data-key").await.expect("key").unwrap_or_default();
            let n: u64 = b.attr("data-count").await.expect("count").unwrap_or_default().parse().expect("number");
            chart.insert(key, json!(n));
        }
        assert_eq!(Value::Object(chart), want["facets"]["profession"]);

        screenshot(&c, "page.png").await;

        // Apply a filter: nurses (60) only, from the profession list (labels from /v1/codes/profession).
        let select = c.find(Locator::Id("profession")).await.expect("select");
        select.select_by_value("60").await.expect("choose nurses");
        let want = expected("text=marti&profession=60&limit=20").await;
        let total = want["total"].as_u64().expect("total");
        assert!(total >= 1);
        until("filtered results", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            let query = body.attr("data-query").await.ok()??;
            let ready = body.attr("data-state").await.ok()?? == "ready";
            let t = c.find(Locator::Id("total")).await.ok()?.text().await.ok()?;
            (ready && query.contains("profession=60") && t == total.to_string()).then_some(())
        })
        .await;
        let rows = c.find_all(Locator::Css("#results tr")).await.expect("rows");
        assert_eq!(rows.len() as u64, total.min(20));
        for row in &rows {
            let text = row.text().await.expect("row");
            assert!(text.contains("Infirmier (60)"), "{text}");
        }
        // Both charts follow the filter: one profession bar with every hit, authority kinds summing to them.
        let bars = c.find_all(Locator::Css("#chart-profession .bar")).await.expect("bars");
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].attr("data-count").await.expect("n"), Some(total.to_string()));
        let mut kinds = serde_json::Map::new();
        for b in c.find_all(Locator::Css("#chart-authority .bar")).await.expect("bars") {
            let key = b.attr("data-key").await.expect("key").unwrap_or_default();
            let n: u64 = b.attr("data-count").await.expect("count").unwrap_or_default().parse().expect("number");
            kinds.insert(key, json!(n));
        }
        assert_eq!(Value::Object(kinds), want["facets"]["authority_kind"]);

        // The map: one square per department, each with the API's count for this query (0 where it has none).
        let mut map = serde_json::Map::new();
        let tiles = c.find_all(Locator::Css("#map .tile")).await.expect("tiles");
        assert_eq!(tiles.len(), 101, "one square per department");
        for t in &tiles {
            let key = t.attr("data-key").await.expect("key").unwrap_or_default();
            let n: u64 = t.attr("data-count").await.expect("count").unwrap_or_default().parse().expect("number");
            if n > 0 {
                map.insert(key, json!(n));
            }
        }
        assert_eq!(Value::Object(map), want["facets"]["department"]);

        // A click on a department filters by it.
        let dep = c.find(Locator::Css("#map .tile:not([data-count='0'])")).await.expect("a department with persons");
        let code = dep.attr("data-key").await.expect("key").unwrap_or_default();
        dep.click().await.expect("click");
        until("the department filter", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            let state = body.attr("data-query").await.ok()??;
            (body.attr("data-state").await.ok()?? == "ready" && state.contains(&format!("department={code}"))).then_some(())
        })
        .await;
        assert_eq!(c.find(Locator::Id("department")).await.expect("dep").prop("value").await.expect("v"), Some(code.clone()));

        // The address holds the view: reloading it shows the same results.
        let url = c.current_url().await.expect("url");
        assert!(url.as_str().contains(&format!("department={code}")) && url.as_str().contains("profession=60"), "{url}");
        let before = c.find(Locator::Css("body")).await.expect("body").attr("data-query").await.expect("q");
        let total_before = c.find(Locator::Id("total")).await.expect("total").text().await.expect("text");
        c.goto(url.as_str()).await.expect("reload the shared address");
        until("the same view after a reload", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            let ready = body.attr("data-state").await.ok()?? == "ready";
            let q = body.attr("data-query").await.ok()?;
            let t = c.find(Locator::Id("total")).await.ok()?.text().await.ok()?;
            (ready && q == before && t == total_before).then_some(())
        })
        .await;

        // A row opens the professional's card, with what GET /v1/professionals/{id} gives.
        let row = c.find(Locator::Css("#results tr")).await.expect("a row");
        let idnat = row.attr("data-idnat").await.expect("idnat").unwrap_or_default();
        row.click().await.expect("open the card");
        let card = until("the card", || async {
            let body = c.find(Locator::Id("card-body")).await.ok()?;
            (body.attr("data-idnat").await.ok()?? == idnat).then_some(body)
        })
        .await;
        let record =
            call(&http, "GET", &format!("{}/v1/professionals/{idnat}", server.base), Some(ANALYST), None).await.body;
        let text = card.text().await.expect("card text");
        let exercices = record["exercices"].as_array().cloned().unwrap_or_default();
        assert_eq!(c.find_all(Locator::Css("#card-body section.exercice")).await.expect("ex").len(), exercices.len());
        for e in &exercices {
            assert!(text.contains(e["profession"]["label"].as_str().unwrap_or("?")), "{text}");
            for a in e["activities"].as_array().into_iter().flatten() {
                if let Some(name) = a["structure"]["name"].as_str() {
                    assert!(text.contains(name), "{name} in {text}");
                }
            }
        }
        screenshot(&c, "card.png").await;
        let title = c.find(Locator::Id("card-title")).await.expect("title").text().await.expect("title text");
        assert!(title.contains(exercices[0]["family_name"].as_str().unwrap_or("?")), "{title}");
        c.find(Locator::Id("card-close")).await.expect("close").click().await.expect("close the card");

        // The CSV download has as many rows as the export of the same filters.
        c.find(Locator::Id("download-csv")).await.expect("csv").click().await.expect("download");
        let rows: usize = until("the download", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            body.attr("data-downloaded-rows").await.ok()??.parse().ok()
        })
        .await;
        let export = http
            .get(format!("{}/v1/export?format=csv&profession=60&department={code}", server.base))
            .bearer_auth(ANALYST)
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("csv");
        assert_eq!(rows, export.lines().count() - 1, "rows of the export");
        assert!(rows > 0);
        // … and as `annuaire export` writes for them.
        let out_file = dir.path().join("export.csv");
        let out = annuaire(
            dir.path(),
            &["export", "--format", "csv", "--out", out_file.to_str().expect("path"), "--profession", "60", "--department", &code],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(rows, std::fs::read_to_string(&out_file).expect("csv").lines().count() - 1);
        c.close().await.expect("close");
    });
}

/// The operators' page (`/ops`): a held night with its reason and segments, the runs as a timeline, the quality
/// report and usage; approving from the page promotes the held generation.
#[test]
fn an_operator_reads_the_held_night_and_approves_it_from_the_page_in_chromium() {
    let Some((_driver, webdriver)) = chromedriver() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = annuaire(dir.path(), &["sync", "--source", samples().join("PS_LibreAcces").to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The next night loses 30 % of the persons: held.
    let smaller = crate::common::sample_copy(&dir.path().join("smaller"), |_, l| {
        let id = l.split('|').nth(1).unwrap_or("");
        id.bytes().map(u64::from).sum::<u64>() % 10 >= 3
    });
    let out = annuaire(dir.path(), &["sync", "--source", smaller.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let config = write_config(dir.path());
    let server = start(dir.path(), &config);
    rt().block_on(async {
        let http = reqwest::Client::new();
        let generations = call(&http, "GET", &format!("{}/v1/generations", server.base), Some(OPS), None).await.body;
        let held = generations["held"]["generation"].as_i64().expect("a held generation");
        let runs = call(&http, "GET", &format!("{}/v1/runs?limit=60", server.base), Some(OPS), None).await.body;
        let run_count = runs["runs"].as_array().map(Vec::len).expect("runs");
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}
        }))
        .expect("caps");
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        c.goto(&format!("{}/ops", server.base)).await.expect("open the page");
        assert_eq!(c.title().await.expect("title"), "annuaire — exploitation");
        let token = c.find(Locator::Id("token")).await.expect("token");
        token.send_keys(OPS).await.expect("type the token");
        until("the page with the held night", || async {
            let body = c.find(Locator::Css("body")).await.ok()?;
            (body.attr("data-state").await.ok()?? == "ready").then_some(())
        })
        .await;
        screenshot(&c, "ops.png").await;
        let shown = c.find(Locator::Id("held-generation")).await.expect("held").text().await.expect("text");
        assert_eq!(shown, held.to_string());
        let reason = c.find(Locator::Id("held-reason")).await.expect("reason").text().await.expect("text");
        assert!(reason.contains("deletions"), "{reason}");
        assert!(!c.find_all(Locator::Css("#held-segments tr")).await.expect("segments").is_empty());
        let marks = c.find_all(Locator::Css("#timeline circle.run")).await.expect("timeline");
        assert_eq!(marks.len(), run_count, "one mark per run");
        assert_eq!(marks.last().expect("mark").attr("data-status").await.expect("status").as_deref(), Some("held"));
        assert!(!c.find_all(Locator::Css("#quality-warnings li")).await.expect("warnings").is_empty());
        assert!(!c.find_all(Locator::Css("#usage tr")).await.expect("usage").is_empty(), "the page's own calls");

        // Approve from the page, without the deletions.
        c.find(Locator::Id("exclude-delete")).await.expect("box").click().await.expect("check");
        c.find(Locator::Id("approve")).await.expect("button").click().await.expect("approve");
        until("the approved generation served", || async {
            let served = c.find(Locator::Id("served")).await.ok()?.text().await.ok()?;
            (served == held.to_string()).then_some(())
        })
        .await;
        let generations = call(&http, "GET", &format!("{}/v1/generations", server.base), Some(OPS), None).await.body;
        assert_eq!((generations["served"].as_i64(), &generations["held"]), (Some(held), &Value::Null));
        let status = c.find(Locator::Id("status")).await.expect("status").text().await.expect("text");
        assert!(status.contains(&held.to_string()), "{status}");
        c.close().await.expect("close");
    });
}
