//! `insight.json`: what to collect, whose data never to collect, how long to keep it. Parsed
//! strictly: an unknown key or a bad value is an error naming the file and the JSON path.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// File name inside the config directory.
pub const INSIGHT_FILE: &str = "insight.json";

/// A problem in insight.json, located well enough to fix without reading code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {}{message}", file.display(), location.as_deref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    /// JSON path and/or line and column.
    pub location: Option<String>,
    pub message: String,
    pub hint: String,
}

/// Which public channels are in scope (empty `name_contains` = every public channel).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelFilter {
    #[serde(default)]
    pub name_contains: Vec<String>,
    #[serde(default)]
    pub include_archived: bool,
}

/// How long data lives.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Raw snapshots and normalized events.
    #[serde(default = "default_raw_days")]
    pub raw_days: u32,
    /// Daily aggregates, threads and membership snapshots.
    #[serde(default = "default_aggregate_days")]
    pub aggregate_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw_days: default_raw_days(),
            aggregate_days: default_aggregate_days(),
        }
    }
}

fn default_raw_days() -> u32 {
    30
}
fn default_aggregate_days() -> u32 {
    90
}
fn default_window() -> u32 {
    7
}
fn default_grace() -> u32 {
    14
}
fn default_tz() -> String {
    "UTC".into()
}

/// Where a user's department comes from.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Departments {
    /// `"team.json"` (a roster member's `department`, else `team`), or a Slack profile field name
    /// such as `"title"`. Absent: no departments.
    #[serde(default)]
    pub source: Option<String>,
}

/// The parsed `insight.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightConfig {
    #[serde(default)]
    pub channels: ChannelFilter,
    /// Private channels (ID or name) whose history may be read. No other private channel is.
    #[serde(default)]
    pub private_channels_opt_in: Vec<String>,
    /// Users (ID, username or email) about whom nothing is stored.
    #[serde(default)]
    pub opt_out_users: Vec<String>,
    /// Channels (ID or name) never collected, even if public and matching.
    #[serde(default)]
    pub opt_out_channels: Vec<String>,
    #[serde(default = "default_window")]
    pub window_days: u32,
    /// IANA timezone name for days, hours and weekdays.
    #[serde(default = "default_tz")]
    pub timezone: String,
    #[serde(default)]
    pub store_text: bool,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub departments: Departments,
    /// Days a stored channel that left the scope without being opted out (a typo in the
    /// filter, a short channel list) keeps its data before a sync deletes it.
    #[serde(default = "default_grace")]
    pub unscoped_grace_days: u32,
    /// The resolved timezone.
    #[serde(skip, default = "utc")]
    pub tz: jiff::tz::TimeZone,
}

fn utc() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::UTC
}

impl InsightConfig {
    /// Parses and checks the text of an insight.json; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<InsightConfig, ConfigError> {
        // The same located JSON errors as team.json and categories.json.
        let mut cfg: InsightConfig = roster::parse_json(text, file).map_err(|e| ConfigError {
            file: e.file,
            location: e.location,
            message: e.message,
            hint: e
                .hint
                .unwrap_or_else(|| "see docs/insight.md for every key of insight.json".into()),
        })?;
        let at = |path: &str, message: String, hint: &str| ConfigError {
            file: file.to_path_buf(),
            location: Some(path.to_string()),
            message,
            hint: hint.to_string(),
        };
        cfg.tz = jiff::tz::TimeZone::get(&cfg.timezone).map_err(|_| {
            at(
                "timezone",
                format!("unknown timezone {:?}", cfg.timezone),
                "use an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\"",
            )
        })?;
        if cfg.window_days == 0 || cfg.window_days > 366 {
            return Err(at(
                "window_days",
                format!("window_days must be 1..=366, got {}", cfg.window_days),
                "7 syncs the last week",
            ));
        }
        if cfg.retention.raw_days < cfg.window_days {
            return Err(at(
                "retention.raw_days",
                format!(
                    "raw_days ({}) is shorter than window_days ({}): each sync would fetch events only to prune them",
                    cfg.retention.raw_days, cfg.window_days
                ),
                "make raw_days at least window_days",
            ));
        }
        if cfg.retention.aggregate_days < cfg.retention.raw_days {
            return Err(at(
                "retention.aggregate_days",
                "aggregate_days is shorter than raw_days".into(),
                "aggregates are what reports read: keep them at least as long as the events",
            ));
        }
        if cfg.unscoped_grace_days > 366 {
            return Err(at(
                "unscoped_grace_days",
                format!(
                    "unscoped_grace_days must be 0..=366, got {}",
                    cfg.unscoped_grace_days
                ),
                "14 keeps a channel that vanished from the scope for two weeks; 0 deletes it at the next sync",
            ));
        }
        for (key, list) in [
            ("private_channels_opt_in", &cfg.private_channels_opt_in),
            ("opt_out_users", &cfg.opt_out_users),
            ("opt_out_channels", &cfg.opt_out_channels),
        ] {
            if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
                return Err(at(
                    &format!("{key}[{i}]"),
                    "empty entry".into(),
                    "remove it, or put an ID or name there",
                ));
            }
        }
        Ok(cfg)
    }

    /// A fingerprint of `opt_out_users` (order, case and spacing ignored). The sync records the
    /// one it applied, so insight-report can tell whether the list changed since; it is not the
    /// list itself, which would leave the opted-out people's identifiers in the database.
    pub fn opt_out_fingerprint(&self) -> String {
        let mut entries: Vec<String> = self
            .opt_out_users
            .iter()
            .map(|e| e.trim().to_lowercase())
            .collect();
        entries.sort();
        entries.dedup();
        // FNV-1a: stable across builds and platforms (std's hasher is not), and only change
        // detection is asked of it.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in entries.join("\n").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Whether a channel name or ID is listed in `list` (names without a leading `#`, any case).
    pub fn listed(list: &[String], id: &str, name: &str) -> bool {
        list.iter().any(|e| {
            let e = e.trim().trim_start_matches('#');
            e == id || e.eq_ignore_ascii_case(name)
        })
    }

    /// Whether a channel may be collected: public and matching, or private and opted in; never
    /// an opted-out channel.
    pub fn in_scope(&self, id: &str, name: &str, is_private: bool, is_archived: bool) -> bool {
        if Self::listed(&self.opt_out_channels, id, name) {
            return false;
        }
        if is_private {
            return Self::listed(&self.private_channels_opt_in, id, name);
        }
        if is_archived && !self.channels.include_archived {
            return false;
        }
        let lower = name.to_lowercase();
        self.channels.name_contains.is_empty()
            || self
                .channels
                .name_contains
                .iter()
                .any(|p| lower.contains(&p.to_lowercase()))
    }
}

/// Whether `s` has the shape of a Slack user ID (`U…`, or `W…` on Enterprise Grid). Such an
/// identifier names one person exactly, whether or not anyone still has it.
pub fn is_user_id(s: &str) -> bool {
    s.len() >= 7
        && s.starts_with(['U', 'W'])
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Reads `dir/insight.json`.
pub fn load_config(dir: &Path) -> Result<InsightConfig, ConfigError> {
    let file = dir.join(INSIGHT_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
        file: file.clone(),
        location: None,
        message: format!("cannot read: {e}"),
        hint: format!(
            "create {} (see config/insight.json and docs/insight.md), or pass --config DIR",
            file.display()
        ),
    })?;
    InsightConfig::parse(&text, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../config/insight.json");
        let cfg = InsightConfig::parse(text, Path::new("insight.json")).expect("valid");
        assert_eq!(cfg.window_days, 7);
        assert!(!cfg.store_text);
    }

    #[test]
    fn opt_out_fingerprint_ignores_order_case_and_spacing() {
        let parse = |list: &str| {
            InsightConfig::parse(
                &format!(r#"{{"opt_out_users": {list}}}"#),
                Path::new("i.json"),
            )
            .expect("valid")
        };
        let a = parse(r#"["U1", "ann@x.io"]"#).opt_out_fingerprint();
        assert_eq!(a, parse(r#"[" Ann@X.io", "u1"]"#).opt_out_fingerprint());
        assert_ne!(a, parse(r#"["U1"]"#).opt_out_fingerprint());
        assert_ne!(a, parse("[]").opt_out_fingerprint());
        let grace = InsightConfig::parse(r#"{"unscoped_grace_days": 400}"#, Path::new("i.json"))
            .expect_err("too long");
        assert_eq!(grace.location.as_deref(), Some("unscoped_grace_days"));
    }

    #[test]
    fn unknown_key_is_located() {
        let err = InsightConfig::parse(
            r#"{"retention": {"raw_days": 30, "agg_days": 90}}"#,
            Path::new("x/insight.json"),
        )
        .expect_err("unknown key");
        let loc = err.location.clone().unwrap_or_default();
        assert!(loc.starts_with("retention"), "{loc}");
        assert!(err.message.contains("agg_days"), "{}", err.message);
        assert!(err.to_string().starts_with("x/insight.json: retention"));
    }

    #[test]
    fn bad_timezone_and_scope_rules() {
        let err = InsightConfig::parse(r#"{"timezone": "Mars/Olympus"}"#, Path::new("i.json"))
            .expect_err("bad tz");
        assert_eq!(err.location.as_deref(), Some("timezone"));
        let cfg = InsightConfig::parse(
            r##"{"channels": {"name_contains": ["bitsafe"]}, "private_channels_opt_in": ["C9", "#bitsafe-leads"],
                "opt_out_channels": ["bitsafe-noisy"]}"##,
            Path::new("i.json"),
        )
        .expect("valid");
        assert!(cfg.in_scope("C1", "bitsafe-acme", false, false));
        assert!(!cfg.in_scope("C2", "random", false, false));
        assert!(!cfg.in_scope("C3", "bitsafe-secret", true, false));
        assert!(cfg.in_scope("C9", "whatever", true, false));
        assert!(cfg.in_scope("C4", "BitSafe-Leads", true, false));
        assert!(!cfg.in_scope("C5", "bitsafe-noisy", false, false));
    }
}
