//! The project's single SQLite file: opening, embedded schema migrations, and typed reads/writes for each tool's tables.
//!
//! Every tool opens the same file (`--db`, default `output/slack-tools.db`) through [`Store::open`],
//! which applies any pending migrations. Each tool's tables get a module with an `impl Store` block
//! ([`audit`] for slack-audit); a new tool adds a migration in [`migrations`] and a module here.

pub mod audit;
pub mod copy;
pub mod db;
pub mod export;
pub mod insight;
pub mod invites;
pub mod migrations;
pub mod notifications;
pub mod panel;
pub mod purge;
pub mod search;
pub mod slack_connection;
pub mod slack_users;
pub mod test_db;
pub mod tg_export;
pub mod tg_ops;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::Connection;

use db::{Db, OptionalExt, params};

pub use rusqlite;

/// Pages in the WAL file before a commit checkpoints it into the database (see `prepare`).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;

/// How long a writer waits for another process's lock before failing: long enough for a cron sync
/// and an interactive report to share the file, short enough that a stuck lock is reported.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything that can go wrong opening or using the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot create the directory {} for the database: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot create the database file {}: {source}", path.display())]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the database {} has schema version {found}, but this build only knows up to {supported}\n\
         hint: it was written by a newer version of slack-tools; upgrade, or point --db at another file",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("cannot migrate the database {}: {source}", path.display())]
    Migration {
        path: PathBuf,
        source: rusqlite_migration::Error,
    },

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("database error: {0}")]
    Db(#[from] db::DbError),

    #[error(transparent)]
    Url(#[from] db::pg::UrlError),

    /// Boxed: it is the largest variant, and `StoreError` travels in every `Result` of the store.
    #[error(transparent)]
    Connect(Box<db::pg::ConnectError>),

    #[error(
        "the database {target} has schema version {found}, but this build only knows up to {supported}\n\
         hint: it was written by a newer version of slack-tools; upgrade, or point --db at another database"
    )]
    NewerSchemaPg {
        target: String,
        found: i64,
        supported: i64,
    },

    #[error("cannot migrate the database {target}: {reason}")]
    PgMigration { target: String, reason: String },

    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),

    #[error("stored time {value:?} is not an RFC 3339 timestamp: {source}")]
    Time { value: String, source: jiff::Error },

    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: i64 },

    #[error("notification {id}: cannot go from {from} to {to}")]
    InvalidTransition {
        id: i64,
        from: audit::NotificationStatus,
        to: audit::NotificationStatus,
    },

    /// A full-text query SQLite's FTS5 cannot parse (the caller's input, not a broken store).
    #[error("cannot read the search query: {0}")]
    SearchQuery(String),
}

/// Where the store lives: a SQLite file (any plain path) or a PostgreSQL database (a
/// `postgres://` or `postgresql://` URL, given to `--db` or as `DATABASE_URL`).
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(Box<db::pg::PgTarget>),
}

impl From<Box<db::pg::ConnectError>> for StoreError {
    fn from(e: Box<db::pg::ConnectError>) -> StoreError {
        StoreError::Connect(e)
    }
}

impl Location {
    /// Reads `--db`: a URL names Postgres, anything else is a file path.
    pub fn parse(arg: &Path) -> Result<Location, StoreError> {
        match arg.to_str() {
            Some(s) if db::pg::is_url(s) => {
                Ok(Location::Postgres(Box::new(db::pg::PgTarget::parse(s)?)))
            }
            _ => Ok(Location::Sqlite(arg.to_path_buf())),
        }
    }

    /// For messages and logs: the path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(t) => t.shown().to_string(),
        }
    }
}

/// Shows a `--db` value for messages and logs: a path as it is, a URL without its password.
pub fn shown_location(arg: &Path) -> String {
    match Location::parse(arg) {
        Ok(l) => l.shown(),
        Err(_) => "(an invalid PostgreSQL URL)".to_string(),
    }
}

/// An open database with the schema at [`migrations::SCHEMA_VERSION`].
#[derive(Debug)]
pub struct Store {
    conn: Db,
    /// `None` for an in-memory store or Postgres; kept for error messages.
    path: Option<PathBuf>,
    location: Option<Location>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// Creates missing parent directories (0700) and the file itself (0600) before SQLite opens it,
    /// since SQLite creates files with the umask and gives its `-wal` and `-shm` files the database
    /// file's mode: the database holds customer data, for its owner only. Turns on WAL (readers don't block the writer), a busy
    /// timeout, and foreign keys. A database written by a newer build is refused untouched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Location::Postgres(target) = Location::parse(path)? {
            return Self::open_postgres(&target);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_files::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        private_files::ensure_file(path).map_err(|source| StoreError::CreateFile {
            path: path.to_path_buf(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(open_err)?;
        Self::prepare(conn, Some(path.to_path_buf()))
    }

    /// Opens an existing database for reading only (`query_only`, no migration, no file created):
    /// for readers such as admin-panel that must never take a write lock the tools wait on. WAL
    /// lets such a reader run beside a writer; keep its transactions short so checkpoints proceed.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        if let Location::Postgres(target) = Location::parse(path)? {
            let store = Self::connect_postgres(&target)?;
            // Every transaction of this session is read-only: the panel's readers cannot write.
            store
                .conn
                .execute_batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")?;
            store.check_pg_version(&target)?;
            return Ok(store);
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(open_err)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_err)?;
        if found > migrations::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                supported: migrations::SCHEMA_VERSION,
            });
        }
        Ok(Store {
            conn: Db::sqlite(conn),
            path: Some(path.to_path_buf()),
            location: Some(Location::Sqlite(path.to_path_buf())),
        })
    }

    /// Opens a Postgres database and brings its schema up to date (refinery, with the embedded
    /// `migrations/postgres/` files; an advisory lock keeps two hosts from migrating at once).
    pub fn open_postgres(target: &db::pg::PgTarget) -> Result<Store, StoreError> {
        let store = Self::connect_postgres(target)?;
        store.check_pg_version(target)?;
        migrations::migrate_postgres(&store.conn).map_err(|reason| StoreError::PgMigration {
            target: target.shown().to_string(),
            reason,
        })?;
        Ok(store)
    }

    fn connect_postgres(target: &db::pg::PgTarget) -> Result<Store, StoreError> {
        let conn = target.connect()?;
        Ok(Store {
            conn: Db::postgres(conn),
            path: None,
            location: Some(Location::Postgres(Box::new(target.clone()))),
        })
    }

    fn check_pg_version(&self, target: &db::pg::PgTarget) -> Result<(), StoreError> {
        let found = migrations::postgres_version(&self.conn)?;
        if found > migrations::SCHEMA_VERSION {
            return Err(StoreError::NewerSchemaPg {
                target: target.shown().to_string(),
                found,
                supported: migrations::SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// An empty, fully migrated database in memory (tests, dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::prepare(conn, None)
    }

    fn prepare(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(":memory:"));
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        // Deleted rows are zeroed instead of lingering in free space and free pages, so a purged
        // person cannot be read back from the file (see `checkpoint_truncate` for the WAL).
        conn.pragma_update(None, "secure_delete", true)
            .map_err(open_err)?;
        // With WAL, NORMAL is durable across application crashes and much faster than FULL.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        // Bulk writers (the export spool, insight events) commit often; with SQLite's default of
        // a checkpoint every 1000 pages (4 MB) the same pages were copied into the file again and
        // again, with an fsync each time. 8192 pages (32 MB) bounds the WAL file and measured
        // 10-20% less CPU per spooled message; closing the last connection checkpoints anyway.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(open_err)?;

        // Checked before migrating so a newer file is left exactly as it was, with a clear message.
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_err)?;
        if found > migrations::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: shown,
                found,
                supported: migrations::SCHEMA_VERSION,
            });
        }
        migrations::MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migration {
                path: shown.clone(),
                source,
            })?;
        let location = path.clone().map(Location::Sqlite);
        Ok(Store {
            conn: Db::sqlite(conn),
            path,
            location,
        })
    }

    /// The file this store was opened from (`None` in memory and on Postgres).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Where this store lives (`None` in memory).
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The schema version of the open database (`user_version` on SQLite, the newest applied
    /// migration on Postgres).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        match self.conn.as_sqlite() {
            Some(c) => Ok(c.pragma_query_value(None, "user_version", |row| row.get(0))?),
            None => migrations::postgres_version(&self.conn),
        }
    }

    /// The connection, for a tool's own queries, on either backend.
    pub fn db(&self) -> &Db {
        &self.conn
    }

    /// The SQLite connection, for what only SQLite has (pragmas, FTS5 commands, `pragma_table_info`
    /// in tests). Everything else goes through [`Store::db`], which serves both backends.
    ///
    /// # Panics
    /// On a Postgres store.
    pub fn conn(&self) -> &Connection {
        self.conn
            .as_sqlite()
            .expect("this part of slack-tools does not support PostgreSQL yet")
    }

    /// Every row `sql` answers for `params`, each turned into a `T` by `from_row` (either backend).
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: impl db::Params,
        from_row: impl FnMut(&db::Row<'_>) -> db::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self.conn.query_all(sql, params, from_row)?)
    }

    /// The SQLite connection, mutably.
    ///
    /// # Panics
    /// On a Postgres store (see [`Store::conn`]).
    pub fn conn_mut(&mut self) -> &mut Connection {
        self.conn
            .as_sqlite_mut()
            .expect("this part of slack-tools does not support PostgreSQL yet")
    }

    /// Copies the WAL into the database file and truncates the WAL to zero bytes, so content
    /// deleted before (with `secure_delete` on) survives in neither file. Returns `false` when a
    /// reader kept the checkpoint from completing (it is then done by a later checkpoint).
    pub fn checkpoint_truncate(&self) -> Result<bool, StoreError> {
        // Postgres has no WAL file of ours to empty; VACUUM is its business.
        let Some(conn) = self.conn.as_sqlite().filter(|_| self.path.is_some()) else {
            return Ok(true);
        };
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// Reads a value from the `meta` table.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets (inserting or replacing) a value in the `meta` table.
    pub fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Records that this database saw the workspace `team_id` now (name and domain as last seen).
    pub fn upsert_workspace(
        &self,
        team_id: &str,
        name: &str,
        domain: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = format_time(Timestamp::now());
        self.conn.execute(
            "INSERT INTO workspaces (team_id, name, domain, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (team_id) DO UPDATE
               SET name = excluded.name, domain = excluded.domain, last_seen = excluded.last_seen",
            params![team_id, name, domain, now],
        )?;
        Ok(())
    }
}

/// Formats a time the way every table stores it: RFC 3339 in UTC with exactly millisecond precision,
/// so that text order is time order.
pub fn format_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a time stored by [`format_time`] (any RFC 3339 timestamp is accepted).
pub fn parse_time(value: &str) -> Result<Timestamp, StoreError> {
    value.parse().map_err(|source| StoreError::Time {
        value: value.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_orders_like_time() {
        let a: Timestamp = "2026-03-01T10:00:00Z".parse().expect("valid");
        let b: Timestamp = "2026-03-01T10:00:00.5Z".parse().expect("valid");
        let (fa, fb) = (format_time(a), format_time(b));
        assert_eq!(fa, "2026-03-01T10:00:00.000Z");
        assert!(fa < fb, "{fa} should sort before {fb}");
        assert_eq!(parse_time(&fb).expect("parses"), b);
    }

    #[test]
    fn meta_round_trip_and_overwrite() {
        let store = Store::open_in_memory().expect("opens");
        assert_eq!(store.meta_get("k").expect("reads"), None);
        store.meta_set("k", "1").expect("writes");
        store.meta_set("k", "2").expect("overwrites");
        assert_eq!(store.meta_get("k").expect("reads").as_deref(), Some("2"));
    }

    #[test]
    fn workspace_upsert_keeps_first_seen() {
        let store = Store::open_in_memory().expect("opens");
        store.upsert_workspace("T1", "Acme", None).expect("insert");
        let first: String = store
            .conn()
            .query_row("SELECT first_seen FROM workspaces", [], |r| r.get(0))
            .expect("row");
        store
            .upsert_workspace("T1", "Acme Inc", Some("acme"))
            .expect("update");
        let (name, domain, first_again): (String, Option<String>, String) = store
            .conn()
            .query_row("SELECT name, domain, first_seen FROM workspaces", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("row");
        assert_eq!(name, "Acme Inc");
        assert_eq!(domain.as_deref(), Some("acme"));
        assert_eq!(first_again, first);
    }
}
