//! Group (`/groups/{platform}/{group_id}`, `/api/v1/groups/{platform}/{group_id}`): one group
//! across the finished audit runs that covered its platform: per run its coverage and missing
//! members, and the events between runs: required members going missing and coming back (the
//! rule of the run diff, `audit::member_changes`), renames, privacy changes, the group appearing,
//! disappearing or becoming unreadable.

use audit::{GroupFinding, Platform};
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Serialize;
use store::Store;
use store::audit::AuditRunStatus;

use crate::auth::Viewer;
use crate::controllers::audits::{flags_text, when};
use crate::error::{AppError, AppResult};
use crate::results_cache::ResultsCache;
use crate::{AppState, layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups/{platform}/{group_id}", get(page))
        .route("/api/v1/groups/{platform}/{group_id}", get(api))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a path segment or a
/// query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page of a group.
pub fn group_href(platform: &str, group_id: &str) -> String {
    format!("/groups/{}/{}", enc(platform), enc(group_id))
}

/// `/api/v1/groups/{platform}/{group_id}`.
#[derive(Debug, Serialize)]
pub struct GroupHistory {
    pub platform: Platform,
    pub group_id: String,
    /// The name in the newest run that saw the group.
    pub group_name: String,
    pub category: String,
    /// Every finished run covering the platform since the group was first seen, newest first;
    /// `finding` is `null` where the run did not see the group.
    pub runs: Vec<GroupRun>,
    /// What changed from run to run, newest first.
    pub events: Vec<GroupEvent>,
}

#[derive(Debug, Serialize)]
pub struct GroupRun {
    pub run_id: i64,
    pub started_at: String,
    pub finding: Option<GroupFinding>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupEvent {
    pub run_id: i64,
    pub at: String,
    /// `first_seen`, `missing` (a required member went missing), `back` (no longer missing),
    /// `renamed`, `made_public`, `made_private`, `unreadable`, `readable_again`, `not_seen`
    /// (absent from a run), `seen_again`.
    pub kind: &'static str,
    /// The team handle for `missing` and `back`.
    pub handle: Option<String>,
    /// The old and new name for `renamed`, the error for `unreadable`.
    pub from: Option<String>,
    pub to: Option<String>,
}

fn load(
    s: &Store,
    cache: &ResultsCache,
    platform: Platform,
    group_id: &str,
) -> AppResult<GroupHistory> {
    crate::db::in_read_transaction(s, |s| {
        // Every finished run that covered the platform from the first sighting on, oldest first.
        // Runs whose results no longer parse (older builds) are left out, like the dashboard does.
        let mut runs: Vec<GroupRun> = Vec::new();
        for run in s.list_audit_runs(usize::MAX)?.into_iter().rev() {
            if run.status != AuditRunStatus::Finished
                || !run.platforms.iter().any(|p| p == platform.as_str())
            {
                continue;
            }
            let Ok(result) = cache.get(s, &run)? else {
                continue;
            };
            let finding = result
                .findings
                .iter()
                .find(|f| f.platform == platform && f.group_id == group_id)
                .cloned();
            if runs.is_empty() && finding.is_none() {
                continue;
            }
            runs.push(GroupRun {
                run_id: run.id,
                started_at: store::format_time(run.started_at),
                finding,
            });
        }
        let events = events(&runs);
        let latest = runs
            .iter()
            .rev()
            .find_map(|r| r.finding.as_ref())
            .ok_or(AppError::NotFound)?;
        let (group_name, category) = (latest.group_name.clone(), latest.category.clone());
        runs.reverse();
        Ok(GroupHistory {
            platform,
            group_id: group_id.to_string(),
            group_name,
            category,
            runs,
            events,
        })
    })
}

/// The events between consecutive runs (`runs` oldest first); answered newest run first, in
/// their order within a run.
fn events(runs: &[GroupRun]) -> Vec<GroupEvent> {
    let mut per_run = Vec::new();
    let mut previous: Option<&GroupRun> = None;
    for run in runs {
        let mut out = Vec::new();
        let ev = |kind, handle: Option<&str>, from: Option<&str>, to: Option<&str>| GroupEvent {
            run_id: run.run_id,
            at: run.started_at.clone(),
            kind,
            handle: handle.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        };
        let before = previous.and_then(|p| p.finding.as_ref());
        match (&run.finding, previous) {
            (None, Some(p)) if p.finding.is_some() => out.push(ev("not_seen", None, None, None)),
            (None, _) => {}
            (Some(cur), prev) => {
                match (prev, before) {
                    (None, _) => out.push(ev("first_seen", None, None, Some(&cur.group_name))),
                    (Some(_), None) => out.push(ev("seen_again", None, None, None)),
                    (Some(_), Some(b)) => {
                        if b.group_name != cur.group_name {
                            out.push(ev(
                                "renamed",
                                None,
                                Some(&b.group_name),
                                Some(&cur.group_name),
                            ));
                        }
                        if b.is_private && !cur.is_private {
                            out.push(ev("made_public", None, None, None));
                        } else if !b.is_private && cur.is_private {
                            out.push(ev("made_private", None, None, None));
                        }
                        if b.error.is_some() && cur.error.is_none() {
                            out.push(ev("readable_again", None, None, None));
                        }
                    }
                }
                if let Some(e) = &cur.error
                    && before.is_none_or(|b| b.error.is_none())
                {
                    out.push(ev("unreadable", None, None, Some(e)));
                }
                let (opened, closed) = audit::member_changes(before, cur);
                for h in opened {
                    out.push(ev("missing", Some(h), None, None));
                }
                for h in closed {
                    out.push(ev("back", Some(h), None, None));
                }
            }
        }
        previous = Some(run);
        per_run.push(out);
    }
    per_run.into_iter().rev().flatten().collect()
}

fn parse_platform(p: &str) -> AppResult<Platform> {
    match p {
        "slack" => Ok(Platform::Slack),
        "telegram" => Ok(Platform::Telegram),
        _ => Err(AppError::NotFound),
    }
}

async fn fetch(state: &AppState, platform: String, group_id: String) -> AppResult<GroupHistory> {
    let platform = parse_platform(&platform)?;
    let cache = state.results.clone();
    state
        .read(move |s| load(s, &cache, platform, &group_id))
        .await
}

async fn api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path((platform, group_id)): Path<(String, String)>,
) -> AppResult<Json<GroupHistory>> {
    Ok(Json(fetch(&state, platform, group_id).await?))
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((platform, group_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let h = fetch(&state, platform, group_id).await?;
    let title = format!("Group {}", h.group_name);
    Ok(layout::page(&title, Some(&viewer), render(&h)).into_response())
}

fn event_text(e: &GroupEvent) -> Markup {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        @match e.kind {
            "first_seen" => { "First seen as " (s(&e.to)) }
            "missing" => { strong { (s(&e.handle)) } " went missing" }
            "back" => { strong { (s(&e.handle)) } " came back (no longer missing)" }
            "renamed" => { "Renamed from " (s(&e.from)) " to " (s(&e.to)) }
            "made_public" => { "Made public (was private)" }
            "made_private" => { "Made private (was public)" }
            "unreadable" => { "Could not be read: " (s(&e.to)) }
            "readable_again" => { "Readable again" }
            "not_seen" => { "Not in this run (deleted, archived, left or out of scope)" }
            "seen_again" => { "Seen again" }
            other => { (other) }
        }
    }
}

fn render(h: &GroupHistory) -> Markup {
    html! {
        p.muted {
            (h.platform.as_str()) " · " code { (h.group_id) } " · category " (h.category)
            " · " a href={"/api/v1/groups/" (enc(h.platform.as_str())) "/" (enc(&h.group_id))} { "JSON" }
        }
        h2 { "Changes" }
        @if h.events.is_empty() { p.muted { "No change recorded." } } @else {
            table id="group-events" {
                thead { tr { th { "Run" } th { "When" } th { "What" } } }
                tbody { @for e in &h.events { tr data-kind=(e.kind) {
                    td.num { a href={"/audits/" (e.run_id)} { (e.run_id) } }
                    td { (when(&e.at)) }
                    td { (event_text(e)) }
                } } }
            }
        }
        h2 { "Per run" }
        table id="group-runs" {
            thead { tr {
                th { "Run" } th { "When" } th { "Name" } th { "Private" } th { "Required present" }
                th { "Coverage" } th { "Missing required" } th { "Flags" }
            } }
            tbody { @for r in &h.runs { tr {
                td.num { a href={"/audits/" (r.run_id)} { (r.run_id) } }
                td { (when(&r.started_at)) }
                @if let Some(f) = &r.finding {
                    td { (f.group_name) }
                    td { @if f.is_private { "yes" } @else { "no" } }
                    td.num { (f.required_present) " / " (f.required_total) }
                    td.num { (format!("{:.0}%", f.completeness_pct)) }
                    td { (f.missing_required.join(", ")) }
                    td { (flags_text(f)) }
                } @else {
                    td colspan="6" .muted { "not in this run" }
                }
            } } }
        }
    }
}
