//! The panel on PostgreSQL (issue 15): the real tools (slack-audit, add-members, insight-sync,
//! slack-export, tg-admin: the `--demo` sequence) fill a PostgreSQL database and, for comparison,
//! a SQLite file from the same demo workspace; the panel started with `--db postgres://...`
//! serves every page, and its API answers what the panel on the SQLite file answers. The URL's
//! password shows in no page, answer or log.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use store::test_db::url_password;

use common::*;
use serde_json::Value;

const ADMIN: &str = "ann";
const ADMIN_PASSWORD: &str = "s3cret pass";

/// Runs the demo's tool sequence against a fresh demo workspace into `db`.
async fn fill(db: &Path, out: &Path) -> demo::DemoEnv {
    let env = demo::DemoEnv::start().await.expect("demo sim");
    admin_panel::demo_store::fill(&env, db, out)
        .await
        .unwrap_or_else(|e| panic!("the tools fill the store: {e:#}"));
    env
}

/// The panel on `db` with the demo's config (team.json, insight.json) and a users file; its
/// stderr (the log) goes to `log`.
fn start_on(db: &Path, config: &Path, users: &Path, log: &Path) -> Panel {
    spawn(
        Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .arg("--config")
            .arg(config)
            .arg("--users")
            .arg(users)
            .env("RUST_LOG", "debug")
            .env_remove("DATABASE_URL")
            .env_remove("SLACK_TOOLS_DB")
            .env_remove("SLACK_TOOLS_OUT")
            .env_remove("SLACK_TOOLS_CONFIG")
            .stderr(std::fs::File::create(log).expect("log file")),
    )
}

/// `v` without what differs between two runs of the same tools: times, durations, and the
/// run-specific tokens of file names.
fn figures(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !(k.ends_with("_at")
                        || k.contains("time")
                        || k.contains("duration")
                        || k.contains("age")
                        || *k == "at"
                        || *k == "ts"
                        || *k == "message_ts")
                })
                .map(|(k, v)| (k.clone(), figures(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(figures).collect()),
        other => other.clone(),
    }
}

struct Served {
    /// Path -> the page's HTML (status 200 checked).
    pages: Vec<(String, String)>,
    /// Path -> the API's JSON.
    api: Vec<(String, Value)>,
}

/// Logs in as the admin and reads every page and API answer the panel serves from the store.
async fn serve_all(panel: &Panel) -> Served {
    let c = client();
    let b = &panel.base;
    let r = login(&c, b, ADMIN, ADMIN_PASSWORD).await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "login: {}",
        r.status()
    );
    let mut api = Vec::new();
    let mut get = async |path: &str| -> Value {
        let v = get_json(&c, &format!("{b}{path}")).await;
        api.push((path.to_string(), v.clone()));
        v
    };
    let dashboard = get("/api/v1/dashboard").await;
    let run_id = dashboard["latest_run"]["run_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a latest run: {dashboard:#}"));
    let audits = get("/api/v1/audits").await;
    get(&format!("/api/v1/audits/{run_id}")).await;
    let findings = get(&format!("/api/v1/audits/{run_id}/findings")).await;
    let group = findings["items"][0]["group_id"]
        .as_str()
        .or_else(|| findings[0]["group_id"].as_str())
        .unwrap_or_else(|| panic!("a finding with a group: {findings:#}"))
        .to_string();
    get(&format!("/api/v1/groups/slack/{group}")).await;
    get("/api/v1/team").await;
    get("/api/v1/engagement").await;
    get("/api/v1/activity/invites").await;
    get("/api/v1/activity/telegram").await;
    get("/api/v1/activity/notifications").await;
    get("/api/v1/slack").await;
    assert!(
        audits["items"].as_array().is_some_and(|a| a.len() == 2),
        "two audits: {audits:#}"
    );
    let mut pages = Vec::new();
    for path in [
        "/".to_string(),
        "/audits".into(),
        format!("/audits/{run_id}"),
        format!("/groups/slack/{group}"),
        "/team".into(),
        "/engagement".into(),
        "/activity".into(),
        "/slack".into(),
    ] {
        let r = c.get(format!("{b}{path}")).send().await.expect("request");
        assert_eq!(r.status(), 200, "{path}");
        pages.push((path, r.text().await.expect("body")));
    }
    Served { pages, api }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_panel_on_postgres_serves_what_the_tools_wrote_as_on_sqlite() {
    if !tools_built() {
        return;
    }
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let password = url_password(pg.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let users = users_file(dir.path());

    let url = PathBuf::from(pg.url());
    let pg_env = fill(&url, &dir.path().join("out-pg")).await;
    let lite_db = dir.path().join("slack-tools.db");
    let lite_env = fill(&lite_db, &dir.path().join("out-lite")).await;

    let pg_log = dir.path().join("panel-pg.log");
    let on_pg = start_on(&url, &pg_env.config_dir, &users, &pg_log);
    let lite_log = dir.path().join("panel-lite.log");
    let on_lite = start_on(&lite_db, &lite_env.config_dir, &users, &lite_log);
    let served_pg = serve_all(&on_pg).await;
    let served_lite = serve_all(&on_lite).await;

    // The figures the tools' runs give, read through PostgreSQL, are those read from SQLite.
    for ((path, pg_json), (_, lite_json)) in served_pg.api.iter().zip(&served_lite.api) {
        assert_eq!(
            figures(pg_json),
            figures(lite_json),
            "{path}: the panel on PostgreSQL answers otherwise than on SQLite"
        );
    }
    // And they are what the demo sequence did: a change between the two audits, a completed
    // invite run, a delivered notification, a synced insight and a complete export.
    let d = &served_pg.api[0].1;
    assert_eq!(d["trend"].as_array().expect("trend").len(), 2, "{d:#}");
    assert!(
        !d["changes"]["gaps_closed"]
            .as_array()
            .expect("list")
            .is_empty(),
        "{d:#}"
    );
    assert_eq!(d["last_insight_sync"]["status"], "ok", "{d:#}");
    assert_eq!(d["last_export"]["status"], "complete", "{d:#}");
    let by_path = |p: &str| {
        &served_pg
            .api
            .iter()
            .find(|(path, _)| path == p)
            .unwrap_or_else(|| panic!("{p} read"))
            .1
    };
    assert_eq!(
        by_path("/api/v1/activity/invites")["items"][0]["status"],
        "completed"
    );
    assert_eq!(
        by_path("/api/v1/activity/notifications")["items"][0]["status"],
        "delivered"
    );
    let tg = by_path("/api/v1/activity/telegram");
    assert!(
        tg["items"]
            .as_array()
            .is_some_and(|ops| !ops.is_empty() && ops.iter().all(|op| op["status"] == "done")),
        "{tg:#}"
    );
    let team = by_path("/api/v1/team");
    assert!(
        team["items"].as_array().is_some_and(|i| !i.is_empty()),
        "{team:#}"
    );

    // The password is in no page, answer or log line of the panel on PostgreSQL.
    for (path, html) in &served_pg.pages {
        assert!(!html.contains(&password), "the password is on {path}");
    }
    for (path, json) in &served_pg.api {
        assert!(
            !json.to_string().contains(&password),
            "the password is in {path}"
        );
    }
    drop(on_pg);
    let log = std::fs::read_to_string(&pg_log).expect("log");
    assert!(
        !log.contains(&password),
        "the password is in the panel's log"
    );
    pg_env.shutdown().await;
    lite_env.shutdown().await;
}

/// A wrong password: the panel does not start, exits 1 naming the server and database, and the
/// password given shows nowhere.
#[test]
fn a_wrong_password_stops_the_panel_with_the_server_named_and_no_password() {
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let password = url_password(pg.url());
    let wrong_password = "not-the-pw-7391";
    let wrong = pg.url().replacen(&password, wrong_password, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db", &wrong, "--config"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("SLACK_TOOLS_DB")
        .stdin(Stdio::null())
        .output()
        .expect("runs admin-panel");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(pg.name()), "names the database: {stderr}");
    assert!(stderr.contains("127.0.0.1"), "names the host: {stderr}");
    for secret in [wrong_password, password.as_str()] {
        assert!(!stderr.contains(secret), "a password shows: {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
}
