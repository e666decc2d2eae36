//! Reading the store without getting in the tools' way: every request opens its own read-only,
//! `query_only` connection on a blocking thread and reads inside one short transaction (WAL lets
//! the cron tools write meanwhile). The panel's own records (logins, actions) go through one
//! writable store behind a mutex.

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
