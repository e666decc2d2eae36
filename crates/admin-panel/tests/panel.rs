//! End-to-end: the real `admin-panel` binary over a real SQLite store, driven over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use store::Store;
use store::audit::{Finding, NewAuditRun};

const BIN: &str = env!("CARGO_BIN_EXE_admin-panel");
const EVIL: &str = "<img src=x onerror=alert(1)>";

/// A running panel; killed on drop.
struct Panel {
    child: Child,
    base: String,
}

impl Drop for Panel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Path, users: Option<&Path>) -> Panel {
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--db"]).arg(db);
    cmd.args(["--config"]).arg(db.parent().expect("dir"));
    if let Some(u) = users {
        cmd.arg("--users").arg(u);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
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

fn hash(password: &str) -> String {
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

fn finding(id: &str, name: &str, missing: &[&str], public: bool) -> Value {
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
fn store_run(store: &mut Store, started: &str, findings: Vec<Value>) -> i64 {
    let with_gaps: Vec<&Value> = findings
        .iter()
        .filter(|f| !f["missing_required"].as_array().expect("array").is_empty())
        .collect();
    let missing: usize = with_gaps
        .iter()
        .map(|f| f["missing_required"].as_array().expect("array").len())
        .sum();
    let coverage = 100.0 * (findings.len() - with_gaps.len()) as f64 / findings.len() as f64;
    let results = json!({
        "findings": findings,
        "summary": {
            "coverage_category": "BD Customer", "coverage_rate": coverage / 100.0,
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

fn seeded_store(dir: &Path) -> std::path::PathBuf {
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

fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("value").to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn login(c: &reqwest::Client, base: &str, user: &str, password: &str) -> reqwest::Response {
    let form = c.get(format!("{base}/login")).send().await.expect("form");
    let csrf = csrf_in(&form.text().await.expect("body"));
    c.post(format!("{base}/login"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn login_dashboard_matches_store_and_names_are_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = dir.path().join("panel-users.json");
    std::fs::write(
        &users,
        json!([
            {"username": "ann", "password_hash": hash("s3cret pass"), "role": "admin"},
            {"username": "vic", "password_hash": hash("viewer pass"), "role": "viewer"}
        ])
        .to_string(),
    )
    .expect("writes users");
    let panel = start(&db, Some(&users));
    let base = &panel.base;
    let c = client();

    // Not logged in: pages send to the login form.
    let r = c.get(format!("{base}/")).send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // A wrong password is refused and recorded.
    let r = login(&c, base, "ann", "wrong").await;
    assert_eq!(r.status(), 401);

    // A login form POST without the CSRF token is refused before the password is looked at.
    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", "ann"), ("password", "s3cret pass")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);

    let r = login(&c, base, "ann", "s3cret pass").await;
    assert_eq!(r.status(), 303, "login succeeds");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // Dashboard figures equal the store's latest run.
    let latest = Store::open(&db)
        .expect("opens")
        .latest_audit_run()
        .expect("reads")
        .expect("a run");
    let d: Value = c
        .get(format!("{base}/api/v1/dashboard"))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    let run = &d["latest_run"];
    assert_eq!(run["run_id"], latest.id);
    assert_eq!(run["groups"], latest.groups);
    assert_eq!(run["groups_with_gaps"], latest.groups_with_gaps);
    assert_eq!(run["missing_required"], latest.missing_required);
    assert_eq!(run["coverage"].as_f64(), latest.coverage);
    assert_eq!(d["platforms"][0]["public_flags"], 1);
    assert_eq!(d["trend"].as_array().expect("trend").len(), 2);
    assert_eq!(d["worst_gaps"][0]["group_name"], "globex-bd");
    assert_eq!(d["changes"]["gaps_closed"][0]["handle"], "ann");
    assert!(d["stale_warning"].is_null(), "the newest run is from today");

    // The page: headers, the figures, and the hostile channel name as text.
    let r = c.get(format!("{base}/")).send().await.expect("page");
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.expect("body");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "escaped name shown"
    );
    assert!(!html.contains(EVIL), "the raw tag never reaches the page");
    assert!(html.contains("<svg"), "the trend chart is rendered");
    assert!(!html.contains("<script"), "no script on the page");

    // CSV of the worst gaps.
    let csv = c
        .get(format!("{base}/?format=csv"))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let body = csv.text().await.expect("body");
    assert!(
        body.lines()
            .nth(1)
            .expect("a row")
            .starts_with("slack,globex-bd,")
    );

    // Logout without the CSRF token is refused; the login trail is in the store and the API.
    let r = c.post(format!("{base}/logout")).send().await.expect("post");
    assert_eq!(r.status(), 403);
    let page: Value = c
        .get(format!("{base}/api/v1/activity/logins?limit=1"))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"][0]["kind"], "login_ok");
    let next = page["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_string();
    let page2: Value = c
        .get(format!(
            "{base}/api/v1/activity/logins?limit=5&cursor={next}"
        ))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    assert_eq!(page2["items"][0]["kind"], "login_failed");
    assert_eq!(page2["items"][0]["username"], "ann");
    assert!(page2["next_cursor"].is_null());

    // A bad limit is a 400 naming the range.
    let r = c
        .get(format!("{base}/api/v1/activity/logins?limit=0"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn failed_logins_are_limited_per_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = dir.path().join("panel-users.json");
    std::fs::write(
        &users,
        json!([{"username": "ann", "password_hash": hash("pw"), "role": "viewer"}]).to_string(),
    )
    .expect("writes users");
    let panel = start(&db, Some(&users));
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            login(&c, &panel.base, "ann", "guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // Even the right password is refused while the limit holds.
    assert_eq!(login(&c, &panel.base, "ann", "pw").await.status(), 429);
}

#[tokio::test]
async fn without_users_pages_are_read_only_and_open_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let panel = start(&db, None);
    let c = client();
    let r = c
        .get(format!("{}/activity", panel.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}/logout", panel.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403, "no POST without a CSRF token");
}

#[test]
fn refuses_a_public_address_without_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--config"])
        .arg(dir.path())
        .arg("--db")
        .arg(dir.path().join("s.db"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no users configured"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("hash-password"),
        "{err}"
    );
}

#[test]
fn a_bad_users_file_is_a_located_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = dir.path().join("panel-users.json");
    std::fs::write(
        &users,
        r#"[{"username": "a", "password_hash": "x", "role": "root"}]"#,
    )
    .expect("writes");
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--users"])
        .arg(&users)
        .arg("--db")
        .arg(dir.path().join("s.db"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[0].role"), "{err}");
}
