//! A built-in demo Telegram account (JSON fixture): a dozen customer groups shared with a sales
//! engineer, some where we are creator or admin and some where we are only a member.

/// The demo fixture, in the format of docs/telegram.md.
pub const DEMO_FIXTURE: &str = include_str!("demo_fixture.json");
