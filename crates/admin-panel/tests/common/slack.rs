//! The Slack OAuth tests' setup: the demo workspace's sim with an OAuth app registered, the panel
//! on a port known in advance (the redirect URL names it) with the app's settings, and a real
//! `slack-audit` run with SLACK_TOKEN unset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{BIN, Panel, spawn_ready, users_file};

pub const CLIENT_ID: &str = "1111.2222";
pub const CLIENT_SECRET: &str = "panel-test-client-secret";

/// The demo sim with the test app registered.
pub async fn demo_with_app() -> demo::DemoEnv {
    let env = demo::DemoEnv::start().await.expect("demo sim");
    env.sim.register_oauth_app(slack_sim::OAuthApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        app_id: "A0PANELTEST".into(),
    });
    env
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The panel (users ann/admin, vic/viewer) with the OAuth app's settings pointing at `sim`.
/// No SLACK_TOKEN and no SLACK_TOOLS_SECRET_KEY: the key file is made next to the store.
pub fn panel(dir: &Path, env: &demo::DemoEnv) -> (Panel, PathBuf) {
    let db = dir.join("slack-tools.db");
    let users = users_file(dir);
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(&db)
        .arg("--config")
        .arg(&env.config_dir)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--users")
        .arg(&users)
        .env("SLACK_API_BASE", env.sim.base_url())
        .env("SLACK_CLIENT_ID", CLIENT_ID)
        .env("SLACK_CLIENT_SECRET", CLIENT_SECRET)
        .env(
            "SLACK_REDIRECT_URL",
            format!("http://127.0.0.1:{port}/slack/oauth/callback"),
        )
        .env_remove("SLACK_OAUTH_BASE")
        .env_remove("SLACK_TOKEN")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_SECRET_KEY")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB");
    (spawn_ready(cmd), db)
}

/// `slack-audit` built next to this test (`cargo build --workspace`), if it is.
pub fn slack_audit() -> Option<PathBuf> {
    admin_panel::demo_store::tool_path("slack-audit").ok()
}

/// Runs `slack-audit` over the demo config and the panel's store, with SLACK_TOKEN unset.
pub fn run_audit(exe: &Path, dir: &Path, db: &Path, env: &demo::DemoEnv) -> Output {
    Command::new(exe)
        .arg("--config")
        .arg(&env.config_dir)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--db")
        .arg(db)
        .args(["--json"])
        .env("SLACK_API_BASE", env.sim.base_url())
        .env("SLACK_RATE_SCALE", "0")
        .env_remove("RUST_LOG")
        .env_remove("SLACK_TOKEN")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_SECRET_KEY")
        .env_remove("TELEGRAM_API_ID")
        .env_remove("TELEGRAM_API_HASH")
        .env_remove("TELEGRAM_FIXTURE")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .output()
        .expect("runs slack-audit")
}

/// Whether `needle` occurs in the store's files (database, WAL, shared memory).
pub fn store_bytes_contain(db: &Path, needle: &[u8]) -> bool {
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        std::fs::read(&p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    })
}
