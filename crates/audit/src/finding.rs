//! One group's audit: which required and optional team members are present, missing or excluded,
//! and the flags (public, rename) that apply to it.

use std::collections::{BTreeMap, BTreeSet};

use roster::{AuditConfig, Platform, Resolution, Role};
use serde::{Deserialize, Serialize};

/// A group as any platform reports it: identity, flags, and the user IDs of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub platform: Platform,
    /// Slack channel ID or Telegram chat ID.
    pub id: String,
    /// Slack channel name or Telegram title.
    pub name: String,
    pub is_private: bool,
    pub is_ext_shared: bool,
    pub is_archived: bool,
    /// Platform user IDs, comparable with [`Resolution::by_handle`] values.
    pub member_ids: BTreeSet<String>,
    /// Member count as the platform reports it (may differ from `member_ids.len()` for groups
    /// whose members were not listed).
    pub member_count: u64,
}

/// Everything the engine needs besides the groups: the config and, per audited platform, the
/// team resolved to user IDs. Platforms absent from `resolutions` were not audited (skipped).
#[derive(Debug, Clone)]
pub struct AuditInput<'a> {
    pub config: &'a AuditConfig,
    pub resolutions: BTreeMap<Platform, Resolution>,
}

/// The audit of one group; a row of the Groups sheet. Stored as JSON in the run history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFinding {
    pub platform: Platform,
    pub group_id: String,
    pub group_name: String,
    pub category: String,
    pub required_present: u32,
    /// Required handles for this group's category, minus exclusions.
    pub required_total: u32,
    /// Handles, in team.json/category order. Includes required members not found on the platform.
    pub missing_required: Vec<String>,
    pub optional_present: u32,
    pub missing_optional: Vec<String>,
    /// Handles that exclusions say are not expected here.
    pub excluded: Vec<String>,
    pub is_private: bool,
    /// The group is public; customer groups should be private.
    pub flag_public: bool,
    /// A rename rule applies; see `suggested_name`.
    pub flag_rename: bool,
    pub suggested_name: Option<String>,
    pub is_ext_shared: bool,
    pub member_count: u64,
    /// required_present / required_total × 100; 100 when nobody is required; 0 when unreadable.
    pub completeness_pct: f64,
    /// Why the members could not be read (e.g. `not_in_channel`). Such a group is reported but
    /// its counts are not gaps: `missing_*` are empty and `required_present` is 0.
    pub error: Option<String>,
}

impl GroupFinding {
    /// A readable group missing at least one required member.
    pub fn has_gaps(&self) -> bool {
        self.error.is_none() && !self.missing_required.is_empty()
    }
}

/// Who is expected in a group, by handle.
struct Expected {
    category: String,
    required: Vec<String>,
    optional: Vec<String>,
    excluded: Vec<String>,
}

fn expectations(input: &AuditInput, group: &GroupSnapshot) -> Expected {
    let config = input.config;
    let category = config.categories.category_for(&group.name);
    let excluded: Vec<String> = config
        .categories
        .excluded_for(&group.id, &group.name)
        .into_iter()
        .map(str::to_string)
        .collect();
    let is_excluded = |h: &str| excluded.iter().any(|e| e == h);
    // Inactive members are expected nowhere, even where a category lists them by name (so
    // marking someone inactive needs no edit of categories.json).
    let is_active = |h: &str| config.team.is_active(h);
    let category_required = category.required_handles(&config.team);
    let required: Vec<String> = category_required
        .iter()
        .filter(|h| !is_excluded(h) && is_active(h))
        .map(|h| h.to_string())
        .collect();
    // A `role: optional` member that a category lists as required counts as required there only.
    let optional: Vec<String> = config
        .team
        .handles_with_role(Role::Optional)
        .filter(|h| !is_excluded(h) && is_active(h) && !category_required.contains(h))
        .map(str::to_string)
        .collect();
    Expected {
        category: category.name.clone(),
        required,
        optional,
        excluded,
    }
}

/// Audits one readable group.
pub fn audit_group(input: &AuditInput, group: &GroupSnapshot) -> GroupFinding {
    let Expected {
        category,
        required,
        optional,
        excluded,
    } = expectations(input, group);
    let resolution = input.resolutions.get(&group.platform);
    // A member unresolved on this platform can't be seen in the group: counted as missing
    // (the run's warnings say why, once).
    let present = |handle: &String| {
        resolution
            .and_then(|r| r.by_handle.get(handle))
            .is_some_and(|id| group.member_ids.contains(id))
    };
    let (req_in, req_out): (Vec<String>, Vec<String>) = required.into_iter().partition(present);
    let (opt_in, opt_out): (Vec<String>, Vec<String>) = optional.into_iter().partition(present);
    let required_total = count(req_in.len() + req_out.len());
    let required_present = count(req_in.len());
    let completeness_pct = if required_total == 0 {
        100.0
    } else {
        f64::from(required_present) * 100.0 / f64::from(required_total)
    };
    let mut finding = base_finding(input, group, category, excluded);
    finding.required_present = required_present;
    finding.required_total = required_total;
    finding.missing_required = req_out;
    finding.optional_present = count(opt_in.len());
    finding.missing_optional = opt_out;
    finding.completeness_pct = completeness_pct;
    finding
}

/// Reports a group whose members could not be read (listed, but e.g. `not_in_channel`): the
/// category, flags and expected required total are filled in; nothing counts as missing.
pub fn audit_unreadable_group(
    input: &AuditInput,
    group: &GroupSnapshot,
    error: impl Into<String>,
) -> GroupFinding {
    let Expected {
        category,
        required,
        excluded,
        ..
    } = expectations(input, group);
    let mut finding = base_finding(input, group, category, excluded);
    finding.required_total = count(required.len());
    finding.completeness_pct = 0.0;
    finding.error = Some(error.into());
    finding
}

fn base_finding(
    input: &AuditInput,
    group: &GroupSnapshot,
    category: String,
    excluded: Vec<String>,
) -> GroupFinding {
    let suggested_name = input.config.categories.rename_for(&group.name);
    GroupFinding {
        platform: group.platform,
        group_id: group.id.clone(),
        group_name: group.name.clone(),
        category,
        required_present: 0,
        required_total: 0,
        missing_required: Vec::new(),
        optional_present: 0,
        missing_optional: Vec::new(),
        excluded,
        is_private: group.is_private,
        flag_public: !group.is_private,
        flag_rename: suggested_name.is_some(),
        suggested_name,
        is_ext_shared: group.is_ext_shared,
        member_count: group.member_count,
        completeness_pct: 100.0,
        error: None,
    }
}

/// Team sizes are far below u32::MAX; saturate rather than panic if that ever changes.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{config, resolutions, slack_group};

    fn run(group: &GroupSnapshot) -> GroupFinding {
        let config = config();
        audit_group(
            &AuditInput {
                config: &config,
                resolutions: resolutions(false),
            },
            group,
        )
    }

    #[test]
    fn default_category_requires_every_required_role_member() {
        let f = run(&slack_group(
            "C1",
            "bitsafe-acme",
            &["aki", "alice", "frank"],
        ));
        assert_eq!(f.category, "BD Customer");
        assert_eq!((f.required_present, f.required_total), (2, 4));
        assert_eq!(f.missing_required, vec!["bob", "carol"]);
        assert_eq!(f.optional_present, 1);
        assert_eq!(f.missing_optional, vec!["gina"]);
        assert!(f.excluded.is_empty());
        assert_eq!(f.completeness_pct, 50.0);
        assert!(f.has_gaps());
        assert_eq!(f.error, None);
    }

    /// The test config with `handles` marked `"status": "inactive"`.
    fn config_with_inactive(handles: &[&str]) -> roster::AuditConfig {
        let mut config = config();
        for m in &mut config.team.members {
            if handles.contains(&m.handle.as_str()) {
                m.status = roster::MemberStatus::Inactive;
            }
        }
        config
    }

    #[test]
    fn inactive_members_missing_from_a_group_are_no_gap() {
        // carol (required) and gina (optional, but required by Marketing) are inactive.
        let config = config_with_inactive(&["carol", "gina"]);
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let f = audit_group(
            &input,
            &slack_group("C1", "bitsafe-acme", &["aki", "alice", "bob"]),
        );
        assert_eq!((f.required_present, f.required_total), (3, 3));
        assert!(f.missing_required.is_empty(), "{:?}", f.missing_required);
        assert_eq!(f.missing_optional, vec!["frank"]);
        assert!(!f.has_gaps());
        // Listed by name in a category's `required`, an inactive member is still not expected.
        let f = audit_group(&input, &slack_group("C2", "bitsafe-mktg-acme", &["alice"]));
        assert_eq!((f.required_present, f.required_total), (1, 2));
        assert_eq!(f.missing_required, vec!["bob"]);
        // An active member's absence still is a gap.
        let f = audit_group(&input, &slack_group("C3", "bitsafe-beta", &["aki", "bob"]));
        assert_eq!(f.missing_required, vec!["alice"]);
        assert!(f.has_gaps());
    }

    #[test]
    fn category_required_list_overrides_roles() {
        // Marketing requires alice, bob and gina (an optional-role member made required there).
        let f = run(&slack_group("C2", "bitsafe-mktg-acme", &["alice", "gina"]));
        assert_eq!(f.category, "Marketing");
        assert_eq!((f.required_present, f.required_total), (2, 3));
        assert_eq!(f.missing_required, vec!["bob"]);
        // gina is required here, so only frank is optional; aki and carol are not expected at all.
        assert_eq!(
            (f.optional_present, f.missing_optional.clone()),
            (0, vec!["frank".to_string()])
        );
    }

    #[test]
    fn empty_required_list_means_nobody_and_full_completeness() {
        let f = run(&slack_group("C3", "bitsafe-internal-ops", &[]));
        assert_eq!(f.category, "Internal");
        assert_eq!((f.required_present, f.required_total), (0, 0));
        assert_eq!(f.completeness_pct, 100.0);
        assert!(!f.has_gaps());
        // Optional members are always the role:optional ones.
        assert_eq!(f.missing_optional, vec!["frank", "gina"]);
    }

    #[test]
    fn first_matching_category_wins() {
        let f = run(&slack_group("C4", "bitsafe-intro-marketing", &[]));
        assert_eq!(f.category, "Marketing");
        let f = run(&slack_group(
            "C5",
            "bitsafe-INTRO-acme",
            &["aki", "alice", "bob", "carol"],
        ));
        assert_eq!(f.category, "Intro");
        assert_eq!(f.completeness_pct, 100.0);
    }

    #[test]
    fn exclusions_by_id_drop_required_and_optional_members() {
        let f = run(&slack_group(
            "C0123ABC",
            "bitsafe-acme",
            &["aki", "alice", "bob"],
        ));
        assert_eq!(f.excluded, vec!["carol", "frank"]);
        assert_eq!((f.required_present, f.required_total), (3, 3));
        assert!(f.missing_required.is_empty());
        assert_eq!(f.missing_optional, vec!["gina"]);
        assert_eq!(f.completeness_pct, 100.0);
    }

    #[test]
    fn exclusions_by_exact_name() {
        let f = run(&slack_group("C9", "bitsafe-legal", &["aki"]));
        assert_eq!(f.excluded, vec!["bob"]);
        assert_eq!(f.required_total, 3);
        assert_eq!(f.missing_required, vec!["alice", "carol"]);
        let f = run(&slack_group("C10", "bitsafe-legal-2", &["aki"]));
        assert!(f.excluded.is_empty());
        assert_eq!(f.required_total, 4);
    }

    #[test]
    fn flags_public_rename_and_passes_through_metadata() {
        let mut g = slack_group("C6", "bitsafe-iBTC-acme", &["aki"]);
        g.is_private = false;
        g.is_ext_shared = true;
        g.member_count = 42;
        let f = run(&g);
        assert!(f.flag_public && !f.is_private);
        assert!(f.flag_rename);
        assert_eq!(f.suggested_name.as_deref(), Some("bitsafe-cbtc-acme"));
        assert!(f.is_ext_shared);
        assert_eq!(f.member_count, 42);
        let f = run(&slack_group("C7", "bitsafe-acme", &[]));
        assert!(!f.flag_public && !f.flag_rename && f.suggested_name.is_none());
    }

    #[test]
    fn completeness_is_a_percentage() {
        let f = run(&slack_group("C8", "bitsafe-acme", &["aki", "alice", "bob"]));
        assert_eq!(f.completeness_pct, 75.0);
        let f = run(&slack_group("C8", "bitsafe-acme", &[]));
        assert_eq!(f.completeness_pct, 0.0);
    }

    #[test]
    fn unmatched_required_member_counts_as_missing() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(true),
        };
        // carol's account is in the channel, but she could not be resolved: the audit can't tell.
        let f = audit_group(
            &input,
            &slack_group("C1", "bitsafe-acme", &["aki", "alice", "bob", "carol"]),
        );
        assert_eq!(f.missing_required, vec!["carol"]);
        assert_eq!(f.required_present, 3);
    }

    #[test]
    fn platforms_use_their_own_resolution() {
        let config = config();
        let mut resolutions = resolutions(false);
        let mut tg = Resolution::default();
        tg.by_handle.insert("aki".into(), "6".into());
        resolutions.insert(Platform::Telegram, tg);
        let input = AuditInput {
            config: &config,
            resolutions,
        };
        let mut g = slack_group("-1001", "iBTC <> Acme", &[]);
        g.platform = Platform::Telegram;
        // Slack IDs mean nothing on Telegram; the Telegram ID of aki does.
        g.member_ids = ["6", "U_ALICE"].iter().map(|s| s.to_string()).collect();
        let f = audit_group(&input, &g);
        assert_eq!(f.platform, Platform::Telegram);
        assert_eq!(f.required_present, 1);
        assert_eq!(f.missing_required, vec!["alice", "bob", "carol"]);
        assert_eq!(f.suggested_name.as_deref(), Some("cbtc <> Acme"));
    }

    #[test]
    fn platform_without_resolution_has_everyone_missing() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: BTreeMap::new(),
        };
        let f = audit_group(&input, &slack_group("C1", "bitsafe-acme", &["aki"]));
        assert_eq!(f.missing_required.len(), 4);
    }

    #[test]
    fn unreadable_group_is_reported_without_gaps() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let mut g = slack_group("C1", "bitsafe-ibtc-acme", &[]);
        g.is_private = false;
        let f = audit_unreadable_group(&input, &g, "not_in_channel");
        assert_eq!(f.error.as_deref(), Some("not_in_channel"));
        assert_eq!(f.category, "BD Customer");
        assert_eq!((f.required_present, f.required_total), (0, 4));
        assert!(f.missing_required.is_empty() && f.missing_optional.is_empty());
        assert!(!f.has_gaps());
        assert!(f.flag_public && f.flag_rename);
    }
}
