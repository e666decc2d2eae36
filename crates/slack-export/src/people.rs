//! Slack Connect people: user IDs seen in a channel (authors, mentions, reactions, repliers,
//! members) that users.list did not return are looked up with users.info, once ever: answers,
//! `user_not_found` included, are cached in the store across runs.

use std::borrow::Cow;
use std::collections::BTreeSet;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use slack_client::{SlackClient, User};
use store::Store;
use store::slack_users::CachedUser;
use tracing::warn;

use crate::sink::ExportError;

/// users.info calls in flight (the client paces the method at its tier whatever the count).
const LOOKUPS_IN_FLIGHT: usize = 4;

/// Whether `id` looks like a person's ID (`U…`, or `W…` on Enterprise Grid).
fn is_user_id(id: &str) -> bool {
    id.len() >= 2
        && matches!(id.as_bytes()[0], b'U' | b'W')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The parts of a message that name people or attach files: decoded without the rest, borrowing
/// from the message's text where it has no escapes (every message of a channel is scanned).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageRefs<'a> {
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reply_users: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    reactions: Vec<ReactionRefs<'a>>,
    #[serde(borrow)]
    edited: Option<EditedRefs<'a>>,
    /// The file objects, as Slack sent them.
    pub files: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReactionRefs<'a> {
    #[serde(borrow)]
    users: Vec<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EditedRefs<'a> {
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
}

impl MessageRefs<'_> {
    /// Adds the people the message names to `out`: its author, `<@U…>` mentions in its text,
    /// reactors, repliers, and the editor.
    pub fn collect_ids(&self, out: &mut BTreeSet<String>) {
        let mut add = |id: &str| {
            if is_user_id(id) {
                out.insert(id.to_string());
            }
        };
        self.user.iter().for_each(|u| add(u));
        self.parent_user_id.iter().for_each(|u| add(u));
        self.edited
            .iter()
            .filter_map(|e| e.user.as_deref())
            .for_each(&mut add);
        self.reply_users.iter().for_each(|u| add(u));
        self.reactions
            .iter()
            .flat_map(|r| r.users.iter())
            .for_each(|u| add(u));
        if let Some(text) = &self.text {
            mentions(text, out);
        }
    }
}

/// The `<@U…>` mentions of a message text.
fn mentions(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find("<@") {
        rest = &rest[at + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if is_user_id(id) {
            out.insert(id.to_string());
        }
    }
}

/// What looking people up came to.
#[derive(Debug, Default)]
pub struct Lookup {
    /// People found (from the cache or users.info).
    pub found: Vec<User>,
    /// IDs Slack does not know (`user_not_found`), now or in an earlier run.
    pub unresolved: Vec<String>,
    /// users.info calls made.
    pub calls: u64,
}

fn user_from_json(text: &str) -> Option<User> {
    let raw: Value = serde_json::from_str(text).ok()?;
    let mut user: User = serde_json::from_value(raw.clone()).ok()?;
    user.raw = raw;
    Some(user)
}

/// Looks up `ids` (none of which users.list returned): the store's cache first, users.info for
/// the rest. A fatal error (auth, scope) ends the run; another failure leaves that ID unresolved
/// for this run only.
pub async fn look_up(
    client: &SlackClient,
    store: &Store,
    ids: &[String],
) -> Result<Lookup, ExportError> {
    let mut out = Lookup::default();
    let mut ask = Vec::new();
    for id in ids {
        match store.slack_user_cached(id)? {
            Some(CachedUser::Found(json)) => match user_from_json(&json) {
                Some(u) => out.found.push(u),
                None => ask.push(id.clone()),
            },
            Some(CachedUser::NotFound) => out.unresolved.push(id.clone()),
            None => ask.push(id.clone()),
        }
    }
    let mut answers = futures::stream::iter(ask)
        .map(|id| async move {
            let answer = client.users_info(&id).await;
            (id, answer)
        })
        .buffer_unordered(LOOKUPS_IN_FLIGHT);
    while let Some((id, answer)) = answers.next().await {
        out.calls += 1;
        match answer {
            Ok(user) => {
                let team = user
                    .raw
                    .get("team_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                store.slack_user_put(
                    &id,
                    team.as_deref(),
                    &CachedUser::Found(user.raw.to_string()),
                )?;
                out.found.push(user);
            }
            Err(e) if e.code() == Some("user_not_found") => {
                store.slack_user_put(&id, None, &CachedUser::NotFound)?;
                out.unresolved.push(id);
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                warn!(user = %id, error = %e, "could not look up a user; shown by ID");
                out.unresolved.push(id);
            }
        }
    }
    out.unresolved.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_from_authors_mentions_reactions_and_repliers() {
        let mut ids = BTreeSet::new();
        let text = json!({"user": "U1", "text": "hi <@U2> and <@W3|bob> <@here> <#C1>",
                "reactions": [{"name": "x", "users": ["U4"]}], "reply_users": ["U5"],
                "edited": {"user": "U6"}, "bot_id": "B1", "files": [{"id": "F1"}]})
        .to_string();
        let refs: MessageRefs<'_> = serde_json::from_str(&text).expect("refs");
        refs.collect_ids(&mut ids);
        assert_eq!(refs.files.len(), 1);
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            ["U1", "U2", "U4", "U5", "U6", "W3"]
        );
    }
}
