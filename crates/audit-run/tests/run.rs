//! A run in-process, as the admin panel starts it: against the demo workspace with progress
//! polled, and dropped mid-way (the panel stopping) with its history row marked interrupted.

use std::time::Duration;

use audit_run::{ProgressCounter, RunPhase, RunSettings, TelegramSetting};
use store::Store;
use store::audit::AuditRunStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_run_reports_progress_and_is_recorded_as_started_by_its_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut settings = RunSettings::new(
        dir.path().join("unused-config"),
        &out,
        out.join("panel.db"),
        "panel:ana",
    );
    settings.demo = true;
    settings.telegram = TelegramSetting::Skip;
    let progress = ProgressCounter::new();
    let report = audit_run::run(&settings, &progress)
        .await
        .expect("demo run");

    let seen = progress.snapshot();
    assert_eq!(seen.phase, Some(RunPhase::Done));
    assert_eq!(
        seen.groups_total,
        u64::from(report.run.result.summary.groups)
    );
    assert_eq!(seen.groups_done, seen.groups_total);
    assert!(seen.groups_total > 0);
    assert!(report.reports.latest_csv.exists());

    let store = Store::open(&settings.db_path).expect("db");
    let row = store
        .audit_run(report.run_id)
        .expect("read")
        .expect("the run's row");
    assert_eq!(row.status, AuditRunStatus::Finished);
    assert_eq!(row.started_by.as_deref(), Some("panel:ana"));
    assert_eq!(row.groups, i64::from(report.run.result.summary.groups));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_mid_way_is_marked_interrupted() {
    // A "Slack" that accepts connections and never answers: the run waits on its first call.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(
        config.join("team.json"),
        r#"{"members": [{"handle": "aki", "name": "Aki", "role": "required", "slack": ["aki"]}]}"#,
    )
    .expect("team.json");
    std::fs::write(
        config.join("categories.json"),
        r#"{"slack_scope": {"name_contains": ["cust"]}, "categories": [{"name": "BD Customer"}]}"#,
    )
    .expect("categories.json");
    let out = dir.path().join("out");
    let mut settings = RunSettings::new(&config, &out, out.join("db.sqlite"), "panel:ana");
    settings.telegram = TelegramSetting::Skip;
    let mut slack = slack_client::ClientConfig::new("xoxp-test", format!("http://{addr}/api"));
    slack.rate_scale = 0.0;
    settings.slack = Some(slack);

    let progress = ProgressCounter::new();
    let stopped = tokio::time::timeout(
        Duration::from_millis(500),
        audit_run::run(&settings, &progress),
    )
    .await;
    assert!(stopped.is_err(), "the run cannot have finished");
    assert_eq!(progress.snapshot().phase, Some(RunPhase::Scanning));

    let store = Store::open(&settings.db_path).expect("db");
    let runs = store.list_audit_runs(10).expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, AuditRunStatus::Interrupted);
    assert_eq!(runs[0].started_by.as_deref(), Some("panel:ana"));
    held.abort();
}
