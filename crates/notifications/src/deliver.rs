//! Posting a logged notification exactly once.
//!
//! Each post carries Slack message `metadata` naming the notification (event type
//! [`METADATA_EVENT_TYPE`], payload `{notification_id, created_at}`). A refusal from Slack (an
//! `ok: false` answer) means nothing was posted. A 429 means nothing was posted either. Any other
//! failure (a 5xx, a reset or cut-off answer) may follow a post Slack took, so before sending again
//! the channel's recent history is searched for the notification's mark.

use std::time::Duration;

use serde_json::{Value, json};
use slack_client::{ConversationType, Error as SlackError, ListConversations, SlackClient};
use store::Store;
use store::audit::{NotificationRow, NotificationStatus};
use store::notifications::{NewNotification, NotificationEntry};
use tracing::{info, warn};

use crate::event::Event;
use crate::render::Message;

/// `metadata.event_type` of every notification the tools post.
pub const METADATA_EVENT_TYPE: &str = "slack_tools_notification";
/// Sends in all, counting the first.
const MAX_ATTEMPTS: u32 = 4;
/// How many of the channel's newest messages are searched for a notification's mark.
const HISTORY_WINDOW: u32 = 50;

/// Delivery timing (tests shorten the wait).
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Wait before a resend; doubled each time.
    pub first_backoff: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// Logs `message` for `event` to `channel` and posts it. Returns the final log row (`delivered`
/// or `failed`); only store errors are `Err`.
pub async fn send(
    client: &SlackClient,
    store: &mut Store,
    event: Event,
    channel: &str,
    message: &Message,
    run_id: Option<i64>,
    delivery: Delivery,
) -> Result<NotificationRow, store::StoreError> {
    let blocks = message.blocks.to_string();
    let id = store.notification_log(&NewNotification {
        event: event.as_str(),
        channel,
        text: &message.text,
        blocks: &blocks,
        template: message.source,
        priority: message.priority.as_str(),
        run_id,
    })?;
    attempt(client, store, id, delivery).await
}

/// Sends logged notification `id` (new, or failed before) until Slack has it once, or gives up.
pub async fn attempt(
    client: &SlackClient,
    store: &mut Store,
    id: i64,
    delivery: Delivery,
) -> Result<NotificationRow, store::StoreError> {
    let entry = store
        .notification_entry(id)?
        .ok_or(store::StoreError::NotFound {
            what: "notification",
            id,
        })?;
    let metadata = json!({
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"notification_id": id, "created_at": store::format_time(entry.created_at)},
    });
    let text = entry.text.clone().unwrap_or_default();
    let blocks: Option<Value> = entry
        .blocks
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    let channel = entry.channel.clone();

    // A failed notification may have reached Slack after all (its last failure may have been
    // unclear): sent again only once the channel is known not to have it.
    if entry.status == NotificationStatus::Failed {
        match find_posted(client, &channel, &entry).await {
            Ok(None) => {}
            Ok(Some(ts)) => {
                store.notification_update_status(id, NotificationStatus::Sending, None, None)?;
                return store.notification_update_status(
                    id,
                    NotificationStatus::Delivered,
                    None,
                    Some(&ts),
                );
            }
            Err(e) => {
                let why = format!(
                    "the channel could not be checked for it ({e}), so it was not sent again"
                );
                warn!("notification {id}: {why}");
                store.notification_update_status(id, NotificationStatus::Sending, None, None)?;
                return store.notification_update_status(
                    id,
                    NotificationStatus::Failed,
                    Some(&why),
                    None,
                );
            }
        }
    }

    let mut backoff = delivery.first_backoff;
    let mut sends = 0;
    loop {
        sends += 1;
        store.notification_update_status(id, NotificationStatus::Sending, None, None)?;
        let error = match client
            .post_message_with_metadata(&channel, &text, blocks.clone(), Some(metadata.clone()))
            .await
        {
            Ok(posted) => {
                info!(
                    "notification {id} ({}) posted to {channel}",
                    entry.event.as_deref().unwrap_or("summary")
                );
                return store.notification_update_status(
                    id,
                    NotificationStatus::Delivered,
                    None,
                    Some(&posted.ts),
                );
            }
            Err(e) => e,
        };
        let message = error.to_string();
        match kind(&error) {
            Failure::Refused => {
                warn!("could not post notification {id} to {channel}: {message}");
                return store.notification_update_status(
                    id,
                    NotificationStatus::Failed,
                    Some(&message),
                    None,
                );
            }
            Failure::NotPosted => {}
            Failure::Unclear => match find_posted(client, &channel, &entry).await {
                Ok(Some(ts)) => {
                    info!("notification {id}: {message}, but the channel has it; not sent again");
                    return store.notification_update_status(
                        id,
                        NotificationStatus::Delivered,
                        None,
                        Some(&ts),
                    );
                }
                Ok(None) => {}
                Err(lookup) => {
                    // Unknown whether it was posted: sending again could post it twice.
                    let why = format!(
                        "{message}; the channel could not be checked for it ({lookup}), so it was not sent again"
                    );
                    warn!("notification {id}: {why}");
                    return store.notification_update_status(
                        id,
                        NotificationStatus::Failed,
                        Some(&why),
                        None,
                    );
                }
            },
        }
        if sends >= MAX_ATTEMPTS {
            warn!("giving up on notification {id} after {sends} sends: {message}");
            return store.notification_update_status(
                id,
                NotificationStatus::Failed,
                Some(&message),
                None,
            );
        }
        warn!(
            "posting notification {id} to {channel} failed ({message}); sending again in {backoff:?}"
        );
        store.notification_update_status(id, NotificationStatus::Retrying, Some(&message), None)?;
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

enum Failure {
    /// Slack answered and refused: nothing posted, sending again would be refused again.
    Refused,
    /// Certainly not posted (rate limited): safe to send again.
    NotPosted,
    /// Maybe posted: check the channel before sending again.
    Unclear,
}

fn kind(e: &SlackError) -> Failure {
    match e {
        SlackError::RateLimited { .. } | SlackError::RetryAfterTooLong { .. } => Failure::NotPosted,
        SlackError::Http { .. }
        | SlackError::Transport { .. }
        | SlackError::Decode { .. }
        | SlackError::BodyTooLarge { .. } => Failure::Unclear,
        _ => Failure::Refused,
    }
}

/// The `ts` of the message in `channel` marked as notification `entry`, if the channel's recent
/// history has it.
async fn find_posted(
    client: &SlackClient,
    channel: &str,
    entry: &NotificationEntry,
) -> Result<Option<String>, SlackError> {
    let id = channel_id(client, channel).await?;
    let created = store::format_time(entry.created_at);
    let messages = client
        .recent_messages_with_metadata(&id, HISTORY_WINDOW)
        .await?;
    Ok(messages.iter().find_map(|m| {
        let meta = m.get("metadata")?;
        let payload = meta.get("event_payload")?;
        (meta.get("event_type")?.as_str()? == METADATA_EVENT_TYPE
            && payload.get("notification_id")?.as_i64()? == entry.id
            && payload.get("created_at")?.as_str()? == created)
            .then(|| m.get("ts")?.as_str().map(str::to_string))?
    }))
}

/// conversations.history takes IDs only; chat.postMessage also takes names.
async fn channel_id(client: &SlackClient, channel: &str) -> Result<String, SlackError> {
    let name = channel.trim_start_matches('#');
    // Channel names are lower case, so an upper-case word starting like an ID is one.
    let looks_like_id = matches!(name.as_bytes().first(), Some(b'C' | b'G' | b'D'))
        && name.len() > 1
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if looks_like_id {
        return Ok(name.to_string());
    }
    let all = client
        .all_conversations(ListConversations {
            types: vec![
                ConversationType::PublicChannel,
                ConversationType::PrivateChannel,
            ],
            exclude_archived: true,
        })
        .await?;
    all.into_iter()
        .find(|c| c.name == name)
        .map(|c| c.id)
        .ok_or_else(|| SlackError::Api {
            method: "conversations.list".into(),
            code: "channel_not_found".into(),
            channel: Some(name.to_string()),
            user_errors: Vec::new(),
        })
}
