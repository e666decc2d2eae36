//! Audits: the run history (`/audits`, `/api/v1/audits`), one run with its findings filtered
//! and sorted, the changes since the previous finished run (`/audits/{id}`,
//! `/api/v1/audits/{id}`, `/api/v1/audits/{id}/findings`), and the run's Excel and CSV
//! (`/audits/{id}/report.xlsx`, `.csv`): the files slack-audit wrote when they are still on disk,
//! else regenerated from the store with the same writers (`audit_run::outputs`).
//!
//! A run's findings come from the results JSON stored with it (every audited group, with its
//! flags); the `audit_findings` table holds only the groups with gaps or errors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use audit::{AuditResult, AuditSummary, Changes, GroupFinding, Platform};
use audit_run::AuditRun;
use audit_run::outputs::{self, REPORTS_DIR};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use store::Store;
use store::audit::AuditRunRow;

use crate::auth::Viewer;
use crate::controllers::groups::{enc, group_href};
use crate::controllers::helpers::{ListQuery, Page, csv_response};
use crate::error::{AppError, AppResult};
use crate::results_cache::ResultsCache;
use crate::{AppState, layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audits", get(list_page))
        .route("/api/v1/audits", get(list_api))
        .route("/audits/{id}", get(run_page))
        .route("/api/v1/audits/{id}", get(run_api))
        .route("/api/v1/audits/{id}/findings", get(findings_api))
        .route("/audits/{id}/report.xlsx", get(report_xlsx))
        .route("/audits/{id}/report.csv", get(report_csv))
}

/// One run of the history.
#[derive(Debug, Clone, Serialize)]
pub struct RunItem {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Seconds from start to end; `null` while running or when interrupted.
    pub duration_secs: Option<f64>,
    /// `cli`, `panel:<username>`, `demo`; `null` for runs recorded before this was kept.
    pub started_by: Option<String>,
    /// `running`, `finished`, `failed` or `interrupted`.
    pub status: String,
    pub platforms: Vec<String>,
    pub groups: i64,
    pub groups_with_gaps: i64,
    pub missing_required: i64,
    /// Share 0.0-1.0 of coverage-category groups with every required member, as stored.
    pub coverage: Option<f64>,
}

impl From<&AuditRunRow> for RunItem {
    fn from(r: &AuditRunRow) -> RunItem {
        RunItem {
            id: r.id,
            started_at: store::format_time(r.started_at),
            finished_at: r.finished_at.map(store::format_time),
            duration_secs: r
                .finished_at
                .map(|f| f.duration_since(r.started_at).as_secs_f64()),
            started_by: r.started_by.clone(),
            status: r.status.as_str().to_string(),
            platforms: r.platforms.clone(),
            groups: r.groups,
            groups_with_gaps: r.groups_with_gaps,
            missing_required: r.missing_required,
            coverage: r.coverage,
        }
    }
}

const RUN_CSV_HEADER: &[&str] = &[
    "id",
    "started_at",
    "finished_at",
    "duration_secs",
    "started_by",
    "status",
    "platforms",
    "groups",
    "groups_with_gaps",
    "missing_required",
    "coverage",
];

fn run_csv_row(r: &RunItem) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    vec![
        r.id.to_string(),
        r.started_at.clone(),
        opt(r.finished_at.clone()),
        opt(r.duration_secs.map(|d| format!("{d:.3}"))),
        opt(r.started_by.clone()),
        r.status.clone(),
        r.platforms.join(" "),
        r.groups.to_string(),
        r.groups_with_gaps.to_string(),
        r.missing_required.to_string(),
        opt(r.coverage.map(|c| format!("{c:.4}"))),
    ]
}

async fn runs_page(state: &AppState, q: &ListQuery) -> AppResult<Page<RunItem>> {
    let (limit, before) = (q.limit()?, q.before()?);
    let rows = state
        .read(move |s| Ok(s.audit_runs_page(before, limit + 1)?))
        .await?;
    let items: Vec<RunItem> = rows.iter().map(RunItem::from).collect();
    Ok(Page::from_rows(items, limit, |r| r.id))
}

async fn list_api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let page = runs_page(&state, &q).await?;
    if q.wants_csv() {
        return Ok(runs_csv(&page));
    }
    Ok(Json(page).into_response())
}

fn runs_csv(page: &Page<RunItem>) -> Response {
    csv_response(
        "audit-runs.csv",
        RUN_CSV_HEADER,
        page.items.iter().map(run_csv_row).collect(),
    )
}

async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let page = runs_page(&state, &q).await?;
    if q.wants_csv() {
        return Ok(runs_csv(&page));
    }
    let limit = q.limit.map(|l| format!("&limit={l}")).unwrap_or_default();
    let body = html! {
        p.links {
            a href={"/api/v1/audits?format=csv" (limit) (q.cursor.as_deref().map(|c| format!("&cursor={}", enc(c))).unwrap_or_default())} { "CSV" }
            a href="/api/v1/audits" { "JSON" }
        }
        @if page.items.is_empty() {
            p.muted { "No audit run stored yet: run slack-audit." }
        } @else {
            table id="runs" {
                thead { tr {
                    th { "Run" } th { "Started" } th { "Platforms" } th { "Coverage" } th { "Groups" }
                    th { "With gaps" } th { "Required missing" } th { "Duration" } th { "Started by" } th { "Status" }
                } }
                tbody { @for r in &page.items { tr {
                    td.num { a href={"/audits/" (r.id)} { (r.id) } }
                    td title=(r.started_at) { (when(&r.started_at)) }
                    td { (r.platforms.join(", ")) }
                    td.num { (pct(r.coverage)) }
                    td.num { (r.groups) } td.num { (r.groups_with_gaps) } td.num { (r.missing_required) }
                    td.num { (duration(r.duration_secs)) }
                    td { (r.started_by.as_deref().unwrap_or("–")) }
                    td class={"status-" (r.status)} { (r.status) }
                } } }
            }
            @if let Some(next) = &page.next_cursor {
                p.links { a id="older" href={"/audits?cursor=" (enc(next)) (limit)} { "Older runs →" } }
            }
        }
    };
    Ok(layout::page("Audits", Some(&viewer), body).into_response())
}

/// A stored coverage share as a percentage.
pub fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".to_string())
}

/// A stored time (`2026-12-03T09:42:40.547Z`) as pages show it: `2026-12-03 09:42:40 UTC`.
pub fn when(stored: &str) -> String {
    match stored.get(..19) {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => stored.to_string(),
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "–".to_string(),
        Some(s) if s < 10.0 => format!("{s:.2} s"),
        Some(s) if s < 60.0 => format!("{s:.1} s"),
        Some(s) => {
            let s = s.round() as u64;
            format!("{}m {:02}s", s / 60, s % 60)
        }
    }
}

// ---- one run ----------------------------------------------------------------------------------

/// The filters and order of a run's findings, as query parameters (a plain GET form sends them;
/// empty values mean "any").
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsQuery {
    /// `slack` or `telegram`.
    pub platform: Option<String>,
    /// A category name, exactly.
    pub category: Option<String>,
    /// `1`: only readable groups missing a required member.
    pub gaps: Option<String>,
    /// `public` (public, should be private), `rename` (a rename rule applies) or `unreadable`.
    pub flag: Option<String>,
    /// `name` (A-Z), `coverage` (lowest first) or `missing` (most missing first); default: the
    /// report's order (platform, then name).
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    pub format: Option<String>,
}

const FLAGS: &[&str] = &["public", "rename", "unreadable"];
const SORTS: &[&str] = &["name", "coverage", "missing"];

/// The parsed filters.
#[derive(Debug, Default, Clone, PartialEq)]
struct Filters {
    platform: Option<Platform>,
    category: Option<String>,
    gaps_only: bool,
    flag: Option<&'static str>,
    sort: Option<&'static str>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl FindingsQuery {
    fn filters(&self) -> AppResult<Filters> {
        let platform = match non_empty(&self.platform) {
            None => None,
            Some("slack") => Some(Platform::Slack),
            Some("telegram") => Some(Platform::Telegram),
            Some(other) => {
                return Err(AppError::BadRequest(format!(
                    "platform {other:?} is not one of: slack, telegram (or leave it empty for both)"
                )));
            }
        };
        let gaps_only = match non_empty(&self.gaps) {
            None | Some("0" | "false") => false,
            Some("1" | "true" | "on") => true,
            Some(other) => {
                return Err(AppError::BadRequest(format!(
                    "gaps {other:?} is not 1 or 0 (1: only groups missing a required member)"
                )));
            }
        };
        let pick = |what: &str, v: Option<&str>, allowed: &[&'static str]| match v {
            None => Ok(None),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "{what} {v:?} is not one of: {}",
                        allowed.join(", ")
                    ))
                }),
        };
        Ok(Filters {
            platform,
            category: non_empty(&self.category).map(str::to_string),
            gaps_only,
            flag: pick("flag", non_empty(&self.flag), FLAGS)?,
            sort: pick("sort", non_empty(&self.sort), SORTS)?,
        })
    }

    fn list(&self) -> ListQuery {
        ListQuery {
            cursor: self.cursor.clone(),
            limit: self.limit,
            format: self.format.clone(),
        }
    }

    /// The filters as a query string (no cursor, limit or format), for links that keep them.
    fn filter_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("platform", &self.platform),
            ("category", &self.category),
            ("gaps", &self.gaps),
            ("flag", &self.flag),
            ("sort", &self.sort),
        ] {
            if let Some(v) = non_empty(v) {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        parts.join("&")
    }
}

impl Filters {
    fn matches(&self, f: &GroupFinding) -> bool {
        self.platform.is_none_or(|p| f.platform == p)
            && self.category.as_deref().is_none_or(|c| f.category == c)
            && (!self.gaps_only || f.has_gaps())
            && match self.flag {
                Some("public") => f.flag_public,
                Some("rename") => f.flag_rename,
                Some("unreadable") => f.error.is_some(),
                _ => true,
            }
    }

    /// The findings that pass, in the chosen order.
    fn apply<'a>(&self, findings: &'a [GroupFinding]) -> Vec<&'a GroupFinding> {
        let mut out: Vec<&GroupFinding> = findings.iter().filter(|f| self.matches(f)).collect();
        let by_name = |f: &GroupFinding| {
            (
                f.group_name.to_lowercase(),
                f.group_name.clone(),
                f.platform,
                f.group_id.clone(),
            )
        };
        match self.sort {
            Some("name") => out.sort_by_cached_key(|f| by_name(f)),
            Some("coverage") => out.sort_by(|a, b| {
                a.completeness_pct
                    .total_cmp(&b.completeness_pct)
                    .then_with(|| by_name(a).cmp(&by_name(b)))
            }),
            Some("missing") => out.sort_by(|a, b| {
                b.missing_required
                    .len()
                    .cmp(&a.missing_required.len())
                    .then_with(|| a.completeness_pct.total_cmp(&b.completeness_pct))
                    .then_with(|| by_name(a).cmp(&by_name(b)))
            }),
            // The stored order: the report's (platform, name, id).
            _ => {}
        }
        out
    }
}

/// A run with its results and the previous finished run's, read in one transaction.
struct LoadedRun {
    row: AuditRunRow,
    /// `None` when the run has no results (not finished) or they no longer parse.
    result: Option<Arc<AuditResult>>,
    /// Why `result` is `None`.
    result_error: Option<String>,
    previous: Option<(AuditRunRow, Option<Arc<AuditResult>>)>,
}

impl LoadedRun {
    fn changes(&self) -> Option<Changes> {
        match (&self.previous, &self.result) {
            (Some((_, Some(prev))), Some(cur)) => {
                Some(audit_run::changes_since(AuditResult::clone(prev), cur))
            }
            _ => None,
        }
    }
}

fn load_run(s: &Store, cache: &ResultsCache, id: i64, with_previous: bool) -> AppResult<LoadedRun> {
    crate::db::in_read_transaction(s, |s| {
        let row = s.audit_run(id)?.ok_or(AppError::NotFound)?;
        let (result, result_error) = match cache.get(s, &row)? {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        let previous = if with_previous {
            match s.previous_audit_run(id)? {
                Some(p) => {
                    let r = cache.get(s, &p)?.ok();
                    Some((p, r))
                }
                None => None,
            }
        } else {
            None
        };
        Ok(LoadedRun {
            row,
            result,
            result_error,
            previous,
        })
    })
}

/// `/api/v1/audits/{id}`.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub run: RunItem,
    /// The run's summary (per category, flags, unmatched members); `null` without results.
    pub summary: Option<AuditSummary>,
    pub warnings: Vec<String>,
    /// Why there are no results (`null` when there are).
    pub results_note: Option<String>,
    /// The finished run before this one, which `changes` compares with.
    pub previous_run_id: Option<i64>,
    pub changes: Option<Changes>,
    pub report_xlsx: String,
    pub report_csv: String,
}

async fn run_api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Json<RunDetail>> {
    let cache = state.results.clone();
    let run = state.read(move |s| load_run(s, &cache, id, true)).await?;
    let changes = run.changes();
    Ok(Json(RunDetail {
        run: RunItem::from(&run.row),
        summary: run.result.as_ref().map(|r| r.summary.clone()),
        warnings: run
            .result
            .as_ref()
            .map(|r| r.warnings.clone())
            .unwrap_or_default(),
        results_note: run.result_error.clone(),
        previous_run_id: run.previous.as_ref().map(|(p, _)| p.id),
        changes,
        report_xlsx: format!("/audits/{id}/report.xlsx"),
        report_csv: format!("/audits/{id}/report.csv"),
    }))
}

/// The Groups CSV slack-audit writes, for `findings` (same columns and cell rules).
fn groups_csv(filename: &str, findings: &[GroupFinding]) -> AppResult<Response> {
    let mut body = Vec::new();
    report::write_csv_to(&outputs::groups_table(findings), &mut body)
        .map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    Ok(download(filename, "text/csv; charset=utf-8", body, None))
}

fn download(filename: &str, content_type: &str, body: Vec<u8>, source: Option<&str>) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(source) = source {
        resp.headers_mut().insert(
            "x-report-source",
            axum::http::HeaderValue::from_str(source)
                .unwrap_or(axum::http::HeaderValue::from_static("?")),
        );
    }
    resp
}

fn results_or_404(run: &LoadedRun) -> AppResult<&AuditResult> {
    run.result.as_deref().ok_or(AppError::NotFound)
}

async fn findings_api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<FindingsQuery>,
) -> AppResult<Response> {
    let filters = q.filters()?;
    let list = q.list();
    let (limit, offset) = (list.limit()?, list.before()?.unwrap_or(0));
    if offset < 0 {
        return Err(AppError::BadRequest(format!(
            "cursor {offset} is not one this server gave out"
        )));
    }
    let cache = state.results.clone();
    let run = state.read(move |s| load_run(s, &cache, id, false)).await?;
    let result = results_or_404(&run)?;
    let picked = filters.apply(&result.findings);
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(picked.len());
    let end = start.saturating_add(limit).min(picked.len());
    let items: Vec<GroupFinding> = picked[start..end].iter().map(|f| (*f).clone()).collect();
    let next_cursor = (end < picked.len()).then(|| end.to_string());
    if list.wants_csv() {
        return groups_csv(&format!("audit-{id}-findings.csv"), &items);
    }
    Ok(Json(Page { items, next_cursor }).into_response())
}

async fn run_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<FindingsQuery>,
) -> AppResult<Response> {
    let filters = q.filters()?;
    let cache = state.results.clone();
    let run = state.read(move |s| load_run(s, &cache, id, true)).await?;
    let picked: Vec<&GroupFinding> = run
        .result
        .as_ref()
        .map(|r| filters.apply(&r.findings))
        .unwrap_or_default();
    if q.format.as_deref() == Some("csv") {
        // Exactly the rows the page shows for these filters.
        results_or_404(&run)?;
        let rows: Vec<GroupFinding> = picked.iter().map(|f| (*f).clone()).collect();
        return groups_csv(&format!("audit-{id}-findings.csv"), &rows);
    }
    let title = format!("Audit run {id}");
    // A run's rows (its own and the previous run's) say everything the content is made from
    // besides the query: a running run finishing, or another run between them, is a new key.
    let key = format!(
        "run|{:?}|{:?}|{:?}|{q:?}",
        run.row,
        run.result_error,
        run.previous.as_ref().map(|(p, _)| p)
    );
    let content = state
        .rendered
        .get_or_render(key, || {
            Ok(render_run(&run, &q, &filters, &picked).into_string().into())
        })
        .await?;
    let body = maud::PreEscaped(crate::rendered::as_html(&content)?.to_string());
    Ok(layout::page(&title, Some(&viewer), body).into_response())
}

fn render_run(
    run: &LoadedRun,
    q: &FindingsQuery,
    filters: &Filters,
    picked: &[&GroupFinding],
) -> Markup {
    let item = RunItem::from(&run.row);
    let id = item.id;
    let changes = run.changes();
    let fq = q.filter_query();
    let csv_href = if fq.is_empty() {
        format!("/audits/{id}?format=csv")
    } else {
        format!("/audits/{id}?{fq}&format=csv")
    };
    html! {
        p.muted { a href="/audits" { "← All runs" } }
        div.cards id="run-summary" {
            div.card {
                div { "Coverage" }
                div.big data-field="coverage" { (pct(item.coverage)) }
                dl {
                    dt { "Groups" } dd data-field="groups" { (item.groups) }
                    dt { "With gaps" } dd data-field="groups_with_gaps" { (item.groups_with_gaps) }
                    dt { "Required missing" } dd data-field="missing_required" { (item.missing_required) }
                }
            }
            div.card {
                div { "Run " (id) " · " span class={"status-" (item.status)} data-field="status" { (item.status) } }
                dl {
                    dt { "Started" } dd data-field="started_at" title=(item.started_at) { (when(&item.started_at)) }
                    dt { "Duration" } dd { (duration(item.duration_secs)) }
                    dt { "Started by" } dd data-field="started_by" { (item.started_by.as_deref().unwrap_or("–")) }
                    dt { "Platforms" } dd { (item.platforms.join(", ")) }
                }
            }
            @if let Some(r) = &run.result {
                div.card {
                    div { "Flags" }
                    dl {
                        dt { "Public (should be private)" } dd { (r.summary.public_count) }
                        dt { "Rename suggested" } dd { (r.summary.rename_count) }
                        dt { "Unreadable" } dd { (r.summary.errors) }
                    }
                }
            }
        }
        @if let Some(note) = &run.result_error { p.warning { (note) } }
        @if let Some(r) = &run.result {
            p.links id="downloads" {
                a href={"/audits/" (id) "/report.xlsx"} { "Excel report" }
                a href={"/audits/" (id) "/report.csv"} { "CSV report (all groups)" }
                a href={"/api/v1/audits/" (id)} { "JSON" }
            }
            @for w in &r.warnings { p.muted { "Warning: " (w) } }
            h2 { "Since the previous run" }
            @match (&run.previous, &changes) {
                (None, _) => p.muted { "No earlier finished run." },
                (Some((p, _)), None) => p.muted { "Run " (p.id) " has no readable results to compare with." },
                (Some((p, _)), Some(c)) => {
                    p.muted { "Compared with " a href={"/audits/" (p.id)} { "run " (p.id) } " (" (when(&store::format_time(p.started_at))) ")." }
                    @if c.is_empty() { p.muted { "No group or gap changed." } }
                    ul id="changes" {
                        @if let Some(delta) = c.coverage_delta { li { "Coverage " (format!("{:+.1}", delta * 100.0)) " points" } }
                        @for g in &c.new_groups { li { "New group: " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } " (" (g.platform.as_str()) ")" } }
                        @for g in &c.removed_groups { li { "Gone: " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } " (" (g.platform.as_str()) ")" } }
                        @for g in &c.gaps_opened { li { (g.handle) " now missing from " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } } }
                        @for g in &c.gaps_closed { li { (g.handle) " no longer missing from " a href=(group_href(g.platform.as_str(), &g.group_id)) { (g.group_name) } } }
                    }
                }
            }
            h2 { "Findings" }
            (filter_form(id, q, filters, r))
            p.muted id="findings-count" { (picked.len()) " of " (r.findings.len()) " groups" }
            p.links { a id="findings-csv" href=(csv_href) { "Download these findings (CSV)" } }
            @if picked.is_empty() {
                p.muted { "No group matches these filters." }
            } @else {
                table id="findings" {
                    thead { tr {
                        th { "Platform" } th { "Group" } th { "Category" } th { "Required present" }
                        th { "Coverage" } th { "Missing required" } th { "Flags" }
                    } }
                    tbody { @for f in picked {
                        tr data-group-id=(f.group_id) {
                            td { (f.platform.as_str()) }
                            td { a href=(group_href(f.platform.as_str(), &f.group_id)) { (f.group_name) } }
                            td { (f.category) }
                            td.num { (f.required_present) " / " (f.required_total) }
                            td.num { (format!("{:.0}%", f.completeness_pct)) }
                            td { (f.missing_required.join(", ")) }
                            td { (flags_text(f)) }
                        }
                    } }
                }
            }
        }
    }
}

/// A finding's flags in words.
pub fn flags_text(f: &GroupFinding) -> String {
    let mut flags = Vec::new();
    if f.flag_public {
        flags.push("public".to_string());
    }
    if f.flag_rename {
        match &f.suggested_name {
            Some(n) => flags.push(format!("rename to {n}")),
            None => flags.push("rename".to_string()),
        }
    }
    if f.is_ext_shared {
        flags.push("shared externally".to_string());
    }
    if let Some(e) = &f.error {
        flags.push(format!("unreadable: {e}"));
    }
    flags.join("; ")
}

fn filter_form(id: i64, q: &FindingsQuery, filters: &Filters, r: &AuditResult) -> Markup {
    // Categories in config order as the summary lists them, then any other seen.
    let mut categories: Vec<&str> = r
        .summary
        .per_category
        .iter()
        .map(|c| c.category.as_str())
        .collect();
    let seen: BTreeMap<&str, ()> = r
        .findings
        .iter()
        .map(|f| (f.category.as_str(), ()))
        .collect();
    for c in seen.keys() {
        if !categories.contains(c) {
            categories.push(c);
        }
    }
    let platforms: Vec<&str> = r.summary.platforms.iter().map(|p| p.as_str()).collect();
    let cur = |v: &Option<String>| non_empty(v).map(str::to_string);
    let category = cur(&q.category);
    html! {
        form.filters method="get" action={"/audits/" (id)} id="filters" {
            label { "Platform "
                select name="platform" {
                    option value="" { "any" }
                    @for p in &platforms { option value=(p) selected[filters.platform.map(|x| x.as_str()) == Some(*p)] { (p) } }
                }
            }
            label { "Category "
                select name="category" {
                    option value="" { "any" }
                    @for c in &categories { option value=(c) selected[category.as_deref() == Some(*c)] { (c) } }
                }
            }
            label { "Flag "
                select name="flag" {
                    option value="" { "any" }
                    @for (v, label) in [("public", "public (should be private)"), ("rename", "rename suggested"), ("unreadable", "unreadable")] {
                        option value=(v) selected[filters.flag == Some(v)] { (label) }
                    }
                }
            }
            label { "Sort "
                select name="sort" {
                    option value="" { "platform, name" }
                    @for (v, label) in [("name", "name"), ("coverage", "coverage (lowest first)"), ("missing", "missing (most first)")] {
                        option value=(v) selected[filters.sort == Some(v)] { (label) }
                    }
                }
            }
            label { input type="checkbox" name="gaps" value="1" checked[filters.gaps_only]; " gaps only" }
            button type="submit" id="apply-filters" { "Apply" }
            a href={"/audits/" (id)} { "Reset" }
        }
    }
}

// ---- the run's report files -------------------------------------------------------------------

/// Which file of a run.
#[derive(Clone, Copy, PartialEq)]
enum ReportKind {
    Xlsx,
    Csv,
}

/// The file slack-audit wrote for a run started at `stamp` (see `audit_run::outputs`).
fn report_path(out_dir: &std::path::Path, stamp: &str, kind: ReportKind) -> PathBuf {
    let name = match kind {
        ReportKind::Xlsx => format!("slack-audit-{stamp}.xlsx"),
        ReportKind::Csv => format!("slack-audit-{stamp}-groups.csv"),
    };
    out_dir.join(REPORTS_DIR).join(name)
}

/// The run's report: its file when still on disk and certainly its own, else regenerated from
/// the store. Answers the file name, the bytes and where they came from (`file`/`regenerated`).
fn report(
    s: &Store,
    cache: &ResultsCache,
    id: i64,
    kind: ReportKind,
    out_dir: &std::path::Path,
    config_dir: &std::path::Path,
) -> AppResult<(String, Vec<u8>, &'static str)> {
    let run = load_run(s, cache, id, kind == ReportKind::Xlsx)?;
    let result = results_or_404(&run)?;
    let stamp = run.row.started_at.strftime("%Y%m%d-%H%M%S").to_string();
    let path = report_path(out_dir, &stamp, kind);
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // File names have second resolution: when another run started in the same second, the file
    // may be the other run's, so it is regenerated instead.
    let same_second: i64 = s.db().query_row(
        "SELECT COUNT(*) FROM audit_runs WHERE substr(started_at, 1, 19) = substr(?1, 1, 19)",
        [store::format_time(run.row.started_at)],
        |r| r.get(0),
    )?;
    if same_second == 1 {
        match std::fs::read(&path) {
            Ok(bytes) => return Ok((filename, bytes, "file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot read {} ({e}); regenerating run {id}'s report from the store",
                path.display()
            ),
        }
    }
    let bytes = match kind {
        ReportKind::Csv => {
            let mut body = Vec::new();
            report::write_csv_to(&outputs::groups_table(&result.findings), &mut body)
                .map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
            body
        }
        ReportKind::Xlsx => {
            // The store keeps the results, not the user IDs the run resolved, nor which
            // platform was skipped: the Missing sheet's user_id stays empty, names come from
            // today's team.json when it loads.
            let team = match roster::load(config_dir) {
                Ok(c) => Some(c.team),
                Err(e) => {
                    tracing::info!("no names in the regenerated report: {e}");
                    None
                }
            };
            let changes = run.changes();
            let audit_run = AuditRun {
                result: AuditResult::clone(result),
                resolutions: BTreeMap::new(),
                platforms: result.summary.platforms.clone(),
                skipped: Vec::new(),
            };
            outputs::workbook(&audit_run, team.as_ref(), changes.as_ref())
                .to_bytes()
                .map_err(|e| AppError::Internal(format!("writing the workbook: {e}")))?
        }
    };
    Ok((filename, bytes, "regenerated"))
}

async fn serve_report(state: AppState, id: i64, kind: ReportKind) -> AppResult<Response> {
    let out_dir = state.settings.out_dir.clone();
    let config_dir = state.settings.config.clone();
    let cache = state.results.clone();
    let (filename, bytes, source) = state
        .read(move |s| report(s, &cache, id, kind, &out_dir, &config_dir))
        .await?;
    let content_type = match kind {
        ReportKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ReportKind::Csv => "text/csv; charset=utf-8",
    };
    Ok(download(&filename, content_type, bytes, Some(source)))
}

async fn report_xlsx(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    serve_report(state, id, ReportKind::Xlsx).await
}

async fn report_csv(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    serve_report(state, id, ReportKind::Csv).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> FindingsQuery {
        let s = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_urlencoded_parse(&s)
    }

    fn serde_urlencoded_parse(s: &str) -> FindingsQuery {
        let uri: axum::http::Uri = format!("/x?{s}").parse().expect("uri");
        Query::<FindingsQuery>::try_from_uri(&uri)
            .expect("parses")
            .0
    }

    #[test]
    fn empty_form_fields_mean_any_and_bad_values_name_the_choices() {
        let f = q(&[
            ("platform", ""),
            ("category", ""),
            ("flag", ""),
            ("sort", ""),
        ])
        .filters()
        .expect("empty is any");
        assert_eq!(f, Filters::default());
        let err = q(&[("sort", "size")]).filters().expect_err("bad sort");
        assert!(err.to_string().contains("name, coverage, missing"), "{err}");
        let err = q(&[("platform", "irc")])
            .filters()
            .expect_err("bad platform");
        assert!(err.to_string().contains("slack, telegram"), "{err}");
        assert!(q(&[("gaps", "1")]).filters().expect("ok").gaps_only);
    }
}
