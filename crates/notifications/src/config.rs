//! `config/notifications.json`: which events are sent, where, and how they read. Parsed strictly
//! like every config file (unknown keys refused with the closest known one, errors located).

use std::path::{Path, PathBuf};

use roster::ConfigError;
use serde::Deserialize;

use crate::event::Event;
use crate::render::placeholders;

/// File name inside the config directory.
pub const FILE: &str = "notifications.json";

/// How urgent a notification is: shown in the message, kept in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

/// One event's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRule {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Channel names or IDs; empty = `default_channel`.
    #[serde(default)]
    pub channels: Vec<String>,
    /// mrkdwn with `{variable}` placeholders.
    #[serde(default)]
    pub template: Option<String>,
    /// Sent instead of `template` when that names a variable the occurrence does not have.
    #[serde(default)]
    pub fallback: Option<String>,
    #[serde(default)]
    pub priority: Priority,
}

fn yes() -> bool {
    true
}

/// The events table: one optional entry per event, so a misspelt event name is an unknown key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    pub audit_complete: Option<EventRule>,
    pub audit_new_gaps: Option<EventRule>,
    pub sync_failed: Option<EventRule>,
    pub sync_complete: Option<EventRule>,
    pub export_complete: Option<EventRule>,
    pub members_added: Option<EventRule>,
    pub telegram_session_expired: Option<EventRule>,
    pub system_alert: Option<EventRule>,
}

impl Events {
    fn get(&self, e: Event) -> Option<&EventRule> {
        match e {
            Event::AuditComplete => self.audit_complete.as_ref(),
            Event::AuditNewGaps => self.audit_new_gaps.as_ref(),
            Event::SyncFailed => self.sync_failed.as_ref(),
            Event::SyncComplete => self.sync_complete.as_ref(),
            Event::ExportComplete => self.export_complete.as_ref(),
            Event::MembersAdded => self.members_added.as_ref(),
            Event::TelegramSessionExpired => self.telegram_session_expired.as_ref(),
            Event::SystemAlert => self.system_alert.as_ref(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Where events without `channels` go.
    #[serde(default)]
    pub default_channel: Option<String>,
    #[serde(default)]
    pub events: Events,
    /// The file it came from (`None`: no file, today's behaviour).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl NotificationsConfig {
    /// The rule of `event` when the file enables it.
    pub fn enabled(&self, event: Event) -> Option<&EventRule> {
        self.events.get(event).filter(|r| r.enabled)
    }

    /// The rule of `event` whether enabled or not.
    pub fn rule(&self, event: Event) -> Option<&EventRule> {
        self.events.get(event)
    }

    /// Where `event` goes: its channels, else the default channel.
    pub fn channels(&self, event: Event) -> Vec<String> {
        match self.events.get(event) {
            Some(r) if !r.channels.is_empty() => r.channels.clone(),
            _ => self.default_channel.iter().cloned().collect(),
        }
    }
}

/// Reads `dir/notifications.json`; a missing file is the empty config (no event sent unless a
/// tool's `--notify` asks).
pub fn load(dir: &Path) -> Result<NotificationsConfig, ConfigError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(NotificationsConfig::default());
        }
        Err(e) => {
            return Err(error(
                &path,
                None,
                format!("cannot read the file: {e}"),
                "fix its permissions, or remove it to send no notification",
            ));
        }
    };
    parse(&text, &path)
}

/// [`load`], with the default channel an admin set on the panel's Slack page (kept with the
/// connected workspace in the store at `db`) for a file that names no `default_channel`. The
/// file's own setting wins; no store, or no connection, is no fallback.
pub fn load_with_store(dir: &Path, db: &Path) -> Result<NotificationsConfig, ConfigError> {
    // Asked only when there is a file to complete: a PostgreSQL store is a connection away.
    let fallback = || {
        let may_exist = match store::Location::parse(db) {
            Ok(store::Location::Sqlite(p)) => p.is_file(),
            Ok(store::Location::Postgres(_)) => true,
            Err(_) => false,
        };
        may_exist
            .then(|| store::Store::open_read_only(db).ok())
            .flatten()
            .and_then(|s| s.slack_connection().ok().flatten())
            .and_then(|c| c.default_channel)
    };
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_with_default(&text, &path, fallback()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NotificationsConfig::default()),
        Err(_) => load(dir),
    }
}

/// Parses and checks the file's text; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<NotificationsConfig, ConfigError> {
    parse_with_default(text, path, None)
}

/// [`parse`], with `fallback` as the default channel when the file names none.
fn parse_with_default(
    text: &str,
    path: &Path,
    fallback: Option<String>,
) -> Result<NotificationsConfig, ConfigError> {
    let mut config: NotificationsConfig = roster::parse_json(text, path)?;
    config.file = Some(path.to_path_buf());
    let from_file = config.default_channel.is_some();
    if let Some(c) = &config.default_channel
        && c.trim().is_empty()
    {
        return Err(error(
            path,
            Some("default_channel".into()),
            "empty channel",
            "write a channel name such as \"ops-alerts\" or an ID such as \"C0123ABCD\", or remove the key",
        ));
    }
    if !from_file {
        config.default_channel = fallback;
    }
    for event in Event::ALL {
        let Some(rule) = config.events.get(event) else {
            continue;
        };
        let at = |key: &str| format!("events.{event}.{key}");
        for (i, c) in rule.channels.iter().enumerate() {
            if c.trim().is_empty() {
                return Err(error(
                    path,
                    Some(at(&format!("channels[{i}]"))),
                    "empty channel",
                    "write a channel name or ID, or remove the entry",
                ));
            }
        }
        if rule.enabled && config.channels(event).is_empty() {
            return Err(error(
                path,
                Some(format!("events.{event}")),
                "the event is enabled but has no channel",
                "add \"channels\": [\"ops-alerts\"] to it, or a top-level \"default_channel\"",
            ));
        }
        let known: Vec<&str> = event.variables().iter().map(|(k, _)| *k).collect();
        for key in ["template", "fallback"] {
            let text = if key == "template" {
                &rule.template
            } else {
                &rule.fallback
            };
            let Some(text) = text else { continue };
            let names = placeholders(text).map_err(|m| {
                error(
                    path,
                    Some(at(key)),
                    m,
                    "write variables as {name}; a literal brace as {{ or }}",
                )
            })?;
            // A template may name a variable the event lacks (its fallback is sent then), but
            // the fallback is the last resort: it must render.
            let unknown: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| !known.contains(n))
                .collect();
            if key == "fallback" && !unknown.is_empty() {
                return Err(error(
                    path,
                    Some(at(key)),
                    format!(
                        "the fallback names `{}`, which {event} does not have",
                        unknown.join("`, `")
                    ),
                    format!("use only {}", known.join(", ")),
                ));
            }
            if key == "template" && !unknown.is_empty() && rule.fallback.is_none() {
                return Err(error(
                    path,
                    Some(at(key)),
                    format!(
                        "the template names `{}`, which {event} does not have, and there is no fallback",
                        unknown.join("`, `")
                    ),
                    format!("add a \"fallback\" text, or use only {}", known.join(", ")),
                ));
            }
        }
    }
    Ok(config)
}

fn error(
    path: &Path,
    location: Option<String>,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        location,
        message: message.into(),
        hint: Some(hint.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<NotificationsConfig, ConfigError> {
        parse(text, Path::new("config/notifications.json"))
    }

    #[test]
    fn a_full_file_parses() {
        let c = p(r#"{"default_channel": "ops",
            "events": {"audit_new_gaps": {"template": "{count} new: {gaps}", "priority": "high"},
                       "sync_failed": {"channels": ["C1", "alerts"], "enabled": false}}}"#)
        .expect("valid");
        assert!(c.enabled(Event::AuditNewGaps).is_some());
        assert!(c.enabled(Event::SyncFailed).is_none());
        assert!(c.enabled(Event::AuditComplete).is_none());
        assert_eq!(c.channels(Event::AuditNewGaps), vec!["ops"]);
        assert_eq!(c.channels(Event::SyncFailed), vec!["C1", "alerts"]);
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../../config/notifications.example.json");
        let c = p(text).expect("config/notifications.example.json is valid");
        assert!(c.enabled(Event::AuditNewGaps).is_some());
        assert!(c.enabled(Event::ExportComplete).is_none());
    }

    #[test]
    fn a_misspelt_event_is_refused_with_the_closest_name() {
        let e = p(r#"{"default_channel": "ops", "events": {"audit_new_gap": {}}}"#)
            .expect_err("refused");
        assert!(e.message.contains("unknown field `audit_new_gap`"), "{e}");
        assert!(e.hint.unwrap_or_default().contains("audit_new_gaps"));
    }

    #[test]
    fn an_enabled_event_without_channel_is_refused() {
        let e = p(r#"{"events": {"sync_failed": {}}}"#).expect_err("refused");
        assert_eq!(e.location.as_deref(), Some("events.sync_failed"));
    }

    #[test]
    fn an_unknown_variable_needs_a_fallback_that_renders() {
        let e =
            p(r#"{"default_channel": "ops", "events": {"sync_failed": {"template": "{oops}"}}}"#)
                .expect_err("refused");
        assert_eq!(e.location.as_deref(), Some("events.sync_failed.template"));
        let e = p(r#"{"default_channel": "ops", "events": {"sync_failed": {"template": "{oops}", "fallback": "{nope}"}}}"#).expect_err("refused");
        assert_eq!(e.location.as_deref(), Some("events.sync_failed.fallback"));
        p(r#"{"default_channel": "ops", "events": {"sync_failed": {"template": "{oops}", "fallback": "failed: {error}"}}}"#).expect("valid");
        let e =
            p(r#"{"default_channel": "ops", "events": {"sync_failed": {"template": "{error"}}}"#)
                .expect_err("refused");
        assert!(e.message.contains("unclosed"), "{e}");
    }

    #[test]
    fn the_panels_default_channel_serves_a_file_that_names_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("slack-tools.db");
        std::fs::write(dir.path().join(FILE), r#"{"events": {"sync_failed": {}}}"#)
            .expect("writes");
        // Without a connected workspace, an enabled event needs a channel from the file.
        let e = load_with_store(dir.path(), &db).expect_err("no channel anywhere");
        assert!(e.to_string().contains("no channel"), "{e}");
        let store = store::Store::open(&db).expect("store");
        store
            .slack_connection_put(&store::slack_connection::SlackConnection {
                team_id: "T1".into(),
                team_name: "Acme".into(),
                app_id: None,
                authed_user_id: "U1".into(),
                scopes: vec![],
                token_nonce: vec![0; 12],
                token_sealed: vec![1; 40],
                connected_by: "ann".into(),
                connected_at: jiff::Timestamp::UNIX_EPOCH,
                default_channel: Some("ops-alerts".into()),
            })
            .expect("connects");
        let c = load_with_store(dir.path(), &db).expect("the panel's channel");
        assert_eq!(c.channels(Event::SyncFailed), ["ops-alerts"]);
        // The file's own default wins.
        std::fs::write(
            dir.path().join(FILE),
            r#"{"default_channel": "C0FILE", "events": {"sync_failed": {}}}"#,
        )
        .expect("writes");
        let c = load_with_store(dir.path(), &db).expect("loads");
        assert_eq!(c.channels(Event::SyncFailed), ["C0FILE"]);
    }
}
