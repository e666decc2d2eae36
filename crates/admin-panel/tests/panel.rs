//! End-to-end: the real `admin-panel` binary over a real SQLite store, driven over HTTP.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};
use store::Store;

#[tokio::test]
async fn login_dashboard_matches_store_and_names_are_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = users_file(dir.path());
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
    let r = c
        .get(format!("{}/nope", panel.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Back to the dashboard")
    );
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

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let mut panel = start(&db, None);
    let pid = panel.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = panel.child.wait().expect("exits");
    assert_eq!(status.code(), Some(0), "a clean stop on SIGTERM");
}

#[tokio::test]
async fn a_viewer_is_refused_admin_actions_with_a_valid_csrf_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = users_file(dir.path());
    let panel = start(&db, Some(&users));
    let c = client();
    assert_eq!(
        login(&c, &panel.base, "vic", "viewer pass").await.status(),
        303
    );
    let page = c
        .get(format!("{}/activity", panel.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(!page.contains("end-others"), "no admin button for a viewer");
    let csrf = csrf_in(&page);
    let r = c
        .post(format!("{}/sessions/end-others", panel.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    // The same request from an admin is accepted and recorded.
    let a = client();
    assert_eq!(
        login(&a, &panel.base, "ann", "s3cret pass").await.status(),
        303
    );
    let page = a
        .get(format!("{}/activity", panel.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    let r = a
        .post(format!("{}/sessions/end-others", panel.base))
        .form(&[("csrf", csrf_in(&page).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    // The viewer's session was one of the others.
    let r = c.get(format!("{}/", panel.base)).send().await.expect("get");
    assert_eq!(r.status(), 303, "the viewer was logged out");
    let events = get_json(&a, &format!("{}/api/v1/activity/logins", panel.base)).await;
    assert_eq!(events["items"][0]["kind"], "action");
    assert_eq!(events["items"][0]["detail"], "ended 1 other sessions");
}

#[tokio::test]
async fn behind_a_proxy_cookies_are_secure_and_the_forwarded_address_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let users = users_file(dir.path());
    let panel = start_with(&db, Some(&users), &["--https-proxy"]);
    let c = client();
    let form = c
        .get(format!("{}/login", panel.base))
        .send()
        .await
        .expect("form");
    let cookie = form.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // reqwest keeps Secure cookies off plain http, so the cookie is sent by hand.
    let token = cookie.split(';').next().expect("pair").to_string();
    let csrf = csrf_in(&form.text().await.expect("body"));
    let r = c
        .post(format!("{}/login", panel.base))
        .header("cookie", &token)
        .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
        .form(&[("username", "ann"), ("password", "nope"), ("csrf", &csrf)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 401);
    let events = Store::open(&db)
        .expect("opens")
        .panel_events(None, 1)
        .expect("reads");
    assert_eq!(events[0].kind, "login_failed");
    assert_eq!(
        events[0].address, "203.0.113.9",
        "the address the proxy added last"
    );
}

#[tokio::test]
async fn the_dashboard_warns_when_the_newest_audit_is_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    // The newest seeded run is from now: 0 days old, so only a limit of 0 days makes it stale.
    let fresh = start(&db, None);
    let stale = start_with(&db, None, &["--stale-days", "0"]);
    let c = client();
    let d = get_json(&c, &format!("{}/api/v1/dashboard", fresh.base)).await;
    assert!(d["stale_warning"].is_null());
    let d = get_json(&c, &format!("{}/api/v1/dashboard", stale.base)).await;
    let w = d["stale_warning"].as_str().expect("a warning");
    assert!(w.contains("0 days old"), "{w}");
    let html = c
        .get(format!("{}/", stale.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(html.contains("id=\"stale-warning\""));
}

/// A run still going (from the panel or cron) has no results yet: the dashboard keeps showing the
/// newest finished run and its trend, not a row of zeros.
#[tokio::test]
async fn a_run_in_progress_is_not_the_dashboards_latest_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let finished = Store::open(&db)
        .expect("opens")
        .latest_audit_run()
        .expect("reads")
        .expect("a run");
    let running = Store::open(&db)
        .expect("opens")
        .begin_audit_run(jiff::Timestamp::now(), "cli")
        .expect("begins");
    assert!(running > finished.id);
    let panel = start(&db, None);
    let d = get_json(&client(), &format!("{}/api/v1/dashboard", panel.base)).await;
    assert_eq!(d["latest_run"]["run_id"], finished.id);
    assert_eq!(d["latest_run"]["groups"], finished.groups);
    assert_eq!(d["trend"].as_array().expect("trend").len(), 2, "{d}");
}

/// The dashboard's audit figures are kept between requests; a run that finishes afterwards (cron's
/// slack-audit writing to the same file) is the latest run of the very next answer.
#[tokio::test]
async fn a_run_finished_after_the_dashboard_was_served_is_the_next_answers_latest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded_store(dir.path());
    let panel = start(&db, None);
    let c = client();
    let url = format!("{}/api/v1/dashboard", panel.base);
    let before = get_json(&c, &url).await;
    assert_eq!(before["trend"].as_array().expect("trend").len(), 2);
    let newer = common::store_run(
        &mut Store::open(&db).expect("opens"),
        "2030-01-01T09:00:00Z",
        vec![common::finding("C77", "acme-newer", &["dave"], false)],
    );
    let after = get_json(&c, &url).await;
    assert_eq!(after["latest_run"]["run_id"], newer, "{after}");
    assert_eq!(after["trend"].as_array().expect("trend").len(), 3);
    assert_eq!(
        after["worst_gaps"][0]["group_name"], "acme-newer",
        "{after}"
    );
}
