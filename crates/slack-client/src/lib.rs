//! Typed async client for the subset of Slack's Web API the tools use: paginated streams, per-method
//! rate budgets, bounded retries, and errors that say how to fix them.
//!
//! Start with [`ClientConfig::from_env`] (or [`ClientConfig::new`]) and [`SlackClient::new`]. List
//! methods return [`BoxStream`]s of pages; the `all_*` helpers collect them.
//!
//! `SLACK_RATE_SCALE` (float, default `1.0`) multiplies every per-method budget of Slack's tier table,
//! so a sped-up test server can be driven at its own pace; `0` or `off` disables proactive pacing
//! (429 answers are still honoured). See [`rate`].
//!
//! Against a broken or hostile server every call still ends with a typed error: a `Retry-After`
//! over [`rate::MAX_RETRY_AFTER`] fails at once, answers stop being read past
//! [`ClientConfig::max_body_bytes`], and a listing whose cursors repeat fails. The base URL must
//! be `https://` (plain `http://` only to loopback), so the token never crosses a network in clear.

mod client;
mod config;
mod download;
mod error;
mod oauth;
pub mod rate;
mod types;

pub use client::{ClientStats, MethodStats, SlackClient};
pub use config::{ClientConfig, DEFAULT_BASE_URL, DEFAULT_MAX_BODY_BYTES};
pub use download::{Download, FileRequest, is_slack_host};
pub use error::{Error, UserError};
pub use futures::stream::BoxStream;
pub use oauth::{AuthedUser, OAuthAccess, oauth_v2_access};
pub use rate::{Tier, per_minute, rate_floor, tier_of};
pub use types::{
    AuthTest, Conversation, ConversationType, Edited, InviteOutcome, ListConversations, Message,
    PostedMessage, Profile, RawMessage, Reaction, Team, TimeRange, User,
};
