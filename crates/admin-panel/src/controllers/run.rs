//! Audit runs from the panel (`/run`, `/api/v1/run`): an admin starts the audit `slack-audit`
//! runs; everyone sees its progress (the page reloads itself with a `Refresh` header while a run
//! is going, no script) and how the last one ended. When the Telegram account is not logged in,
//! the page asks for the login code, then the 2FA password, and saves the session where
//! `tg-admin login` does; then the run starts. Neither the code nor the password is logged,
//! recorded or shown back.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use store::panel::PanelEventKind;
use telegram::{LoginFlow, LoginStep, TelegramError};

use crate::auth::{ClientAddr, Viewer};
use crate::error::AppResult;
use crate::runner::{EndedRun, RunView};
use crate::users::Role;
use crate::{AppState, layout};

/// Seconds between reloads of the run page while a run is going (the `Refresh` header).
const REFRESH_SECONDS: &str = "2";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/run", get(page).post(start_page))
        .route("/run/telegram", post(telegram_step))
        .route("/run/telegram/cancel", post(telegram_cancel))
        .route("/api/v1/run", get(api_status).post(api_start))
}

/// Where the Telegram login stands, for the page and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginAsk {
    Phone,
    Code,
    Password,
}

#[derive(Debug, Serialize)]
pub struct RunStatus {
    #[serde(flatten)]
    pub run: RunView,
    /// What the Telegram login in progress asks for next; `null` when none is in progress.
    pub telegram_login: Option<LoginAsk>,
}

/// What a start request came to.
enum Begin {
    Started,
    Busy,
    /// Telegram must be logged in first: the page asks for this.
    NeedLogin,
    /// Checking the Telegram session failed; nothing started.
    TelegramError(String),
}

fn ask_of(step: &LoginStep) -> Option<(LoginAsk, Option<String>)> {
    match step {
        LoginStep::NeedPhone => Some((LoginAsk::Phone, None)),
        LoginStep::NeedCode => Some((LoginAsk::Code, None)),
        LoginStep::NeedPassword { hint } => Some((LoginAsk::Password, hint.clone())),
        _ => None,
    }
}

async fn status(state: &AppState) -> (RunStatus, Option<String>) {
    let login = state.runner.login.lock().await;
    let ask = login.as_ref().and_then(|f| ask_of(f.step()));
    let status = RunStatus {
        run: state.runner.view(),
        telegram_login: ask.as_ref().map(|(a, _)| *a),
    };
    (status, ask.and_then(|(_, hint)| hint))
}

/// Starts a run, or the Telegram login it needs first.
async fn begin(state: &AppState, viewer: &Viewer, address: &str) -> AppResult<Begin> {
    viewer.require_admin()?;
    let username = viewer.username.clone().unwrap_or_default();
    if state.runner.is_running() {
        return Ok(Begin::Busy);
    }
    if state.runner.telegram_needs_checking() {
        let mut login = state.runner.login.lock().await;
        if login.is_some() {
            return Ok(Begin::NeedLogin);
        }
        // A Telegram setting the login cannot use (half-configured) is left to the run, which
        // reports it like a cron run would; the Slack part still runs.
        if let Ok(mut flow) = LoginFlow::from_env() {
            match flow.start(None).await {
                Ok(LoginStep::Done(_)) => {}
                Ok(_) => {
                    *login = Some(flow);
                    drop(login);
                    state
                        .record(
                            PanelEventKind::Action,
                            username,
                            address.to_string(),
                            Some("telegram login started for an audit run".into()),
                        )
                        .await?;
                    return Ok(Begin::NeedLogin);
                }
                Err(e) => return Ok(Begin::TelegramError(e.to_string())),
            }
        }
    }
    start_run(state, &username, address).await
}

async fn start_run(state: &AppState, username: &str, address: &str) -> AppResult<Begin> {
    if !state.runner.start(state, username, address) {
        return Ok(Begin::Busy);
    }
    state
        .record(
            PanelEventKind::Action,
            username.to_string(),
            address.to_string(),
            Some("started an audit run".into()),
        )
        .await?;
    Ok(Begin::Started)
}

const BUSY: &str = "An audit run is already going on; wait for it to end.";

async fn page(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    render(&state, &viewer, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    code: StatusCode,
    message: Option<&str>,
) -> AppResult<Response> {
    let (status, hint) = status(state).await;
    let running = status.run.active.is_some();
    let body = body(viewer, &status, hint.as_deref(), message);
    let mut resp = (code, layout::page("Audit run", Some(viewer), body)).into_response();
    if running {
        resp.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static(REFRESH_SECONDS));
    }
    Ok(resp)
}

fn body(viewer: &Viewer, s: &RunStatus, hint: Option<&str>, message: Option<&str>) -> Markup {
    let admin = viewer.role == Role::Admin;
    let csrf = viewer.csrf.as_deref();
    html! {
        @if let Some(m) = message { p.error id="run-message" { (m) } }
        @if let Some(a) = &s.run.active {
            section #run-progress {
                h2 { "Running" }
                p { "Started by " (a.started_by) " at " (a.started_at) "." }
                p { "Phase: " span data-field="phase" {
                    (a.phase.map(phase_name).unwrap_or("starting")) } }
                @if a.groups_total == 0 {
                    p.muted { "Listing the groups in scope…" }
                } @else {
                    p {
                        progress value=(a.groups_done) max=(a.groups_total) {}
                        " " span data-field="groups_done" { (a.groups_done) } " of "
                        span data-field="groups_total" { (a.groups_total) } " groups read"
                    }
                }
                p.muted { "This page reloads every " (REFRESH_SECONDS) " seconds." }
            }
        } @else if let (Some(ask), true) = (s.telegram_login, admin) {
            section #telegram-login {
                h2 { "Telegram login" }
                p { "The Telegram account is not logged in. The session is saved where "
                    code { "tg-admin login" } " saves it, so cron runs use it too." }
                form.login method="post" action="/run/telegram" autocomplete="off" {
                    input type="hidden" name="csrf" value=[csrf];
                    @match ask {
                        LoginAsk::Phone => {
                            label for="tg-phone" { "Phone number of the account" }
                            input type="text" id="tg-phone" name="phone" inputmode="tel" autocomplete="off" required;
                        }
                        LoginAsk::Code => {
                            label for="tg-code" { "Login code Telegram sent" }
                            input type="text" id="tg-code" name="code" inputmode="numeric" autocomplete="off" required;
                        }
                        LoginAsk::Password => {
                            label for="tg-password" { "Two-step verification password" }
                            @if let Some(h) = hint { p.muted { "Hint: " (h) } }
                            input type="password" id="tg-password" name="password" autocomplete="off" required;
                        }
                    }
                    button type="submit" id="tg-submit" { "Continue" }
                }
                form method="post" action="/run/telegram/cancel" {
                    input type="hidden" name="csrf" value=[csrf];
                    button.secondary type="submit" id="tg-cancel" { "Cancel" }
                }
            }
        } @else if s.telegram_login.is_some() {
            p.muted { "A Telegram login is in progress (an admin is starting a run)." }
        } @else if admin {
            form #run-form method="post" action="/run" {
                input type="hidden" name="csrf" value=[csrf];
                p { "Runs the coverage audit now, as " code { "slack-audit" } " does from cron: "
                    "every platform configured, reports and history." }
                button type="submit" id="run-audit" { "Run audit" }
            }
        } @else {
            p.muted { "No run is going on. Admins can start one here." }
        }
        @if let Some(last) = &s.run.last { (last_run(last)) }
    }
}

fn last_run(last: &EndedRun) -> Markup {
    html! {
        section #last-run {
            h2 { "Last run from the panel" }
            p {
                span class={ "status-" (last.status) } data-field="status" { (last.status) }
                @if let Some(id) = last.run_id {
                    " · run " a href={ "/audits/" (id) } data-field="run_id" { (id) }
                }
                " · started by " (last.started_by) " at " (last.started_at)
                ", ended " (last.ended_at)
            }
            ul { @for l in &last.lines { li { (l) } } }
            @if let Some(h) = &last.hint { p { "hint: " (h) } }
        }
    }
}

fn phase_name(p: audit_run::RunPhase) -> &'static str {
    match p {
        audit_run::RunPhase::Scanning => "scanning",
        audit_run::RunPhase::Recording => "recording",
        audit_run::RunPhase::Notifying => "notifying",
        audit_run::RunPhase::Done => "done",
    }
}

async fn start_page(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    viewer: Viewer,
) -> AppResult<Response> {
    match begin(&state, &viewer, &address).await? {
        Begin::Started | Begin::NeedLogin => Ok(Redirect::to("/run").into_response()),
        Begin::Busy => render(&state, &viewer, StatusCode::CONFLICT, Some(BUSY)).await,
        Begin::TelegramError(e) => {
            let m = format!("Telegram: {e}");
            render(&state, &viewer, StatusCode::BAD_GATEWAY, Some(&m)).await
        }
    }
}

async fn api_status(State(state): State<AppState>, _viewer: Viewer) -> Json<RunStatus> {
    Json(status(&state).await.0)
}

async fn api_start(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    viewer: Viewer,
) -> AppResult<Response> {
    let begun = begin(&state, &viewer, &address).await?;
    let (s, _) = status(&state).await;
    let (code, error) = match begun {
        Begin::Started => (StatusCode::ACCEPTED, None),
        Begin::Busy => (StatusCode::CONFLICT, Some(BUSY.to_string())),
        Begin::NeedLogin => (
            StatusCode::CONFLICT,
            Some("Telegram is not logged in: open /run in the panel to type the login code".into()),
        ),
        Begin::TelegramError(e) => (StatusCode::BAD_GATEWAY, Some(format!("Telegram: {e}"))),
    };
    let mut body =
        serde_json::to_value(&s).map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    if let Some(e) = error {
        body["error"] = e.into();
    }
    Ok((code, Json(body)).into_response())
}

/// The login step's form. Only the field the step asks for is used.
#[derive(Deserialize)]
pub struct StepForm {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Deliberately not `Debug`-derived: the form holds a code or password.
impl std::fmt::Debug for StepForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepForm { .. }")
    }
}

async fn telegram_step(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    viewer: Viewer,
    Form(form): Form<StepForm>,
) -> AppResult<Response> {
    viewer.require_admin()?;
    let username = viewer.username.clone().unwrap_or_default();
    let mut login = state.runner.login.lock().await;
    let Some(flow) = login.as_mut() else {
        drop(login);
        let m = "No Telegram login is in progress; press Run audit to start one.";
        return render(&state, &viewer, StatusCode::CONFLICT, Some(m)).await;
    };
    let step = match ask_of(flow.step()).map(|(a, _)| a) {
        Some(LoginAsk::Phone) => flow.start(form.phone.as_deref()).await,
        Some(LoginAsk::Code) => match form.code.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => flow.submit_code(code).await,
            _ => Err(TelegramError::BadCode),
        },
        Some(LoginAsk::Password) => match form.password.as_deref() {
            Some(pw) if !pw.is_empty() => flow.submit_password(pw).await,
            _ => Err(TelegramError::BadPassword),
        },
        None => Ok(flow.step().clone()),
    };
    let (outcome, message) = match step {
        Ok(LoginStep::Done(_)) => {
            *login = None;
            ("telegram login done", None)
        }
        Ok(_) => ("telegram login step passed", None),
        Err(TelegramError::BadCode) => (
            "telegram login: wrong code",
            Some("Wrong or expired code; type the code Telegram just sent."),
        ),
        Err(TelegramError::BadPassword) => (
            "telegram login: wrong password",
            Some("Wrong password; try again."),
        ),
        Err(e) => {
            // Anything else (flood wait, network) ends this attempt; the message has no secret.
            *login = None;
            drop(login);
            let m = format!("Telegram login failed: {e}");
            state
                .record(
                    PanelEventKind::Action,
                    username,
                    address,
                    Some("telegram login failed".into()),
                )
                .await?;
            return render(&state, &viewer, StatusCode::BAD_GATEWAY, Some(&m)).await;
        }
    };
    let done = login.is_none();
    drop(login);
    state
        .record(
            PanelEventKind::Action,
            username.clone(),
            address.clone(),
            Some(outcome.into()),
        )
        .await?;
    if let Some(m) = message {
        return render(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await;
    }
    if done && let Begin::Busy = start_run(&state, &username, &address).await? {
        return render(&state, &viewer, StatusCode::CONFLICT, Some(BUSY)).await;
    }
    Ok(Redirect::to("/run").into_response())
}

async fn telegram_cancel(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    viewer.require_admin()?;
    *state.runner.login.lock().await = None;
    Ok(Redirect::to("/run").into_response())
}
