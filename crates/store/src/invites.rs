//! add-members' tables: invite runs (`invite_runs`) and every `conversations.invite` operation of a
//! run (`invite_ops`), recorded one by one as they happen so an interrupted run leaves an exact
//! record.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::db::{self, DbError, OptionalExt, Row, params};
use crate::{Store, StoreError, format_time, parse_time};

/// How an invite run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InviteRunStatus {
    /// Started, not finished: still going, or the process died.
    Running,
    /// Every planned channel was attempted.
    Completed,
    /// Stopped early by Ctrl-C after the call in flight.
    Interrupted,
    /// Stopped early by an error no further call could get past (missing scope, bad token).
    Stopped,
}

impl InviteRunStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Interrupted => "interrupted",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for InviteRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InviteRunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "running" => Self::Running,
            "completed" => Self::Completed,
            "interrupted" => Self::Interrupted,
            "stopped" => Self::Stopped,
            other => return Err(format!("unknown invite run status {other:?}")),
        })
    }
}

/// A run about to make invites.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInviteRun {
    pub started_at: Timestamp,
    /// What the user asked for, as typed.
    pub handles: Vec<String>,
    /// The audit run whose gaps were added (`--from-audit`).
    pub from_audit_run: Option<i64>,
    /// Channels with at least one user to invite.
    pub channels_planned: i64,
    /// The JSON-lines log file of the run.
    pub log_file: Option<String>,
}

/// Counts of (channel, user) pairs at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InviteTotals {
    pub added: i64,
    pub already_in: i64,
    pub skipped: i64,
    pub failed: i64,
}

/// One user's failure inside an invite answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteUserError {
    pub user: String,
    pub error: String,
}

/// One `conversations.invite` operation to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInviteOp {
    pub at: Timestamp,
    pub channel_id: String,
    pub channel_name: String,
    /// User IDs sent in this call.
    pub users: Vec<String>,
    /// `added`, `already_in_channel`, `failed` or `stopped`.
    pub result: String,
    /// Slack's error code, if any.
    pub error: Option<String>,
    pub user_errors: Vec<InviteUserError>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteRunRow {
    pub id: i64,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: InviteRunStatus,
    pub handles: Vec<String>,
    pub from_audit_run: Option<i64>,
    pub channels_planned: i64,
    pub totals: InviteTotals,
    pub log_file: Option<String>,
}

/// A stored operation.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteOpRow {
    pub id: i64,
    pub run_id: i64,
    pub at: Timestamp,
    pub channel_id: String,
    pub channel_name: String,
    pub users: Vec<String>,
    pub result: String,
    pub error: Option<String>,
    pub user_errors: Vec<InviteUserError>,
}

const RUN_COLUMNS: &str = "id, started_at, finished_at, status, handles, from_audit_run, \
     channels_planned, added, already_in, skipped, failed, log_file";

const OP_COLUMNS: &str =
    "id, run_id, at, channel_id, channel_name, users, result, error, user_errors";

/// A stored value of ours (a time, a status, a JSON list) that does not parse.
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

fn json_at<T: serde::de::DeserializeOwned>(row: &Row<'_>, column: usize) -> db::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| column_error(column, e))
}

fn run_from_row(row: &Row<'_>) -> db::Result<InviteRunRow> {
    let status: String = row.get(3)?;
    let finished: Option<String> = row.get(2)?;
    Ok(InviteRunRow {
        id: row.get(0)?,
        started_at: time_at(row, 1)?,
        finished_at: finished
            .map(|t| parse_time(&t).map_err(|e| column_error(2, e)))
            .transpose()?,
        status: status.parse().map_err(|e: String| column_error(3, e))?,
        handles: json_at(row, 4)?,
        from_audit_run: row.get(5)?,
        channels_planned: row.get(6)?,
        totals: InviteTotals {
            added: row.get(7)?,
            already_in: row.get(8)?,
            skipped: row.get(9)?,
            failed: row.get(10)?,
        },
        log_file: row.get(11)?,
    })
}

fn op_from_row(row: &Row<'_>) -> db::Result<InviteOpRow> {
    Ok(InviteOpRow {
        id: row.get(0)?,
        run_id: row.get(1)?,
        at: time_at(row, 2)?,
        channel_id: row.get(3)?,
        channel_name: row.get(4)?,
        users: json_at(row, 5)?,
        result: row.get(6)?,
        error: row.get(7)?,
        user_errors: json_at(row, 8)?,
    })
}

impl Store {
    /// Records the start of an invite run (status `running`); returns its id.
    pub fn invite_run_start(&self, run: &NewInviteRun) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO invite_runs (started_at, status, handles, from_audit_run, channels_planned,
                                      log_file)
             VALUES (?1, 'running', ?2, ?3, ?4, ?5) RETURNING id",
            params![
                format_time(run.started_at),
                serde_json::to_string(&run.handles)?,
                run.from_audit_run,
                run.channels_planned,
                run.log_file,
            ],
            |r| r.get(0),
        )?)
    }

    /// Appends one operation of run `run_id`.
    pub fn invite_op_insert(&self, run_id: i64, op: &NewInviteOp) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO invite_ops (run_id, at, channel_id, channel_name, users, result, error,
                                     user_errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            params![
                run_id,
                format_time(op.at),
                op.channel_id,
                op.channel_name,
                serde_json::to_string(&op.users)?,
                op.result,
                op.error,
                serde_json::to_string(&op.user_errors)?,
            ],
            |r| r.get(0),
        )?)
    }

    /// Marks run `run_id` finished with `status` and its totals.
    pub fn invite_run_finish(
        &self,
        run_id: i64,
        status: InviteRunStatus,
        totals: &InviteTotals,
        finished_at: Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE invite_runs
                SET status = ?2, finished_at = ?3, added = ?4, already_in = ?5, skipped = ?6,
                    failed = ?7
              WHERE id = ?1",
            params![
                run_id,
                status.as_str(),
                format_time(finished_at),
                totals.added,
                totals.already_in,
                totals.skipped,
                totals.failed,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "invite run",
                id: run_id,
            });
        }
        Ok(())
    }

    /// Invite run `run_id`, if it exists.
    pub fn invite_run(&self, run_id: i64) -> Result<Option<InviteRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM invite_runs WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [run_id], run_from_row)
            .optional()?)
    }

    /// Up to `limit` invite runs, newest first.
    pub fn invite_runs(&self, limit: usize) -> Result<Vec<InviteRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM invite_runs ORDER BY id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(&sql, [limit], run_from_row)
    }

    /// The operations of run `run_id`, in the order they happened.
    pub fn invite_ops(&self, run_id: i64) -> Result<Vec<InviteOpRow>, StoreError> {
        let sql = format!("SELECT {OP_COLUMNS} FROM invite_ops WHERE run_id = ?1 ORDER BY id");
        self.rows(&sql, [run_id], op_from_row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_and_ops_round_trip() {
        crate::test_db::on_both(|store| {
            let started: Timestamp = "2026-03-01T10:00:00Z".parse().expect("time");
            let id = store
                .invite_run_start(&NewInviteRun {
                    started_at: started,
                    handles: vec!["frank".into()],
                    from_audit_run: None,
                    channels_planned: 2,
                    log_file: Some("out/x.jsonl".into()),
                })
                .expect("start");
            let running = store.invite_run(id).expect("read").expect("exists");
            assert_eq!(running.status, InviteRunStatus::Running);
            assert_eq!(running.finished_at, None);

            for (ch, result, error) in
                [("C1", "added", None), ("C2", "failed", Some("is_archived"))]
            {
                store
                    .invite_op_insert(
                        id,
                        &NewInviteOp {
                            at: started,
                            channel_id: ch.into(),
                            channel_name: format!("name-{ch}"),
                            users: vec!["U1".into(), "U2".into()],
                            result: result.into(),
                            error: error.map(str::to_string),
                            user_errors: vec![InviteUserError {
                                user: "U2".into(),
                                error: "cant_invite".into(),
                            }],
                        },
                    )
                    .expect("op");
            }
            let totals = InviteTotals {
                added: 2,
                already_in: 0,
                skipped: 1,
                failed: 2,
            };
            store
                .invite_run_finish(id, InviteRunStatus::Completed, &totals, started)
                .expect("finish");
            let run = store.invite_run(id).expect("read").expect("exists");
            assert_eq!(run.status, InviteRunStatus::Completed);
            assert_eq!(run.totals, totals);
            assert_eq!(run.handles, vec!["frank".to_string()]);
            let ops = store.invite_ops(id).expect("ops");
            assert_eq!(ops.len(), 2);
            assert_eq!(ops[1].error.as_deref(), Some("is_archived"));
            assert_eq!(ops[0].users, vec!["U1".to_string(), "U2".to_string()]);
            assert_eq!(ops[0].user_errors[0].error, "cant_invite");
            assert_eq!(store.invite_runs(10).expect("list").len(), 1);
        });
    }

    #[test]
    fn finishing_an_unknown_run_is_an_error() {
        crate::test_db::on_both(|store| {
            let err = store
                .invite_run_finish(
                    42,
                    InviteRunStatus::Stopped,
                    &InviteTotals::default(),
                    Timestamp::now(),
                )
                .expect_err("no run 42");
            assert!(matches!(err, StoreError::NotFound { id: 42, .. }));
        });
    }
}
