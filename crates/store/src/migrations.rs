//! The schema history: every migration, in order, embedded from `crates/store/migrations/*.sql`.
//!
//! The database's `user_version` counts how many of these have been applied, so the list is
//! append-only: never edit, reorder or remove a migration that has shipped; change the schema with a
//! new file at the end instead.

use rusqlite_migration::{M, Migrations};

/// Every migration, oldest first. A migration's position in this list is its schema version.
///
/// Numbers reserved for the tool issues that add their own tables (one file each, appended here):
/// - `03_invites.sql`  add-members: invite runs and per-channel invite results
/// - `04_export.sql`   slack-export: per-channel export state for `--resume`
/// - `05_insight.sql`  insight-sync: users, channels, membership snapshots, events, aggregates
/// - `06_insight_unscoped.sql` insight-sync: when a channel left the scope (grace period)
/// - `07_audit_runs_origin.sql` audit runs: who started them and their state (running, ...)
/// - `09_tg_operations.sql` tg-admin: every change made on Telegram, for the panel's Activity page
/// - `10_slack_users.sql` slack-export: people only users.info knows (Slack Connect), cached
/// - `11_tg_export.sql` tg-admin export: exported Telegram messages per chat and output (`--resume`)
/// - `12_search.sql`   the full-text index of exported messages (Slack and Telegram)
/// - `13_slack_connection.sql` admin-panel: the workspace connected by OAuth, its token sealed
/// - `14_notifications.sql` notifications: event, rendered message, template and priority per post
///
/// The numbers are a plan, not fixed slots: whoever lands first appends the next file and takes the
/// next number (file prefix = position in this list), so the list never has a hole.
const MIGRATION_LIST: &[M<'static>] = &[
    M::up(include_str!("../migrations/01_core.sql")),
    M::up(include_str!("../migrations/02_audit.sql")),
    M::up(include_str!("../migrations/03_invites.sql")),
    M::up(include_str!("../migrations/04_export.sql")),
    M::up(include_str!("../migrations/05_insight.sql")),
    M::up(include_str!("../migrations/06_insight_unscoped.sql")),
    M::up(include_str!("../migrations/07_audit_runs_origin.sql")),
    M::up(include_str!("../migrations/08_panel.sql")),
    M::up(include_str!("../migrations/09_tg_operations.sql")),
    M::up(include_str!("../migrations/10_slack_users.sql")),
    M::up(include_str!("../migrations/11_tg_export.sql")),
    M::up(include_str!("../migrations/12_search.sql")),
    M::up(include_str!("../migrations/13_slack_connection.sql")),
    M::up(include_str!("../migrations/14_notifications.sql")),
];

/// The migrations as `rusqlite_migration` applies them.
pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);

/// The schema version this build writes: the number of migrations it knows.
pub const SCHEMA_VERSION: i64 = MIGRATION_LIST.len() as i64;

// The same history for PostgreSQL: `migrations/postgres/V<n>__<name>.sql` mirrors the SQLite file
// numbered n (same tables, columns and indexes; Postgres types), applied by refinery, which records
// them in `refinery_schema_history`.
mod pg_embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Any 64-bit key no other program on a shared server is likely to use: "slacktls" in ASCII.
const MIGRATION_LOCK: i64 = 0x736c_6163_6b74_6c73;

/// Brings a Postgres database to the current schema. Holds an advisory lock meanwhile, so two hosts
/// starting a tool at once on a fresh database don't both create the tables.
pub(crate) fn migrate_postgres(db: &crate::db::Db) -> Result<(), String> {
    let conn = db.as_postgres().ok_or("not a Postgres store")?;
    conn.with_client(|client| {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| crate::db::pg::describe(&e))?;
        let result = pg_embedded::migrations::runner()
            .run(client)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| crate::db::pg::describe(&e));
        result.and(unlocked.map(|_| ()))
    })
    .map_err(|e| e.to_string())?
}

/// Applies the Postgres migrations up to `version` only: what an older build left (tests).
#[doc(hidden)]
pub fn migrate_postgres_to(db: &crate::db::Db, version: i32) -> Result<(), String> {
    let conn = db.as_postgres().ok_or("not a Postgres store")?;
    conn.with_client(move |client| {
        pg_embedded::migrations::runner()
            .set_target(refinery::Target::Version(version))
            .run(client)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())?
}

/// The newest migration applied to a Postgres database (0 when none).
pub(crate) fn postgres_version(db: &crate::db::Db) -> Result<i64, crate::StoreError> {
    let exists: bool = db.query_row(
        "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(db.query_row(
        "SELECT coalesce(max(version), 0)::BIGINT FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )?)
}

/// Every embedded Postgres migration's SQL, in order (tests name their template database by it).
pub fn postgres_migrations_text() -> String {
    pg_embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| format!("{}:{}\n", m.version(), m.sql().unwrap_or("")))
        .collect()
}

/// The number of Postgres migrations embedded (must equal [`SCHEMA_VERSION`]; a test checks).
pub fn postgres_migration_count() -> usize {
    pg_embedded::migrations::runner().get_migrations().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        // Applies every migration to an in-memory database and checks the result.
        assert!(MIGRATIONS.validate().is_ok(), "{:?}", MIGRATIONS.validate());
    }
}
