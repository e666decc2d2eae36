//! End-to-end on PostgreSQL: the real `slack-audit` binary against slack-sim over loopback, its
//! history in a Postgres database (`--db postgres://...` or `DATABASE_URL`). Skipped without a
//! server (`TEST_DATABASE_URL`, see scripts/pg-start.sh); a failure in CI.

mod common;

use common::*;
use serde_json::Value;
use slack_sim::SimOptions;
use store::test_db::{TestDb, assert_no_file_holds, url_password};

/// Every output of a run, for the password check.
fn all_output(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_in_postgres_shows_both_runs_and_the_change() {
    let Some(pg) = TestDb::new() else { return };
    let password = &url_password(pg.url());
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);

    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.arg("--db").arg(pg.url());
    let first = run(cmd).await;
    assert_eq!(code(&first), 0, "stderr: {}", stderr(&first));
    assert!(stdout(&first).contains("first recorded run"));
    assert!(!all_output(&first).contains(password));

    sim.with_workspace(|ws| {
        ws.channel_mut("C0GLX")
            .expect("globex")
            .members
            .push("U0MARIA".into());
        ws.channel_mut("C0ACME")
            .expect("acme")
            .members
            .retain(|m| m != "U0AKI");
    });
    // The second run finds the store through DATABASE_URL (no --db).
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("DATABASE_URL", pg.url()).arg("--json");
    let second = run(cmd).await;
    assert_eq!(code(&second), 0, "stderr: {}", stderr(&second));
    assert!(!all_output(&second).contains(password));
    let doc: Value = serde_json::from_slice(&second.stdout).expect("--json prints JSON only");
    let handles = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("array")
            .iter()
            .map(|g| {
                format!(
                    "{}:{}",
                    g["group_name"].as_str().unwrap_or(""),
                    g["handle"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(
        handles(&doc["changes"]["gaps_closed"]),
        vec!["cust-globex:maria"]
    );
    assert_eq!(
        handles(&doc["changes"]["gaps_opened"]),
        vec!["cust-acme:aki"]
    );

    let mut cmd = t.command(None);
    cmd.arg("--db").arg(pg.url()).args(["history", "--json"]);
    let history = run(cmd).await;
    assert_eq!(code(&history), 0, "stderr: {}", stderr(&history));
    let runs: Value = serde_json::from_slice(&history.stdout).expect("history JSON");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{runs:?}");
    // Run 1: acme ok, globex gap, public gap → 1/3. Run 2: acme gap, globex ok, public gap → 1/3.
    let cov = |i: usize| runs[i]["coverage"].as_f64().expect("coverage");
    assert!((cov(1) - 1.0 / 3.0).abs() < 1e-9, "{runs:?}");
    assert!((cov(0) - 1.0 / 3.0).abs() < 1e-9, "{runs:?}");
    let trend = runs[0]["coverage_change_points"].as_f64().expect("trend");
    assert!(trend.abs() < 1e-6, "{trend}");

    let mut cmd = t.command(None);
    cmd.env("DATABASE_URL", pg.url()).arg("history");
    let table = run(cmd).await;
    assert_eq!(code(&table), 0, "stderr: {}", stderr(&table));
    assert!(stdout(&table).contains("+0.0"), "{}", stdout(&table));
    assert!(!all_output(&table).contains(password));

    // Nothing went to a SQLite file, and no file the runs wrote holds the password.
    assert!(
        !t.db().exists(),
        "the history is in Postgres, not {}",
        t.db().display()
    );
    assert_no_file_holds(t.path(), password);
    let stored = pg.open().list_audit_runs(10).expect("runs in Postgres");
    assert_eq!(stored.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_started_at_once_on_two_hosts_both_land_in_the_history() {
    let Some(pg) = TestDb::new() else { return };
    let sim = start_sim(workspace(), SimOptions::default()).await;
    // Two working directories: two hosts sharing one database.
    let hosts = [TestDir::new(), TestDir::new()];
    let mut children = Vec::new();
    for t in &hosts {
        t.write_config(TEAM, CATEGORIES);
        let mut cmd = t.command(Some(&sim.base_url()));
        cmd.arg("--db")
            .arg(pg.url())
            .arg("--json")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push(cmd.spawn().expect("start slack-audit"));
    }
    let outs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("join");
    for out in &outs {
        assert_eq!(code(out), 0, "stderr: {}", stderr(out));
    }
    let mut cmd = hosts[0].command(None);
    cmd.arg("--db").arg(pg.url()).args(["history", "--json"]);
    let history = run(cmd).await;
    assert_eq!(code(&history), 0, "stderr: {}", stderr(&history));
    let runs: Value = serde_json::from_slice(&history.stdout).expect("history JSON");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["status"] == "finished"), "{runs:?}");
    assert_ne!(runs[0]["id"], runs[1]["id"]);
    let store = pg.open();
    for r in store.list_audit_runs(10).expect("runs") {
        assert_eq!(
            store.audit_findings(r.id).expect("findings").len(),
            2,
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_a_closed_port_exits_1_naming_the_server_not_the_password() {
    let Some(pg) = TestDb::new() else { return };
    let password = url_password(pg.url());
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let target = store::db::pg::PgTarget::parse(pg.url()).expect("url");
    let host_port = target.host_port();

    let wrong_pw = "not-the-pw-4711";
    let wrong = pg
        .url()
        .replacen(&format!(":{password}@"), &format!(":{wrong_pw}@"), 1);
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let closed = pg
        .url()
        .replacen(&host_port, &format!("127.0.0.1:{closed_port}"), 1);
    assert_ne!(closed, pg.url());

    for (url, at, why) in [
        (wrong.as_str(), host_port.clone(), "password"),
        (
            closed.as_str(),
            format!("127.0.0.1:{closed_port}"),
            "pg_isready",
        ),
    ] {
        // With a token, and without one (the store would then be asked for the token connected
        // in the admin panel): an unreachable server is an outage, exit 1, either way.
        for with_token in [true, false] {
            let mut cmd = t.command(Some(&sim.base_url()));
            cmd.arg("--db").arg(url);
            if !with_token {
                cmd.env_remove("SLACK_TOKEN").env_remove("SLACK_USER_TOKEN");
            }
            let out = run(cmd).await;
            let all = all_output(&out);
            assert_eq!(code(&out), 1, "with_token={with_token}: {all}");
            assert!(all.contains(&at), "names host and port {at}: {all}");
            assert!(all.contains(pg.name()), "names the database: {all}");
            assert!(all.contains("hint:") && all.contains(why), "{all}");
            assert!(!all.contains(&password) && !all.contains(wrong_pw), "{all}");
            assert_no_file_holds(t.path(), &password);
            assert_no_file_holds(t.path(), wrong_pw);
        }
    }
}

#[test]
fn help_never_shows_the_database_url() {
    let Some(pg) = TestDb::new() else { return };
    let password = &url_password(pg.url());
    let t = TestDir::new();
    for var in ["SLACK_TOOLS_DB", "DATABASE_URL"] {
        let mut cmd = t.command(None);
        cmd.env(var, pg.url()).arg("--help");
        let out = cmd.output().expect("run --help");
        assert_eq!(code(&out), 0);
        let all = all_output(&out);
        assert!(
            all.contains("DATABASE_URL"),
            "the help names the variable: {all}"
        );
        assert!(!all.contains(password), "{var}: {all}");
    }
}
