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

/// A Telegram user as identity matching sees them: the numeric id, the username team.json lists
/// under `telegram`, and "first last" as display (and real) name.
pub fn platform_user(u: &TgUser) -> roster::PlatformUser {
    let name = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name = (!name.is_empty()).then_some(name);
    roster::PlatformUser {
        id: u.id.to_string(),
        username: u.username.clone(),
        display_name: name.clone(),
        real_name: name,
        email: None,
        deleted: false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::FixtureBackend;

    const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk"},
 "users": [{"id": 6, "username": "Mojo_Onchain", "first_name": "Mo", "last_name": "Jo"},
           {"id": 7, "username": "other"}],
 "chats": [
  {"id": -1, "title": "shared", "kind": "supergroup", "participants": [{"user": 1000, "role": "admin"}, {"user": 6, "role": "member"}]},
  {"id": -2, "title": "not shared", "kind": "group", "participants": [{"user": 1000, "role": "member"}, {"user": 7, "role": "member"}]},
  {"id": -3, "title": "broadcast", "kind": "channel", "participants": [{"user": 1000, "role": "creator"}, {"user": 6, "role": "member"}]},
  {"id": -4, "title": "without us", "kind": "group", "participants": [{"user": 6, "role": "creator"}]}]}"#;

    #[tokio::test]
    async fn audit_groups_skip_channels_and_filter_by_shared_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.json");
        std::fs::write(&path, FIXTURE).expect("write");
        let api = FixtureBackend::open(path).expect("open");
        let all = groups_for_audit(&api, None).await.expect("all");
        let ids: Vec<i64> = all.iter().map(|g| g.id).collect();
        assert_eq!(ids, vec![-1, -2, -4]);
        let shared = groups_for_audit(&api, Some("@mojo_onchain"))
            .await
            .expect("shared");
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].title, "shared");
        assert_eq!(shared[0].participants.len(), 2);
    }

    #[test]
    fn platform_user_joins_first_and_last() {
        let u = TgUser {
            id: 6,
            username: Some("mojo".into()),
            first_name: Some("Mo".into()),
            last_name: Some("Jo".into()),
        };
        let p = platform_user(&u);
        assert_eq!(p.id, "6");
        assert_eq!(p.username.as_deref(), Some("mojo"));
        assert_eq!(p.display_name.as_deref(), Some("Mo Jo"));
        let bare = platform_user(&TgUser {
            id: 7,
            username: None,
            first_name: None,
            last_name: None,
        });
        assert_eq!(bare.display_name, None);
    }
}
