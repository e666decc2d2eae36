//! Team roster (team.json) and audit scope/categories (categories.json): strict parsing with
//! precise errors, and identity matching of team members to Slack/Telegram users.
//!
//! Pure logic: no network and no database. Tools fetch users and groups, map them into
//! [`PlatformUser`]s, and use [`resolve_team`] to turn handles into stable user IDs.

mod config;
mod error;
mod identity;
pub mod text;

pub use config::{
    AuditConfig, CATEGORIES_FILE, Categories, Category, DEFAULT_CATEGORY_NAME, Exclusion,
    MemberStatus, RenameRule, Role, SlackScope, TEAM_FILE, Team, TeamMember, TelegramScope, load,
    parse_categories, parse_json, parse_team,
};
pub use error::ConfigError;
pub use identity::{
    Identity, Platform, PlatformUser, Resolution, ResolutionWarning, UserIndex, match_identifier,
    resolve_person, resolve_team,
};
pub use text::contains_ci;
