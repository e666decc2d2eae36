//! One connection API over both backends: SQLite (the default, a file) and PostgreSQL (a server
//! shared by several hosts).
//!
//! The store's modules write their SQL once, in the subset both dialects share (`?1` placeholders,
//! `ON CONFLICT ... DO UPDATE`, `RETURNING`, `coalesce`), and run it through [`Db`]. Where the
//! dialects differ (SQLite's FTS5 against Postgres' tsvector, two-argument `max` against `greatest`),
//! the module asks [`Db::backend`] and keeps both texts side by side, so one place per table still
//! knows all of its SQL.
//!
//! Values cross in one small model, [`ValueRef`], like SQLite's own storage classes: integers
//! (flags are 0/1 integers on both), reals, text and blobs. Postgres columns are BIGINT, DOUBLE
//! PRECISION, TEXT and BYTEA to match, and [`pg`] converts a value to whatever type Postgres
//! inferred for a parameter.

pub mod pg;
mod value;

use std::cell::Cell;

pub use value::{FromCol, Params, ToParam, Value, ValueRef};

/// Builds the parameter list of one statement for either backend: `params![a, b, c]`.
#[macro_export]
#[doc(hidden)]
macro_rules! db_params {
    () => {
        &[] as &[&dyn $crate::db::ToParam]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::ToParam),+] as &[&dyn $crate::db::ToParam]
    };
}
pub use crate::db_params as params;

/// Which kind of database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Everything a statement can fail with, on either backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),

    #[error("PostgreSQL: {}", pg::describe(.0))]
    Postgres(#[from] postgres::Error),

    /// A column's value could not be read as the type asked for (a bug in a query, or a database
    /// changed by hand).
    #[error("column {column}: {message}")]
    Column { column: String, message: String },

    /// `query_row` found no row (see [`OptionalExt::optional`]).
    #[error("the query returned no rows")]
    NoRows,

    #[error("a transaction is already open on this connection")]
    NestedTransaction,

    /// The Postgres worker thread is gone (the server closed the connection, or it panicked).
    #[error("the connection to PostgreSQL was lost; run the command again")]
    Disconnected,
}

impl DbError {
    /// True when the statement broke a UNIQUE or PRIMARY KEY constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation)
            ),
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// `query_row(...).optional()`: no row becomes `None`, as with rusqlite's `OptionalExtension`.
pub trait OptionalExt<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) | Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// One result row, whichever backend produced it.
pub struct Row<'a>(RowInner<'a>);

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

/// A column by position (0-based) or by name.
pub trait ColIndex: Copy + std::fmt::Display {
    fn position(self, row: &Row<'_>) -> Result<usize>;
}

impl ColIndex for usize {
    fn position(self, _row: &Row<'_>) -> Result<usize> {
        Ok(self)
    }
}

impl ColIndex for &str {
    fn position(self, row: &Row<'_>) -> Result<usize> {
        let found = match &row.0 {
            RowInner::Sqlite(r) => r.as_ref().column_index(self).ok(),
            RowInner::Pg(r) => r.columns().iter().position(|c| c.name() == self),
        };
        found.ok_or_else(|| DbError::Column {
            column: self.to_string(),
            message: "no such column in the result".into(),
        })
    }
}

impl<'a> Row<'a> {
    /// A SQLite row seen through this API (for a module that steps a rusqlite statement itself,
    /// such as the search's streaming read, and shares its row reading with Postgres).
    pub(crate) fn sqlite(r: &'a rusqlite::Row<'a>) -> Row<'a> {
        Row(RowInner::Sqlite(r))
    }
}

impl Row<'_> {
    /// The value of column `idx` as a `T` (the same conversions on both backends).
    pub fn get<T: FromCol>(&self, idx: impl ColIndex) -> Result<T> {
        let pos = idx.position(self)?;
        let col_err = |message: String| DbError::Column {
            column: idx.to_string(),
            message,
        };
        match &self.0 {
            RowInner::Sqlite(r) => {
                let v = r.get_ref(pos)?;
                T::from_col(value::from_sqlite(v).map_err(col_err)?).map_err(col_err)
            }
            RowInner::Pg(r) => {
                let v = pg::column(r, pos).map_err(col_err)?;
                T::from_col(v.as_ref()).map_err(col_err)
            }
        }
    }

    /// How many columns the row has.
    pub fn column_count(&self) -> usize {
        match &self.0 {
            RowInner::Sqlite(r) => r.as_ref().column_count(),
            RowInner::Pg(r) => r.len(),
        }
    }
}

/// A connection to the store's database.
pub struct Db {
    inner: Inner,
    in_tx: Cell<bool>,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(pg::PgConn),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Sqlite(c) => f.debug_tuple("Db::Sqlite").field(&c.path()).finish(),
            Inner::Postgres(c) => f.debug_tuple("Db::Postgres").field(&c.shown()).finish(),
        }
    }
}

impl Db {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Db {
        // The store's statements are few and repeated (per message, per member); keep them all.
        conn.set_prepared_statement_cache_capacity(256);
        Db {
            inner: Inner::Sqlite(conn),
            in_tx: Cell::new(false),
        }
    }

    pub(crate) fn postgres(conn: pg::PgConn) -> Db {
        Db {
            inner: Inner::Postgres(conn),
            in_tx: Cell::new(false),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == Backend::Postgres
    }

    /// The SQLite connection, for what only SQLite has (pragmas, checkpoints, FTS5).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    pub(crate) fn as_sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    /// The Postgres connection, for what only Postgres does well (array-bound bulk writes).
    pub fn as_postgres(&self) -> Option<&pg::PgConn> {
        match &self.inner {
            Inner::Sqlite(_) => None,
            Inner::Postgres(c) => Some(c),
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?)
            }
            Inner::Postgres(c) => c.execute(sql, &values),
        }
    }

    /// Runs several `;`-separated statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(c) => c.batch(sql),
        }
    }

    /// The first row `sql` answers, turned into a `T`; [`DbError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(r) => f(&Row(RowInner::Sqlite(r))),
                    None => Err(DbError::NoRows),
                }
            }
            Inner::Postgres(c) => {
                let rows = c.query(sql, &values)?;
                match rows.first() {
                    Some(r) => f(&Row(RowInner::Pg(r))),
                    None => Err(DbError::NoRows),
                }
            }
        }
    }

    /// Every row `sql` answers, each turned into a `T`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` for every row `sql` answers. SQLite streams the rows; Postgres reads them all
    /// first (so `f` may run other statements on this connection meanwhile, on both backends).
    pub fn query_each(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(r) = rows.next()? {
                    f(&Row(RowInner::Sqlite(r)))?;
                }
                Ok(())
            }
            Inner::Postgres(c) => {
                for r in c.query(sql, &values)? {
                    f(&Row(RowInner::Pg(&r)))?;
                }
                Ok(())
            }
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back when it returns
    /// `Err` or panics. Transactions don't nest.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Db) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if self.in_tx.get() {
            return Err(DbError::NestedTransaction.into());
        }
        self.execute_batch("BEGIN")?;
        self.in_tx.set(true);
        // Rolls back if `f` panics, so the connection is never left inside a transaction.
        struct Guard<'a>(&'a Db, bool);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    let _ = self.0.execute_batch("ROLLBACK");
                }
                self.0.in_tx.set(false);
            }
        }
        let mut guard = Guard(self, false);
        let out = f(self)?;
        self.execute_batch("COMMIT")?;
        guard.1 = true;
        Ok(out)
    }

    /// True while no transaction is open (the reader pool checks this before reusing a connection).
    pub fn is_autocommit(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(c) => c.is_autocommit(),
            Inner::Postgres(_) => !self.in_tx.get(),
        }
    }
}

#[cfg(test)]
mod tests;
