//! `slack-audit`: the weekly customer-group coverage audit. Fetches the groups in scope from each
//! platform ([`GroupSource`]), runs the `audit` engine over them, writes the Excel/CSV reports,
//! records the run in the SQLite history, prints a summary and optionally posts it to Slack.
//!
//! `main.rs` only parses [`Cli`] and calls [`run`]; the audit itself is [`run_audit`].

pub mod engine;
mod history;
pub mod notify;
pub mod outputs;
pub mod slack;
pub mod source;
pub mod telegram;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use audit::{AuditResult, Changes};
use clap::{Args, Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use futures::TryFutureExt;
use indicatif::ProgressBar;
use jiff::Timestamp;
use roster::{AuditConfig, ConfigError, Platform};
use slack_client::{ClientConfig, SlackClient};
use store::Store;
use tracing::{error, info, warn};

pub use engine::AuditRun;
pub use slack::SlackSource;
pub use source::{GroupSource, PlatformScan, ScannedGroup, SourceError};
pub use telegram::{TelegramAccount, TelegramSource};

/// Checks that the required team members are in every customer channel, reports the gaps and
/// keeps a history of coverage (see docs/slack-audit.md).
#[derive(Parser, Debug)]
#[command(name = "slack-audit", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags of an audit run.
#[derive(Args, Debug, Clone, Default)]
pub struct AuditArgs {
    /// Print the summary and the groups as JSON on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 3 when any required member is missing from an audited group (for cron/CI).
    #[arg(long)]
    pub fail_on_gaps: bool,
    /// Do not audit Slack channels.
    #[arg(long)]
    pub skip_slack: bool,
    /// Do not audit Telegram groups.
    #[arg(long)]
    pub skip_telegram: bool,
    /// Longest Telegram FLOOD_WAIT (seconds) to sleep through; a longer one fails the Telegram
    /// part of the run (the Slack part is still reported).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub max_flood_wait: u64,
    /// After the run, post the summary to this Slack channel (name or ID).
    #[arg(long, value_name = "CHANNEL")]
    pub notify: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List past audit runs, newest first, with the coverage trend.
    History {
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print the runs as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command `cli` asks for.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::History { limit, json }) => {
            history::print_history(&history_db(&cli.common), limit, json)
        }
        None => {
            // Two workers: the work is network-bound, and the machine may be shared.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(run_audit(&cli.common, &cli.audit))
        }
    }
}

/// The database a run uses: `--db`, else `<out>/slack-tools.db`; demo runs keep their own
/// history (`<out>/slack-tools-demo.db`) so trying the demo never mixes into the real trend.
pub fn history_db(common: &CommonArgs) -> PathBuf {
    common.db_path()
}

/// A config-file problem: exit 2, with the file, the place in it and what to do.
fn config_error(e: ConfigError) -> anyhow::Error {
    let mut message = format!("{}: ", e.file.display());
    if let Some(location) = &e.location {
        message.push_str(location);
        message.push_str(": ");
    }
    message.push_str(&e.message);
    let mut usage = UsageError::new(message);
    usage.hint = e.hint;
    usage.into()
}

/// A run-stopping source failure (bad token, missing scope, missing settings, Telegram not
/// logged in) with its fix.
fn source_error(e: SourceError) -> anyhow::Error {
    let (hint, usage) = (e.hint(), e.is_usage());
    cli_support::with_hint(e, hint, usage)
}

/// "Changes since the previous run" over the platforms audited now: a platform skipped or
/// failed this time (or last time) does not show up as all its groups removed (or new), and the
/// coverage change is only given when both runs covered the same platforms.
fn changes_since(mut previous: AuditResult, current: &AuditResult) -> Changes {
    let now = &current.summary.platforms;
    let same_platforms = {
        let mut before = previous.summary.platforms.clone();
        let mut after = now.clone();
        before.sort();
        after.sort();
        before == after
    };
    previous.findings.retain(|f| now.contains(&f.platform));
    let before = &previous.summary.platforms;
    let mut changes = audit::diff(&previous, current);
    changes.new_groups.retain(|g| before.contains(&g.platform));
    changes.gaps_opened.retain(|g| before.contains(&g.platform));
    if !same_platforms {
        changes.coverage_delta = None;
    }
    changes
}

/// One audit run: load config, scan every source, audit, write reports and history, print the
/// summary, notify. Config problems stop it before anything is fetched or written.
pub async fn run_audit(common: &CommonArgs, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let started_at = Timestamp::now();
    let demo = if common.demo {
        Some(demo::DemoEnv::start().await?)
    } else {
        None
    };
    let config: AuditConfig = match &demo {
        Some(d) => roster::load(&d.config_dir).map_err(config_error)?,
        None => roster::load(&common.config).map_err(config_error)?,
    };

    // Which Telegram account, if any, before anything is fetched.
    let telegram_account = if args.skip_telegram {
        None
    } else if common.demo {
        Some(telegram::demo_account(&common.out).with_context(|| {
            format!(
                "copying the demo Telegram account under {}",
                common.out.display()
            )
        })?)
    } else {
        telegram::account_from_env()
    };
    let mut skipped = Vec::new();
    if args.skip_slack {
        skipped.push("Slack: skipped (--skip-slack)".to_string());
    }
    if args.skip_telegram {
        skipped.push("Telegram: skipped (--skip-telegram)".to_string());
    } else if telegram_account.is_none() {
        skipped.push("Telegram: skipped (not configured)".to_string());
    }
    if args.skip_slack && telegram_account.is_none() {
        let hint = if args.skip_telegram {
            "drop --skip-slack or --skip-telegram"
        } else {
            "drop --skip-slack, or configure Telegram (TELEGRAM_API_ID/TELEGRAM_API_HASH and `tg-admin login`, or TELEGRAM_FIXTURE)"
        };
        return Err(
            UsageError::new("nothing to audit: Slack and Telegram are both skipped")
                .with_hint(hint)
                .into(),
        );
    }

    let needs_slack = !args.skip_slack || args.notify.is_some();
    let client = if needs_slack {
        let cfg = match &demo {
            Some(d) => d.client_config(),
            None => ClientConfig::from_env().map_err(|e| source_error(e.into()))?,
        };
        Some(SlackClient::new(cfg).map_err(|e| source_error(e.into()))?)
    } else {
        None
    };
    let slack_source = client
        .as_ref()
        .filter(|_| !args.skip_slack)
        .map(|c| SlackSource::new(c.clone()));

    // Both platforms are scanned side by side: each is bounded by its own rate limits. A Slack
    // failure (bad token, missing scope) stops the run at once; a Telegram failure is reported
    // and the Slack part still written (see docs/slack-audit.md).
    let slack_scan = async {
        let Some(source) = &slack_source else {
            return Ok(None);
        };
        let bar = cli_support::progress_bar(0, Platform::Slack.as_str());
        let scan = source.scan(&config, &bar).await;
        bar.finish_and_clear();
        scan.map(Some)
    }
    .map_err(source_error);
    let max_flood_wait = Duration::from_secs(args.max_flood_wait);
    let telegram_scan = async {
        let account = telegram_account.as_ref()?;
        let scan = async {
            let source = TelegramSource::open(account, max_flood_wait).await?;
            // Telegram reports no per-group progress; its FLOOD_WAIT countdowns go to stderr.
            source.scan(&config, &ProgressBar::hidden()).await
        };
        Some(scan.await)
    };
    let (slack_scan, telegram_scan) =
        futures::try_join!(slack_scan, async { Ok(telegram_scan.await) })?;

    let mut scans: Vec<PlatformScan> = slack_scan.into_iter().collect();
    let mut telegram_failed = false;
    match telegram_scan {
        None => {}
        Some(Ok(scan)) => scans.push(scan),
        // Telegram was the only platform: nothing to report, the error is the outcome.
        Some(Err(e)) if scans.is_empty() => return Err(source_error(e)),
        Some(Err(e)) => {
            error!("the Telegram part of the audit failed; the report covers Slack only: {e}");
            let first_line = e.to_string().lines().next().unwrap_or_default().to_string();
            skipped.push(format!("Telegram: failed ({first_line})"));
            telegram_failed = true;
        }
    }
    for scan in &scans {
        info!(
            "{}: {} groups in scope of {} listed",
            scan.platform,
            scan.groups.len(),
            scan.listed
        );
    }
    if let Some(client) = &client {
        let stats = client.stats();
        info!(
            "Slack: {} requests, {} answered 429, {} retries",
            stats.requests, stats.http_429, stats.retries
        );
    }

    let run = engine::audit(&config, scans, skipped);
    // Only now that the audit succeeded is anything written.
    let db = history_db(common);
    let mut store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let previous = engine::previous_result(&store);
    let changes = previous.map(|p| changes_since(p, &run.result));
    let reports_dir = common.out.join(outputs::REPORTS_DIR);
    // Reports a killed run left half-written.
    cli_support::remove_stale_temps(&reports_dir, 0)?;
    let reports =
        outputs::write_reports(&reports_dir, started_at, &config, &run, changes.as_ref())?;
    let run_id = engine::record(&mut store, started_at, &run)?;

    if args.json {
        outputs::print_json(&run, changes.as_ref(), &reports, run_id)?;
    } else {
        outputs::print_summary(&run, changes.as_ref(), &reports)?;
    }

    let mut notify_failed = false;
    if let (Some(channel), Some(client)) = (&args.notify, &client) {
        let message = outputs::notify_message(&run, changes.as_ref());
        let row = notify::send(client, &mut store, Some(run_id), channel, &message).await?;
        if row.status != store::audit::NotificationStatus::Delivered {
            notify_failed = true;
        }
    }
    if let Some(d) = demo {
        d.shutdown().await;
    }

    let errors = run.group_errors();
    if errors > 0 {
        warn!("{errors} group(s) could not be read; the report lists them with their error");
    }
    Ok(if errors > 0 || notify_failed || telegram_failed {
        Outcome::Failed
    } else if args.fail_on_gaps && run.has_gaps() {
        Outcome::Gaps
    } else {
        Outcome::Success
    })
}
