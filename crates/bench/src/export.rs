//! slack-export against a separate slack-sim process: messages/s with rate limits off side by side
//! with the Python slack_sdk reference script (`scripts/export_reference.py`), peak memory (VmHWM)
//! exporting a 500k-message channel, and wall time over the rate-limit floor at `--rate-scale 60`.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use slack_client::rate_floor;

use crate::sim;

const TOKEN: &str = "xoxp-bench-export";

pub fn run() -> anyhow::Result<()> {
    throughput()?;
    floor_ratio()?;
    memory()
}

/// The shape of a generated channel: `top_level` messages, every `thread_every`-th of them a
/// thread parent with `replies` replies.
#[derive(Clone, Copy)]
struct Shape {
    top_level: usize,
    thread_every: usize,
    replies: usize,
}

impl Shape {
    fn total(self) -> usize {
        self.top_level + self.top_level.div_ceil(self.thread_every) * self.replies
    }
}

/// Writes a workspace JSON file for `slack-sim --workspace` with `channels` channels of `shape`,
/// streamed so a 500k-message channel does not need its messages in memory here.
fn write_workspace(path: &Path, channels: usize, shape: Shape) -> anyhow::Result<Vec<String>> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let users: Vec<String> = (0..20).map(|i| format!("U0BENCH{i:03}")).collect();
    write!(
        w,
        r#"{{"team":{{"id":"T0BENCH","name":"Bench","domain":"bench"}},"token_user":"{}","users":["#,
        users[0]
    )?;
    for (i, u) in users.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(
            w,
            r#"{sep}{{"id":"{u}","name":"user{i}","deleted":false,"is_bot":false,"real_name":"User {i}","profile":{{"display_name":"user{i}","real_name":"User {i}"}}}}"#
        )?;
    }
    write!(w, r#"],"channels":["#)?;
    let members = serde_json::to_string(&users)?;
    let mut ids = Vec::new();
    for c in 0..channels {
        let id = format!("C0BENCH{c:03}");
        let sep = if c == 0 { "" } else { "," };
        write!(
            w,
            r#"{sep}{{"id":"{id}","name":"bench-{c}","created":1600000000,"creator":"{}","members":{members},"messages":["#,
            users[0]
        )?;
        let mut first = true;
        for i in 0..shape.top_level {
            // Ten seconds apart; replies fill the seconds in between, so every ts is unique.
            let ts = 1_700_000_000 + i as u64 * 10;
            let user = &users[i % users.len()];
            let sep = if first { "" } else { "," };
            first = false;
            write!(
                w,
                r#"{sep}{{"type":"message","ts":"{ts}.000100","user":"{user}","text":"Message {i} about the deploy for <@{}> and the renewal"}}"#,
                users[(i + 1) % users.len()]
            )?;
            if i % shape.thread_every == 0 {
                for r in 1..=shape.replies {
                    let replier = &users[(i + r) % users.len()];
                    write!(
                        w,
                        r#",{{"type":"message","ts":"{}.000100","thread_ts":"{ts}.000100","user":"{replier}","text":"Reply {r} to {i}"}}"#,
                        ts + r as u64
                    )?;
                }
            }
        }
        write!(w, "]}}")?;
        ids.push(id);
    }
    write!(w, "]}}")?;
    w.flush()?;
    Ok(ids)
}

/// Starts slack-sim on a workspace file.
fn start_sim(dir: &Path, workspace: &Path, extra: &[&str]) -> anyhow::Result<sim::SimProcess> {
    let ws = workspace.display().to_string();
    let mut args = vec!["--workspace", ws.as_str(), "--token", TOKEN];
    args.extend_from_slice(extra);
    sim::start(&args, &dir.join("sim.jsonl"))
}

/// The outcome of one export process.
struct Run {
    wall: Duration,
    /// Peak resident set (VmHWM) in MiB, sampled from /proc while it ran.
    peak_mib: f64,
}

/// Runs `cmd` to completion, sampling its VmHWM.
fn run_measured(mut cmd: Command) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the export")?;
    let status_path = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kib = 0u64;
    let status = loop {
        // VmHWM is the process's own high-water mark, so the last sample before exit is its peak.
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        bail!("export failed ({status}): {err}");
    }
    Ok(Run {
        wall,
        peak_mib: peak_kib as f64 / 1024.0,
    })
}

fn export_command(base: &str, dir: &Path, scale: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(sim::bin_dir().join("slack-export"));
    cmd.args(args)
        .args(["--quiet", "--tz", "UTC", "--out"])
        .arg(dir.join("out"))
        .arg("--db")
        .arg(dir.join("export.db"))
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", scale)
        .current_dir(dir);
    cmd
}

fn reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/export_reference.py")
}

/// Requests per method in the sim's log (answered ones; injected faults excluded).
fn calls_by_method(log: &Path) -> anyhow::Result<(BTreeMap<String, u64>, u64, u64)> {
    let mut by = BTreeMap::new();
    let (mut total, mut limited) = (0u64, 0u64);
    for r in sim::read_log(log)? {
        total += 1;
        if r["status"] == 429 {
            limited += 1;
            continue;
        }
        if let Some(m) = r["method"].as_str() {
            *by.entry(m.to_string()).or_insert(0) += 1;
        }
    }
    Ok((by, total, limited))
}

/// Rate limits off: ours and the Python reference export the same channels, one after the other,
/// for many small channels and for fewer larger ones.
fn throughput() -> anyhow::Result<()> {
    let small = Shape {
        top_level: 300,
        thread_every: 5,
        replies: 2,
    };
    let large = Shape {
        top_level: 3_000,
        thread_every: 5,
        replies: 2,
    };
    for (label, channels, shape) in [("small", 60, small), ("large", 10, large)] {
        throughput_case(label, channels, shape)?;
    }
    Ok(())
}

fn throughput_case(label: &str, channels: usize, shape: Shape) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ws = dir.path().join("ws.json");
    let ids = write_workspace(&ws, channels, shape)?;
    let messages = (shape.total() * channels) as f64;
    let mut args: Vec<&str> = ids.iter().map(String::as_str).collect();
    args.extend(["--format", "json"]);

    // Each run gets a fresh sim, so neither side is served from caches the other one warmed, and
    // the sides alternate three times; the median run of each side is reported (a shared 2-core
    // machine is noisy, and alternating spreads the noise over both sides).
    let mut ours_runs = Vec::new();
    let mut reference_runs = Vec::new();
    for round in 0..3 {
        let sim = start_sim(dir.path(), &ws, &[])?;
        let ours_dir = dir.path().join(format!("ours{round}"));
        std::fs::create_dir_all(&ours_dir)?;
        ours_runs.push(run_measured(export_command(
            &sim.base_url,
            &ours_dir,
            "off",
            &args,
        ))?);
        drop(sim);

        let sim = start_sim(dir.path(), &ws, &[])?;
        let mut py = Command::new("python3");
        py.arg(reference_script())
            .arg(dir.path().join(format!("reference{round}")))
            .args(&ids)
            .env("SLACK_API_BASE", &sim.base_url)
            .env("SLACK_TOKEN", TOKEN);
        reference_runs.push(
            run_measured(py)
                .context("running scripts/export_reference.py (pip install slack_sdk)")?,
        );
    }
    let median = |runs: &mut Vec<Run>| {
        runs.sort_by_key(|r| r.wall);
        runs.swap_remove(runs.len() / 2)
    };
    let ours = median(&mut ours_runs);
    let reference = median(&mut reference_runs);

    let ours_rate = messages / ours.wall.as_secs_f64();
    let ref_rate = messages / reference.wall.as_secs_f64();
    println!(
        "export.{label}.messages ({channels} channels x {} messages, {} threads each): {messages}",
        shape.total(),
        shape.top_level.div_ceil(shape.thread_every)
    );
    println!("export.{label}.ours_messages_per_s (limits off, json): {ours_rate:.0}");
    println!(
        "export.{label}.reference_messages_per_s (python slack_sdk, same page sizes): {ref_rate:.0}"
    );
    println!(
        "export.{label}.speed_ratio ours/reference (target >= 5): {:.2}",
        ours_rate / ref_rate
    );
    println!(
        "export.{label}.peak_mib ours / reference: {:.1} / {:.1}",
        ours.peak_mib, reference.peak_mib
    );
    Ok(())
}

/// `--rate-scale 60` on both sides: wall time over the floor of the calls the export made.
fn floor_ratio() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let shape = Shape {
        top_level: 2_000,
        thread_every: 5,
        replies: 2,
    };
    let ws = dir.path().join("ws.json");
    let ids = write_workspace(&ws, 1, shape)?;
    let sim = start_sim(dir.path(), &ws, &["--rate-scale", "60"])?;
    let run = run_measured(export_command(
        &sim.base_url,
        dir.path(),
        "60",
        &[ids[0].as_str(), "--format", "text"],
    ))?;
    let (calls, total, limited) = calls_by_method(&sim.log)?;
    // Slack budgets each method separately, so the floor is the slowest method's own floor.
    let floors: Vec<(String, Duration)> = calls
        .iter()
        .map(|(m, n)| (m.clone(), rate_floor(m, *n, 60.0)))
        .collect();
    let (method, floor) = floors
        .iter()
        .max_by_key(|(_, d)| *d)
        .cloned()
        .context("no calls logged")?;
    let tier3_sum: Duration = floors
        .iter()
        .filter(|(m, _)| {
            m.starts_with("conversations.history") || m.starts_with("conversations.replies")
        })
        .map(|(_, d)| *d)
        .sum();
    println!("export.calls (rate-scale 60): {calls:?}");
    println!(
        "export.wall_s / floor_s ({method}): {:.2} / {:.2} = {:.2} (target <= 1.3)",
        run.wall.as_secs_f64(),
        floor.as_secs_f64(),
        run.wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "export.wall / (history + replies floors summed): {:.2}",
        run.wall.as_secs_f64() / tier3_sum.as_secs_f64()
    );
    println!(
        "export.http_429_share: {:.4} ({limited} of {total})",
        limited as f64 / total.max(1) as f64
    );
    Ok(())
}

/// Peak memory exporting one channel of 500k messages (text format, the one that reorders most).
fn memory() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let shape = Shape {
        top_level: 499_700,
        thread_every: 5_000,
        replies: 3,
    };
    let ws = dir.path().join("ws.json");
    let ids = write_workspace(&ws, 1, shape)?;
    let sim = start_sim(dir.path(), &ws, &[])?;
    let run = run_measured(export_command(
        &sim.base_url,
        dir.path(),
        "off",
        &[ids[0].as_str(), "--format", "text"],
    ))?;
    let lines = std::fs::read_to_string(dir.path().join("out/bench-0.txt"))?
        .lines()
        .count();
    println!(
        "export.big_channel_messages: {} (text lines written: {lines})",
        shape.total()
    );
    println!(
        "export.big_channel_peak_mib (VmHWM, target < 100): {:.1}",
        run.peak_mib
    );
    println!(
        "export.big_channel_wall_s: {:.1} ({:.0} messages/s)",
        run.wall.as_secs_f64(),
        shape.total() as f64 / run.wall.as_secs_f64()
    );
    Ok(())
}
