//! A per-channel index over the stored messages (timestamps, the history listing, each thread's
//! replies, derived thread summaries), so history and replies calls cost O(log n + page) instead of
//! a scan of the whole channel. Built on first use and dropped whenever the workspace changes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::model::{Channel, ThreadSummary, str_field, ts_key};

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
}

impl ChannelIndex {
    fn build(c: &Channel) -> Self {
        let mut idx = ChannelIndex {
            keys: Vec::with_capacity(c.messages.len()),
            listed: Vec::new(),
            threads: HashMap::new(),
            by_ts: HashMap::with_capacity(c.messages.len()),
            summaries: HashMap::new(),
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
