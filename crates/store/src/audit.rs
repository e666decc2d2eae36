//! slack-audit's tables: run history (`audit_runs`), per-group gaps (`audit_findings`) and the
//! delivery log of summary notifications (`notifications`).
//!
//! The types here are plain data so the audit engine (crate `audit`) need not know this crate: the
//! tool converts its results into [`NewAuditRun`] and [`Finding`] and stores the full results as
//! JSON alongside.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::db::{self, Db, DbError, OptionalExt, Row, params};
use crate::{Store, StoreError, format_time, parse_time};

/// One audit run to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditRun {
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Platforms audited in this run, e.g. `["slack"]`.
    pub platforms: Vec<String>,
    pub groups: i64,
    pub groups_with_gaps: i64,
    /// Number of (group, required member) pairs missing.
    pub missing_required: i64,
    /// Coverage percentage 0..100; `None` when nothing was in scope.
    pub coverage: Option<f64>,
    /// The complete results, as the audit engine serialises them.
    pub results: serde_json::Value,
}

/// One group's finding in a run (stored for groups with gaps, or that failed), as written and as
/// read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub platform: String,
    pub group_id: String,
    pub group_name: String,
    pub category: String,
    pub required_present: i64,
    pub required_total: i64,
    /// Team handles of required members who are not in the group.
    pub missing_required: Vec<String>,
    pub missing_optional: Vec<String>,
    /// Why the group could not be audited, if it could not.
    pub error: Option<String>,
}

/// A stored run's summary (the full results are fetched with [`Store::audit_run_results`], so
/// listing history stays cheap).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRunRow {
    pub id: i64,
    pub started_at: Timestamp,
    /// Set when the run finished or failed; its duration is `finished_at - started_at`.
    pub finished_at: Option<Timestamp>,
    /// Who or what started it: `cli`, `panel:<username>`, `demo`; `None` for runs recorded before
    /// this was kept.
    pub started_by: Option<String>,
    pub status: AuditRunStatus,
    pub platforms: Vec<String>,
    pub groups: i64,
    pub groups_with_gaps: i64,
    pub missing_required: i64,
    pub coverage: Option<f64>,
}

/// Where an audit run is. Only `finished` runs carry results (counts, findings, results JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditRunStatus {
    /// Started and not ended yet, or its process died (see [`Store::mark_running_audit_runs_interrupted`]).
    Running,
    Finished,
    /// Its process stopped before the end (killed, or the panel shut down mid-run).
    Interrupted,
    /// Stopped by an error (bad token, missing scope, ...) before results were recorded.
    Failed,
}

impl AuditRunStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for AuditRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditRunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "running" => Self::Running,
            "finished" => Self::Finished,
            "interrupted" => Self::Interrupted,
            "failed" => Self::Failed,
            other => return Err(format!("unknown audit run status {other:?}")),
        })
    }
}

/// Where a notification is in its delivery.
///
/// Allowed moves: queued → sending; sending → delivered | failed | retrying; retrying → sending |
/// failed; queued → failed (given up before the first attempt); failed → sending (a retry asked
/// for by `notifications --retry-failed`). Delivered is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    Queued,
    Sending,
    Delivered,
    Failed,
    Retrying,
}

impl NotificationStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
        }
    }

    /// Whether a notification in `self` may move to `next`.
    pub fn can_become(self, next: NotificationStatus) -> bool {
        use NotificationStatus::*;
        matches!(
            (self, next),
            (Queued, Sending)
                | (Queued, Failed)
                | (Sending, Delivered)
                | (Sending, Failed)
                | (Sending, Retrying)
                | (Retrying, Sending)
                | (Retrying, Failed)
                | (Failed, Sending)
        )
    }
}

impl fmt::Display for NotificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "retrying" => Self::Retrying,
            other => return Err(format!("unknown notification status {other:?}")),
        })
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRow {
    pub id: i64,
    pub run_id: Option<i64>,
    pub channel: String,
    pub status: NotificationStatus,
    /// How many times delivery was attempted (entries into `sending`).
    pub attempts: i64,
    pub error: Option<String>,
    pub message_ts: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const RUN_COLUMNS: &str = "id, started_at, finished_at, platforms, groups, groups_with_gaps, \
     missing_required, coverage, started_by, status";

const FINDING_COLUMNS: &str = "platform, group_id, group_name, category, required_present, \
     required_total, missing_required, missing_optional, error";

const NOTIFICATION_COLUMNS: &str =
    "id, run_id, channel, status, attempts, error, message_ts, created_at, updated_at";

/// A stored value of ours (a time, a status, a JSON list) that does not parse: reported as a
/// column error, like a type mismatch.
fn column_error(column: usize, err: impl fmt::Display) -> DbError {
    DbError::Column {
        column: column.to_string(),
        message: err.to_string(),
    }
}

fn time_at(row: &Row<'_>, column: usize) -> db::Result<Timestamp> {
    let text: String = row.get(column)?;
    parse_time(&text).map_err(|e| column_error(column, e))
}

fn optional_time_at(row: &Row<'_>, column: usize) -> db::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| parse_time(&t).map_err(|e| column_error(column, e)))
        .transpose()
}

fn handles_at(row: &Row<'_>, column: usize) -> db::Result<Vec<String>> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| column_error(column, e))
}

fn run_from_row(row: &Row<'_>) -> db::Result<AuditRunRow> {
    let platforms: String = row.get(3)?;
    Ok(AuditRunRow {
        id: row.get(0)?,
        started_at: time_at(row, 1)?,
        finished_at: optional_time_at(row, 2)?,
        platforms: platforms
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        groups: row.get(4)?,
        groups_with_gaps: row.get(5)?,
        missing_required: row.get(6)?,
        coverage: row.get(7)?,
        started_by: row.get(8)?,
        status: {
            let status: String = row.get(9)?;
            status.parse().map_err(|e: String| column_error(9, e))?
        },
    })
}

fn finding_from_row(row: &Row<'_>) -> db::Result<Finding> {
    Ok(Finding {
        platform: row.get(0)?,
        group_id: row.get(1)?,
        group_name: row.get(2)?,
        category: row.get(3)?,
        required_present: row.get(4)?,
        required_total: row.get(5)?,
        missing_required: handles_at(row, 6)?,
        missing_optional: handles_at(row, 7)?,
        error: row.get(8)?,
    })
}

fn notification_from_row(row: &Row<'_>) -> db::Result<NotificationRow> {
    let status: String = row.get(3)?;
    Ok(NotificationRow {
        id: row.get(0)?,
        run_id: row.get(1)?,
        channel: row.get(2)?,
        status: status.parse().map_err(|e: String| column_error(3, e))?,
        attempts: row.get(4)?,
        error: row.get(5)?,
        message_ts: row.get(6)?,
        created_at: time_at(row, 7)?,
        updated_at: time_at(row, 8)?,
    })
}

/// Writes a run's results into its row (status `finished`) and its findings.
fn write_results(
    tx: &Db,
    run_id: i64,
    run: &NewAuditRun,
    findings: &[Finding],
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE audit_runs
            SET started_at = ?2, finished_at = ?3, platforms = ?4, groups = ?5,
                groups_with_gaps = ?6, missing_required = ?7, coverage = ?8, results_json = ?9,
                status = 'finished'
          WHERE id = ?1",
        params![
            run_id,
            format_time(run.started_at),
            run.finished_at.map(format_time),
            run.platforms.join(","),
            run.groups,
            run.groups_with_gaps,
            run.missing_required,
            run.coverage,
            serde_json::to_string(&run.results)?,
        ],
    )?;
    // A few hundred groups at most: one statement each is fine on both backends.
    for f in findings {
        tx.execute(
            "INSERT INTO audit_findings (run_id, platform, group_id, group_name, category,
                 required_present, required_total, missing_required, missing_optional, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run_id,
                f.platform,
                f.group_id,
                f.group_name,
                f.category,
                f.required_present,
                f.required_total,
                serde_json::to_string(&f.missing_required)?,
                serde_json::to_string(&f.missing_optional)?,
                f.error,
            ],
        )?;
    }
    Ok(())
}

impl Store {
    /// Stores a finished run and its findings in one transaction (no `started_by`); returns the
    /// run's id. A tool that runs for a while uses [`Store::begin_audit_run`] and
    /// [`Store::finish_audit_run`] instead, so the history shows the run while it goes on.
    pub fn insert_audit_run(
        &mut self,
        run: &NewAuditRun,
        findings: &[Finding],
    ) -> Result<i64, StoreError> {
        self.conn.transaction(|tx| {
            let run_id: i64 = tx.query_row(
                "INSERT INTO audit_runs (started_at, platforms, groups, groups_with_gaps,
                                         missing_required, results_json, status)
                 VALUES (?1, '', 0, 0, 0, 'null', 'running') RETURNING id",
                [format_time(run.started_at)],
                |r| r.get(0),
            )?;
            write_results(tx, run_id, run, findings)?;
            Ok(run_id)
        })
    }

    /// Records that a run started at `started_at` by `started_by` (`cli`, `panel:<user>`, `demo`)
    /// and is going on: a `running` row with no results yet. Returns its id for
    /// [`Store::finish_audit_run`] or [`Store::fail_audit_run`].
    pub fn begin_audit_run(
        &mut self,
        started_at: Timestamp,
        started_by: &str,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO audit_runs (started_at, platforms, groups, groups_with_gaps,
                                     missing_required, results_json, started_by, status)
             VALUES (?1, '', 0, 0, 0, 'null', ?2, 'running') RETURNING id",
            params![format_time(started_at), started_by],
            |r| r.get(0),
        )?)
    }

    /// Stores the results of run `run_id` (begun with [`Store::begin_audit_run`]) and its findings
    /// in one transaction, and marks it `finished`. It does so even when the row was marked
    /// `interrupted` meanwhile (another process may have taken a live run for a dead one).
    pub fn finish_audit_run(
        &mut self,
        run_id: i64,
        run: &NewAuditRun,
        findings: &[Finding],
    ) -> Result<(), StoreError> {
        self.conn.transaction(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT id FROM audit_runs WHERE id = ?1", [run_id], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound {
                    what: "audit run",
                    id: run_id,
                });
            }
            write_results(tx, run_id, run, findings)
        })
    }

    /// Marks run `run_id` `failed` (stopped by an error before its results were recorded), ended
    /// now.
    pub fn fail_audit_run(&mut self, run_id: i64) -> Result<(), StoreError> {
        self.set_run_ended(run_id, AuditRunStatus::Failed, Some(Timestamp::now()))
    }

    /// Marks run `run_id` `interrupted` if it is still `running` (its process is stopping before
    /// the end). Its end is unknown, so `finished_at` stays empty.
    pub fn mark_audit_run_interrupted(&mut self, run_id: i64) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "UPDATE audit_runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running'",
            [run_id],
        )?;
        Ok(changed > 0)
    }

    /// Marks every `running` run `interrupted` and returns how many: for a process that knows no
    /// run of its own is going on (the admin panel at start-up and shutdown) and so takes a
    /// `running` row for one a killed process left. A run that is in fact still going (a cron
    /// `slack-audit` at that moment) still ends `finished`: [`Store::finish_audit_run`] overrides.
    pub fn mark_running_audit_runs_interrupted(&mut self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE audit_runs SET status = 'interrupted' WHERE status = 'running'",
            [],
        )?)
    }

    /// Marks `running` runs started by `started_by_prefix...` (e.g. `panel:`) `interrupted` and
    /// returns how many: for the admin panel at start-up, which knows none of its own runs can
    /// still be going but must not touch a cron `slack-audit` running at that moment.
    pub fn mark_running_audit_runs_interrupted_started_by(
        &mut self,
        started_by_prefix: &str,
    ) -> Result<usize, StoreError> {
        // The CAST tells Postgres which `length` is meant (it has several).
        Ok(self.conn.execute(
            "UPDATE audit_runs SET status = 'interrupted'
              WHERE status = 'running'
                AND substr(started_by, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT)",
            [started_by_prefix],
        )?)
    }

    fn set_run_ended(
        &mut self,
        run_id: i64,
        status: AuditRunStatus,
        finished_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE audit_runs SET status = ?2, finished_at = coalesce(?3, finished_at)
              WHERE id = ?1",
            params![run_id, status.as_str(), finished_at.map(format_time)],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "audit run",
                id: run_id,
            });
        }
        Ok(())
    }

    /// Run `run_id`, whatever its state.
    pub fn audit_run(&self, run_id: i64) -> Result<Option<AuditRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM audit_runs WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [run_id], run_from_row)
            .optional()?)
    }

    /// The most recently stored finished run (runs going on, failed or interrupted have no
    /// results to compare with or act on).
    pub fn latest_audit_run(&self) -> Result<Option<AuditRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM audit_runs WHERE status = 'finished' ORDER BY id DESC LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, [], run_from_row).optional()?)
    }

    /// The finished run stored just before run `before_id` (for "what changed since last time").
    pub fn previous_audit_run(&self, before_id: i64) -> Result<Option<AuditRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM audit_runs WHERE id < ?1 AND status = 'finished'
             ORDER BY id DESC LIMIT 1"
        );
        Ok(self
            .conn
            .query_row(&sql, [before_id], run_from_row)
            .optional()?)
    }

    /// Changes whenever the set of finished runs changes (a run finishes, one is deleted, ids are
    /// reused): the count, the highest id and the latest finish time of the finished runs.
    /// Readers that keep figures computed from finished runs (the panel's dashboard) key them by
    /// it; a finished run's results never change afterwards.
    pub fn finished_audit_runs_fingerprint(&self) -> Result<(i64, i64, String), StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(max(id), 0), coalesce(max(finished_at), '')
             FROM audit_runs WHERE status = 'finished'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// Up to `limit` runs in any state, newest first.
    pub fn list_audit_runs(&self, limit: usize) -> Result<Vec<AuditRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM audit_runs ORDER BY id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(&sql, [limit], run_from_row)
    }

    /// One page of the history: up to `limit` runs in any state with an id below `before` (from
    /// the newest when `None`), newest first.
    pub fn audit_runs_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRunRow>, StoreError> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM audit_runs WHERE id < ?1 ORDER BY id DESC LIMIT ?2");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(&sql, [before.unwrap_or(i64::MAX), limit], run_from_row)
    }

    /// The full results JSON stored with run `run_id`, or `None` if there is no such run.
    pub fn audit_run_results(&self, run_id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT results_json FROM audit_runs WHERE id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    /// The findings of run `run_id`, ordered by platform and group name.
    pub fn audit_findings(&self, run_id: i64) -> Result<Vec<Finding>, StoreError> {
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM audit_findings WHERE run_id = ?1
             ORDER BY platform, group_name, group_id"
        );
        self.rows(&sql, [run_id], finding_from_row)
    }

    /// Logs a new notification to `channel` in state `queued`; returns its id.
    pub fn notification_create(
        &mut self,
        run_id: Option<i64>,
        channel: &str,
    ) -> Result<i64, StoreError> {
        let now = format_time(Timestamp::now());
        Ok(self.conn.query_row(
            "INSERT INTO notifications (run_id, channel, status, attempts, created_at, updated_at)
             VALUES (?1, ?2, 'queued', 0, ?3, ?3) RETURNING id",
            params![run_id, channel, now],
            |r| r.get(0),
        )?)
    }

    /// Moves notification `id` to `status`, checking the move is allowed (see
    /// [`NotificationStatus`]). Entering `sending` counts an attempt; `error` is recorded as the last
    /// error (and cleared on delivery); `message_ts` is kept once known. Returns the updated row.
    pub fn notification_update_status(
        &mut self,
        id: i64,
        status: NotificationStatus,
        error: Option<&str>,
        message_ts: Option<&str>,
    ) -> Result<NotificationRow, StoreError> {
        use NotificationStatus::*;
        // The check and the move are one statement (only rows in a state that may become
        // `status` change), so two processes, on one host or two, cannot both pass the check
        // on the same row.
        let from: Vec<String> = [Queued, Sending, Delivered, Failed, Retrying]
            .into_iter()
            .filter(|s| s.can_become(status))
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let error = if status == Delivered { None } else { error };
        let sql = format!(
            "UPDATE notifications
                SET status = ?2,
                    attempts = attempts + CASE WHEN ?2 = 'sending' THEN 1 ELSE 0 END,
                    error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE coalesce(?3, error) END,
                    message_ts = coalesce(?4, message_ts),
                    updated_at = ?5
              WHERE id = ?1 AND status IN ({})
              RETURNING {NOTIFICATION_COLUMNS}",
            if from.is_empty() {
                "NULL".to_string()
            } else {
                from.join(", ")
            }
        );
        let moved = self
            .conn
            .query_row(
                &sql,
                params![
                    id,
                    status.as_str(),
                    error,
                    message_ts,
                    format_time(Timestamp::now())
                ],
                notification_from_row,
            )
            .optional()?;
        if let Some(row) = moved {
            return Ok(row);
        }
        // Refused: say why (no such row, or the state it is in now cannot make this move).
        let current: Option<String> = self
            .conn
            .query_row(
                "SELECT status FROM notifications WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let current = current.ok_or(StoreError::NotFound {
            what: "notification",
            id,
        })?;
        let from: NotificationStatus = current
            .parse()
            .map_err(|e: String| StoreError::Db(column_error(0, e)))?;
        Err(StoreError::InvalidTransition {
            id,
            from,
            to: status,
        })
    }

    /// Notification `id`, if it exists.
    pub fn notification_get(&self, id: i64) -> Result<Option<NotificationRow>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [id], notification_from_row)
            .optional()?)
    }

    /// The notifications logged for run `run_id`, oldest first.
    pub fn notifications_for_run(&self, run_id: i64) -> Result<Vec<NotificationRow>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE run_id = ?1 ORDER BY id"
        );
        self.rows(&sql, [run_id], notification_from_row)
    }
}
