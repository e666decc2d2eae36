//! Fixture backend: a simulated Telegram account read from a JSON file (`TELEGRAM_FIXTURE`).
//! Mutations are applied in memory and written back atomically (temp file + rename) by `finish`,
//! so tests can inspect what a command changed. The format is documented in docs/telegram.md.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::FutureExt;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::{ApiFuture, MediaSink, TelegramApi};
use crate::error::TelegramError;
use crate::types::{Chat, ChatKind, OurRights, Participant, Role, TgMedia, TgMessage, TgUser};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureData {
    me: TgUser,
    #[serde(default)]
    users: Vec<TgUser>,
    #[serde(default)]
    chats: Vec<FixtureChat>,
    /// Injected FLOOD_WAIT errors, consumed as they fire (tests of the waiting logic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    flood_wait: Vec<FloodWaitRule>,
    /// When present, the account is not authorised until a login with this code (and password)
    /// has written the session file; absent, the account is always logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<FixtureLogin>,
    /// Most messages one `history_page` call returns (Telegram's own cap is 100); small values
    /// make a short history span several pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_page: Option<usize>,
    /// Injected failures (a history page that fails, a download cut off midway), consumed as
    /// they fire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    faults: Vec<FaultRule>,
    /// Delays: every call of `op` first sleeps `ms` (lets a test kill a run midway).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    slow: Vec<SlowRule>,
}

/// `{"op": "download_media", "message": 5, "cut_after_bytes": 100}`: the next `times` calls of
/// `op` (on `chat` and `message` when given; for `history_page`, `message` is the `after_id`) fail
/// with a network error, a download after writing `cut_after_bytes` bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRule {
    op: String,
    #[serde(default = "one")]
    times: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cut_after_bytes: Option<u64>,
}

/// `{"op": "history_page", "ms": 300}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlowRule {
    op: String,
    ms: u64,
}

/// `{"code": "12345", "password": "hunter2", "password_hint": "pet"}`: what a login must type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureLogin {
    code: String,
    /// The 2FA password; absent means the account has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hint: Option<String>,
}

/// What a fixture login writes to the session file: which fixture account it authorises.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureSession {
    fixture_user: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureChat {
    id: i64,
    title: String,
    kind: ChatKind,
    #[serde(default)]
    participants: Vec<FixtureParticipant>,
    #[serde(default)]
    messages: Vec<FixtureMessage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureParticipant {
    user: i64,
    role: Role,
    /// Admin rights; absent means an admin has both (creators always have both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rights: Option<FixtureRights>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureRights {
    #[serde(default)]
    ban_users: bool,
    #[serde(default)]
    change_info: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureMessage {
    id: i64,
    from: Option<i64>,
    date: Timestamp,
    #[serde(default)]
    text: String,
    #[serde(default)]
    reply_to: Option<i64>,
    /// Media with its `size`; the bytes are [`fixture_media_bytes`] of this chat and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media: Option<TgMedia>,
}

/// The bytes of a fixture message's media: `size` deterministic pseudo-random bytes derived from
/// the chat and message id (the same on every run, different between messages).
pub fn fixture_media_bytes(chat: i64, message: i64, size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut bytes = MediaBytes::new(chat, message);
    while (out.len() as u64) < size {
        out.push(bytes.next_byte());
    }
    out
}

/// xorshift64* over a seed from the chat and message id: cheap, stable, no dependency.
struct MediaBytes {
    state: u64,
    word: u64,
    left: u8,
}

impl MediaBytes {
    fn new(chat: i64, message: i64) -> Self {
        // splitmix64 of both ids: every (chat, message) gets its own non-zero xorshift state.
        let mut z = (chat as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((message as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self {
            state: if z == 0 { 0x5DEE_CE66 } else { z },
            word: 0,
            left: 0,
        }
    }

    fn next_byte(&mut self) -> u8 {
        if self.left == 0 {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            self.word = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            self.left = 8;
        }
        let b = (self.word & 0xFF) as u8;
        self.word >>= 8;
        self.left -= 1;
        b
    }
}

/// `{"op": "remove_participant", "seconds": 3, "times": 1, "chat": -1001}`: the next `times` calls of
/// `op` (on `chat`, when given) fail with FLOOD_WAIT of `seconds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloodWaitRule {
    op: String,
    seconds: u64,
    #[serde(default = "one")]
    times: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chat: Option<i64>,
}

fn one() -> u32 {
    1
}

struct State {
    data: FixtureData,
    dirty: bool,
}

/// The fixture-backed `TelegramApi`.
pub struct FixtureBackend {
    path: PathBuf,
    state: Mutex<State>,
}

impl FixtureBackend {
    /// Reads and checks the fixture file. A fixture with a `login` section also needs the session
    /// a login wrote ([`crate::session_path`]), else `NotLoggedIn`.
    pub fn open(path: PathBuf) -> Result<Self, TelegramError> {
        Self::open_with_session(path, crate::session_path::session_path_logged)
    }

    /// [`FixtureBackend::open`] with the session file `session` gives (asked only when the
    /// fixture has a `login` section).
    pub fn open_with_session(
        path: PathBuf,
        session: impl FnOnce() -> Result<PathBuf, TelegramError>,
    ) -> Result<Self, TelegramError> {
        let backend = Self::open_unauthorised(path)?;
        if backend.login_settings()?.is_some() && backend.needs_login(&session()?)? {
            return Err(TelegramError::NotLoggedIn);
        }
        Ok(backend)
    }

    /// Reads and checks the fixture file without looking at the session (for the login itself).
    pub(crate) fn open_unauthorised(path: PathBuf) -> Result<Self, TelegramError> {
        let text = std::fs::read_to_string(&path).map_err(|e| TelegramError::Fixture {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let data = Self::parse(&text).map_err(|message| TelegramError::Fixture {
            path: path.clone(),
            message,
        })?;
        Ok(Self {
            path,
            state: Mutex::new(State { data, dirty: false }),
        })
    }

    fn parse(text: &str) -> Result<FixtureData, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let data: FixtureData = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("at {}: {}", e.path(), e.inner()))?;
        let known = |id: i64| id == data.me.id || data.users.iter().any(|u| u.id == id);
        for chat in &data.chats {
            for p in &chat.participants {
                if !known(p.user) {
                    return Err(format!(
                        "chat {}: participant {} is not in users",
                        chat.id, p.user
                    ));
                }
            }
            for m in &chat.messages {
                if m.media.as_ref().is_some_and(|media| media.size.is_none()) {
                    return Err(format!(
                        "chat {} message {}: media needs a size (the bytes are generated)",
                        chat.id, m.id
                    ));
                }
                if let Some(from) = m.from.filter(|f| !known(*f)) {
                    return Err(format!(
                        "chat {} message {}: sender {from} is not in users",
                        chat.id, m.id
                    ));
                }
            }
        }
        Ok(data)
    }

    /// Reads the data without any FLOOD_WAIT rule firing.
    fn read<T>(&self, f: impl FnOnce(&FixtureData) -> T) -> Result<T, TelegramError> {
        let state = self.state.lock().map_err(|_| TelegramError::Fixture {
            path: self.path.clone(),
            message: "state lock poisoned".into(),
        })?;
        Ok(f(&state.data))
    }

    fn login_settings(&self) -> Result<Option<FixtureLogin>, TelegramError> {
        self.read(|d| d.login.clone())
    }

    /// Whether the account demands a login: it has a `login` section and `session` holds no
    /// fixture session for this account.
    pub(crate) fn needs_login(&self, session: &Path) -> Result<bool, TelegramError> {
        if self.login_settings()?.is_none() {
            return Ok(false);
        }
        let me = self.read(|d| d.me.id)?;
        let stored = std::fs::read_to_string(session)
            .ok()
            .and_then(|t| serde_json::from_str::<FixtureSession>(&t).ok());
        Ok(stored.is_none_or(|s| s.fixture_user != me))
    }

    /// Checks the login code: `Ok(None)` when it is right and no password is needed,
    /// `Ok(Some(hint))` when the 2FA password comes next. FLOOD_WAIT rules with op `sign_in` fire.
    pub(crate) fn check_code(&self, code: &str) -> Result<Option<Option<String>>, TelegramError> {
        let login = self.login_settings()?;
        self.with_state("sign_in", None, |_| {
            let Some(login) = login else {
                return Ok(None);
            };
            if code.trim() != login.code {
                return Err(TelegramError::BadCode);
            }
            Ok(login.password.map(|_| login.password_hint))
        })
    }

    /// Checks the 2FA password. FLOOD_WAIT rules with op `check_password` fire.
    pub(crate) fn check_password(&self, password: &str) -> Result<(), TelegramError> {
        let login = self.login_settings()?;
        self.with_state("check_password", None, |_| {
            match login.and_then(|l| l.password) {
                Some(expected) if expected != password => Err(TelegramError::BadPassword),
                _ => Ok(()),
            }
        })
    }

    /// Writes the session file that authorises this account (owner-only, like a real session),
    /// and the fixture's consumed FLOOD_WAIT rules back.
    pub(crate) fn save_session(&self, session: &Path) -> Result<TgUser, TelegramError> {
        let me = self.read(|d| d.me.clone())?;
        let json = serde_json::to_string(&FixtureSession {
            fixture_user: me.id,
        })
        .map_err(|e| TelegramError::Session {
            path: session.to_path_buf(),
            message: e.to_string(),
        })?;
        private_files::write(session, json + "\n").map_err(|e| TelegramError::Session {
            path: session.to_path_buf(),
            message: e.to_string(),
        })?;
        self.save()?;
        Ok(me)
    }

    /// Writes consumed FLOOD_WAIT rules back (a login that failed still consumed them).
    pub(crate) fn save_changes(&self) -> Result<(), TelegramError> {
        self.save()
    }

    /// The path the fixture is read from and written back to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_state<T>(
        &self,
        op: &str,
        chat: Option<i64>,
        f: impl FnOnce(&mut State) -> Result<T, TelegramError>,
    ) -> Result<T, TelegramError> {
        let mut state = self.state.lock().map_err(|_| TelegramError::Fixture {
            path: self.path.clone(),
            message: "state lock poisoned".into(),
        })?;
        let rule = state
            .data
            .flood_wait
            .iter_mut()
            .find(|r| r.op == op && r.times > 0 && (r.chat.is_none() || r.chat == chat));
        if let Some(rule) = rule {
            rule.times -= 1;
            let seconds = rule.seconds;
            state.data.flood_wait.retain(|r| r.times > 0);
            state.dirty = true;
            let operation = match chat {
                Some(c) => format!("{op} in chat {c}"),
                None => op.to_owned(),
            };
            return Err(TelegramError::FloodWait { operation, seconds });
        }
        f(&mut state)
    }

    /// Sleeps as the fixture's `slow` rules say for `op` (outside the state lock).
    async fn slow(&self, op: &str) -> Result<(), TelegramError> {
        let ms: u64 = self.read(|d| d.slow.iter().filter(|r| r.op == op).map(|r| r.ms).sum())?;
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(())
    }

    fn save(&self) -> Result<(), TelegramError> {
        let mut state = self.state.lock().map_err(|_| TelegramError::Fixture {
            path: self.path.clone(),
            message: "state lock poisoned".into(),
        })?;
        if !state.dirty {
            return Ok(());
        }
        let fixture_err = |e: &dyn std::fmt::Display| TelegramError::Fixture {
            path: self.path.clone(),
            message: format!("writing back: {e}"),
        };
        let json = serde_json::to_string_pretty(&state.data).map_err(|e| fixture_err(&e))?;
        // Temp file in the same directory, renamed: a crash never leaves half a file (and the
        // next run removes the temp file); owner-only like the account data it holds.
        private_files::write(&self.path, json + "\n").map_err(|e| fixture_err(&e))?;
        state.dirty = false;
        Ok(())
    }
}

/// Takes one firing of the first fault rule for `op` on `chat`/`message`, if any.
fn take_fault(data: &mut FixtureData, op: &str, chat: i64, message: i64) -> Option<FaultRule> {
    let rule = data.faults.iter_mut().find(|r| {
        r.op == op
            && r.times > 0
            && r.chat.is_none_or(|c| c == chat)
            && r.message.is_none_or(|m| m == message)
    })?;
    rule.times -= 1;
    let fired = rule.clone();
    data.faults.retain(|r| r.times > 0);
    Some(fired)
}

fn find_chat(data: &FixtureData, chat: i64) -> Result<&FixtureChat, TelegramError> {
    data.chats
        .iter()
        .find(|c| c.id == chat)
        .ok_or(TelegramError::ChatNotFound(chat))
}

fn find_chat_mut(data: &mut FixtureData, chat: i64) -> Result<&mut FixtureChat, TelegramError> {
    data.chats
        .iter_mut()
        .find(|c| c.id == chat)
        .ok_or(TelegramError::ChatNotFound(chat))
}

fn user_by_id(data: &FixtureData, id: i64) -> Option<TgUser> {
    if data.me.id == id {
        return Some(data.me.clone());
    }
    data.users.iter().find(|u| u.id == id).cloned()
}

fn rights_of(data: &FixtureData, chat: &FixtureChat) -> OurRights {
    let me = chat.participants.iter().find(|p| p.user == data.me.id);
    match me {
        Some(p) if p.role == Role::Creator => OurRights {
            role: Role::Creator,
            can_ban: true,
            can_change_info: true,
        },
        Some(p) if p.role == Role::Admin => {
            let r = p.rights.unwrap_or(FixtureRights {
                ban_users: true,
                change_info: true,
            });
            OurRights {
                role: Role::Admin,
                can_ban: r.ban_users,
                can_change_info: r.change_info,
            }
        }
        _ => OurRights {
            role: Role::Member,
            can_ban: false,
            can_change_info: false,
        },
    }
}

impl TelegramApi for FixtureBackend {
    fn me(&self) -> ApiFuture<'_, TgUser> {
        let r = self.with_state("me", None, |s| Ok(s.data.me.clone()));
        async move { r }.boxed()
    }

    fn dialogs(&self) -> ApiFuture<'_, Vec<Chat>> {
        let r = self.with_state("dialogs", None, |s| {
            Ok(s.data
                .chats
                .iter()
                .map(|c| Chat {
                    id: c.id,
                    title: c.title.clone(),
                    kind: c.kind,
                })
                .collect())
        });
        async move { r }.boxed()
    }

    fn participants(&self, chat: i64) -> ApiFuture<'_, Vec<Participant>> {
        let r = self.with_state("participants", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            Ok(c.participants
                .iter()
                .filter_map(|p| {
                    user_by_id(&s.data, p.user).map(|user| Participant { user, role: p.role })
                })
                .collect())
        });
        async move { r }.boxed()
    }

    fn my_rights(&self, chat: i64) -> ApiFuture<'_, OurRights> {
        let r = self.with_state("my_rights", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            Ok(rights_of(&s.data, c))
        });
        async move { r }.boxed()
    }

    fn resolve_user<'a>(&'a self, query: &'a str) -> ApiFuture<'a, Option<TgUser>> {
        let r = self.with_state("resolve_user", None, |s| {
            Ok(std::iter::once(&s.data.me)
                .chain(s.data.users.iter())
                .find(|u| u.matches(query))
                .cloned())
        });
        async move { r }.boxed()
    }

    fn remove_participant(&self, chat: i64, user: i64) -> ApiFuture<'_, ()> {
        let r = self.with_state("remove_participant", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            if !rights_of(&s.data, c).can_ban {
                return Err(TelegramError::Forbidden(format!(
                    "CHAT_ADMIN_REQUIRED: no right to remove members of chat {chat}"
                )));
            }
            let c = find_chat_mut(&mut s.data, chat)?;
            let before = c.participants.len();
            c.participants.retain(|p| p.user != user);
            if c.participants.len() == before {
                return Err(TelegramError::NotParticipant { user, chat });
            }
            s.dirty = true;
            Ok(())
        });
        async move { r }.boxed()
    }

    fn rename_chat<'a>(&'a self, chat: i64, title: &'a str) -> ApiFuture<'a, ()> {
        let r = self.with_state("rename_chat", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            if !rights_of(&s.data, c).can_change_info {
                return Err(TelegramError::Forbidden(format!(
                    "CHAT_ADMIN_REQUIRED: no right to change the title of chat {chat}"
                )));
            }
            let c = find_chat_mut(&mut s.data, chat)?;
            if c.title != title {
                c.title = title.to_owned();
                s.dirty = true;
            }
            Ok(())
        });
        async move { r }.boxed()
    }

    fn messages(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        let r = self.with_state("messages", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            let mut out: Vec<TgMessage> = c
                .messages
                .iter()
                .filter(|m| since.is_none_or(|t| m.date >= t) && until.is_none_or(|t| m.date < t))
                .map(|m| TgMessage {
                    id: m.id,
                    from: m.from.and_then(|f| user_by_id(&s.data, f)),
                    date: m.date,
                    text: m.text.clone(),
                    reply_to: m.reply_to,
                    media: m.media.clone(),
                })
                .collect();
            out.sort_by_key(|m| (m.date, m.id));
            Ok(out)
        });
        async move { r }.boxed()
    }

    fn history_page(
        &self,
        chat: i64,
        after_id: i64,
        limit: usize,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        async move {
            self.slow("history_page").await?;
            self.with_state("history_page", Some(chat), |s| {
                if take_fault(&mut s.data, "history_page", chat, after_id).is_some() {
                    s.dirty = true;
                    return Err(TelegramError::Network(format!(
                        "reading messages of chat {chat} after {after_id}: connection reset (fixture fault)"
                    )));
                }
                let limit = s.data.max_page.map_or(limit, |cap| limit.min(cap)).max(1);
                let c = find_chat(&s.data, chat)?;
                let mut page: Vec<&FixtureMessage> =
                    c.messages.iter().filter(|m| m.id > after_id).collect();
                page.sort_by_key(|m| m.id);
                page.truncate(limit);
                Ok(page
                    .into_iter()
                    .map(|m| TgMessage {
                        id: m.id,
                        from: m.from.and_then(|f| user_by_id(&s.data, f)),
                        date: m.date,
                        text: m.text.clone(),
                        reply_to: m.reply_to,
                        media: m.media.clone(),
                    })
                    .collect())
            })
        }
        .boxed()
    }

    fn history_start(&self, chat: i64, since: Timestamp) -> ApiFuture<'_, i64> {
        let r = self.with_state("history_start", Some(chat), |s| {
            let c = find_chat(&s.data, chat)?;
            Ok(c.messages
                .iter()
                .filter(|m| m.date < since)
                .map(|m| m.id)
                .max()
                .unwrap_or(0))
        });
        async move { r }.boxed()
    }

    fn download_media<'a>(
        &'a self,
        chat: i64,
        message: i64,
        sink: &'a mut dyn MediaSink,
    ) -> ApiFuture<'a, u64> {
        async move {
            self.slow("download_media").await?;
            let (size, cut) = self.with_state("download_media", Some(chat), |s| {
                let c = find_chat(&s.data, chat)?;
                let size = c
                    .messages
                    .iter()
                    .find(|m| m.id == message)
                    .and_then(|m| m.media.as_ref())
                    .and_then(|media| media.size)
                    .ok_or_else(|| TelegramError::Rpc {
                        code: 400,
                        name: "MEDIA_EMPTY".into(),
                    })?;
                let cut = take_fault(&mut s.data, "download_media", chat, message);
                if cut.is_some() {
                    s.dirty = true;
                }
                Ok((size, cut))
            })?;
            let bytes = fixture_media_bytes(chat, message, size);
            sink.restart()?;
            let end = match &cut {
                Some(rule) => rule.cut_after_bytes.unwrap_or(0).min(size),
                None => size,
            };
            let end = usize::try_from(end).unwrap_or(bytes.len());
            // In chunks, as Telegram sends them (upload.getFile parts).
            for chunk in bytes[..end].chunks(64 * 1024) {
                sink.write_chunk(chunk)?;
            }
            if cut.is_some() {
                return Err(TelegramError::Network(format!(
                    "downloading the media of message {message} in chat {chat}: connection cut after {end} of {size} bytes (fixture fault)"
                )));
            }
            Ok(size)
        }
        .boxed()
    }

    fn finish(&self) -> ApiFuture<'_, ()> {
        let r = self.save();
        async move { r }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [{"id": 6, "username": "nftaddie", "first_name": "Addie", "last_name": null}],
 "chats": [{"id": -1001, "title": "iBTC <> Acme", "kind": "supergroup",
            "participants": [{"user": 1000, "role": "creator"}, {"user": 6, "role": "member"}],
            "messages": [{"id": 1, "from": 6, "date": "2026-11-18T09:00:00Z", "text": "hi", "reply_to": null}]}],
 "flood_wait": [{"op": "rename_chat", "seconds": 5}]}"#;

    fn open_sample() -> (tempfile::TempDir, FixtureBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tg.json");
        std::fs::write(&path, SAMPLE).expect("write");
        let backend = FixtureBackend::open(path).expect("open");
        (dir, backend)
    }

    #[tokio::test]
    async fn remove_is_written_back_on_finish_only() {
        let (_dir, api) = open_sample();
        api.remove_participant(-1001, 6).await.expect("remove");
        let on_disk = std::fs::read_to_string(api.path()).expect("read");
        assert!(on_disk.contains("\"user\": 6"), "not written before finish");
        api.finish().await.expect("finish");
        let reopened = FixtureBackend::open(api.path().to_owned()).expect("reopen");
        let people = reopened.participants(-1001).await.expect("participants");
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].user.id, 1000);
        assert!(matches!(
            reopened.remove_participant(-1001, 6).await,
            Err(TelegramError::NotParticipant {
                user: 6,
                chat: -1001
            })
        ));
    }

    #[tokio::test]
    async fn injected_flood_wait_fires_once() {
        let (_dir, api) = open_sample();
        let err = api
            .rename_chat(-1001, "cBTC <> Acme")
            .await
            .expect_err("flood");
        assert_eq!(err.flood_wait_seconds(), Some(5));
        api.rename_chat(-1001, "cBTC <> Acme")
            .await
            .expect("second try works");
        assert_eq!(
            api.dialogs().await.expect("dialogs")[0].title,
            "cBTC <> Acme"
        );
    }

    #[test]
    fn unknown_participant_is_a_precise_error() {
        let bad = SAMPLE.replace("{\"user\": 6,", "{\"user\": 7,");
        let err = FixtureBackend::parse(&bad).expect_err("bad");
        assert!(err.contains("participant 7"), "{err}");
        let typo = SAMPLE.replace("\"kind\": \"supergroup\"", "\"kind\": \"megagroup\"");
        let err = FixtureBackend::parse(&typo).expect_err("bad kind");
        assert!(err.contains("chats[0].kind"), "{err}");
    }

    const PAGED: &str = r#"{"me": {"id": 1000},
 "max_page": 2,
 "faults": [{"op": "download_media", "message": 2, "cut_after_bytes": 10}],
 "flood_wait": [{"op": "download_media", "seconds": 0, "chat": -1001}],
 "chats": [{"id": -1001, "title": "t", "kind": "supergroup",
            "messages": [{"id": 3, "from": null, "date": "2026-11-18T09:02:00Z", "text": "c"},
                         {"id": 1, "from": null, "date": "2026-11-18T09:00:00Z", "text": "a"},
                         {"id": 2, "from": null, "date": "2026-11-18T09:01:00Z", "text": "b",
                          "media": {"kind": "photo", "size": 100000}}]}]}"#;

    #[derive(Default)]
    struct VecSink {
        bytes: Vec<u8>,
        restarts: u32,
    }

    impl MediaSink for VecSink {
        fn restart(&mut self) -> std::io::Result<()> {
            self.bytes.clear();
            self.restarts += 1;
            Ok(())
        }
        fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
            self.bytes.extend_from_slice(chunk);
            Ok(())
        }
    }

    #[tokio::test]
    async fn history_is_read_forwards_in_pages_capped_by_max_page() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tg.json");
        std::fs::write(&path, PAGED).expect("write");
        let api = FixtureBackend::open(path).expect("open");
        let ids = |page: Vec<TgMessage>| page.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(api.history_page(-1001, 0, 100).await.expect("p1")),
            [1, 2]
        );
        let page = api.history_page(-1001, 2, 100).await.expect("p2");
        assert_eq!(ids(page), [3]);
        assert!(
            api.history_page(-1001, 3, 100)
                .await
                .expect("end")
                .is_empty()
        );
        let media = api.history_page(-1001, 1, 1).await.expect("one")[0]
            .media
            .clone();
        assert_eq!(media.and_then(|m| m.size), Some(100000));
    }

    #[tokio::test]
    async fn a_cut_download_fails_after_part_and_the_guard_restarts_the_sink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tg.json");
        std::fs::write(&path, PAGED).expect("write");
        let api: Box<dyn TelegramApi> = Box::new(FixtureBackend::open(path).expect("open"));
        // FLOOD_WAIT first (through the guard: waited out, then the sink restarted), then the
        // injected cut: 10 bytes and a network error.
        let guard = crate::FloodWaitGuard::new(api, crate::FloodWaitPolicy::default());
        let mut sink = VecSink::default();
        let err = guard
            .download_media(-1001, 2, &mut sink)
            .await
            .expect_err("cut");
        assert!(matches!(err, TelegramError::Network(_)), "{err:?}");
        assert_eq!(sink.bytes, fixture_media_bytes(-1001, 2, 10));
        let n = guard
            .download_media(-1001, 2, &mut sink)
            .await
            .expect("whole");
        assert_eq!(n, 100000);
        assert_eq!(sink.bytes, fixture_media_bytes(-1001, 2, 100000));
        assert_eq!(sink.restarts, 2);
        assert_ne!(
            fixture_media_bytes(-1001, 2, 64),
            fixture_media_bytes(-1001, 3, 64)
        );
    }
}
