//! The client's typed errors: Slack error codes mapped to messages that say what to fix.

use serde::Deserialize;

/// One user's failure inside a `conversations.invite` answer (`errors: [{user, error}]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserError {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub error: String,
}

/// Slack error codes meaning the token itself is unusable.
pub(crate) const AUTH_CODES: &[&str] = &[
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
];

/// Everything a call can fail with. No variant ever carries the token.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// Settings are missing or malformed (exit code 2 in the tools).
    #[error("configuration error: {message}")]
    Config {
        message: String,
        hint: Option<String>,
    },

    /// The place the token is kept (the store, when it was connected in the admin panel) could
    /// not be reached: an outage, not a setting to fix (exit code 1 in the tools).
    #[error("{message}")]
    TokenSource {
        message: String,
        hint: Option<String>,
    },

    /// The token was refused; the run cannot continue.
    #[error(
        "Slack refused the token ({code}): fix SLACK_TOKEN (or SLACK_USER_TOKEN) in the environment or .env"
    )]
    Auth { code: String },

    /// The token lacks a scope the method needs.
    #[error("{method}: missing_scope: the token needs scope(s) `{needed}` but has `{provided}`")]
    MissingScope {
        method: String,
        needed: String,
        provided: String,
    },

    /// Any other `ok: false` answer.
    #[error("{method}: {code}{}{}", channel.as_ref().map(|c| format!(" (channel {c})")).unwrap_or_default(), describe_user_errors(user_errors))]
    Api {
        method: String,
        code: String,
        channel: Option<String>,
        user_errors: Vec<UserError>,
    },

    /// Still answered 429 after the bounded number of waits.
    #[error("{method}: rate limited by Slack; gave up after {attempts} waits")]
    RateLimited { method: String, attempts: u32 },

    /// A 429 asked for a longer wait than the client will sit through
    /// ([`crate::rate::MAX_RETRY_AFTER`]); the call fails at once instead of hanging the run.
    #[error(
        "{method}: rate limited, and the server asks to wait {requested_secs} s before retrying, \
         more than the {limit_secs} s the client waits"
    )]
    RetryAfterTooLong {
        method: String,
        /// The `Retry-After` asked for, in whole seconds (saturated at `u64::MAX`).
        requested_secs: u64,
        limit_secs: u64,
    },

    /// The answer body was larger than [`crate::ClientConfig::max_body_bytes`]; not retried.
    #[error("{method}: the answer is larger than {limit_bytes} bytes; stopped reading it")]
    BodyTooLarge { method: String, limit_bytes: u64 },

    /// The cursors of a listing came back to one already followed: the server's pagination loops.
    #[error("{method}: pagination loops: page {page}'s next_cursor was already followed")]
    CursorCycle { method: String, page: u64 },

    /// A non-2xx, non-429 HTTP status that persisted through the retries.
    #[error("{method}: HTTP {status}")]
    Http { method: String, status: u16 },

    /// Connection, timeout or body-read failure that persisted through the retries.
    #[error("{method}: transport error: {detail}")]
    Transport { method: String, detail: String },

    /// A file URL that is not Slack's (nor the API server's): the token is not sent there.
    #[error("refusing to send the token to {host}: not a Slack file URL")]
    NotSlackUrl { host: String },

    /// A file download was redirected to a host that is not Slack's; not followed.
    #[error("a file download was redirected to {host}, which is not Slack; not followed")]
    RedirectRefused { host: String },

    /// Slack answered a file download with its sign-in page: the token may not read files.
    #[error("Slack answered a file download with its sign-in page instead of the file")]
    FileSignIn,

    /// Writing a downloaded file failed.
    #[error("cannot write a downloaded file: {0}")]
    Io(#[source] std::io::Error),

    /// The answer was not the JSON we expected (truncated, malformed, wrong shape).
    #[error("{method}: could not decode answer: {detail}")]
    Decode { method: String, detail: String },
}

fn describe_user_errors(errors: &[UserError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.user, e.error))
        .collect();
    format!(" [{}]", parts.join(", "))
}

impl Error {
    /// Slack's error code, when the failure came from Slack (`ratelimited` for [`Error::RateLimited`]).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Auth { code } | Error::Api { code, .. } => Some(code),
            Error::MissingScope { .. } => Some("missing_scope"),
            Error::RateLimited { .. } => Some("ratelimited"),
            _ => None,
        }
    }

    /// True when no further call with this token can succeed, so the run must stop (auth failures and
    /// missing scopes); per-channel errors are not fatal.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. } | Error::MissingScope { .. } | Error::Config { .. }
        )
    }

    /// What the user should do about it, for a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config { hint, .. } | Error::TokenSource { hint, .. } => hint.clone(),
            Error::Auth { .. } => Some(
                "set SLACK_TOKEN (or SLACK_USER_TOKEN) to a valid, current token in the environment or .env".into(),
            ),
            Error::MissingScope { needed, .. } => Some(format!(
                "add the scope(s) `{needed}` to the Slack app, reinstall it, and use the new token"
            )),
            Error::Api { code, channel, .. } => {
                let ch = channel.as_deref().unwrap_or("the channel");
                match code.as_str() {
                    "channel_not_found" => Some(format!(
                        "check that {ch} exists and that the token's user or bot is a member of it"
                    )),
                    "not_in_channel" => Some(format!("join {ch} with the token's user first")),
                    "is_archived" => Some(format!("{ch} is archived; unarchive it or skip it")),
                    "invalid_cursor" => Some("the page cursor expired; restart the listing".into()),
                    _ => None,
                }
            }
            Error::RateLimited { .. } => {
                Some("Slack kept answering 429; retry later or lower concurrency/SLACK_RATE_SCALE".into())
            }
            Error::RetryAfterTooLong { requested_secs, .. } => Some(format!(
                "run again after the {requested_secs} s Slack asked for; if that is absurd, check \
                 that SLACK_API_BASE points at Slack"
            )),
            Error::BodyTooLarge { .. } => Some(
                "check that SLACK_API_BASE points at Slack's Web API: real answers are far smaller"
                    .into(),
            ),
            Error::CursorCycle { .. } => Some(
                "the server's pagination is broken; check SLACK_API_BASE, or retry later".into(),
            ),
            Error::Transport { .. } | Error::Http { .. } => {
                Some("check SLACK_API_BASE and the network connection".into())
            }
            Error::NotSlackUrl { .. } | Error::RedirectRefused { .. } => Some(
                "the message's file points outside Slack; download it by hand if you trust it"
                    .into(),
            ),
            Error::FileSignIn => Some(
                "add the scope `files:read` to the Slack app, reinstall it, and use the new token"
                    .into(),
            ),
            Error::Io(_) => Some("check free space and permissions in --out".into()),
            Error::Decode { .. } => None,
        }
    }

    /// Maps an `ok: false` body to the right variant.
    pub(crate) fn from_slack(
        method: &str,
        code: String,
        body: &serde_json::Value,
        channel: Option<&str>,
    ) -> Error {
        if AUTH_CODES.contains(&code.as_str()) {
            return Error::Auth { code };
        }
        if code == "missing_scope" {
            let field = |k: &str| {
                body.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string()
            };
            return Error::MissingScope {
                method: method.into(),
                needed: field("needed"),
                provided: field("provided"),
            };
        }
        let user_errors = body
            .get("errors")
            .and_then(|e| serde_json::from_value::<Vec<UserError>>(e.clone()).ok())
            .unwrap_or_default();
        Error::Api {
            method: method.into(),
            code,
            channel: channel.map(str::to_string),
            user_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_scope_message_shows_needed_and_provided() {
        let body = json!({"ok": false, "error": "missing_scope", "needed": "channels:write", "provided": "channels:read,users:read"});
        let err = Error::from_slack(
            "conversations.invite",
            "missing_scope".into(),
            &body,
            Some("C1"),
        );
        let msg = err.to_string();
        assert!(
            msg.contains("channels:write") && msg.contains("channels:read,users:read"),
            "{msg}"
        );
        assert!(err.is_fatal());
        assert_eq!(err.code(), Some("missing_scope"));
    }

    #[test]
    fn auth_codes_are_fatal_and_name_the_variable() {
        for code in AUTH_CODES {
            let err = Error::from_slack("auth.test", code.to_string(), &json!({}), None);
            assert!(err.is_fatal(), "{code}");
            assert!(err.to_string().contains("SLACK_TOKEN"));
        }
    }

    #[test]
    fn channel_errors_name_the_channel_and_users() {
        let body = json!({"ok": false, "error": "user_not_found", "errors": [{"user": "U9", "ok": false, "error": "user_not_found"}]});
        let err = Error::from_slack(
            "conversations.invite",
            "user_not_found".into(),
            &body,
            Some("C42"),
        );
        let msg = err.to_string();
        assert!(msg.contains("C42") && msg.contains("U9"), "{msg}");
        assert!(!err.is_fatal());
    }
}
