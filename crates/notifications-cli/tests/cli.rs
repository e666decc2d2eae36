//! The `notifications` tool through its binary, against a slack-sim on loopback and a real
//! SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, Team, Workspace};

const TOKEN: &str = "xoxp-notifications-test";

fn channel(id: &str, name: &str, members: &[&str]) -> Channel {
    Channel {
        id: id.into(),
        name: name.into(),
        creator: "U0OPS".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        ..Channel::default()
    }
}

async fn sim() -> SimHandle {
    let ws = Workspace {
        team: Team {
            id: "T0N".into(),
            name: "N".into(),
            domain: "n".into(),
        },
        token_user: "U0OPS".into(),
        users: vec![json!({"id": "U0OPS", "team_id": "T0N", "name": "ops"})],
        channels: vec![
            channel("C0GEN", "general", &["U0OPS"]),
            channel("C0OUT", "outside", &[]),
        ],
    };
    let opts = SimOptions {
        token: TOKEN.into(),
        ..SimOptions::default()
    };
    slack_sim::start(([127, 0, 0, 1], 0).into(), ws, opts)
        .await
        .expect("start sim")
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        let d = Dir(tempfile::tempdir().expect("tempdir"));
        std::fs::create_dir_all(d.path().join("config")).expect("config dir");
        d
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn db(&self) -> PathBuf {
        self.path().join("out/slack-tools.db")
    }
}

async fn tool(dir: &Dir, sim: Option<&SimHandle>, args: &[&str]) -> Output {
    tool_with(dir, sim, args, &[]).await
}

/// [`tool`] with more environment variables.
async fn tool_with(
    dir: &Dir,
    sim: Option<&SimHandle>,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notifications"));
    cmd.current_dir(dir.path())
        .args(args)
        .args(["--config", "config", "--out", "out"])
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("SLACK_TOKEN", TOKEN)
        .envs(vars.iter().copied());
    match sim {
        Some(s) => cmd.env("SLACK_API_BASE", s.base_url()),
        None => cmd.env("SLACK_API_BASE", "http://127.0.0.1:9/api"),
    };
    tokio::task::spawn_blocking(move || cmd.output().expect("run notifications"))
        .await
        .expect("join")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Marked notification messages in channel `id`.
fn marked(sim: &SimHandle, id: &str) -> usize {
    sim.with_workspace(|ws| {
        ws.channel(id)
            .expect("channel")
            .messages
            .iter()
            .filter(|m| m["metadata"]["event_type"] == "slack_tools_notification")
            .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_failed_delivers_a_failed_notification_once() {
    let sim = sim().await;
    let d = Dir::new();
    // Not a member of #outside yet: Slack refuses the post.
    let out = tool(
        &d,
        Some(&sim),
        &["test", "system_alert", "--notify", "C0OUT"],
    )
    .await;
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("not_in_channel"),
        "{}",
        text(&out.stdout)
    );

    let out = tool(&d, None, &["list", "--status", "failed", "--json"]).await;
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    let failed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(failed.as_array().map(Vec::len), Some(1));
    assert_eq!(failed[0]["event"], "system_alert");
    assert_eq!(failed[0]["status"], "failed");

    sim.with_workspace(|ws| {
        ws.channel_mut("C0OUT")
            .expect("outside")
            .members
            .push("U0OPS".into())
    });
    let out = tool(&d, Some(&sim), &["--retry-failed"]).await;
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    assert_eq!(marked(&sim, "C0OUT"), 1);
    // Nothing failed is left: a second retry sends nothing.
    let out = tool(&d, Some(&sim), &["--retry-failed"]).await;
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("No failed notification"));
    assert_eq!(marked(&sim, "C0OUT"), 1);

    let out = tool(&d, None, &["list", "--json"]).await;
    let all: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(all[0]["status"], "delivered");
    assert_eq!(all[0]["attempts"], 2);
    assert!(all[0]["ts"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(all[0]["last_error"].is_null());
    assert!(d.db().is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_in_postgres_is_listed_and_retried() {
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let password = pg
        .url()
        .split("://")
        .nth(1)
        .and_then(|r| r.rsplit_once('@'))
        .and_then(|(u, _)| u.split_once(':'))
        .map(|(_, pw)| pw.to_string())
        .expect("the test URL has a password");
    let sim = sim().await;
    let d = Dir::new();
    let pg_env = [("DATABASE_URL", pg.url())];
    let out = tool_with(
        &d,
        Some(&sim),
        &["test", "system_alert", "--notify", "C0OUT"],
        &pg_env,
    )
    .await;
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    sim.with_workspace(|ws| {
        ws.channel_mut("C0OUT")
            .expect("outside")
            .members
            .push("U0OPS".into())
    });
    let retried = tool_with(&d, Some(&sim), &["--retry-failed"], &pg_env).await;
    assert_eq!(code(&retried), 0, "stderr: {}", text(&retried.stderr));
    assert_eq!(marked(&sim, "C0OUT"), 1);
    let listed = tool_with(&d, None, &["list", "--json"], &pg_env).await;
    assert_eq!(code(&listed), 0, "stderr: {}", text(&listed.stderr));
    let all: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["status"], "delivered");
    assert_eq!(all[0]["attempts"], 2);
    let entries = pg
        .open()
        .notification_entries(None, 10)
        .expect("in Postgres");
    assert_eq!(entries.len(), 1);
    assert!(!d.db().exists(), "nothing went to a SQLite file");
    for o in [&out, &retried, &listed] {
        assert!(!text(&o.stdout).contains(&password) && !text(&o.stderr).contains(&password));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_renders_the_template_and_posts_it_or_prints_it() {
    let sim = sim().await;
    let d = Dir::new();
    std::fs::write(
        d.path().join("config/notifications.json"),
        r#"{"default_channel": "general", "events": {"sync_failed": {"template": "Sync broke: {error}", "priority": "high"}}}"#,
    )
    .expect("write");
    let out = tool(&d, Some(&sim), &["test", "sync_failed", "--dry-run"]).await;
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("Sync broke: conversations.history: HTTP 500"),
        "{printed}"
    );
    assert!(printed.contains("\"type\": \"header\""), "{printed}");
    assert!(sim.requests().is_empty(), "--dry-run called Slack");

    let out = tool(&d, Some(&sim), &["test", "sync_failed"]).await;
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    assert_eq!(marked(&sim, "C0GEN"), 1);
    let post = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "chat.postMessage")
        .expect("posted");
    let blocks: Value = serde_json::from_str(&post.params["blocks"]).expect("blocks");
    assert_eq!(blocks[0]["text"]["text"], "Insight sync failed");
    assert_eq!(blocks[2]["elements"][0]["text"], "priority: high");
    assert!(post.params["text"].contains("Sync broke:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_event_and_bad_file_are_usage_errors() {
    let d = Dir::new();
    let out = tool(&d, None, &["test", "audit_done", "--dry-run"]).await;
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("unknown event `audit_done`"));

    std::fs::write(
        d.path().join("config/notifications.json"),
        r#"{"default_channel": "general", "events": {"sync_failed": {"priority": "urgent"}}}"#,
    )
    .expect("write");
    let out = tool(&d, None, &["test", "sync_failed", "--dry-run"]).await;
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("notifications.json") && err.contains("events.sync_failed.priority"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}
