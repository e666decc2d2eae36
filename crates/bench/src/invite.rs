//! add-members on the reference workload: 67 customer channels × 2 missing members against a
//! separate slack-sim process enforcing Slack's limits sped up 60× (`--rate-scale 60`, client
//! `SLACK_RATE_SCALE=60`). Prints wall time over the Tier 3 floor of the invite calls made, the
//! 429 share, and the same work done the hand-written-script way (a members check, then one invite
//! per user, each call followed by a fixed Tier 3 sleep) side by side.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use slack_client::{ClientConfig, SlackClient, rate_floor};
use slack_sim::{Channel, Team, Workspace};

use crate::sim;

const TOKEN: &str = "xoxp-bench-invite";
const CHANNELS: usize = 67;
const SCALE: f64 = 60.0;
const OPS: &str = "U0BOPS";
const NEW: [&str; 2] = ["U0BNEW1", "U0BNEW2"];

pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ws_path = dir.path().join("workspace.json");
    workspace().save(&ws_path)?;
    write_config(&dir.path().join("config"))?;

    let ours = run_ours(dir.path(), &ws_path)?;
    let reference = run_reference(dir.path(), &ws_path)?;

    let floor = rate_floor("conversations.invite", ours.invites, SCALE);
    println!(
        "workload: {CHANNELS} channels x {} members, rate scale {SCALE}",
        NEW.len()
    );
    println!("ours invite calls: {}", ours.invites);
    println!("ours conversations.members calls: {}", ours.members);
    println!("ours wall: {:.3} s", ours.wall.as_secs_f64());
    println!(
        "tier 3 floor for the invite calls: {:.3} s",
        floor.as_secs_f64()
    );
    println!(
        "ours wall / floor: {:.2} (target <= 1.30)",
        ours.wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "ours 429 share: {:.1}% ({} of {} requests)",
        percent(ours.http_429, ours.requests),
        ours.http_429,
        ours.requests
    );
    println!("reference invite calls: {}", reference.invites);
    println!("reference wall: {:.3} s", reference.wall.as_secs_f64());
    println!(
        "reference 429 share: {:.1}% ({} of {} requests)",
        percent(reference.http_429, reference.requests),
        reference.http_429,
        reference.requests
    );
    println!(
        "ours wall / reference wall: {:.2}",
        ours.wall.as_secs_f64() / reference.wall.as_secs_f64()
    );
    Ok(())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The token user, the two people to add, and 67 private customer channels holding only the token
/// user.
fn workspace() -> Workspace {
    let user = |id: &str, name: &str| {
        json!({"id": id, "team_id": "T0BENCH", "name": name, "deleted": false, "is_bot": false,
            "real_name": name, "profile": {"display_name": name, "real_name": name,
            "email": format!("{name}@bench.example")}})
    };
    Workspace {
        team: Team {
            id: "T0BENCH".into(),
            name: "Bench".into(),
            domain: "bench".into(),
        },
        token_user: OPS.into(),
        users: vec![user(OPS, "ops"), user(NEW[0], "new1"), user(NEW[1], "new2")],
        channels: (0..CHANNELS)
            .map(|i| Channel {
                id: format!("C0BINV{i:03}"),
                name: format!("bitsafe-customer-{i:03}"),
                is_private: true,
                created: 1_700_000_000,
                creator: OPS.into(),
                members: vec![OPS.into()],
                ..Channel::default()
            })
            .collect(),
    }
}

fn write_config(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("team.json"),
        r#"{"members": [
          {"handle": "new1", "name": "New One", "role": "required", "slack": ["new1"]},
          {"handle": "new2", "name": "New Two", "role": "required", "slack": ["new2"]}]}"#,
    )?;
    std::fs::write(
        dir.join("categories.json"),
        r#"{"slack_scope": {"name_contains": ["bitsafe"]}}"#,
    )?;
    Ok(())
}

struct Measured {
    wall: Duration,
    invites: u64,
    members: u64,
    requests: u64,
    http_429: u64,
}

fn count(log: &Path) -> anyhow::Result<Measured> {
    let records = sim::read_log(log)?;
    let method = |m: &str| records.iter().filter(|r| r["method"] == m).count() as u64;
    Ok(Measured {
        wall: Duration::ZERO,
        invites: method("conversations.invite"),
        members: method("conversations.members"),
        requests: records.len() as u64,
        http_429: records.iter().filter(|r| r["status"] == 429).count() as u64,
    })
}

fn sim_args(ws: &Path) -> Vec<String> {
    vec![
        "--workspace".into(),
        ws.display().to_string(),
        "--rate-scale".into(),
        SCALE.to_string(),
        "--token".into(),
        TOKEN.into(),
    ]
}

/// The release add-members binary, timed from spawn to exit.
fn run_ours(dir: &Path, ws: &Path) -> anyhow::Result<Measured> {
    let log = dir.join("ours.jsonl");
    let args = sim_args(ws);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = sim::start(&args, &log)?;
    let exe = sim::bin_dir().join("add-members");
    let started = Instant::now();
    let out = Command::new(&exe)
        .args(["new1", "new2", "--yes", "--quiet", "--config"])
        .arg(dir.join("config"))
        .arg("--out")
        .arg(dir.join("out"))
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_API_BASE", &server.base_url)
        .env("SLACK_RATE_SCALE", SCALE.to_string())
        .env_remove("SLACK_TOOLS_DB")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let wall = started.elapsed();
    if !out.status.success() {
        bail!(
            "add-members failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(server);
    let mut m = count(&log)?;
    m.wall = wall;
    if m.invites != CHANNELS as u64 {
        bail!("expected one invite per channel, the sim saw {}", m.invites);
    }
    Ok(m)
}

/// The hand-written script: list, then per channel a members check and one invite per user, each
/// call followed by a fixed sleep of one Tier 3 interval (60 s / 50, sped up like the sim).
fn run_reference(dir: &Path, ws: &Path) -> anyhow::Result<Measured> {
    let log = dir.join("reference.jsonl");
    let args = sim_args(ws);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = sim::start(&args, &log)?;
    let mut cfg = ClientConfig::new(TOKEN, server.base_url.clone());
    // The script paces itself with sleeps; the client only honours 429s.
    cfg.rate_scale = 0.0;
    let client = SlackClient::new(cfg)?;
    let pause = Duration::from_secs_f64(60.0 / 50.0 / SCALE);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    rt.block_on(async {
        let channels = client
            .all_conversations(slack_client::ListConversations::channels())
            .await?;
        for c in channels.iter().filter(|c| c.name.contains("bitsafe")) {
            let members = client.all_members(&c.id).await?;
            tokio::time::sleep(pause).await;
            for user in NEW.iter().filter(|u| !members.iter().any(|m| m == *u)) {
                client
                    .conversations_invite(&c.id, &[user.to_string()], false)
                    .await?;
                tokio::time::sleep(pause).await;
            }
        }
        anyhow::Ok(())
    })?;
    let wall = started.elapsed();
    drop(server);
    let mut m = count(&log)?;
    m.wall = wall;
    Ok(m)
}
