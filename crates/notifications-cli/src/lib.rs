//! The `notifications` tool over the `notifications` library: `list` the delivery log,
//! `--retry-failed` (each failed notification sent again, exactly once), and `test EVENT`
//! (render an event with sample context and post it, or print it with `--dry-run`).

use std::io::Write;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use notifications::{Delivery, Event, NotificationsConfig};
use roster::ConfigError;
use roster::text::terminal_safe;
use slack_client::{ClientConfig, SlackClient};
use store::Store;
use store::audit::NotificationStatus;
use store::notifications::NotificationEntry;

/// The notifications the tools send to Slack: their log, re-sending failed ones, and trying an
/// event's template.
#[derive(Parser, Debug)]
#[command(
    name = "notifications",
    version,
    after_help = "Exit codes: 0 done, 1 a notification could not be delivered, 2 usage or configuration error."
)]
pub struct Cli {
    /// Send every failed notification again (each is first looked for in its channel, so none
    /// is posted twice).
    #[arg(long)]
    pub retry_failed: bool,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The delivery log, newest first.
    List {
        /// Only notifications in this state.
        #[arg(long, value_parser = ["pending", "delivered", "failed"])]
        status: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Render EVENT with sample context (and the template from notifications.json) and post it.
    Test {
        /// audit_complete, audit_new_gaps, sync_failed, sync_complete, export_complete,
        /// members_added, telegram_session_expired or system_alert.
        event: String,
        /// Print the message (text and Block Kit JSON) instead of posting it.
        #[arg(long)]
        dry_run: bool,
        /// Post to this channel instead of the event's.
        #[arg(long, value_name = "CHANNEL")]
        notify: Option<String>,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> anyhow::Result<Outcome> {
    match (&cli.command, cli.retry_failed) {
        (Some(_), true) => Err(UsageError::new("--retry-failed is not combined with a subcommand")
            .with_hint("run `notifications --retry-failed` on its own")
            .into()),
        (None, false) => Err(UsageError::new("nothing to do")
            .with_hint("use `notifications list`, `notifications --retry-failed` or `notifications test EVENT`")
            .into()),
        (None, true) => retry_failed(&cli.common).await,
        (Some(Command::List { status, limit, json }), false) => {
            list(&cli.common, status.as_deref(), *limit, *json)
        }
        (Some(Command::Test { event, dry_run, notify }), false) => {
            test(&cli.common, event, *dry_run, notify.as_deref()).await
        }
    }
}

fn open_store(common: &CommonArgs) -> anyhow::Result<Store> {
    let path = common.db_path();
    Store::open(&path).with_context(|| format!("opening {}", store::shown_location(&path)))
}

fn client() -> anyhow::Result<SlackClient> {
    let cfg = ClientConfig::from_env().map_err(cli_support::slack_error)?;
    SlackClient::new(cfg).map_err(cli_support::slack_error)
}

/// A notifications.json problem: exit 2 with the file, the place and the fix.
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

fn entry_json(e: &NotificationEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "event": e.event,
        "channel": e.channel,
        "status": e.summary_status(),
        "state": e.status.as_str(),
        "attempts": e.attempts,
        "last_error": e.error,
        "ts": e.message_ts,
        "template": e.template,
        "priority": e.priority,
        "text": e.text,
        "run_id": e.run_id,
        "created_at": e.created_at.to_string(),
        "updated_at": e.updated_at.to_string(),
    })
}

fn list(
    common: &CommonArgs,
    status: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let store = open_store(common)?;
    let entries = store.notification_entries(status, limit)?;
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<_> = entries.iter().map(entry_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(Outcome::Success);
    }
    if entries.is_empty() {
        writeln!(out, "No notification stored.")?;
    }
    for e in &entries {
        writeln!(
            out,
            "#{} {} {} -> {} {} (attempts {}{}){}",
            e.id,
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.event.as_deref().unwrap_or("summary"),
            terminal_safe(&e.channel),
            e.summary_status(),
            e.attempts,
            e.message_ts
                .as_deref()
                .map(|t| format!(", ts {t}"))
                .unwrap_or_default(),
            e.error
                .as_deref()
                .map(|m| format!(": {}", terminal_safe(m)))
                .unwrap_or_default(),
        )?;
    }
    Ok(Outcome::Success)
}

async fn retry_failed(common: &CommonArgs) -> anyhow::Result<Outcome> {
    let mut store = open_store(common)?;
    let failed = store.notification_entries(Some("failed"), usize::MAX)?;
    let mut out = std::io::stdout().lock();
    if failed.is_empty() {
        writeln!(out, "No failed notification.")?;
        return Ok(Outcome::Success);
    }
    let client = client()?;
    let mut still_failed = 0;
    // Oldest first, as they happened.
    for e in failed.iter().rev() {
        let row = notifications::attempt(&client, &mut store, e.id, Delivery::default()).await?;
        let ok = row.status == NotificationStatus::Delivered;
        if !ok {
            still_failed += 1;
        }
        writeln!(
            out,
            "#{} -> {}: {}",
            e.id,
            terminal_safe(&e.channel),
            if ok {
                "delivered".to_string()
            } else {
                format!(
                    "failed ({})",
                    terminal_safe(row.error.as_deref().unwrap_or(""))
                )
            }
        )?;
    }
    Ok(if still_failed == 0 {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

async fn test(
    common: &CommonArgs,
    event: &str,
    dry_run: bool,
    notify: Option<&str>,
) -> anyhow::Result<Outcome> {
    let event: Event =
        event.parse().map_err(|e: notifications::UnknownEvent| {
            anyhow::Error::new(UsageError::new(e.to_string()).with_hint(
                "name one of the events listed, e.g. `notifications test audit_new_gaps`",
            ))
        })?;
    let config: NotificationsConfig =
        notifications::load_with_store(&common.config, &common.db_path()).map_err(config_error)?;
    let message = notifications::render(&config, event, &event.sample());
    let channels = match notify {
        Some(c) => vec![c.to_string()],
        None => config.channels(event),
    };
    let mut out = std::io::stdout().lock();
    if dry_run {
        writeln!(out, "event: {event} ({} template)", message.source)?;
        writeln!(out, "channels: {}", terminal_safe(&channels.join(", ")))?;
        writeln!(out, "priority: {}", message.priority.as_str())?;
        writeln!(out, "text:\n{}", terminal_safe(&message.text))?;
        writeln!(
            out,
            "blocks:\n{}",
            serde_json::to_string_pretty(&message.blocks)?
        )?;
        return Ok(Outcome::Success);
    }
    if channels.is_empty() {
        return Err(UsageError::new(format!("{event} has no channel"))
            .with_hint("pass --notify CHANNEL, or set the event's channels or default_channel in notifications.json")
            .into());
    }
    let client = client()?;
    let mut store = open_store(common)?;
    let mut failed = false;
    for channel in &channels {
        let row = notifications::send(
            &client,
            &mut store,
            event,
            channel,
            &message,
            None,
            Delivery::default(),
        )
        .await?;
        if row.status == NotificationStatus::Delivered {
            writeln!(out, "#{} -> {}: delivered", row.id, terminal_safe(channel))?;
        } else {
            failed = true;
            writeln!(
                out,
                "#{} -> {}: failed ({})",
                row.id,
                terminal_safe(channel),
                terminal_safe(row.error.as_deref().unwrap_or(""))
            )?;
        }
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
