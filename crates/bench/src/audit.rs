//! `slack-audit` at scale against a release slack-sim process:
//! 1. 500 in-scope channels with up to 300 members, sim and client both at rate scale 60: wall time
//!    over the rate-limit floor (target ≤ 1.3) and the share of calls answered 429 (target < 5%).
//! 2. 1000 groups × 500 members with no rate limits: the audit process's peak memory (VmHWM,
//!    sampled from /proc while it runs; target < 100 MB).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use slack_client::rate_floor;
use slack_sim::{Channel, Team, Workspace};

use crate::sim;

const TOKEN: &str = "xoxp-bench-audit";
const RATE_SCALE: f64 = 60.0;

/// The team the bench audits: five required members among the first users.
const TEAM_JSON: &str = r#"{"members": [
  {"handle": "u1", "name": "User One", "role": "required", "slack": ["U0BENCH00001"]},
  {"handle": "u2", "name": "User Two", "role": "required", "slack": ["U0BENCH00002"]},
  {"handle": "u3", "name": "User Three", "role": "required", "slack": ["U0BENCH00003"]},
  {"handle": "u4", "name": "User Four", "role": "required", "slack": ["U0BENCH00004"]},
  {"handle": "u5", "name": "User Five", "role": "optional", "slack": ["U0BENCH00005"]}
]}"#;
const CATEGORIES_JSON: &str = r#"{"slack_scope": {"name_contains": ["bitsafe"]},
 "categories": [{"name": "Intro", "match": ["intro"]}, {"name": "BD Customer"}]}"#;

/// A workspace with `groups` customer channels of `min_members..=max_members` members (plus a
/// tenth as many out-of-scope channels), deterministic.
fn workspace(users: usize, groups: usize, min_members: usize, max_members: usize) -> Workspace {
    let mut rng = fastrand_lite(42);
    let ids: Vec<String> = (0..users).map(|i| format!("U0BENCH{i:05}")).collect();
    let users_json: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"id": id, "name": format!("user{i}"), "deleted": false, "is_bot": false,
                   "real_name": format!("User {i}"),
                   "profile": {"display_name": format!("user{i}"), "real_name": format!("User {i}"),
                               "email": format!("user{i}@bench.example")}})
        })
        .collect();
    let mut channels = Vec::new();
    for g in 0..groups + groups / 10 {
        let in_scope = g < groups;
        let count = if in_scope {
            min_members + (rng() as usize) % (max_members - min_members + 1)
        } else {
            10
        };
        // The token user always; the team members in most channels; then others.
        let mut members: Vec<String> = vec![ids[0].clone()];
        for id in ids.iter().skip(1).take(5) {
            if !rng().is_multiple_of(10) {
                members.push(id.clone());
            }
        }
        let mut k = 6 + (g * 7) % users.saturating_sub(6).max(1);
        while members.len() < count.min(users) {
            let id = &ids[6 + (k % (users - 6))];
            if !members.contains(id) {
                members.push(id.clone());
            }
            k += 1;
        }
        channels.push(Channel {
            id: format!("C0BENCH{g:05}"),
            name: if in_scope {
                format!("bitsafe-customer-{g:05}")
            } else {
                format!("internal-{g:05}")
            },
            is_private: g % 5 != 0,
            creator: ids[0].clone(),
            members,
            ..Channel::default()
        });
    }
    Workspace {
        team: Team {
            id: "T0BENCH".into(),
            name: "Bench".into(),
            domain: "bench".into(),
        },
        token_user: ids[0].clone(),
        users: users_json,
        channels,
    }
}

/// A tiny deterministic generator (xorshift), so the bench needs no extra dependency.
fn fastrand_lite(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.max(1);
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// Runs `slack-audit` against `base_url`; returns wall time and the peak resident memory (kB)
/// sampled from /proc every 5 ms.
fn run_audit(dir: &Path, base_url: &str, rate_scale: &str) -> anyhow::Result<(Duration, u64)> {
    let exe = sim::bin_dir().join("slack-audit");
    let started = Instant::now();
    let mut child = Command::new(&exe)
        .current_dir(dir)
        .args(["--config", "config", "--out", "out", "--json", "-q"])
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_API_BASE", base_url)
        .env("SLACK_RATE_SCALE", rate_scale)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    // Exit 0 (no gaps flag), so anything else is a failed run.
    if !status.success() {
        bail!("slack-audit exited with {status}");
    }
    Ok((wall, peak_kb))
}

fn prepare(dir: &Path, ws: &Workspace) -> anyhow::Result<std::path::PathBuf> {
    let config = dir.join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(config.join("team.json"), TEAM_JSON)?;
    std::fs::write(config.join("categories.json"), CATEGORIES_JSON)?;
    let path = dir.join("workspace.json");
    ws.save(&path)?;
    Ok(path)
}

pub fn run() -> anyhow::Result<()> {
    // 1. Rate-limited run.
    let dir = tempfile::tempdir()?;
    let groups = 500;
    let ws_path = prepare(dir.path(), &workspace(800, groups, 50, 300))?;
    let log = dir.path().join("sim.jsonl");
    let scale = RATE_SCALE.to_string();
    let sim = sim::start(
        &[
            "--workspace",
            &ws_path.to_string_lossy(),
            "--token",
            TOKEN,
            "--rate-scale",
            &scale,
        ],
        &log,
    )?;
    let (wall, _) = run_audit(dir.path(), &sim.base_url, &scale)?;
    drop(sim);
    let records = sim::read_log(&log)?;
    let count = |method: &str| {
        records
            .iter()
            .filter(|r| r["method"] == method && r["status"] != 429)
            .count() as u64
    };
    let total = records.len();
    let limited = records.iter().filter(|r| r["status"] == 429).count();
    let (users, lists, members) = (
        count("users.list"),
        count("conversations.list"),
        count("conversations.members"),
    );
    // The listings run side by side, then the member calls: the floor is the slower listing
    // plus the member calls at Tier 4.
    let floor = rate_floor("users.list", users, RATE_SCALE).max(rate_floor(
        "conversations.list",
        lists,
        RATE_SCALE,
    )) + rate_floor("conversations.members", members, RATE_SCALE);
    println!("in-scope channels: {groups} (50..300 members), rate scale {RATE_SCALE}");
    println!(
        "calls: users.list {users}, conversations.list {lists}, conversations.members {members}"
    );
    println!(
        "wall: {:.2}s  floor: {:.2}s",
        wall.as_secs_f64(),
        floor.as_secs_f64()
    );
    println!(
        "wall/floor: {:.2} (target <= 1.30)",
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "429 share: {:.2}% ({limited} of {total}; target < 5%)",
        100.0 * limited as f64 / total.max(1) as f64
    );

    // 2. Peak memory, no rate limits.
    let dir = tempfile::tempdir()?;
    let ws_path = prepare(dir.path(), &workspace(1000, 1000, 500, 500))?;
    let log = dir.path().join("sim.jsonl");
    let sim = sim::start(
        &["--workspace", &ws_path.to_string_lossy(), "--token", TOKEN],
        &log,
    )?;
    let (wall, peak_kb) = run_audit(dir.path(), &sim.base_url, "off")?;
    drop(sim);
    println!(
        "1000 groups x 500 members: wall {:.2}s, peak RSS {:.1} MB (target < 100 MB)",
        wall.as_secs_f64(),
        peak_kb as f64 / 1024.0
    );
    Ok(())
}
