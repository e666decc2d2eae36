//! Where groups come from: each platform implements [`GroupSource`] and hands the audit a
//! [`PlatformScan`] (its users and its in-scope groups with their members), so a second platform
//! plugs in without touching the engine, the reports or the history.

use futures::future::BoxFuture;
use roster::{AuditConfig, Platform, PlatformUser};
use serde::Serialize;

use crate::progress::RunProgress;

/// One group in scope, as fetched: who is in it, or why its members could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedGroup {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    /// Shared with another organisation (Slack Connect); always false on Telegram.
    pub ext_shared: bool,
    /// Member user IDs, sorted, so reports do not depend on the order answers arrived in.
    pub members: Vec<String>,
    /// Set when this group's members could not be read (e.g. `not_in_channel`); the run goes on.
    pub error: Option<String>,
}

/// Everything one platform contributes to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformScan {
    pub platform: Platform,
    /// Every user of the workspace, for resolving team members to user IDs.
    pub users: Vec<PlatformUser>,
    /// In-scope groups, sorted by name (then ID).
    pub groups: Vec<ScannedGroup>,
    /// Groups listed before the scope filter, for the summary.
    pub listed: usize,
}

/// A run-stopping failure of a source: the token or its scopes, not one group.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error(transparent)]
    Slack(#[from] slack_client::Error),
    /// The Telegram part failed (not logged in, FLOOD_WAIT too long, ...); its message carries
    /// its own `hint:` line.
    #[error(transparent)]
    Telegram(#[from] telegram::TelegramError),
}

impl SourceError {
    /// What the user should do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceError::Slack(e) => e.hint(),
            SourceError::Telegram(_) => None,
        }
    }

    /// True when the fix is in the settings (a missing token): exit code 2 rather than 1.
    pub fn is_usage(&self) -> bool {
        use telegram::TelegramError as T;
        matches!(
            self,
            SourceError::Slack(slack_client::Error::Config { .. })
                | SourceError::Telegram(
                    T::NotLoggedIn
                        | T::NoTerminal
                        | T::Config { .. }
                        | T::Fixture { .. }
                        | T::Session { .. }
                )
        )
    }
}

/// A platform the audit can read groups from.
pub trait GroupSource: Send + Sync {
    fn platform(&self) -> Platform;

    /// Lists the users and the groups in scope (per `config`), with their members. Group-level
    /// failures go into [`ScannedGroup::error`]; only run-stopping failures are `Err`.
    fn scan<'a>(
        &'a self,
        config: &'a AuditConfig,
        progress: &'a dyn RunProgress,
    ) -> BoxFuture<'a, Result<PlatformScan, SourceError>>;
}
