//! Audit runs from the panel, end to end: the real binary, a real slack-sim (the demo workspace)
//! on loopback, a Telegram fixture that demands a login code and 2FA password, the real store.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use store::Store;
use store::audit::AuditRunStatus;

async fn logged_in(base: &str, user: &str, password: &str) -> (reqwest::Client, String) {
    let c = client();
    let r = login(&c, base, user, password).await;
    assert_eq!(r.status(), 303, "{user} logs in");
    let page = c.get(format!("{base}/run")).send().await.expect("run page");
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.expect("body"));
    (c, csrf)
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(form).send().await.expect("post")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_logs_telegram_in_from_the_page_and_the_run_lands_in_the_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = demo::DemoEnv::start().await.expect("demo sim");
    let fixture = telegram_fixture(dir.path(), tg_login());
    let (panel, db) = start_for_runs(dir.path(), &env.sim.base_url(), &env.config_dir, &fixture);
    let base = &panel.base;

    // A viewer sees the run page but no button, and is refused the POSTs (valid CSRF token).
    let (vic, vic_csrf) = logged_in(base, "vic", "viewer pass").await;
    let html = vic
        .get(format!("{base}/run"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(!html.contains("run-audit"), "no run button for a viewer");
    for path in ["/run", "/api/v1/run"] {
        let r = post(&vic, &format!("{base}{path}"), &[("csrf", &vic_csrf)]).await;
        assert_eq!(r.status(), 403, "viewer POST {path}");
    }

    let (ann, csrf) = logged_in(base, "ann", "s3cret pass").await;
    // Without the CSRF token an admin is refused too, and nothing starts.
    let r = post(&ann, &format!("{base}/api/v1/run"), &[]).await;
    assert_eq!(r.status(), 403);
    let s = get_json(&ann, &format!("{base}/api/v1/run")).await;
    assert_eq!(s["active"], Value::Null);
    assert_eq!(s["telegram_login"], Value::Null);

    // The account is not logged in: the start asks for the code instead of starting.
    let r = post(&ann, &format!("{base}/api/v1/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409);
    let s: Value = r.json().await.expect("json");
    assert_eq!(s["telegram_login"], "code", "{s}");
    assert_eq!(s["active"], Value::Null);
    let html = ann
        .get(format!("{base}/run"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        html.contains("id=\"tg-code\""),
        "the page asks for the code"
    );

    // A wrong code is said so and asked again; what was typed is not shown back.
    let r = post(
        &ann,
        &format!("{base}/run/telegram"),
        &[("csrf", &csrf), ("code", "99911")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("body");
    assert!(html.contains("Wrong or expired code"), "{html}");
    assert!(html.contains("id=\"tg-code\"") && !html.contains("99911"));

    let r = post(
        &ann,
        &format!("{base}/run/telegram"),
        &[("csrf", &csrf), ("code", TG_CODE)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let html = ann
        .get(format!("{base}/run"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        html.contains("type=\"password\" id=\"tg-password\"") && html.contains("the usual"),
        "the page asks for the 2FA password with its hint"
    );
    assert!(html.contains("autocomplete=\"off\""));

    let r = post(
        &ann,
        &format!("{base}/run/telegram"),
        &[("csrf", &csrf), ("password", "wrong horse")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("body");
    assert!(html.contains("Wrong password") && !html.contains("wrong horse"));
    assert!(html.contains("id=\"tg-password\""), "asked again");

    // The right password logs in, saves the session like tg-admin login, and starts the run.
    let r = post(
        &ann,
        &format!("{base}/run/telegram"),
        &[("csrf", &csrf), ("password", TG_PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let session = dir.path().join("telegram.session");
    let meta = std::fs::metadata(&session).expect("the session file is written");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let saved = std::fs::read_to_string(&session).expect("reads");
    assert!(!saved.contains(TG_CODE) && !saved.contains(TG_PASSWORD));

    let s = wait_run(&ann, base, 60, |s| {
        s["active"].is_null() && !s["last"].is_null()
    })
    .await;
    let last = &s["last"];
    assert_eq!(last["status"], "finished", "{s}");
    assert_eq!(last["started_by"], "panel:ann");
    let run_id = last["run_id"].as_i64().expect("a run id");

    // In the history like a cron run, started by panel:ann, with both platforms.
    let store = Store::open(&db).expect("opens");
    let row = store.audit_run(run_id).expect("reads").expect("the row");
    assert_eq!(row.started_by.as_deref(), Some("panel:ann"));
    assert_eq!(row.status, AuditRunStatus::Finished);
    let mut platforms = row.platforms.clone();
    platforms.sort();
    assert_eq!(platforms, ["slack", "telegram"]);
    assert_eq!(
        store.latest_audit_run().expect("reads").map(|r| r.id),
        Some(run_id)
    );
    let d = get_json(&ann, &format!("{base}/api/v1/dashboard")).await;
    assert_eq!(d["latest_run"]["run_id"], run_id, "the dashboard shows it");

    // The actions are recorded; the code and password are nowhere in the store.
    let events = get_json(&ann, &format!("{base}/api/v1/activity/logins?limit=50")).await;
    let details: Vec<String> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["username"] == "ann")
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect();
    for wanted in [
        "telegram login started for an audit run",
        "telegram login: wrong code",
        "telegram login: wrong password",
        "telegram login done",
        "started an audit run",
        &format!("audit run {run_id} finished"),
    ] {
        assert!(details.iter().any(|d| d == wanted), "{wanted}: {details:?}");
    }
    drop(store);
    let bytes = std::fs::read(&db).expect("reads the db");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(TG_PASSWORD) && !text.contains("wrong horse"));

    // With the session saved, the next run starts at once (no login asked).
    let r = post(&ann, &format!("{base}/api/v1/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 202);
    let s = wait_run(&ann, base, 60, |s| {
        s["active"].is_null() && s["last"]["run_id"].as_i64() != Some(run_id)
    })
    .await;
    assert_eq!(s["last"]["status"], "finished", "{s}");
    drop(panel);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time_and_sigterm_marks_a_running_one_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = demo::DemoEnv::start().await.expect("demo sim");
    // Telegram asks the run to wait 30 s once: the run is going on long enough to look at.
    let fixture = telegram_fixture(
        dir.path(),
        json!({"flood_wait": [{"op": "participants", "seconds": 30, "times": 1}]}),
    );
    // Left by earlier processes: a panel run (its panel was killed) and a cron run going on now.
    let db = dir.path().join("slack-tools.db");
    let (old_panel, cron) = {
        let mut store = Store::open(&db).expect("opens");
        let now = jiff::Timestamp::now();
        (
            store.begin_audit_run(now, "panel:old").expect("begin"),
            store.begin_audit_run(now, "cli").expect("begin"),
        )
    };
    let (mut panel, db2) =
        start_for_runs(dir.path(), &env.sim.base_url(), &env.config_dir, &fixture);
    assert_eq!(db, db2);
    let status = |id| {
        Store::open(&db)
            .expect("opens")
            .audit_run(id)
            .expect("reads")
            .expect("row")
            .status
    };
    assert_eq!(status(old_panel), AuditRunStatus::Interrupted);
    assert_eq!(
        status(cron),
        AuditRunStatus::Running,
        "a live cron run is left alone"
    );

    let base = panel.base.clone();
    let (ann, csrf) = logged_in(&base, "ann", "s3cret pass").await;
    let r = post(&ann, &format!("{base}/api/v1/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 202);
    let s: Value = r.json().await.expect("json");
    assert_eq!(s["active"]["started_by"], "panel:ann", "{s}");

    // Progress: Slack is read, Telegram waits; the shape the page polls.
    let s = wait_run(&ann, &base, 30, |s| {
        s["active"]["phase"] == "scanning" && s["active"]["groups_done"].as_u64() > Some(0)
    })
    .await;
    let a = &s["active"];
    assert!(a["started_at"].is_string());
    assert!(a["groups_total"].as_u64().expect("total") >= a["groups_done"].as_u64().expect("done"));
    assert_eq!(s["last"], Value::Null);
    assert_eq!(s["telegram_login"], Value::Null);

    // The page reloads itself while the run goes (no script).
    let r = ann.get(format!("{base}/run")).send().await.expect("page");
    assert_eq!(r.headers()["refresh"], "2");
    let html = r.text().await.expect("body");
    assert!(html.contains("id=\"run-progress\"") && !html.contains("<script"));

    // A second start is told one is running: 409 from the API, a message on the page.
    let r = post(&ann, &format!("{base}/api/v1/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"]
            .as_str()
            .expect("error")
            .contains("already going on")
    );
    let r = post(&ann, &format!("{base}/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.expect("body").contains("already going on"));

    // The run's row says running; SIGTERM stops the panel cleanly and marks it interrupted.
    let running: Vec<i64> = Store::open(&db)
        .expect("opens")
        .list_audit_runs(10)
        .expect("list")
        .into_iter()
        .filter(|r| r.started_by.as_deref() == Some("panel:ann"))
        .map(|r| {
            assert_eq!(r.status, AuditRunStatus::Running);
            r.id
        })
        .collect();
    assert_eq!(running.len(), 1);
    let killed = Command::new("kill")
        .args(["-TERM", &panel.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = panel.child.try_wait().expect("waits") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the panel did not stop within 15 s (the run waits 30 s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(exit.code(), Some(0));
    assert_eq!(status(running[0]), AuditRunStatus::Interrupted);
    assert_eq!(status(cron), AuditRunStatus::Running);
    env.shutdown().await;
}

/// In --demo a run audits the sim the demo history came from: after add-members closed gaps
/// there, a run from the panel shows no gap reopened (a fresh sim would reopen them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_audits_the_demo_sim_the_history_came_from() {
    if !tools_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let users = users_file(dir.path());
    let mut cmd = Command::new(BIN);
    cmd.args(["--demo", "--listen", "127.0.0.1:0", "--users"])
        .arg(&users)
        .current_dir(dir.path())
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOKEN")
        .env_remove("SLACK_API_BASE")
        .env_remove("TELEGRAM_FIXTURE");
    let panel = spawn_ready(cmd);
    let base = &panel.base;
    let (ann, csrf) = logged_in(base, "ann", "s3cret pass").await;
    let before = get_json(&ann, &format!("{base}/api/v1/dashboard")).await;
    let r = post(&ann, &format!("{base}/api/v1/run"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 202);
    let s = wait_run(&ann, base, 60, |s| {
        s["active"].is_null() && !s["last"].is_null()
    })
    .await;
    assert_eq!(s["last"]["status"], "finished", "{s}");
    let run_id = s["last"]["run_id"].as_i64().expect("run id");
    let after = get_json(&ann, &format!("{base}/api/v1/dashboard")).await;
    assert_eq!(after["latest_run"]["run_id"], run_id);
    assert_eq!(
        after["latest_run"]["groups_with_gaps"], before["latest_run"]["groups_with_gaps"],
        "the same workspace state as the demo's last run"
    );
    assert_eq!(after["changes"]["gaps_opened"], json!([]));
    let row = Store::open(&dir.path().join("output/slack-tools-demo.db"))
        .expect("opens")
        .audit_run(run_id)
        .expect("reads")
        .expect("row");
    assert_eq!(row.started_by.as_deref(), Some("panel:ann"));
}

/// What serve does at shutdown, in-process: `Runner::shutdown` stops a run that is going and
/// returns only once its row says `interrupted`, while the runtime is still up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_shutdown_stops_a_running_audit_and_marks_it_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = demo::DemoEnv::start().await.expect("demo sim");
    let fixture = telegram_fixture(
        dir.path(),
        json!({"flood_wait": [{"op": "participants", "seconds": 30, "times": 1}]}),
    );
    let db = dir.path().join("slack-tools.db");
    let mut runs = audit_run::RunSettings::new(&env.config_dir, dir.path().join("out"), &db, "");
    runs.slack = Some(env.client_config());
    runs.telegram =
        audit_run::TelegramSetting::Account(audit_run::TelegramAccount::Fixture(fixture));
    let settings = admin_panel::Settings {
        db: db.clone(),
        config: env.config_dir.clone(),
        out_dir: dir.path().join("out"),
        https_proxy: false,
        stale_days: 8,
        slack: None,
    };
    let state = admin_panel::AppState::new(settings, Vec::new(), runs).expect("state");
    assert!(!state.runner.shutdown().await, "nothing to stop");
    assert!(state.runner.start(&state, "ann", "127.0.0.1"));
    assert!(
        !state.runner.start(&state, "bob", "127.0.0.1"),
        "one at a time"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let run_id = loop {
        let running = Store::open(&db)
            .expect("opens")
            .list_audit_runs(5)
            .expect("list")
            .into_iter()
            .find(|r| r.status == AuditRunStatus::Running);
        let scanning = state
            .runner
            .view()
            .active
            .is_some_and(|a| a.groups_done > 0);
        if let (Some(r), true) = (running, scanning) {
            break r.id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(state.runner.shutdown().await, "a run was stopped");
    let row = Store::open(&db)
        .expect("opens")
        .audit_run(run_id)
        .expect("reads")
        .expect("row");
    assert_eq!(row.status, AuditRunStatus::Interrupted);
    assert_eq!(row.started_by.as_deref(), Some("panel:ann"));
    assert!(!state.runner.is_running());
    env.shutdown().await;
}
