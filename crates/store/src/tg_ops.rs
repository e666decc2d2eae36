//! tg-admin's operations (`tg_operations`): each removal, rename and ownership-transfer request,
//! recorded as it happens, newest first with a keyset cursor for the panel's Activity page.

use jiff::Timestamp;

use crate::db::{self, DbError, Row, params};
use crate::{Store, StoreError, format_time, parse_time};

/// How one operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TgOpStatus {
    /// The change was made on Telegram.
    Done,
    /// Nothing to do (e.g. the user had already left).
    Skipped,
    /// Telegram refused or the call failed; the error says why.
    Failed,
    /// An ownership-transfer request was written for someone to send.
    Written,
}

impl TgOpStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Written => "written",
        }
    }
}

/// An operation about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTgOp<'a> {
    /// `remove-user`, `rename` or `request-ownership` (the tg-admin command).
    pub operation: &'a str,
    pub chat_id: i64,
    pub chat_title: &'a str,
    pub target_user: Option<&'a str>,
    pub target_user_id: Option<i64>,
    pub new_title: Option<&'a str>,
    pub status: TgOpStatus,
    pub error: Option<&'a str>,
}

/// A stored operation.
#[derive(Debug, Clone, PartialEq)]
pub struct TgOp {
    pub id: i64,
    pub at: Timestamp,
    pub operation: String,
    pub chat_id: i64,
    pub chat_title: String,
    pub target_user: Option<String>,
    pub target_user_id: Option<i64>,
    pub new_title: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

fn op_from_row(row: &Row<'_>) -> db::Result<TgOp> {
    let at: String = row.get(1)?;
    let at = parse_time(&at).map_err(|e| DbError::Column {
        column: "at".into(),
        message: e.to_string(),
    })?;
    Ok(TgOp {
        id: row.get(0)?,
        at,
        operation: row.get(2)?,
        chat_id: row.get(3)?,
        chat_title: row.get(4)?,
        target_user: row.get(5)?,
        target_user_id: row.get(6)?,
        new_title: row.get(7)?,
        status: row.get(8)?,
        error: row.get(9)?,
    })
}

impl Store {
    /// Records one operation now; returns its id.
    pub fn tg_op_insert(&self, op: &NewTgOp<'_>) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO tg_operations
               (at, operation, chat_id, chat_title, target_user, target_user_id, new_title, status, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            params![
                format_time(Timestamp::now()),
                op.operation,
                op.chat_id,
                op.chat_title,
                op.target_user,
                op.target_user_id,
                op.new_title,
                op.status.as_str(),
                op.error
            ],
            |r| r.get(0),
        )?)
    }

    /// Up to `limit` operations older than id `before` (all when `None`), newest first.
    pub fn tg_ops(&self, before: Option<i64>, limit: usize) -> Result<Vec<TgOp>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(
            "SELECT id, at, operation, chat_id, chat_title, target_user, target_user_id, new_title,
                    status, error
             FROM tg_operations WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            params![before.unwrap_or(i64::MAX), limit],
            op_from_row,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_page_newest_first() {
        crate::test_db::on_both(|store| {
            let a = store
                .tg_op_insert(&NewTgOp {
                    operation: "remove-user",
                    chat_id: -1001,
                    chat_title: "iBTC <> Acme",
                    target_user: Some("@nftaddie"),
                    target_user_id: Some(6),
                    new_title: None,
                    status: TgOpStatus::Failed,
                    error: Some("FLOOD_WAIT 30s"),
                })
                .expect("insert");
            let b = store
                .tg_op_insert(&NewTgOp {
                    operation: "rename",
                    chat_id: -1002,
                    chat_title: "iBTC <> Globex",
                    target_user: None,
                    target_user_id: None,
                    new_title: Some("Acme <> Globex"),
                    status: TgOpStatus::Done,
                    error: None,
                })
                .expect("insert");
            let page = store.tg_ops(None, 1).expect("reads");
            assert_eq!(page.len(), 1);
            assert_eq!(
                (
                    page[0].id,
                    page[0].operation.as_str(),
                    page[0].status.as_str()
                ),
                (b, "rename", "done")
            );
            assert_eq!(page[0].new_title.as_deref(), Some("Acme <> Globex"));
            let next = store.tg_ops(Some(b), 10).expect("reads");
            assert_eq!(next.len(), 1);
            assert_eq!(next[0].id, a);
            assert_eq!(
                (next[0].target_user_id, next[0].error.as_deref()),
                (Some(6), Some("FLOOD_WAIT 30s"))
            );
        });
    }

    #[test]
    fn unknown_operation_is_refused_by_the_schema() {
        crate::test_db::on_both(|store| {
            let err = store.tg_op_insert(&NewTgOp {
                operation: "delete-chat",
                chat_id: 1,
                chat_title: "x",
                target_user: None,
                target_user_id: None,
                new_title: None,
                status: TgOpStatus::Done,
                error: None,
            });
            assert!(err.is_err(), "the CHECK constraint must refuse it");
        });
    }
}
