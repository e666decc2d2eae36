//! Telegram client for the Slack Tools suite: the `TelegramApi` trait the tools depend on, a JSON
//! fixture backend (tests and `--demo`), a grammers (MTProto user account) backend, FLOOD_WAIT
//! handling shared by both, and the group listing the coverage audit consumes.

mod api;
mod audit;
pub mod demo;
mod error;
mod fixture;
mod flood;
pub mod grammers;
pub mod login;
mod session_path;
mod types;

pub use api::{ApiFuture, MediaSink, TelegramApi, open_from_env};
pub use audit::{AUDIT_CONCURRENCY, AuditGroup, groups_for_audit, platform_user};
pub use error::TelegramError;
pub use fixture::{FixtureBackend, fixture_media_bytes};
pub use flood::{FloodWaitGuard, FloodWaitPolicy};
pub use login::{LoginFlow, LoginStep};
pub use session_path::{LEGACY_SESSION, session_path};
pub use types::{
    Chat, ChatKind, MediaKind, OurRights, Participant, Role, TgMedia, TgMessage, TgUser,
};

/// Environment variable naming a fixture JSON file; when set, it replaces the real Telegram account.
pub const ENV_FIXTURE: &str = "TELEGRAM_FIXTURE";
/// Environment variable naming the session file of the grammers backend.
pub const ENV_SESSION: &str = "TELEGRAM_SESSION";
