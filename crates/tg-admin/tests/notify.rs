//! Issue 14: a tg-admin command that finds the Telegram session not authorised posts
//! telegram_session_expired once when notifications.json enables it (real binary, fixture
//! account, slack-sim on loopback).

use std::process::{Command, Stdio};

use serde_json::json;
use slack_sim::{Channel, SimOptions, Team, Workspace};

const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "chats": [], "login": {"code": "12345"}}"#;
const TOKEN: &str = "xoxp-tg-notify";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_logged_in_posts_session_expired_once() {
    let ws = Workspace {
        team: Team {
            id: "T0TG".into(),
            name: "TG".into(),
            domain: "tg".into(),
        },
        token_user: "U0OPS".into(),
        users: vec![json!({"id": "U0OPS", "team_id": "T0TG", "name": "ops"})],
        channels: vec![Channel {
            id: "C0OPS".into(),
            name: "ops".into(),
            creator: "U0OPS".into(),
            members: vec!["U0OPS".into()],
            ..Channel::default()
        }],
    };
    let opts = SimOptions {
        token: TOKEN.into(),
        ..SimOptions::default()
    };
    let sim = slack_sim::start(([127, 0, 0, 1], 0).into(), ws, opts)
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tg.json"), FIXTURE).expect("fixture");
    std::fs::create_dir_all(dir.path().join("config")).expect("config");
    std::fs::write(
        dir.path().join("config/notifications.json"),
        r#"{"default_channel": "C0OPS", "events": {"telegram_session_expired": {
            "template": "{tool}: {detail}", "priority": "high"}}}"#,
    )
    .expect("notifications.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tg-admin"));
    cmd.current_dir(dir.path())
        .args(["admin-status", "--out"])
        .arg(dir.path().join("out"))
        .env("TELEGRAM_FIXTURE", dir.path().join("tg.json"))
        .env("TELEGRAM_SESSION", dir.path().join("none.session"))
        .env("SLACK_API_BASE", sim.base_url())
        .env("SLACK_TOKEN", TOKEN)
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .map(|r| r.params["text"].clone())
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].starts_with("Telegram session expired\ntg-admin: not logged in to Telegram"),
        "{}",
        posts[0]
    );
}
