//! What the coverage audit needs from Telegram: the account's groups (not broadcast channels),
//! optionally only those shared with one user, each with its participants fetched exactly once.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::api::TelegramApi;
use crate::error::TelegramError;
use crate::types::{ChatKind, TgUser};

/// Participant lists fetched at once; Telegram's flood limits, not this, should bound a large run.
pub const AUDIT_CONCURRENCY: usize = 4;

/// A group in audit scope with everyone in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditGroup {
    pub id: i64,
    pub title: String,
    pub kind: ChatKind,
    pub participants: Vec<TgUser>,
}

/// A Telegram user in the shape identity matching wants (`roster::PlatformUser`-like): a stable id,
/// the handle team.json lists (username) and the display name "first last".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformIdentity {
    pub id: String,
    pub username: Option<String>,
    pub display_name: String,
}

impl From<&TgUser> for PlatformIdentity {
    fn from(u: &TgUser) -> Self {
        PlatformIdentity {
            id: u.id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name(),
        }
    }
}

/// Groups and supergroups of the account (broadcast channels left out), restricted to those where
/// `shared_with` (a username or id) is also a participant when given. Participant lists are fetched
/// once per group, `AUDIT_CONCURRENCY` at a time; dialog order is kept.
pub async fn groups_for_audit(
    api: &dyn TelegramApi,
    shared_with: Option<&str>,
) -> Result<Vec<AuditGroup>, TelegramError> {
    let chats = api.dialogs().await?;
    let groups: Vec<AuditGroup> =
        futures::stream::iter(chats.into_iter().filter(|c| c.kind != ChatKind::Channel))
            .map(|chat| async move {
                let participants = api.participants(chat.id).await?;
                Ok::<_, TelegramError>(AuditGroup {
                    id: chat.id,
                    title: chat.title,
                    kind: chat.kind,
                    participants: participants.into_iter().map(|p| p.user).collect(),
                })
            })
            .buffered(AUDIT_CONCURRENCY)
            .try_collect()
            .await?;
    let Some(who) = shared_with else {
        return Ok(groups);
    };
    // "Shared with X": both our account and X are participants.
    let me = api.me().await?;
    Ok(groups
        .into_iter()
        .filter(|g| {
            g.participants.iter().any(|u| u.id == me.id)
                && g.participants.iter().any(|u| u.matches(who))
        })
        .collect())
}
