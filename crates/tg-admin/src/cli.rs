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
    /// Every exported message is kept in the store, so `--resume` adds only newer ones.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Chat ids or exact titles (or --all-in-scope).
    // Not `required` for clap: `--media -1001` takes the id as the kinds, and the check in
    // `export` can then say so instead of "CHAT is missing".
    #[arg(value_name = "CHAT", allow_negative_numbers = true)]
    pub chats: Vec<String>,
    /// Every group in the audit's Telegram scope (categories.json `telegram_scope`), one after another.
    #[arg(long, conflicts_with = "chats")]
    pub all_in_scope: bool,
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub format: ExportFormat,
    /// Oldest messages to include: a date (YYYY-MM-DD, in --tz) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Newest bound (exclusive): a date (YYYY-MM-DD, in --tz) or an RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Time zone for the text format, tdesktop dates and for dates [default: the machine's zone].
    #[arg(long)]
    pub tz: Option<String>,
    /// Only messages newer than the last export of each chat into this --out and format, added
    /// to the same file (a killed export continues where it stopped).
    #[arg(long)]
    pub resume: bool,
    /// Download media next to the export: comma-separated kinds (photo, video, document, voice,
    /// audio, video_note, sticker, animation) or `all` (the default when given without a value).
    #[arg(
        long,
        value_name = "KINDS",
        num_args = 0..=1,
        default_missing_value = "all",
        value_delimiter = ','
    )]
    pub media: Option<Vec<String>>,
    /// Largest media file to download (e.g. 500K, 20M, 1G; bytes without a unit); larger ones
    /// are listed as not downloaded.
    #[arg(long, value_name = "SIZE", requires = "media")]
    pub max_file_size: Option<String>,
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
    /// Telegram Desktop's machine-readable export: <out>/<chat>/result.json and its media folders.
    Tdesktop,
    /// An offline HTML archive per chat (<out>/<chat>_html/index.html; slack-export's renderer):
    /// replies under the message they answer, downloaded media linked and photos shown.
    Html,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Text => "text",
            ExportFormat::Json => "json",
            ExportFormat::Tdesktop => "tdesktop",
            ExportFormat::Html => "html",
        }
    }
}
