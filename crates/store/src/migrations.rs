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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        // Applies every migration to an in-memory database and checks the result.
        assert!(MIGRATIONS.validate().is_ok(), "{:?}", MIGRATIONS.validate());
    }
}
