//! Slack's OAuth v2 code exchange (`oauth.v2.access`) and `auth.revoke`: what an app's install
//! flow needs after the user approved it. The exchange authenticates the app (client ID and
//! secret, as HTTP Basic), not a token, and is sent once: a code is single-use, so a resend after
//! an unclear failure could only fail.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::SlackClient;
use crate::config::check_base_url;
use crate::error::Error;

const METHOD: &str = "oauth.v2.access";

/// The user-token part of an `oauth.v2.access` answer. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct AuthedUser {
    pub id: String,
    /// Granted user scopes.
    pub scopes: Vec<String>,
    pub access_token: Option<SecretString>,
    pub token_type: Option<String>,
}

/// An `oauth.v2.access` answer.
#[derive(Debug, Clone)]
pub struct OAuthAccess {
    pub app_id: Option<String>,
    pub authed_user: AuthedUser,
    pub team_id: String,
    pub team_name: String,
    pub is_enterprise_install: bool,
    /// The bot token, when bot scopes were asked for.
    pub bot_token: Option<SecretString>,
}

fn decode_err(detail: &str) -> Error {
    Error::Decode {
        method: METHOD.into(),
        detail: detail.into(),
    }
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str().map(str::to_string)
}

/// Exchanges `code` for tokens at `{base_url}/oauth.v2.access`. `redirect_uri` must be the one
/// the authorize request named.
pub async fn oauth_v2_access(
    base_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    code: &str,
    redirect_uri: &str,
) -> Result<OAuthAccess, Error> {
    let base = base_url.trim_end_matches('/');
    check_base_url(base)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("slack-tools/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config {
            message: format!("cannot build the HTTP client: {e}"),
            hint: None,
        })?;
    let resp = http
        .post(format!("{base}/{METHOD}"))
        // reqwest marks the Basic header sensitive, so it stays out of Debug output and logs.
        .basic_auth(client_id, Some(client_secret.expose_secret()))
        .form(&[("code", code), ("redirect_uri", redirect_uri)])
        .send()
        .await
        .map_err(|e| Error::Transport {
            method: METHOD.into(),
            detail: e.without_url().to_string(),
        })?;
    let status = resp.status().as_u16();
    let body: Value = match resp.json().await {
        Ok(b) => b,
        Err(_) if status != 200 => {
            return Err(Error::Http {
                method: METHOD.into(),
                status,
            });
        }
        Err(_) => return Err(decode_err("the answer is not JSON")),
    };
    if body.get("ok") != Some(&Value::Bool(true)) {
        let code = text(&body, &["error"]).unwrap_or_else(|| "unknown_error".into());
        return Err(Error::from_slack(METHOD, code, &body, None));
    }
    let authed_user = AuthedUser {
        id: text(&body, &["authed_user", "id"]).ok_or_else(|| decode_err("no authed_user.id"))?,
        scopes: text(&body, &["authed_user", "scope"])
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        access_token: text(&body, &["authed_user", "access_token"]).map(SecretString::from),
        token_type: text(&body, &["authed_user", "token_type"]),
    };
    Ok(OAuthAccess {
        app_id: text(&body, &["app_id"]),
        authed_user,
        team_id: text(&body, &["team", "id"]).ok_or_else(|| decode_err("no team.id"))?,
        team_name: text(&body, &["team", "name"]).unwrap_or_default(),
        is_enterprise_install: body
            .get("is_enterprise_install")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        bot_token: text(&body, &["access_token"]).map(SecretString::from),
    })
}

impl SlackClient {
    /// `auth.revoke`: revokes the client's own token. True when Slack says it is revoked.
    pub async fn auth_revoke(&self) -> Result<bool, Error> {
        let body = self.call_revoke().await?;
        Ok(body
            .get("revoked")
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }
}
