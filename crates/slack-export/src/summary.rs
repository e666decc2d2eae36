//! The end-of-run summary: per channel what was exported, fetched and written, and the run's
//! totals. With `--json` it is the one document on stdout; without it stderr carries the lines.

use serde::Serialize;

use crate::attachments::{LargeFile, MissingFile};
use crate::fetch::FetchStats;

/// One channel's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChannelSummary {
    pub id: String,
    pub name: String,
    /// Messages in the channel's output (top-level and replies).
    pub messages_exported: u64,
    /// Messages not stored before this run.
    pub new_messages: u64,
    pub threads_fetched: u64,
    /// Threads whose stored copy was already current (not fetched again).
    pub threads_unchanged: u64,
    /// Files (or zip entries) written for this channel.
    pub files_written: u64,
    /// Why the channel failed or is incomplete; `null` when it is whole.
    pub error: Option<String>,
}

impl ChannelSummary {
    pub fn new(id: &str, name: &str) -> Self {
        ChannelSummary {
            id: id.to_string(),
            name: name.to_string(),
            ..ChannelSummary::default()
        }
    }

    pub fn add_fetch(&mut self, stats: &FetchStats) {
        self.new_messages = stats.new_messages;
        self.threads_fetched = stats.threads_fetched;
        self.threads_unchanged = stats.threads_skipped;
        if !stats.thread_errors.is_empty() {
            self.error = Some(format!(
                "{} thread(s) could not be fetched; rerun with --resume",
                stats.thread_errors.len()
            ));
        }
    }
}

/// Calls made to Slack during the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiCalls {
    pub requests: u64,
    pub http_429: u64,
    pub retries: u64,
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportSummary {
    /// `text`, `json` or `slack`.
    pub format: String,
    /// Where the output went (folder or zip file).
    pub location: String,
    pub channels_exported: usize,
    pub channels_failed: usize,
    pub messages_exported: u64,
    /// Every file written, the workspace-level ones of the Slack layout included.
    pub files_written: u64,
    pub api: ApiCalls,
    pub seconds: f64,
    pub channels: Vec<ChannelSummary>,
    /// With `--files`: files downloaded in this run, and their bytes.
    pub files_downloaded: u64,
    pub files_bytes: u64,
    /// Files already there whole from an earlier run (not downloaded again).
    pub files_skipped_existing: u64,
    /// Files that are gone (`tombstone`, `hidden_by_limit`, `not_found`, ...): listed, not a
    /// failure.
    pub files_missing: Vec<MissingFile>,
    /// Files over `--max-file-size` (or longer than Slack advertised): not downloaded.
    pub files_too_large: Vec<LargeFile>,
    /// Downloads that failed after their retries: the run fails; a rerun tries them again.
    pub files_failed: Vec<MissingFile>,
    /// users.info calls made for people users.list did not return (Slack Connect).
    pub users_looked_up: u64,
    /// User IDs Slack could not resolve (`user_not_found`): shown as IDs.
    pub users_unresolved: Vec<String>,
}
