//! `--files`: the files attached to a channel's exported messages, downloaded once per file ID
//! into `<export root>/files/<ID>/<name>` ([`crate::files::local_file_rel_path`]). A file already
//! there with its advertised size is kept (reruns and `--resume` skip it); a download goes to a
//! temporary name and is renamed only when whole, so a cut-off one is never kept. Files that are
//! gone (tombstones, hidden by the plan's limit, 404) are listed, not failures.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use slack_client::{Download, FileRequest, SlackClient};
use tracing::{debug, warn};

use crate::files::{AtomicFile, local_file_rel_path};
use crate::sink::ExportError;

/// Downloads in flight at once (the client's own cap and pacing apply on top).
const DOWNLOADS_IN_FLIGHT: usize = 4;

/// A file that could not be had, and why (`tombstone`, `hidden_by_limit`, `not_found`,
/// `no_url`, `refused: ...`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MissingFile {
    pub id: String,
    pub name: String,
    pub reason: String,
}

/// A file over `--max-file-size` (or longer than Slack said): not downloaded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LargeFile {
    pub id: String,
    pub name: String,
    /// The size Slack advertised, if any.
    pub size: Option<u64>,
}

/// What `--files` did over the run.
#[derive(Debug, Default)]
pub struct FileTally {
    pub downloaded: u64,
    pub bytes: u64,
    pub skipped_existing: u64,
    pub missing: Vec<MissingFile>,
    pub too_large: Vec<LargeFile>,
    /// Downloads that failed after their retries (a rerun tries them again).
    pub failed: Vec<MissingFile>,
}

/// Downloads files for a run; remembers what it handled so each file ID is handled once.
pub struct Downloader {
    client: SlackClient,
    /// The export root: files go under `<root>/files/`.
    root: PathBuf,
    max_bytes: Option<u64>,
    /// File ID -> relative path of every file present locally.
    local: HashMap<String, String>,
    /// Every file ID handled (present, missing or refused).
    seen: HashSet<String>,
    pub tally: FileTally,
}

/// One file object to fetch.
struct Wanted {
    id: String,
    name: String,
    url: String,
    size: Option<u64>,
    html: bool,
    rel: String,
}

enum Fetched {
    Done(u64),
    Gone,
    TooLarge,
    Refused(String),
    Failed(String),
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Downloader {
    pub fn new(client: SlackClient, root: PathBuf, max_bytes: Option<u64>) -> Self {
        Downloader {
            client,
            root,
            max_bytes,
            local: HashMap::new(),
            seen: HashSet::new(),
            tally: FileTally::default(),
        }
    }

    /// File ID -> relative path, for the files present locally so far.
    pub fn local(&self) -> &HashMap<String, String> {
        &self.local
    }

    /// Handles the file objects of one channel's messages. A failed download is recorded and the
    /// others go on; only a fatal error (the token cannot read files, disk errors) is returned.
    pub async fn fetch(&mut self, files: Vec<Value>) -> Result<(), ExportError> {
        let mut wanted = Vec::new();
        for f in files {
            let Some(id) = str_of(&f, "id").map(str::to_string) else {
                continue;
            };
            if !self.seen.insert(id.clone()) {
                continue;
            }
            let name = str_of(&f, "name")
                .or_else(|| str_of(&f, "title"))
                .unwrap_or(&id)
                .to_string();
            let missing = |reason: &str| MissingFile {
                id: id.clone(),
                name: name.clone(),
                reason: reason.into(),
            };
            if let Some(mode @ ("tombstone" | "hidden_by_limit")) = str_of(&f, "mode") {
                self.tally.missing.push(missing(mode));
                continue;
            }
            if f.get("file_access").and_then(Value::as_str) == Some("file_not_found") {
                self.tally.missing.push(missing("not_found"));
                continue;
            }
            let Some(url) = str_of(&f, "url_private_download")
                .or_else(|| str_of(&f, "url_private"))
                .map(str::to_string)
            else {
                self.tally.missing.push(missing("no_url"));
                continue;
            };
            let size = f.get("size").and_then(Value::as_u64);
            if let (Some(size), Some(max)) = (size, self.max_bytes)
                && size > max
            {
                self.tally.too_large.push(LargeFile {
                    id,
                    name,
                    size: Some(size),
                });
                continue;
            }
            let rel = local_file_rel_path(&id, &name);
            let dest = self.root.join(&rel);
            // Complete from an earlier run: same size as Slack advertises.
            if let Some(size) = size
                && std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == size)
            {
                self.tally.skipped_existing += 1;
                self.local.insert(id, rel);
                continue;
            }
            let html = str_of(&f, "mimetype").is_some_and(|m| m.starts_with("text/html"))
                || str_of(&f, "filetype") == Some("html");
            wanted.push(Wanted {
                id,
                name,
                url,
                size,
                html,
                rel,
            });
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let client = &self.client;
        let root = &self.root;
        let max_bytes = self.max_bytes;
        let mut results = futures::stream::iter(wanted)
            .map(|w| async move {
                let outcome = fetch_one(client, root, max_bytes, &w).await;
                (w, outcome)
            })
            .buffer_unordered(DOWNLOADS_IN_FLIGHT);
        while let Some((w, outcome)) = results.next().await {
            let entry = |reason: String| MissingFile {
                id: w.id.clone(),
                name: w.name.clone(),
                reason,
            };
            match outcome? {
                Fetched::Done(bytes) => {
                    self.tally.downloaded += 1;
                    self.tally.bytes += bytes;
                    self.local.insert(w.id.clone(), w.rel.clone());
                }
                Fetched::Gone => self.tally.missing.push(entry("not_found".into())),
                Fetched::TooLarge => self.tally.too_large.push(LargeFile {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    size: w.size,
                }),
                Fetched::Refused(why) => self.tally.missing.push(entry(format!("refused: {why}"))),
                Fetched::Failed(why) => {
                    // IDs and hosts come from Slack: no escapes reach the terminal.
                    warn!(
                        file = %roster::text::terminal_safe(&w.id),
                        error = %roster::text::terminal_safe(&why),
                        "could not download a file; rerun to try again"
                    );
                    self.tally.failed.push(entry(why));
                }
            }
        }
        Ok(())
    }
}

async fn fetch_one(
    client: &SlackClient,
    root: &std::path::Path,
    max_bytes: Option<u64>,
    w: &Wanted,
) -> Result<Fetched, ExportError> {
    let dest = root.join(&w.rel);
    private_files::create_parent(&dest).map_err(ExportError::io(&dest))?;
    // Never more than Slack says the file holds, nor than --max-file-size.
    let cap = match (w.size, max_bytes) {
        (Some(s), Some(m)) => s.min(m),
        (Some(s), None) => s,
        (None, Some(m)) => m,
        (None, None) => u64::MAX,
    };
    let req = FileRequest {
        url: &w.url,
        max_bytes: cap,
        html_expected: w.html,
    };
    debug!(file = %roster::text::terminal_safe(&w.id), "downloading");
    let got = client.download(&req, || AtomicFile::create(&dest)).await;
    match got {
        Ok(Download::Complete { sink, bytes }) => {
            if w.size.is_some_and(|s| s != bytes) {
                // Dropping the sink removes its temporary file.
                return Ok(Fetched::Failed(format!(
                    "got {bytes} bytes, Slack advertised {}",
                    w.size.unwrap_or(0)
                )));
            }
            sink.commit().map_err(ExportError::io(&dest))?;
            Ok(Fetched::Done(bytes))
        }
        Ok(Download::Gone { .. }) => Ok(Fetched::Gone),
        Ok(Download::TooLarge) => Ok(Fetched::TooLarge),
        Err(
            e @ (slack_client::Error::NotSlackUrl { .. }
            | slack_client::Error::RedirectRefused { .. }),
        ) => Ok(Fetched::Refused(e.to_string())),
        Err(e @ (slack_client::Error::FileSignIn | slack_client::Error::Io(_))) => Err(e.into()),
        Err(e) if e.is_fatal() => Err(e.into()),
        Err(e) => Ok(Fetched::Failed(e.to_string())),
    }
}
