//! admin-panel's audit trail (`panel_events`): logins (failed ones too), logouts and actions, newest
//! first with a keyset cursor so the Activity page pages through it cheaply.

use jiff::Timestamp;

use crate::db::{self, DbError, Row, params};
use crate::{Store, StoreError, format_time, parse_time};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelEventKind {
    LoginOk,
    LoginFailed,
    /// Refused before the password was checked: too many failures for the user or address.
    LoginLimited,
    Logout,
    Action,
}

impl PanelEventKind {
    /// The text stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginOk => "login_ok",
            Self::LoginFailed => "login_failed",
            Self::LoginLimited => "login_limited",
            Self::Logout => "logout",
            Self::Action => "action",
        }
    }
}

/// A stored panel event.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelEvent {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub username: String,
    pub address: String,
    pub detail: Option<String>,
}

fn event_from_row(row: &Row<'_>) -> db::Result<PanelEvent> {
    let at: String = row.get(1)?;
    let at = parse_time(&at).map_err(|e| DbError::Column {
        column: "at".into(),
        message: e.to_string(),
    })?;
    Ok(PanelEvent {
        id: row.get(0)?,
        at,
        kind: row.get(2)?,
        username: row.get(3)?,
        address: row.get(4)?,
        detail: row.get(5)?,
    })
}

impl Store {
    /// Records one event now; returns its id.
    pub fn panel_event_insert(
        &self,
        kind: PanelEventKind,
        username: &str,
        address: &str,
        detail: Option<&str>,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO panel_events (at, kind, username, address, detail)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![
                format_time(Timestamp::now()),
                kind.as_str(),
                username,
                address,
                detail
            ],
            |r| r.get(0),
        )?)
    }

    /// Up to `limit` events older than id `before` (all when `None`), newest first.
    pub fn panel_events(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<PanelEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(
            "SELECT id, at, kind, username, address, detail FROM panel_events
             WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            params![before.unwrap_or(i64::MAX), limit],
            event_from_row,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_page_newest_first() {
        crate::test_db::on_both(|store| {
            let a = store
                .panel_event_insert(
                    PanelEventKind::LoginFailed,
                    "eve",
                    "10.0.0.1",
                    Some("bad password"),
                )
                .expect("insert");
            let b = store
                .panel_event_insert(PanelEventKind::LoginOk, "ann", "127.0.0.1", None)
                .expect("insert");
            let page = store.panel_events(None, 1).expect("reads");
            assert_eq!(page.len(), 1);
            assert_eq!((page[0].id, page[0].kind.as_str()), (b, "login_ok"));
            let next = store.panel_events(Some(b), 10).expect("reads");
            assert_eq!(next.len(), 1);
            assert_eq!(next[0].id, a);
            assert_eq!(next[0].detail.as_deref(), Some("bad password"));
        });
    }

    #[test]
    fn read_only_store_refuses_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        Store::open(&path).expect("creates");
        let ro = Store::open_read_only(&path).expect("opens read-only");
        assert!(ro.panel_events(None, 5).expect("reads").is_empty());
        let err = ro.panel_event_insert(PanelEventKind::Logout, "a", "b", None);
        assert!(err.is_err(), "a query_only store must refuse writes");

        // On Postgres the session is read-only.
        if let Some(pg) = crate::test_db::TestDb::new() {
            drop(pg.open());
            let ro = Store::open_read_only(std::path::Path::new(pg.url())).expect("opens");
            assert!(ro.panel_events(None, 5).expect("reads").is_empty());
            let err = ro
                .panel_event_insert(PanelEventKind::Logout, "a", "b", None)
                .expect_err("a read-only session must refuse writes");
            assert!(err.to_string().contains("read-only"), "{err}");
        }
    }
}
