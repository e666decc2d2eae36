//! The history records who started a run and where it is: `running` from its start, `finished`
//! or `failed` at its end, and a run whose process was killed stays `running` until
//! `mark_running_audit_runs_interrupted` (what the admin panel calls) makes it `interrupted`.

mod common;

use std::time::Duration;

use common::*;
use slack_sim::SimOptions;
use store::Store;
use store::audit::AuditRunStatus;

fn runs(t: &TestDir) -> Vec<(AuditRunStatus, Option<String>, bool)> {
    let store = Store::open(&t.db()).expect("db");
    store
        .list_audit_runs(10)
        .expect("runs")
        .into_iter()
        .map(|r| (r.status, r.started_by, r.finished_at.is_some()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_run_is_finished_and_started_by_cli() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(
        runs(&t),
        vec![(AuditRunStatus::Finished, Some("cli".into()), true)]
    );

    let mut cmd = t.command(None);
    cmd.args(["history", "--json"]);
    let history = run(cmd).await;
    let doc: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON");
    assert_eq!(doc[0]["status"], "finished");
    assert_eq!(doc[0]["started_by"], "cli");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_a_missing_scope_is_failed() {
    let opts = SimOptions {
        scopes: Some(vec!["channels:read".into(), "users:read".into()]),
        ..SimOptions::default()
    };
    let sim = start_sim(workspace(), opts).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    assert_eq!(
        runs(&t),
        vec![(AuditRunStatus::Failed, Some("cli".into()), true)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_stays_running_until_marked_interrupted() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let proxy = hanging_proxy(sim.base_url(), "C0GLX").await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let mut child = t
        .command(Some(&proxy))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn slack-audit");
    // The run hangs on cust-globex's members: wait until the other channels were read.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let members_calls = sim
            .requests()
            .iter()
            .filter(|r| r.method == "conversations.members")
            .count();
        if members_calls >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached conversations.members"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("kill");
    child.wait().expect("reap");

    assert_eq!(
        runs(&t),
        vec![(AuditRunStatus::Running, Some("cli".into()), false)]
    );
    assert!(!t.reports().join("slack-audit-latest.xlsx").exists());

    let mut store = Store::open(&t.db()).expect("db");
    assert_eq!(
        store.mark_running_audit_runs_interrupted().expect("mark"),
        1
    );
    drop(store);
    assert_eq!(
        runs(&t),
        vec![(AuditRunStatus::Interrupted, Some("cli".into()), false)]
    );

    // The next run is the first finished one: nothing to compare with.
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("first recorded run"),
        "{}",
        stdout(&out)
    );
    assert_eq!(runs(&t)[0].0, AuditRunStatus::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_is_started_by_demo_in_the_demo_history() {
    let t = TestDir::new();
    let mut cmd = t.command(None);
    cmd.args(["--demo", "--skip-telegram"]);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let store = Store::open(&t.out().join("slack-tools-demo.db")).expect("demo db");
    let latest = store
        .latest_audit_run()
        .expect("read")
        .expect("the demo run");
    assert_eq!(latest.started_by.as_deref(), Some("demo"));
    assert_eq!(latest.status, AuditRunStatus::Finished);
    assert!(!t.db().exists(), "a demo never writes the real history");
}
