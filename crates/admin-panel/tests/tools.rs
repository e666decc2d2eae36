//! The panel beside the real tools: `slack-audit`, `add-members`, `insight-sync` and
//! `slack-export` write the store (against a demo slack-sim on loopback) while concurrent
//! requests hit the panel, and everything succeeds; and `admin-panel --demo` serves a full store.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;

/// Upper bound on requests, so a slow machine cannot make the test run forever.
const MAX_REQUESTS: usize = 4000;
const CLIENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tools_succeed_while_the_panel_is_under_load() {
    if !tools_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("slack-tools.db");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let panel = start(&db, None);
    let env = demo::DemoEnv::start().await.expect("demo sim");

    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for i in 0..CLIENTS {
        let (done, sent, base) = (done.clone(), sent.clone(), panel.base.clone());
        load.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let paths = [
                "/",
                "/api/v1/dashboard",
                "/activity",
                "/api/v1/activity/invites?limit=5",
            ];
            let mut failures = Vec::new();
            let mut n = i;
            while !done.load(Ordering::Relaxed)
                && sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS
            {
                let path = paths[n % paths.len()];
                n += 1;
                match c.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failures.push(format!("{path}: {}", r.status())),
                    Err(e) => failures.push(format!("{path}: {e}")),
                }
            }
            failures
        }));
    }

    let (base, config) = (env.sim.base_url(), env.config_dir.clone());
    let (db2, out2) = (db.clone(), out.clone());
    let tools = tokio::task::spawn_blocking(move || {
        admin_panel::demo_store::STEPS
            .iter()
            .map(|(name, args)| {
                admin_panel::demo_store::run_tool(name, args, &base, &config, &db2, &out2)
                    .map_err(|e| format!("{e:#}"))
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("tools task");
    done.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for l in load {
        failures.extend(l.await.expect("load task"));
    }
    for r in &tools {
        assert!(
            r.is_ok(),
            "a tool failed while the panel was reading: {r:?}"
        );
    }
    assert!(failures.is_empty(), "panel requests failed: {failures:?}");
    let served = sent.load(Ordering::Relaxed);
    eprintln!("{served} panel requests while the tools ran");
    assert!(
        served >= CLIENTS,
        "the panel was under load ({served} requests)"
    );

    // What the tools wrote is what the panel shows.
    let c = reqwest::Client::new();
    let d = get_json(&c, &format!("{}/api/v1/dashboard", panel.base)).await;
    assert_eq!(d["trend"].as_array().expect("trend").len(), 2);
    assert!(
        !d["changes"]["gaps_closed"]
            .as_array()
            .expect("list")
            .is_empty()
    );
    assert_eq!(d["last_insight_sync"]["status"], "ok");
    assert_eq!(d["last_export"]["status"], "complete");
    let n = get_json(&c, &format!("{}/api/v1/activity/notifications", panel.base)).await;
    assert_eq!(n["items"][0]["status"], "delivered");
    env.shutdown().await;
}

#[tokio::test]
async fn demo_serves_two_audits_with_a_change_and_every_activity() {
    if !tools_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("ready line");
    let panel = Panel {
        child,
        base: line
            .trim()
            .trim_start_matches("listening on ")
            .trim_end_matches('/')
            .to_string(),
    };
    assert!(
        dir.path().join("output/slack-tools-demo.db").is_file(),
        "demo store in its own file"
    );
    let c = reqwest::Client::new();
    let d = get_json(&c, &format!("{}/api/v1/dashboard", panel.base)).await;
    assert_eq!(d["latest_run"]["run_id"], 2);
    assert!(
        !d["changes"]["gaps_closed"]
            .as_array()
            .expect("list")
            .is_empty()
    );
    assert!(d["last_insight_sync"].is_object() && d["last_export"].is_object());
    let inv = get_json(&c, &format!("{}/api/v1/activity/invites", panel.base)).await;
    assert_eq!(inv["items"][0]["status"], "completed");
    let n = get_json(&c, &format!("{}/api/v1/activity/notifications", panel.base)).await;
    assert_eq!(n["items"].as_array().expect("items").len(), 1);
}
