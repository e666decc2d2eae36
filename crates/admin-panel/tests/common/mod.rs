//! Helpers the admin-panel tests share: a seeded store, the real binary on a free port, logins.

#![allow(dead_code)]

pub mod insight;
pub mod slack;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use store::Store;
use store::audit::{Finding, NewAuditRun};

pub const BIN: &str = env!("CARGO_BIN_EXE_admin-panel");
pub const EVIL: &str = "<img src=x onerror=alert(1)>";

/// A running panel; killed on drop.
pub struct Panel {
    pub child: Child,
    pub base: String,
}

impl Drop for Panel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(db: &Path, users: Option<&Path>) -> Panel {
    start_with(db, users, &[])
}

/// [`start`] with extra flags.
pub fn start_with(db: &Path, users: Option<&Path>, extra: &[&str]) -> Panel {
    let mut cmd = Command::new(BIN);
    cmd.args(extra);
    cmd.args(["--listen", "127.0.0.1:0", "--db"]).arg(db);
    cmd.args(["--config"]).arg(db.parent().expect("dir"));
    if let Some(u) = users {
        cmd.arg("--users").arg(u);
    }
    cmd.stderr(Stdio::inherit());
    spawn(&mut cmd)
}

/// Starts the panel `cmd` describes (its stderr already chosen) and waits for its
/// "listening on" line.
pub fn spawn(cmd: &mut Command) -> Panel {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts admin-panel");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reads the ready line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Panel { child, base }
}

pub fn hash(password: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs hash-password");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("writes");
    let out = child.wait_with_output().expect("finishes");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

pub fn finding(id: &str, name: &str, missing: &[&str], public: bool) -> Value {
    json!({
        "platform": "slack", "group_id": id, "group_name": name, "category": "BD Customer",
        "required_present": 3 - missing.len(), "required_total": 3,
        "missing_required": missing, "optional_present": 0, "missing_optional": [],
        "excluded": [], "is_private": !public, "flag_public": public, "flag_rename": false,
        "suggested_name": null, "is_ext_shared": false, "member_count": 5,
        "completeness_pct": 100.0 * (3 - missing.len()) as f64 / 3.0, "error": null
    })
}

/// Stores one run the way slack-audit does: the row, the findings with gaps, the results JSON.
pub fn store_run(store: &mut Store, started: &str, findings: Vec<Value>) -> i64 {
    let with_gaps: Vec<&Value> = findings
        .iter()
        .filter(|f| !f["missing_required"].as_array().expect("array").is_empty())
        .collect();
    let missing: usize = with_gaps
        .iter()
        .map(|f| f["missing_required"].as_array().expect("array").len())
        .sum();
    // A share 0.0-1.0, as slack-audit stores it.
    let coverage = (findings.len() - with_gaps.len()) as f64 / findings.len() as f64;
    let results = json!({
        "findings": findings,
        "summary": {
            "coverage_category": "BD Customer", "coverage_rate": coverage,
            "coverage_groups": findings.len(), "groups": findings.len(),
            "groups_with_gaps": with_gaps.len(), "missing_required_total": missing,
            "per_category": [], "public_count": 0, "rename_count": 0,
            "unmatched_members": [], "errors": 0, "platforms": ["slack"]
        },
        "warnings": []
    });
    let rows: Vec<Finding> = with_gaps
        .iter()
        .map(|f| Finding {
            platform: "slack".into(),
            group_id: f["group_id"].as_str().expect("id").into(),
            group_name: f["group_name"].as_str().expect("name").into(),
            category: "BD Customer".into(),
            required_present: f["required_present"].as_i64().expect("n"),
            required_total: 3,
            missing_required: f["missing_required"]
                .as_array()
                .expect("array")
                .iter()
                .map(|h| h.as_str().expect("handle").to_string())
                .collect(),
            missing_optional: vec![],
            error: None,
        })
        .collect();
    let run = NewAuditRun {
        started_at: started.parse().expect("time"),
        finished_at: None,
        platforms: vec!["slack".into()],
        groups: findings.len() as i64,
        groups_with_gaps: with_gaps.len() as i64,
        missing_required: missing as i64,
        coverage: Some(coverage),
        results,
    };
    store.insert_audit_run(&run, &rows).expect("stores the run")
}

pub fn seeded_store(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("slack-tools.db");
    let mut store = Store::open(&db).expect("opens");
    store_run(
        &mut store,
        "2026-01-01T09:00:00Z",
        vec![
            finding("C1", "acme-bd", &["ann"], false),
            finding("C2", "globex-bd", &[], false),
        ],
    );
    let now = store::format_time(jiff::Timestamp::now());
    store_run(
        &mut store,
        &now,
        vec![
            finding("C1", "acme-bd", &[], false),
            finding("C2", "globex-bd", &["bob", "cy"], true),
            finding("C3", EVIL, &["ann"], false),
        ],
    );
    db
}

pub fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("value").to_string()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn login(
    c: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let form = c.get(format!("{base}/login")).send().await.expect("form");
    let csrf = csrf_in(&form.text().await.expect("body"));
    c.post(format!("{base}/login"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .expect("login")
}

/// A users file with admin `ann` (password `s3cret pass`) and viewer `vic` (`viewer pass`).
pub fn users_file(dir: &Path) -> PathBuf {
    let users = dir.join("panel-users.json");
    std::fs::write(
        &users,
        json!([
            {"username": "ann", "password_hash": hash("s3cret pass"), "role": "admin"},
            {"username": "vic", "password_hash": hash("viewer pass"), "role": "viewer"}
        ])
        .to_string(),
    )
    .expect("writes users");
    users
}

/// Whether the tool binaries the demo runs were built next to this test (cargo builds them with
/// `cargo build --workspace`, which .ci/run does before the tests). Fails under CI=true when not;
/// skips loudly elsewhere.
pub fn tools_built() -> bool {
    let missing: Vec<&str> = admin_panel::demo_store::STEPS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| admin_panel::demo_store::tool_path(name).is_err())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the tools {missing:?} are not built next to the tests: run cargo build --workspace first"
        );
    }
    eprintln!(
        "!!!!! SKIPPED: {missing:?} not built next to the tests (cargo build --workspace); the tools were not run !!!!!"
    );
    false
}

pub async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    let r = c.get(url).send().await.expect("request");
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("json")
}

/// Starts the panel from `cmd` (already given its flags) and waits for its ready line.
pub fn spawn_ready(mut cmd: Command) -> Panel {
    cmd.stderr(Stdio::inherit());
    spawn(&mut cmd)
}

/// The login the Telegram fixture of [`telegram_fixture`] demands with `login: true`.
pub const TG_CODE: &str = "24680";
pub const TG_PASSWORD: &str = "correct horse";

/// The demo Telegram account as a fixture file in `dir`, with `extra` keys merged in
/// (`login`, `flood_wait`).
pub fn telegram_fixture(dir: &Path, extra: Value) -> PathBuf {
    let mut data: Value = serde_json::from_str(telegram::demo::DEMO_FIXTURE).expect("demo fixture");
    for (k, v) in extra.as_object().expect("an object") {
        data[k] = v.clone();
    }
    let path = dir.join("telegram.json");
    std::fs::write(&path, data.to_string()).expect("writes the fixture");
    path
}

/// The fixture `login` section demanding [`TG_CODE`] and then [`TG_PASSWORD`].
pub fn tg_login() -> Value {
    json!({"login": {"code": TG_CODE, "password": TG_PASSWORD, "password_hint": "the usual"}})
}

/// The panel with users (ann admin, vic viewer) whose audit runs read Slack from `sim` (the demo
/// workspace; its config in `config`) and Telegram from `fixture`, the session in
/// `<dir>/telegram.session`. Returns the panel and its store.
pub fn start_for_runs(
    dir: &Path,
    sim_base: &str,
    config: &Path,
    fixture: &Path,
) -> (Panel, PathBuf) {
    let db = dir.join("slack-tools.db");
    let users = users_file(dir);
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--users")
        .arg(&users)
        .env("SLACK_API_BASE", sim_base)
        .env("SLACK_TOKEN", demo::DEMO_TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .env("TELEGRAM_FIXTURE", fixture)
        .env("TELEGRAM_SESSION", dir.join("telegram.session"))
        .env_remove("TELEGRAM_API_ID")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB");
    (spawn_ready(cmd), db)
}

/// Polls `/api/v1/run` until `done` holds for it (at most `secs` seconds).
pub async fn wait_run(
    c: &reqwest::Client,
    base: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let s = get_json(c, &format!("{base}/api/v1/run")).await;
        if done(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run state never came: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
