//! Team (`/team`, `/api/v1/team`): the roster of team.json (`--config`) with role, status and
//! department, each person's Slack and Telegram identity, and the groups they are missing from in
//! the latest finished audit run (linked to the Group page).
//!
//! Identities: the store keeps no audit-time resolution, so Slack identities are matched with
//! roster's own matching ([`roster::resolve_team`]) against the Slack users insight-sync stored
//! (people opted out of insight left out), which gives the user ID; where that finds nobody (the
//! store keeps no emails or real names) and for Telegram, the latest audit's `unmatched_members`
//! says whether the audit resolved the person.

use std::collections::{BTreeMap, HashSet};

use audit::AuditResult;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use maud::{Markup, html};
use roster::{Platform, Team};
use serde::Serialize;
use store::Store;
use store::audit::AuditRunStatus;

use crate::auth::Viewer;
use crate::controllers::helpers::{ListQuery, csv_response};
use crate::error::{AppError, AppResult};
use crate::{AppState, layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/team", get(page))
        .route("/api/v1/team", get(api))
}

/// One person of the roster (an item of `/api/v1/team`).
#[derive(Debug, Serialize)]
pub struct Person {
    pub handle: String,
    pub name: String,
    /// `required` | `optional`
    pub role: &'static str,
    /// `active` | `inactive` (inactive members are required nowhere)
    pub status: &'static str,
    pub department: Option<String>,
    pub slack: IdentityMatch,
    pub telegram: IdentityMatch,
    /// Groups of the latest finished run that miss this person as a required member.
    pub missing_from: Vec<GroupRef>,
}

/// How a person was found on one platform.
#[derive(Debug, Serialize)]
pub struct IdentityMatch {
    /// The identifiers team.json lists.
    pub configured: Vec<String>,
    /// `matched` | `unmatched` | `ambiguous` | `deactivated` | `not_configured` | `not_audited`
    pub status: &'static str,
    /// The user ID, when matched against stored users.
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// Why not matched, in words.
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GroupRef {
    pub platform: String,
    pub group_id: String,
    pub group_name: String,
    /// The panel's Group page.
    pub href: String,
}

/// The whole answer of `/api/v1/team` (before paging).
#[derive(Debug, Serialize)]
pub struct TeamPage {
    /// The latest finished audit run the gaps come from (`null`: none yet).
    pub run_id: Option<i64>,
    pub run_started_at: Option<String>,
    pub items: Vec<Person>,
    pub next_cursor: Option<String>,
}

/// Reads team.json from the config directory.
fn load_team(config: &std::path::Path) -> AppResult<Team> {
    let file = config.join("team.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        AppError::Config(format!(
            "cannot read {}: {e}; start the panel with --config DIR pointing at the directory of team.json",
            file.display()
        ))
    })?;
    roster::parse_team(&text, &file).map_err(|e| AppError::Config(e.to_string()))
}

fn role_str(r: roster::Role) -> &'static str {
    match r {
        roster::Role::Required => "required",
        roster::Role::Optional => "optional",
    }
}

/// Builds every row (team.json order) from the store.
pub fn load(store: &Store, team: &Team, hidden: &HashSet<String>) -> AppResult<TeamPage> {
    crate::db::in_read_transaction(store, |s| load_inner(s, team, hidden))
}

fn load_inner(store: &Store, team: &Team, hidden: &HashSet<String>) -> AppResult<TeamPage> {
    // The latest finished run: a running or failed one has no findings.
    let run = store
        .list_audit_runs(usize::MAX)?
        .into_iter()
        .find(|r| r.status == AuditRunStatus::Finished);
    let result: Option<AuditResult> = match &run {
        Some(r) => store
            .audit_run_results(r.id)?
            .and_then(|v| serde_json::from_value(v).ok()),
        None => None,
    };
    let mut missing: BTreeMap<String, Vec<GroupRef>> = BTreeMap::new();
    if let Some(r) = &run {
        for f in store.audit_findings(r.id)? {
            if f.error.is_some() {
                continue;
            }
            for handle in &f.missing_required {
                missing.entry(handle.clone()).or_default().push(GroupRef {
                    href: format!("/groups/{}/{}", f.platform, f.group_id),
                    platform: f.platform.clone(),
                    group_id: f.group_id.clone(),
                    group_name: f.group_name.clone(),
                });
            }
        }
    }
    let slack_users = stored_slack_users(store, hidden)?;
    let index = roster::UserIndex::new(&slack_users);
    let slack =
        (!slack_users.is_empty()).then(|| roster::resolve_team(team, Platform::Slack, &index));
    let audited: Vec<Platform> = result
        .as_ref()
        .map(|r| r.summary.platforms.clone())
        .unwrap_or_default();
    let unmatched: HashSet<&str> = result
        .as_ref()
        .map(|r| {
            r.summary
                .unmatched_members
                .iter()
                .map(String::as_str)
                .collect()
        })
        .unwrap_or_default();
    let from_audit = |handle: &str, platform: Platform, configured: &[String]| {
        let mut m = IdentityMatch {
            configured: configured.to_vec(),
            status: "not_audited",
            user_id: None,
            user_name: None,
            note: None,
        };
        if configured.is_empty() {
            m.status = "not_configured";
        } else if audited.contains(&platform) {
            if unmatched.contains(format!("{handle} ({})", platform.as_str()).as_str()) {
                m.status = "unmatched";
                m.note = Some("the latest audit did not resolve them to one user".into());
            } else {
                m.status = "matched";
                m.note = Some("resolved by the latest audit".into());
            }
        }
        m
    };
    let items = team
        .members
        .iter()
        .map(|member| {
            let slack_match = match &slack {
                Some(res) if !member.slack.is_empty() => {
                    let m = slack_identity(member, res, &index, hidden);
                    // The store keeps no emails or real names, so the audit (which had them)
                    // knows better whom it resolved.
                    if m.user_id.is_none() && audited.contains(&Platform::Slack) {
                        from_audit(&member.handle, Platform::Slack, &member.slack)
                    } else {
                        m
                    }
                }
                _ => from_audit(&member.handle, Platform::Slack, &member.slack),
            };
            Person {
                handle: member.handle.clone(),
                name: member.name.clone(),
                role: role_str(member.role),
                status: if member.is_active() {
                    "active"
                } else {
                    "inactive"
                },
                department: member.department.clone(),
                slack: slack_match,
                telegram: from_audit(&member.handle, Platform::Telegram, &member.telegram),
                // Inactive now means required nowhere now, whatever the stored run found when
                // they still were: the next audit will not count them either.
                missing_from: missing
                    .remove(&member.handle)
                    .filter(|_| member.is_active())
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(TeamPage {
        run_id: run.as_ref().map(|r| r.id),
        run_started_at: run.as_ref().map(|r| store::format_time(r.started_at)),
        items,
        next_cursor: None,
    })
}

fn slack_identity(
    member: &roster::TeamMember,
    res: &roster::Resolution,
    index: &roster::UserIndex,
    hidden: &HashSet<String>,
) -> IdentityMatch {
    let mut m = IdentityMatch {
        configured: member.slack.clone(),
        status: "matched",
        user_id: None,
        user_name: None,
        note: None,
    };
    if let Some(id) = res.by_handle.get(&member.handle)
        && !hidden.contains(id)
    {
        m.user_name = index
            .user(id)
            .and_then(|u| u.username.clone().or_else(|| u.display_name.clone()));
        m.user_id = Some(id.clone());
    }
    let warning = res
        .warnings
        .iter()
        .find(|w| w.handle() == member.handle && w.platform() == Platform::Slack);
    if let Some(w) = warning {
        m.status = match w {
            roster::ResolutionWarning::Ambiguous { .. } => "ambiguous",
            roster::ResolutionWarning::Deactivated { .. } => "deactivated",
            roster::ResolutionWarning::NoIdentifiers { .. } => "not_configured",
            _ => "unmatched",
        };
        m.note = Some(w.to_string());
    } else if m.user_id.is_none() {
        m.status = "unmatched";
    }
    m
}

/// The Slack users insight-sync stored, minus `hidden` (opted out of insight).
fn stored_slack_users(
    store: &Store,
    hidden: &HashSet<String>,
) -> AppResult<Vec<roster::PlatformUser>> {
    let users = store.db().query_all(
        "SELECT user_id, name, display_name, deleted FROM insight_users",
        (),
        |r| {
            let text = |i: usize| -> store::db::Result<Option<String>> {
                Ok(r.get::<String>(i).ok().filter(|s| !s.trim().is_empty()))
            };
            Ok(roster::PlatformUser {
                id: r.get(0)?,
                username: text(1)?,
                display_name: text(2)?,
                deleted: r.get(3)?,
                ..roster::PlatformUser::default()
            })
        },
    )?;
    Ok(users
        .into_iter()
        .filter(|u| !hidden.contains(&u.id))
        .collect())
}

/// Reads config and store on a blocking thread.
async fn fetch(state: &AppState) -> AppResult<TeamPage> {
    let config = state.settings.config.clone();
    state
        .read(move |s| {
            let team = load_team(&config)?;
            let hidden = super::engagement::hidden_users(s, &config)?;
            load(s, &team, &hidden)
        })
        .await
}

/// `?cursor=` is the number of people already seen (team.json order).
async fn api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let (limit, skip) = (q.limit()?, q.before()?.unwrap_or(0));
    let skip = usize::try_from(skip).map_err(|_| {
        AppError::BadRequest(format!("cursor {skip} is not one this server gave out"))
    })?;
    let mut page = fetch(&state).await?;
    let total = page.items.len();
    page.items = page.items.into_iter().skip(skip).take(limit).collect();
    page.next_cursor = (skip + limit < total).then(|| (skip + limit).to_string());
    if q.wants_csv() {
        return Ok(csv(&page.items));
    }
    Ok(Json(page).into_response())
}

fn identity_text(m: &IdentityMatch) -> String {
    match (&m.user_id, &m.user_name) {
        (Some(id), Some(name)) => format!("{} {id} ({name})", m.status),
        (Some(id), None) => format!("{} {id}", m.status),
        _ => m.status.to_string(),
    }
}

fn csv(items: &[Person]) -> Response {
    csv_response(
        "team.csv",
        &[
            "handle",
            "name",
            "role",
            "status",
            "department",
            "slack",
            "telegram",
            "missing_from",
        ],
        items
            .iter()
            .map(|p| {
                vec![
                    p.handle.clone(),
                    p.name.clone(),
                    p.role.to_string(),
                    p.status.to_string(),
                    p.department.clone().unwrap_or_default(),
                    identity_text(&p.slack),
                    identity_text(&p.telegram),
                    p.missing_from
                        .iter()
                        .map(|g| format!("{}:{}", g.platform, g.group_name))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect(),
    )
}

async fn page(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let team = fetch(&state).await?;
    Ok(layout::page("Team", Some(&viewer), render(&team)).into_response())
}

fn identity_cell(m: &IdentityMatch) -> Markup {
    html! {
        span class={"status-" (m.status)} { (m.status.replace('_', " ")) }
        @if let Some(id) = &m.user_id { " " code { (id) } }
        @if let Some(n) = &m.user_name { " " span.muted { "@" (n) } }
        @if let Some(note) = &m.note { br; small.muted { (note) } }
        @if !m.configured.is_empty() { br; small.muted { "team.json: " (m.configured.join(", ")) } }
    }
}

fn render(t: &TeamPage) -> Markup {
    html! {
        p.links { a href="/api/v1/team?format=csv&limit=500" { "CSV" } a href="/api/v1/team?limit=500" { "JSON" } }
        @match (t.run_id, &t.run_started_at) {
            (Some(id), Some(at)) => p.muted { "Gaps from the latest finished audit run " (id) " (" (at) ")." },
            _ => p.muted { "No finished audit run stored yet: gaps appear after slack-audit runs." },
        }
        @if t.items.is_empty() { p.muted { "team.json lists nobody." } } @else {
            table id="team" {
                thead { tr { th { "Person" } th { "Role" } th { "Status" } th { "Department" } th { "Slack" } th { "Telegram" } th { "Missing from" } } }
                tbody { @for p in &t.items { tr {
                    td { strong { (p.name) } br; small.muted { (p.handle) } }
                    td { (p.role) }
                    td class={"status-" (p.status)} { (p.status) }
                    td { (p.department.as_deref().unwrap_or("")) }
                    td { (identity_cell(&p.slack)) }
                    td { (identity_cell(&p.telegram)) }
                    td.missing {
                        @if p.missing_from.is_empty() { span.muted { "none" } }
                        @for (i, g) in p.missing_from.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href=(g.href) { (g.group_name) } small.muted { " " (g.platform) }
                        }
                    }
                } } }
            }
        }
    }
}
