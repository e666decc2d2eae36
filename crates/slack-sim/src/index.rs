//! A per-channel index over the stored messages (timestamps, the history listing, each thread's
//! replies, derived thread summaries), so history and replies calls cost O(log n + page) instead of
//! a scan of the whole channel, plus each message's decorated JSON text, serialised once on first
//! read so pages are served by concatenation. Built on first use and dropped whenever the
//! workspace changes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use crate::model::{Channel, ThreadSummary, is_reply, json_text, str_field, ts_key};

/// Derived, read-only view of one channel's messages (which are kept sorted by `ts`).
pub(crate) struct ChannelIndex {
    /// `ts` of every message in microseconds, parallel to `Channel::messages`.
    pub keys: Vec<u128>,
    /// Positions of what history lists (top-level messages and broadcast replies), ascending.
    pub listed: Vec<usize>,
    /// Parent `ts` -> positions of its replies, ascending.
    pub threads: HashMap<String, Vec<usize>>,
    /// `ts` -> position.
    pub by_ts: HashMap<String, usize>,
    /// Parent `ts` -> what Slack derives from the replies.
    pub summaries: HashMap<String, ThreadSummary>,
    /// Each message as history/replies show it, serialised on first read (lazily, so a huge
    /// channel of which only a few pages are read does not pay for all of it).
    decorated: Vec<OnceLock<Box<str>>>,
}

impl ChannelIndex {
    fn build(c: &Channel) -> Self {
        let mut idx = ChannelIndex {
            keys: Vec::with_capacity(c.messages.len()),
            listed: Vec::new(),
            threads: HashMap::new(),
            by_ts: HashMap::with_capacity(c.messages.len()),
            summaries: HashMap::new(),
            decorated: std::iter::repeat_with(OnceLock::new)
                .take(c.messages.len())
                .collect(),
        };
        for (i, m) in c.messages.iter().enumerate() {
            let ts = str_field(m, "ts").unwrap_or("");
            idx.keys.push(ts_key(ts).unwrap_or(0));
            idx.by_ts.insert(ts.to_string(), i);
            match str_field(m, "thread_ts") {
                Some(parent) if parent != ts => {
                    idx.threads.entry(parent.to_string()).or_default().push(i);
                    let s = idx.summaries.entry(parent.to_string()).or_default();
                    s.reply_count += 1;
                    if let Some(u) = str_field(m, "user")
                        && !s.reply_users.iter().any(|x| x == u)
                    {
                        s.reply_users.push(u.to_string());
                    }
                    if ts_key(ts) > ts_key(&s.latest_reply) {
                        s.latest_reply = ts.to_string();
                    }
                    if str_field(m, "subtype") == Some("thread_broadcast") {
                        idx.listed.push(i);
                    }
                }
                _ => idx.listed.push(i),
            }
        }
        idx
    }

    /// The stored message with this `ts`.
    pub fn message<'c>(&self, c: &'c Channel, ts: &str) -> Option<&'c Value> {
        self.by_ts.get(ts).and_then(|&i| c.messages.get(i))
    }

    /// A stored message with the fields Slack derives: parent thread fields from the current
    /// replies, `parent_user_id` on replies.
    pub fn decorate(&self, c: &Channel, m: &Value) -> Value {
        let mut out = m.clone();
        let Value::Object(obj) = &mut out else {
            return out;
        };
        let ts = str_field(m, "ts").unwrap_or("").to_string();
        if is_reply(m) {
            let thread_ts = str_field(m, "thread_ts").unwrap_or("");
            if let Some(pu) = self
                .message(c, thread_ts)
                .and_then(|pm| str_field(pm, "user"))
            {
                obj.insert("parent_user_id".into(), json!(pu));
            }
            for k in [
                "reply_count",
                "reply_users",
                "reply_users_count",
                "latest_reply",
            ] {
                obj.remove(k);
            }
            return out;
        }
        match self.summaries.get(&ts) {
            Some(s) => {
                obj.insert("thread_ts".into(), json!(ts));
                obj.insert("reply_count".into(), json!(s.reply_count));
                obj.insert("reply_users_count".into(), json!(s.reply_users.len()));
                obj.insert("latest_reply".into(), json!(s.latest_reply));
                obj.insert("reply_users".into(), json!(s.reply_users));
                obj.insert("is_locked".into(), json!(false));
                obj.insert("subscribed".into(), json!(false));
            }
            None => {
                // A stored parent whose replies are gone is an ordinary message again.
                for k in [
                    "reply_count",
                    "reply_users",
                    "reply_users_count",
                    "latest_reply",
                    "is_locked",
                    "subscribed",
                ] {
                    obj.remove(k);
                }
                if str_field(m, "thread_ts") == Some(ts.as_str()) {
                    obj.remove("thread_ts");
                }
            }
        }
        out
    }

    /// The message at position `i` of `c` (the channel this index was built from), decorated and
    /// serialised: computed on the first call, then served from the cache until the next write.
    pub fn decorated_text(&self, c: &Channel, i: usize) -> &str {
        self.decorated[i].get_or_init(|| {
            let m = &c.messages[i];
            self.decorated_by_appending(c, m)
                .unwrap_or_else(|| json_text(&self.decorate(c, m)))
                .into()
        })
    }

    /// What `decorate(c, m).to_string()` gives, without cloning `m`, in the common case where
    /// decorating only appends fields: nothing to remove, and every derived field either absent
    /// (appended at the end, as a map insert does) or already stored with the same value.
    /// `None` means another case: the caller falls back to `decorate`.
    pub(crate) fn decorated_by_appending(&self, c: &Channel, m: &Value) -> Option<String> {
        let Value::Object(obj) = m else {
            return None;
        };
        let ts = str_field(m, "ts").unwrap_or("");
        let mut derived: Vec<(&str, Value)> = Vec::new();
        let removed: &[&str] = if is_reply(m) {
            let thread_ts = str_field(m, "thread_ts").unwrap_or("");
            if let Some(pu) = self
                .message(c, thread_ts)
                .and_then(|pm| str_field(pm, "user"))
            {
                derived.push(("parent_user_id", json!(pu)));
            }
            &[
                "reply_count",
                "reply_users",
                "reply_users_count",
                "latest_reply",
            ]
        } else if let Some(s) = self.summaries.get(ts) {
            derived.extend([
                ("thread_ts", json!(ts)),
                ("reply_count", json!(s.reply_count)),
                ("reply_users_count", json!(s.reply_users.len())),
                ("latest_reply", json!(s.latest_reply)),
                ("reply_users", json!(s.reply_users)),
                ("is_locked", json!(false)),
                ("subscribed", json!(false)),
            ]);
            &[]
        } else {
            if str_field(m, "thread_ts") == Some(ts) {
                return None;
            }
            &[
                "reply_count",
                "reply_users",
                "reply_users_count",
                "latest_reply",
                "is_locked",
                "subscribed",
            ]
        };
        if removed.iter().any(|k| obj.contains_key(*k)) {
            return None;
        }
        let mut appended = Vec::with_capacity(derived.len());
        for (k, v) in derived {
            match obj.get(k) {
                None => appended.push((k, v)),
                Some(stored) if *stored == v => {}
                Some(_) => return None,
            }
        }
        let mut out = json_text(m);
        if appended.is_empty() {
            return Some(out);
        }
        // Reopen the object: drop its closing brace, append, close it again.
        out.pop();
        for (k, v) in appended {
            if !out.ends_with('{') {
                out.push(',');
            }
            out.push_str(&json_text(&Value::String(k.to_string())));
            out.push(':');
            out.push_str(&json_text(&v));
        }
        out.push('}');
        Some(out)
    }
}

/// Indexes of the channels read since the last change to the workspace.
#[derive(Default)]
pub(crate) struct IndexCache {
    by_channel: HashMap<String, Arc<ChannelIndex>>,
}

impl IndexCache {
    /// The index of `c`, built now if this channel was not read since the last change.
    pub fn get(&mut self, c: &Channel) -> Arc<ChannelIndex> {
        self.by_channel
            .entry(c.id.clone())
            .or_insert_with(|| Arc::new(ChannelIndex::build(c)))
            .clone()
    }

    /// Forgets everything: call after any change to the workspace.
    pub fn clear(&mut self) {
        self.by_channel.clear();
    }
}
