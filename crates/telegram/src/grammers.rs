//! The real backend: a Telegram user account over MTProto through grammers. No Telegram server is
//! reachable from tests, so this module is kept small; what can be tested offline is the mapping of
//! grammers errors and raw types to ours, and the session file. The session (auth keys) is stored
//! by `FileSession` as JSON with mode 0600, not through grammers' SQLite storage, whose bundled
//! libsql SQLite would clash with rusqlite's.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use grammers_client::peer::{self, Peer};
use grammers_client::{Client, InvocationError, SenderPool, SignInError, tl};
use grammers_session::storages::{MemorySession, MemorySessionError};
use grammers_session::types::{DcOption, PeerId, PeerInfo, PeerRef, UpdateState, UpdatesState};
use grammers_session::{BoxFuture, Session};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::{ApiFuture, MediaSink, TelegramApi};
use crate::error::TelegramError;
use crate::types::{
    Chat, ChatKind, MediaKind, OurRights, Participant, Role, TgMedia, TgMessage, TgUser,
};

/// Login settings from the environment. `Debug` hides the API hash and phone number.
#[derive(Clone)]
pub struct GrammersSettings {
    pub api_id: i32,
    api_hash: String,
    phone: Option<String>,
    pub session_path: PathBuf,
}

impl fmt::Debug for GrammersSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrammersSettings")
            .field("api_id", &self.api_id)
            .field("api_hash", &"<redacted>")
            .field("phone", &self.phone.as_ref().map(|_| "<redacted>"))
            .field("session_path", &self.session_path)
            .finish()
    }
}

impl GrammersSettings {
    /// Reads `TELEGRAM_API_ID`, `TELEGRAM_API_HASH`, `TELEGRAM_PHONE` (needed only to log in) and
    /// the session file ([`crate::session_path`]: `TELEGRAM_SESSION`, else the per-user state
    /// directory).
    pub fn from_env() -> Result<Self, TelegramError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let missing = |name: &str| {
            TelegramError::Config {
            message: format!("{name} is not set"),
            hint: "set TELEGRAM_API_ID and TELEGRAM_API_HASH (from my.telegram.org) in the environment or .env, or TELEGRAM_FIXTURE=file.json for a simulated account".into(),
        }
        };
        let api_id = var("TELEGRAM_API_ID").ok_or_else(|| missing("TELEGRAM_API_ID"))?;
        let api_id = api_id.trim().parse().map_err(|_| TelegramError::Config {
            message: "TELEGRAM_API_ID is not a number".into(),
            hint: "copy the numeric api_id from my.telegram.org".into(),
        })?;
        let api_hash = var("TELEGRAM_API_HASH").ok_or_else(|| missing("TELEGRAM_API_HASH"))?;
        let session_path = crate::session_path::session_path_logged()?;
        Ok(Self {
            api_id,
            api_hash,
            phone: var("TELEGRAM_PHONE"),
            session_path,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Session file

#[derive(Serialize, Deserialize)]
struct SessionFile {
    home_dc: i32,
    dc_options: Vec<StoredDc>,
}

#[derive(Serialize, Deserialize)]
struct StoredDc {
    id: i32,
    ipv4: String,
    ipv6: String,
    /// Hex of the 256-byte permanent auth key; this is the login secret, hence the 0600 file.
    auth_key: Option<String>,
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode_key(s: &str) -> Option<[u8; 256]> {
    if s.len() != 512 {
        return None;
    }
    let mut out = [0u8; 256];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A grammers `Session` whose datacenter options and auth keys persist in a JSON file (mode 0600);
/// the peer cache and update state stay in memory (they are rebuilt from the dialog list each run).
pub struct FileSession {
    path: PathBuf,
    memory: MemorySession,
    persisted: Mutex<(i32, HashMap<i32, DcOption>)>,
}

/// Errors of `FileSession` (reading, writing or a poisoned lock).
#[derive(Debug, thiserror::Error)]
pub enum FileSessionError {
    #[error("session file {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("session state lock poisoned")]
    Poisoned,
    #[error(transparent)]
    Memory(#[from] MemorySessionError),
}

impl FileSession {
    /// Opens the session file, or starts a fresh session (written on first change) if there is none.
    pub fn open(path: &Path) -> Result<Self, FileSessionError> {
        let file_err = |message: String| FileSessionError::File {
            path: path.to_owned(),
            message,
        };
        let memory = MemorySession::default();
        let mut home = memory.home_dc_id()?;
        let mut dcs = HashMap::new();
        for id in 1..=5 {
            if let Some(dc) = memory.dc_option(id)? {
                dcs.insert(id, dc);
            }
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file: SessionFile = serde_json::from_str(&text)
                    .map_err(|e| file_err(format!("unreadable: {e}")))?;
                home = file.home_dc;
                for d in file.dc_options {
                    let dc =
                        DcOption {
                            id: d.id,
                            ipv4: d
                                .ipv4
                                .parse()
                                .map_err(|_| file_err(format!("bad ipv4 of dc {}", d.id)))?,
                            ipv6: d
                                .ipv6
                                .parse()
                                .map_err(|_| file_err(format!("bad ipv6 of dc {}", d.id)))?,
                            auth_key: match d.auth_key {
                                Some(k) => Some(hex_decode_key(&k).ok_or_else(|| {
                                    file_err(format!("bad auth key of dc {}", d.id))
                                })?),
                                None => None,
                            },
                        };
                    dcs.insert(dc.id, dc);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(e.to_string())),
        }
        Ok(Self {
            path: path.to_owned(),
            memory,
            persisted: Mutex::new((home, dcs)),
        })
    }

    /// Whether any datacenter holds an auth key (a login happened, or at least began).
    pub fn has_auth_key(&self) -> bool {
        self.persisted
            .lock()
            .map(|p| p.1.values().any(|d| d.auth_key.is_some()))
            .unwrap_or(false)
    }

    fn persist(&self) -> Result<(), FileSessionError> {
        let file_err = |message: String| FileSessionError::File {
            path: self.path.clone(),
            message,
        };
        let json = {
            let p = self
                .persisted
                .lock()
                .map_err(|_| FileSessionError::Poisoned)?;
            let mut dc_options: Vec<StoredDc> =
                p.1.values()
                    .map(|d| StoredDc {
                        id: d.id,
                        ipv4: d.ipv4.to_string(),
                        ipv6: d.ipv6.to_string(),
                        auth_key: d.auth_key.map(|k| hex_encode(&k)),
                    })
                    .collect();
            dc_options.sort_by_key(|d| d.id);
            serde_json::to_string_pretty(&SessionFile {
                home_dc: p.0,
                dc_options,
            })
            .map_err(|e| file_err(e.to_string()))?
        };
        write_private_file(&self.path, json.as_bytes()).map_err(|e| file_err(e.to_string()))
    }
}

/// Writes `bytes` to `path` atomically, created 0600 (in directories created 0700), so the key is
/// never readable by others, even briefly.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    private_files::write(path, bytes)
}

impl Session for FileSession {
    type Error = FileSessionError;

    fn home_dc_id(&self) -> Result<i32, Self::Error> {
        Ok(self
            .persisted
            .lock()
            .map_err(|_| FileSessionError::Poisoned)?
            .0)
    }

    fn set_home_dc_id(&self, dc_id: i32) -> BoxFuture<'_, Result<(), Self::Error>> {
        Box::pin(async move {
            self.persisted
                .lock()
                .map_err(|_| FileSessionError::Poisoned)?
                .0 = dc_id;
            self.persist()
        })
    }

    fn dc_option(&self, dc_id: i32) -> Result<Option<DcOption>, Self::Error> {
        Ok(self
            .persisted
            .lock()
            .map_err(|_| FileSessionError::Poisoned)?
            .1
            .get(&dc_id)
            .cloned())
    }

    fn set_dc_option(&self, dc_option: &DcOption) -> BoxFuture<'_, Result<(), Self::Error>> {
        let dc = dc_option.clone();
        Box::pin(async move {
            self.persisted
                .lock()
                .map_err(|_| FileSessionError::Poisoned)?
                .1
                .insert(dc.id, dc);
            self.persist()
        })
    }

    fn peer(&self, peer: PeerId) -> BoxFuture<'_, Result<Option<PeerInfo>, Self::Error>> {
        Box::pin(async move { Ok(self.memory.peer(peer).await?) })
    }

    fn cache_peer(&self, peer: PeerInfo) -> BoxFuture<'_, Result<(), Self::Error>> {
        Box::pin(async move { Ok(self.memory.cache_peer(peer).await?) })
    }

    fn updates_state(&self) -> BoxFuture<'_, Result<UpdatesState, Self::Error>> {
        Box::pin(async move { Ok(self.memory.updates_state().await?) })
    }

    fn set_update_state(&self, update: UpdateState) -> BoxFuture<'_, Result<(), Self::Error>> {
        Box::pin(async move { Ok(self.memory.set_update_state(update).await?) })
    }
}

// ---------------------------------------------------------------------------------------------
// Mapping of grammers types and errors to ours (unit-tested below)

/// Maps a grammers invocation error of `operation` to our error type.
pub fn map_invocation_error(operation: &str, err: &InvocationError) -> TelegramError {
    match err {
        InvocationError::Rpc(rpc) => match rpc.name.as_str() {
            // FLOOD_WAIT_X, FLOOD_PREMIUM_WAIT_X and SLOWMODE_WAIT_X all mean "not done, retry after X".
            "FLOOD_WAIT" | "FLOOD_PREMIUM_WAIT" | "SLOWMODE_WAIT" => TelegramError::FloodWait {
                operation: operation.to_owned(),
                seconds: u64::from(rpc.value.unwrap_or(1)),
            },
            "AUTH_KEY_UNREGISTERED"
            | "SESSION_REVOKED"
            | "SESSION_EXPIRED"
            | "USER_DEACTIVATED" => TelegramError::NotLoggedIn,
            "CHAT_ADMIN_REQUIRED"
            | "CHAT_WRITE_FORBIDDEN"
            | "USER_ADMIN_INVALID"
            | "RIGHT_FORBIDDEN"
            | "CHAT_FORBIDDEN"
            | "CHANNEL_PRIVATE" => TelegramError::Forbidden(format!("{} ({operation})", rpc.name)),
            _ => TelegramError::Rpc {
                code: rpc.code,
                name: rpc.name.clone(),
            },
        },
        InvocationError::Io(e) => TelegramError::Network(format!("{operation}: {e}")),
        other => TelegramError::Network(format!("{operation}: {other}")),
    }
}

/// Chat kind of a dialog peer; `None` for private chats with users.
pub fn chat_kind(peer: &Peer) -> Option<ChatKind> {
    match peer {
        Peer::User(_) => None,
        Peer::Group(g) if g.is_megagroup() => Some(ChatKind::Supergroup),
        Peer::Group(_) => Some(ChatKind::Group),
        Peer::Channel(_) => Some(ChatKind::Channel),
        Peer::Community(_) => None,
    }
}

/// Our rights from the flags Telegram puts on a chat object for the logged-in account.
pub fn rights_from_raw(
    creator: bool,
    admin_rights: Option<&tl::enums::ChatAdminRights>,
) -> OurRights {
    if creator {
        return OurRights {
            role: Role::Creator,
            can_ban: true,
            can_change_info: true,
        };
    }
    match admin_rights {
        Some(tl::enums::ChatAdminRights::Rights(r)) => OurRights {
            role: Role::Admin,
            can_ban: r.ban_users,
            can_change_info: r.change_info,
        },
        None => OurRights {
            role: Role::Member,
            can_ban: false,
            can_change_info: false,
        },
    }
}

/// Our rights in a dialog peer.
fn rights_of_peer(peer: &Peer) -> OurRights {
    match peer {
        Peer::Channel(c) => rights_from_raw(c.raw.creator, c.raw.admin_rights.as_ref()),
        Peer::Group(g) => match &g.raw {
            tl::enums::Chat::Chat(c) => rights_from_raw(c.creator, c.admin_rights.as_ref()),
            tl::enums::Chat::Channel(c) => rights_from_raw(c.creator, c.admin_rights.as_ref()),
            _ => rights_from_raw(false, None),
        },
        _ => rights_from_raw(false, None),
    }
}

/// Role of a participant; `None` for banned users and those who left (not members).
pub fn map_role(role: &peer::Role) -> Option<Role> {
    match role {
        peer::Role::Creator(_) => Some(Role::Creator),
        peer::Role::Admin(_) => Some(Role::Admin),
        peer::Role::User(_) => Some(Role::Member),
        _ => None,
    }
}

/// Our user record from grammers' fields.
pub fn map_user(
    id: i64,
    username: Option<&str>,
    first: Option<&str>,
    last: Option<&str>,
) -> TgUser {
    let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    TgUser {
        id,
        username: own(username),
        first_name: own(first),
        last_name: own(last),
    }
}

fn user_of(u: &grammers_client::peer::User) -> TgUser {
    map_user(
        u.id().bot_api_dialog_id_unchecked(),
        u.username(),
        u.first_name(),
        u.last_name(),
    )
}

// ---------------------------------------------------------------------------------------------
// Login and the backend

fn connect_client(settings: &GrammersSettings, session: FileSession) -> Client {
    let SenderPool { runner, handle, .. } = SenderPool::new(Arc::new(session), settings.api_id);
    tokio::spawn(runner.run());
    Client::new(handle)
}

/// The grammers side of [`crate::login::LoginFlow`]: a client on the session file, and the token
/// of the step in progress. The session (auth keys) is written by `FileSession` as it changes.
pub(crate) struct GrammersLogin {
    settings: GrammersSettings,
    client: Client,
    /// Whether the session file held an auth key; without one nobody is logged in, and asking
    /// Telegram (a network round trip) is not needed to know it.
    had_key: bool,
    login_token: Option<grammers_client::client::LoginToken>,
    password_token: Option<grammers_client::client::PasswordToken>,
}

/// What one login step led to, for [`crate::login::LoginFlow`].
pub(crate) enum GrammersStep {
    Done(TgUser),
    NeedPassword(Option<String>),
}

impl GrammersLogin {
    pub(crate) fn open(settings: GrammersSettings) -> Result<Self, TelegramError> {
        let session = FileSession::open(&settings.session_path).map_err(session_err(&settings))?;
        let had_key = session.has_auth_key();
        let client = connect_client(&settings, session);
        Ok(Self {
            settings,
            client,
            had_key,
            login_token: None,
            password_token: None,
        })
    }

    pub(crate) fn configured_phone(&self) -> Option<&str> {
        self.settings.phone.as_deref()
    }

    /// The account when the session is already authorised.
    pub(crate) async fn authorised_user(&self) -> Result<Option<TgUser>, TelegramError> {
        let op = "checking the session";
        if !self.had_key {
            return Ok(None);
        }
        if !self
            .client
            .is_authorized()
            .await
            .map_err(|e| map_invocation_error(op, &e))?
        {
            return Ok(None);
        }
        let me = self
            .client
            .get_me()
            .await
            .map_err(|e| map_invocation_error(op, &e))?;
        Ok(Some(user_of(&me)))
    }

    /// Asks Telegram to send the login code to the account's devices.
    pub(crate) async fn request_code(&mut self, phone: &str) -> Result<(), TelegramError> {
        let token = self
            .client
            .request_login_code(phone, &self.settings.api_hash)
            .await
            .map_err(|e| map_invocation_error("requesting the login code", &e))?;
        self.login_token = Some(token);
        Ok(())
    }

    pub(crate) async fn submit_code(&mut self, code: &str) -> Result<GrammersStep, TelegramError> {
        let token = self
            .login_token
            .as_ref()
            .ok_or_else(|| TelegramError::LoginOrder("no login code was requested".into()))?;
        match self.client.sign_in(token, code.trim()).await {
            Ok(user) => {
                self.had_key = true;
                Ok(GrammersStep::Done(user_of(&user)))
            }
            Err(SignInError::PasswordRequired(password_token)) => {
                let hint = password_token.hint().map(str::to_owned);
                self.password_token = Some(password_token);
                Ok(GrammersStep::NeedPassword(hint))
            }
            Err(e) => Err(sign_in_error("signing in", e)),
        }
    }

    pub(crate) async fn submit_password(
        &mut self,
        password: &str,
    ) -> Result<TgUser, TelegramError> {
        let token = self
            .password_token
            .take()
            .ok_or_else(|| TelegramError::LoginOrder("no password was asked for".into()))?;
        match self.client.check_password(token, password).await {
            Ok(user) => {
                self.had_key = true;
                Ok(user_of(&user))
            }
            Err(SignInError::InvalidPassword(token)) => {
                // Telegram hands a fresh token back, so the next try needs no new code.
                self.password_token = Some(token);
                Err(TelegramError::BadPassword)
            }
            Err(e) => Err(sign_in_error("checking the password", e)),
        }
    }
}

fn sign_in_error(operation: &str, e: SignInError) -> TelegramError {
    match e {
        SignInError::InvalidCode => TelegramError::BadCode,
        SignInError::InvalidPassword(_) => TelegramError::BadPassword,
        SignInError::Other(e) => match map_invocation_error(operation, &e) {
            TelegramError::Rpc { name, .. }
                if matches!(
                    name.as_str(),
                    "PHONE_CODE_INVALID" | "PHONE_CODE_EXPIRED" | "PHONE_CODE_EMPTY"
                ) =>
            {
                TelegramError::BadCode
            }
            other => other,
        },
        other => TelegramError::Forbidden(format!("sign-in failed: {other}")),
    }
}

fn session_err(settings: &GrammersSettings) -> impl Fn(FileSessionError) -> TelegramError + '_ {
    move |e| TelegramError::Session {
        path: settings.session_path.clone(),
        message: e.to_string(),
    }
}

/// The grammers-backed `TelegramApi`. Dialog peers are cached on `dialogs()` since every other
/// call needs their access hashes.
pub struct GrammersBackend {
    client: Client,
    peers: Mutex<HashMap<i64, Peer>>,
}

impl GrammersBackend {
    /// Connects with a stored session; `NotLoggedIn` when there is none or it was revoked.
    pub async fn connect(settings: &GrammersSettings) -> Result<Self, TelegramError> {
        if !settings.session_path.exists() {
            return Err(TelegramError::NotLoggedIn);
        }
        let session = FileSession::open(&settings.session_path).map_err(session_err(settings))?;
        if !session.has_auth_key() {
            return Err(TelegramError::NotLoggedIn);
        }
        let client = connect_client(settings, session);
        let authorized = client
            .is_authorized()
            .await
            .map_err(|e| map_invocation_error("checking the session", &e))?;
        if !authorized {
            return Err(TelegramError::NotLoggedIn);
        }
        Ok(Self {
            client,
            peers: Mutex::new(HashMap::new()),
        })
    }

    async fn load_dialogs(&self) -> Result<Vec<Chat>, TelegramError> {
        let op = "listing dialogs";
        let mut iter = self.client.iter_dialogs();
        let mut chats = Vec::new();
        let mut peers = HashMap::new();
        while let Some(dialog) = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(op, &e))?
        {
            let peer = dialog.peer;
            if let Some(kind) = chat_kind(&peer) {
                let id = peer.id().bot_api_dialog_id_unchecked();
                chats.push(Chat {
                    id,
                    title: peer.name().unwrap_or_default().to_owned(),
                    kind,
                });
                peers.insert(id, peer);
            }
        }
        if let Ok(mut cache) = self.peers.lock() {
            *cache = peers;
        }
        Ok(chats)
    }

    async fn peer(&self, chat: i64) -> Result<Peer, TelegramError> {
        let cached = |s: &Self| s.peers.lock().ok().and_then(|p| p.get(&chat).cloned());
        if let Some(p) = cached(self) {
            return Ok(p);
        }
        self.load_dialogs().await?;
        cached(self).ok_or(TelegramError::ChatNotFound(chat))
    }

    async fn peer_ref(&self, chat: i64) -> Result<PeerRef, TelegramError> {
        let peer = self.peer(chat).await?;
        peer.to_ref()
            .await
            .map_err(|e| TelegramError::Network(format!("resolving chat {chat}: {e}")))?
            .ok_or(TelegramError::ChatNotFound(chat))
    }

    async fn list_participants(&self, chat: i64) -> Result<Vec<Participant>, TelegramError> {
        let op = format!("listing participants of chat {chat}");
        let mut iter = self.client.iter_participants(self.peer_ref(chat).await?);
        let mut out = Vec::new();
        while let Some(p) = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?
        {
            if let Some(role) = map_role(&p.role) {
                out.push(Participant {
                    user: user_of(&p.user),
                    role,
                });
            }
        }
        Ok(out)
    }

    async fn find_user(&self, query: &str) -> Result<Option<TgUser>, TelegramError> {
        let q = query.trim();
        if let Ok(id) = q.parse::<i64>() {
            // A bare id can only be resolved through a peer we have seen: search our groups.
            for chat in self
                .peers
                .lock()
                .map(|p| p.keys().copied().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if let Some(p) = self
                    .list_participants(chat)
                    .await?
                    .into_iter()
                    .find(|p| p.user.id == id)
                {
                    return Ok(Some(p.user));
                }
            }
            return Ok(None);
        }
        let name = q.strip_prefix('@').unwrap_or(q);
        let op = format!("resolving @{name}");
        match self.client.resolve_username(name).await {
            Ok(Some(Peer::User(u))) => Ok(Some(user_of(&u))),
            Ok(_) => Ok(None),
            Err(InvocationError::Rpc(r))
                if r.name == "USERNAME_NOT_OCCUPIED" || r.name == "USERNAME_INVALID" =>
            {
                Ok(None)
            }
            Err(e) => Err(map_invocation_error(&op, &e)),
        }
    }

    async fn kick(&self, chat: i64, user: i64) -> Result<(), TelegramError> {
        let op = format!("removing user {user} from chat {chat}");
        let chat_ref = self.peer_ref(chat).await?;
        // The participant list gives us the user's access hash, which the kick call needs.
        let mut iter = self.client.iter_participants(chat_ref);
        let mut target = None;
        while let Some(p) = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?
        {
            if p.user.id().bot_api_dialog_id_unchecked() == user && map_role(&p.role).is_some() {
                target = Some(p.user);
                break;
            }
        }
        let target = target.ok_or(TelegramError::NotParticipant { user, chat })?;
        let user_ref = target
            .to_ref()
            .await
            .map_err(|e| TelegramError::Network(format!("{op}: {e}")))?
            .ok_or(TelegramError::NotParticipant { user, chat })?;
        self.client
            .kick_participant(chat_ref, user_ref)
            .await
            .map_err(|e| map_invocation_error(&op, &e))
    }

    async fn retitle(&self, chat: i64, title: &str) -> Result<(), TelegramError> {
        let op = format!("renaming chat {chat}");
        let chat_ref = self.peer_ref(chat).await?;
        let result = match self.peer(chat).await? {
            Peer::Group(g) if !g.is_megagroup() => self
                .client
                .invoke(&tl::functions::messages::EditChatTitle {
                    chat_id: chat_ref.into(),
                    title: title.to_owned(),
                })
                .await
                .map(drop),
            _ => self
                .client
                .invoke(&tl::functions::channels::EditTitle {
                    channel: chat_ref.into(),
                    title: title.to_owned(),
                })
                .await
                .map(drop),
        };
        match result {
            Err(InvocationError::Rpc(r)) if r.name == "CHAT_NOT_MODIFIED" => Ok(()),
            other => other.map_err(|e| map_invocation_error(&op, &e)),
        }
    }

    async fn history(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<TgMessage>, TelegramError> {
        let op = format!("reading messages of chat {chat}");
        let mut iter = self.client.iter_messages(self.peer_ref(chat).await?);
        if let Some(until) = until {
            iter = iter.offset_date(i32::try_from(until.as_second()).unwrap_or(i32::MAX));
        }
        let mut out = Vec::new();
        // Newest first from Telegram: stop at the first message older than `since`.
        while let Some(m) = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?
        {
            // grammers dates are jiff timestamps already, like ours.
            let date = m.date();
            if since.is_some_and(|s| date < s) {
                break;
            }
            out.push(message_of(&m));
        }
        out.reverse();
        Ok(out)
    }

    async fn history_forward(
        &self,
        chat: i64,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<TgMessage>, TelegramError> {
        let op = format!("reading messages of chat {chat} after {after_id}");
        // Reverse mode asks messages.getHistory for ids above `offset_id` (min_id), oldest first.
        let mut iter = self
            .client
            .iter_messages(self.peer_ref(chat).await?)
            .reverse(true)
            .offset_id(i32::try_from(after_id).unwrap_or(i32::MAX))
            .limit(limit);
        let mut out = Vec::new();
        while let Some(m) = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?
        {
            if i64::from(m.id()) > after_id {
                out.push(message_of(&m));
            }
        }
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    async fn newest_before(&self, chat: i64, since: Timestamp) -> Result<i64, TelegramError> {
        let op = format!("finding where the history of chat {chat} reaches {since}");
        // messages.getHistory with offset_date: the newest messages dated before it, one asked for.
        let mut iter = self
            .client
            .iter_messages(self.peer_ref(chat).await?)
            .offset_date(i32::try_from(since.as_second()).unwrap_or(i32::MAX))
            .limit(1);
        let first = iter
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?;
        Ok(first
            .filter(|m| m.date() < since)
            .map_or(0, |m| i64::from(m.id())))
    }

    async fn download(
        &self,
        chat: i64,
        message: i64,
        sink: &mut dyn MediaSink,
    ) -> Result<u64, TelegramError> {
        let op = format!("downloading the media of message {message} in chat {chat}");
        let id = i32::try_from(message).map_err(|_| TelegramError::Rpc {
            code: 400,
            name: "MESSAGE_ID_INVALID".into(),
        })?;
        // The file reference in a message expires; the message is fetched again for a fresh one.
        let found = self
            .client
            .get_messages_by_id(self.peer_ref(chat).await?, &[id])
            .await
            .map_err(|e| map_invocation_error(&op, &e))?;
        let media = found
            .into_iter()
            .flatten()
            .next()
            .and_then(|m| m.media())
            .ok_or_else(|| TelegramError::Rpc {
                code: 400,
                name: "MEDIA_EMPTY".into(),
            })?;
        sink.restart()?;
        let mut written: u64 = 0;
        let mut download = self.client.iter_download(&media);
        while let Some(chunk) = download
            .next()
            .await
            .map_err(|e| map_invocation_error(&op, &e))?
        {
            sink.write_chunk(&chunk)?;
            written += chunk.len() as u64;
        }
        Ok(written)
    }
}

/// Our message record from a grammers message (sender only when it is a user).
fn message_of(m: &grammers_client::message::Message) -> TgMessage {
    let from = match m.sender() {
        Some(Peer::User(u)) => Some(user_of(u)),
        _ => None,
    };
    TgMessage {
        id: i64::from(m.id()),
        from,
        // grammers dates are jiff timestamps already, like ours.
        date: m.date(),
        text: m.text().to_owned(),
        reply_to: m.reply_to_message_id().map(i64::from),
        media: m.media().and_then(|media| media_of(&media)),
    }
}

/// Media metadata of the kinds an export downloads; polls, locations, contacts... have no file.
fn media_of(media: &grammers_client::media::Media) -> Option<TgMedia> {
    use grammers_client::media::Media;
    let dims = |w: i32, h: i32| (u32::try_from(w).ok(), u32::try_from(h).ok());
    match media {
        Media::Photo(p) => Some(TgMedia {
            kind: MediaKind::Photo,
            file_name: None,
            mime_type: Some("image/jpeg".into()),
            size: p.size().map(|s| s as u64),
            width: None,
            height: None,
            duration_seconds: None,
        }),
        Media::Sticker(s) => Some(document_media(&s.document, MediaKind::Sticker, dims)),
        Media::Document(d) => {
            let kind = if d.raw.voice {
                MediaKind::Voice
            } else if d.raw.round {
                MediaKind::VideoNote
            } else if d.is_animated() {
                MediaKind::Animation
            } else if d.raw.video || d.mime_type().is_some_and(|m| m.starts_with("video/")) {
                MediaKind::Video
            } else if d.mime_type().is_some_and(|m| m.starts_with("audio/")) {
                MediaKind::Audio
            } else {
                MediaKind::Document
            };
            Some(document_media(d, kind, dims))
        }
        _ => None,
    }
}

fn document_media(
    d: &grammers_client::media::Document,
    kind: MediaKind,
    dims: impl Fn(i32, i32) -> (Option<u32>, Option<u32>),
) -> TgMedia {
    let (width, height) = d.resolution().map_or((None, None), |(w, h)| dims(w, h));
    TgMedia {
        kind,
        file_name: d.name().filter(|n| !n.is_empty()).map(str::to_owned),
        mime_type: d.mime_type().map(str::to_owned),
        size: d.size().map(|s| s as u64),
        width,
        height,
        duration_seconds: d.duration().map(|s| s.round().max(0.0) as u32),
    }
}

impl TelegramApi for GrammersBackend {
    fn me(&self) -> ApiFuture<'_, TgUser> {
        async move {
            let me = self
                .client
                .get_me()
                .await
                .map_err(|e| map_invocation_error("reading our account", &e))?;
            Ok(user_of(&me))
        }
        .boxed()
    }
    fn dialogs(&self) -> ApiFuture<'_, Vec<Chat>> {
        self.load_dialogs().boxed()
    }
    fn participants(&self, chat: i64) -> ApiFuture<'_, Vec<Participant>> {
        self.list_participants(chat).boxed()
    }
    fn my_rights(&self, chat: i64) -> ApiFuture<'_, OurRights> {
        async move { Ok(rights_of_peer(&self.peer(chat).await?)) }.boxed()
    }
    fn resolve_user<'a>(&'a self, query: &'a str) -> ApiFuture<'a, Option<TgUser>> {
        self.find_user(query).boxed()
    }
    fn remove_participant(&self, chat: i64, user: i64) -> ApiFuture<'_, ()> {
        self.kick(chat, user).boxed()
    }
    fn rename_chat<'a>(&'a self, chat: i64, title: &'a str) -> ApiFuture<'a, ()> {
        self.retitle(chat, title).boxed()
    }
    fn messages(
        &self,
        chat: i64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        self.history(chat, since, until).boxed()
    }
    fn history_page(
        &self,
        chat: i64,
        after_id: i64,
        limit: usize,
    ) -> ApiFuture<'_, Vec<TgMessage>> {
        self.history_forward(chat, after_id, limit).boxed()
    }
    fn history_start(&self, chat: i64, since: Timestamp) -> ApiFuture<'_, i64> {
        self.newest_before(chat, since).boxed()
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
        // The session persists itself as it changes; nothing is buffered here.
        async { Ok(()) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_client::sender::RpcError;

    fn rpc(code: i32, message: &str) -> InvocationError {
        InvocationError::Rpc(RpcError::from(tl::types::RpcError {
            error_code: code,
            error_message: message.into(),
        }))
    }

    #[test]
    fn flood_wait_maps_with_its_seconds() {
        let e = map_invocation_error("renaming chat -1001", &rpc(420, "FLOOD_WAIT_31"));
        assert!(
            matches!(&e, TelegramError::FloodWait { seconds: 31, operation } if operation == "renaming chat -1001"),
            "{e:?}"
        );
        let e = map_invocation_error("x", &rpc(420, "SLOWMODE_WAIT_7"));
        assert_eq!(e.flood_wait_seconds(), Some(7));
    }

    #[test]
    fn rights_and_auth_errors_map_to_their_kinds() {
        assert!(
            matches!(map_invocation_error("x", &rpc(400, "CHAT_ADMIN_REQUIRED")), TelegramError::Forbidden(m) if m.contains("CHAT_ADMIN_REQUIRED"))
        );
        assert!(matches!(
            map_invocation_error("x", &rpc(401, "AUTH_KEY_UNREGISTERED")),
            TelegramError::NotLoggedIn
        ));
        assert!(matches!(
            map_invocation_error("x", &rpc(400, "PEER_ID_INVALID")),
            TelegramError::Rpc { code: 400, ref name } if name == "PEER_ID_INVALID"
        ));
        let io = InvocationError::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert!(
            matches!(map_invocation_error("x", &io), TelegramError::Network(m) if m.contains("reset"))
        );
        assert!(matches!(
            map_invocation_error("x", &InvocationError::Dropped("gone")),
            TelegramError::Network(_)
        ));
    }

    fn admin_rights(ban: bool, info: bool) -> tl::enums::ChatAdminRights {
        tl::enums::ChatAdminRights::Rights(tl::types::ChatAdminRights {
            change_info: info,
            post_messages: false,
            edit_messages: false,
            delete_messages: true,
            ban_users: ban,
            invite_users: true,
            pin_messages: false,
            add_admins: false,
            anonymous: false,
            manage_call: false,
            other: false,
            manage_topics: false,
            post_stories: false,
            edit_stories: false,
            delete_stories: false,
            manage_direct_messages: false,
            manage_ranks: false,
            manage_linked_peers: false,
            manage_welcome_messages: false,
        })
    }

    #[test]
    fn rights_follow_creator_flag_and_admin_rights() {
        let r = rights_from_raw(true, None);
        assert_eq!(
            (r.role, r.can_ban, r.can_change_info),
            (Role::Creator, true, true)
        );
        let r = rights_from_raw(false, Some(&admin_rights(true, false)));
        assert_eq!(
            (r.role, r.can_ban, r.can_change_info),
            (Role::Admin, true, false)
        );
        let r = rights_from_raw(false, Some(&admin_rights(false, true)));
        assert_eq!(
            (r.role, r.can_ban, r.can_change_info),
            (Role::Admin, false, true)
        );
        let r = rights_from_raw(false, None);
        assert_eq!(
            (r.role, r.can_ban, r.can_change_info),
            (Role::Member, false, false)
        );
    }

    #[test]
    fn users_map_with_empty_names_dropped() {
        let u = map_user(6, Some("nftaddie"), Some("Addie"), Some(""));
        assert_eq!(
            u,
            TgUser {
                id: 6,
                username: Some("nftaddie".into()),
                first_name: Some("Addie".into()),
                last_name: None
            }
        );
    }

    #[tokio::test]
    async fn session_file_persists_auth_key_with_owner_only_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("telegram.session");
        let session = FileSession::open(&path).expect("fresh");
        assert!(!session.has_auth_key());
        let mut dc = session.dc_option(2).expect("dc").expect("dc 2 known");
        dc.auth_key = Some([7u8; 256]);
        session.set_dc_option(&dc).await.expect("store");
        session.set_home_dc_id(2).await.expect("home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(
                mode(&dir.path().join("sub")),
                0o700,
                "the directory made for it"
            );
        }
        let reopened = FileSession::open(&path).expect("reopen");
        assert!(reopened.has_auth_key());
        assert_eq!(reopened.home_dc_id().expect("home"), 2);
        assert_eq!(reopened.dc_option(2).expect("dc"), Some(dc));
        std::fs::write(&path, "{not json").expect("corrupt");
        assert!(matches!(
            FileSession::open(&path),
            Err(FileSessionError::File { .. })
        ));
    }
}
