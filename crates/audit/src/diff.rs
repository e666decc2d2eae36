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

type Key<'a> = (Platform, &'a str);

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
        if cur.error.is_some() {
            continue;
        }
        let was_missing: &[String] = match prev {
            Some(p) if p.error.is_none() => &p.missing_required,
            _ => &[],
        };
        for handle in cur
            .missing_required
            .iter()
            .filter(|h| !was_missing.contains(h))
        {
            changes.gaps_opened.push(gap(cur, handle));
        }
        for handle in was_missing
            .iter()
            .filter(|h| !cur.missing_required.contains(h))
        {
            changes.gaps_closed.push(gap(cur, handle));
        }
    }
    let order = |a: &GapChange, b: &GapChange| sort_key(a).cmp(&sort_key(b));
    changes.gaps_opened.sort_by(order);
    changes.gaps_closed.sort_by(order);
    let by_name = |a: &GroupRef, b: &GroupRef| {
        (a.platform, &a.group_name, &a.group_id).cmp(&(b.platform, &b.group_name, &b.group_id))
    };
    changes.new_groups.sort_by(by_name);
    changes.removed_groups.sort_by(by_name);
    changes.coverage_delta = match (
        previous.summary.coverage_rate,
        current.summary.coverage_rate,
    ) {
        (Some(p), Some(c)) => Some(c - p),
        _ => None,
    };
    changes
}

fn sort_key(g: &GapChange) -> (Key<'_>, &str, &str) {
    ((g.platform, &g.group_name), &g.group_id, &g.handle)
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
