//! Collecting Slack engagement data into the store under the privacy rules of `insight.json`:
//! one sync (users, channels, membership snapshots, messages, replies, reactions; opt-outs
//! erased, text dropped unless kept), retention, and the scrubbed raw snapshots. `insight-sync`
//! runs it from cron; `insight-report --demo` and the admin panel use it in-process.

pub mod opt_out;
pub mod snapshot;
pub mod sync;

use std::path::{Path, PathBuf};

pub use opt_out::{OptOutError, opted_out_since_sync};

pub use sync::{OPT_OUT_APPLIED_KEY, SyncError, SyncLock, SyncOptions, SyncSummary, lock, sync};

/// The default snapshot root for a given `--out`.
pub fn snapshot_root(out: &Path) -> PathBuf {
    snapshot::root(out)
}
