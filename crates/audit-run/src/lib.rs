//! One customer-group coverage audit run, as `slack-audit` and the admin panel start it: load the
//! config, scan every platform ([`GroupSource`]), run the `audit` engine, write the Excel/CSV
//! reports, record the run in the SQLite history (a `running` row first, `finished` or `failed`
//! at the end) and optionally post the summary to Slack.
//!
//! The caller gives a [`RunSettings`] and a [`RunProgress`] and gets a [`RunReport`] (what to
//! print or show) or a [`RunError`] (with its fix, [`RunError::hint`]).

pub mod engine;
pub mod notify;
pub mod outputs;
pub mod progress;
pub mod slack;
pub mod source;
pub mod telegram;

use std::path::PathBuf;
use std::time::Duration;

use audit::{AuditResult, Changes};
use futures::TryFutureExt;
use jiff::Timestamp;
use roster::{AuditConfig, ConfigError};
use slack_client::{ClientConfig, SlackClient};
use store::Store;
use store::audit::{NotificationRow, NotificationStatus};
use tracing::{error, info, warn};

pub use engine::AuditRun;
pub use outputs::ReportPaths;
pub use progress::{NoProgress, ProgressCounter, ProgressSnapshot, RunPhase, RunProgress};
pub use slack::SlackSource;
pub use source::{GroupSource, PlatformScan, ScannedGroup, SourceError};
pub use telegram::{TelegramAccount, TelegramSource};

/// Which Telegram account a run audits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TelegramSetting {
    /// Do not audit Telegram.
    Skip,
    /// The demo account with `demo`, else what the environment configures
    /// ([`telegram::account_from_env`]); skipped when nothing is configured.
    #[default]
    Auto,
    /// This account.
    Account(TelegramAccount),
}

/// Everything a run needs, resolved by the caller (flags, environment, panel form).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Directory holding team.json and categories.json (ignored with `demo`).
    pub config_dir: PathBuf,
    /// Reports go to `<out_dir>/audit_reports/`.
    pub out_dir: PathBuf,
    /// The SQLite history.
    pub db_path: PathBuf,
    /// Run against the built-in demo workspace (an in-process slack-sim) and demo config.
    pub demo: bool,
    pub skip_slack: bool,
    /// Slack client settings; `None`: from the environment (`SLACK_TOKEN`, ...), or the demo's.
    pub slack: Option<ClientConfig>,
    pub telegram: TelegramSetting,
    /// Longest Telegram FLOOD_WAIT slept through; a longer one fails the Telegram part.
    pub max_flood_wait: Duration,
    /// After the run, post the summary to this Slack channel (name or ID).
    pub notify: Option<String>,
    /// Who or what starts the run, kept in the history: `cli`, `panel:<username>`, `demo`.
    pub started_by: String,
}

impl RunSettings {
    /// Settings for a run over `config_dir`, writing under `out_dir` and into `db_path`, every
    /// platform configured, no notification.
    pub fn new(
        config_dir: impl Into<PathBuf>,
        out_dir: impl Into<PathBuf>,
        db_path: impl Into<PathBuf>,
        started_by: impl Into<String>,
    ) -> Self {
        RunSettings {
            config_dir: config_dir.into(),
            out_dir: out_dir.into(),
            db_path: db_path.into(),
            demo: false,
            skip_slack: false,
            slack: None,
            telegram: TelegramSetting::Auto,
            max_flood_wait: Duration::from_secs(60),
            notify: None,
            started_by: started_by.into(),
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run's row in the history.
    pub run_id: i64,
    pub run: AuditRun,
    /// Changes since the previous finished run; `None` for the first one.
    pub changes: Option<Changes>,
    pub reports: ReportPaths,
    /// The summary notification's final log row, when one was sent (`notify` set or
    /// `audit_complete` enabled in notifications.json).
    pub notification: Option<NotificationRow>,
    /// Every notification the run sent (the summary first), final log rows.
    pub notifications: Vec<NotificationRow>,
    /// Telegram failed and only Slack was audited (the reason is in `run.skipped`).
    pub telegram_failed: bool,
}

impl RunReport {
    /// Groups whose members could not be read.
    pub fn group_errors(&self) -> u32 {
        self.run.group_errors()
    }

    /// Whether the summary was to be posted and was not.
    pub fn notify_failed(&self) -> bool {
        self.notifications
            .iter()
            .any(|n| n.status != NotificationStatus::Delivered)
    }

    /// Every group read, every platform audited, the notification (if any) delivered.
    pub fn is_complete(&self) -> bool {
        self.group_errors() == 0 && !self.notify_failed() && !self.telegram_failed
    }

    /// Whether a readable group misses a required member.
    pub fn has_gaps(&self) -> bool {
        self.run.has_gaps()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// team.json or categories.json is wrong; nothing was fetched or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("nothing to audit: Slack and Telegram are both skipped")]
    NothingToAudit { hint: &'static str },
    /// A run-stopping failure of a platform (bad token, missing scope, Telegram not logged in).
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("starting the demo workspace: {0}")]
    Demo(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("opening {}: {source}", store::shown_location(path))]
    OpenStore {
        path: PathBuf,
        #[source]
        source: store::StoreError,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

impl RunError {
    /// What the user should do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Config(e) => e.hint.clone(),
            RunError::NothingToAudit { hint } => Some((*hint).to_string()),
            RunError::Source(e) => e.hint(),
            _ => None,
        }
    }

    /// True when the fix is in the settings or config (exit code 2 rather than 1).
    pub fn is_usage(&self) -> bool {
        match self {
            RunError::Config(_) | RunError::NothingToAudit { .. } => true,
            RunError::Source(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// "Changes since the previous run" over the platforms audited now: a platform skipped or
/// failed this time (or last time) does not show up as all its groups removed (or new), and the
/// coverage change is only given when both runs covered the same platforms. The admin panel
/// shows a stored run's changes with it too.
pub fn changes_since(mut previous: AuditResult, current: &AuditResult) -> Changes {
    let now = &current.summary.platforms;
    let same_platforms = {
        let mut before = previous.summary.platforms.clone();
        let mut after = now.clone();
        before.sort();
        after.sort();
        before == after
    };
    previous.findings.retain(|f| now.contains(&f.platform));
    let before = &previous.summary.platforms;
    let mut changes = audit::diff(&previous, current);
    changes.new_groups.retain(|g| before.contains(&g.platform));
    changes.gaps_opened.retain(|g| before.contains(&g.platform));
    if !same_platforms {
        changes.coverage_delta = None;
    }
    changes
}

/// One audit run: load config, scan every platform, audit, write reports and history, notify.
/// Config and settings problems stop it before anything is fetched or written; from the first
/// fetch on, the run has a row in the history (`running`, then `finished` or `failed`; a run
/// dropped mid-way marks it `interrupted`).
pub async fn run(
    settings: &RunSettings,
    progress: &dyn RunProgress,
) -> Result<RunReport, RunError> {
    let demo = if settings.demo {
        Some(
            demo::DemoEnv::start()
                .await
                .map_err(|e| RunError::Demo(format!("{e:#}")))?,
        )
    } else {
        None
    };
    let result = run_with(settings, progress, demo.as_ref()).await;
    progress.phase(RunPhase::Done);
    if let Some(d) = demo {
        d.shutdown().await;
    }
    result
}

async fn run_with(
    settings: &RunSettings,
    progress: &dyn RunProgress,
    demo: Option<&demo::DemoEnv>,
) -> Result<RunReport, RunError> {
    let started_at = Timestamp::now();
    let config: AuditConfig = match demo {
        Some(d) => roster::load(&d.config_dir)?,
        None => roster::load(&settings.config_dir)?,
    };

    // notifications.json (missing = only --notify), checked with the rest of the config.
    let notify_config = notifications::load_with_store(&settings.config_dir, &settings.db_path)?;

    // Which Telegram account, if any, before anything is fetched.
    let telegram_account = match &settings.telegram {
        TelegramSetting::Skip => None,
        TelegramSetting::Auto if demo.is_some() => Some(
            telegram::demo_account(&settings.out_dir).map_err(|source| RunError::Io {
                what: format!(
                    "copying the demo Telegram account under {}",
                    settings.out_dir.display()
                ),
                source,
            })?,
        ),
        TelegramSetting::Auto => telegram::account_from_env(),
        TelegramSetting::Account(account) => Some(account.clone()),
    };
    let skip_telegram = settings.telegram == TelegramSetting::Skip;
    let mut skipped = Vec::new();
    if settings.skip_slack {
        skipped.push("Slack: skipped (--skip-slack)".to_string());
    }
    if skip_telegram {
        skipped.push("Telegram: skipped (--skip-telegram)".to_string());
    } else if telegram_account.is_none() {
        skipped.push("Telegram: skipped (not configured)".to_string());
    }
    if settings.skip_slack && telegram_account.is_none() {
        let hint = if skip_telegram {
            "drop --skip-slack or --skip-telegram"
        } else {
            "drop --skip-slack, or configure Telegram (TELEGRAM_API_ID/TELEGRAM_API_HASH and `tg-admin login`, or TELEGRAM_FIXTURE)"
        };
        return Err(RunError::NothingToAudit { hint });
    }

    let sends_events = [
        notifications::Event::AuditComplete,
        notifications::Event::AuditNewGaps,
        notifications::Event::TelegramSessionExpired,
        notifications::Event::SystemAlert,
    ]
    .into_iter()
    .any(|e| notify_config.enabled(e).is_some());
    let needs_slack = !settings.skip_slack || settings.notify.is_some() || sends_events;
    let client = if needs_slack {
        let cfg = match (&settings.slack, demo) {
            (Some(cfg), _) => cfg.clone(),
            (None, Some(d)) => d.client_config(),
            (None, None) => {
                token_vault::client_config(&settings.db_path).map_err(SourceError::from)?
            }
        };
        Some(SlackClient::new(cfg).map_err(SourceError::from)?)
    } else {
        None
    };

    // From here on the run is in the history, so a page (or `history`) shows it going on.
    let mut store = Store::open(&settings.db_path).map_err(|source| RunError::OpenStore {
        path: settings.db_path.clone(),
        source,
    })?;
    let run_id = store.begin_audit_run(started_at, &settings.started_by)?;
    let mut running = InterruptOnDrop {
        db: settings.db_path.clone(),
        run_id,
        armed: true,
    };
    let scanned = scan_and_record(
        settings,
        progress,
        &config,
        client.as_ref(),
        telegram_account.as_ref(),
        skipped,
        &mut store,
        run_id,
        started_at,
    )
    .await;
    running.armed = false;
    let notify = settings.notify.as_deref();
    let (run, changes, reports, telegram_failed, telegram_expired) = match scanned {
        Ok(done) => done,
        Err(e) => {
            if let Err(store_error) = store.fail_audit_run(run_id) {
                warn!("cannot mark audit run {run_id} failed: {store_error}");
            }
            if let (
                Some(client),
                RunError::Source(SourceError::Telegram(::telegram::TelegramError::NotLoggedIn)),
            ) = (&client, &e)
            {
                notify::telegram_expired(
                    client,
                    &mut store,
                    &notify_config,
                    notify,
                    Some(run_id),
                    &e.to_string(),
                )
                .await?;
            } else if let Some(client) = &client {
                // The run's own error is what the caller gets; a failed alert only warns.
                let message = format!("audit run {run_id} failed: {e}");
                if let Err(n) = notify::system_alert(
                    client,
                    &mut store,
                    &notify_config,
                    notify,
                    Some(run_id),
                    &message,
                )
                .await
                {
                    warn!("cannot record the system_alert notification: {n}");
                }
            }
            return Err(e);
        }
    };

    let mut notifications = Vec::new();
    if let Some(client) = &client {
        progress.phase(RunPhase::Notifying);
        if let Some(detail) = &telegram_expired {
            notifications.extend(
                notify::telegram_expired(
                    client,
                    &mut store,
                    &notify_config,
                    notify,
                    Some(run_id),
                    detail,
                )
                .await?,
            );
        }
        let mut rows = notify::after_run(
            client,
            &mut store,
            &notify_config,
            notify,
            run_id,
            &run,
            changes.as_ref(),
        )
        .await?;
        rows.append(&mut notifications);
        notifications = rows;
    }
    let notification = notifications
        .iter()
        .find(|_| {
            notify.is_some()
                || notify_config
                    .enabled(notifications::Event::AuditComplete)
                    .is_some()
        })
        .cloned();
    let errors = run.group_errors();
    if errors > 0 {
        warn!("{errors} group(s) could not be read; the report lists them with their error");
        if let Some(client) = &client {
            notifications.extend(
                notify::system_alert(
                    client,
                    &mut store,
                    &notify_config,
                    notify,
                    Some(run_id),
                    &format!(
                        "audit run {run_id}: {errors} group(s) could not be read; the report lists them with their error"
                    ),
                )
                .await?,
            );
        }
    }
    Ok(RunReport {
        run_id,
        run,
        changes,
        reports,
        notification,
        notifications,
        telegram_failed,
    })
}

/// Marks the run's row `interrupted` when the run's future is dropped before it ended (the
/// panel shutting down mid-run); a killed process leaves the row `running` instead, for
/// `Store::mark_running_audit_runs_interrupted`.
struct InterruptOnDrop {
    db: PathBuf,
    run_id: i64,
    armed: bool,
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let marked =
            Store::open(&self.db).and_then(|mut s| s.mark_audit_run_interrupted(self.run_id));
        if let Err(e) = marked {
            warn!("cannot mark audit run {} interrupted: {e}", self.run_id);
        }
    }
}

/// The run, its changes, its reports, whether Telegram failed, and why when its session was not
/// authorised.
type Scanned = (AuditRun, Option<Changes>, ReportPaths, bool, Option<String>);

/// Scans both platforms side by side, audits, writes the reports and records the results.
#[allow(clippy::too_many_arguments)]
async fn scan_and_record(
    settings: &RunSettings,
    progress: &dyn RunProgress,
    config: &AuditConfig,
    client: Option<&SlackClient>,
    telegram_account: Option<&TelegramAccount>,
    mut skipped: Vec<String>,
    store: &mut Store,
    run_id: i64,
    started_at: Timestamp,
) -> Result<Scanned, RunError> {
    progress.phase(RunPhase::Scanning);
    let slack_source = client
        .filter(|_| !settings.skip_slack)
        .map(|c| SlackSource::new(c.clone()));

    // Each platform is bounded by its own rate limits. A Slack failure (bad token, missing
    // scope) stops the run at once; a Telegram failure is reported and the Slack part still
    // written (see docs/slack-audit.md).
    let slack_scan = async {
        let Some(source) = &slack_source else {
            return Ok(None);
        };
        source.scan(config, progress).await.map(Some)
    }
    .map_err(RunError::from);
    let max_flood_wait = settings.max_flood_wait;
    let telegram_scan = async {
        let account = telegram_account?;
        let scan = async {
            let source = TelegramSource::open(account, max_flood_wait).await?;
            source.scan(config, progress).await
        };
        Some(scan.await)
    };
    let (slack_scan, telegram_scan) =
        futures::try_join!(slack_scan, async { Ok(telegram_scan.await) })?;

    let mut scans: Vec<PlatformScan> = slack_scan.into_iter().collect();
    let mut telegram_failed = false;
    let mut telegram_expired = None;
    match telegram_scan {
        None => {}
        Some(Ok(scan)) => scans.push(scan),
        // Telegram was the only platform: nothing to report, the error is the outcome.
        Some(Err(e)) if scans.is_empty() => return Err(e.into()),
        Some(Err(e)) => {
            error!("the Telegram part of the audit failed; the report covers Slack only: {e}");
            let first_line = e.to_string().lines().next().unwrap_or_default().to_string();
            skipped.push(format!("Telegram: failed ({first_line})"));
            telegram_failed = true;
            if matches!(
                e,
                SourceError::Telegram(::telegram::TelegramError::NotLoggedIn)
            ) {
                telegram_expired = Some(first_line);
            }
        }
    }
    for scan in &scans {
        info!(
            "{}: {} groups in scope of {} listed",
            scan.platform,
            scan.groups.len(),
            scan.listed
        );
    }
    if let Some(client) = client {
        let stats = client.stats();
        info!(
            "Slack: {} requests, {} answered 429, {} retries",
            stats.requests, stats.http_429, stats.retries
        );
    }

    progress.phase(RunPhase::Recording);
    let run = engine::audit(config, scans, skipped);
    let previous = engine::previous_result(store);
    let changes = previous.map(|p| changes_since(p, &run.result));
    let reports_dir = settings.out_dir.join(outputs::REPORTS_DIR);
    // Reports a killed run left half-written.
    let removed =
        private_files::remove_stale_temps(&reports_dir, 0).map_err(|source| RunError::Io {
            what: format!("removing temporary files in {}", reports_dir.display()),
            source,
        })?;
    if !removed.is_empty() {
        info!(
            files = removed.len(),
            "removed temporary files an interrupted run left in {}",
            reports_dir.display()
        );
    }
    let reports = outputs::write_reports(&reports_dir, started_at, config, &run, changes.as_ref())?;
    engine::record(store, run_id, started_at, &run)?;
    Ok((run, changes, reports, telegram_failed, telegram_expired))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel runs an audit in a spawned task: the run's future must be `Send`.
    #[test]
    fn a_run_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let settings = RunSettings::new("config", "out", "out/db", "cli");
        let fut = run(&settings, &NoProgress);
        assert_send(&fut);
    }
}
