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
        for segment in self.segments(text) {
            match segment {
                Segment::Text(t) | Segment::Mention(t) => out.push_str(&t),
                Segment::Link { url, label } => match label {
                    Some(l) if l == url.trim_start_matches("mailto:") => out.push_str(&l),
                    Some(l) if l != url => {
                        out.push_str(&l);
                        out.push_str(" (");
                        out.push_str(&url);
                        out.push(')');
                    }
                    _ => out.push_str(&url),
                },
            }
        }
        out
    }

    /// Slack markup as pieces: text, mentions by name, links with their label (escapes undone).
    /// [`Directory::plain_text`] joins them; the HTML format renders each its own way.
    pub fn segments(&self, text: &str) -> Vec<Segment> {
        let mut out = Vec::new();
        let push_text = |out: &mut Vec<Segment>, t: String| {
            if t.is_empty() {
                return;
            }
            match out.last_mut() {
                Some(Segment::Text(prev)) => prev.push_str(&t),
                _ => out.push(Segment::Text(t)),
            }
        };
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            push_text(&mut out, unescape(&rest[..start]));
            let inner = &rest[start + 1..start + len];
            match self.token(inner) {
                Segment::Text(t) => push_text(&mut out, t),
                other => out.push(other),
            }
            rest = &rest[start + len + 1..];
        }
        push_text(&mut out, unescape(rest));
        out
    }

    fn token(&self, inner: &str) -> Segment {
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        if let Some(id) = target.strip_prefix('@') {
            // The directory's name wins over the label: labels are stale snapshots.
            return Segment::Mention(if self.knows_user(id) {
                format!("@{}", self.user(id))
            } else {
                format!("@{}", label.map(unescape).unwrap_or_else(|| self.user(id)))
            });
        }
        if let Some(id) = target.strip_prefix('#') {
            let name = label
                .map(unescape)
                .or_else(|| self.channel(id).map(str::to_string))
                .unwrap_or_else(|| id.to_string());
            return Segment::Mention(format!("#{name}"));
        }
        if let Some(special) = target.strip_prefix('!') {
            return Segment::Mention(match label {
                Some(l) => unescape(l),
                None => {
                    let word = special.split('^').next().unwrap_or(special);
                    format!("@{word}")
                }
            });
        }
        Segment::Link {
            url: unescape(target),
            label: label.map(unescape),
        }
    }

    /// The user IDs a text mentions (`<@U…>`), with the name [`Directory::segments`] shows.
    pub fn mentions(&self, text: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("<@") {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            let inner = &rest[start + 1..start + len];
            if let Segment::Mention(name) = self.token(inner) {
                let id = inner[1..].split('|').next().unwrap_or_default().to_string();
                let name = name.trim_start_matches('@').to_string();
                if !out.iter().any(|(i, _)| *i == id) {
                    out.push((id, name));
                }
            }
            rest = &rest[start + len + 1..];
        }
        out
    }
}

/// A piece of message text (see [`Directory::segments`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// `@name`, `#channel`, `@here`: shown as written.
    Mention(String),
    Link {
        url: String,
        label: Option<String>,
    },
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
        assert_eq!(
            d.segments("a <@U1> <https://x.example|x> &lt;b&gt;"),
            [
                Segment::Text("a ".into()),
                Segment::Mention("@Ann".into()),
                Segment::Text(" ".into()),
                Segment::Link {
                    url: "https://x.example".into(),
                    label: Some("x".into())
                },
                Segment::Text(" <b>".into()),
            ]
        );
        assert_eq!(
            d.mentions("<@U1> and <@U2|bobby> and <@U1>"),
            [
                ("U1".to_string(), "Ann".to_string()),
                ("U2".to_string(), "Bob Stone (deleted)".to_string())
            ]
        );
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
