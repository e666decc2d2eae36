//! Audit runs started from the panel: the same run `slack-audit` does (the `audit-run` crate),
//! in-process on the runtime, one at a time; the Telegram login a run may need first (kept
//! between requests); and what shutdown does with a run still going (it is stopped and its row
//! marked `interrupted` by audit-run's drop guard, deliberately, before the process exits).

use std::sync::{Arc, Mutex};

use audit_run::{ProgressCounter, RunPhase, RunSettings, TelegramSetting};
use jiff::Timestamp;
use serde::Serialize;
use store::panel::PanelEventKind;
use telegram::LoginFlow;
use tokio::task::JoinHandle;

use crate::AppState;

/// What `started_by` says for a run an admin starts here: `panel:<username>`.
pub const STARTED_BY_PREFIX: &str = "panel:";

/// The run going on now, as the progress page and `/api/v1/run` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveRun {
    pub started_by: String,
    pub started_at: String,
    /// `null` until the run starts scanning; then `scanning`, `recording`, `notifying`, `done`.
    pub phase: Option<RunPhase>,
    pub groups_done: u64,
    pub groups_total: u64,
}

/// How the last run started here ended (since the panel started).
#[derive(Debug, Clone, Serialize)]
pub struct EndedRun {
    /// The run's row in the history; `null` when it failed before it had one.
    pub run_id: Option<i64>,
    /// `finished`, `finished_with_errors` (groups unreadable or Telegram failed) or `failed`.
    pub status: &'static str,
    pub started_by: String,
    pub started_at: String,
    pub ended_at: String,
    /// The run's headline (coverage, gaps, changes) or its error.
    pub lines: Vec<String>,
    /// The fix, for a failed run.
    pub hint: Option<String>,
}

/// Everything the run page shows.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub active: Option<ActiveRun>,
    pub last: Option<EndedRun>,
}

struct Active {
    started_by: String,
    started_at: Timestamp,
    progress: Arc<ProgressCounter>,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    active: Option<Active>,
    last: Option<EndedRun>,
}

/// The panel's audit runner.
pub struct Runner {
    /// The settings every run starts from; `started_by` is set per run.
    template: RunSettings,
    state: Mutex<State>,
    /// A Telegram login in progress (code or password asked for), between requests.
    pub login: tokio::sync::Mutex<Option<LoginFlow>>,
}

impl Runner {
    pub fn new(template: RunSettings) -> Self {
        Runner {
            template,
            state: Mutex::default(),
            login: tokio::sync::Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain data behind the lock: a panic elsewhere leaves nothing half-updated that matters.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a run would audit Telegram through an account that may need a login first (not
    /// in the demo, not when Telegram is not configured).
    pub fn telegram_needs_checking(&self) -> bool {
        match &self.template.telegram {
            TelegramSetting::Skip => false,
            TelegramSetting::Account(_) => true,
            TelegramSetting::Auto => {
                !self.template.demo && audit_run::telegram::account_from_env().is_some()
            }
        }
    }

    pub fn view(&self) -> RunView {
        let state = self.lock();
        RunView {
            active: state.active.as_ref().map(|a| {
                let p = a.progress.snapshot();
                ActiveRun {
                    started_by: a.started_by.clone(),
                    started_at: store::format_time(a.started_at),
                    phase: p.phase,
                    groups_done: p.groups_done,
                    groups_total: p.groups_total,
                }
            }),
            last: state.last.clone(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.lock().active.is_some()
    }

    /// Starts a run for `username` unless one is going on (then `false`). The run is spawned on
    /// the runtime; its end is recorded in `panel_events` and kept for the run page.
    pub fn start(self: &Arc<Self>, app: &AppState, username: &str, address: &str) -> bool {
        let mut state = self.lock();
        if state.active.is_some() {
            return false;
        }
        let mut settings = self.template.clone();
        settings.started_by = format!("{STARTED_BY_PREFIX}{username}");
        let started_by = settings.started_by.clone();
        let started_at = Timestamp::now();
        let progress = Arc::new(ProgressCounter::new());
        let runner = Arc::clone(self);
        let app = app.clone();
        let task_progress = Arc::clone(&progress);
        let (user, addr) = (username.to_string(), address.to_string());
        let task = tokio::spawn(async move {
            let result = audit_run::run(&settings, task_progress.as_ref()).await;
            let ended = ended_run(&settings, started_at, result);
            let detail = match ended.run_id {
                Some(id) => format!("audit run {id} {}", ended.status),
                None => format!("audit run failed: {}", ended.lines.join(" ")),
            };
            {
                let mut state = runner.lock();
                state.active = None;
                state.last = Some(ended);
            }
            if let Err(e) = app
                .record(PanelEventKind::Action, user, addr, Some(detail))
                .await
            {
                tracing::warn!("cannot record the end of the audit run: {e}");
            }
        });
        state.active = Some(Active {
            started_by,
            started_at,
            progress,
            task: Some(task),
        });
        true
    }

    /// For shutdown: stops a run still going and waits until its future is dropped, so
    /// audit-run's guard has marked its row `interrupted` before the process exits. Returns
    /// whether a run was stopped.
    pub async fn shutdown(&self) -> bool {
        let task = self.lock().active.as_mut().and_then(|a| a.task.take());
        let Some(task) = task else {
            return false;
        };
        task.abort();
        let stopped = match task.await {
            Ok(()) => false,
            Err(e) if e.is_cancelled() => true,
            Err(e) => {
                tracing::error!("the audit run task failed: {e}");
                false
            }
        };
        if stopped {
            tracing::warn!("an audit run was going on at shutdown: it is marked interrupted");
        }
        self.lock().active = None;
        stopped
    }
}

fn ended_run(
    settings: &RunSettings,
    started_at: Timestamp,
    result: Result<audit_run::RunReport, audit_run::RunError>,
) -> EndedRun {
    let (run_id, status, lines, hint) = match result {
        Ok(report) => {
            let status = if report.is_complete() {
                "finished"
            } else {
                "finished_with_errors"
            };
            let lines = audit_run::outputs::headline(&report.run, report.changes.as_ref());
            (Some(report.run_id), status, lines, None)
        }
        Err(e) => {
            tracing::error!("audit run from the panel failed: {e}");
            (None, "failed", vec![e.to_string()], e.hint())
        }
    };
    EndedRun {
        run_id,
        status,
        started_by: settings.started_by.clone(),
        started_at: store::format_time(started_at),
        ended_at: store::format_time(Timestamp::now()),
        lines,
        hint,
    }
}
