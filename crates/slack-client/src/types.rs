//! Typed records for Slack's answers. Unknown fields are ignored; each record keeps the object exactly
//! as received in `raw` so exporters can write it losslessly.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` in Slack's JSON becomes the type's default instead of a decode error.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The answer of `auth.test`: who the token is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthTest {
    pub url: String,
    pub team: String,
    pub user: String,
    pub team_id: String,
    pub user_id: String,
    pub bot_id: Option<String>,
}

/// The workspace, from `team.info`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub domain: String,
    #[serde(skip)]
    pub raw: Value,
}

/// A user's profile fields the tools use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Profile {
    #[serde(deserialize_with = "null_default")]
    pub display_name: String,
    #[serde(deserialize_with = "null_default")]
    pub real_name: String,
    /// Present only with the `users:read.email` scope.
    pub email: Option<String>,
    pub title: Option<String>,
    pub image_72: Option<String>,
}

/// A workspace member from `users.list` / `users.info` (deleted and invited users included).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct User {
    pub id: String,
    /// The username (`name`), not the display name.
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub deleted: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_bot: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_restricted: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_ultra_restricted: bool,
    pub real_name: Option<String>,
    pub tz: Option<String>,
    pub tz_offset: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub profile: Profile,
    #[serde(skip)]
    pub raw: Value,
}

impl User {
    /// The name people see: display name, else real name, else username.
    pub fn display(&self) -> &str {
        [
            self.profile.display_name.as_str(),
            self.profile.real_name.as_str(),
        ]
        .into_iter()
        .chain(self.real_name.as_deref())
        .find(|s| !s.trim().is_empty())
        .unwrap_or(&self.name)
    }

    /// This user as the roster's identity matcher sees every platform's people: blank fields are
    /// absent, and the real name falls back from the profile to the top-level field. One mapping
    /// for every tool, so an identifier that matches in the audit matches in add-members and in
    /// insight's opt-out list too.
    pub fn platform_user(&self) -> roster::PlatformUser {
        let non_empty = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        roster::PlatformUser {
            id: self.id.clone(),
            username: non_empty(&self.name),
            display_name: non_empty(&self.profile.display_name),
            real_name: non_empty(&self.profile.real_name)
                .or_else(|| self.real_name.as_deref().and_then(non_empty)),
            email: self.profile.email.as_deref().and_then(non_empty),
            deleted: self.deleted,
        }
    }
}

/// `topic` / `purpose` objects: only their `value` matters.
#[derive(Deserialize)]
struct TextValue {
    #[serde(default)]
    value: Option<String>,
}

fn text_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<TextValue>::deserialize(d)?.and_then(|t| t.value))
}

/// A channel, private channel, DM or group DM.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Conversation {
    pub id: String,
    /// Empty for DMs (they have `user` instead).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub is_channel: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_group: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_im: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_mpim: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_private: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_archived: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_ext_shared: bool,
    #[serde(deserialize_with = "null_default")]
    pub is_shared: bool,
    pub num_members: Option<u64>,
    #[serde(deserialize_with = "null_default")]
    pub created: i64,
    pub creator: Option<String>,
    #[serde(deserialize_with = "text_value")]
    pub topic: Option<String>,
    #[serde(deserialize_with = "text_value")]
    pub purpose: Option<String>,
    /// The other party of a DM.
    pub user: Option<String>,
    #[serde(skip)]
    pub raw: Value,
}

/// One emoji reaction; `count` can exceed `users.len()` (Slack truncates the list).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Reaction {
    pub name: String,
    pub users: Vec<String>,
    pub count: u64,
}

/// The `edited` marker of a message.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Edited {
    pub user: String,
    pub ts: String,
}

/// A message from `conversations.history` or `.replies`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Message {
    /// The message's identity within its channel.
    pub ts: String,
    pub thread_ts: Option<String>,
    pub user: Option<String>,
    pub bot_id: Option<String>,
    pub username: Option<String>,
    pub subtype: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub text: String,
    #[serde(deserialize_with = "null_default")]
    pub reply_count: u64,
    #[serde(deserialize_with = "null_default")]
    pub reply_users: Vec<String>,
    pub latest_reply: Option<String>,
    pub parent_user_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub reactions: Vec<Reaction>,
    pub edited: Option<Edited>,
    #[serde(deserialize_with = "null_default")]
    pub files: Vec<Value>,
    /// The message exactly as received.
    #[serde(skip)]
    pub raw: Value,
}

impl Message {
    /// A thread parent with replies: `thread_ts == ts` and `reply_count > 0`.
    pub fn is_thread_parent(&self) -> bool {
        self.thread_ts.as_deref() == Some(self.ts.as_str()) && self.reply_count > 0
    }

    /// A reply inside a thread (its `thread_ts` points at another message).
    pub fn is_reply(&self) -> bool {
        self.thread_ts.as_deref().is_some_and(|t| t != self.ts)
    }
}

/// A message together with its JSON text, from [`crate::SlackClient::history_raw`] and
/// [`crate::SlackClient::replies_raw`]: the cheap way to copy messages losslessly, without a
/// `Value` tree per message.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    /// The typed fields. Its `raw` is left `Null`: the message is in `json`.
    pub message: Message,
    /// The message object's JSON text as it appeared in the answer (compact re-serialised JSON in
    /// the rare answers that had to go through the general decoder).
    pub json: String,
}

/// Records that keep their raw JSON next to the typed fields.
pub(crate) trait WithRaw: for<'de> Deserialize<'de> {
    fn set_raw(&mut self, raw: Value);
}

macro_rules! with_raw {
    ($($t:ty),*) => {$(
        impl WithRaw for $t {
            fn set_raw(&mut self, raw: Value) { self.raw = raw; }
        }
    )*};
}
with_raw!(Team, User, Conversation, Message);

/// Decodes one object into `T`, keeping the object as `raw`.
pub(crate) fn decode_with_raw<T: WithRaw>(value: Value) -> Result<T, serde_json::Error> {
    let mut typed: T = serde_json::from_value(value.clone())?;
    typed.set_raw(value);
    Ok(typed)
}

/// Conversation kinds for `conversations.list`'s `types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationType {
    PublicChannel,
    PrivateChannel,
    Mpim,
    Im,
}

impl ConversationType {
    /// Slack's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationType::PublicChannel => "public_channel",
            ConversationType::PrivateChannel => "private_channel",
            ConversationType::Mpim => "mpim",
            ConversationType::Im => "im",
        }
    }
}

/// What `conversations.list` should return. `Default` is Slack's default: public channels, archived
/// included.
#[derive(Debug, Clone)]
pub struct ListConversations {
    pub types: Vec<ConversationType>,
    /// Applied by Slack after a page is cut, so pages may come back short.
    pub exclude_archived: bool,
}

impl Default for ListConversations {
    fn default() -> Self {
        ListConversations {
            types: vec![ConversationType::PublicChannel],
            exclude_archived: false,
        }
    }
}

impl ListConversations {
    /// Public and private channels (the ones a customer-group audit looks at), archived included.
    pub fn channels() -> Self {
        ListConversations {
            types: vec![
                ConversationType::PublicChannel,
                ConversationType::PrivateChannel,
            ],
            exclude_archived: false,
        }
    }

    /// Every conversation kind.
    pub fn everything() -> Self {
        ListConversations {
            types: vec![
                ConversationType::PublicChannel,
                ConversationType::PrivateChannel,
                ConversationType::Mpim,
                ConversationType::Im,
            ],
            exclude_archived: false,
        }
    }
}

/// A window of Slack timestamps for history/replies. `Default` is everything. Bounds are exclusive
/// unless `inclusive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub oldest: Option<String>,
    pub latest: Option<String>,
    pub inclusive: bool,
}

/// The result of `conversations.invite`.
#[derive(Debug, Clone, Default)]
pub struct InviteOutcome {
    /// The channel as Slack returned it (absent if Slack omitted it).
    pub channel: Option<Conversation>,
    /// Per-user failures on an `ok: true` answer (with `force`, the valid users were still invited).
    pub user_errors: Vec<crate::UserError>,
}

/// Where `chat.postMessage` put the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_keeps_raw_and_tolerates_nulls_and_unknown_fields() {
        let v = json!({"type": "message", "ts": "1.000100", "thread_ts": "1.000100", "reply_count": 2,
            "text": null, "reactions": [{"name": "+1", "users": ["U1"], "count": 3}], "new_field": {"x": 1}});
        let m: Message = decode_with_raw(v.clone()).expect("decode");
        assert!(m.is_thread_parent());
        assert!(!m.is_reply());
        assert_eq!(m.text, "");
        assert_eq!(m.reactions[0].count, 3);
        assert_eq!(m.raw, v);
    }

    #[test]
    fn platform_user_drops_blanks_and_falls_back_to_the_top_level_real_name() {
        let u: User = decode_with_raw(json!({"id": "U1", "name": "ann", "deleted": true,
            "real_name": "Ann Lee", "profile": {"display_name": "  ", "real_name": "", "email": "a@x.io"}}))
        .expect("decode");
        let p = u.platform_user();
        assert_eq!(p.id, "U1");
        assert_eq!(p.username.as_deref(), Some("ann"));
        assert_eq!(p.display_name, None, "blank display name is absent");
        assert_eq!(p.real_name.as_deref(), Some("Ann Lee"));
        assert_eq!(p.email.as_deref(), Some("a@x.io"));
        assert!(p.deleted);
    }

    #[test]
    fn user_display_falls_back() {
        let u: User = decode_with_raw(json!({"id": "U1", "name": "ann", "tz": null,
            "profile": {"display_name": "", "real_name": "Ann Lee"}}))
        .expect("decode");
        assert_eq!(u.display(), "Ann Lee");
        let u: User =
            decode_with_raw(json!({"id": "U2", "name": "bob", "profile": {}})).expect("decode");
        assert_eq!(u.display(), "bob");
    }

    #[test]
    fn conversation_topic_is_its_value() {
        let c: Conversation = decode_with_raw(json!({"id": "C1", "name": "acme", "is_private": true,
            "topic": {"value": "Acme Corp", "creator": "U1", "last_set": 0}, "purpose": null, "created": 1700000000}))
        .expect("decode");
        assert_eq!(c.topic.as_deref(), Some("Acme Corp"));
        assert_eq!(c.purpose, None);
        assert!(c.is_private);
    }
}
