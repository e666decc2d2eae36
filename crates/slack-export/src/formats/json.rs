//! The `json` format: one `<channel>.json` per channel holding every exported message exactly as
//! Slack sent it (replies included, each thread right after its parent), one message per line;
//! with `--files`, each downloaded file object also carries `local_path`. Beside it,
//! `<channel>.meta.json` holds the channel itself: topic, purpose, creator, creation time,
//! members and the people the messages name (with names), and pins.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use slack_client::User;
use store::export::SpoolOrder;

use crate::files::{AtomicFile, add_local_paths};
use crate::names::Directory;
use crate::sink::{ChannelMeta, ExportError, Item, Sink};

pub struct JsonSink {
    out_dir: PathBuf,
    names: Arc<Directory>,
    current: Option<(PathBuf, AtomicFile, bool)>,
    /// The current channel, for its meta file.
    meta: Option<ChannelMeta>,
    local: HashMap<String, String>,
    files: u64,
}

impl JsonSink {
    pub fn new(out_dir: PathBuf, names: Arc<Directory>) -> Self {
        JsonSink {
            out_dir,
            names,
            current: None,
            meta: None,
            local: HashMap::new(),
            files: 0,
        }
    }

    fn people_of<'m>(&self, meta: &'m ChannelMeta) -> &'m [String] {
        &meta.people
    }

    /// `<stem>.meta.json`: the channel's metadata with names.
    fn write_meta(&mut self, meta: &ChannelMeta) -> Result<(), ExportError> {
        let c = &meta.conversation;
        let person = |id: &str| json!({"id": id, "name": self.names.user(id)});
        let text_field = |key: &str| {
            c.raw
                .get(key)
                .filter(|v| v.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"value": "", "creator": "", "last_set": 0}))
        };
        let users: BTreeMap<&str, String> = self
            .people_of(meta)
            .iter()
            .chain(meta.members.iter())
            .map(|id| (id.as_str(), self.names.user(id)))
            .collect();
        let doc = json!({
            "id": c.id,
            "name": c.name,
            "is_private": c.is_private,
            "is_im": c.is_im,
            "is_mpim": c.is_mpim,
            "is_archived": c.is_archived,
            "is_ext_shared": c.raw.get("is_ext_shared").and_then(Value::as_bool).unwrap_or(false),
            "created": c.created,
            "creator": c.creator.as_deref().filter(|s| !s.is_empty()).map(person),
            "user": c.user.as_deref().map(person),
            "topic": text_field("topic"),
            "purpose": text_field("purpose"),
            "members": meta.members.iter().map(|m| person(m)).collect::<Vec<_>>(),
            "users": users,
            "pins": meta.pins,
        });
        let path = self.out_dir.join(format!("{}.meta.json", meta.file_stem));
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        private_files::write(&path, bytes).map_err(ExportError::io(&path))?;
        self.files += 1;
        Ok(())
    }
}

impl Sink for JsonSink {
    fn order(&self) -> SpoolOrder {
        SpoolOrder::Threaded
    }

    fn begin_channel(&mut self, channel: &ChannelMeta) -> Result<(), ExportError> {
        let path = self.out_dir.join(format!("{}.json", channel.file_stem));
        let mut file = AtomicFile::create(&path).map_err(ExportError::io(&path))?;
        file.write_all(b"[").map_err(ExportError::io(&path))?;
        self.current = Some((path, file, true));
        self.meta = Some(channel.clone());
        self.local = channel.local_files.clone();
        Ok(())
    }

    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        // Only a message with downloaded files is parsed (to add local_path); the rest are
        // written as they came.
        let mut rewritten = None;
        if !self.local.is_empty() && item.raw.contains("\"files\"") {
            let mut v: Value = serde_json::from_str(item.raw)?;
            if add_local_paths(&mut v, &self.local) {
                rewritten = Some(serde_json::to_string(&v)?);
            }
        }
        let raw = rewritten.as_deref().unwrap_or(item.raw);
        if let Some((path, file, first)) = &mut self.current {
            let sep: &[u8] = if *first { b"\n" } else { b",\n" };
            *first = false;
            file.write_all(sep)
                .map_err(ExportError::io(path.as_path()))?;
            // Spooled in serde_json's compact form: written as it is, not parsed and re-printed.
            file.write_all(raw.as_bytes())
                .map_err(ExportError::io(path.as_path()))?;
        }
        Ok(())
    }

    fn end_channel(&mut self) -> Result<(), ExportError> {
        if let Some((path, mut file, _)) = self.current.take() {
            file.write_all(b"\n]\n")
                .map_err(ExportError::io(path.as_path()))?;
            file.commit().map_err(ExportError::io(path))?;
            self.files += 1;
        }
        if let Some(meta) = self.meta.take() {
            self.write_meta(&meta)?;
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
