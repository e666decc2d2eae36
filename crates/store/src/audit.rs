//! slack-audit's tables: run history (`audit_runs`), per-group gaps (`audit_findings`) and the
//! delivery log of summary notifications (`notifications`).
//!
//! The types here are plain data so the audit engine (crate `audit`) need not know this crate: the
//! tool converts its results into [`NewAuditRun`] and [`Finding`] and stores the full results as
//! JSON alongside.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

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
    pub finished_at: Option<Timestamp>,
    pub platforms: Vec<String>,
    pub groups: i64,
    pub groups_with_gaps: i64,
    pub missing_required: i64,
    pub coverage: Option<f64>,
}

/// Where a notification is in its delivery.
///
/// Allowed moves: queued → sending; sending → delivered | failed | retrying; retrying → sending |
/// failed; queued → failed (given up before the first attempt). Delivered and failed are final.
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

const RUN_COLUMNS: &str =
    "id, started_at, finished_at, platforms, groups, groups_with_gaps, missing_required, coverage";

const FINDING_COLUMNS: &str = "platform, group_id, group_name, category, required_present, \
     required_total, missing_required, missing_optional, error";

const NOTIFICATION_COLUMNS: &str =
    "id, run_id, channel, status, attempts, error, message_ts, created_at, updated_at";

/// Row readers return `rusqlite::Result`, so conversion failures of our own are carried through
/// rusqlite's conversion error and turned back into a `StoreError` by the caller's `?`.
fn conversion_error(
    column: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(err))
}

fn time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(column)?;
    parse_time(&text).map_err(|e| conversion_error(column, e))
}

fn optional_time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| parse_time(&t).map_err(|e| conversion_error(column, e)))
        .transpose()
}

fn handles_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| conversion_error(column, e))
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRunRow> {
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
    })
}

fn finding_from_row(row: &Row<'_>) -> rusqlite::Result<Finding> {
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

fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<NotificationRow> {
    let status: String = row.get(3)?;
    Ok(NotificationRow {
        id: row.get(0)?,
        run_id: row.get(1)?,
        channel: row.get(2)?,
        status: status
            .parse()
            .map_err(|e: String| conversion_error(3, StatusError(e)))?,
        attempts: row.get(4)?,
        error: row.get(5)?,
        message_ts: row.get(6)?,
        created_at: time_at(row, 7)?,
        updated_at: time_at(row, 8)?,
    })
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StatusError(String);

impl Store {
    /// Stores a run and its findings in one transaction; returns the run's id.
    pub fn insert_audit_run(
        &mut self,
        run: &NewAuditRun,
        findings: &[Finding],
    ) -> Result<i64, StoreError> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "INSERT INTO audit_runs (started_at, finished_at, platforms, groups, groups_with_gaps,
                                     missing_required, coverage, results_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
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
        let run_id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare(
                "INSERT INTO audit_findings (run_id, platform, group_id, group_name, category,
                     required_present, required_total, missing_required, missing_optional, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for f in findings {
                insert.execute(params![
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
                ])?;
            }
        }
        tx.commit()?;
        Ok(run_id)
    }

    /// The most recently stored run.
    pub fn latest_audit_run(&self) -> Result<Option<AuditRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM audit_runs ORDER BY id DESC LIMIT 1");
        Ok(self.conn().query_row(&sql, [], run_from_row).optional()?)
    }

    /// The run stored just before run `before_id` (for "what changed since last time").
    pub fn previous_audit_run(&self, before_id: i64) -> Result<Option<AuditRunRow>, StoreError> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM audit_runs WHERE id < ?1 ORDER BY id DESC LIMIT 1");
        Ok(self
            .conn()
            .query_row(&sql, [before_id], run_from_row)
            .optional()?)
    }

    /// Up to `limit` runs, newest first.
    pub fn list_audit_runs(&self, limit: usize) -> Result<Vec<AuditRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM audit_runs ORDER BY id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_all(&sql, [limit], run_from_row)
    }

    /// The full results JSON stored with run `run_id`, or `None` if there is no such run.
    pub fn audit_run_results(&self, run_id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn()
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
        self.query_all(&sql, [run_id], finding_from_row)
    }

    /// Logs a new notification to `channel` in state `queued`; returns its id.
    pub fn notification_create(
        &mut self,
        run_id: Option<i64>,
        channel: &str,
    ) -> Result<i64, StoreError> {
        let now = format_time(Timestamp::now());
        self.conn().execute(
            "INSERT INTO notifications (run_id, channel, status, attempts, created_at, updated_at)
             VALUES (?1, ?2, 'queued', 0, ?3, ?3)",
            params![run_id, channel, now],
        )?;
        Ok(self.conn().last_insert_rowid())
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
        // IMMEDIATE takes the write lock before the read, so two processes cannot both pass the
        // transition check on the same row.
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<String> = tx
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
            .map_err(|e: String| StoreError::Sqlite(conversion_error(0, StatusError(e))))?;
        if !from.can_become(status) {
            return Err(StoreError::InvalidTransition {
                id,
                from,
                to: status,
            });
        }
        let error = if status == NotificationStatus::Delivered {
            None
        } else {
            error
        };
        tx.execute(
            "UPDATE notifications
                SET status = ?2,
                    attempts = attempts + (?2 = 'sending'),
                    error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE coalesce(?3, error) END,
                    message_ts = coalesce(?4, message_ts),
                    updated_at = ?5
              WHERE id = ?1",
            params![
                id,
                status.as_str(),
                error,
                message_ts,
                format_time(Timestamp::now())
            ],
        )?;
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        let row = tx.query_row(&sql, [id], notification_from_row)?;
        tx.commit()?;
        Ok(row)
    }

    /// Notification `id`, if it exists.
    pub fn notification_get(&self, id: i64) -> Result<Option<NotificationRow>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [id], notification_from_row)
            .optional()?)
    }

    /// The notifications logged for run `run_id`, oldest first.
    pub fn notifications_for_run(&self, run_id: i64) -> Result<Vec<NotificationRow>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE run_id = ?1 ORDER BY id"
        );
        self.query_all(&sql, [run_id], notification_from_row)
    }
}
