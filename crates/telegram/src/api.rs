//! The `TelegramApi` trait every tool depends on, and the choice of backend from the environment.

use futures::future::BoxFuture;
use jiff::Timestamp;

use crate::error::TelegramError;
use crate::types::{Chat, OurRights, Participant, TgMessage, TgUser};

/// Future returned by every `TelegramApi` operation (boxed so the trait works as `dyn`).
pub type ApiFuture<'a, T> = BoxFuture<'a, Result<T, TelegramError>>;

/// The Telegram operations the tools need, over the logged-in account.
pub trait TelegramApi: Send + Sync {
    /// The logged-in account.
    fn me(&self) -> ApiFuture<'_, TgUser>;
    /// The account's groups, supergroups and channels (private chats are left out).
    fn dialogs(&self) -> ApiFuture<'_, Vec<Chat>>;
    /// Everyone in a chat, with their role.
    fn participants(&self, chat: i64) -> ApiFuture<'_, Vec<Participant>>;
    /// Our own role and rights in a chat.
    fn my_rights(&self, chat: i64) -> ApiFuture<'_, OurRights>;
    /// A user by `@username`/`username` (case-insensitive) or numeric id; `None` when unknown.
    fn resolve_user<'a>(&'a self, query: &'a str) -> ApiFuture<'a, Option<TgUser>>;
    /// Removes (kicks) a user from a chat. `NotParticipant` when they are not in it.
    fn remove_participant(&self, chat: i64, user: i64) -> ApiFuture<'_, ()>;
    /// Changes a chat's title.
    fn rename_chat<'a>(&'a self, chat: i64, title: &'a str) -> ApiFuture<'a, ()>;
    /// Messages of a chat dated in `[since, until)`, oldest first.
    fn messages(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> ApiFuture<'_, Vec<TgMessage>>;
    /// Up to `limit` messages of a chat with an id above `after_id` (0: from the first), oldest
    /// first: history read forwards one page at a time, so an export can store each page as it
    /// comes and a later run can continue after the last stored id.
    fn history_page(&self, chat: i64, after_id: i64, limit: usize)
    -> ApiFuture<'_, Vec<TgMessage>>;
    /// The id of the newest message dated before `since` (0 when there is none): where a
    /// forward read of the history from `since` starts, without reading everything older.
    fn history_start(&self, chat: i64, since: Timestamp) -> ApiFuture<'_, i64>;
    /// Downloads the media of message `message` of `chat` into `sink` (restarted first, so a
    /// retried attempt never appends to an earlier one); returns the bytes written.
    fn download_media<'a>(
        &'a self,
        chat: i64,
        message: i64,
        sink: &'a mut dyn MediaSink,
    ) -> ApiFuture<'a, u64>;
    /// Called once when the command ends: the fixture backend writes its changes back here.
    fn finish(&self) -> ApiFuture<'_, ()>;
}

/// Where `download_media` writes: the caller's temporary file, renamed once complete.
pub trait MediaSink: Send {
    /// Forgets everything written so far (called at the start of every attempt).
    fn restart(&mut self) -> std::io::Result<()>;
    /// Appends one chunk.
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()>;
}

/// Opens the backend the environment selects: the fixture named by `TELEGRAM_FIXTURE` when set,
/// else the real account through grammers (session at `TELEGRAM_SESSION`, which must be logged in).
pub async fn open_from_env() -> Result<Box<dyn TelegramApi>, TelegramError> {
    match std::env::var_os(crate::ENV_FIXTURE) {
        Some(path) if !path.is_empty() => {
            Ok(Box::new(crate::fixture::FixtureBackend::open(path.into())?))
        }
        _ => {
            let settings = crate::grammers::GrammersSettings::from_env()?;
            Ok(Box::new(
                crate::grammers::GrammersBackend::connect(&settings).await?,
            ))
        }
    }
}
