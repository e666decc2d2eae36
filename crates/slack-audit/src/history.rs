//! `slack-audit history`: past runs from the SQLite history, newest first, with who started each
//! and its state, and the coverage trend (change from the finished run before each one).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cli_support::Outcome;
use report::{Cell, Row, Table};
use serde_json::json;
use store::Store;
use store::audit::{AuditRunRow, AuditRunStatus};

/// Prints up to `limit` runs from `db` (a table, or JSON with `json`).
pub fn print_history(db: &Path, limit: usize, json: bool) -> anyhow::Result<Outcome> {
    // A file not there yet has no history (opening would create it); a PostgreSQL store is asked.
    let absent =
        matches!(store::Location::parse(db), Ok(store::Location::Sqlite(p)) if !p.exists());
    if absent {
        // Opening would create an empty database; say plainly that there is no history yet.
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "[]")?;
        } else {
            writeln!(
                out,
                "No audit runs recorded in {} yet.",
                store::shown_location(db)
            )?;
        }
        return Ok(Outcome::Success);
    }
    let store =
        Store::open(db).with_context(|| format!("opening {}", store::shown_location(db)))?;
    // A few more than shown, so the oldest shown run still gets its trend past runs that did
    // not finish.
    let runs = store.list_audit_runs(limit.saturating_add(10))?;
    let trend = |i: usize| -> Option<f64> {
        let run = runs.get(i)?;
        if run.status != AuditRunStatus::Finished {
            return None;
        }
        let before = runs[i + 1..]
            .iter()
            .find(|r| r.status == AuditRunStatus::Finished)?;
        Some((run.coverage? - before.coverage?) * 100.0)
    };
    let shown = &runs[..runs.len().min(limit)];
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<serde_json::Value> = shown
            .iter()
            .enumerate()
            .map(|(i, r)| run_json(r, trend(i)))
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    let mut table = Table::new(
        "History",
        [
            "run",
            "started (UTC)",
            "started by",
            "status",
            "platforms",
            "groups",
            "with gaps",
            "missing required",
            "coverage",
            "trend (points)",
        ],
    );
    for (i, r) in shown.iter().enumerate() {
        table.push(Row::new(vec![
            Cell::Int(r.id),
            Cell::text(r.started_at.strftime("%Y-%m-%d %H:%M").to_string()),
            r.started_by.clone().into(),
            Cell::text(r.status.as_str()),
            Cell::text(r.platforms.join(",")),
            Cell::Int(r.groups),
            Cell::Int(r.groups_with_gaps),
            Cell::Int(r.missing_required),
            r.coverage.map_or(Cell::Empty, |c| Cell::Percent(c * 100.0)),
            trend(i).map_or(Cell::Empty, |d| Cell::text(format!("{d:+.1}"))),
        ]));
    }
    write!(out, "{}", report::render_text(&table, None))?;
    Ok(Outcome::Success)
}

fn run_json(r: &AuditRunRow, trend: Option<f64>) -> serde_json::Value {
    json!({
        "id": r.id,
        "started_at": r.started_at.to_string(),
        "finished_at": r.finished_at.map(|t| t.to_string()),
        "started_by": r.started_by,
        "status": r.status.as_str(),
        "platforms": r.platforms,
        "groups": r.groups,
        "groups_with_gaps": r.groups_with_gaps,
        "missing_required": r.missing_required,
        "coverage": r.coverage,
        "coverage_change_points": trend,
    })
}
