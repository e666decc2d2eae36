//! A platform-neutral view of one exported chat (conversation, messages, attachments), for the
//! offline HTML archive renderer shared with slack-export: the coordinator maps these records to
//! that renderer's input, so `tg-admin export --format html` needs no Telegram-specific HTML.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use store::tg_export::TgStoredMessage;
use telegram::{Chat, TgMedia};

/// One conversation with its messages, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    /// `"telegram"`.
    pub source: &'static str,
    pub id: String,
    pub name: String,
    /// `group`, `supergroup` or `channel`.
    pub kind: String,
    pub messages: Vec<ArchivedMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedMessage {
    pub id: String,
    pub time: Timestamp,
    /// `None` for anonymous admins and channel posts (shown as the conversation).
    pub sender_id: Option<String>,
    pub sender_name: Option<String>,
    pub text: String,
    /// The message this one answers, when it is in the conversation.
    pub reply_to: Option<String>,
    /// The first message of the reply chain this message belongs to (its own id for a message
    /// that answers nothing in the export): threads are shown under this message.
    pub thread_root: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// `photo`, `video`, `document`, `voice`, `audio`, `video_note`, `sticker`, `animation`.
    pub kind: String,
    pub name: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    /// The downloaded copy, relative to `--out`.
    pub local_path: Option<String>,
    /// Why there is no copy.
    pub note: Option<String>,
}

/// The stored messages of `chat` (as `store::tg_export` returns them, by id) as a conversation.
pub fn conversation(chat: &Chat, stored: &[TgStoredMessage]) -> Conversation {
    let parent: HashMap<i64, Option<i64>> =
        stored.iter().map(|m| (m.message_id, m.reply_to)).collect();
    let root_of = |id: i64| {
        let mut cur = id;
        // Bounded: reply cycles cannot loop.
        for _ in 0..stored.len() {
            match parent.get(&cur).copied().flatten() {
                Some(p) if parent.contains_key(&p) => cur = p,
                _ => break,
            }
        }
        cur
    };
    // Stored messages come by id, which Telegram assigns in time order: already oldest first.
    let messages: Vec<ArchivedMessage> = stored
        .iter()
        .map(|m| ArchivedMessage {
            id: m.message_id.to_string(),
            time: m.at,
            sender_id: m.sender_id.map(|id| id.to_string()),
            sender_name: m.sender_name.clone(),
            text: m.text.clone(),
            reply_to: m
                .reply_to
                .filter(|p| parent.contains_key(p))
                .map(|p| p.to_string()),
            thread_root: root_of(m.message_id).to_string(),
            attachments: m
                .media
                .as_deref()
                .and_then(|j| serde_json::from_str::<TgMedia>(j).ok())
                .map(|media| Attachment {
                    kind: media.kind.as_str().to_owned(),
                    name: media.file_name,
                    mime_type: media.mime_type,
                    size: media.size,
                    local_path: m.media_path.clone(),
                    note: m.media_note.clone(),
                })
                .into_iter()
                .collect(),
        })
        .collect();
    Conversation {
        source: "telegram",
        id: chat.id.to_string(),
        name: chat.title.clone(),
        kind: chat.kind.as_str().to_owned(),
        messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telegram::ChatKind;

    fn msg(id: i64, reply_to: Option<i64>, media: Option<&str>) -> TgStoredMessage {
        TgStoredMessage {
            message_id: id,
            chat_title: "Acme".into(),
            at: Timestamp::from_second(1_800_000_000 + id * 60).expect("time"),
            sender_id: (id != 4).then_some(6),
            sender_name: (id != 4).then(|| "Addie Ng".to_owned()),
            sender_username: None,
            text: format!("m{id}"),
            reply_to,
            media: media.map(str::to_owned),
            media_path: media.map(|_| format!("Acme_media/{id}_photo.jpg")),
            media_note: None,
        }
    }

    #[test]
    fn threads_resolve_to_their_first_message_and_media_become_attachments() {
        let chat = Chat {
            id: -1001,
            title: "Acme".into(),
            kind: ChatKind::Supergroup,
        };
        let stored = vec![
            msg(1, None, None),
            msg(2, Some(1), Some(r#"{"kind": "photo", "size": 10}"#)),
            msg(3, Some(2), None),
            msg(4, Some(99), None),
        ];
        let c = conversation(&chat, &stored);
        assert_eq!(c.source, "telegram");
        assert_eq!(c.id, "-1001");
        let roots: Vec<&str> = c.messages.iter().map(|m| m.thread_root.as_str()).collect();
        assert_eq!(roots, ["1", "1", "1", "4"]);
        // A reply to a message outside the export is a thread of its own.
        assert_eq!(c.messages[3].reply_to, None);
        assert_eq!(c.messages[3].sender_id, None);
        assert_eq!(c.messages[2].reply_to.as_deref(), Some("2"));
        let a = &c.messages[1].attachments;
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, "photo");
        assert_eq!(a[0].size, Some(10));
        assert_eq!(a[0].local_path.as_deref(), Some("Acme_media/2_photo.jpg"));
        assert!(c.messages[0].attachments.is_empty());
    }
}
