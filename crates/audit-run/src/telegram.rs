//! The Telegram side of the audit: the account's groups and supergroups (not broadcast channels)
//! shared with `telegram_scope.shared_with`, each with its participants fetched once, a few
//! groups at a time, behind the FLOOD_WAIT guard (so Telegram's flood limits, not the tool, bound
//! a large run). Also decides whether Telegram is configured at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use roster::{AuditConfig, Platform};
use telegram::{
    FixtureBackend, FloodWaitGuard, FloodWaitPolicy, TelegramApi, TelegramError, TgUser,
};
use tracing::{debug, warn};

use crate::progress::RunProgress;
use crate::source::{GroupSource, PlatformScan, ScannedGroup, SourceError};

/// Which Telegram account a run audits, decided before anything is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelegramAccount {
    /// A fixture file: `TELEGRAM_FIXTURE`, or the demo account's copy.
    Fixture(PathBuf),
    /// The real account through grammers (`TELEGRAM_API_ID`/`_HASH`, session file).
    Real,
}

/// The account the environment configures, or `None` when Telegram is not configured: no
/// `TELEGRAM_FIXTURE`, no `TELEGRAM_API_ID` and no session file. Anything half-configured (an API
/// id without a session, a session without an API id) counts as configured, so that the run
/// reports what is missing instead of silently skipping Telegram.
pub fn account_from_env() -> Option<TelegramAccount> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(path) = var(telegram::ENV_FIXTURE) {
        return Some(TelegramAccount::Fixture(path.into()));
    }
    // No place for a session (no HOME) means no session, not an error: the audit runs without it.
    let session = telegram::session_path().ok();
    (var("TELEGRAM_API_ID").is_some() || session.is_some_and(|p| p.exists()))
        .then_some(TelegramAccount::Real)
}

/// The demo account: the built-in fixture copied to `<out>/telegram-demo.json` (the same copy
/// `tg-admin --demo` uses, so its changes show in the audit) unless that copy exists already.
/// The built-in data itself is never modified.
pub fn demo_account(out: &Path) -> std::io::Result<TelegramAccount> {
    let path = out.join("telegram-demo.json");
    if !path.exists() {
        private_files::write(&path, telegram::demo::DEMO_FIXTURE)?;
    }
    Ok(TelegramAccount::Fixture(path))
}

/// Reads the audit's input from a Telegram account.
pub struct TelegramSource {
    api: FloodWaitGuard<Box<dyn TelegramApi>>,
}

impl TelegramSource {
    /// Opens the account. `max_flood_wait`: the longest FLOOD_WAIT slept through; a longer one
    /// gives up (the Telegram part of the run fails, see docs/slack-audit.md).
    pub async fn open(
        account: &TelegramAccount,
        max_flood_wait: Duration,
    ) -> Result<Self, TelegramError> {
        let api: Box<dyn TelegramApi> = match account {
            TelegramAccount::Fixture(path) => Box::new(FixtureBackend::open(path.clone())?),
            TelegramAccount::Real => telegram::open_from_env().await?,
        };
        Ok(Self::new(api, max_flood_wait))
    }

    pub fn new(api: Box<dyn TelegramApi>, max_flood_wait: Duration) -> Self {
        let policy = FloodWaitPolicy {
            max_wait: max_flood_wait,
            ..FloodWaitPolicy::default()
        };
        TelegramSource {
            api: FloodWaitGuard::new(api, policy),
        }
    }

    async fn scan_inner(&self, config: &AuditConfig) -> Result<PlatformScan, TelegramError> {
        let result = self.fetch(config).await;
        // The fixture backend writes back consumed FLOOD_WAIT rules here; nothing else changes.
        let finished = self.api.finish().await;
        let scan = result?;
        finished?;
        Ok(scan)
    }

    async fn fetch(&self, config: &AuditConfig) -> Result<PlatformScan, TelegramError> {
        let shared_with = config.categories.telegram_scope.shared_with_username();
        let audit_groups = telegram::groups_for_audit(&self.api, shared_with).await?;
        let me = self.api.me().await?;

        // Everyone seen in a group in scope, plus our own account: the users team members are
        // matched against. Members in none of these groups are looked up by username below.
        let mut users: BTreeMap<i64, TgUser> = BTreeMap::new();
        users.insert(me.id, me);
        let groups: Vec<ScannedGroup> = audit_groups
            .into_iter()
            .map(|g| {
                let mut members: Vec<String> =
                    g.participants.iter().map(|u| u.id.to_string()).collect();
                members.sort_unstable();
                members.dedup();
                for u in g.participants {
                    users.entry(u.id).or_insert(u);
                }
                ScannedGroup {
                    id: g.id.to_string(),
                    name: g.title,
                    // The Telegram API here exposes no public @username of a group, so every
                    // group counts as private and `flag_public` never fires on Telegram: customer
                    // groups are invite-only in practice, and a wrong "public" flag is worse.
                    is_private: true,
                    is_archived: false,
                    ext_shared: false,
                    members,
                    error: None,
                }
            })
            .collect();
        self.resolve_absent_members(config, &mut users).await;

        let mut groups = groups;
        groups.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(PlatformScan {
            platform: Platform::Telegram,
            users: users.values().map(telegram::platform_user).collect(),
            listed: groups.len(),
            groups,
        })
    }

    /// Looks up, by username or id, the team's `telegram` identifiers that match nobody seen in
    /// the groups, so that a member who is in none of them is reported missing rather than
    /// "matches no Telegram user". Names (with spaces) are not looked up. A failed lookup only
    /// costs that identifier: the member stays unmatched with a warning.
    async fn resolve_absent_members(
        &self,
        config: &AuditConfig,
        users: &mut BTreeMap<i64, TgUser>,
    ) {
        for member in &config.team.members {
            for ident in &member.telegram {
                let ident = ident.trim();
                let looks_like_username = !ident.is_empty()
                    && ident
                        .trim_start_matches('@')
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !looks_like_username || users.values().any(|u| u.matches(ident)) {
                    continue;
                }
                match self.api.resolve_user(ident).await {
                    Ok(Some(u)) => {
                        debug!(handle = %member.handle, user = u.id, "resolved outside the groups");
                        users.entry(u.id).or_insert(u);
                    }
                    Ok(None) => {}
                    Err(e) => warn!(
                        "cannot look up Telegram user {ident} (team member `{}`): {e}",
                        member.handle
                    ),
                }
            }
        }
    }
}

impl GroupSource for TelegramSource {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn scan<'a>(
        &'a self,
        config: &'a AuditConfig,
        progress: &'a dyn RunProgress,
    ) -> BoxFuture<'a, Result<PlatformScan, SourceError>> {
        async move {
            let scan = self.scan_inner(config).await.map_err(SourceError::from)?;
            // Telegram lists every group with its participants in one go: all are done at once.
            let groups = scan.groups.len() as u64;
            progress.groups_total(Platform::Telegram, groups);
            for _ in 0..groups {
                progress.group_done(Platform::Telegram);
            }
            Ok(scan)
        }
        .boxed()
    }
}
