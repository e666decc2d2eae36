//! Audit engine: given groups with their members (any platform) and the roster, compute per-group
//! coverage findings, the run summary, and what changed since the previous run.
//!
//! Platform-agnostic and pure: Slack and Telegram fetchers map their groups into
//! [`GroupSnapshot`]s and their users into [`roster::PlatformUser`]s; this crate never does I/O.
//! A run is: resolve the team per platform ([`roster::resolve_team`]), [`audit_group`] each
//! group (or [`audit_unreadable_group`] when its members could not be read), then [`summarize`];
//! [`diff`] compares with the previous stored [`AuditResult`].

mod diff;
mod finding;
mod summary;

pub use diff::{Changes, GapChange, GroupRef, diff, member_changes};
pub use finding::{AuditInput, GroupFinding, GroupSnapshot, audit_group, audit_unreadable_group};
pub use roster::Platform;
pub use summary::{AuditResult, AuditSummary, CategoryCount, summarize};

/// Shared fixtures for the unit tests: the issue's example config and a resolved team.
#[cfg(test)]
pub(crate) mod testutil {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use roster::{AuditConfig, Platform, Resolution};

    use crate::GroupSnapshot;

    pub const TEAM: &str = r#"{"members": [
      {"handle": "aki", "name": "Aki Balogh", "role": "required", "slack": ["U_AKI"], "telegram": ["akibalogh"]},
      {"handle": "alice", "name": "Alice Ames", "role": "required", "slack": ["U_ALICE"]},
      {"handle": "bob", "name": "Bob Brown", "role": "required", "slack": ["U_BOB"]},
      {"handle": "carol", "name": "Carol Chen", "role": "required", "slack": ["U_CAROL"]},
      {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["U_FRANK"]},
      {"handle": "gina", "name": "Gina G", "role": "optional", "slack": ["U_GINA"]}
    ]}"#;

    pub const CATEGORIES: &str = r#"{"slack_scope": {"name_contains": ["bitsafe"]},
     "categories": [
       {"name": "Marketing", "match": ["mktg", "marketing"], "required": ["alice", "bob", "gina"]},
       {"name": "Internal", "match": ["internal"], "required": []},
       {"name": "Intro", "match": ["intro"]},
       {"name": "BD Customer"}],
     "rename": [{"find": "ibtc", "replace": "cbtc"}],
     "exclusions": [{"group": "C0123ABC", "members": ["carol", "frank"], "reason": "customer asked"},
                    {"group": "bitsafe-legal", "members": ["bob"]}]}"#;

    pub fn config() -> AuditConfig {
        AuditConfig::from_texts(TEAM, CATEGORIES, Path::new("cfg")).expect("valid test config")
    }

    /// Every Slack member resolved to `U_<HANDLE>`, except carol when `carol_unmatched`.
    pub fn slack_resolution(carol_unmatched: bool) -> Resolution {
        let mut r = Resolution::default();
        for h in ["aki", "alice", "bob", "carol", "frank", "gina"] {
            if h == "carol" && carol_unmatched {
                continue;
            }
            r.by_handle
                .insert(h.to_string(), format!("U_{}", h.to_uppercase()));
        }
        if carol_unmatched {
            r.warnings.push(roster::ResolutionWarning::Unmatched {
                platform: Platform::Slack,
                handle: "carol".into(),
                identifiers: vec!["U_CAROL".into()],
                suggestions: vec![],
            });
        }
        r
    }

    pub fn resolutions(carol_unmatched: bool) -> BTreeMap<Platform, Resolution> {
        BTreeMap::from([(Platform::Slack, slack_resolution(carol_unmatched))])
    }

    pub fn slack_group(id: &str, name: &str, members: &[&str]) -> GroupSnapshot {
        GroupSnapshot {
            platform: Platform::Slack,
            id: id.into(),
            name: name.into(),
            is_private: true,
            is_ext_shared: false,
            is_archived: false,
            member_ids: members
                .iter()
                .map(|h| format!("U_{}", h.to_uppercase()))
                .collect::<BTreeSet<_>>(),
            member_count: members.len() as u64,
        }
    }
}
