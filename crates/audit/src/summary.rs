//! The run summary: coverage rate, counts per category, flags, unmatched team members, and the
//! complete result (findings + summary + warnings) that reports render and history stores.

use roster::{Platform, Team};
use serde::{Deserialize, Serialize};

use crate::finding::{AuditInput, GroupFinding, count};

/// Counts for one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub category: String,
    pub groups: u32,
    /// Readable groups with every required member.
    pub complete: u32,
    pub with_gaps: u32,
    pub missing_required: u32,
}

/// Totals over one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// The category coverage is measured on: the default one (no `match`), "BD Customer" by default.
    pub coverage_category: String,
    /// Share (0.0–1.0) of readable `coverage_category` groups with every required member;
    /// `None` when there are none.
    pub coverage_rate: Option<f64>,
    /// Readable `coverage_category` groups (the denominator of `coverage_rate`).
    pub coverage_groups: u32,
    pub groups: u32,
    pub groups_with_gaps: u32,
    /// Missing (group, required member) pairs over all readable groups.
    pub missing_required_total: u32,
    /// Every configured category in config order (zeros included), then any other category seen.
    pub per_category: Vec<CategoryCount>,
    /// Groups that are public but should be private.
    pub public_count: u32,
    pub rename_count: u32,
    /// `handle (platform)` for each team member not resolved to one user on an audited platform.
    pub unmatched_members: Vec<String>,
    /// Groups that could not be read.
    pub errors: u32,
    /// Platforms audited in this run.
    pub platforms: Vec<Platform>,
}

/// A whole run: what reports render and history stores as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditResult {
    /// Sorted by platform, group name, group ID.
    pub findings: Vec<GroupFinding>,
    pub summary: AuditSummary,
    /// Team resolution warnings (each once), then the caller's own warnings.
    pub warnings: Vec<String>,
}

impl AuditResult {
    /// Whether any readable group misses a required member (`--fail-on-gaps` exits 3 on this).
    pub fn has_gaps(&self) -> bool {
        self.summary.missing_required_total > 0
    }
}

/// Sorts the findings and computes the summary. `extra_warnings` come from the caller (e.g.
/// "Telegram skipped") and follow the team resolution warnings of `input`.
pub fn summarize(
    input: &AuditInput,
    mut findings: Vec<GroupFinding>,
    extra_warnings: Vec<String>,
) -> AuditResult {
    // Names compare ignoring case first (Telegram titles mix cases), then exactly, then by ID,
    // so the order is total and the same on every run.
    findings.sort_by_cached_key(|f| {
        (
            f.platform,
            f.group_name.to_lowercase(),
            f.group_name.clone(),
            f.group_id.clone(),
        )
    });
    let categories = &input.config.categories;
    let coverage_category = categories.default_category().name.clone();

    let mut per_category: Vec<CategoryCount> = categories
        .categories
        .iter()
        .map(|c| CategoryCount {
            category: c.name.clone(),
            groups: 0,
            complete: 0,
            with_gaps: 0,
            missing_required: 0,
        })
        .collect();
    let (mut coverage_groups, mut coverage_complete) = (0u32, 0u32);
    for f in &findings {
        let index = match per_category.iter().position(|c| c.category == f.category) {
            Some(i) => i,
            None => {
                per_category.push(CategoryCount {
                    category: f.category.clone(),
                    groups: 0,
                    complete: 0,
                    with_gaps: 0,
                    missing_required: 0,
                });
                per_category.len() - 1
            }
        };
        let c = &mut per_category[index];
        c.groups += 1;
        if f.error.is_some() {
            continue;
        }
        if f.has_gaps() {
            c.with_gaps += 1;
            c.missing_required += count(f.missing_required.len());
        } else {
            c.complete += 1;
        }
        if f.category == coverage_category {
            coverage_groups += 1;
            coverage_complete += u32::from(!f.has_gaps());
        }
    }

    let summary = AuditSummary {
        coverage_rate: (coverage_groups > 0)
            .then(|| f64::from(coverage_complete) / f64::from(coverage_groups)),
        coverage_category,
        coverage_groups,
        groups: count(findings.len()),
        groups_with_gaps: count(findings.iter().filter(|f| f.has_gaps()).count()),
        missing_required_total: per_category.iter().map(|c| c.missing_required).sum(),
        per_category,
        public_count: count(findings.iter().filter(|f| f.flag_public).count()),
        rename_count: count(findings.iter().filter(|f| f.flag_rename).count()),
        unmatched_members: unmatched(input, &input.config.team),
        errors: count(findings.iter().filter(|f| f.error.is_some()).count()),
        platforms: input.resolutions.keys().copied().collect(),
    };
    let warnings = input
        .resolutions
        .values()
        .flat_map(|r| r.warnings.iter())
        // An inactive member is expected nowhere, so not finding them is no news.
        .filter(|w| input.config.team.is_active(w.handle()))
        .map(ToString::to_string)
        .chain(extra_warnings)
        .collect();
    AuditResult {
        findings,
        summary,
        warnings,
    }
}

fn unmatched(input: &AuditInput, team: &Team) -> Vec<String> {
    let mut out = Vec::new();
    for (platform, resolution) in &input.resolutions {
        for m in team.members.iter().filter(|m| m.is_active()) {
            if !resolution.by_handle.contains_key(&m.handle) {
                out.push(format!("{} ({platform})", m.handle));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{audit_group, audit_unreadable_group};
    use crate::testutil::{config, resolutions, slack_group};

    fn result(carol_unmatched: bool) -> AuditResult {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(carol_unmatched),
        };
        let all = ["aki", "alice", "bob", "carol"];
        let mut public = slack_group("C5", "bitsafe-ibtc-zeta", &all);
        public.is_private = false;
        let findings = vec![
            audit_group(&input, &slack_group("C2", "bitsafe-beta", &["aki"])),
            audit_group(&input, &slack_group("C1", "bitsafe-alpha", &all)),
            audit_group(&input, &public),
            audit_group(&input, &slack_group("C3", "bitsafe-mktg-x", &["alice"])),
            audit_group(&input, &slack_group("C4", "bitsafe-internal", &[])),
            audit_unreadable_group(
                &input,
                &slack_group("C6", "bitsafe-gamma", &[]),
                "not_in_channel",
            ),
            // Same name as C1, different ID: sorted by ID after name.
            audit_group(&input, &slack_group("C0", "bitsafe-alpha", &all)),
        ];
        summarize(
            &input,
            findings,
            vec!["Telegram skipped (--skip-telegram)".into()],
        )
    }

    #[test]
    fn findings_are_sorted_by_platform_name_id() {
        let r = result(false);
        let order: Vec<&str> = r.findings.iter().map(|f| f.group_id.as_str()).collect();
        assert_eq!(order, vec!["C0", "C1", "C2", "C6", "C5", "C4", "C3"]);
    }

    #[test]
    fn sorting_ignores_case_first() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let names = ["bitsafe-Zed", "BITSAFE-beta", "bitsafe-alpha"];
        let findings = names
            .iter()
            .map(|n| audit_group(&input, &slack_group(n, n, &[])))
            .collect();
        let r = summarize(&input, findings, vec![]);
        let order: Vec<&str> = r.findings.iter().map(|f| f.group_name.as_str()).collect();
        assert_eq!(order, vec!["bitsafe-alpha", "BITSAFE-beta", "bitsafe-Zed"]);
    }

    #[test]
    fn coverage_is_over_readable_default_category_groups() {
        let r = result(false);
        let s = &r.summary;
        assert_eq!(s.coverage_category, "BD Customer");
        // BD Customer: C0, C1, C5 complete; C2 has gaps; C6 unreadable (not counted).
        assert_eq!(s.coverage_groups, 4);
        assert_eq!(s.coverage_rate, Some(0.75));
    }

    #[test]
    fn counts_per_category_and_totals() {
        let r = result(false);
        let s = &r.summary;
        assert_eq!(s.groups, 7);
        assert_eq!(s.groups_with_gaps, 2);
        // C2 misses alice, bob, carol; C3 (Marketing) misses bob and gina.
        assert_eq!(s.missing_required_total, 5);
        assert_eq!(s.public_count, 1);
        assert_eq!(s.rename_count, 1);
        assert_eq!(s.errors, 1);
        assert_eq!(s.platforms, vec![Platform::Slack]);
        let names: Vec<&str> = s.per_category.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, vec!["Marketing", "Internal", "Intro", "BD Customer"]);
        let bd = &s.per_category[3];
        assert_eq!(
            (bd.groups, bd.complete, bd.with_gaps, bd.missing_required),
            (5, 3, 1, 3)
        );
        let intro = &s.per_category[2];
        assert_eq!((intro.groups, intro.complete), (0, 0));
        assert!(r.has_gaps());
    }

    #[test]
    fn no_default_category_groups_means_no_coverage_rate() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let f = audit_group(&input, &slack_group("C4", "bitsafe-internal", &[]));
        let r = summarize(&input, vec![f], vec![]);
        assert_eq!(r.summary.coverage_rate, None);
        assert!(!r.has_gaps());
    }

    #[test]
    fn unmatched_members_and_warnings_appear_once() {
        let r = result(true);
        assert_eq!(r.summary.unmatched_members, vec!["carol (slack)"]);
        let carol = r.warnings.iter().filter(|w| w.contains("`carol`")).count();
        assert_eq!(carol, 1, "{:?}", r.warnings);
        assert_eq!(
            r.warnings.last().map(String::as_str),
            Some("Telegram skipped (--skip-telegram)")
        );
        // carol now counts as missing in every BD Customer group.
        assert_eq!(r.summary.coverage_rate, Some(0.0));
    }

    #[test]
    fn an_unmatched_inactive_member_is_neither_unmatched_nor_warned_about() {
        let mut config = config();
        for m in &mut config.team.members {
            if m.handle == "carol" {
                m.status = roster::MemberStatus::Inactive;
            }
        }
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(true),
        };
        let f = audit_group(
            &input,
            &slack_group("C1", "bitsafe-acme", &["aki", "alice", "bob"]),
        );
        let r = summarize(&input, vec![f], vec![]);
        assert!(
            r.summary.unmatched_members.is_empty(),
            "{:?}",
            r.summary.unmatched_members
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.summary.coverage_rate, Some(1.0));
    }

    #[test]
    fn result_round_trips_through_json() {
        let r = result(true);
        let json = serde_json::to_string(&r).expect("serialize");
        assert!(json.contains(r#""platform":"slack""#), "{json}");
        let back: AuditResult = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, r);
    }
}
