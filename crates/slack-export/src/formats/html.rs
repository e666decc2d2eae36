//! The `html` format: an offline archive in `<out>/html/` rendered by `archive-html`. Slack's
//! messages are converted into its platform-neutral model here: names resolved, markup split into
//! text, mentions and links, files linked to their local copy under `<out>/files/` when one is
//! there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archive_html::{ArchiveWriter, Attachment, ConversationInfo, ConversationWriter, Inline};
use jiff::tz::TimeZone;
use serde_json::Value;
use slack_client::{Message, User};
use store::export::SpoolOrder;

use crate::files;
use crate::names::{Directory, Segment};
use crate::sink::{ChannelMeta, ExportError, Item, Sink};
use crate::window::key_time;

/// The archive's folder under `--out`.
pub const HTML_DIR: &str = "html";

pub struct HtmlSink {
    out_dir: PathBuf,
    names: Arc<Directory>,
    archive: Option<ArchiveWriter>,
    current: Option<ConversationWriter>,
    expected: u64,
    files: u64,
    /// The channel's downloaded files: ID -> path under `--out`.
    local: HashMap<String, String>,
}

impl HtmlSink {
    pub fn new(out_dir: &Path, tz: TimeZone, names: Arc<Directory>) -> Result<Self, ExportError> {
        let root = out_dir.join(HTML_DIR);
        let archive = ArchiveWriter::create(&root, "Slack export", tz).map_err(archive_error)?;
        Ok(HtmlSink {
            out_dir: out_dir.to_path_buf(),
            names,
            archive: Some(archive),
            current: None,
            expected: 0,
            local: HashMap::new(),
            // style.css
            files: 1,
        })
    }

    /// A Slack message in the archive's model.
    pub fn convert(&self, m: &Message, ts_key: i64) -> archive_html::Message {
        let who = self.names.sender(m);
        let mut notes = Vec::new();
        let text = match m.subtype.as_deref() {
            Some("channel_join") | Some("group_join") => {
                notes.push("joined".to_string());
                Vec::new()
            }
            Some("channel_leave") | Some("group_leave") => {
                notes.push("left".to_string());
                Vec::new()
            }
            _ => self
                .names
                .segments(&m.text)
                .into_iter()
                .map(|s| match s {
                    Segment::Text(t) => Inline::Text(t),
                    Segment::Mention(n) => Inline::Mention(n),
                    Segment::Link { url, label } => Inline::Link { url, label },
                })
                .collect(),
        };
        if m.subtype.as_deref() == Some("thread_broadcast") {
            notes.push("also sent to the channel".to_string());
        }
        archive_html::Message {
            id: m.ts.clone(),
            time: key_time(ts_key),
            sender: who,
            text,
            edited: m.edited.is_some(),
            notes,
            reactions: m
                .reactions
                .iter()
                .map(|r| archive_html::Reaction {
                    name: r.name.clone(),
                    count: r.count,
                    users: r.users.iter().map(|u| self.names.user(u)).collect(),
                })
                .collect(),
            attachments: m.files.iter().map(|f| self.attachment(f)).collect(),
        }
    }

    fn attachment(&self, f: &Value) -> Attachment {
        let field = |k: &str| f.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let name = field("name")
            .or_else(|| field("title"))
            .unwrap_or("file")
            .to_string();
        // Downloaded by this run's --files, else by an earlier one (still on disk). The archive
        // root is `<out>/html`: one level below the files.
        let local_path = field("id").and_then(|id| {
            let rel = self
                .local
                .get(id)
                .cloned()
                .unwrap_or_else(|| files::local_file_rel_path(id, &name));
            self.out_dir
                .join(&rel)
                .is_file()
                .then(|| format!("../{rel}"))
        });
        let is_image = field("mimetype").is_some_and(|m| m.starts_with("image/"))
            || field("filetype")
                .is_some_and(|t| matches!(t, "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp"));
        Attachment {
            name,
            local_path,
            is_image,
        }
    }
}

fn archive_error(e: archive_html::ArchiveError) -> ExportError {
    match e {
        archive_html::ArchiveError::Io { path, source } => ExportError::Io { path, source },
        other => ExportError::Task(other.to_string()),
    }
}

impl Sink for HtmlSink {
    fn order(&self) -> SpoolOrder {
        SpoolOrder::Threaded
    }

    fn expect_messages(&mut self, total: u64) {
        self.expected = total;
    }

    fn begin_channel(&mut self, channel: &ChannelMeta) -> Result<(), ExportError> {
        self.local = channel.local_files.clone();
        let c = &channel.conversation;
        let name = if c.name.is_empty() {
            c.user
                .as_deref()
                .map(|u| format!("DM with {}", self.names.user(u)))
                .unwrap_or_else(|| c.id.clone())
        } else {
            format!("#{}", c.name)
        };
        let info = ConversationInfo {
            id: c.id.clone(),
            name,
            topic: c
                .topic
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| self.names.plain_text(t)),
        };
        if let Some(archive) = &mut self.archive {
            self.current = Some(
                archive
                    .begin_conversation(&info, self.expected)
                    .map_err(archive_error)?,
            );
        }
        Ok(())
    }

    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        let m = item.message()?;
        let converted = self.convert(m, item.ts_key);
        if let Some(w) = &mut self.current {
            w.message(&converted, m.is_reply()).map_err(archive_error)?;
        }
        Ok(())
    }

    fn end_channel(&mut self) -> Result<(), ExportError> {
        if let (Some(archive), Some(w)) = (&mut self.archive, self.current.take()) {
            archive.end_conversation(w).map_err(archive_error)?;
            self.files = archive.files_written();
        }
        Ok(())
    }

    fn finish(&mut self, _users: &[User], _channels: &[ChannelMeta]) -> Result<(), ExportError> {
        if let Some(archive) = self.archive.take() {
            archive.finish().map_err(archive_error)?;
            self.files += 1;
        }
        Ok(())
    }

    fn location(&self) -> String {
        self.out_dir.join(HTML_DIR).display().to_string()
    }

    fn files_written(&self) -> u64 {
        // Pages of a conversation are counted when it ends; style.css before the first.
        self.files
    }
}
