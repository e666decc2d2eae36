//! Login and logout. Every attempt (failed and refused ones too) and every logout is recorded in
//! the store's `panel_events`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;
use store::panel::PanelEventKind;

use crate::auth::{self, ClientAddr, Viewer};
use crate::error::{AppError, AppResult};
use crate::users::verify_password;
use crate::{AppState, layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/sessions/end-others", axum::routing::post(end_others))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    /// Checked by the CSRF middleware before this handler runs.
    #[allow(dead_code)]
    pub csrf: String,
}

/// The login form; opens an anonymous session so the POST carries a CSRF token.
async fn form(State(state): State<AppState>) -> AppResult<Response> {
    if state.users.is_empty() {
        return Ok(Redirect::to("/").into_response());
    }
    let (token, csrf) = state.sessions.open(None)?;
    Ok(login_page(&state, &token, &csrf, None))
}

fn login_page(state: &AppState, token: &str, csrf: &str, error: Option<&str>) -> Response {
    let body = html! {
        @if let Some(e) = error { p.error id="login-error" { (e) } }
        form.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            label for="username" { "User" }
            input type="text" id="username" name="username" autocomplete="username" required;
            label for="password" { "Password" }
            input type="password" id="password" name="password" autocomplete="current-password" required;
            button type="submit" id="login" { "Log in" }
        }
    };
    (
        [(
            header::SET_COOKIE,
            auth::session_cookie(token, state.settings.https_proxy),
        )],
        layout::page("Log in", None, body),
    )
        .into_response()
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> AppResult<Response> {
    let token = auth::session_token(&headers).unwrap_or_default();
    if !state.login_limits.attempt(&f.username, &address) {
        state
            .record(
                PanelEventKind::LoginLimited,
                f.username,
                address,
                Some("too many attempts".into()),
            )
            .await?;
        return Err(AppError::TooManyAttempts);
    }
    let user = state
        .users
        .iter()
        .find(|u| u.username == f.username)
        .cloned();
    // Verify on a blocking thread: argon2 is deliberately slow.
    let password = f.password;
    let ok = match &user {
        Some(u) => {
            let hash = u.password_hash.clone();
            tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                .await
                .map_err(|e| AppError::Internal(format!("password check: {e}")))?
        }
        None => false,
    };
    let Some(user) = user.filter(|_| ok) else {
        state
            .record(
                PanelEventKind::LoginFailed,
                f.username,
                address,
                Some("wrong user or password".into()),
            )
            .await?;
        // The anonymous session stays, so the form can be sent again with the same token.
        let csrf = state.sessions.csrf_of(&token).unwrap_or_default();
        let mut resp = login_page(&state, &token, &csrf, Some("Wrong user or password."));
        *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(resp);
    };
    // A new token at login, so a session id planted before login is worth nothing after it.
    state.sessions.close(&token);
    let (token, _csrf) = state
        .sessions
        .open(Some((user.username.clone(), user.role)))?;
    state
        .record(PanelEventKind::LoginOk, user.username, address, None)
        .await?;
    Ok((
        [(
            header::SET_COOKIE,
            auth::session_cookie(&token, state.settings.https_proxy),
        )],
        Redirect::to("/"),
    )
        .into_response())
}

async fn logout(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    viewer: Viewer,
) -> AppResult<Response> {
    if let Some(token) = auth::session_token(&headers) {
        state.sessions.close(&token);
    }
    if let Some(name) = viewer.username.clone() {
        state
            .record(PanelEventKind::Logout, name, address, None)
            .await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            auth::session_cookie("", state.settings.https_proxy),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

/// Admin action: log out every other session (after a password change, or a lost laptop).
async fn end_others(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    viewer: Viewer,
) -> AppResult<Response> {
    viewer.require_admin()?;
    let token = auth::session_token(&headers).unwrap_or_default();
    let ended = state.sessions.close_others(&token);
    let name = viewer.username.unwrap_or_default();
    state
        .record(
            PanelEventKind::Action,
            name,
            address,
            Some(format!("ended {ended} other sessions")),
        )
        .await?;
    Ok(Redirect::to("/activity").into_response())
}
