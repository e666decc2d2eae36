//! The `text` format: one `<channel>.txt` per channel, oldest first, local times, names instead of
//! IDs, thread replies indented under their parent; edits, reactions, files and joins in brief.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::tz::TimeZone;
use slack_client::{Message, User};
use store::export::SpoolOrder;

use crate::files::AtomicFile;
use crate::names::Directory;
use crate::sink::{ChannelMeta, ExportError, Item, Sink};
use crate::window::key_time;

/// Indent of a thread reply under its parent.
const REPLY_INDENT: &str = "    ";

pub struct TextSink {
    out_dir: PathBuf,
    tz: TimeZone,
    names: Arc<Directory>,
    current: Option<(PathBuf, AtomicFile)>,
    /// The current channel's downloaded files.
    local: HashMap<String, String>,
    files: u64,
}

impl TextSink {
    pub fn new(out_dir: PathBuf, tz: TimeZone, names: Arc<Directory>) -> Self {
        TextSink {
            out_dir,
            tz,
            names,
            current: None,
            local: HashMap::new(),
            files: 0,
        }
    }

    /// The lines of one message (no trailing newline).
    pub fn format_message(&self, m: &Message, ts_key: i64) -> String {
        self.format_message_with(m, ts_key, &HashMap::new())
    }

    /// [`TextSink::format_message`], naming the local copies of downloaded files (`local`: file
    /// ID -> path relative to the export root).
    pub fn format_message_with(
        &self,
        m: &Message,
        ts_key: i64,
        local: &HashMap<String, String>,
    ) -> String {
        let indent = if m.is_reply() { REPLY_INDENT } else { "" };
        let time = key_time(ts_key)
            .to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string();
        let who = self.names.sender(m);
        let body = match m.subtype.as_deref() {
            Some("channel_join") | Some("group_join") => format!("→ {who} joined"),
            Some("channel_leave") | Some("group_leave") => format!("← {who} left"),
            _ => {
                let mut body = format!("{who}: {}", self.names.plain_text(&m.text));
                if m.edited.is_some() {
                    body.push_str(" (edited)");
                }
                if m.subtype.as_deref() == Some("thread_broadcast") {
                    body.push_str(" (also sent to the channel)");
                }
                for f in &m.files {
                    let name = ["name", "title", "id"]
                        .iter()
                        .find_map(|k| f.get(*k).and_then(|v| v.as_str()))
                        .unwrap_or("file");
                    // Gone files keep only their ID: say why there is nothing.
                    let name = match f.get("mode").and_then(|v| v.as_str()) {
                        Some("tombstone") => format!("{name} (deleted)"),
                        Some("hidden_by_limit") => format!("{name} (hidden by the plan's limit)"),
                        _ => name.to_string(),
                    };
                    let path = f
                        .get("id")
                        .and_then(|v| v.as_str())
                        .and_then(|id| local.get(id));
                    match path {
                        Some(path) => body.push_str(&format!(" [file: {name} -> {path}]")),
                        None => body.push_str(&format!(" [file: {name}]")),
                    }
                }
                if !m.reactions.is_empty() {
                    let list: Vec<String> = m
                        .reactions
                        .iter()
                        .map(|r| format!(":{}: {}", r.name, r.count.max(r.users.len() as u64)))
                        .collect();
                    body.push_str(&format!(" [{}]", list.join(", ")));
                }
                body
            }
        };
        // Names and text come from Slack: no escape sequence, `\r` or U+2028 reaches whoever
        // reads the file in a terminal.
        let body = roster::text::terminal_safe_text(&body);
        // Continuation lines of a multi-line message sit two spaces in from their message.
        let continuation = format!("\n{indent}  ");
        format!("{indent}{time}  {}", body.replace('\n', &continuation))
    }
}

impl Sink for TextSink {
    fn order(&self) -> SpoolOrder {
        SpoolOrder::Threaded
    }

    fn begin_channel(&mut self, channel: &ChannelMeta) -> Result<(), ExportError> {
        let path = self.out_dir.join(format!("{}.txt", channel.file_stem));
        let mut file = AtomicFile::create(&path).map_err(ExportError::io(&path))?;
        self.local = channel.local_files.clone();
        let c = &channel.conversation;
        let title = if c.name.is_empty() {
            c.user
                .as_deref()
                .map(|u| format!("DM with {}", self.names.user(u)))
                .unwrap_or_else(|| c.id.clone())
        } else if c.is_mpim && !channel.members.is_empty() {
            let names: Vec<String> = channel.members.iter().map(|u| self.names.user(u)).collect();
            format!("Group DM {} with {}", c.name, names.join(", "))
        } else {
            format!("#{}", c.name)
        };
        let mut head = format!(
            "# {} ({})\n",
            roster::text::terminal_safe(&title),
            roster::text::terminal_safe(&c.id)
        );
        if let Some(topic) = c.topic.as_deref().filter(|t| !t.is_empty()) {
            let topic = self.names.plain_text(topic);
            head.push_str(&format!(
                "# topic: {}\n",
                roster::text::terminal_safe(&topic)
            ));
        }
        head.push('\n');
        file.write_all(head.as_bytes())
            .map_err(ExportError::io(&path))?;
        self.current = Some((path, file));
        Ok(())
    }

    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        let line = self.format_message_with(item.message()?, item.ts_key, &self.local);
        if let Some((path, file)) = &mut self.current {
            file.write_all(line.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .map_err(ExportError::io(path.as_path()))?;
        }
        Ok(())
    }

    fn end_channel(&mut self) -> Result<(), ExportError> {
        if let Some((path, file)) = self.current.take() {
            file.commit().map_err(ExportError::io(path))?;
            self.files += 1;
        }
        Ok(())
    }

    fn finish(&mut self, _users: &[User], _channels: &[ChannelMeta]) -> Result<(), ExportError> {
        Ok(())
    }

    fn location(&self) -> String {
        self.out_dir.display().to_string()
    }

    fn files_written(&self) -> u64 {
        self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(v: serde_json::Value) -> Message {
        let mut m: Message = serde_json::from_value(v.clone()).expect("msg");
        m.raw = v;
        m
    }

    #[test]
    fn lines_show_time_names_edits_files_reactions_and_indent_replies() {
        let users: Vec<User> = vec![
            serde_json::from_value(
                json!({"id": "U1", "name": "ann", "profile": {"display_name": "Ann"}}),
            )
            .expect("user"),
        ];
        let sink = TextSink::new(
            PathBuf::from("/nowhere"),
            TimeZone::get("Europe/Berlin").expect("tz"),
            Arc::new(Directory::new(&users, &[])),
        );
        let parent = msg(
            json!({"ts": "1767225600.000100", "thread_ts": "1767225600.000100",
            "reply_count": 1, "user": "U1", "text": "hello <@U1>\nsecond line", "edited": {"user": "U1", "ts": "1"},
            "files": [{"name": "q3.pdf"}], "reactions": [{"name": "+1", "users": ["U1"], "count": 3}]}),
        );
        assert_eq!(
            sink.format_message(&parent, 1_767_225_600_000_100),
            "2026-01-01 01:00  Ann: hello @Ann\n  second line (edited) [file: q3.pdf] [:+1: 3]"
        );
        let reply = msg(
            json!({"ts": "1767225660.000100", "thread_ts": "1767225600.000100", "user": "U1",
            "text": "yes", "subtype": "thread_broadcast"}),
        );
        assert_eq!(
            sink.format_message(&reply, 1_767_225_660_000_100),
            "    2026-01-01 01:01  Ann: yes (also sent to the channel)"
        );
        let join = msg(
            json!({"ts": "1767225600.000200", "user": "U1", "subtype": "channel_join",
            "text": "<@U1> has joined the channel"}),
        );
        assert_eq!(
            sink.format_message(&join, 1_767_225_600_000_200),
            "2026-01-01 01:00  → Ann joined"
        );
    }
}
