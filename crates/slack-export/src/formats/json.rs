//! The `json` format: one `<channel>.json` per channel holding every exported message exactly as
//! Slack sent it (replies included, each thread right after its parent), one message per line.

use std::io::Write;
use std::path::PathBuf;

use slack_client::User;
use store::export::SpoolOrder;

use crate::files::AtomicFile;
use crate::sink::{ChannelMeta, ExportError, Item, Sink};

pub struct JsonSink {
    out_dir: PathBuf,
    current: Option<(PathBuf, AtomicFile, bool)>,
    files: u64,
}

impl JsonSink {
    pub fn new(out_dir: PathBuf) -> Self {
        JsonSink {
            out_dir,
            current: None,
            files: 0,
        }
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
        Ok(())
    }

    fn message(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        if let Some((path, file, first)) = &mut self.current {
            let sep: &[u8] = if *first { b"\n" } else { b",\n" };
            *first = false;
            file.write_all(sep)
                .map_err(ExportError::io(path.as_path()))?;
            // Spooled in serde_json's compact form: written as it is, not parsed and re-printed.
            file.write_all(item.raw.as_bytes())
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
