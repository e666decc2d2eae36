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
    findings.sort_by(|a, b| {
        (a.platform, &a.group_name, &a.group_id).cmp(&(b.platform, &b.group_name, &b.group_id))
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
        .flat_map(|r| r.warnings.iter().map(ToString::to_string))
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
        for m in &team.members {
            if !resolution.by_handle.contains_key(&m.handle) {
                out.push(format!("{} ({platform})", m.handle));
            }
        }
    }
    out
}
