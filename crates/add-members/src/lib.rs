//! add-members: bulk-invites team members into customer Slack channels after an audit, safely —
//! handles resolved first, a plan shown (or only shown, with `--dry-run`), one batched invite per
//! channel, every operation logged as it happens.
//!
//! The flow: [`run`] resolves HANDLEs ([`resolve`]), picks the channels ([`targets`]), reads their
//! membership into per-channel plans ([`plan`]), and carries the plans out ([`execute`]); [`output`]
//! renders the plan and the summary.

pub mod execute;
pub mod output;
pub mod plan;
pub mod resolve;
pub mod targets;

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Parser;
use cli_support::slack_error;
use cli_support::{CommonArgs, Hinted, Outcome, UsageError};
use futures::StreamExt;
use jiff::Timestamp;
use slack_client::{ListConversations, SlackClient};
use store::Store;
use store::invites::NewInviteRun;

use crate::execute::{Recorder, RunReport, StopFlag};
use crate::plan::ChannelPlan;
use crate::targets::AuditGaps;

/// Bulk-invite team members to customer Slack channels, dry-run first.
///
/// Each HANDLE (a team handle from team.json, or a Slack username, user ID or email) is resolved
/// to one Slack user; they are invited into every channel of the audit scope (or those chosen with
/// --channels) where they are missing, one conversations.invite call per channel.
#[derive(Parser, Debug)]
#[command(
    name = "add-members",
    version,
    after_help = "Exit codes: 0 all planned invites done, \
    1 an invite failed or the run stopped, 2 usage or configuration error."
)]
pub struct Cli {
    /// Team handles from team.json, or Slack usernames, user IDs or emails.
    #[arg(value_name = "HANDLE", required_unless_present = "from_audit")]
    pub handles: Vec<String>,

    /// Only these channels: names, IDs or globs such as 'bitsafe-a*' (repeat the flag or separate
    /// with commas). They narrow the audit scope from categories.json.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub channels: Vec<String>,

    /// Also add, per channel, the required members the latest stored audit found missing.
    #[arg(long)]
    pub from_audit: bool,

    /// Show the plan and make no change (no write call at all).
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,

    /// Do it without asking (needed when standard input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,

    /// Print one JSON document on stdout instead of the tables: the plan (with --dry-run, or when
    /// nothing is sent) or the results and counts by reason. Without --yes the plan to confirm
    /// goes to stderr.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Entry point of the binary: loads `.env`, builds the runtime, runs.
pub fn main(cli: Cli) -> anyhow::Result<Outcome> {
    cli_support::load_dotenv()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(cli))
}

/// `--json`: the one document on stdout, pretty-printed (as slack-audit does).
fn stdout_json(doc: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(doc)?;
    text.push('\n');
    stdout_write(&text)
}

fn stdout_write(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The gaps the latest stored audit found on Slack: channel ID -> missing required handles.
fn load_audit_gaps(db: &Path) -> anyhow::Result<(i64, AuditGaps)> {
    let store = Store::open(db)?;
    let Some(run) = store.latest_audit_run()? else {
        return Err(UsageError::new(format!(
            "--from-audit: no audit run is stored in {}",
            store::shown_location(db)
        ))
        .with_hint("run slack-audit first (with the same --db), or pass the handles to add")
        .into());
    };
    let mut gaps = AuditGaps::new();
    for f in store.audit_findings(run.id)? {
        if f.platform == "slack" && f.error.is_none() && !f.missing_required.is_empty() {
            gaps.entry(f.group_id)
                .or_default()
                .extend(f.missing_required);
        }
    }
    tracing::info!(
        "audit run {} ({}): {} channel(s) with missing required members",
        run.id,
        run.started_at,
        gaps.len()
    );
    Ok((run.id, gaps))
}

/// The command: plan, confirm, invite, summarise.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let demo = if cli.common.demo {
        Some(demo::DemoEnv::start().await?)
    } else {
        None
    };
    let (config_dir, client_config) = match &demo {
        Some(d) => (d.config_dir.clone(), d.client_config()),
        None => (
            cli.common.config.clone(),
            token_vault::client_config(&cli.common.db_path()).map_err(slack_error)?,
        ),
    };
    let config = roster::load(&config_dir).map_err(|e| UsageError::new(e.to_string()))?;
    let notify_config = notifications::load_with_store(&config_dir, &cli.common.db_path())
        .map_err(cli_support::config_error)?;
    let client = SlackClient::new(client_config).map_err(slack_error)?;
    let db_path = cli.common.db_path();

    let audit = if cli.from_audit {
        Some(load_audit_gaps(&db_path)?)
    } else {
        None
    };

    let (users, channels) = tokio::try_join!(
        client.all_users(),
        client.all_conversations(ListConversations::channels())
    )
    .map_err(slack_error)?;
    let directory = resolve::Directory::new(&config.team, &users);
    let invitees = directory.resolve_args(&cli.handles)?;
    let targets = targets::select(
        &channels,
        &config.categories,
        &cli.channels,
        &invitees,
        audit.as_ref().map(|(_, g)| g),
        &|h| directory.resolve_team_handle(h),
    )?;
    if targets.is_empty() {
        tracing::info!("no channel in scope has anyone to add");
        if cli.json {
            stdout_json(&output::plan_json(&[], cli.dry_run))?;
        } else {
            stdout_write("Nothing to do: no channel in scope.\n")?;
        }
        return Ok(Outcome::Success);
    }
    let target_count = targets.len() as u64;
    let mut planned = plan::spawn_planner(client.clone(), targets);

    let run_record = NewInviteRun {
        started_at: Timestamp::now(),
        handles: cli.handles.clone(),
        from_audit_run: audit.as_ref().map(|(id, _)| *id),
        channels_planned: target_count as i64,
        log_file: None,
    };
    let mut recorder = Recorder::new(&cli.common.out, &db_path, run_record);
    let stop = StopFlag::default();

    let report = if cli.yes {
        // Invites start while later channels' membership is still being read: the plan is shown
        // channel by channel in the results.
        stop.on_ctrl_c();
        let bar = cli_support::progress_bar(target_count, "inviting");
        let plans = futures::stream::poll_fn(move |cx| planned.poll_recv(cx)).boxed();
        execute::execute(&client, plans, &mut recorder, &stop, &bar).await?
    } else {
        let mut plans: Vec<ChannelPlan> = Vec::new();
        while let Some(p) = planned.recv().await {
            plans.push(p.map_err(slack_error)?);
        }
        let work = plans
            .iter()
            .any(|p| !p.to_add.is_empty() || p.problem.is_some());
        if cli.json {
            // stdout carries one document only; a plan still to be confirmed is shown on stderr.
            if work && !cli.dry_run {
                let mut err = std::io::stderr().lock();
                err.write_all(report::render_text(&output::plan_table(&plans), None).as_bytes())?;
                writeln!(err, "{}", output::plan_totals(&plans))?;
            }
        } else {
            stdout_write(&report::render_text(&output::plan_table(&plans), None))?;
            stdout_write(&format!("{}\n", output::plan_totals(&plans)))?;
        }
        let say = |text: &str| -> anyhow::Result<()> {
            if cli.json {
                stdout_json(&output::plan_json(&plans, cli.dry_run))
            } else {
                stdout_write(text)
            }
        };
        if cli.dry_run {
            say("Dry run: nothing was changed.\n")?;
            return Ok(Outcome::Success);
        }
        if !work {
            say("Nothing to do: everyone is in already.\n")?;
            return Ok(Outcome::Success);
        }
        if !cli_support::confirm("Send these invites?", false)? {
            say("Nothing was changed.\n")?;
            return Ok(Outcome::Declined);
        }
        stop.on_ctrl_c();
        let bar = cli_support::progress_bar(plans.len() as u64, "inviting");
        let stream = futures::stream::iter(plans.into_iter().map(Ok));
        execute::execute(&client, stream, &mut recorder, &stop, &bar).await?
    };
    // members_added once per run that added someone, when notifications.json enables it.
    let totals = report.totals();
    if totals.added > 0 {
        let with = |f: fn(&execute::ChannelResult) -> bool| {
            let names: Vec<&str> = report
                .channels
                .iter()
                .filter(|c| f(c))
                .map(|c| c.channel_name.as_str())
                .collect();
            names.join(", ")
        };
        let mut members: Vec<&str> = report
            .channels
            .iter()
            .flat_map(|c| c.added.iter().map(String::as_str))
            .collect();
        members.sort_unstable();
        members.dedup();
        let ctx = notifications::context([
            ("count", totals.added.to_string()),
            ("channels", with(|c| !c.added.is_empty())),
            ("members", members.join(", ")),
            ("failed", totals.failed.to_string()),
        ]);
        let added = notifications::Event::MembersAdded;
        notifications::emit_for_tool(&client, &db_path, &notify_config, added, &ctx).await;
    }
    finish(&report, target_count as usize, cli.json)
}

/// Prints the results and the summary and turns the report into the exit outcome.
fn finish(report: &RunReport, targets: usize, json: bool) -> anyhow::Result<Outcome> {
    if json {
        stdout_json(&output::result_json(report, targets))?;
    } else {
        print_summary(report, targets)?;
    }
    if report.interrupted {
        tracing::warn!(
            "stopped by Ctrl-C; rerun the same command to finish (it skips what is done)"
        );
    }
    if let Some(e) = &report.stopped_by {
        let hint = e.hint().unwrap_or_default();
        return Err(anyhow::Error::new(Hinted {
            message: format!("stopped: {e}"),
            hint,
            usage: false,
        }));
    }
    Ok(if report.succeeded() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// Results per channel, totals by reason and the one-line summary, as tables.
fn print_summary(report: &RunReport, targets: usize) -> anyhow::Result<()> {
    let touched = report
        .channels
        .iter()
        .any(|c| !(c.added.is_empty() && c.already_in.is_empty() && c.failed.is_empty()));
    if touched || !report.succeeded() {
        stdout_write(&report::render_text(&output::result_table(report), None))?;
        stdout_write("\n")?;
    }
    stdout_write(&report::render_text(&output::summary_table(report), None))?;
    let t = report.totals();
    let left = targets.saturating_sub(report.channels.len());
    let mut line = format!(
        "added {}, already in {}, skipped {}, failed {}",
        t.added, t.already_in, t.skipped, t.failed
    );
    if left > 0 {
        line.push_str(&format!("; {left} channel(s) not reached"));
    }
    if let Some(id) = report.run_id {
        line.push_str(&format!(" (run {id})"));
    }
    stdout_write(&format!("{line}\n"))?;
    Ok(())
}
