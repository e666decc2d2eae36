//! FLOOD_WAIT handling shared by every backend: `FloodWaitGuard` wraps a `TelegramApi` and, when
//! Telegram asks to wait, sleeps with a visible countdown if the wait is short, or gives up on that
//! operation with a clear message if it is longer than the configured limit. It never hammers:
//! every retry comes after the full wait Telegram asked for.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;

use crate::api::{ApiFuture, MediaSink, TelegramApi};
use crate::error::TelegramError;
use crate::types::{Chat, OurRights, Participant, TgMessage, TgUser};

/// How long we are willing to wait on FLOOD_WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodWaitPolicy {
    /// Longest single wait we sleep through; longer ones give up that operation.
    pub max_wait: Duration,
    /// Waits per operation before giving up (Telegram may ask again after a wait).
    pub max_waits: u32,
}

impl Default for FloodWaitPolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(60),
            max_waits: 3,
        }
    }
}

/// A `TelegramApi` that honours FLOOD_WAIT according to a `FloodWaitPolicy`.
pub struct FloodWaitGuard<A> {
    inner: A,
    policy: FloodWaitPolicy,
}

impl<A: TelegramApi> FloodWaitGuard<A> {
    pub fn new(inner: A, policy: FloodWaitPolicy) -> Self {
        Self { inner, policy }
    }

    async fn run<'a, T>(
        &'a self,
        mut call: impl FnMut() -> ApiFuture<'a, T> + Send + 'a,
    ) -> Result<T, TelegramError> {
        let mut waits = 0;
        loop {
            match call().await {
                Err(TelegramError::FloodWait { operation, seconds }) => {
                    let max_seconds = self.policy.max_wait.as_secs();
                    if seconds > max_seconds || waits >= self.policy.max_waits {
                        return Err(TelegramError::FloodWaitTooLong {
                            operation,
                            seconds,
                            max_seconds,
                        });
                    }
                    waits += 1;
                    countdown(&operation, seconds).await;
                }
                other => return other,
            }
        }
    }

    /// `download_media` under the same policy; written by hand because each attempt reborrows
    /// the sink (the backend restarts it, so a retry never appends to a refused attempt).
    async fn download<'a>(
        &'a self,
        chat: i64,
        message: i64,
        sink: &'a mut dyn MediaSink,
    ) -> Result<u64, TelegramError> {
        let mut waits = 0;
        loop {
            match self.inner.download_media(chat, message, &mut *sink).await {
                Err(TelegramError::FloodWait { operation, seconds }) => {
                    let max_seconds = self.policy.max_wait.as_secs();
                    if seconds > max_seconds || waits >= self.policy.max_waits {
                        return Err(TelegramError::FloodWaitTooLong {
                            operation,
                            seconds,
                            max_seconds,
                        });
                    }
                    waits += 1;
                    countdown(&operation, seconds).await;
                }
                other => return other,
            }
        }
    }
}

/// Sleeps `seconds`, showing the remaining time on stderr (updated in place on a terminal).
async fn countdown(operation: &str, seconds: u64) {
    let mut err = std::io::stderr();
    let tty = err.is_terminal();
    tracing::warn!(operation, seconds, "FLOOD_WAIT from Telegram");
    if !tty {
        let _ = writeln!(
            err,
            "Telegram FLOOD_WAIT: waiting {seconds}s before retrying {operation}"
        );
    }
    for left in (1..=seconds).rev() {
        if tty {
            let _ = write!(
                err,
                "\rTelegram FLOOD_WAIT: retrying {operation} in {left}s   "
            );
            let _ = err.flush();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if tty {
        let _ = writeln!(
            err,
            "\rTelegram FLOOD_WAIT: retrying {operation} now        "
        );
    }
}

impl<A: TelegramApi> TelegramApi for FloodWaitGuard<A> {
    fn me(&self) -> ApiFuture<'_, TgUser> {
        self.run(|| self.inner.me()).boxed()
    }
    fn dialogs(&self) -> ApiFuture<'_, Vec<Chat>> {
        self.run(|| self.inner.dialogs()).boxed()
    }
    fn participants(&self, chat: i64) -> ApiFuture<'_, Vec<Participant>> {
        self.run(move || self.inner.participants(chat)).boxed()
    }
    fn my_rights(&self, chat: i64) -> ApiFuture<'_, OurRights> {
        self.run(move || self.inner.my_rights(chat)).boxed()
    }
    fn resolve_user<'a>(&'a self, query: &'a str) -> ApiFuture<'a, Option<TgUser>> {
        self.run(move || self.inner.resolve_user(query)).boxed()
    }
    // Retrying a removal after FLOOD_WAIT is safe: the refused request had no effect.
    fn remove_participant(&self, chat: i64, user: i64) -> ApiFuture<'_, ()> {
        self.run(move || self.inner.remove_participant(chat, user))
            .boxed()
    }
    fn rename_chat<'a>(&'a self, chat: i64, title: &'a str) -> ApiFuture<'a, ()> {
        self.run(move || self.inner.rename_chat(chat, title))
            .boxed()
    }
    fn messages(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        self.run(move || self.inner.messages(chat, since, until))
            .boxed()
    }
    fn history_page(
        &self,
        chat: i64,
        after_id: i64,
        limit: usize,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        self.run(move || self.inner.history_page(chat, after_id, limit))
            .boxed()
    }
    fn history_start(&self, chat: i64, since: Timestamp) -> ApiFuture<'_, i64> {
        self.run(move || self.inner.history_start(chat, since))
            .boxed()
    }
    fn download_media<'a>(
        &'a self,
        chat: i64,
        message: i64,
        sink: &'a mut dyn MediaSink,
    ) -> ApiFuture<'a, u64> {
        self.download(chat, message, sink).boxed()
    }
    fn finish(&self) -> ApiFuture<'_, ()> {
        self.inner.finish()
    }
}

impl TelegramApi for Box<dyn TelegramApi> {
    fn me(&self) -> ApiFuture<'_, TgUser> {
        (**self).me()
    }
    fn dialogs(&self) -> ApiFuture<'_, Vec<Chat>> {
        (**self).dialogs()
    }
    fn participants(&self, chat: i64) -> ApiFuture<'_, Vec<Participant>> {
        (**self).participants(chat)
    }
    fn my_rights(&self, chat: i64) -> ApiFuture<'_, OurRights> {
        (**self).my_rights(chat)
    }
    fn resolve_user<'a>(&'a self, query: &'a str) -> ApiFuture<'a, Option<TgUser>> {
        (**self).resolve_user(query)
    }
    fn remove_participant(&self, chat: i64, user: i64) -> ApiFuture<'_, ()> {
        (**self).remove_participant(chat, user)
    }
    fn rename_chat<'a>(&'a self, chat: i64, title: &'a str) -> ApiFuture<'a, ()> {
        (**self).rename_chat(chat, title)
    }
    fn messages(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        (**self).messages(chat, since, until)
    }
    fn history_page(
        &self,
        chat: i64,
        after_id: i64,
        limit: usize,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        (**self).history_page(chat, after_id, limit)
    }
    fn history_start(&self, chat: i64, since: Timestamp) -> ApiFuture<'_, i64> {
        (**self).history_start(chat, since)
    }
    fn download_media<'a>(
        &'a self,
        chat: i64,
        message: i64,
        sink: &'a mut dyn MediaSink,
    ) -> ApiFuture<'a, u64> {
        (**self).download_media(chat, message, sink)
    }
    fn finish(&self) -> ApiFuture<'_, ()> {
        (**self).finish()
    }
}
