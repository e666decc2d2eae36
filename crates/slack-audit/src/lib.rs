//! `slack-audit`: the weekly customer-group coverage audit. The run itself (scan, audit,
//! reports, history, notification) is the `audit-run` crate, shared with the admin panel; this
//! crate turns flags into its settings, prints the summary and keeps `history`.
//!
//! `main.rs` only parses [`Cli`] and calls [`run`]; an audit run is [`run_audit`].

mod history;
mod print;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use audit_run::{RunError, RunPhase, RunProgress, RunSettings, TelegramSetting};
use clap::{Args, Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use indicatif::ProgressBar;
use roster::{ConfigError, Platform};

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

/// The store a run uses: `--db` (a file or a PostgreSQL URL), else `DATABASE_URL`, else
/// `<out>/slack-tools.db`; demo runs keep their own history (`<out>/slack-tools-demo.db`) so
/// trying the demo never mixes into the real trend. Show it only through `store::shown_location`.
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

/// A run-stopping failure with its fix; exit 2 when the fix is in the settings.
fn run_error(e: RunError) -> anyhow::Error {
    match e {
        RunError::Config(e) => config_error(e),
        e => {
            let (hint, usage) = (e.hint(), e.is_usage());
            cli_support::with_hint(e, hint, usage)
        }
    }
}

/// The run's settings from the flags: who started it is `cli`, or `demo` with `--demo`.
pub fn run_settings(common: &CommonArgs, args: &AuditArgs) -> RunSettings {
    let started_by = if common.demo { "demo" } else { "cli" };
    let mut settings = RunSettings::new(
        common.config.clone(),
        common.out.clone(),
        history_db(common),
        started_by,
    );
    settings.demo = common.demo;
    settings.skip_slack = args.skip_slack;
    if args.skip_telegram {
        settings.telegram = TelegramSetting::Skip;
    }
    settings.max_flood_wait = Duration::from_secs(args.max_flood_wait);
    settings.notify = args.notify.clone();
    settings
}

/// The Slack scan's progress bar on stderr (drawn only on a terminal); Telegram reports no
/// per-group progress (its FLOOD_WAIT countdowns go to stderr).
struct BarProgress {
    bar: ProgressBar,
}

impl RunProgress for BarProgress {
    fn phase(&self, phase: RunPhase) {
        if phase != RunPhase::Scanning {
            self.bar.finish_and_clear();
        }
    }

    fn groups_total(&self, platform: Platform, total: u64) {
        if platform == Platform::Slack {
            self.bar.set_length(total);
        }
    }

    fn group_done(&self, platform: Platform) {
        if platform == Platform::Slack {
            self.bar.inc(1);
        }
    }
}

/// One audit run from the command line: the run itself is `audit_run::run`; this prints its
/// summary (or `--json`) and maps the outcome to the exit code.
pub async fn run_audit(common: &CommonArgs, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let settings = run_settings(common, args);
    let progress = BarProgress {
        bar: cli_support::progress_bar(0, Platform::Slack.as_str()),
    };
    let report = audit_run::run(&settings, &progress)
        .await
        .map_err(run_error)?;
    if args.json {
        print::print_json(
            &report.run,
            report.changes.as_ref(),
            &report.reports,
            report.run_id,
        )?;
    } else {
        print::print_summary(&report.run, report.changes.as_ref(), &report.reports)?;
    }
    Ok(if !report.is_complete() {
        Outcome::Failed
    } else if args.fail_on_gaps && report.has_gaps() {
        Outcome::Gaps
    } else {
        Outcome::Success
    })
}
