//! Who and what IDs are: user and channel names from users.list / conversations.list, and Slack's
//! markup (`<@U…>`, `<#C…|name>`, `<!here>`, links, `&amp;` escapes) turned into readable text.

use std::collections::HashMap;
use std::sync::RwLock;

use slack_client::{Conversation, Message, User};

/// A user as the text export names them.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    deleted: bool,
}

/// Names for user, bot and channel IDs, built once per run.
#[derive(Debug, Default)]
pub struct Directory {
    users: HashMap<String, Person>,
    /// Bot IDs (`B…`) to the bot user's name, for bot posts without a `username`.
    bots: HashMap<String, String>,
    channels: HashMap<String, String>,
    /// People users.list did not return, looked up as the run goes (Slack Connect).
    extra: RwLock<HashMap<String, Person>>,
}

impl Directory {
    pub fn new(users: &[User], channels: &[Conversation]) -> Self {
        let mut dir = Directory::default();
        for u in users {
            dir.users.insert(
                u.id.clone(),
                Person {
                    name: u.display().to_string(),
                    deleted: u.deleted,
                },
            );
            if let Some(bot_id) = u
                .raw
                .get("profile")
                .and_then(|p| p.get("bot_id"))
                .and_then(|b| b.as_str())
            {
                dir.bots.insert(bot_id.to_string(), u.display().to_string());
            }
        }
        for c in channels {
            if !c.name.is_empty() {
                dir.channels.insert(c.id.clone(), c.name.clone());
            }
        }
        dir
    }

    /// Adds people users.list did not return (looked up with users.info).
    pub fn add_users(&self, users: &[User]) {
        let mut extra = self.extra.write().unwrap_or_else(|p| p.into_inner());
        for u in users {
            extra.insert(
                u.id.clone(),
                Person {
                    name: u.display().to_string(),
                    deleted: u.deleted,
                },
            );
        }
    }

    /// Whether `id` is a known person (from users.list or looked up).
    pub fn knows_user(&self, id: &str) -> bool {
        self.users.contains_key(id)
            || self
                .extra
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(id)
    }

    /// A user's name, marked when the account is deleted. IDs nobody could resolve are labelled
    /// as such rather than shown bare.
    pub fn user(&self, id: &str) -> String {
        let person = self.users.get(id).cloned().or_else(|| {
            self.extra
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .cloned()
        });
        match person {
            Some(p) if p.deleted => format!("{} (deleted)", p.name),
            Some(p) => p.name,
            None => format!("unknown user {id}"),
        }
    }

    /// The sender of a message: bots by their bot name, people by display or real name.
    pub fn sender(&self, m: &Message) -> String {
        let bot_name = m
            .username
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                m.raw
                    .get("bot_profile")
                    .and_then(|b| b.get("name"))
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
            });
        let is_bot_post = m.subtype.as_deref() == Some("bot_message") || m.user.is_none();
        match (&m.user, bot_name) {
            (_, Some(name)) if is_bot_post => name,
            (Some(user), _) => self.user(user),
            (None, None) => match &m.bot_id {
                Some(b) => self
                    .bots
                    .get(b)
                    .cloned()
                    .unwrap_or_else(|| format!("bot {b}")),
                None => "unknown sender".to_string(),
            },
            (None, Some(name)) => name,
        }
    }

    fn channel(&self, id: &str) -> Option<&str> {
        self.channels.get(id).map(String::as_str)
    }

    /// Slack markup to plain text: mentions and channel links by name, special mentions and links
    /// readable, HTML escapes undone.
    pub fn plain_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            out.push_str(&unescape(&rest[..start]));
            let inner = &rest[start + 1..start + len];
            out.push_str(&self.token(inner));
            rest = &rest[start + len + 1..];
        }
        out.push_str(&unescape(rest));
        out
    }

    fn token(&self, inner: &str) -> String {
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        if let Some(id) = target.strip_prefix('@') {
            // The directory's name wins over the label: labels are stale snapshots.
            return if self.knows_user(id) {
                format!("@{}", self.user(id))
            } else {
                format!("@{}", label.map(unescape).unwrap_or_else(|| self.user(id)))
            };
        }
        if let Some(id) = target.strip_prefix('#') {
            let name = label
                .map(unescape)
                .or_else(|| self.channel(id).map(str::to_string))
                .unwrap_or_else(|| id.to_string());
            return format!("#{name}");
        }
        if let Some(special) = target.strip_prefix('!') {
            return match label {
                Some(l) => unescape(l),
                None => {
                    let word = special.split('^').next().unwrap_or(special);
                    format!("@{word}")
                }
            };
        }
        let url = unescape(target);
        match label {
            Some(l) if unescape(l) == url.trim_start_matches("mailto:") => unescape(l),
            Some(l) if unescape(l) != url => format!("{} ({url})", unescape(l)),
            _ => url,
        }
    }
}

/// Slack escapes exactly these three characters in message text.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(v: serde_json::Value) -> User {
        let mut u: User = serde_json::from_value(v.clone()).expect("user");
        u.raw = v;
        u
    }

    fn dir() -> Directory {
        let users = vec![
            user(
                json!({"id": "U1", "name": "ann", "profile": {"display_name": "Ann", "real_name": "Ann Lee"}}),
            ),
            user(
                json!({"id": "U2", "name": "bob", "deleted": true, "profile": {"real_name": "Bob Stone"}}),
            ),
            user(json!({"id": "U3", "name": "deploybot", "is_bot": true,
                "profile": {"real_name": "Deploy Bot", "bot_id": "B3"}})),
        ];
        let ch: Conversation =
            serde_json::from_value(json!({"id": "C9", "name": "ops"})).expect("ch");
        Directory::new(&users, &[ch])
    }

    #[test]
    fn mentions_channels_specials_links_and_escapes() {
        let d = dir();
        assert_eq!(
            d.plain_text(
                "hi <@U1> and <@U2|bobby>, see <#C9> / <#C7|acme> &amp; <!here> <!subteam^S1|@eng>"
            ),
            "hi @Ann and @Bob Stone (deleted), see #ops / #acme & @here @eng"
        );
        assert_eq!(
            d.plain_text("<https://x.example/a?b=1&amp;c=2|docs> <mailto:a@b.c|a@b.c> 1 &lt; 2"),
            "docs (https://x.example/a?b=1&c=2) a@b.c 1 < 2"
        );
        assert_eq!(d.plain_text("unclosed <@U1"), "unclosed <@U1");
        assert_eq!(d.plain_text("<@U404>"), "@unknown user U404");
    }

    #[test]
    fn senders_people_deleted_and_bots() {
        let d = dir();
        let m = |v: serde_json::Value| -> Message {
            let mut m: Message = serde_json::from_value(v.clone()).expect("msg");
            m.raw = v;
            m
        };
        assert_eq!(d.sender(&m(json!({"ts": "1", "user": "U1"}))), "Ann");
        assert_eq!(
            d.sender(&m(json!({"ts": "1", "user": "U2"}))),
            "Bob Stone (deleted)"
        );
        assert_eq!(
            d.sender(&m(
                json!({"ts": "1", "subtype": "bot_message", "bot_id": "B7", "username": "CI"})
            )),
            "CI"
        );
        assert_eq!(
            d.sender(&m(
                json!({"ts": "1", "bot_id": "B5", "bot_profile": {"name": "Jira"}})
            )),
            "Jira"
        );
        assert_eq!(
            d.sender(&m(json!({"ts": "1", "bot_id": "B3"}))),
            "Deploy Bot"
        );
    }
}
