//! Glue between the sources and the `audit` engine: resolve the team per platform, audit every
//! scanned group, summarise; then store the run and read the previous one back for the diff.

use std::collections::BTreeMap;

use audit::{AuditInput, AuditResult, GroupSnapshot};
use jiff::Timestamp;
use roster::{AuditConfig, Platform, Resolution, UserIndex, resolve_team};
use store::Store;
use store::audit::{Finding, NewAuditRun};
use tracing::warn;

use crate::source::PlatformScan;

/// One run's outcome: the engine's result plus what reports need besides it.
#[derive(Debug, Clone)]
pub struct AuditRun {
    pub result: AuditResult,
    /// Team member handle → user ID, per audited platform (the Missing sheet's `user_id`).
    pub resolutions: BTreeMap<Platform, Resolution>,
    /// Platforms audited, in order.
    pub platforms: Vec<Platform>,
    /// One line per platform not audited and why (e.g. "Telegram: skipped (not configured)").
    pub skipped: Vec<String>,
}

impl AuditRun {
    /// Whether a readable group misses a required member.
    pub fn has_gaps(&self) -> bool {
        self.result.has_gaps()
    }

    /// Groups whose members could not be read.
    pub fn group_errors(&self) -> u32 {
        self.result.summary.errors
    }
}

/// Audits the scanned groups of every platform against `config`.
pub fn audit(config: &AuditConfig, scans: Vec<PlatformScan>, skipped: Vec<String>) -> AuditRun {
    let mut resolutions = BTreeMap::new();
    for scan in &scans {
        let index = UserIndex::new(&scan.users);
        resolutions.insert(
            scan.platform,
            resolve_team(&config.team, scan.platform, &index),
        );
    }
    let input = AuditInput {
        config,
        resolutions,
    };
    let platforms: Vec<Platform> = scans.iter().map(|s| s.platform).collect();
    let mut findings = Vec::new();
    for scan in scans {
        for group in scan.groups {
            let snapshot = GroupSnapshot {
                platform: scan.platform,
                member_count: group.members.len() as u64,
                member_ids: group.members.into_iter().collect(),
                id: group.id,
                name: group.name,
                is_private: group.is_private,
                is_ext_shared: group.ext_shared,
                is_archived: group.is_archived,
            };
            findings.push(match group.error {
                None => audit::audit_group(&input, &snapshot),
                Some(error) => audit::audit_unreadable_group(&input, &snapshot, error),
            });
        }
    }
    let result = audit::summarize(&input, findings, Vec::new());
    AuditRun {
        result,
        resolutions: input.resolutions,
        platforms,
        skipped,
    }
}

/// The result of the latest stored run, for "changes since the previous run". A run stored by an
/// older build that no longer parses is skipped with a warning rather than failing this run.
pub fn previous_result(store: &Store) -> Option<AuditResult> {
    let latest = match store.latest_audit_run() {
        Ok(latest) => latest?,
        Err(e) => {
            warn!("cannot read the previous run: {e}");
            return None;
        }
    };
    let json = match store.audit_run_results(latest.id) {
        Ok(json) => json?,
        Err(e) => {
            warn!("cannot read the results of run {}: {e}", latest.id);
            return None;
        }
    };
    match serde_json::from_value(json) {
        Ok(result) => Some(result),
        Err(e) => {
            warn!(
                "run {} was stored in an older format ({e}); no changes shown",
                latest.id
            );
            None
        }
    }
}

/// Stores the results of run `run_id` (begun with `Store::begin_audit_run`): summary, full
/// results JSON, one finding row per group with a gap or an error; the run is then `finished`.
pub fn record(
    store: &mut Store,
    run_id: i64,
    started_at: Timestamp,
    run: &AuditRun,
) -> Result<(), store::StoreError> {
    let summary = &run.result.summary;
    let new_run = NewAuditRun {
        started_at,
        finished_at: Some(Timestamp::now()),
        platforms: run
            .platforms
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        groups: i64::from(summary.groups),
        groups_with_gaps: i64::from(summary.groups_with_gaps),
        missing_required: i64::from(summary.missing_required_total),
        coverage: summary.coverage_rate,
        results: serde_json::to_value(&run.result)?,
    };
    let findings: Vec<Finding> = run
        .result
        .findings
        .iter()
        .filter(|f| f.has_gaps() || f.error.is_some())
        .map(|f| Finding {
            platform: f.platform.as_str().to_string(),
            group_id: f.group_id.clone(),
            group_name: f.group_name.clone(),
            category: f.category.clone(),
            required_present: i64::from(f.required_present),
            required_total: i64::from(f.required_total),
            missing_required: f.missing_required.clone(),
            missing_optional: f.missing_optional.clone(),
            error: f.error.clone(),
        })
        .collect();
    store.finish_audit_run(run_id, &new_run, &findings)
}
