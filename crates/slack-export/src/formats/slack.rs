//! The `slack` format: Slack's standard workspace export layout, which viewers such as
//! slack-export-viewer read. `users.json`, `channels.json` / `groups.json` / `dms.json` /
//! `mpims.json` at the root, one folder per channel with a `YYYY-MM-DD.json` file per day (UTC, as
//! Slack's own exports), every reply in its own day's file, and each thread parent carrying
//! `replies: [{user, ts}]` so viewers nest threads. Written as a folder or, with `--zip`, one zip.
//!
//! A folder may hold an earlier export of a wider window. A run replaces only what it fetched:
//! the messages of threads whose first message lies in its `--since`/`--until` window (a message
//! without a thread is its own). Every other message already in a day file stays as it was, and a
//! day file with nothing of this run's in it is not touched.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use private_files::NamedTempFile;
use serde_json::{Map, Value, json};
use slack_client::User;
use store::export::SpoolOrder;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use crate::files::{AtomicFile, add_local_paths};
use crate::sink::{ChannelMeta, ExportError, Item, Sink};
use crate::window::{key_time, ts_key};

/// The folder (and zip file stem) the layout is written to under `--out`.
pub const EXPORT_DIR: &str = "slack-export";

// One Target per export: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
enum Target {
    Dir(PathBuf),
    Zip {
        path: PathBuf,
        /// Over an owner-only temporary file next to `path`, renamed into place by `finish`.
        writer: Option<ZipWriter<NamedTempFile>>,
    },
}

/// The window of one run in `ts` keys: `since` inclusive, `until` exclusive, `None` open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Window {
    fn contains(&self, key: i64) -> bool {
        self.since.is_none_or(|s| key >= s) && self.until.is_none_or(|u| key < u)
    }

    /// Whether this run fetched `message` (and so has the truth about it): its thread's first
    /// message is in the window. Replies to older threads were not fetched.
    fn owns(&self, message: &Value) -> bool {
        let key = |field: &str| message.get(field).and_then(Value::as_str).and_then(ts_key);
        key("thread_ts")
            .or_else(|| key("ts"))
            .is_some_and(|k| self.contains(k))
    }
}

/// The file currently open for writing.
enum Open {
    Dir(PathBuf, AtomicFile),
    Zip,
}

pub struct SlackSink {
    target: Target,
    window: Window,
    open: Option<Open>,
    folder: String,
    day: Option<String>,
    first_in_day: bool,
    /// Day files of this channel already in the folder and not yet rewritten (by day).
    earlier_days: BTreeMap<String, PathBuf>,
    /// Messages of the current day's earlier file that this run keeps, oldest last (popped first).
    kept: Vec<(i64, Value)>,
    /// The current channel's downloaded files (`local_path` in their file objects).
    local: HashMap<String, String>,
    /// Files (or zip entries) started, for the summary.
    files: u64,
}

impl SlackSink {
    /// The layout as a folder `<out>/slack-export/`, or as `<out>/slack-export.zip` with `zip`;
    /// `window` is what this run fetched.
    pub fn new(out_dir: &Path, zip: bool, window: Window) -> Result<Self, ExportError> {
        let target = if zip {
            let path = out_dir.join(format!("{EXPORT_DIR}.zip"));
            let file = private_files::temp_for(&path).map_err(ExportError::io(&path))?;
            Target::Zip {
                path,
                writer: Some(ZipWriter::new(file)),
            }
        } else {
            Target::Dir(out_dir.join(EXPORT_DIR))
        };
        Ok(SlackSink {
            target,
            window,
            open: None,
            folder: String::new(),
            day: None,
            first_in_day: true,
            earlier_days: BTreeMap::new(),
            kept: Vec::new(),
            local: HashMap::new(),
            files: 0,
        })
    }

    fn zip_err(&self, source: zip::result::ZipError) -> ExportError {
        let path = match &self.target {
            Target::Zip { path, .. } => path.clone(),
            Target::Dir(p) => p.clone(),
        };
        ExportError::Zip { path, source }
    }

    fn start_file(&mut self, rel: &str) -> Result<(), ExportError> {
        self.end_file()?;
        self.files += 1;
        match &mut self.target {
            Target::Dir(root) => {
                let path = root.join(rel);
                let file = AtomicFile::create(&path).map_err(ExportError::io(&path))?;
                self.open = Some(Open::Dir(path, file));
            }
            Target::Zip { writer, .. } => {
                // A fixed timestamp keeps the archive byte-identical between runs.
                let options = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .last_modified_time(zip::DateTime::default());
                let result = match writer.as_mut() {
                    Some(w) => w.start_file(rel, options),
                    None => Ok(()),
                };
                result.map_err(|e| self.zip_err(e))?;
                self.open = Some(Open::Zip);
            }
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        match (&mut self.open, &mut self.target) {
            (Some(Open::Dir(path, file)), _) => file
                .write_all(bytes)
                .map_err(ExportError::io(path.as_path())),
            (
                Some(Open::Zip),
                Target::Zip {
                    writer: Some(w),
                    path,
                    ..
                },
            ) => w.write_all(bytes).map_err(ExportError::io(path.as_path())),
            _ => Ok(()),
        }
    }

    fn end_file(&mut self) -> Result<(), ExportError> {
        if let Some(Open::Dir(path, file)) = self.open.take() {
            file.commit().map_err(ExportError::io(path))?;
        }
        Ok(())
    }

    fn write_file(&mut self, rel: &str, value: &Value) -> Result<(), ExportError> {
        self.start_file(rel)?;
        let mut bytes = pretty(value)?;
        bytes.push(b'\n');
        self.write(&bytes)?;
        self.end_file()
    }

    fn end_day(&mut self) -> Result<(), ExportError> {
        if self.day.take().is_some() {
            while let Some((_, old)) = self.kept.pop() {
                self.write_element(&old)?;
            }
            self.write(b"\n]\n")?;
            self.end_file()?;
        }
        Ok(())
    }

    /// Starts the day file `day`, taking over what its earlier file holds that this run keeps.
    fn start_day(&mut self, day: String) -> Result<(), ExportError> {
        self.kept = match self.earlier_days.remove(&day) {
            Some(path) => self.kept_messages(&path)?.1,
            None => Vec::new(),
        };
        self.kept.reverse();
        let rel = format!("{}/{day}.json", self.folder);
        self.start_file(&rel)?;
        self.write(b"[")?;
        self.day = Some(day);
        self.first_in_day = true;
        Ok(())
    }

    /// The messages of an earlier day file this run did not fetch (oldest first), and how many
    /// the file held.
    fn kept_messages(&self, path: &Path) -> Result<(usize, Vec<(i64, Value)>), ExportError> {
        let text = std::fs::read_to_string(path).map_err(ExportError::io(path))?;
        let old: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
            // Replacing it would lose what it holds: leave it to the user.
            ExportError::io(path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a day file of an export ({e}); move it away and run again"),
            ))
        })?;
        let total = old.len();
        let kept = old
            .into_iter()
            .filter(|m| !self.window.owns(m))
            .map(|m| {
                let key = m.get("ts").and_then(Value::as_str).and_then(ts_key);
                (key.unwrap_or(i64::MIN), m)
            })
            .collect();
        Ok((total, kept))
    }

    /// One element of the day's array, indented one level (JSON strings hold no raw newlines).
    fn write_element(&mut self, value: &Value) -> Result<(), ExportError> {
        let text = pretty(value)?;
        let mut chunk = Vec::with_capacity(text.len() + 64);
        chunk.extend_from_slice(if self.first_in_day { b"\n" } else { b",\n" });
        self.first_in_day = false;
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                chunk.push(b'\n');
            }
            chunk.extend_from_slice(b"    ");
            chunk.extend_from_slice(line);
        }
        self.write(&chunk)
    }

    /// Channel lists already in the folder (from earlier runs into the same `--out`), so exporting
    /// more channels later adds to the lists instead of replacing them.
    fn existing_list(&self, name: &str) -> Vec<Value> {
        let Target::Dir(root) = &self.target else {
            return Vec::new();
        };
        std::fs::read_to_string(root.join(name))
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
            .unwrap_or_default()
    }
}

/// Slack's exports indent with four spaces.
fn pretty(value: &Value) -> Result<Vec<u8>, ExportError> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser)?;
    Ok(buf)
}

/// The entry of a channel in channels.json & co.: the fields Slack's export carries.
fn channel_entry(meta: &ChannelMeta) -> Value {
    let c = &meta.conversation;
    let raw = &c.raw;
    let text_field = |key: &str| {
        raw.get(key)
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({"value": "", "creator": "", "last_set": 0}))
    };
    if c.is_im {
        return json!({
            "id": c.id,
            "created": c.created,
            "members": meta.members,
        });
    }
    let mut entry = json!({
        "id": c.id,
        "name": c.name,
        "created": c.created,
        "creator": c.creator.clone().unwrap_or_default(),
        "is_archived": c.is_archived,
        "is_general": raw.get("is_general").and_then(Value::as_bool).unwrap_or(false),
        "members": meta.members,
        "topic": text_field("topic"),
        "purpose": text_field("purpose"),
    });
    // Slack's export lists pins as {id: message ts, type: "C", created, user: who pinned,
    // owner: the message's author}, and leaves the key out when there are none.
    let pins: Vec<Value> = meta
        .pins
        .iter()
        .filter_map(|p| {
            let m = p.get("message")?;
            Some(json!({
                "id": m.get("ts")?,
                "type": "C",
                "created": p.get("created").cloned().unwrap_or(json!(0)),
                "user": p.get("created_by").cloned().unwrap_or(json!("")),
                "owner": m.get("user").cloned().unwrap_or(json!("")),
            }))
        })
        .collect();
    if !pins.is_empty()
        && let Value::Object(o) = &mut entry
    {
        o.insert("pins".into(), Value::Array(pins));
    }
    entry
}

fn list_name(meta: &ChannelMeta) -> &'static str {
    let c = &meta.conversation;
    if c.is_im {
        "dms.json"
    } else if c.is_mpim {
        "mpims.json"
    } else if c.is_private || c.is_group {
        "groups.json"
    } else {
        "channels.json"
    }
}

fn is_day_file(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() == 15
        && name.ends_with(".json")
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

impl Sink for SlackSink {
    fn order(&self) -> SpoolOrder {
        SpoolOrder::Chronological
    }

    fn wants_reply_refs(&self) -> bool {
        true
    }

    fn begin_channel(&mut self, channel: &ChannelMeta) -> Result<(), ExportError> {
        self.folder = channel.file_stem.clone();
        self.local = channel.local_files.clone();
        self.day = None;
        self.earlier_days.clear();
        if let Target::Dir(root) = &self.target {
            // Day files of an earlier export of this channel, merged or cleaned as this run goes.
            let dir = root.join(&self.folder);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if let Some(name) = e.file_name().to_str().filter(|n| is_day_file(n)) {
                        let day = name.trim_end_matches(".json").to_string();
                        self.earlier_days.insert(day, e.path());
                    }
                }
            }
        }
        Ok(())
    }

    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        let day = key_time(item.ts_key).strftime("%Y-%m-%d").to_string();
        if self.day.as_deref() != Some(day.as_str()) {
            self.end_day()?;
            self.start_day(day)?;
        }
        // Kept messages of the earlier file come in time order around this run's.
        while let Some((key, _)) = self.kept.last() {
            if *key > item.ts_key {
                break;
            }
            if let Some((key, old)) = self.kept.pop()
                && key < item.ts_key
            {
                self.write_element(&old)?;
            }
        }
        let mut value: Value = serde_json::from_str(item.raw)?;
        add_local_paths(&mut value, &self.local);
        if !item.replies.is_empty()
            && let Value::Object(obj) = &mut value
        {
            let refs: Vec<Value> = item
                .replies
                .iter()
                .map(|r| {
                    let mut o = Map::new();
                    o.insert("user".into(), json!(r.user));
                    o.insert("ts".into(), json!(r.ts));
                    Value::Object(o)
                })
                .collect();
            obj.insert("replies".into(), Value::Array(refs));
        }
        self.write_element(&value)
    }

    fn end_channel(&mut self) -> Result<(), ExportError> {
        self.end_day()?;
        // Earlier day files this run wrote nothing to: what it fetched and did not find was
        // deleted in Slack; the rest stays, and a file holding only the rest is not touched.
        for (day, path) in std::mem::take(&mut self.earlier_days) {
            let (total, kept) = if self.window == Window::default() {
                (1, Vec::new())
            } else {
                self.kept_messages(&path)?
            };
            if kept.len() == total {
                continue;
            }
            if kept.is_empty() {
                std::fs::remove_file(&path).map_err(ExportError::io(&path))?;
                continue;
            }
            self.earlier_days.insert(day.clone(), path);
            self.start_day(day)?;
            self.end_day()?;
        }
        Ok(())
    }

    fn finish(&mut self, users: &[User], channels: &[ChannelMeta]) -> Result<(), ExportError> {
        let users: Vec<Value> = users.iter().map(|u| u.raw.clone()).collect();
        self.write_file("users.json", &Value::Array(users))?;
        for list in ["channels.json", "groups.json", "dms.json", "mpims.json"] {
            let mut entries = self.existing_list(list);
            for meta in channels.iter().filter(|m| list_name(m) == list) {
                let entry = channel_entry(meta);
                entries.retain(|e| e.get("id") != entry.get("id"));
                entries.push(entry);
            }
            let key = |e: &Value| {
                (
                    e.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    e.get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            };
            entries.sort_by_key(key);
            self.write_file(list, &Value::Array(entries))?;
        }
        if let Target::Zip { path, writer } = &mut self.target
            && let Some(w) = writer.take()
        {
            let path = path.clone();
            let file = w.finish().map_err(|source| ExportError::Zip {
                path: path.clone(),
                source,
            })?;
            file.persist(&path)
                .map_err(|e| ExportError::io(&path)(e.error))?;
        }
        Ok(())
    }

    fn location(&self) -> String {
        match &self.target {
            Target::Dir(root) => root.display().to_string(),
            Target::Zip { path, .. } => path.display().to_string(),
        }
    }

    fn files_written(&self) -> u64 {
        self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_file_names() {
        assert!(is_day_file("2025-01-31.json"));
        assert!(!is_day_file("users.json"));
        assert!(!is_day_file("2025-01-31.json.partial"));
        assert!(!is_day_file("2025_01_31.json"));
    }
}
