//! The Web API client against a separate slack-sim process: raw request throughput with rate limits
//! off, and wall time over the rate-limit floor for 500 `conversations.members` calls at scale 60.

use std::time::Instant;

use anyhow::Context;
use slack_client::{ClientConfig, ListConversations, SlackClient, rate_floor};

use crate::sim;

const TOKEN: &str = "xoxp-bench";

pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        throughput().await?;
        floor_ratio().await
    })
}

fn client(base_url: &str, scale: f64) -> anyhow::Result<SlackClient> {
    let mut cfg = ClientConfig::new(TOKEN, base_url);
    cfg.rate_scale = scale;
    Ok(SlackClient::new(cfg)?)
}

/// Requests per second with no limits anywhere: the cost of the client plus the sim on loopback.
async fn throughput() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sim = sim::start(
        &[
            "--users",
            "200",
            "--channels",
            "40",
            "--seed",
            "3",
            "--token",
            TOKEN,
        ],
        &dir.path().join("sim.jsonl"),
    )?;
    let client = client(&sim.base_url, 0.0)?;
    let channels = client
        .all_conversations(ListConversations::channels())
        .await?;
    let calls = 5_000usize;
    let started = Instant::now();
    let results = futures::future::join_all((0..calls).map(|i| {
        let c = client.clone();
        let id = channels[i % channels.len()].id.clone();
        async move { c.all_members(&id).await }
    }))
    .await;
    let took = started.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    println!(
        "client.requests_per_s (limits off, {calls} conversations.members, {} in flight): {:.0}",
        client_concurrency(),
        calls as f64 / took.as_secs_f64()
    );
    anyhow::ensure!(failed == 0, "{failed} calls failed");
    Ok(())
}

fn client_concurrency() -> usize {
    ClientConfig::new("x", "http://x").concurrency
}

/// 500 conversations.members calls at --rate-scale 60 / SLACK_RATE_SCALE=60.
async fn floor_ratio() -> anyhow::Result<()> {
    let scale = 60.0;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("sim.jsonl");
    let sim = sim::start(
        &[
            "--users",
            "200",
            "--channels",
            "40",
            "--seed",
            "3",
            "--token",
            TOKEN,
            "--rate-scale",
            "60",
        ],
        &log,
    )?;
    let client = client(&sim.base_url, scale)?;
    let channels = client
        .all_conversations(ListConversations::channels())
        .await?;
    let calls = 500u64;
    let started = Instant::now();
    let results = futures::future::join_all((0..calls as usize).map(|i| {
        let c = client.clone();
        let id = channels[i % channels.len()].id.clone();
        async move { c.all_members(&id).await }
    }))
    .await;
    let took = started.elapsed();
    anyhow::ensure!(results.iter().all(Result::is_ok), "some calls failed");
    let records = sim::read_log(&log).context("reading the sim log")?;
    let members: Vec<_> = records
        .iter()
        .filter(|r| r["method"] == "conversations.members")
        .collect();
    let answered_429 = members.iter().filter(|r| r["status"] == 429).count();
    let floor = rate_floor("conversations.members", calls, scale);
    println!(
        "client.members_500_at_scale_60: wall {:.2}s, floor {:.2}s, wall/floor {:.3} (target <= 1.2)",
        took.as_secs_f64(),
        floor.as_secs_f64(),
        took.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "client.members_500_429_share: {answered_429}/{} = {:.2}% (target <= 2%)",
        members.len(),
        100.0 * answered_429 as f64 / members.len().max(1) as f64
    );
    Ok(())
}
