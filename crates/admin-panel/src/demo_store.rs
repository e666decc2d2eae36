//! `--demo`: fills a demo store by running the real tools (found next to this executable) against
//! the built-in demo workspace served by an in-process slack-sim: an audit, add-members closing
//! some of the gaps it found, a second audit (so there is a change) that posts its summary notification,
//! an insight sync, an export, and a tg-admin removal in the demo Telegram account. The same sequence is what the concurrency test runs while the
//! panel is under load.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use cli_support::UsageError;

/// The tools the demo runs, in order, with their arguments (besides the shared settings).
pub const STEPS: &[(&str, &[&str])] = &[
    ("slack-audit", &[]),
    // Only some of the gaps, so the second run shows both a change and gaps that remain.
    (
        "add-members",
        &[
            "--from-audit",
            "--channels",
            "bitsafe-globex,bitsafe-initech",
            "--yes",
        ],
    ),
    ("slack-audit", &["--notify", "bitsafe-internal-ops"]),
    ("insight-sync", &[]),
    ("slack-export", &["bitsafe-acme"]),
    // tg-admin's own demo account (a copy under --out): a former colleague removed from the
    // groups we may remove from, so the Activity page's Telegram list has operations.
    ("tg-admin", &["--demo", "remove-user", "nftaddie", "--yes"]),
];

/// Where a sibling tool binary sits: next to the current executable (in a test, one directory up
/// from `deps/`).
pub fn tool_path(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating admin-panel's own executable")?;
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let candidate = d.join(&file);
        if candidate.is_file() {
            return Ok(candidate);
        }
        // Only look one level up (target/debug/deps -> target/debug).
        if d.file_name().is_some_and(|n| n == "deps") {
            dir = d.parent();
        } else {
            break;
        }
    }
    Err(UsageError::new(format!(
        "--demo runs {name}, which is not installed next to {}",
        exe.display()
    ))
    .with_hint("build or install the whole workspace (cargo build --workspace, or cargo install each tool into the same directory)")
    .into())
}

/// Runs one tool against the sim at `base_url`, with the demo config in `config` and the store
/// `db`; outputs go under `out`. Fails with the tool's stderr when it does not exit 0.
pub fn run_tool(
    name: &str,
    args: &[&str],
    base_url: &str,
    config: &Path,
    db: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let output = Command::new(tool_path(name)?)
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .env("SLACK_API_BASE", base_url)
        .env("SLACK_TOKEN", demo::DEMO_TOKEN)
        .env("SLACK_USER_TOKEN", demo::DEMO_TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("TELEGRAM_FIXTURE")
        .env_remove("TELEGRAM_SESSION")
        .current_dir(out)
        .output()
        .with_context(|| format!("running {name}"))?;
    if !output.status.success() {
        bail!(
            "{name} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Runs every step of [`STEPS`] against the demo sim `env` (a fresh one), filling `db`. The sim
/// stays up afterwards: the panel's own audit runs use it.
pub async fn fill(env: &demo::DemoEnv, db: &Path, out: &Path) -> anyhow::Result<()> {
    let base = env.sim.base_url();
    let config = env.config_dir.clone();
    // The tools run in `out`, so relative paths would point elsewhere for them (a PostgreSQL
    // URL is no path, and is passed on as it is).
    let db = match store::Location::parse(db) {
        Ok(store::Location::Postgres(_)) => db.to_path_buf(),
        _ => std::path::absolute(db).context("resolving --db")?,
    };
    let out = std::path::absolute(out).context("resolving --out")?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        for (name, args) in STEPS {
            run_tool(name, args, &base, &config, &db, &out)?;
        }
        Ok(())
    })
    .await
    .context("demo task")?
}
