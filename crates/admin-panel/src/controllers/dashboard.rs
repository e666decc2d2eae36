//! The Dashboard (`/`, `/api/v1/dashboard`): the latest audit per platform, the coverage trend,
//! the worst gaps, what changed since the previous run, the last insight sync and export, and a
//! warning when the newest audit is older than `--stale-days`.

use std::collections::BTreeMap;
use std::sync::Arc;

use audit::{AuditResult, Changes};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use store::Store;
use store::db::OptionalExt;

use crate::auth::Viewer;
use crate::controllers::groups::group_href;
use crate::controllers::helpers::csv_response;
use crate::error::AppResult;
use crate::results_cache::ResultsCache;
use crate::{AppState, layout};

/// How many gaps the "worst gaps" list shows.
const WORST_GAPS: usize = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/v1/dashboard", get(api))
}

/// Everything the dashboard shows (the JSON answer of `/api/v1/dashboard`).
#[derive(Debug, Serialize)]
pub struct Dashboard {
    /// The newest stored run, as its row says.
    pub latest_run: Option<RunFigures>,
    /// Per platform, figures from the newest run that audited it.
    pub platforms: Vec<PlatformFigures>,
    /// Coverage (share 0.0-1.0, as stored) of every run, oldest first.
    pub trend: Vec<TrendPoint>,
    pub worst_gaps: Vec<Gap>,
    /// From the run before the newest to the newest (`null` with fewer than two runs).
    pub changes: Option<Changes>,
    pub last_insight_sync: Option<SyncRun>,
    pub last_export: Option<ExportRun>,
    /// Set when the newest audit is older than `--stale-days` (or there is none).
    pub stale_warning: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    pub run_id: i64,
    pub started_at: String,
    pub platforms: Vec<String>,
    pub groups: i64,
    pub groups_with_gaps: i64,
    pub missing_required: i64,
    pub coverage: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformFigures {
    pub platform: String,
    pub run_id: i64,
    pub started_at: String,
    /// Share (0.0-1.0) of readable coverage-category groups with every required member.
    pub coverage: Option<f64>,
    pub groups: u32,
    pub groups_with_gaps: u32,
    pub missing_required: u32,
    pub public_flags: u32,
    pub rename_flags: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub run_id: i64,
    pub started_at: String,
    pub coverage: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub platform: String,
    pub group_id: String,
    pub group_name: String,
    pub category: String,
    pub required_present: i64,
    pub required_total: i64,
    pub missing_required: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SyncRun {
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub channels: i64,
    pub events: i64,
}

#[derive(Debug, Serialize)]
pub struct ExportRun {
    pub updated_at: String,
    pub channels: i64,
    pub complete_channels: i64,
    /// `complete` when every channel of the export finished, else `incomplete`.
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// `csv`: the worst gaps as CSV.
    pub format: Option<String>,
}

/// The part of the dashboard that comes from finished audit runs. A finished run never changes,
/// so this is computed once per state of the finished runs (see
/// [`store::Store::finished_audit_runs_fingerprint`]) and shared by every request until a run
/// finishes or is deleted: parsing the two newest runs of 1000 groups and diffing them on every
/// request was most of the dashboard's time.
#[derive(Debug)]
pub struct AuditFigures {
    latest_run: Option<RunFigures>,
    latest_started: Option<jiff::Timestamp>,
    platforms: Vec<PlatformFigures>,
    trend: Vec<TrendPoint>,
    worst_gaps: Vec<Gap>,
    changes: Option<Changes>,
}

/// The key [`AuditFigures`] are kept under.
pub type AuditFiguresKey = (i64, i64, String);

/// The dashboard as the store holds it now: the audit figures from `cache` when the finished runs
/// are unchanged since they were computed, the rest read fresh.
pub async fn fetch(state: &AppState) -> AppResult<Dashboard> {
    let (key, last_insight_sync, last_export) = state
        .read(|s| {
            crate::db::in_read_transaction(s, |s| {
                Ok((
                    s.finished_audit_runs_fingerprint()?,
                    last_insight_sync(s)?,
                    last_export(s)?,
                ))
            })
        })
        .await?;
    let results = state.results.clone();
    // Concurrent requests for the same key wait for one computation instead of each doing it.
    let audits = state
        .dashboard_cache
        .get_or_insert_async(&key, async move {
            state
                .read(move |s| {
                    crate::db::in_read_transaction(s, |s| audit_figures(s, &results)).map(Arc::new)
                })
                .await
        })
        .await?;
    let stale_days = state.settings.stale_days;
    let stale_warning = match audits.latest_started {
        None => Some("no audit has been stored yet: run slack-audit".to_string()),
        Some(started) => {
            let age = jiff::Timestamp::now().duration_since(started);
            let days = age.as_secs() / 86_400;
            (days >= i64::from(stale_days)).then(|| {
                format!(
                    "the newest audit is {days} days old (warning after {stale_days}): is the weekly slack-audit cron job running?"
                )
            })
        }
    };
    Ok(Dashboard {
        latest_run: audits.latest_run.clone(),
        platforms: audits.platforms.clone(),
        trend: audits.trend.clone(),
        worst_gaps: audits.worst_gaps.clone(),
        changes: audits.changes.clone(),
        last_insight_sync,
        last_export,
        stale_warning,
    })
}

fn audit_figures(store: &Store, results: &ResultsCache) -> AppResult<AuditFigures> {
    // Newest first, finished runs only: a run still going (or one that died) has no results, and
    // would show as a latest run of zeros and a dip in the trend.
    let runs: Vec<_> = store
        .list_audit_runs(usize::MAX)?
        .into_iter()
        .filter(|r| r.status == store::audit::AuditRunStatus::Finished)
        .collect();
    let latest = runs.first();
    let mut platforms: BTreeMap<String, PlatformFigures> = BTreeMap::new();
    let mut latest_result: Option<Arc<AuditResult>> = None;
    let mut previous_result: Option<Arc<AuditResult>> = None;
    for (i, run) in runs.iter().enumerate() {
        let need_platform = run.platforms.iter().any(|p| !platforms.contains_key(p));
        if !need_platform && i > 1 {
            continue;
        }
        // Runs from older builds may not parse as today's results; they still count in the trend.
        let Ok(result) = results.get(store, run)? else {
            continue;
        };
        for p in &run.platforms {
            if !platforms.contains_key(p) {
                platforms.insert(p.clone(), platform_figures(p, run, &result));
            }
        }
        match i {
            0 => latest_result = Some(result),
            1 => previous_result = Some(result),
            _ => {}
        }
    }
    let changes = match (&previous_result, &latest_result) {
        (Some(prev), Some(cur)) => Some(audit::diff(prev, cur)),
        _ => None,
    };
    let mut worst_gaps: Vec<Gap> = match latest {
        Some(run) => store
            .audit_findings(run.id)?
            .into_iter()
            .filter(|f| f.error.is_none() && !f.missing_required.is_empty())
            .map(|f| Gap {
                platform: f.platform,
                group_id: f.group_id,
                group_name: f.group_name,
                category: f.category,
                required_present: f.required_present,
                required_total: f.required_total,
                missing_required: f.missing_required,
            })
            .collect(),
        None => Vec::new(),
    };
    // Most missing first; ties by name so the list is stable.
    worst_gaps.sort_by(|a, b| {
        b.missing_required
            .len()
            .cmp(&a.missing_required.len())
            .then_with(|| a.group_name.cmp(&b.group_name))
    });
    worst_gaps.truncate(WORST_GAPS);

    Ok(AuditFigures {
        latest_started: latest.map(|r| r.started_at),
        latest_run: latest.map(|r| RunFigures {
            run_id: r.id,
            started_at: store::format_time(r.started_at),
            platforms: r.platforms.clone(),
            groups: r.groups,
            groups_with_gaps: r.groups_with_gaps,
            missing_required: r.missing_required,
            coverage: r.coverage,
        }),
        platforms: platforms.into_values().collect(),
        trend: runs
            .iter()
            .rev()
            .map(|r| TrendPoint {
                run_id: r.id,
                started_at: store::format_time(r.started_at),
                coverage: r.coverage,
            })
            .collect(),
        worst_gaps,
        changes,
    })
}

fn platform_figures(
    platform: &str,
    run: &store::audit::AuditRunRow,
    r: &AuditResult,
) -> PlatformFigures {
    let mine: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.platform.to_string() == platform)
        .collect();
    let covered: Vec<_> = mine
        .iter()
        .filter(|f| f.error.is_none() && f.category == r.summary.coverage_category)
        .collect();
    let complete = covered
        .iter()
        .filter(|f| f.missing_required.is_empty())
        .count();
    let count = |pred: &dyn Fn(&&&audit::GroupFinding) -> bool| {
        u32::try_from(mine.iter().filter(pred).count()).unwrap_or(u32::MAX)
    };
    PlatformFigures {
        platform: platform.to_string(),
        run_id: run.id,
        started_at: store::format_time(run.started_at),
        coverage: (!covered.is_empty()).then(|| complete as f64 / covered.len() as f64),
        groups: u32::try_from(mine.len()).unwrap_or(u32::MAX),
        groups_with_gaps: count(&|f| f.has_gaps()),
        missing_required: mine
            .iter()
            .filter(|f| f.error.is_none())
            .map(|f| u32::try_from(f.missing_required.len()).unwrap_or(u32::MAX))
            .sum(),
        public_flags: count(&|f| f.flag_public),
        rename_flags: count(&|f| f.flag_rename),
    }
}

fn last_insight_sync(store: &Store) -> AppResult<Option<SyncRun>> {
    Ok(store
        .db()
        .query_row(
            "SELECT started_at, finished_at, status, channels, events FROM insight_sync_runs
             ORDER BY run_id DESC LIMIT 1",
            [],
            |r| {
                Ok(SyncRun {
                    started_at: r.get(0)?,
                    finished_at: r.get(1)?,
                    status: r.get(2)?,
                    channels: r.get(3)?,
                    events: r.get(4)?,
                })
            },
        )
        .optional()?)
}

fn last_export(store: &Store) -> AppResult<Option<ExportRun>> {
    // An export is one output directory (export_key); the newest is the one touched last.
    Ok(store
        .db()
        .query_row(
            "SELECT MAX(updated_at), COUNT(*), SUM(complete) FROM export_channels
             WHERE export_key = (SELECT export_key FROM export_channels ORDER BY updated_at DESC LIMIT 1)",
            [],
            |r| {
                let updated: Option<String> = r.get(0)?;
                let channels: i64 = r.get(1)?;
                let complete: Option<i64> = r.get(2)?;
                Ok(updated.map(|updated_at| {
                    let complete = complete.unwrap_or(0);
                    ExportRun {
                        updated_at,
                        channels,
                        complete_channels: complete,
                        status: if complete == channels { "complete" } else { "incomplete" }
                            .to_string(),
                    }
                }))
            },
        )?)
}

async fn api(State(state): State<AppState>, _viewer: Viewer) -> AppResult<Json<Dashboard>> {
    Ok(Json(fetch(&state).await?))
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<DashboardQuery>,
) -> AppResult<Response> {
    let d = fetch(&state).await?;
    if q.format.as_deref() == Some("csv") {
        let rows = d
            .worst_gaps
            .iter()
            .map(|g| {
                vec![
                    g.platform.clone(),
                    g.group_name.clone(),
                    g.category.clone(),
                    g.required_present.to_string(),
                    g.required_total.to_string(),
                    g.missing_required.join(" "),
                ]
            })
            .collect();
        return Ok(csv_response(
            "worst-gaps.csv",
            &[
                "platform",
                "group",
                "category",
                "required_present",
                "required_total",
                "missing_required",
            ],
            rows,
        ));
    }
    Ok(layout::page("Dashboard", Some(&viewer), render(&d)).into_response())
}

/// A stored coverage share (slack-audit stores 0.0-1.0) as a percentage.
fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".to_string())
}

fn render(d: &Dashboard) -> Markup {
    html! {
        @if let Some(w) = &d.stale_warning { p.warning id="stale-warning" { (w) } }
        @if let Some(run) = &d.latest_run {
            p.muted { "Latest audit: " a href={"/audits/" (run.run_id)} { "run " (run.run_id) } " at " (run.started_at) " (" (run.platforms.join(", ")) ")" }
            div.cards {
                div.card id="latest-run" {
                    div { "All platforms" }
                    div.big data-field="coverage" { (pct(run.coverage)) }
                    dl {
                        dt { "Groups" } dd data-field="groups" { (run.groups) }
                        dt { "With gaps" } dd data-field="groups_with_gaps" { (run.groups_with_gaps) }
                        dt { "Required missing" } dd data-field="missing_required" { (run.missing_required) }
                    }
                }
                @for p in &d.platforms {
                    div.card data-platform=(p.platform) {
                        div { (p.platform) " · run " (p.run_id) }
                        div.big { (pct(p.coverage)) }
                        dl {
                            dt { "Groups" } dd { (p.groups) }
                            dt { "With gaps" } dd { (p.groups_with_gaps) }
                            dt { "Required missing" } dd { (p.missing_required) }
                            dt { "Public (should be private)" } dd { (p.public_flags) }
                            dt { "Rename suggested" } dd { (p.rename_flags) }
                        }
                    }
                }
            }
        }
        h2 { "Coverage over all runs" }
        div.chart { (trend_chart(&d.trend)) }
        h2 { "Worst gaps" }
        @if d.worst_gaps.is_empty() {
            p.muted { "No group misses a required member." }
        } @else {
            p.links { a href="/?format=csv" { "Download CSV" } }
            table id="worst-gaps" {
                thead { tr { th { "Platform" } th { "Group" } th { "Category" } th { "Required present" } th { "Missing" } } }
                tbody {
                    @for g in &d.worst_gaps {
                        tr {
                            td { (g.platform) } td { a href=(group_href(&g.platform, &g.group_id)) { (g.group_name) } } td { (g.category) }
                            td.num { (g.required_present) " / " (g.required_total) }
                            td { (g.missing_required.join(", ")) }
                        }
                    }
                }
            }
        }
        h2 { "Since the previous run" }
        @match &d.changes {
            None => p.muted { "Fewer than two runs stored." },
            Some(c) => {
                @if c.is_empty() { p.muted { "Nothing changed." } }
                ul id="changes" {
                    @if let Some(delta) = c.coverage_delta { li { "Coverage " (format!("{:+.1}", delta * 100.0)) " points" } }
                    @for g in &c.new_groups { li { "New group: " (g.group_name) " (" (g.platform.to_string()) ")" } }
                    @for g in &c.removed_groups { li { "Gone: " (g.group_name) " (" (g.platform.to_string()) ")" } }
                    @for g in &c.gaps_opened { li { (g.handle) " now missing from " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } } }
                    @for g in &c.gaps_closed { li { (g.handle) " no longer missing from " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } } }
                }
            }
        }
        h2 { "Other runs" }
        table {
            thead { tr { th { "Job" } th { "When" } th { "Status" } th { "Figures" } } }
            tbody {
                tr {
                    td { "insight-sync" }
                    @if let Some(s) = &d.last_insight_sync {
                        td { (s.started_at) } td class={"status-" (s.status)} { (s.status) }
                        td { (s.channels) " channels, " (s.events) " events" }
                    } @else { td colspan="3" .muted { "never run" } }
                }
                tr {
                    td { "slack-export" }
                    @if let Some(e) = &d.last_export {
                        td { (e.updated_at) } td { (e.status) }
                        td { (e.complete_channels) " of " (e.channels) " channels complete" }
                    } @else { td colspan="3" .muted { "never run" } }
                }
            }
        }
    }
}

/// The coverage trend as an inline SVG line chart (no script: rendered on the server).
fn trend_chart(points: &[TrendPoint]) -> Markup {
    let (w, h, pad) = (720.0_f64, 200.0_f64, 30.0_f64);
    let with: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.coverage.map(|c| (i, c)))
        .collect();
    if with.is_empty() {
        return html! { p.muted { "No run with a coverage figure yet." } };
    }
    let n = points.len().max(2) - 1;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n as f64;
    // Coverage is a share 0.0-1.0.
    let y = |c: f64| h - pad - (h - 2.0 * pad) * c.clamp(0.0, 1.0);
    let path: Vec<String> = with
        .iter()
        .map(|(i, c)| format!("{:.1},{:.1}", x(*i), y(*c)))
        .collect();
    let first = points
        .first()
        .map(|p| p.started_at.get(..10).unwrap_or(""))
        .unwrap_or("");
    let last = points
        .last()
        .map(|p| p.started_at.get(..10).unwrap_or(""))
        .unwrap_or("");
    html! {
        svg viewBox={"0 0 " (w) " " (h)} role="img" aria-label="Coverage per run, percent" {
            line.axis x1=(pad) y1=(y(0.0)) x2=(w - pad) y2=(y(0.0)) {}
            line.axis x1=(pad) y1=(y(1.0)) x2=(w - pad) y2=(y(1.0)) {}
            text x="2" y=(y(1.0) + 4.0) { "100%" }
            text x="8" y=(y(0.0) + 4.0) { "0%" }
            polyline.line points=(path.join(" ")) {}
            @for (i, c) in &with {
                circle.dot cx=(format!("{:.1}", x(*i))) cy=(format!("{:.1}", y(*c))) r="3" {
                    title { (format!("run {}: {:.1}%", points[*i].run_id, c * 100.0)) }
                }
            }
            text x=(pad) y=(h - 8.0) { (first) }
            text x=(w - pad - 60.0) y=(h - 8.0) { (last) }
        }
    }
}
