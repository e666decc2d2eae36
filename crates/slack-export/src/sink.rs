//! Where exported messages go: the [`Sink`] trait every format implements, and [`render_channel`],
//! which streams a channel's spooled messages to a sink in the order it asks for. Fetch code never
//! sees a format; a new format is a new `Sink`.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::PathBuf;

use slack_client::{Conversation, Message, User};
use store::Store;
use store::export::{ReplyRef, SpoolOrder};

/// Failures of the export itself (Slack failures are [`slack_client::Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the zip file {}: {source}", path.display())]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("a stored message is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Slack(#[from] slack_client::Error),
    #[error("an internal task stopped: {0}")]
    Task(String),
}

impl ExportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ExportError {
        let path = path.into();
        move |source| ExportError::Io { path, source }
    }
}

/// A channel being exported, as the sinks see it.
#[derive(Debug, Clone)]
pub struct ChannelMeta {
    pub conversation: Conversation,
    /// File/folder name for this channel, sanitised and unique within the run.
    pub file_stem: String,
    /// Member IDs (fetched for the formats that list them: slack and json, and for group DMs).
    pub members: Vec<String>,
    /// pins.list items as Slack sent them (slack and json formats).
    pub pins: Vec<serde_json::Value>,
    /// People the channel's messages name (authors, mentions, reactions, repliers), sorted.
    pub people: Vec<String>,
    /// With `--files`: file ID -> path of the local copy relative to the export root
    /// ([`crate::files::local_file_rel_path`]), for the files present locally.
    pub local_files: HashMap<String, String>,
}

/// One message handed to a sink.
#[derive(Debug)]
pub struct Item<'a> {
    /// The message's JSON as spooled (serde_json's compact form, see [`crate::compact`]).
    pub raw: &'a str,
    /// `ts` in microseconds.
    pub ts_key: i64,
    /// For a thread parent (only if the sink [`Sink::wants_reply_refs`]): its exported replies.
    pub replies: &'a [ReplyRef],
    /// The typed message, decoded from `raw` on first use (the json format never needs it).
    message: OnceCell<Message>,
}

impl<'a> Item<'a> {
    pub fn new(raw: &'a str, ts_key: i64, replies: &'a [ReplyRef]) -> Self {
        Item {
            raw,
            ts_key,
            replies,
            message: OnceCell::new(),
        }
    }

    /// The typed fields of the message.
    pub fn message(&self) -> Result<&Message, ExportError> {
        if let Some(m) = self.message.get() {
            return Ok(m);
        }
        let decoded: Message = serde_json::from_str(self.raw)?;
        Ok(self.message.get_or_init(|| decoded))
    }
}

/// An export format. Calls come as: per channel `begin_channel`, `message`* (in [`Sink::order`]),
/// `end_channel`; then `finish` once.
pub trait Sink {
    /// The order messages should arrive in.
    fn order(&self) -> SpoolOrder;
    /// Whether thread parents should come with their reply list.
    fn wants_reply_refs(&self) -> bool {
        false
    }
    /// How many messages (replies included) the next channel has, told before `begin_channel`.
    fn expect_messages(&mut self, _total: u64) {}
    fn begin_channel(&mut self, channel: &ChannelMeta) -> Result<(), ExportError>;
    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError>;
    fn end_channel(&mut self) -> Result<(), ExportError>;
    /// After the last channel: workspace-level files (users, channel lists), closing archives.
    fn finish(&mut self, users: &[User], channels: &[ChannelMeta]) -> Result<(), ExportError>;
    /// Where the output went, for the summary.
    fn location(&self) -> String;
    /// Files written so far (entries, in a zip), for the summary: read before and after a
    /// channel to count that channel's files.
    fn files_written(&self) -> u64;
}

/// Streams the spooled messages of `spool_id` into `sink`, one at a time.
pub fn render_channel(
    store: &Store,
    spool_id: i64,
    channel: &ChannelMeta,
    sink: &mut dyn Sink,
) -> Result<u64, ExportError> {
    render_channel_with(store, spool_id, channel, sink, &mut |_| Ok(()))
}

/// [`render_channel`], also handing every message to `also` after the sink (the search index
/// reads the same pass and shares the message the sink decoded).
pub fn render_channel_with(
    store: &Store,
    spool_id: i64,
    channel: &ChannelMeta,
    sink: &mut dyn Sink,
    also: &mut dyn FnMut(&Item<'_>) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    sink.expect_messages(store.export_message_count(spool_id)?);
    sink.begin_channel(channel)?;
    let wants_refs = sink.wants_reply_refs();
    let mut count = 0u64;
    let no_refs: Vec<ReplyRef> = Vec::new();
    store.export_for_each::<ExportError>(spool_id, sink.order(), |row| {
        let refs;
        let mut item = Item::new(row.raw, row.ts_key, &no_refs);
        if wants_refs && row.thread_key == row.ts_key && item.message()?.reply_count > 0 {
            refs = store.export_reply_refs(spool_id, row.ts_key)?;
            item.replies = &refs;
        }
        sink.message(&item)?;
        also(&item)?;
        count += 1;
        Ok(())
    })?;
    sink.end_channel()?;
    Ok(count)
}
