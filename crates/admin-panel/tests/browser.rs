//! A real headless Chromium (Debian's `chromium` + `chromium-driver`) drives the panel through
//! WebDriver: log in, read the dashboard, check escaping, the console, roles and CSRF, and save a
//! screenshot of every page under the target dir (`CARGO_TARGET_TMPDIR/admin-panel-screens`).
//!
//! Without chromium this test fails under CI=true and skips loudly elsewhere.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use store::Store;

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver's log endpoint (not in W3C WebDriver, so not in fantoccini's API).
#[derive(Debug)]
struct BrowserLog;
impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let driver = PathBuf::from("/usr/bin/chromedriver");
    match chromium {
        Some(c) if driver.exists() => Some((c, driver)),
        _ => None,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start_browser(chromium: &PathBuf, driver: &PathBuf) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts chromedriver");
    let driver = Driver(child);
    let mut caps = Capabilities::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1100"]
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen.
    for attempt in 0.. {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if attempt < 50 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a chromium session through chromedriver: {e}"),
        }
    }
    unreachable!()
}

async fn screenshot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-panel-screens");
    std::fs::create_dir_all(&dir).expect("screens dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("writes screenshot");
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn log_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    c.find(Locator::Id("username"))
        .await
        .expect("field")
        .send_keys(user)
        .await
        .expect("types");
    c.find(Locator::Id("password"))
        .await
        .expect("field")
        .send_keys(password)
        .await
        .expect("types");
    c.find(Locator::Id("login"))
        .await
        .expect("button")
        .click()
        .await
        .expect("clicks");
}

/// POSTs from the page with fetch (the page itself runs no script; WebDriver's script is not
/// subject to the page's CSP) and answers the status.
async fn post_status(c: &Client, path: &str, with_csrf: bool) -> i64 {
    let script = format!(
        "const f = document.querySelector('input[name=csrf]');
         const body = new URLSearchParams();
         if ({with_csrf} && f) body.set('csrf', f.value);
         return fetch('{path}', {{method: 'POST', body, redirect: 'manual'}}).then(r => r.status);"
    );
    c.execute(&script, vec![])
        .await
        .expect("script runs")
        .as_i64()
        .expect("a status")
}

/// Waits (up to 10 s) until the browser is at a URL `ok` accepts: a click that navigates may
/// return before the new page is there.
async fn wait_for_url(c: &Client, ok: impl Fn(&url::Url) -> bool) -> url::Url {
    for _ in 0..100 {
        let url = c.current_url().await.expect("url");
        if ok(&url) {
            // The document of that URL is complete once its readyState says so.
            let ready = c
                .execute("return document.readyState", vec![])
                .await
                .expect("script runs");
            if ready == "complete" {
                return url;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the browser did not reach the expected page; it is at {}",
        c.current_url().await.expect("url")
    );
}

/// The browser test's chromium and chromedriver, or `None` after saying it skips (a failure
/// under CI=true).
fn tools_or_skip() -> Option<(PathBuf, PathBuf)> {
    let found = tools();
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "chromium and chromium-driver must be installed in CI (apt-get install -y chromium chromium-driver)"
            );
        }
        eprintln!(
            "!!!!! SKIPPED: chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver); the panel was not checked in a browser !!!!!"
        );
    }
    found
}

/// Audits in a browser: open the newest run from the list, filter its findings to gaps only
/// with the form, download the CSV the page links and compare it with the store, open a group.
#[tokio::test]
async fn chromium_filters_a_runs_findings_and_downloads_their_csv() {
    let Some((chromium, driver)) = tools_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = users_file(dir.path());
    let panel = start(&db, Some(&users));
    let base = panel.base.clone();
    let (_driver, c) = start_browser(&chromium, &driver).await;
    // Tall enough that the screenshots show the findings below the summary.
    c.set_window_size(1280, 1700).await.expect("resizes");
    log_in(&c, &base, "vic", "viewer pass").await;

    let store = Store::open(&db).expect("opens");
    let latest = store.latest_audit_run().expect("reads").expect("run");
    c.goto(&format!("{base}/audits")).await.expect("audits");
    screenshot(&c, "audits").await;
    c.find(Locator::Css(&format!(
        "#runs a[href='/audits/{}']",
        latest.id
    )))
    .await
    .expect("the run is listed")
    .click()
    .await
    .expect("clicks");
    let run_path = format!("/audits/{}", latest.id);
    wait_for_url(&c, |u| u.path() == run_path).await;
    assert_eq!(
        text(&c, "#run-summary [data-field=groups_with_gaps]").await,
        latest.groups_with_gaps.to_string()
    );
    let all_rows = c
        .find_all(Locator::Css("#findings tbody tr"))
        .await
        .expect("rows")
        .len();
    assert_eq!(
        all_rows as i64, latest.groups,
        "every group before filtering"
    );

    // Gaps only, through the form (a plain GET: no script involved).
    c.find(Locator::Css("#filters input[name=gaps]"))
        .await
        .expect("checkbox")
        .click()
        .await
        .expect("ticks");
    c.find(Locator::Id("apply-filters"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submits");
    let url = wait_for_url(&c, |u| u.query().unwrap_or("").contains("gaps=1")).await;
    assert_eq!(url.path(), run_path);
    let stored = store.audit_findings(latest.id).expect("findings");
    let mut rows = Vec::new();
    for tr in c
        .find_all(Locator::Css("#findings tbody tr"))
        .await
        .expect("rows")
    {
        rows.push(tr.attr("data-group-id").await.expect("attr").expect("id"));
    }
    let mut want: Vec<String> = stored.iter().map(|f| f.group_id.clone()).collect();
    let mut shown = rows.clone();
    want.sort();
    shown.sort();
    assert_eq!(shown, want, "gaps only = the store's findings with gaps");
    screenshot(&c, "audit-run").await;

    // Download the CSV the page links (fetched by the browser, with its session).
    let href = c
        .find(Locator::Id("findings-csv"))
        .await
        .expect("csv link")
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    let csv_text = c
        .execute(
            "return fetch(arguments[0]).then(r => r.text());",
            vec![json!(href)],
        )
        .await
        .expect("downloads")
        .as_str()
        .expect("text")
        .to_string();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |n: &str| header.iter().position(|h| h == n).expect(n);
    let mut from_csv: Vec<(String, String, Vec<String>)> = reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (
                r[col("group_id")].to_string(),
                r[col("group_name")].to_string(),
                r[col("missing_required")]
                    .split(';')
                    .map(str::to_string)
                    .collect(),
            )
        })
        .collect();
    from_csv.sort();
    let mut from_store: Vec<(String, String, Vec<String>)> = stored
        .iter()
        .map(|f| {
            (
                f.group_id.clone(),
                f.group_name.clone(),
                f.missing_required.clone(),
            )
        })
        .collect();
    from_store.sort();
    assert_eq!(from_csv, from_store);

    // A finding links its group's history.
    c.find(Locator::Css("#findings a[href='/groups/slack/C2']"))
        .await
        .expect("group link")
        .click()
        .await
        .expect("clicks");
    wait_for_url(&c, |u| u.path() == "/groups/slack/C2").await;
    let events = text(&c, "#group-events").await;
    assert!(events.contains("bob went missing"), "{events}");
    screenshot(&c, "group").await;

    let log = c.issue_cmd(BrowserLog).await.expect("browser log");
    let severe: Vec<&Value> = log
        .as_array()
        .expect("log entries")
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "console errors: {severe:?}");
    c.close().await.expect("closes the browser");
}

#[tokio::test]
async fn chromium_logs_in_reads_the_dashboard_and_is_refused_where_it_should_be() {
    let Some((chromium, driver)) = tools() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "chromium and chromium-driver must be installed in CI (apt-get install -y chromium chromium-driver)"
            );
        }
        eprintln!(
            "!!!!! SKIPPED: chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver); the panel was not checked in a browser !!!!!"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = users_file(dir.path());
    let panel = start(&db, Some(&users));
    let base = panel.base.clone();
    let (_driver, c) = start_browser(&chromium, &driver).await;

    screenshot_login(&c, &base).await;
    log_in(&c, &base, "ann", "s3cret pass").await;
    assert_eq!(c.current_url().await.expect("url").path(), "/");

    // The figures on the page are the store's latest run.
    let latest = Store::open(&db)
        .expect("opens")
        .latest_audit_run()
        .expect("reads")
        .expect("run");
    assert_eq!(
        text(&c, "#latest-run [data-field=groups]").await,
        latest.groups.to_string()
    );
    assert_eq!(
        text(&c, "#latest-run [data-field=groups_with_gaps]").await,
        latest.groups_with_gaps.to_string()
    );
    assert_eq!(
        text(&c, "#latest-run [data-field=missing_required]").await,
        latest.missing_required.to_string()
    );
    assert_eq!(
        text(&c, "#latest-run [data-field=coverage]").await,
        format!("{:.1}%", latest.coverage.expect("coverage") * 100.0)
    );
    // The hostile channel name is text in a cell, not an element.
    let gaps = text(&c, "#worst-gaps").await;
    assert!(gaps.contains(EVIL), "{gaps}");
    assert!(
        c.find_all(Locator::Css("main img"))
            .await
            .expect("query")
            .is_empty()
    );
    screenshot(&c, "dashboard").await;

    c.goto(&format!("{base}/activity")).await.expect("activity");
    let events = text(&c, "#panel-events").await;
    assert!(
        events.contains("login_ok") && events.contains("ann"),
        "{events}"
    );
    c.find(Locator::Css("#end-others button"))
        .await
        .expect("admins see the action");
    screenshot(&c, "activity").await;

    // No console errors on any page so far (a CSP violation from an injected script would be one).
    let log = c.issue_cmd(BrowserLog).await.expect("browser log");
    let severe: Vec<&Value> = log
        .as_array()
        .expect("log entries")
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "console errors: {severe:?}");

    // A POST without the CSRF token is refused even for an admin.
    assert_eq!(post_status(&c, "/sessions/end-others", false).await, 403);
    assert_eq!(
        post_status(&c, "/sessions/end-others", true).await,
        0,
        "opaque redirect = accepted"
    );

    // Log out with the button, log in as a viewer: no action button, and the POST is a 403.
    c.find(Locator::Css(".who button"))
        .await
        .expect("logout")
        .click()
        .await
        .expect("clicks");
    assert_eq!(c.current_url().await.expect("url").path(), "/login");
    log_in(&c, &base, "vic", "viewer pass").await;
    c.goto(&format!("{base}/activity")).await.expect("activity");
    assert!(
        c.find_all(Locator::Css("#end-others"))
            .await
            .expect("query")
            .is_empty()
    );
    assert_eq!(post_status(&c, "/sessions/end-others", true).await, 403);

    c.close().await.expect("closes the browser");
}

async fn screenshot_login(c: &Client, base: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    screenshot(c, "login").await;
}
