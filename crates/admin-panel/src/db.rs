//! Reading the store without getting in the tools' way: every request reads on a blocking thread
//! through a read-only connection (SQLite: `query_only`; PostgreSQL: a read-only session), inside
//! one short transaction (WAL, or Postgres' MVCC, lets the cron tools write meanwhile).
//! Connections are kept open between requests ([`Readers`]): opening one (and, on SQLite, parsing
//! the schema again; on Postgres, a TCP and auth handshake) cost more than a cached page's whole
//! answer. The panel's own records (logins, actions) go through one writable store behind a
//! mutex.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{AppError, AppResult};
use store::Store;

/// Runs `f` inside one read transaction, so a page sees one consistent state of the store.
pub fn in_read_transaction<T>(
    store: &Store,
    f: impl FnOnce(&Store) -> AppResult<T>,
) -> AppResult<T> {
    // A read transaction has nothing to commit; ending it releases the snapshot.
    store.db().transaction(|db| {
        if db.is_postgres() {
            // Postgres' default (READ COMMITTED) takes a new snapshot per statement; a page's
            // figures must come from one, as SQLite's read transaction gives.
            db.execute_batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        f(store)
    })
}

/// Opens a read-only connection (blocking; call from a blocking thread).
pub fn open_reader(path: &std::path::Path) -> AppResult<Store> {
    Store::open_read_only(path).map_err(AppError::from)
}

/// Idle read-only connections kept for the next requests (at most [`Readers::MAX_IDLE`]; more
/// requests at once open more, and the extra ones are closed when they finish).
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Readers {
    /// Enough for the blocking threads that read at once on a small machine under load.
    pub const MAX_IDLE: usize = 16;

    pub fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` over an idle connection, or a new one (blocking; call from a blocking thread).
    pub fn with<T>(&self, f: impl FnOnce(&Store) -> AppResult<T>) -> AppResult<T> {
        let idle = self.lock().pop();
        let store = match idle {
            Some(s) => s,
            None => open_reader(&self.path)?,
        };
        let out = f(&store);
        // Only a connection outside any transaction goes back: one left inside a transaction
        // (a reader that returned early) would pin an old snapshot of the file for the next
        // request and keep checkpoints from finishing.
        if store.db().is_autocommit() {
            let mut idle = self.lock();
            if idle.len() < Self::MAX_IDLE {
                idle.push(store);
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Store>> {
        // Pushes and pops are whole: a panic elsewhere leaves a usable list.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(s: &Store) -> &store::rusqlite::Connection {
        s.db().as_sqlite().expect("a SQLite store")
    }

    fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    #[test]
    fn connections_are_reused_and_one_left_in_a_transaction_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        Store::open(&path).expect("creates");
        let readers = Readers::new(path);
        // A per-connection setting marks the connection.
        let cache_size = |s: &Store| -> AppResult<i64> {
            sqlite(s)
                .pragma_query_value(None, "cache_size", |r| r.get(0))
                .map_err(internal)
        };
        readers
            .with(|s| {
                sqlite(s)
                    .pragma_update(None, "cache_size", -1234)
                    .map_err(internal)
            })
            .expect("marks");
        assert_eq!(readers.with(cache_size).expect("reads"), -1234, "reused");
        // A reader that leaves its transaction open does not hand its snapshot on.
        readers
            .with(|s| sqlite(s).execute_batch("BEGIN").map_err(internal))
            .expect("begins");
        let fresh = readers
            .with(|s| Ok((cache_size(s)?, s.db().is_autocommit())))
            .expect("reads");
        assert_ne!(fresh.0, -1234, "a new connection");
        assert!(fresh.1, "the next request starts outside any transaction");
    }

    /// On both backends: a page's reads see one state of the store even while a tool writes,
    /// the next request sees the write, and a reader cannot write.
    #[test]
    fn a_read_transaction_is_one_snapshot_and_readers_cannot_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = store::test_db::TestDb::new();
        let mut locations = vec![dir.path().join("db.sqlite")];
        locations.extend(pg.as_ref().map(|p| PathBuf::from(p.url())));
        for location in locations {
            let writer = Store::open(&location).expect("opens");
            writer.meta_set("k", "1").expect("writes");
            let readers = Readers::new(location.clone());
            let (first, second) = readers
                .with(|s| {
                    in_read_transaction(s, |s| {
                        let first = s.meta_get("k")?;
                        writer.meta_set("k", "2")?;
                        Ok((first, s.meta_get("k")?))
                    })
                })
                .expect("reads");
            assert_eq!(first.as_deref(), Some("1"));
            assert_eq!(second, first, "one snapshot for the whole page");
            let after = readers.with(|s| Ok(s.meta_get("k")?)).expect("reads");
            assert_eq!(
                after.as_deref(),
                Some("2"),
                "the next request sees the write"
            );
            let write = readers.with(|s| Ok(s.meta_set("k", "3")?));
            assert!(write.is_err(), "a reader wrote to {}", location.display());
            assert_eq!(writer.meta_get("k").expect("reads").as_deref(), Some("2"));
        }
    }
}
