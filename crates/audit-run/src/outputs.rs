//! What a run produces for people: the Excel workbook (Summary, Groups, Missing), the Groups CSV,
//! the summary lines (shared by `slack-audit`'s stdout and the panel) and the `--notify` message.
//!
//! Files go to `<out>/audit_reports/` twice: a timestamped copy that is never overwritten by a
//! later run (`slack-audit-YYYYMMDD-HHMMSS.xlsx`, `…-groups.csv`, UTC) and a stable
//! `slack-audit-latest.xlsx` / `slack-audit-latest-groups.csv` for links and scripts.

use std::path::{Path, PathBuf};

use audit::{Changes, GapChange, GroupFinding, GroupRef};
use jiff::Timestamp;
use report::{Cell, Column, Row, Table, Workbook};
use roster::{AuditConfig, Platform, Team};
use serde::Serialize;

use crate::engine::AuditRun;
use crate::notify::NotifyMessage;

/// Sub-directory of `--out` holding the reports.
pub const REPORTS_DIR: &str = "audit_reports";
/// Header of the Groups sheet and CSV: the names first, extra columns after.
pub const GROUP_COLUMNS: &[&str] = &[
    "platform",
    "group_id",
    "group_name",
    "category",
    "required_present",
    "required_total",
    "missing_required",
    "optional_present",
    "missing_optional",
    "excluded",
    "is_private",
    "flag_public",
    "flag_rename",
    "suggested_name",
    "is_ext_shared",
    "member_count",
    "completeness_pct",
    "error",
];
/// Gaps listed in the human summary and the notification.
const WORST_GAPS: usize = 5;

/// The files one run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReportPaths {
    pub xlsx: PathBuf,
    pub csv: PathBuf,
    pub latest_xlsx: PathBuf,
    pub latest_csv: PathBuf,
}

/// The Groups table: one row per audited group, gaps and unreadable groups highlighted.
pub fn groups_table(findings: &[GroupFinding]) -> Table {
    let mut table = Table::new("Groups", GROUP_COLUMNS.iter().copied());
    for f in findings {
        let row = Row::new(vec![
            Cell::text(f.platform.as_str()),
            group_id_cell(f),
            Cell::text(&f.group_name),
            Cell::text(&f.category),
            Cell::Int(i64::from(f.required_present)),
            Cell::Int(i64::from(f.required_total)),
            Cell::List(f.missing_required.clone()),
            Cell::Int(i64::from(f.optional_present)),
            Cell::List(f.missing_optional.clone()),
            Cell::List(f.excluded.clone()),
            Cell::Bool(f.is_private),
            Cell::Bool(f.flag_public),
            Cell::Bool(f.flag_rename),
            f.suggested_name.clone().into(),
            Cell::Bool(f.is_ext_shared),
            Cell::Int(i64::try_from(f.member_count).unwrap_or(i64::MAX)),
            Cell::Percent(f.completeness_pct),
            f.error.clone().into(),
        ]);
        table.push(row.highlighted(!f.missing_required.is_empty() || f.error.is_some()));
    }
    table
}

/// A group's ID cell. Telegram chat IDs are negative numbers: as text they would get the
/// formula-guard `'` (they start with `-`) and stop being the chat ID, so they go in as numbers.
fn group_id_cell(f: &GroupFinding) -> Cell {
    match (f.platform, f.group_id.parse::<i64>()) {
        (Platform::Telegram, Ok(id)) => Cell::Int(id),
        _ => Cell::text(&f.group_id),
    }
}

/// The Missing table: one row per group and missing required member, with the user ID to add
/// when the member resolved (ready for `add-members`) and the name from `team` when given (a
/// workbook regenerated from the store has neither resolutions nor, maybe, the team).
pub fn missing_table(run: &AuditRun, team: Option<&Team>) -> Table {
    let mut table = Table::new(
        "Missing",
        [
            Column::new("platform"),
            Column::new("group_id"),
            Column::new("group_name"),
            Column::new("category"),
            Column::new("handle"),
            Column::new("name"),
            Column::new("user_id"),
        ],
    );
    for f in run.result.findings.iter().filter(|f| f.error.is_none()) {
        let resolution = run.resolutions.get(&f.platform);
        for handle in &f.missing_required {
            let name = team
                .and_then(|t| t.member(handle))
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let user_id = resolution.and_then(|r| r.by_handle.get(handle)).cloned();
            table.push(Row::new(vec![
                Cell::text(f.platform.as_str()),
                group_id_cell(f),
                Cell::text(&f.group_name),
                Cell::text(&f.category),
                Cell::text(handle),
                Cell::text(name),
                user_id.into(),
            ]));
        }
    }
    table
}

/// The Summary sheet's pairs.
pub fn summary_pairs(run: &AuditRun, changes: Option<&Changes>) -> Vec<(String, Cell)> {
    let s = &run.result.summary;
    let mut pairs: Vec<(String, Cell)> = vec![
        (
            "Platforms".into(),
            Cell::text(
                run.platforms
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        (
            format!(
                "Coverage rate ({} groups with every required member)",
                s.coverage_category
            ),
            s.coverage_rate
                .map_or(Cell::Empty, |c| Cell::Percent(c * 100.0)),
        ),
        ("Groups audited".into(), Cell::Int(i64::from(s.groups))),
        (
            "Groups with gaps".into(),
            Cell::Int(i64::from(s.groups_with_gaps)),
        ),
        (
            "Required members missing (total)".into(),
            Cell::Int(i64::from(s.missing_required_total)),
        ),
    ];
    for c in &s.per_category {
        pairs.push((
            format!("{}: groups / complete / with gaps", c.category),
            Cell::text(format!("{} / {} / {}", c.groups, c.complete, c.with_gaps)),
        ));
    }
    pairs.push((
        "Public channels (should be private)".into(),
        Cell::Int(i64::from(s.public_count)),
    ));
    pairs.push((
        "Groups to rename".into(),
        Cell::Int(i64::from(s.rename_count)),
    ));
    pairs.push((
        "Unmatched team members".into(),
        Cell::List(s.unmatched_members.clone()),
    ));
    pairs.push((
        "Groups that could not be read".into(),
        Cell::Int(i64::from(s.errors)),
    ));
    match changes {
        Some(c) => {
            pairs.push((
                "Since previous run: new groups".into(),
                Cell::List(group_list(&c.new_groups)),
            ));
            pairs.push((
                "Since previous run: removed groups".into(),
                Cell::List(group_list(&c.removed_groups)),
            ));
            pairs.push((
                "Since previous run: gaps closed".into(),
                Cell::List(gap_list(&c.gaps_closed)),
            ));
            pairs.push((
                "Since previous run: gaps opened".into(),
                Cell::List(gap_list(&c.gaps_opened)),
            ));
            pairs.push((
                "Since previous run: coverage change (points)".into(),
                c.coverage_delta
                    .map_or(Cell::Empty, |d| Cell::Float(d * 100.0)),
            ));
        }
        None => pairs.push(("Since previous run".into(), Cell::text("first run"))),
    }
    for note in &run.skipped {
        pairs.push(("Skipped".into(), Cell::text(note)));
    }
    for w in &run.result.warnings {
        pairs.push(("Warning".into(), Cell::text(w)));
    }
    pairs
}

fn group_list(groups: &[GroupRef]) -> Vec<String> {
    groups.iter().map(|g| g.group_name.clone()).collect()
}

fn gap_list(gaps: &[GapChange]) -> Vec<String> {
    gaps.iter()
        .map(|g| format!("{}: {}", g.group_name, g.handle))
        .collect()
}

/// Writes the workbook and the Groups CSV (timestamped and `latest`) under `dir`.
pub fn write_reports(
    dir: &Path,
    started_at: Timestamp,
    config: &AuditConfig,
    run: &AuditRun,
    changes: Option<&Changes>,
) -> Result<ReportPaths, report::ReportError> {
    let stamp = started_at.strftime("%Y%m%d-%H%M%S").to_string();
    let paths = ReportPaths {
        xlsx: dir.join(format!("slack-audit-{stamp}.xlsx")),
        csv: dir.join(format!("slack-audit-{stamp}-groups.csv")),
        latest_xlsx: dir.join("slack-audit-latest.xlsx"),
        latest_csv: dir.join("slack-audit-latest-groups.csv"),
    };
    let workbook = workbook(run, Some(&config.team), changes);
    workbook.save(&paths.xlsx)?;
    workbook.save(&paths.latest_xlsx)?;
    let groups = groups_table(&run.result.findings);
    report::write_csv(&groups, &paths.csv)?;
    report::write_csv(&groups, &paths.latest_csv)?;
    Ok(paths)
}

/// The run's workbook: Summary, Groups and Missing sheets. `write_reports` saves it; the admin
/// panel regenerates it from the store when the run's file is gone.
pub fn workbook(
    run: &AuditRun,
    team: Option<&Team>,
    changes: Option<&Changes>,
) -> Workbook<'static> {
    Workbook::new()
        .summary_sheet("Summary", summary_pairs(run, changes))
        .sheet(groups_table(&run.result.findings))
        .sheet(missing_table(run, team))
}

/// The gaps worth showing first: most required members missing, then lowest completeness.
pub fn worst_gaps(run: &AuditRun) -> Vec<&GroupFinding> {
    let mut gaps: Vec<&GroupFinding> = run
        .result
        .findings
        .iter()
        .filter(|f| f.error.is_none() && !f.missing_required.is_empty())
        .collect();
    gaps.sort_by(|a, b| {
        b.missing_required
            .len()
            .cmp(&a.missing_required.len())
            .then(a.completeness_pct.total_cmp(&b.completeness_pct))
            .then_with(|| a.group_name.cmp(&b.group_name))
    });
    gaps.truncate(WORST_GAPS);
    gaps
}

/// One gap as the summary and the notification list it.
pub fn gap_line(f: &GroupFinding) -> String {
    format!(
        "{} ({}, {}): missing {} ({}/{} required)",
        f.group_name,
        f.platform,
        f.category,
        f.missing_required.join(", "),
        f.required_present,
        f.required_total
    )
}

/// The summary's headline lines, shared by stdout and the notification.
pub fn headline(run: &AuditRun, changes: Option<&Changes>) -> Vec<String> {
    let s = &run.result.summary;
    let mut lines = Vec::new();
    lines.push(match s.coverage_rate {
        Some(rate) => format!(
            "Coverage: {:.1}% of {} groups have every required member ({} of {})",
            rate * 100.0,
            s.coverage_category,
            (rate * f64::from(s.coverage_groups)).round(),
            s.coverage_groups
        ),
        None => format!(
            "Coverage: no readable {} groups in scope",
            s.coverage_category
        ),
    });
    lines.push(format!(
        "Groups audited: {}, with gaps: {}, required members missing: {}",
        s.groups, s.groups_with_gaps, s.missing_required_total
    ));
    if s.public_count > 0 || s.rename_count > 0 {
        lines.push(format!(
            "Flags: {} public (should be private), {} to rename",
            s.public_count, s.rename_count
        ));
    }
    if s.errors > 0 {
        lines.push(format!("Groups that could not be read: {}", s.errors));
    }
    lines.push(match changes {
        Some(c) => {
            let mut line = format!(
                "Since the previous run: {} new group(s), {} removed, {} gap(s) closed, {} opened",
                c.new_groups.len(),
                c.removed_groups.len(),
                c.gaps_closed.len(),
                c.gaps_opened.len()
            );
            if let Some(d) = c.coverage_delta {
                line.push_str(&format!(", coverage {:+.1} points", d * 100.0));
            }
            line
        }
        None => "Since the previous run: first recorded run".to_string(),
    });
    lines.extend(run.skipped.iter().cloned());
    lines
}

/// The `--notify` message for this run.
pub fn notify_message(run: &AuditRun, changes: Option<&Changes>) -> NotifyMessage {
    let title = match run.result.summary.coverage_rate {
        Some(rate) => format!("Customer coverage audit: {:.1}%", rate * 100.0),
        None => "Customer coverage audit".to_string(),
    };
    NotifyMessage {
        title,
        lines: headline(run, changes),
        gaps: worst_gaps(run).into_iter().map(gap_line).collect(),
    }
}
