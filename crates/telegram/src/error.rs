//! Typed errors of the Telegram backends. Messages never contain the session key or API hash.

use std::path::PathBuf;

/// What went wrong talking to Telegram (or to the fixture standing in for it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelegramError {
    /// Telegram's FLOOD_WAIT_X: the operation was not done; it may be retried after `seconds`.
    #[error("Telegram asks to wait {seconds}s before {operation} (FLOOD_WAIT)")]
    FloodWait { operation: String, seconds: u64 },
    /// A FLOOD_WAIT longer than the configured limit: we gave up instead of sleeping.
    #[error(
        "gave up on {operation}: Telegram asks to wait {seconds}s (FLOOD_WAIT), more than the {max_seconds}s limit\nhint: run again after that time, or raise --max-flood-wait"
    )]
    FloodWaitTooLong {
        operation: String,
        seconds: u64,
        max_seconds: u64,
    },
    #[error("chat {0} is not among this account's dialogs")]
    ChatNotFound(i64),
    #[error("user {user} is not a participant of chat {chat}")]
    NotParticipant { user: i64, chat: i64 },
    /// Telegram refused for lack of rights (CHAT_ADMIN_REQUIRED and the like).
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not logged in to Telegram\nhint: run `tg-admin login` first (on a terminal)")]
    NotLoggedIn,
    #[error(
        "Telegram login needs a terminal to ask for the code\nhint: run `tg-admin login` on a terminal first; later runs reuse the session"
    )]
    NoTerminal,
    /// The login code was wrong or has expired; a new try may follow.
    #[error(
        "the login code is wrong or has expired\nhint: type the code Telegram just sent (in the Telegram app), or start over for a new one"
    )]
    BadCode,
    /// The two-step verification password was wrong; a new try may follow.
    #[error(
        "the two-step verification password is wrong\nhint: try again; the hint Telegram gives is shown with the prompt"
    )]
    BadPassword,
    /// A login step was called out of order (e.g. a password before the code).
    #[error("login step out of order: {0}")]
    LoginOrder(String),
    /// Missing or invalid configuration (environment variables).
    #[error("{message}\nhint: {hint}")]
    Config { message: String, hint: String },
    #[error("fixture {}: {message}", path.display())]
    Fixture { path: PathBuf, message: String },
    #[error("session file {}: {message}", path.display())]
    Session { path: PathBuf, message: String },
    /// Any other error answered by Telegram.
    #[error("Telegram error {code} {name}")]
    Rpc { code: i32, name: String },
    #[error("connection to Telegram failed: {0}")]
    Network(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl TelegramError {
    /// The FLOOD_WAIT seconds when this is one.
    pub fn flood_wait_seconds(&self) -> Option<u64> {
        match self {
            TelegramError::FloodWait { seconds, .. } => Some(*seconds),
            _ => None,
        }
    }
}
