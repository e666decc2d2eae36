//! Slack's OAuth v2 install flow, as far as an app sees it: the approval page at
//! `GET /oauth/v2/authorize`, the code exchange `oauth.v2.access` (codes single-use, short-lived,
//! bound to the redirect URI and the client's secret) and `auth.revoke`. Tokens minted here act
//! as the workspace's `token_user` with exactly the user scopes granted, against every other method.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::methods::ApiError;
use crate::model::Team;

/// How long an authorization code can be exchanged; Slack's codes expire after ten minutes.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(600);

/// An app registered with the sim: what `oauth.v2.access` checks the caller against.
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    /// Slack's app ID (`A...`), answered as `app_id`.
    pub app_id: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("app_id", &self.app_id)
            .finish()
    }
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    user_scopes: Vec<String>,
    bot_scopes: Vec<String>,
    issued: Instant,
}

/// A token handed out by `oauth.v2.access`.
pub(crate) struct Minted {
    pub scopes: Vec<String>,
    pub revoked: bool,
}

/// The OAuth side of the sim's state.
#[derive(Default)]
pub(crate) struct OAuthState {
    apps: Vec<OAuthApp>,
    codes: HashMap<String, PendingCode>,
    pub tokens: HashMap<String, Minted>,
}

fn scopes_of(raw: Option<&String>) -> Vec<String> {
    raw.map(|s| {
        s.split([',', ' '])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn random_token(prefix: &str) -> String {
    let mut rng = fastrand::Rng::new();
    let tail: String = (0..32).map(|_| rng.alphanumeric()).collect();
    format!("{prefix}{tail}")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Slack</title></head><body>{body}</body></html>"
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn redirect(to: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OAuthState {
    /// Makes every pending code `by` older (tests of the expiry, without waiting 10 minutes).
    pub(crate) fn age_codes(&mut self, by: Duration) {
        for c in self.codes.values_mut() {
            if let Some(t) = c.issued.checked_sub(by) {
                c.issued = t;
            }
        }
    }

    pub(crate) fn register(&mut self, app: OAuthApp) {
        self.apps.retain(|a| a.client_id != app.client_id);
        self.apps.push(app);
    }

    fn app(&self, client_id: &str) -> Option<&OAuthApp> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    /// `GET /oauth/v2/authorize`: the page a user approves the install on. Unknown clients and a
    /// missing redirect get an error page, as Slack shows, never a redirect.
    pub(crate) fn authorize_page(&self, team: &Team, p: &BTreeMap<String, String>) -> Response {
        let client_id = p.get("client_id").cloned().unwrap_or_default();
        let Some(_app) = self.app(&client_id) else {
            return page(
                StatusCode::BAD_REQUEST,
                "<h1>Something went wrong</h1><p>invalid_client_id</p>".into(),
            );
        };
        let Some(redirect_uri) = p.get("redirect_uri").filter(|r| !r.is_empty()) else {
            return page(
                StatusCode::BAD_REQUEST,
                "<h1>Something went wrong</h1><p>bad_redirect_uri</p>".into(),
            );
        };
        let user_scope = p.get("user_scope").cloned().unwrap_or_default();
        let scope = p.get("scope").cloned().unwrap_or_default();
        let state = p.get("state").cloned().unwrap_or_default();
        let hidden = |name: &str, value: &str| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                esc(value)
            )
        };
        let scopes_list: String = scopes_of(Some(&user_scope))
            .iter()
            .chain(scopes_of(Some(&scope)).iter())
            .map(|s| format!("<li>{}</li>", esc(s)))
            .collect();
        page(
            StatusCode::OK,
            format!(
                "<h1>Allow access to {team}?</h1><p>The app is requesting permission to access \
                 the {team} Slack workspace:</p><ul id=\"scopes\">{scopes_list}</ul>\
                 <form method=\"post\" action=\"/oauth/v2/authorize\">{}{}{}{}{}\
                 <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button> \
                 <button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"cancel\">Cancel</button>\
                 </form>",
                hidden("client_id", &client_id),
                hidden("redirect_uri", redirect_uri),
                hidden("user_scope", &user_scope),
                hidden("scope", &scope),
                hidden("state", &state),
                team = esc(&team.name),
            ),
        )
    }

    /// The approval form's POST: a code and the state back to the redirect URI, or
    /// `error=access_denied` when the user cancelled.
    pub(crate) fn decide(&mut self, p: &BTreeMap<String, String>) -> Response {
        let client_id = p.get("client_id").cloned().unwrap_or_default();
        let redirect_uri = p.get("redirect_uri").cloned().unwrap_or_default();
        if self.app(&client_id).is_none() || redirect_uri.is_empty() {
            return page(
                StatusCode::BAD_REQUEST,
                "<h1>Something went wrong</h1><p>invalid_client_id</p>".into(),
            );
        }
        let state = p.get("state").cloned().unwrap_or_default();
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        if p.get("decision").map(String::as_str) != Some("allow") {
            return redirect(&format!(
                "{redirect_uri}{sep}error=access_denied&state={}",
                enc(&state)
            ));
        }
        let code = random_token("sim-code-");
        self.codes.insert(
            code.clone(),
            PendingCode {
                client_id,
                redirect_uri: redirect_uri.clone(),
                user_scopes: scopes_of(p.get("user_scope")),
                bot_scopes: scopes_of(p.get("scope")),
                issued: Instant::now(),
            },
        );
        redirect(&format!(
            "{redirect_uri}{sep}code={}&state={}",
            enc(&code),
            enc(&state)
        ))
    }

    /// `oauth.v2.access`: the client authenticates with HTTP Basic or `client_id`/`client_secret`
    /// params. The code is consumed by the first attempt whatever its outcome, as Slack does.
    pub(crate) fn access(
        &mut self,
        team: &Team,
        user: &str,
        basic: Option<(String, String)>,
        p: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let (client_id, secret) = match basic {
            Some(pair) => pair,
            None => (
                p.get("client_id").cloned().unwrap_or_default(),
                p.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        let app = self
            .app(&client_id)
            .cloned()
            .ok_or_else(|| ApiError::new("invalid_client_id"))?;
        if secret != app.client_secret {
            return Err(ApiError::new("bad_client_secret"));
        }
        let code = p.get("code").cloned().unwrap_or_default();
        let pending = self
            .codes
            .remove(&code)
            .ok_or_else(|| ApiError::new("invalid_code"))?;
        if pending.client_id != client_id || pending.issued.elapsed() > CODE_TTL {
            return Err(ApiError::new("invalid_code"));
        }
        if p.get("redirect_uri").map(String::as_str) != Some(pending.redirect_uri.as_str()) {
            return Err(ApiError::new("bad_redirect_uri"));
        }
        let user_token = random_token("xoxp-");
        self.tokens.insert(
            user_token.clone(),
            Minted {
                scopes: pending.user_scopes.clone(),
                revoked: false,
            },
        );
        let mut out = json!({
            "app_id": app.app_id,
            "authed_user": {
                "id": user,
                "scope": pending.user_scopes.join(","),
                "access_token": user_token,
                "token_type": "user",
            },
            "team": { "id": team.id, "name": team.name },
            "enterprise": null,
            "is_enterprise_install": false,
        });
        if !pending.bot_scopes.is_empty() {
            let bot_token = random_token("xoxb-");
            self.tokens.insert(
                bot_token.clone(),
                Minted {
                    scopes: pending.bot_scopes.clone(),
                    revoked: false,
                },
            );
            out["scope"] = json!(pending.bot_scopes.join(","));
            out["token_type"] = json!("bot");
            out["access_token"] = json!(bot_token);
            out["bot_user_id"] = json!("USIMBOT01");
        }
        Ok(out)
    }
}

impl OAuthState {
    /// `auth.revoke`: the token stops working at once (`token_revoked` from then on).
    pub(crate) fn revoke(&mut self, token: &str) {
        self.tokens
            .entry(token.to_string())
            .or_insert(Minted {
                scopes: Vec::new(),
                revoked: true,
            })
            .revoked = true;
    }
}

/// `Authorization: Basic base64(client_id:client_secret)`, as slack_sdk sends for oauth.v2.access.
pub(crate) fn basic_auth(value: Option<&str>) -> Option<(String, String)> {
    let raw = value?.strip_prefix("Basic ")?;
    let decoded = B64.decode(raw.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
