//! The delivery log of notifications from every tool (`notifications` table, migration 13 adds
//! what was sent): the event, the rendered message and the template it came from, next to the
//! delivery state that [`crate::audit`] keeps (`notification_update_status`).

use jiff::Timestamp;

use crate::audit::NotificationStatus;
use crate::db::{self, DbError, OptionalExt, Row, params};
use crate::{Store, StoreError, format_time, parse_time};

/// A notification about to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification<'a> {
    pub event: &'a str,
    pub channel: &'a str,
    pub text: &'a str,
    /// The Block Kit array as JSON text.
    pub blocks: &'a str,
    /// `template`, `fallback` or `builtin`: which text the message was rendered from.
    pub template: &'a str,
    pub priority: &'a str,
    pub run_id: Option<i64>,
}

/// One logged notification with what was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationEntry {
    pub id: i64,
    pub run_id: Option<i64>,
    /// `None` for summaries logged before events existed.
    pub event: Option<String>,
    pub channel: String,
    pub status: NotificationStatus,
    pub attempts: i64,
    pub error: Option<String>,
    pub message_ts: Option<String>,
    pub text: Option<String>,
    pub blocks: Option<String>,
    pub template: Option<String>,
    pub priority: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl NotificationEntry {
    /// The state as the issue names it: queued, sending and retrying are all `pending`.
    pub fn summary_status(&self) -> &'static str {
        match self.status {
            NotificationStatus::Delivered => "delivered",
            NotificationStatus::Failed => "failed",
            _ => "pending",
        }
    }
}

const COLUMNS: &str = "id, run_id, event, channel, status, attempts, error, message_ts, text, \
     blocks, template, priority, created_at, updated_at";

fn entry_from_row(row: &Row<'_>) -> db::Result<NotificationEntry> {
    let status: String = row.get(4)?;
    let unreadable = |column: &str, message: String| DbError::Column {
        column: column.into(),
        message,
    };
    let time = |i: usize| -> db::Result<Timestamp> {
        let t: String = row.get(i)?;
        parse_time(&t).map_err(|e| unreadable(&i.to_string(), e.to_string()))
    };
    Ok(NotificationEntry {
        id: row.get(0)?,
        run_id: row.get(1)?,
        event: row.get(2)?,
        channel: row.get(3)?,
        status: status.parse().map_err(|e| unreadable("status", e))?,
        attempts: row.get(5)?,
        error: row.get(6)?,
        message_ts: row.get(7)?,
        text: row.get(8)?,
        blocks: row.get(9)?,
        template: row.get(10)?,
        priority: row.get(11)?,
        created_at: time(12)?,
        updated_at: time(13)?,
    })
}

impl Store {
    /// Logs `n` in state `queued`; returns its id (the ID the posted message carries).
    pub fn notification_log(&mut self, n: &NewNotification<'_>) -> Result<i64, StoreError> {
        let now = format_time(Timestamp::now());
        Ok(self.conn.query_row(
            "INSERT INTO notifications (run_id, channel, status, attempts, created_at, updated_at,
                                        event, text, blocks, template, priority)
             VALUES (?1, ?2, 'queued', 0, ?3, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            params![
                n.run_id, n.channel, now, n.event, n.text, n.blocks, n.template, n.priority
            ],
            |r| r.get(0),
        )?)
    }

    /// Notification `id` with what was sent.
    pub fn notification_entry(&self, id: i64) -> Result<Option<NotificationEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], entry_from_row).optional()?)
    }

    /// The newest `limit` notifications, newest first; with `status`, only those in that
    /// state (`pending` matches queued, sending and retrying).
    pub fn notification_entries(
        &self,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NotificationEntry>, StoreError> {
        let filter = match status {
            None => "1 = 1",
            Some("pending") => "status IN ('queued', 'sending', 'retrying')",
            Some(_) => "status = ?2",
        };
        let sql =
            format!("SELECT {COLUMNS} FROM notifications WHERE {filter} ORDER BY id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match status {
            Some(s) if s != "pending" => self.rows(&sql, params![limit, s], entry_from_row),
            _ => self.rows(&sql, params![limit], entry_from_row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_notification_reads_back_and_filters_by_state() {
        crate::test_db::on_both(|store| {
            let id = store
                .notification_log(&NewNotification {
                    event: "sync_failed",
                    channel: "C1",
                    text: "Sync failed",
                    blocks: "[]",
                    template: "fallback",
                    priority: "high",
                    run_id: None,
                })
                .expect("log");
            let e = store.notification_entry(id).expect("read").expect("row");
            assert_eq!(e.event.as_deref(), Some("sync_failed"));
            assert_eq!(e.summary_status(), "pending");
            assert_eq!(
                store
                    .notification_entries(Some("pending"), 10)
                    .expect("list")
                    .len(),
                1
            );
            store
                .notification_update_status(id, NotificationStatus::Failed, Some("boom"), None)
                .expect("fail");
            assert_eq!(
                store
                    .notification_entries(Some("pending"), 10)
                    .expect("list")
                    .len(),
                0
            );
            let failed = store
                .notification_entries(Some("failed"), 10)
                .expect("list");
            assert_eq!(failed[0].error.as_deref(), Some("boom"));
            // --retry-failed may send a failed one again.
            let again = store
                .notification_update_status(id, NotificationStatus::Sending, None, None)
                .expect("retry");
            assert_eq!(again.attempts, 1);
        });
    }
}
