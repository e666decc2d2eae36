//! The `slack` format: Slack's standard workspace export layout, which viewers such as
//! slack-export-viewer read. `users.json`, `channels.json` / `groups.json` / `dms.json` /
//! `mpims.json` at the root, one folder per channel with a `YYYY-MM-DD.json` file per day (UTC, as
//! Slack's own exports), every reply in its own day's file, and each thread parent carrying
//! `replies: [{user, ts}]` so viewers nest threads. Written as a folder or, with `--zip`, one zip.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use slack_client::User;
use store::export::SpoolOrder;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use crate::files::AtomicFile;
use crate::sink::{ChannelMeta, ExportError, Item, Sink};
use crate::window::key_time;

/// The folder (and zip file stem) the layout is written to under `--out`.
pub const EXPORT_DIR: &str = "slack-export";

// One Target per export: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
enum Target {
    Dir(PathBuf),
    Zip {
        path: PathBuf,
        tmp: PathBuf,
        writer: Option<ZipWriter<File>>,
    },
}

/// The file currently open for writing.
enum Open {
    Dir(PathBuf, AtomicFile),
    Zip,
}

pub struct SlackSink {
    target: Target,
    open: Option<Open>,
    folder: String,
    day: Option<String>,
    first_in_day: bool,
    /// Files (or zip entries) started, for the summary.
    files: u64,
}

impl SlackSink {
    /// The layout as a folder `<out>/slack-export/`, or as `<out>/slack-export.zip` with `zip`.
    pub fn new(out_dir: &Path, zip: bool) -> Result<Self, ExportError> {
        let target = if zip {
            let path = out_dir.join(format!("{EXPORT_DIR}.zip"));
            let tmp = out_dir.join(format!("{EXPORT_DIR}.zip.partial"));
            std::fs::create_dir_all(out_dir).map_err(ExportError::io(out_dir))?;
            let file = File::create(&tmp).map_err(ExportError::io(&tmp))?;
            Target::Zip {
                path,
                tmp,
                writer: Some(ZipWriter::new(file)),
            }
        } else {
            Target::Dir(out_dir.join(EXPORT_DIR))
        };
        Ok(SlackSink {
            target,
            open: None,
            folder: String::new(),
            day: None,
            first_in_day: true,
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
            self.write(b"\n]\n")?;
            self.end_file()?;
        }
        Ok(())
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
    json!({
        "id": c.id,
        "name": c.name,
        "created": c.created,
        "creator": c.creator.clone().unwrap_or_default(),
        "is_archived": c.is_archived,
        "is_general": raw.get("is_general").and_then(Value::as_bool).unwrap_or(false),
        "members": meta.members,
        "topic": text_field("topic"),
        "purpose": text_field("purpose"),
    })
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
        self.day = None;
        if let Target::Dir(root) = &self.target {
            // Day files of an earlier export of this channel that this one may not rewrite.
            let dir = root.join(&self.folder);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_name().to_str().is_some_and(is_day_file) {
                        std::fs::remove_file(e.path()).map_err(ExportError::io(e.path()))?;
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
            let rel = format!("{}/{day}.json", self.folder);
            self.start_file(&rel)?;
            self.write(b"[")?;
            self.day = Some(day);
            self.first_in_day = true;
        }
        let mut value: Value = serde_json::from_str(item.raw)?;
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
        let text = pretty(&value)?;
        let mut chunk = Vec::with_capacity(text.len() + 64);
        chunk.extend_from_slice(if self.first_in_day { b"\n" } else { b",\n" });
        self.first_in_day = false;
        // Indent the element one level inside the day's array (JSON strings hold no raw newlines).
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                chunk.push(b'\n');
            }
            chunk.extend_from_slice(b"    ");
            chunk.extend_from_slice(line);
        }
        self.write(&chunk)
    }

    fn end_channel(&mut self) -> Result<(), ExportError> {
        self.end_day()
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
        if let Target::Zip { path, tmp, writer } = &mut self.target
            && let Some(w) = writer.take()
        {
            let (path, tmp) = (path.clone(), tmp.clone());
            let file = w.finish().map_err(|source| ExportError::Zip {
                path: path.clone(),
                source,
            })?;
            drop(file);
            std::fs::rename(&tmp, &path).map_err(ExportError::io(&path))?;
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
