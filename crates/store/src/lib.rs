//! The project's single SQLite file: opening, embedded schema migrations, and typed reads/writes for each tool's tables.
