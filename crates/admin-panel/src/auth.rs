//! Sessions, roles, CSRF and the login limit.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure behind
//! `--https-proxy`), mapped in memory to its user and its CSRF token. Visiting the login form opens
//! an anonymous session so the login POST carries a CSRF token too. Every POST is checked by
//! [`require_csrf`] before any handler sees it. With no users file the panel is read-only and every
//! visitor is an anonymous viewer (loopback only, enforced at start).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::AppState;
use crate::error::AppError;
use crate::users::Role;

/// The session cookie's name.
pub const COOKIE: &str = "panel_session";
/// A session lives this long after login, then the user logs in again.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; past it, sessions nobody logged into (login forms opened) are dropped
/// first, so requesting the login form in a loop cannot grow memory without bound.
const MAX_SESSIONS: usize = 10_000;
/// Largest form body the CSRF check reads (forms here are tiny).
const MAX_FORM: usize = 64 * 1024;

/// Who is asking: a logged-in user, or the anonymous viewer of a panel without users.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: Option<String>,
    pub role: Role,
    /// The CSRF token to put in this page's forms (`None` without a session).
    pub csrf: Option<String>,
    /// Whether the panel has users at all (else there is no login/logout to show).
    pub logins_enabled: bool,
}

#[derive(Debug, Clone)]
struct Session {
    user: Option<(String, Role)>,
    csrf: String,
    created: Instant,
}

/// The in-memory session table.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// A fresh 256-bit token from the OS CSPRNG, hex-encoded.
pub fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session (anonymous when `user` is `None`); returns (session token, csrf token).
    pub fn open(&self, user: Option<(String, Role)>) -> Result<(String, String), AppError> {
        let token = random_token()?;
        let csrf = random_token()?;
        let mut map = self.lock();
        map.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.user.is_some());
        }
        if map.len() >= MAX_SESSIONS {
            return Err(AppError::TooManySessions);
        }
        map.insert(
            token.clone(),
            Session {
                user,
                csrf: csrf.clone(),
                created: Instant::now(),
            },
        );
        Ok((token, csrf))
    }

    fn get(&self, token: &str) -> Option<Session> {
        let map = self.lock();
        map.get(token)
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .cloned()
    }

    /// The CSRF token of a live session.
    pub fn csrf_of(&self, token: &str) -> Option<String> {
        self.get(token).map(|s| s.csrf)
    }

    /// Ends every logged-in session but `keep`; returns how many ended.
    pub fn close_others(&self, keep: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|t, s| t == keep || s.user.is_none());
        before - map.len()
    }

    pub fn close(&self, token: &str) {
        self.lock().remove(token);
    }
}

/// The session token in the request's cookie, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value for a session token (an empty token with Max-Age=0 clears it).
pub fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = if token.is_empty() {
        0
    } else {
        SESSION_TTL.as_secs()
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = session_token(&parts.headers).and_then(|t| state.sessions.get(&t));
        if state.users.is_empty() {
            return Ok(Viewer {
                username: None,
                role: Role::Viewer,
                csrf: session.map(|s| s.csrf),
                logins_enabled: false,
            });
        }
        match session {
            Some(Session {
                user: Some((name, role)),
                csrf,
                ..
            }) => Ok(Viewer {
                username: Some(name),
                role,
                csrf: Some(csrf),
                logins_enabled: true,
            }),
            _ => Err(AppError::LoginRequired),
        }
    }
}

impl Viewer {
    /// Refuses a viewer where an admin is needed (403).
    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(AppError::Forbidden("this needs the admin role")),
        }
    }
}

/// The client's address: the socket peer, or behind `--https-proxy` the address the proxy put
/// last in X-Forwarded-For (the proxy must set it; see docs/admin-panel.md).
pub fn client_address(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if state.settings.https_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Every state-changing request must carry the session's CSRF token as the form field `csrf`.
/// Runs before the handlers, so no POST route can forget it.
pub async fn require_csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let expected = session_token(req.headers()).and_then(|t| state.sessions.get(&t));
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_FORM).await {
        Ok(b) => b,
        Err(_) => return AppError::BadRequest("form too large".into()).into_response(),
    };
    let given = form_field(&bytes, "csrf");
    let ok = match (&expected, &given) {
        (Some(s), Some(g)) => constant_time_eq(s.csrf.as_bytes(), g.as_bytes()),
        _ => false,
    };
    if !ok {
        return AppError::Forbidden("missing or wrong CSRF token; reload the page and try again")
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(body);
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Decodes an `application/x-www-form-urlencoded` body (axum's Form does the same for handlers).
fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", String::from_utf8_lossy(body))
            .parse()
            .unwrap_or_default(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Limits on login attempts, per username and per client address, so a password cannot be
/// guessed quickly from one place or against one account from many.
pub struct LoginLimits {
    per_user: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<String>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        // 5 attempts at once per user, then one a minute; 20 per address, then one every 15 s.
        let user = Quota::with_period(Duration::from_secs(60))
            .map(|q| q.allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN)));
        let addr = Quota::with_period(Duration::from_secs(15))
            .map(|q| q.allow_burst(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN)));
        let fallback = Quota::per_minute(NonZeroU32::MIN);
        Self {
            per_user: RateLimiter::keyed(user.unwrap_or(fallback)),
            per_address: RateLimiter::keyed(addr.unwrap_or(fallback)),
        }
    }
}

impl LoginLimits {
    /// Takes one attempt from both budgets; false when either is spent.
    pub fn attempt(&self, username: &str, address: &str) -> bool {
        let user_ok = self.per_user.check_key(&username.to_string()).is_ok();
        let addr_ok = self.per_address.check_key(&address.to_string()).is_ok();
        user_ok && addr_ok
    }
}

/// Pulls the peer address if the server was started with connect info (tests may not).
pub fn peer(parts_ext: &axum::http::Extensions) -> Option<SocketAddr> {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}

/// The client's address as [`client_address`] determines it, as an extractor.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_address(
            state,
            &parts.headers,
            peer(&parts.extensions),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_login_forms_in_a_loop_cannot_push_out_logged_in_sessions() {
        let sessions = Sessions::default();
        let (user_token, _) = sessions
            .open(Some(("ann".into(), Role::Admin)))
            .expect("opens");
        for _ in 0..MAX_SESSIONS + 5 {
            sessions.open(None).expect("an anonymous session");
        }
        assert!(sessions.lock().len() <= MAX_SESSIONS);
        assert!(
            sessions.get(&user_token).is_some(),
            "the logged-in session survives"
        );
    }
}
