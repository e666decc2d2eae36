//! Connecting a Slack workspace (`/slack`, `/api/v1/slack`; admin only): Slack's OAuth v2 install.
//! "Connect Slack" sends the admin to Slack's authorize page with the user scopes the tools need
//! and a `state` that is random, bound to the admin's session, single-use and valid 10 minutes;
//! the callback checks it, exchanges the code (`oauth.v2.access`) and stores the token sealed
//! (`token-vault`). The page shows the workspace, scopes (and the tools missing some), who
//! connected it and when, and the default notification channel; "Disconnect" revokes the token
//! (`auth.revoke`) and deletes it. The token is never shown, logged or put in a URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::panel::PanelEventKind;
use store::slack_connection::SlackConnection;

use crate::auth::{ClientAddr, Viewer, random_token, session_token};
use crate::error::{AppError, AppResult};
use crate::{AppState, layout};

/// How long a `state` handed to Slack stays valid.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// Pending states kept at most (per panel): older ones are dropped first.
const MAX_STATES: usize = 1000;

/// The user scopes each tool needs: what "Connect Slack" asks for (their union), and what the
/// status page checks the granted scopes against.
pub const TOOL_SCOPES: &[(&str, &[&str])] = &[
    (
        "slack-audit",
        &[
            "users:read",
            "users:read.email",
            "channels:read",
            "groups:read",
        ],
    ),
    (
        "add-members",
        &[
            "users:read",
            "users:read.email",
            "channels:read",
            "groups:read",
            "channels:write",
            "groups:write",
        ],
    ),
    (
        "insight-sync",
        &[
            "users:read",
            "channels:read",
            "groups:read",
            "channels:history",
            "groups:history",
        ],
    ),
    (
        "slack-export",
        &[
            "users:read",
            "channels:read",
            "groups:read",
            "im:read",
            "mpim:read",
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
            "files:read",
            "pins:read",
        ],
    ),
    ("notifications", &["chat:write"]),
];

/// Every scope some tool needs, in first-mention order.
pub fn requested_scopes() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (_, scopes) in TOOL_SCOPES {
        for s in *scopes {
            if !out.contains(s) {
                out.push(s);
            }
        }
    }
    out
}

/// The app's OAuth settings, from `SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET`, `SLACK_REDIRECT_URL`,
/// and where Slack is: `SLACK_OAUTH_BASE` (the authorize page's origin; default the origin of
/// `SLACK_API_BASE`, else `https://slack.com`) and `SLACK_API_BASE` (the Web API).
#[derive(Clone)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_url: String,
    pub oauth_base: String,
    pub api_base: String,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .field("oauth_base", &self.oauth_base)
            .field("api_base", &self.api_base)
            .finish()
    }
}

impl OAuthSettings {
    /// `None` when the three app variables are not all set (the page says which are missing).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<OAuthSettings> {
        let val = |n: &str| {
            get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let api_base = val("SLACK_API_BASE")
            .unwrap_or_else(|| slack_client::DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let oauth_base = val("SLACK_OAUTH_BASE").unwrap_or_else(|| {
            url_origin(&api_base).unwrap_or_else(|| "https://slack.com".to_string())
        });
        Some(OAuthSettings {
            client_id: val("SLACK_CLIENT_ID")?,
            client_secret: SecretString::from(val("SLACK_CLIENT_SECRET")?),
            redirect_url: val("SLACK_REDIRECT_URL")?,
            oauth_base: oauth_base.trim_end_matches('/').to_string(),
            api_base,
        })
    }

    /// Slack's authorize URL for this install.
    fn authorize_url(&self, state: &str) -> String {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", "")
            .append_pair("user_scope", &requested_scopes().join(","))
            .append_pair("redirect_uri", &self.redirect_url)
            .append_pair("state", state)
            .finish();
        format!("{}/oauth/v2/authorize?{q}", self.oauth_base)
    }
}

/// `scheme://host[:port]` of a URL.
fn url_origin(u: &str) -> Option<String> {
    let (scheme, rest) = u.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// States handed out and not yet used: state -> (the session it belongs to, when).
#[derive(Default)]
pub struct PendingStates {
    map: Mutex<HashMap<String, (String, Instant)>>,
}

/// Why a callback's state was refused.
#[derive(Debug, PartialEq)]
pub enum StateRefusal {
    Missing,
    /// Never handed out, or already used.
    Unknown,
    Expired,
    /// Handed out to another session.
    Foreign,
}

impl StateRefusal {
    fn message(&self) -> &'static str {
        match self {
            Self::Missing => {
                "The answer from Slack has no state: it did not come from a Connect Slack started here."
            }
            Self::Unknown => {
                "The state in the answer from Slack is unknown or was already used: each Connect Slack can be completed once."
            }
            Self::Expired => "The Connect Slack attempt expired (10 minutes).",
            Self::Foreign => "The Connect Slack attempt was started from another login session.",
        }
    }
}

impl PendingStates {
    fn issue(&self, session: &str) -> AppResult<String> {
        let state = random_token()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, at)| at.elapsed() <= STATE_TTL);
        if map.len() >= MAX_STATES
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(state.clone(), (session.to_string(), Instant::now()));
        Ok(state)
    }

    /// Takes `state` out (used once, whatever the outcome) and checks it.
    pub fn take(&self, state: Option<&str>, session: &str) -> Result<(), StateRefusal> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(StateRefusal::Missing)?;
        let entry = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .ok_or(StateRefusal::Unknown)?;
        if entry.1.elapsed() > STATE_TTL {
            return Err(StateRefusal::Expired);
        }
        if !crate::auth::constant_time_eq(entry.0.as_bytes(), session.as_bytes()) {
            return Err(StateRefusal::Foreign);
        }
        Ok(())
    }

    /// Tests: makes every pending state look `age` old.
    pub fn age_all(&self, age: Duration) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        for (_, at) in map.values_mut() {
            if let Some(t) = Instant::now().checked_sub(age) {
                *at = t;
            }
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/slack", get(page))
        .route("/slack/connect", post(connect))
        .route("/slack/oauth/callback", get(callback))
        .route("/slack/channel", post(set_channel))
        .route("/slack/disconnect", post(disconnect))
        .route("/api/v1/slack", get(api_status))
}

/// A tool and the scopes it needs that were not granted.
#[derive(Debug, Serialize)]
pub struct MissingScopes {
    pub tool: &'static str,
    pub scopes: Vec<&'static str>,
}

/// The status as the page and the API show it: never the token.
#[derive(Debug, Serialize)]
pub struct SlackStatus {
    /// Whether SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_REDIRECT_URL are set.
    pub configured: bool,
    pub connected: bool,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub authed_user_id: Option<String>,
    pub scopes: Vec<String>,
    pub connected_by: Option<String>,
    pub connected_at: Option<String>,
    pub default_channel: Option<String>,
    pub missing: Vec<MissingScopes>,
}

fn missing_for(granted: &[String]) -> Vec<MissingScopes> {
    TOOL_SCOPES
        .iter()
        .filter_map(|(tool, needs)| {
            let scopes: Vec<&'static str> = needs
                .iter()
                .copied()
                .filter(|s| !granted.iter().any(|g| g == s))
                .collect();
            (!scopes.is_empty()).then_some(MissingScopes { tool, scopes })
        })
        .collect()
}

async fn status(state: &AppState) -> AppResult<SlackStatus> {
    let conn: Option<SlackConnection> = state.read(|s| Ok(s.slack_connection()?)).await?;
    let configured = state.settings.slack.is_some();
    Ok(match conn {
        None => SlackStatus {
            configured,
            connected: false,
            team_id: None,
            team_name: None,
            authed_user_id: None,
            scopes: Vec::new(),
            connected_by: None,
            connected_at: None,
            default_channel: None,
            missing: Vec::new(),
        },
        Some(c) => SlackStatus {
            configured,
            connected: true,
            missing: missing_for(&c.scopes),
            team_id: Some(c.team_id),
            team_name: Some(c.team_name),
            authed_user_id: Some(c.authed_user_id),
            scopes: c.scopes,
            connected_by: Some(c.connected_by),
            connected_at: Some(store::format_time(c.connected_at)),
            default_channel: c.default_channel,
        },
    })
}

async fn api_status(State(state): State<AppState>, viewer: Viewer) -> AppResult<Json<SlackStatus>> {
    viewer.require_admin()?;
    Ok(Json(status(&state).await?))
}

async fn page(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    viewer.require_admin()?;
    render(&state, &viewer, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    code: StatusCode,
    message: Option<&str>,
) -> AppResult<Response> {
    let s = status(state).await?;
    let mut resp = (
        code,
        layout::page("Slack", Some(viewer), body(viewer, &s, message)),
    )
        .into_response();
    // The Connect form's POST is redirected to Slack's authorize page: allow that origin.
    if let Some(app) = &state.settings.slack
        && let Some(origin) = url_origin(&app.oauth_base)
        && let Ok(v) = axum::http::HeaderValue::from_str(&crate::csp_with_form_target(&origin))
    {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(resp)
}

fn body(viewer: &Viewer, s: &SlackStatus, message: Option<&str>) -> Markup {
    let csrf = viewer.csrf.as_deref();
    html! {
        @if let Some(m) = message { p.error id="slack-message" { (m) } }
        @if !s.configured {
            p.error id="slack-unconfigured" {
                "Connecting needs the Slack app's settings: set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET \
                 and SLACK_REDIRECT_URL for the panel (see docs/slack-connect.md)."
            }
        }
        @if s.connected {
            section #slack-status {
                h2 { "Connected workspace" }
                table {
                    tr { th { "Workspace" } td data-field="team_name" { (s.team_name.as_deref().unwrap_or("")) } }
                    tr { th { "Workspace ID" } td data-field="team_id" { (s.team_id.as_deref().unwrap_or("")) } }
                    tr { th { "Authorized by (Slack user)" } td data-field="authed_user_id" { (s.authed_user_id.as_deref().unwrap_or("")) } }
                    tr { th { "Connected by" } td data-field="connected_by" { (s.connected_by.as_deref().unwrap_or("")) } }
                    tr { th { "Connected at" } td data-field="connected_at" { (s.connected_at.as_deref().unwrap_or("")) } }
                    tr { th { "Granted scopes" } td data-field="scopes" { (s.scopes.join(", ")) } }
                    tr { th { "Default notification channel" } td data-field="default_channel" {
                        (s.default_channel.as_deref().unwrap_or("(none)")) } }
                }
                @if !s.missing.is_empty() {
                    div.error id="slack-missing" {
                        p { "Some scopes were not granted; these tools will fail where they need them:" }
                        ul { @for m in &s.missing { li { strong { (m.tool) } ": " (m.scopes.join(", ")) } } }
                        p { "Connect again and approve every scope to fix it." }
                    }
                }
                p.muted { "The tools use this token when SLACK_TOKEN is not set. It is stored \
                           encrypted and never shown." }
                form #slack-channel-form method="post" action="/slack/channel" {
                    input type="hidden" name="csrf" value=[csrf];
                    label for="slack-channel" { "Default notification channel (name or ID)" }
                    input type="text" id="slack-channel" name="channel"
                        value=[s.default_channel.as_deref()] placeholder="#alerts";
                    button type="submit" id="slack-channel-save" { "Save" }
                }
                form method="post" action="/slack/disconnect" {
                    input type="hidden" name="csrf" value=[csrf];
                    button.secondary type="submit" id="slack-disconnect" { "Disconnect" }
                }
            }
        } @else {
            p #slack-not-connected { "No Slack workspace is connected. The tools use SLACK_TOKEN from their environment." }
        }
        @if s.configured {
            form #slack-connect-form method="post" action="/slack/connect" {
                input type="hidden" name="csrf" value=[csrf];
                button type="submit" id="slack-connect" {
                    @if s.connected { "Connect again" } @else { "Connect Slack" }
                }
            }
        }
    }
}

async fn connect(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> AppResult<Response> {
    viewer.require_admin()?;
    let Some(app) = state.settings.slack.clone() else {
        return render(&state, &viewer, StatusCode::SERVICE_UNAVAILABLE, Some(
            "Set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_REDIRECT_URL for the panel first.",
        ))
        .await;
    };
    let session = session_token(&headers).ok_or(AppError::LoginRequired)?;
    let st = state.oauth_states.issue(&session)?;
    state
        .record(
            PanelEventKind::Action,
            viewer.username.clone().unwrap_or_default(),
            address,
            Some("slack: connect started (sent to Slack's authorize page)".into()),
        )
        .await?;
    Ok(Redirect::to(&app.authorize_url(&st)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// Set on the self-reload that brings the session cookie along (see [`callback`]).
    hop: Option<String>,
}

/// Slack's redirect back. The session cookie is `SameSite=Strict`, so a browser leaves it off a
/// navigation that started on Slack's site: then this answers a page that reloads itself (a
/// same-site navigation, which carries the cookie) once.
async fn callback(
    State(state): State<AppState>,
    viewer: Result<Viewer, AppError>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> AppResult<Response> {
    let session = session_token(&headers).filter(|t| state.sessions.csrf_of(t).is_some());
    let (viewer, session) = match (viewer, session) {
        (Ok(v), Some(s)) => (v, s),
        (_, None) if q.hop.is_none() => {
            let mut again = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("code", &q.code), ("state", &q.state), ("error", &q.error)] {
                if let Some(v) = v {
                    again.append_pair(k, v);
                }
            }
            again.append_pair("hop", "1");
            let target = format!("/slack/oauth/callback?{}", again.finish());
            let body = layout::page(
                "Slack",
                None,
                html! { p { "Finishing the connection… " a href=(target) { "Continue" } } },
            );
            let mut resp = (StatusCode::OK, body).into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("0; url={target}")) {
                resp.headers_mut().insert(header::REFRESH, v);
            }
            return Ok(resp);
        }
        (Err(e), _) => return Err(e),
        (Ok(_), None) => return Err(AppError::LoginRequired),
    };
    viewer.require_admin()?;
    let username = viewer.username.clone().unwrap_or_default();
    if let Err(refusal) = state.oauth_states.take(q.state.as_deref(), &session) {
        state
            .record(
                PanelEventKind::Action,
                username,
                address,
                Some(format!("slack: callback refused ({refusal:?} state)")),
            )
            .await?;
        let msg = format!(
            "{} Nothing was connected; start again with Connect Slack.",
            refusal.message()
        );
        return render(&state, &viewer, StatusCode::BAD_REQUEST, Some(&msg)).await;
    }
    if let Some(err) = q.error.as_deref() {
        state
            .record(
                PanelEventKind::Action,
                username,
                address,
                Some(format!("slack: install not approved ({err})")),
            )
            .await?;
        let msg = if err == "access_denied" {
            "The install was cancelled on Slack's page; nothing was connected.".to_string()
        } else {
            format!("Slack answered {err}; nothing was connected.")
        };
        return render(&state, &viewer, StatusCode::BAD_REQUEST, Some(&msg)).await;
    }
    let Some(app) = state.settings.slack.clone() else {
        return Err(AppError::Config(
            "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_REDIRECT_URL are not set".into(),
        ));
    };
    let code = q.code.unwrap_or_default();
    let granted = slack_client::oauth_v2_access(
        &app.api_base,
        &app.client_id,
        &app.client_secret,
        &code,
        &app.redirect_url,
    )
    .await;
    let granted = match granted {
        Ok(g) => g,
        Err(e) => {
            state
                .record(
                    PanelEventKind::Action,
                    username,
                    address,
                    Some(format!("slack: code exchange failed: {e}")),
                )
                .await?;
            let msg = format!("Exchanging the code with Slack failed: {e}. Nothing was connected.");
            return render(&state, &viewer, StatusCode::BAD_GATEWAY, Some(&msg)).await;
        }
    };
    let Some(token) = granted.authed_user.access_token.clone() else {
        let msg = "Slack's answer has no user token (were user scopes asked for?). Nothing was connected.";
        return render(&state, &viewer, StatusCode::BAD_GATEWAY, Some(msg)).await;
    };
    let grant = token_vault::Grant {
        team_id: granted.team_id.clone(),
        team_name: granted.team_name.clone(),
        app_id: granted.app_id.clone(),
        authed_user_id: granted.authed_user.id.clone(),
        scopes: granted.authed_user.scopes.clone(),
        token,
    };
    let db = state.settings.db.clone();
    let by = username.clone();
    state
        .write(move |store| {
            let key = token_vault::VaultKey::resolve(|n| std::env::var(n).ok(), &db, true)
                .map_err(vault_error)?
                .ok_or_else(|| AppError::Internal("no sealing key".into()))?;
            token_vault::save(store, &key, &grant, &by).map_err(vault_error)
        })
        .await?;
    state
        .record(
            PanelEventKind::Action,
            username,
            address,
            Some(format!(
                "slack: connected workspace {} ({}), scopes {}",
                granted.team_name,
                granted.team_id,
                granted.authed_user.scopes.join(",")
            )),
        )
        .await?;
    Ok(Redirect::to("/slack").into_response())
}

fn vault_error(e: token_vault::VaultError) -> AppError {
    let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
    AppError::Config(format!("{e}{hint}"))
}

#[derive(Debug, Deserialize)]
pub struct ChannelForm {
    #[allow(dead_code)]
    csrf: String,
    channel: String,
}

/// A channel name (`#` optional) or a conversation ID.
fn valid_channel(c: &str) -> bool {
    let name = c.strip_prefix('#').unwrap_or(c);
    !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
        || (c.len() >= 9
            && c.starts_with(['C', 'G', 'D'])
            && c.chars()
                .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit()))
}

async fn set_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientAddr(address): ClientAddr,
    Form(f): Form<ChannelForm>,
) -> AppResult<Response> {
    viewer.require_admin()?;
    let channel = f.channel.trim().to_string();
    if !channel.is_empty() && !valid_channel(&channel) {
        return render(&state, &viewer, StatusCode::BAD_REQUEST, Some(
            "That is not a channel: give a name like #alerts (lower case, digits, - and _) or an ID like C0123456789.",
        ))
        .await;
    }
    let value = (!channel.is_empty()).then_some(channel.clone());
    let set = state
        .write(move |s| Ok(s.slack_set_default_channel(value.as_deref())?))
        .await?;
    if !set {
        return render(
            &state,
            &viewer,
            StatusCode::CONFLICT,
            Some("Connect a workspace first."),
        )
        .await;
    }
    state
        .record(
            PanelEventKind::Action,
            viewer.username.clone().unwrap_or_default(),
            address,
            Some(format!(
                "slack: default notification channel set to {channel:?}"
            )),
        )
        .await?;
    Ok(Redirect::to("/slack").into_response())
}

async fn disconnect(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientAddr(address): ClientAddr,
) -> AppResult<Response> {
    viewer.require_admin()?;
    let db = state.settings.db.clone();
    let stored = state
        .read(move |s| token_vault::load(s, |n| std::env::var(n).ok(), &db).map_err(vault_error))
        .await;
    // Revoke at Slack first; the local copy goes whatever Slack says, since a token that cannot
    // be opened or is already revoked is of no use here either.
    let revoke = match (&stored, state.settings.slack.as_ref()) {
        (Ok(Some((_, token))), app) => {
            let base = app.map_or_else(
                || {
                    std::env::var("SLACK_API_BASE")
                        .unwrap_or_else(|_| slack_client::DEFAULT_BASE_URL.to_string())
                },
                |a| a.api_base.clone(),
            );
            let cfg = slack_client::ClientConfig::new(token.expose_secret(), base);
            match slack_client::SlackClient::new(cfg) {
                Ok(c) => match c.auth_revoke().await {
                    Ok(true) => "revoked at Slack".to_string(),
                    Ok(false) => "Slack did not confirm the revoke".to_string(),
                    Err(e) => format!("revoking at Slack failed: {e}"),
                },
                Err(e) => format!("revoking at Slack failed: {e}"),
            }
        }
        (Ok(None), _) => "no workspace was connected".to_string(),
        (Err(e), _) => format!("the stored token could not be opened ({e}); not revoked at Slack"),
    };
    let deleted = state.write(|s| Ok(s.slack_connection_delete()?)).await?;
    state
        .record(
            PanelEventKind::Action,
            viewer.username.clone().unwrap_or_default(),
            address,
            Some(format!(
                "slack: disconnected ({revoke}; token deleted: {deleted})"
            )),
        )
        .await?;
    if revoke == "revoked at Slack" {
        return Ok(Redirect::to("/slack").into_response());
    }
    let msg = format!(
        "Disconnected here: {revoke}. Revoke the app in Slack's settings if it is still installed."
    );
    render(&state, &viewer, StatusCode::OK, Some(&msg)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_single_use_session_bound_and_expire() {
        let states = PendingStates::default();
        let s = states.issue("session-a").expect("state");
        assert_eq!(states.take(None, "session-a"), Err(StateRefusal::Missing));
        assert_eq!(
            states.take(Some("forged"), "session-a"),
            Err(StateRefusal::Unknown)
        );
        assert_eq!(states.take(Some(&s), "session-a"), Ok(()));
        assert_eq!(
            states.take(Some(&s), "session-a"),
            Err(StateRefusal::Unknown),
            "replayed"
        );
        let foreign = states.issue("session-a").expect("state");
        assert_eq!(
            states.take(Some(&foreign), "session-b"),
            Err(StateRefusal::Foreign)
        );
        let old = states.issue("session-a").expect("state");
        states.age_all(STATE_TTL + Duration::from_secs(1));
        assert_eq!(
            states.take(Some(&old), "session-a"),
            Err(StateRefusal::Expired)
        );
    }

    #[test]
    fn missing_scopes_name_the_tools() {
        let granted: Vec<String> = requested_scopes()
            .into_iter()
            .filter(|s| *s != "chat:write" && *s != "pins:read")
            .map(str::to_string)
            .collect();
        let missing = missing_for(&granted);
        let tools: Vec<&str> = missing.iter().map(|m| m.tool).collect();
        assert_eq!(tools, ["slack-export", "notifications"]);
        assert!(
            missing_for(
                &requested_scopes()
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
            )
            .is_empty()
        );
    }

    #[test]
    fn oauth_base_follows_the_api_base_unless_set() {
        let vars = |extra: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                [
                    ("SLACK_CLIENT_ID", "1.2"),
                    ("SLACK_CLIENT_SECRET", "sec"),
                    (
                        "SLACK_REDIRECT_URL",
                        "https://panel.example/slack/oauth/callback",
                    ),
                ]
                .iter()
                .chain(extra)
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
            }
        };
        let d = OAuthSettings::from_lookup(vars(&[])).expect("settings");
        assert_eq!(d.oauth_base, "https://slack.com");
        assert!(
            d.authorize_url("st")
                .starts_with("https://slack.com/oauth/v2/authorize?client_id=1.2")
        );
        assert!(!format!("{d:?}").contains("sec\""));
        let sim = OAuthSettings::from_lookup(vars(&[("SLACK_API_BASE", "http://127.0.0.1:9/api")]))
            .expect("settings");
        assert_eq!(sim.oauth_base, "http://127.0.0.1:9");
        let own = OAuthSettings::from_lookup(vars(&[("SLACK_OAUTH_BASE", "https://x.test/")]))
            .expect("settings");
        assert_eq!(own.oauth_base, "https://x.test");
        assert!(OAuthSettings::from_lookup(|_| None).is_none());
    }
}
