//! What changed between two runs: groups that appeared or disappeared, required members who
//! joined (gaps closed) or are newly missing (gaps opened), and the coverage change.
//!
//! Groups are identified by (platform, group ID), so a renamed channel is the same group. Gaps
//! are only compared where both runs could read the group; a group unreadable last time counts
//! like a new one (its gaps were never seen), and one unreadable now closes nothing.

use std::collections::BTreeMap;

use roster::Platform;
use serde::{Deserialize, Serialize};

use crate::finding::GroupFinding;
use crate::summary::AuditResult;

/// A group named in a change list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupRef {
    pub platform: Platform,
    pub group_id: String,
    /// The name in the run the group was seen in (the current run when in both).
    pub group_name: String,
}

/// One required member who joined or went missing in one group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GapChange {
    pub platform: Platform,
    pub group_id: String,
    pub group_name: String,
    pub handle: String,
}

/// Differences from the previous run to the current one; lists sorted like findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub new_groups: Vec<GroupRef>,
    pub removed_groups: Vec<GroupRef>,
    /// Required members missing last time and not missing now (joined, or no longer required).
    pub gaps_closed: Vec<GapChange>,
    /// Required members missing now and not last time, including the gaps of new groups.
    pub gaps_opened: Vec<GapChange>,
    /// Current minus previous coverage rate (fractions), when both runs have one.
    pub coverage_delta: Option<f64>,
}

impl Changes {
    /// Nothing changed (coverage delta aside, which follows from the rest).
    pub fn is_empty(&self) -> bool {
        self.new_groups.is_empty()
            && self.removed_groups.is_empty()
            && self.gaps_closed.is_empty()
            && self.gaps_opened.is_empty()
    }
}

/// Compares two runs.
pub fn diff(previous: &AuditResult, current: &AuditResult) -> Changes {
    let index = |r: &'_ AuditResult| -> BTreeMap<(Platform, String), usize> {
        r.findings
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.platform, f.group_id.clone()), i))
            .collect()
    };
    let (before, after) = (index(previous), index(current));
    let mut changes = Changes::default();

    for f in &previous.findings {
        if !after.contains_key(&(f.platform, f.group_id.clone())) {
            changes.removed_groups.push(group_ref(f));
        }
    }
    for cur in &current.findings {
        let prev = before
            .get(&(cur.platform, cur.group_id.clone()))
            .map(|&i| &previous.findings[i]);
        if prev.is_none() {
            changes.new_groups.push(group_ref(cur));
        }
        let (opened, closed) = member_changes(prev, cur);
        for handle in opened {
            changes.gaps_opened.push(gap(cur, handle));
        }
        for handle in closed {
            changes.gaps_closed.push(gap(cur, handle));
        }
    }
    // The same order as findings (see `summarize`), then by handle.
    let gap_key = |g: &GapChange| {
        (
            g.platform,
            g.group_name.to_lowercase(),
            g.group_name.clone(),
            g.group_id.clone(),
            g.handle.clone(),
        )
    };
    changes.gaps_opened.sort_by_cached_key(gap_key);
    changes.gaps_closed.sort_by_cached_key(gap_key);
    let group_key = |g: &GroupRef| {
        (
            g.platform,
            g.group_name.to_lowercase(),
            g.group_name.clone(),
            g.group_id.clone(),
        )
    };
    changes.new_groups.sort_by_cached_key(group_key);
    changes.removed_groups.sort_by_cached_key(group_key);
    changes.coverage_delta = match (
        previous.summary.coverage_rate,
        current.summary.coverage_rate,
    ) {
        (Some(p), Some(c)) => Some(c - p),
        _ => None,
    };
    changes
}

/// One group's required members who went missing (opened) and who are no longer missing
/// (closed) from its `previous` finding (`None`: not in the previous run) to its `current` one,
/// by the rules of [`diff`]: only where the current run could read the group, and a group
/// unreadable last time counts like a new one. Used per run pair by [`diff`] and by the admin
/// panel's history of one group.
pub fn member_changes<'a>(
    previous: Option<&'a GroupFinding>,
    current: &'a GroupFinding,
) -> (Vec<&'a str>, Vec<&'a str>) {
    if current.error.is_some() {
        return (Vec::new(), Vec::new());
    }
    let was_missing: &[String] = match previous {
        Some(p) if p.error.is_none() => &p.missing_required,
        _ => &[],
    };
    let opened = current
        .missing_required
        .iter()
        .filter(|h| !was_missing.contains(h))
        .map(String::as_str)
        .collect();
    let closed = was_missing
        .iter()
        .filter(|h| !current.missing_required.contains(h))
        .map(String::as_str)
        .collect();
    (opened, closed)
}

fn group_ref(f: &GroupFinding) -> GroupRef {
    GroupRef {
        platform: f.platform,
        group_id: f.group_id.clone(),
        group_name: f.group_name.clone(),
    }
}

fn gap(f: &GroupFinding, handle: &str) -> GapChange {
    GapChange {
        platform: f.platform,
        group_id: f.group_id.clone(),
        group_name: f.group_name.clone(),
        handle: handle.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::GroupSnapshot;
    use crate::finding::{AuditInput, audit_group, audit_unreadable_group};
    use crate::summary::summarize;
    use crate::testutil::{config, resolutions, slack_group};

    fn run(groups: &[GroupSnapshot], unreadable: &[&str]) -> AuditResult {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let findings = groups
            .iter()
            .map(|g| {
                if unreadable.contains(&g.id.as_str()) {
                    audit_unreadable_group(&input, g, "not_in_channel")
                } else {
                    audit_group(&input, g)
                }
            })
            .collect();
        summarize(&input, findings, vec![])
    }

    fn gaps(list: &[GapChange]) -> Vec<(String, String)> {
        list.iter()
            .map(|g| (g.group_id.clone(), g.handle.clone()))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn same_run_has_no_changes() {
        let groups = [slack_group("C1", "bitsafe-a", &["aki"])];
        let c = diff(&run(&groups, &[]), &run(&groups, &[]));
        assert!(c.is_empty());
        assert_eq!(c.coverage_delta, Some(0.0));
    }

    #[test]
    fn reports_new_and_removed_groups_and_gap_changes() {
        let all = ["aki", "alice", "bob", "carol"];
        let previous = run(
            &[
                slack_group("C1", "bitsafe-a", &["aki", "alice"]),
                slack_group("C2", "bitsafe-b", &all),
            ],
            &[],
        );
        let current = run(
            &[
                // alice left, bob and carol joined; renamed meanwhile (same ID).
                slack_group("C1", "bitsafe-a-renamed", &["aki", "bob", "carol"]),
                slack_group("C3", "bitsafe-c", &["aki", "alice", "bob"]),
            ],
            &[],
        );
        let c = diff(&previous, &current);
        assert_eq!(
            c.removed_groups,
            vec![GroupRef {
                platform: Platform::Slack,
                group_id: "C2".into(),
                group_name: "bitsafe-b".into()
            }]
        );
        assert_eq!(c.new_groups.len(), 1);
        assert_eq!(c.new_groups[0].group_id, "C3");
        assert_eq!(
            gaps(&c.gaps_closed),
            pairs(&[("C1", "bob"), ("C1", "carol")])
        );
        // alice newly missing in C1, and the new group's gap counts as opened.
        assert_eq!(
            gaps(&c.gaps_opened),
            pairs(&[("C1", "alice"), ("C3", "carol")])
        );
        assert_eq!(c.gaps_opened[0].group_name, "bitsafe-a-renamed");
        // Coverage: 1 of 2 complete before, 0 of 2 now.
        assert_eq!(c.coverage_delta, Some(-0.5));
    }

    #[test]
    fn unreadable_groups_neither_close_nor_hide_gaps() {
        let g = slack_group("C1", "bitsafe-a", &["aki"]);
        // Readable then unreadable: nothing closed.
        let c = diff(
            &run(std::slice::from_ref(&g), &[]),
            &run(std::slice::from_ref(&g), &["C1"]),
        );
        assert!(c.gaps_closed.is_empty() && c.gaps_opened.is_empty());
        assert_eq!(c.coverage_delta, None);
        // Unreadable then readable: its gaps are seen for the first time, so they are opened.
        let c = diff(
            &run(std::slice::from_ref(&g), &["C1"]),
            &run(std::slice::from_ref(&g), &[]),
        );
        assert_eq!(
            gaps(&c.gaps_opened),
            pairs(&[("C1", "alice"), ("C1", "bob"), ("C1", "carol")])
        );
        assert!(c.new_groups.is_empty());
    }

    #[test]
    fn member_changes_of_one_group_follow_the_run_diff() {
        let config = config();
        let input = AuditInput {
            config: &config,
            resolutions: resolutions(false),
        };
        let before = audit_group(&input, &slack_group("C1", "bitsafe-a", &["aki", "alice"]));
        let after = audit_group(&input, &slack_group("C1", "bitsafe-a", &["aki", "bob"]));
        assert_eq!(
            member_changes(Some(&before), &after),
            (vec!["alice"], vec!["bob"])
        );
        // First seen: every gap is opened.
        assert_eq!(
            member_changes(None, &after),
            (vec!["alice", "carol"], vec![])
        );
        // Unreadable now: nothing opened or closed; unreadable before: like first seen.
        let unreadable = audit_unreadable_group(&input, &slack_group("C1", "bitsafe-a", &[]), "x");
        assert_eq!(member_changes(Some(&before), &unreadable), (vec![], vec![]));
        assert_eq!(
            member_changes(Some(&unreadable), &after),
            member_changes(None, &after)
        );
    }

    #[test]
    fn groups_are_keyed_by_platform_and_id() {
        let slack = slack_group("1", "bitsafe-a", &["aki"]);
        let mut tg = slack.clone();
        tg.platform = Platform::Telegram;
        let config = config();
        let mut res = resolutions(false);
        res.insert(
            Platform::Telegram,
            roster::Resolution {
                by_handle: BTreeMap::new(),
                warnings: vec![],
            },
        );
        let input = AuditInput {
            config: &config,
            resolutions: res,
        };
        let previous = summarize(&input, vec![audit_group(&input, &slack)], vec![]);
        let current = summarize(
            &input,
            vec![audit_group(&input, &slack), audit_group(&input, &tg)],
            vec![],
        );
        let c = diff(&previous, &current);
        assert_eq!(c.new_groups.len(), 1);
        assert_eq!(c.new_groups[0].platform, Platform::Telegram);
    }
}
