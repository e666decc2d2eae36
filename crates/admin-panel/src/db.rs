//! Reading the store without getting in the tools' way: every request reads on a blocking thread
//! through a read-only, `query_only` connection, inside one short transaction (WAL lets the cron
//! tools write meanwhile). Connections are kept open between requests ([`Readers`]): opening one
//! and having SQLite parse the schema again cost more than a cached page's whole answer. The
//! panel's own records (logins, actions) go through one writable store behind a mutex.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{AppError, AppResult};
use store::Store;

/// Runs `f` inside one read transaction, so a page sees one consistent state of the file.
pub fn in_read_transaction<T>(
    store: &Store,
    f: impl FnOnce(&Store) -> AppResult<T>,
) -> AppResult<T> {
    store.conn().execute_batch("BEGIN")?;
    let out = f(store);
    // A read transaction has nothing to commit; ending it releases the WAL snapshot.
    let _ = store.conn().execute_batch("COMMIT");
    out
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
        if store.conn().is_autocommit() {
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

    #[test]
    fn connections_are_reused_and_one_left_in_a_transaction_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        Store::open(&path).expect("creates");
        let readers = Readers::new(path);
        // A per-connection setting marks the connection.
        let cache_size = |s: &Store| -> AppResult<i64> {
            Ok(s.conn()
                .pragma_query_value(None, "cache_size", |r| r.get(0))?)
        };
        readers
            .with(|s| Ok(s.conn().pragma_update(None, "cache_size", -1234)?))
            .expect("marks");
        assert_eq!(readers.with(cache_size).expect("reads"), -1234, "reused");
        // A reader that leaves its transaction open does not hand its snapshot on.
        readers
            .with(|s| Ok(s.conn().execute_batch("BEGIN")?))
            .expect("begins");
        let fresh = readers
            .with(|s| Ok((cache_size(s)?, s.conn().is_autocommit())))
            .expect("reads");
        assert_ne!(fresh.0, -1234, "a new connection");
        assert!(fresh.1, "the next request starts outside any transaction");
    }
}
