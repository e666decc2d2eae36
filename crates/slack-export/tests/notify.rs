//! Issue 14: slack-export posts export_complete once per export when notifications.json enables
//! it (real binary, slack-sim on loopback, the demo workspace).

use std::process::{Command, Stdio};

use slack_sim::SimOptions;

const TOKEN: &str = "xoxp-export-notify";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_complete_is_posted_once_per_export() {
    let opts = SimOptions {
        token: TOKEN.into(),
        ..SimOptions::default()
    };
    let sim = slack_sim::start(([127, 0, 0, 1], 0).into(), demo::workspace(), opts)
        .await
        .expect("sim starts");
    let general = sim.with_workspace(|ws| {
        ws.channels
            .iter()
            .find(|c| c.is_general)
            .map(|c| c.id.clone())
            .expect("general")
    });
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
    std::fs::write(
        dir.path().join("config/notifications.json"),
        format!(
            r#"{{"default_channel": "{general}", "events": {{"export_complete": {{
                "template": "Exported {{messages}} message(s) from {{channels}} channel(s)"}}}}}}"#
        ),
    )
    .expect("notifications.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-export"));
    cmd.current_dir(dir.path())
        .args(["bitsafe-acme", "--out"])
        .arg(dir.path().join("out"))
        .arg("--db")
        .arg(dir.path().join("export.db"))
        .env("SLACK_API_BASE", sim.base_url())
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "off")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_OUT")
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    assert!(
        out.status.success(),
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
        posts[0].starts_with("Slack export complete\nExported ")
            && posts[0].ends_with("message(s) from 1 channel(s)"),
        "{}",
        posts[0]
    );
    let store = store::Store::open(&dir.path().join("export.db")).expect("db");
    let log = store.notification_entries(None, 10).expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event.as_deref(), Some("export_complete"));
    assert_eq!(log[0].summary_status(), "delivered");
}
