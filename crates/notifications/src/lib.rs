//! Notifications for every tool: an event with its context is rendered from
//! `config/notifications.json` (Block Kit plus the plain `text` fallback, user data escaped) and
//! posted to its channels exactly once, each step logged in the store. See docs/notifications.md.

pub mod config;
pub mod deliver;
pub mod event;
pub mod render;

pub use config::{EventRule, FILE, NotificationsConfig, Priority, load, load_with_store};
pub use deliver::{Delivery, METADATA_EVENT_TYPE, attempt, send};
pub use event::{Context, Event, UnknownEvent};
pub use render::{Message, NotifyMessage, render};

use slack_client::SlackClient;
use store::Store;
use store::audit::NotificationRow;

/// Sends `event` with `ctx` where `config` says, or to `notify` (a tool's `--notify CHANNEL`,
/// which overrides the channels and sends the event even when the file does not enable it).
/// Returns one log row per channel; none when the event is off and no `--notify` was given.
pub async fn emit(
    client: &SlackClient,
    store: &mut Store,
    config: &NotificationsConfig,
    event: Event,
    ctx: &Context,
    notify: Option<&str>,
    run_id: Option<i64>,
) -> Result<Vec<NotificationRow>, store::StoreError> {
    if !wanted(config, event, notify) {
        return Ok(Vec::new());
    }
    let message = render(config, event, ctx);
    emit_message(client, store, config, event, &message, notify, run_id).await
}

/// [`emit`] with a message the tool rendered itself (`slack-audit --notify`'s built-in summary).
pub async fn emit_message(
    client: &SlackClient,
    store: &mut Store,
    config: &NotificationsConfig,
    event: Event,
    message: &Message,
    notify: Option<&str>,
    run_id: Option<i64>,
) -> Result<Vec<NotificationRow>, store::StoreError> {
    let channels = match notify {
        Some(c) => vec![c.to_string()],
        None if config.enabled(event).is_some() => config.channels(event),
        None => return Ok(Vec::new()),
    };
    let mut rows = Vec::new();
    for channel in channels {
        rows.push(
            send(
                client,
                store,
                event,
                &channel,
                message,
                run_id,
                Delivery::default(),
            )
            .await?,
        );
    }
    Ok(rows)
}

/// Whether `event` would be sent (enabled in the file, or `--notify` given): tools skip building
/// a Slack client and context otherwise.
pub fn wanted(config: &NotificationsConfig, event: Event, notify: Option<&str>) -> bool {
    notify.is_some() || config.enabled(event).is_some()
}

/// A tool's hook at its end: when `config` enables `event`, sends it to the event's channels
/// (logged in the store at `db`). Returns the final log rows; a store that cannot be opened is
/// warned about and sends nothing: a notification never fails the tool's own work.
pub async fn emit_for_tool(
    client: &SlackClient,
    db: &std::path::Path,
    config: &NotificationsConfig,
    event: Event,
    ctx: &Context,
) -> Vec<NotificationRow> {
    if config.enabled(event).is_none() {
        return Vec::new();
    }
    let sent = match Store::open(db) {
        Ok(mut store) => emit(client, &mut store, config, event, ctx, None, None).await,
        Err(e) => Err(e),
    };
    sent.unwrap_or_else(|e| {
        tracing::warn!("{event} notification not sent: {e}");
        Vec::new()
    })
}

/// A context from `(name, value)` pairs.
pub fn context<K: Into<String>, V: ToString>(pairs: impl IntoIterator<Item = (K, V)>) -> Context {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.to_string()))
        .collect()
}
