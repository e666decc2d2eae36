//! Typed records the Telegram backends produce: users, chats, participants, our rights, messages.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A Telegram user as the tools see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgUser {
    pub id: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

impl TgUser {
    /// "First Last", falling back to the username, then the numeric id.
    pub fn display_name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            name
        } else if let Some(u) = &self.username {
            format!("@{u}")
        } else {
            self.id.to_string()
        }
    }

    /// `@username` when there is one, else the display name; used in tables and logs.
    pub fn label(&self) -> String {
        match &self.username {
            Some(u) => format!("@{u}"),
            None => self.display_name(),
        }
    }

    /// Whether `query` names this user: `@name`/`name` (case-insensitive) or the numeric id.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim();
        if let Ok(id) = q.parse::<i64>() {
            return id == self.id;
        }
        let q = q.strip_prefix('@').unwrap_or(q);
        self.username
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(q))
    }
}

/// Kind of a chat: basic group, supergroup, or broadcast channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Group,
    Supergroup,
    Channel,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Group => "group",
            ChatKind::Supergroup => "supergroup",
            ChatKind::Channel => "channel",
        }
    }
}

/// One of the account's dialogs that is a group or channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chat {
    pub id: i64,
    pub title: String,
    pub kind: ChatKind,
}

/// Role of a participant in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Creator,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Creator => "creator",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// A participant of a chat with their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub user: TgUser,
    pub role: Role,
}

/// The logged-in account's own standing in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OurRights {
    pub role: Role,
    /// May remove (kick/ban) participants.
    pub can_ban: bool,
    /// May change the title and other chat info.
    pub can_change_info: bool,
}

/// A message of a chat's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TgMessage {
    pub id: i64,
    /// Sender; `None` for anonymous admins and channel posts.
    pub from: Option<TgUser>,
    pub date: Timestamp,
    pub text: String,
    pub reply_to: Option<i64>,
    /// The attached photo, video, file, voice note... (absent for plain text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<TgMedia>,
}

/// What kind of media a message carries (Telegram Desktop's export distinguishes the same kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Photo,
    Video,
    Document,
    Voice,
    Audio,
    VideoNote,
    Sticker,
    Animation,
}

impl MediaKind {
    /// Every kind, in the order `--media` lists them.
    pub const ALL: [MediaKind; 8] = [
        MediaKind::Photo,
        MediaKind::Video,
        MediaKind::Document,
        MediaKind::Voice,
        MediaKind::Audio,
        MediaKind::VideoNote,
        MediaKind::Sticker,
        MediaKind::Animation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Voice => "voice",
            MediaKind::Audio => "audio",
            MediaKind::VideoNote => "video_note",
            MediaKind::Sticker => "sticker",
            MediaKind::Animation => "animation",
        }
    }

    /// The kind named `name` (as [`MediaKind::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Media attached to a message, as Telegram describes it (the bytes are fetched separately with
/// `TelegramApi::download_media`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TgMedia {
    pub kind: MediaKind,
    /// The sender's file name (documents, videos, audio); photos and voice notes have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Size in bytes as Telegram reports it; a download is complete when it has this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: Option<&str>, first: Option<&str>, last: Option<&str>) -> TgUser {
        TgUser {
            id: 6,
            username: username.map(str::to_owned),
            first_name: first.map(str::to_owned),
            last_name: last.map(str::to_owned),
        }
    }

    #[test]
    fn matches_usernames_case_insensitively_and_ids() {
        let u = user(Some("NftAddie"), Some("Addie"), None);
        assert!(u.matches("nftaddie"));
        assert!(u.matches("@NFTADDIE"));
        assert!(u.matches("6"));
        assert!(!u.matches("7"));
        assert!(!u.matches("addie"));
        assert!(!user(None, Some("Addie"), None).matches("addie"));
    }

    #[test]
    fn display_name_falls_back() {
        assert_eq!(
            user(Some("a"), Some("Addie"), Some("Ng")).display_name(),
            "Addie Ng"
        );
        assert_eq!(user(Some("a"), None, None).display_name(), "@a");
        assert_eq!(user(None, Some(" "), None).display_name(), "6");
    }
}
