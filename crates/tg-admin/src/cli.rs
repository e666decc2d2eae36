//! Command-line interface of tg-admin (clap derive; doc comments are the help text).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Telegram group administration for the logged-in account: find, remove and rename across all
/// groups, ownership-transfer requests, admin status, and history export.
///
/// The account is selected by TELEGRAM_FIXTURE (a JSON simulated account), else the grammers session
/// at TELEGRAM_SESSION (run `tg-admin login` first). `--demo` uses a built-in demo account copied to
/// <out>/telegram-demo.json.
#[derive(Parser, Debug)]
#[command(name = "tg-admin", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: cli_support::CommonArgs,

    /// Longest FLOOD_WAIT (seconds) to sleep through; longer waits give up that operation.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub max_flood_wait: u64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Log in interactively (code, then 2FA password without echo) and store the session.
    Login,
    /// Every group a user is in, with their role and our own rights there.
    FindUser(UsersArgs),
    /// Remove users from every group where we may (creator, or admin with ban rights); list the
    /// others as needing an ownership/admin transfer.
    RemoveUser {
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// For groups where USER is creator/admin and we lack rights, write ready-to-send transfer
    /// requests (one per group) to a text file.
    RequestOwnership(UsersArgs),
    /// Rename groups by substring (--find/--replace) or by a mapping file.
    Rename {
        /// Substring to replace in titles (case-insensitive).
        #[arg(long, requires = "replace", conflicts_with = "mapping")]
        find: Option<String>,
        /// Replacement for --find.
        #[arg(long, requires = "find")]
        replace: Option<String>,
        /// JSON object {"old title or chat id": "new title"}.
        #[arg(long, value_name = "FILE.json", required_unless_present = "find")]
        mapping: Option<PathBuf>,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Our role and rights in every group.
    AdminStatus,
    /// Export message history with senders and reply threading, one file per chat under --out.
    Export {
        /// Chat ids or exact titles.
        #[arg(required = true, value_name = "CHAT", allow_negative_numbers = true)]
        chats: Vec<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
        format: ExportFormat,
        /// Oldest messages to include: a date (YYYY-MM-DD, in --tz) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Newest bound (exclusive): a date (YYYY-MM-DD, in --tz) or an RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Time zone for the text format and for dates [default: the machine's zone].
        #[arg(long)]
        tz: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct UsersArgs {
    /// Users: @username, username (case-insensitive) or numeric id.
    #[arg(value_name = "USER", required_unless_present = "users_file")]
    pub users: Vec<String>,
    /// File with one user per line (blank lines and # comments ignored), for batches.
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct ChangeArgs {
    /// Show what would change, change nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Make the changes without asking (required when not on a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Text,
    Json,
}
