//! Parsed audit results of finished runs, kept in memory: a finished run's results never change,
//! and parsing a 1000-group run's JSON on every request of its page (and every run's for a
//! group's history) would cost more than everything else the request does.
//!
//! An entry is keyed by the run's id *and* its start and end times, so a run deleted and its id
//! reused (SQLite may reuse the highest rowid) is never answered from the old entry. At most
//! [`CAPACITY`] runs are kept; the oldest ids go first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use audit::AuditResult;
use jiff::Timestamp;
use store::Store;
use store::audit::{AuditRunRow, AuditRunStatus};

use crate::error::AppResult;

/// Runs kept: a year of weekly runs, twice.
pub const CAPACITY: usize = 104;

type Entry = (Timestamp, Option<Timestamp>, Arc<AuditResult>);

#[derive(Default)]
pub struct ResultsCache {
    runs: Mutex<BTreeMap<i64, Entry>>,
}

impl ResultsCache {
    /// The parsed results of `run`, from memory or read from `store` (inside the caller's read
    /// transaction). `Ok(Err(why))` when the run has none to show: not finished, or stored by an
    /// older build in a shape that no longer parses.
    pub fn get(
        &self,
        store: &Store,
        run: &AuditRunRow,
    ) -> AppResult<Result<Arc<AuditResult>, String>> {
        if run.status != AuditRunStatus::Finished {
            return Ok(Err(format!(
                "this run is {}: it has no results",
                run.status
            )));
        }
        if let Some((started, finished, result)) = self.lock().get(&run.id)
            && (*started, *finished) == (run.started_at, run.finished_at)
        {
            return Ok(Ok(result.clone()));
        }
        let Some(json) = store.audit_run_results(run.id)? else {
            return Ok(Err("this run is no longer stored".to_string()));
        };
        let result: AuditResult = match serde_json::from_value(json) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(format!(
                    "its results were stored by an older build and cannot be read ({e})"
                )));
            }
        };
        let result = Arc::new(result);
        let mut runs = self.lock();
        runs.insert(run.id, (run.started_at, run.finished_at, result.clone()));
        while runs.len() > CAPACITY {
            runs.pop_first();
        }
        Ok(Ok(result))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Entry>> {
        // A panic while holding the lock leaves a consistent map (inserts and removals are whole).
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use store::audit::NewAuditRun;

    fn result_json(name: &str) -> serde_json::Value {
        json!({
            "findings": [{
                "platform": "slack", "group_id": "C1", "group_name": name, "category": "BD Customer",
                "required_present": 1, "required_total": 1, "missing_required": [],
                "optional_present": 0, "missing_optional": [], "excluded": [], "is_private": true,
                "flag_public": false, "flag_rename": false, "suggested_name": null,
                "is_ext_shared": false, "member_count": 1, "completeness_pct": 100.0, "error": null
            }],
            "summary": {
                "coverage_category": "BD Customer", "coverage_rate": 1.0, "coverage_groups": 1,
                "groups": 1, "groups_with_gaps": 0, "missing_required_total": 0,
                "per_category": [], "public_count": 0, "rename_count": 0,
                "unmatched_members": [], "errors": 0, "platforms": ["slack"]
            },
            "warnings": []
        })
    }

    fn insert(store: &mut Store, at: &str, name: &str) -> i64 {
        store
            .insert_audit_run(
                &NewAuditRun {
                    started_at: at.parse().expect("time"),
                    finished_at: Some(at.parse().expect("time")),
                    platforms: vec!["slack".into()],
                    groups: 1,
                    groups_with_gaps: 0,
                    missing_required: 0,
                    coverage: Some(1.0),
                    results: result_json(name),
                },
                &[],
            )
            .expect("stores")
    }

    #[test]
    fn a_reused_run_id_is_not_answered_from_the_old_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("db.sqlite")).expect("opens");
        let cache = ResultsCache::default();
        let id = insert(&mut store, "2026-01-01T09:00:00Z", "old");
        let row = store.audit_run(id).expect("reads").expect("row");
        let first = cache.get(&store, &row).expect("reads").expect("results");
        assert_eq!(first.findings[0].group_name, "old");
        let again = cache.get(&store, &row).expect("reads").expect("results");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second read is from memory"
        );

        // The run is deleted and its id reused by a newer run.
        store
            .db()
            .execute("DELETE FROM audit_runs WHERE id = ?1", [id])
            .expect("deletes");
        let reused = insert(&mut store, "2026-01-08T09:00:00Z", "new");
        assert_eq!(reused, id, "SQLite reused the rowid");
        let row = store.audit_run(reused).expect("reads").expect("row");
        let now = cache.get(&store, &row).expect("reads").expect("results");
        assert_eq!(now.findings[0].group_name, "new");

        let running = store
            .begin_audit_run(Timestamp::now(), "cli")
            .expect("begins");
        let row = store.audit_run(running).expect("reads").expect("row");
        assert!(cache.get(&store, &row).expect("reads").is_err());
    }
}
