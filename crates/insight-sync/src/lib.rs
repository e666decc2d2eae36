//! `insight-sync`: the scheduled half of the engagement pipeline. Pulls users, channels,
//! membership, messages, replies and reactions into the store under the privacy rules of
//! `insight.json`, keeps scrubbed raw snapshots, prunes by retention; `prune` and `purge-user`
//! subcommands for operators.

mod purge;

// The sync itself lives in `insight-collect` (shared with insight-report and the admin panel).
pub use insight_collect::{snapshot, snapshot_root, sync};

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use insight::InsightConfig;
use notifications::Event;
use store::Store;

pub use sync::{SyncError, SyncOptions, SyncSummary, lock};

/// Sync Slack engagement data (users, channels, membership, messages, replies, reactions) into the
/// store, under the privacy rules of insight.json. Meant for cron; prints one summary line.
#[derive(Parser, Debug)]
#[command(name = "insight-sync", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Backfill from this date (YYYY-MM-DD, in the configured timezone) instead of the window.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Print the summary as one JSON object on stdout instead of the cron line (sync only).
    #[arg(long)]
    pub json: bool,
    /// Delete the data of channels that left the scope now, instead of keeping it for
    /// unscoped_grace_days (sync only).
    #[arg(long)]
    pub prune_unscoped: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply retention now (what every sync does at its end).
    Prune,
    /// Remove every trace of a person: insight rows and aggregates, mentions in stored text, the
    /// slack-export spool, the add-members log, raw snapshots. Prints what was (or would be) removed.
    PurgeUser {
        /// Slack user ID (U...), email (looked up in Slack: the store keeps none), or username.
        user: String,
        /// Show what would be removed and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

fn config_error(e: insight::ConfigError) -> anyhow::Error {
    let hint = e.hint.clone();
    cli_support::with_hint(e, Some(hint), true)
}

/// Parses and runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    cli_support::load_dotenv()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> anyhow::Result<Outcome> {
    let demo = if cli.common.demo {
        Some(demo::DemoEnv::start().await?)
    } else {
        None
    };
    let config_dir = demo
        .as_ref()
        .map_or(cli.common.config.clone(), |d| d.config_dir.clone());
    let cfg = insight::load_config(&config_dir).map_err(config_error)?;
    let notify_config = notifications::load_with_store(&config_dir, &cli.common.db_path())
        .map_err(cli_support::config_error)?;
    let db = cli.common.db_path();
    let out = cli.common.out.clone();
    // Snapshots a killed run left half-written (`<out>/insight-raw/<day>/`): before a sync, prune
    // and purge-user alike.
    cli_support::remove_stale_temps(&out, 2)?;
    if cli.json && cli.command.is_some() {
        return Err(
            UsageError::new("--json applies to a sync, not to a subcommand")
                .with_hint("drop --json; prune and purge-user print plain lines")
                .into(),
        );
    }
    if cli.prune_unscoped && cli.command.is_some() {
        return Err(
            UsageError::new("--prune-unscoped applies to a sync, not to a subcommand")
                .with_hint("run insight-sync --prune-unscoped without a subcommand")
                .into(),
        );
    }
    match cli.command {
        Some(Command::Prune) => {
            let _lock = sync::lock(&db)?;
            let mut store = Store::open(&db)?;
            let (rows, files) = sync::prune(&mut store, &cfg, &out)?;
            // writeln!, not println!: a closed pipe is an error to report, not a panic.
            writeln!(
                std::io::stdout(),
                "insight-sync prune: rows={rows} files={files}"
            )?;
            return Ok(Outcome::Success);
        }
        Some(Command::PurgeUser { user, dry_run, yes }) => {
            let slack = || match &demo {
                Some(d) => d.client(),
                None => token_vault::client_config(&db)
                    .and_then(slack_client::SlackClient::new)
                    .map_err(cli_support::slack_error),
            };
            return purge::purge_user(&db, &out, &user, slack, dry_run, yes).await;
        }
        None => {}
    }
    let since = cli
        .since
        .as_deref()
        .map(|s| parse_since(s, &cfg))
        .transpose()?;
    let client = match &demo {
        Some(d) => d.client()?,
        None => token_vault::client_config(&db)
            .and_then(slack_client::SlackClient::new)
            .map_err(cli_support::slack_error)?,
    };
    let synced = sync::sync(
        &client,
        &cfg,
        &SyncOptions {
            db: db.clone(),
            out,
            config_dir,
            since,
            prune_unscoped: cli.prune_unscoped,
        },
    )
    .await;
    let (event, ctx) = match &synced {
        Ok(s) => (
            Event::SyncComplete,
            notifications::context([
                ("channels", s.channels.to_string()),
                ("users", s.users.to_string()),
                ("events", s.events.to_string()),
                ("failed_channels", s.failed_channels.len().to_string()),
                ("tool", "insight-sync".into()),
            ]),
        ),
        Err(e) => (
            Event::SyncFailed,
            notifications::context([("error", e.to_string()), ("tool", "insight-sync".into())]),
        ),
    };
    notifications::emit_for_tool(&client, &db, &notify_config, event, &ctx).await;
    let summary = synced.map_err(|e| {
        let (hint, usage) = (e.hint(), e.is_usage());
        cli_support::with_hint(e, hint, usage)
    })?;
    if cli.json {
        writeln!(std::io::stdout(), "{}", summary_json(&summary)?)?;
    } else {
        writeln!(std::io::stdout(), "{summary}")?;
    }
    Ok(if summary.failed_channels.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `--json`: the summary's fields plus `status` ("ok" or "partial", as the cron line says),
/// pretty-printed like every tool's `--json`.
fn summary_json(summary: &SyncSummary) -> anyhow::Result<String> {
    let mut doc = serde_json::Map::new();
    let status = if summary.failed_channels.is_empty() {
        "ok"
    } else {
        "partial"
    };
    doc.insert("status".into(), status.into());
    if let serde_json::Value::Object(fields) = serde_json::to_value(summary)? {
        doc.extend(fields);
    }
    Ok(serde_json::to_string_pretty(&doc)?)
}

fn parse_since(s: &str, cfg: &InsightConfig) -> anyhow::Result<jiff::Timestamp> {
    let day: jiff::civil::Date = s.parse().map_err(|e| {
        UsageError::new(format!("--since {s:?} is not a date: {e}")).with_hint("use YYYY-MM-DD")
    })?;
    Ok(day.to_zoned(cfg.tz.clone())?.timestamp())
}
