//! Client settings: the token, the API base URL and the pacing knobs, resolved from the environment.

use std::time::Duration;

use secrecy::SecretString;

use crate::error::Error;

/// Where the client sends calls when `SLACK_API_BASE` is not set.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";

/// Resolved settings for a [`crate::SlackClient`]. Debug output never shows the token.
#[derive(Clone)]
pub struct ClientConfig {
    /// The Slack token (user `xoxp-` or bot `xoxb-`); sent only as an `Authorization: Bearer` header.
    pub token: SecretString,
    /// API root; calls go to `{base_url}/{method}`. No trailing slash.
    pub base_url: String,
    /// Multiplies every per-method budget of Slack's tier table (`SLACK_RATE_SCALE`). `1.0` is real
    /// Slack; `60.0` drives a server sped up 60 times; `0.0` turns proactive pacing off (429 answers
    /// are still honoured), for "rate limits off" benchmarks.
    pub rate_scale: f64,
    /// Retries after 5xx answers, timeouts, connection errors and truncated bodies (not counting 429s,
    /// which have their own bound, [`crate::rate::MAX_RATE_LIMIT_RETRIES`]).
    pub max_retries: u32,
    /// Deadline for one HTTP exchange, body included.
    pub request_timeout: Duration,
    /// Most requests in flight at once across the whole client (all methods).
    pub concurrency: usize,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("token", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("rate_scale", &self.rate_scale)
            .field("max_retries", &self.max_retries)
            .field("request_timeout", &self.request_timeout)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl ClientConfig {
    /// Settings with the defaults: rate scale 1.0, 5 retries, 30 s timeout, 8 requests in flight.
    pub fn new(token: impl Into<String>, base_url: impl Into<String>) -> Self {
        let base_url: String = base_url.into();
        ClientConfig {
            token: SecretString::from(token.into()),
            base_url: base_url.trim_end_matches('/').to_string(),
            rate_scale: 1.0,
            max_retries: 5,
            request_timeout: Duration::from_secs(30),
            concurrency: 8,
        }
    }

    /// Reads `SLACK_TOKEN` (alias `SLACK_USER_TOKEN`), `SLACK_API_BASE` and `SLACK_RATE_SCALE` from the
    /// process environment. Loading a `.env` file is the binaries' job (dotenvy), done before this.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientConfig::from_env`] over any variable source, so it can be tested without touching the
    /// process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let non_empty = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let token = non_empty("SLACK_TOKEN")
            .or_else(|| non_empty("SLACK_USER_TOKEN"))
            .ok_or_else(|| Error::Config {
                message: "no Slack token: SLACK_TOKEN is not set".to_string(),
                hint: Some(
                    "set SLACK_TOKEN (or SLACK_USER_TOKEN) in the environment or in a .env file \
                     in the working directory (see .env.example)"
                        .to_string(),
                ),
            })?;
        let base = non_empty("SLACK_API_BASE").unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut cfg = ClientConfig::new(token, base);
        if let Some(raw) = non_empty("SLACK_RATE_SCALE") {
            cfg.rate_scale = parse_rate_scale(&raw)?;
        }
        Ok(cfg)
    }
}

/// `off` and `0` mean "no proactive pacing"; otherwise a finite, non-negative float.
fn parse_rate_scale(raw: &str) -> Result<f64, Error> {
    if raw.eq_ignore_ascii_case("off") {
        return Ok(0.0);
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(Error::Config {
            message: format!("SLACK_RATE_SCALE={raw:?} is not a non-negative number"),
            hint: Some(
                "use e.g. SLACK_RATE_SCALE=1 (real Slack), 60 (sped-up sim) or off".to_string(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn missing_token_names_the_variable_and_env_file() {
        let err = ClientConfig::from_lookup(lookup(&[])).expect_err("no token must fail");
        let text = format!("{err}\n{}", err.hint().unwrap_or_default());
        assert!(text.contains("SLACK_TOKEN"), "{text}");
        assert!(text.contains(".env"), "{text}");
    }

    #[test]
    fn user_token_alias_and_defaults() {
        let cfg =
            ClientConfig::from_lookup(lookup(&[("SLACK_USER_TOKEN", "xoxp-1")])).expect("config");
        assert_eq!(cfg.token.expose_secret(), "xoxp-1");
        assert_eq!(cfg.base_url, DEFAULT_BASE_URL);
        assert_eq!(cfg.rate_scale, 1.0);
    }

    #[test]
    fn base_and_scale_are_read() {
        let vars = [
            ("SLACK_TOKEN", "xoxb-2"),
            ("SLACK_USER_TOKEN", "xoxp-ignored"),
            ("SLACK_API_BASE", "http://127.0.0.1:9/api/"),
            ("SLACK_RATE_SCALE", "60"),
        ];
        let cfg = ClientConfig::from_lookup(lookup(&vars)).expect("config");
        assert_eq!(cfg.token.expose_secret(), "xoxb-2");
        assert_eq!(cfg.base_url, "http://127.0.0.1:9/api");
        assert_eq!(cfg.rate_scale, 60.0);
        let off = [("SLACK_TOKEN", "t"), ("SLACK_RATE_SCALE", "off")];
        assert_eq!(
            ClientConfig::from_lookup(lookup(&off))
                .expect("config")
                .rate_scale,
            0.0
        );
        let bad = [("SLACK_TOKEN", "t"), ("SLACK_RATE_SCALE", "-1")];
        assert!(matches!(
            ClientConfig::from_lookup(lookup(&bad)),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn debug_hides_token() {
        let cfg = ClientConfig::new("xoxb-very-secret", "http://x");
        assert!(!format!("{cfg:?}").contains("very-secret"));
    }
}
