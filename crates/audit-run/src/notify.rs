//! `--notify CHANNEL`: posts the run summary with chat.postMessage (Block Kit message plus the
//! plain-text fallback Slack shows in notifications), logging every step in the store's
//! notifications table: queued → sending → delivered, or → retrying → sending … → failed.

use std::time::Duration;

use serde_json::{Value, json};
use slack_client::SlackClient;
use store::Store;
use store::audit::{NotificationRow, NotificationStatus};
use tracing::{info, warn};

/// Sends after the first one when Slack refused the post for its rate (never for other errors).
const MAX_ATTEMPTS: u32 = 3;
/// Wait before a resend; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// What the message says, filled in from the run.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyMessage {
    pub title: String,
    /// Lines of the summary (coverage, counts, changes).
    pub lines: Vec<String>,
    /// The worst gaps, one line each.
    pub gaps: Vec<String>,
}

impl NotifyMessage {
    /// The plain-text fallback (`text`): what notifications and screen readers show. Slack
    /// parses `text` like mrkdwn, so group names are escaped as in the blocks: a title holding
    /// `<!channel>` must not ping a whole channel.
    pub fn text(&self) -> String {
        let mut out = escape(&self.title);
        for l in &self.lines {
            out.push('\n');
            out.push_str(&escape(l));
        }
        if !self.gaps.is_empty() {
            out.push_str("\nWorst gaps:");
            for g in &self.gaps {
                out.push_str("\n• ");
                out.push_str(&escape(g));
            }
        }
        out
    }

    /// The Block Kit template: a header, the summary as a section, the gaps as a second section.
    pub fn blocks(&self) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&self.title, 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&escape(&self.lines.join("\n")), 3000)}}),
        ];
        if !self.gaps.is_empty() {
            let list: Vec<String> = self
                .gaps
                .iter()
                .map(|g| format!("• {}", escape(g)))
                .collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": truncate(&format!("*Worst gaps*\n{}", list.join("\n")), 3000)}}));
        }
        Value::Array(blocks)
    }
}

/// Slack mrkdwn control characters in user data (channel names, handles).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Block text limits are in characters; cut with an ellipsis rather than have the post refused.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Posts `message` to `channel`, logging each state in `store`. Returns the final log row (its
/// status is `delivered` or `failed`); only store errors are `Err`.
pub async fn send(
    client: &SlackClient,
    store: &mut Store,
    run_id: Option<i64>,
    channel: &str,
    message: &NotifyMessage,
) -> Result<NotificationRow, store::StoreError> {
    send_with_backoff(client, store, run_id, channel, message, FIRST_BACKOFF).await
}

pub(crate) async fn send_with_backoff(
    client: &SlackClient,
    store: &mut Store,
    run_id: Option<i64>,
    channel: &str,
    message: &NotifyMessage,
    first_backoff: Duration,
) -> Result<NotificationRow, store::StoreError> {
    let id = store.notification_create(run_id, channel)?;
    let text = message.text();
    let blocks = message.blocks();
    let mut backoff = first_backoff;
    let mut attempt = 1;
    loop {
        store.notification_update_status(id, NotificationStatus::Sending, None, None)?;
        match client
            .post_message(channel, &text, Some(blocks.clone()))
            .await
        {
            Ok(posted) => {
                info!("summary posted to {channel}");
                return store.notification_update_status(
                    id,
                    NotificationStatus::Delivered,
                    None,
                    Some(&posted.ts),
                );
            }
            Err(e) => {
                let error = e.to_string();
                // Only a rate refusal certainly means Slack did not post: any other failure may
                // follow a successful post, and a resend would post the summary twice.
                let retryable = matches!(e.code(), Some("ratelimited" | "rate_limited"));
                if retryable && attempt < MAX_ATTEMPTS {
                    warn!("posting to {channel} failed ({error}); retrying in {backoff:?}");
                    store.notification_update_status(
                        id,
                        NotificationStatus::Retrying,
                        Some(&error),
                        None,
                    )?;
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                    continue;
                }
                warn!("could not post the summary to {channel}: {error}");
                return store.notification_update_status(
                    id,
                    NotificationStatus::Failed,
                    Some(&error),
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> NotifyMessage {
        NotifyMessage {
            title: "Coverage audit: 80.0%".into(),
            lines: vec!["4 of 5 customer channels complete".into()],
            gaps: vec!["bitsafe-<acme> missing aki".into()],
        }
    }

    #[test]
    fn text_fallback_holds_every_line() {
        let t = message().text();
        assert_eq!(
            t,
            "Coverage audit: 80.0%\n4 of 5 customer channels complete\nWorst gaps:\n• bitsafe-&lt;acme&gt; missing aki"
        );
    }

    #[test]
    fn blocks_escape_user_data_and_keep_the_header_plain() {
        let b = message().blocks();
        assert_eq!(b[0]["type"], "header");
        assert_eq!(b[0]["text"]["text"], "Coverage audit: 80.0%");
        let gaps = b[2]["text"]["text"].as_str().unwrap_or_default();
        assert!(gaps.contains("bitsafe-&lt;acme&gt;"), "{gaps}");
    }

    #[test]
    fn long_text_is_cut_to_the_block_limit() {
        let long = "x".repeat(5000);
        let cut = truncate(&long, 3000);
        assert_eq!(cut.chars().count(), 3000);
        assert!(cut.ends_with('…'));
    }
}
