//! The simulated workspace's data model: team, users, conversations with members and messages, in
//! Slack's own shapes, plus the derived views (thread summaries, message timestamps) the sim computes.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SimError;

/// The whole simulated workspace; its JSON form is the `--workspace`/`--dump` file format
/// (see `docs/slack-sim.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workspace {
    pub team: Team,
    /// The user id the sim's token acts as (a user token, as the tools use).
    pub token_user: String,
    /// Member objects exactly as `users.list` returns them (`id`, `name`, `deleted`, `is_bot`,
    /// `profile`, ...). Kept as raw JSON so any field a test adds is served back unchanged.
    pub users: Vec<Value>,
    /// Every conversation: public and private channels, ims and mpims.
    pub channels: Vec<Channel>,
}

/// The team (workspace) identity answered by `team.info` and `auth.test`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub domain: String,
}

/// `topic` / `purpose` of a channel, as Slack shapes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TopicField {
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub last_set: i64,
}

/// One conversation with its membership and its messages.
///
/// `messages` are stored in Slack's shape, sorted by `ts`: a reply is its own message whose
/// `thread_ts` names the parent. Parent fields (`reply_count`, `reply_users`,
/// `reply_users_count`, `latest_reply`) and replies' `parent_user_id` are not stored: the sim
/// computes them from the replies on every answer, so they can never disagree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Channel {
    pub id: String,
    /// Channel name; for an im Slack has none, the sim keeps the other user's id here.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub is_general: bool,
    #[serde(default)]
    pub is_ext_shared: bool,
    #[serde(default)]
    pub is_shared: bool,
    #[serde(default)]
    pub is_im: bool,
    #[serde(default)]
    pub is_mpim: bool,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub topic: TopicField,
    #[serde(default)]
    pub purpose: TopicField,
    /// For an im: the other user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub messages: Vec<Value>,
}

/// The conversation type names Slack uses in `conversations.list?types=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Public,
    Private,
    Im,
    Mpim,
}

impl ChannelKind {
    /// The `types=` name of this kind.
    pub fn type_name(self) -> &'static str {
        match self {
            ChannelKind::Public => "public_channel",
            ChannelKind::Private => "private_channel",
            ChannelKind::Im => "im",
            ChannelKind::Mpim => "mpim",
        }
    }

    /// Parses one `types=` entry.
    pub fn from_type_name(s: &str) -> Option<Self> {
        match s {
            "public_channel" => Some(ChannelKind::Public),
            "private_channel" => Some(ChannelKind::Private),
            "im" => Some(ChannelKind::Im),
            "mpim" => Some(ChannelKind::Mpim),
            _ => None,
        }
    }

    /// The scope prefix Slack uses for this kind (`channels`, `groups`, `im`, `mpim`).
    pub fn scope_prefix(self) -> &'static str {
        match self {
            ChannelKind::Public => "channels",
            ChannelKind::Private => "groups",
            ChannelKind::Im => "im",
            ChannelKind::Mpim => "mpim",
        }
    }
}

/// What the sim derives about one thread from its replies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadSummary {
    pub reply_count: usize,
    /// Distinct repliers in order of their first reply.
    pub reply_users: Vec<String>,
    pub latest_reply: String,
}

impl Channel {
    /// The kind of this conversation.
    pub fn kind(&self) -> ChannelKind {
        if self.is_im {
            ChannelKind::Im
        } else if self.is_mpim {
            ChannelKind::Mpim
        } else if self.is_private {
            ChannelKind::Private
        } else {
            ChannelKind::Public
        }
    }

    /// Whether `user` may see this conversation: public channels are visible to everyone in the
    /// team, anything else only to its members (Slack answers `channel_not_found` otherwise).
    pub fn visible_to(&self, user: &str) -> bool {
        self.kind() == ChannelKind::Public || self.is_member(user)
    }

    /// Whether `user` is in the channel.
    pub fn is_member(&self, user: &str) -> bool {
        self.members.iter().any(|m| m == user)
    }

    /// Thread summaries keyed by parent `ts`, computed from the replies present now.
    pub fn thread_summaries(&self) -> HashMap<String, ThreadSummary> {
        let mut out: HashMap<String, ThreadSummary> = HashMap::new();
        for m in &self.messages {
            let (Some(ts), Some(thread_ts)) = (str_field(m, "ts"), str_field(m, "thread_ts"))
            else {
                continue;
            };
            if ts == thread_ts {
                continue;
            }
            let s = out.entry(thread_ts.to_string()).or_default();
            s.reply_count += 1;
            if let Some(u) = str_field(m, "user")
                && !s.reply_users.iter().any(|x| x == u)
            {
                s.reply_users.push(u.to_string());
            }
            if ts_key(ts) > ts_key(&s.latest_reply) {
                s.latest_reply = ts.to_string();
            }
        }
        out
    }

    /// Sorts messages by timestamp, the order every method relies on.
    pub fn sort_messages(&mut self) {
        self.messages
            .sort_by_key(|m| str_field(m, "ts").and_then(ts_key).unwrap_or(0));
    }

    /// The message with this `ts`, if any.
    pub fn message(&self, ts: &str) -> Option<&Value> {
        self.messages
            .iter()
            .find(|m| str_field(m, "ts") == Some(ts))
    }
}

impl Workspace {
    /// The member object of `id`, if any.
    pub fn user(&self, id: &str) -> Option<&Value> {
        self.users.iter().find(|u| str_field(u, "id") == Some(id))
    }

    /// The conversation with this id, if any.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The conversation with this id, mutable.
    pub fn channel_mut(&mut self, id: &str) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    /// Reads a workspace from its JSON file.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ws: Workspace = serde_json::from_str(&text).map_err(|source| SimError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        for c in &mut ws.channels {
            c.sort_messages();
        }
        Ok(ws)
    }

    /// Writes the workspace as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), SimError> {
        let text = serde_json::to_string_pretty(self).map_err(|source| SimError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The largest message `ts` anywhere, as microseconds; new messages are stamped after it.
    pub fn max_ts_micros(&self) -> u128 {
        self.channels
            .iter()
            .flat_map(|c| c.messages.iter())
            .filter_map(|m| str_field(m, "ts").and_then(ts_key))
            .max()
            .unwrap_or(0)
    }
}

/// A string field of a JSON object.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `v` as compact JSON text: the same bytes as its `Display`, written through serde_json's byte
/// writer, which costs markedly fewer instructions than going through `fmt`.
pub(crate) fn json_text<T: Serialize + std::fmt::Display>(v: &T) -> String {
    // Serialising a `Value` or a string cannot fail; `Display` is the same text either way.
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// Whether a message is a thread reply (its `thread_ts` names another message).
pub(crate) fn is_reply(m: &Value) -> bool {
    matches!((str_field(m, "ts"), str_field(m, "thread_ts")), (Some(a), Some(b)) if a != b)
}

/// A Slack timestamp (`"1700000000.000100"`, or a bare number of seconds) as microseconds, so
/// timestamps compare numerically rather than as strings.
pub fn ts_key(ts: &str) -> Option<u128> {
    let (secs, frac) = match ts.split_once('.') {
        Some((s, f)) => (s, f),
        None => (ts, ""),
    };
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u128 = secs.parse().ok()?;
    let mut frac6: String = frac.chars().take(6).collect();
    while frac6.len() < 6 {
        frac6.push('0');
    }
    let micros: u128 = frac6.parse().ok()?;
    Some(secs * 1_000_000 + micros)
}

/// Formats microseconds as a Slack timestamp.
pub fn format_ts(micros: u128) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_key_orders_numerically() {
        assert_eq!(ts_key("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_key("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(ts_key("1700000000.5"), Some(1_700_000_000_500_000));
        assert!(ts_key("99.1") < ts_key("100.0"));
        assert_eq!(ts_key("abc"), None);
        assert_eq!(format_ts(1_700_000_000_000_100), "1700000000.000100");
    }
}
