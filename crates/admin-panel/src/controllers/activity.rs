//! Activity (`/activity`, `/api/v1/activity/*`): add-members invite runs, tg-admin operations,
//! Slack notifications with their delivery status, and the panel's own logins and actions.
//!
//! Privacy: invite rows show channel names and counts, never user IDs or names, so an opted-out
//! person cannot appear here; tg-admin rows name the Telegram user acted on (the operation is about
//! them; Slack opt-outs do not cover Telegram accounts); nothing here holds message text.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Serialize;
use store::Store;

use crate::auth::Viewer;
use crate::controllers::helpers::{ListQuery, Page, csv_response};
use crate::error::AppResult;
use crate::{AppState, layout};

/// Rows of each list on the HTML page (the API pages with `?limit=`).
const PAGE_ROWS: usize = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/activity", get(page))
        .route("/api/v1/activity/invites", get(api_invites))
        .route("/api/v1/activity/telegram", get(api_telegram))
        .route("/api/v1/activity/notifications", get(api_notifications))
        .route("/api/v1/activity/logins", get(api_logins))
}

#[derive(Debug, Serialize)]
pub struct InviteRun {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub channels_planned: i64,
    pub added: i64,
    pub already_in: i64,
    pub skipped: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize)]
pub struct TgOperation {
    pub id: i64,
    pub at: String,
    pub operation: String,
    pub chat_id: i64,
    pub chat_title: String,
    pub target_user: Option<String>,
    pub new_title: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Notification {
    pub id: i64,
    pub run_id: Option<i64>,
    /// `audit_complete`, `sync_failed`, ... (docs/notifications.md); empty for summaries logged
    /// before events existed.
    pub event: String,
    pub channel: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// The delivery step: queued, sending, retrying, delivered or failed.
    pub state: String,
    pub attempts: i64,
    pub error: Option<String>,
    /// Slack's `ts` of the posted message.
    pub ts: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct PanelEvent {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub username: String,
    pub address: String,
    pub detail: Option<String>,
}

/// One keyset page, newest first: `sql` takes `?1` (ids below it) and `?2` (how many); one row
/// more than `limit` is read so the caller knows whether another page follows.
fn newest_first<T>(
    s: &Store,
    sql: &str,
    before: Option<i64>,
    limit: usize,
    row: impl FnMut(&store::db::Row<'_>) -> store::db::Result<T>,
) -> AppResult<Vec<T>> {
    Ok(s.db().query_all(
        sql,
        [
            before.unwrap_or(i64::MAX),
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        ],
        row,
    )?)
}

fn invites(s: &Store, before: Option<i64>, limit: usize) -> AppResult<Vec<InviteRun>> {
    newest_first(
        s,
        "SELECT id, started_at, finished_at, status, channels_planned, added, already_in, skipped, failed
         FROM invite_runs WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        before,
        limit,
        |r| {
            Ok(InviteRun {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                status: r.get(3)?,
                channels_planned: r.get(4)?,
                added: r.get(5)?,
                already_in: r.get(6)?,
                skipped: r.get(7)?,
                failed: r.get(8)?,
            })
        },
    )
}

fn telegram(s: &Store, before: Option<i64>, limit: usize) -> AppResult<Vec<TgOperation>> {
    Ok(s.tg_ops(before, limit + 1)?
        .into_iter()
        .map(|o| TgOperation {
            id: o.id,
            at: store::format_time(o.at),
            operation: o.operation,
            chat_id: o.chat_id,
            chat_title: o.chat_title,
            target_user: o.target_user,
            new_title: o.new_title,
            status: o.status,
            error: o.error,
        })
        .collect())
}

fn notifications(s: &Store, before: Option<i64>, limit: usize) -> AppResult<Vec<Notification>> {
    newest_first(
        s,
        "SELECT id, run_id, channel, status, attempts, error, updated_at, event, message_ts, created_at
         FROM notifications WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        before,
        limit,
        |r| {
            let state: String = r.get(3)?;
            Ok(Notification {
                id: r.get(0)?,
                run_id: r.get(1)?,
                event: r.get::<Option<String>>(7)?.unwrap_or_default(),
                channel: r.get(2)?,
                status: match state.as_str() {
                    "delivered" | "failed" => state.clone(),
                    _ => "pending".to_string(),
                },
                state,
                attempts: r.get(4)?,
                error: r.get(5)?,
                ts: r.get(8)?,
                created_at: r.get(9)?,
                updated_at: r.get(6)?,
            })
        },
    )
}

fn logins(s: &Store, before: Option<i64>, limit: usize) -> AppResult<Vec<PanelEvent>> {
    Ok(s.panel_events(before, limit + 1)?
        .into_iter()
        .map(|e| PanelEvent {
            id: e.id,
            at: store::format_time(e.at),
            kind: e.kind,
            username: e.username,
            address: e.address,
            detail: e.detail,
        })
        .collect())
}

macro_rules! list_endpoint {
    ($name:ident, $fetch:ident, $file:literal, $header:expr, $row:expr) => {
        async fn $name(
            State(state): State<AppState>,
            _viewer: Viewer,
            Query(q): Query<ListQuery>,
        ) -> AppResult<Response> {
            let (limit, before) = (q.limit()?, q.before()?);
            let rows = state
                .read(move |s| crate::db::in_read_transaction(s, |s| $fetch(s, before, limit)))
                .await?;
            let page = Page::from_rows(rows, limit, |r| r.id);
            if q.wants_csv() {
                return Ok(csv_response(
                    $file,
                    &$header,
                    page.items.iter().map($row).collect(),
                ));
            }
            Ok(Json(page).into_response())
        }
    };
}

list_endpoint!(
    api_invites,
    invites,
    "invite-runs.csv",
    [
        "id",
        "started_at",
        "finished_at",
        "status",
        "channels_planned",
        "added",
        "already_in",
        "skipped",
        "failed"
    ],
    |r: &InviteRun| vec![
        r.id.to_string(),
        r.started_at.clone(),
        r.finished_at.clone().unwrap_or_default(),
        r.status.clone(),
        r.channels_planned.to_string(),
        r.added.to_string(),
        r.already_in.to_string(),
        r.skipped.to_string(),
        r.failed.to_string()
    ]
);
list_endpoint!(
    api_telegram,
    telegram,
    "telegram-operations.csv",
    [
        "id",
        "at",
        "operation",
        "chat_id",
        "chat_title",
        "target_user",
        "new_title",
        "status",
        "error"
    ],
    |r: &TgOperation| vec![
        r.id.to_string(),
        r.at.clone(),
        r.operation.clone(),
        r.chat_id.to_string(),
        r.chat_title.clone(),
        r.target_user.clone().unwrap_or_default(),
        r.new_title.clone().unwrap_or_default(),
        r.status.clone(),
        r.error.clone().unwrap_or_default()
    ]
);
list_endpoint!(
    api_notifications,
    notifications,
    "notifications.csv",
    [
        "id",
        "run_id",
        "event",
        "channel",
        "status",
        "state",
        "attempts",
        "error",
        "ts",
        "created_at",
        "updated_at"
    ],
    |r: &Notification| vec![
        r.id.to_string(),
        r.run_id.map(|i| i.to_string()).unwrap_or_default(),
        r.event.clone(),
        r.channel.clone(),
        r.status.clone(),
        r.state.clone(),
        r.attempts.to_string(),
        r.error.clone().unwrap_or_default(),
        r.ts.clone().unwrap_or_default(),
        r.created_at.clone(),
        r.updated_at.clone()
    ]
);
list_endpoint!(
    api_logins,
    logins,
    "panel-events.csv",
    ["id", "at", "kind", "username", "address", "detail"],
    |r: &PanelEvent| vec![
        r.id.to_string(),
        r.at.clone(),
        r.kind.clone(),
        r.username.clone(),
        r.address.clone(),
        r.detail.clone().unwrap_or_default()
    ]
);

async fn page(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let (inv, tg, notes, events) = state
        .read(|s| {
            crate::db::in_read_transaction(s, |s| {
                Ok((
                    invites(s, None, PAGE_ROWS)?,
                    telegram(s, None, PAGE_ROWS)?,
                    notifications(s, None, PAGE_ROWS)?,
                    logins(s, None, PAGE_ROWS)?,
                ))
            })
        })
        .await?;
    let admin_tools = html! {
        @if viewer.username.is_some() && viewer.role == crate::users::Role::Admin {
            form method="post" action="/sessions/end-others" id="end-others" {
                input type="hidden" name="csrf" value=[viewer.csrf.as_deref()];
                button type="submit" { "Log out every other session" }
            }
        }
    };
    let body = html! { (render(&inv, &tg, &notes, &events)) (admin_tools) };
    Ok(layout::page("Activity", Some(&viewer), body).into_response())
}

fn render(
    inv: &[InviteRun],
    tg: &[TgOperation],
    notes: &[Notification],
    events: &[PanelEvent],
) -> Markup {
    html! {
        h2 { "add-members invites" }
        p.links { a href="/api/v1/activity/invites?format=csv" { "CSV" } a href="/api/v1/activity/invites" { "JSON" } }
        @if inv.is_empty() { p.muted { "No invite run stored." } } @else {
            table id="invites" {
                thead { tr { th { "Run" } th { "Started" } th { "Status" } th { "Channels" } th { "Added" } th { "Already in" } th { "Skipped" } th { "Failed" } } }
                tbody { @for r in inv.iter().take(PAGE_ROWS) { tr {
                    td.num { (r.id) } td { (r.started_at) } td class={"status-" (r.status)} { (r.status) }
                    td.num { (r.channels_planned) } td.num { (r.added) } td.num { (r.already_in) }
                    td.num { (r.skipped) } td.num { (r.failed) }
                } } }
            }
        }
        h2 { "tg-admin operations" }
        p.links { a href="/api/v1/activity/telegram?format=csv" { "CSV" } a href="/api/v1/activity/telegram" { "JSON" } }
        @if tg.is_empty() { p.muted { "No tg-admin operation stored." } } @else {
            table id="telegram-ops" {
                thead { tr { th { "When" } th { "Operation" } th { "Chat" } th { "Chat id" } th { "User" } th { "New title" } th { "Status" } th { "Error" } } }
                tbody { @for o in tg.iter().take(PAGE_ROWS) { tr {
                    td { (o.at) } td { (o.operation) } td { (o.chat_title) } td.num { (o.chat_id) }
                    td { (o.target_user.as_deref().unwrap_or("")) } td { (o.new_title.as_deref().unwrap_or("")) }
                    td class={"status-" (o.status)} { (o.status) } td { (o.error.as_deref().unwrap_or("")) }
                } } }
            }
        }
        h2 { "Slack notifications" }
        p.links { a href="/api/v1/activity/notifications?format=csv" { "CSV" } a href="/api/v1/activity/notifications" { "JSON" } }
        @if notes.is_empty() { p.muted { "No notification stored." } } @else {
            table id="notifications" {
                thead { tr { th { "Created" } th { "Event" } th { "Audit run" } th { "Channel" } th { "Status" } th { "Attempts" } th { "Message ts" } th { "Last error" } th { "Updated" } } }
                tbody { @for n in notes.iter().take(PAGE_ROWS) { tr {
                    td { (n.created_at) } td { (n.event) }
                    td.num { (n.run_id.map(|i| i.to_string()).unwrap_or_default()) } td { (n.channel) }
                    td class={"status-" (n.status)} title=(n.state) { (n.status) } td.num { (n.attempts) }
                    td { (n.ts.as_deref().unwrap_or("")) }
                    td { (n.error.as_deref().unwrap_or("")) } td { (n.updated_at) }
                } } }
            }
        }
        h2 { "Panel logins and actions" }
        p.links { a href="/api/v1/activity/logins?format=csv" { "CSV" } a href="/api/v1/activity/logins" { "JSON" } }
        @if events.is_empty() { p.muted { "No login or action recorded." } } @else {
            table id="panel-events" {
                thead { tr { th { "When" } th { "What" } th { "User" } th { "Address" } th { "Detail" } } }
                tbody { @for e in events.iter().take(PAGE_ROWS) { tr {
                    td { (e.at) } td class={"status-" (e.kind)} { (e.kind) } td { (e.username) }
                    td { (e.address) } td { (e.detail.as_deref().unwrap_or("")) }
                } } }
            }
        }
    }
}
