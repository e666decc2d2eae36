//! Issue 14: insight-sync sends sync_complete after a sync and sync_failed when one stops, once
//! each, when notifications.json enables them (real binary, slack-sim on loopback).

use std::path::Path;

use slack_sim::{GenSpec, SimHandle, SimOptions, Workspace};

const TOKEN: &str = "xoxp-insight-notify";

fn workspace() -> Workspace {
    let end = jiff::Timestamp::now().as_second() - 3600;
    slack_sim::generate(&GenSpec {
        users: 20,
        channels: 5,
        days: 3,
        seed: 3,
        max_members: Some(10),
        end: Some(end),
    })
}

async fn start(ws: Workspace, scopes: Option<Vec<String>>) -> SimHandle {
    let opts = SimOptions {
        token: TOKEN.into(),
        scopes,
        ..SimOptions::default()
    };
    slack_sim::start(([127, 0, 0, 1], 0).into(), ws, opts)
        .await
        .expect("sim starts")
}

async fn run_bin(dir: &Path, base: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_insight-sync"));
    cmd.arg("--config")
        .arg(dir)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--db")
        .arg(dir.join("insight.db"))
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .env_remove("SLACK_TOOLS_CONFIG")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("binary runs")
}

/// Texts of the notification posts the sim received.
fn posted(sim: &SimHandle) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage" && r.status == 200 && r.error.is_none())
        .map(|r| r.params["text"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_complete_and_sync_failed_fire_once_each() {
    let ws = workspace();
    // A channel the token's user is in, so the notification can be posted there.
    let channel = ws
        .channels
        .iter()
        .find(|c| !c.is_archived && !c.is_im && !c.is_mpim && c.members.contains(&ws.token_user))
        .map(|c| c.id.clone())
        .expect("a channel of the token user");
    let dir = tempfile::tempdir().expect("tmp");
    let doc = serde_json::json!({
        "channels": {"name_contains": []}, "opt_out_users": [],
        "window_days": 7, "timezone": "UTC", "store_text": false
    });
    std::fs::write(dir.path().join("insight.json"), doc.to_string()).expect("insight.json");
    let notifications = serde_json::json!({"default_channel": channel, "events": {
        "sync_complete": {"template": "Synced {channels} channel(s), {failed_channels} failed"},
        "sync_failed": {"template": "Sync failed: {error}", "priority": "high"}}});
    std::fs::write(
        dir.path().join("notifications.json"),
        notifications.to_string(),
    )
    .expect("notifications.json");

    let sim = start(ws.clone(), None).await;
    let out = run_bin(dir.path(), &sim.base_url()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts = posted(&sim);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("Insight sync complete\nSynced "),
        "{}",
        texts[0]
    );
    assert!(texts[0].ends_with(", 0 failed"), "{}", texts[0]);

    // A token without users:read: the sync stops, and says so in Slack once.
    let scopes = [
        "chat:write",
        "channels:read",
        "channels:history",
        "groups:read",
        "groups:history",
    ];
    let narrow = start(ws, Some(scopes.map(String::from).to_vec())).await;
    let out = run_bin(dir.path(), &narrow.base_url()).await;
    assert_ne!(out.status.code(), Some(0));
    let texts = posted(&narrow);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("Insight sync failed\nSync failed: ")
            && texts[0].contains("missing_scope"),
        "{}",
        texts[0]
    );

    let store = store::Store::open(&dir.path().join("insight.db")).expect("db");
    let events: Vec<(String, String)> = store
        .conn()
        .prepare("SELECT event, status FROM notifications ORDER BY id")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        events,
        [
            ("sync_complete".to_string(), "delivered".to_string()),
            ("sync_failed".to_string(), "delivered".to_string())
        ]
    );
}
