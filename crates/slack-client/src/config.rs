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
    /// Largest answer body the client reads, in bytes; a larger one fails the call with
    /// [`Error::BodyTooLarge`] instead of filling memory. Slack's largest pages (999 messages
    /// with their blocks and files) are a few MiB.
    pub max_body_bytes: u64,
}

/// Default [`ClientConfig::max_body_bytes`]: 64 MiB, an order of magnitude above real pages.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("token", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("rate_scale", &self.rate_scale)
            .field("max_retries", &self.max_retries)
            .field("request_timeout", &self.request_timeout)
            .field("concurrency", &self.concurrency)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl ClientConfig {
    /// Settings with the defaults: rate scale 1.0, 5 retries, 30 s timeout, 8 requests in flight,
    /// answers up to 64 MiB. The base URL is checked by [`crate::SlackClient::new`].
    pub fn new(token: impl Into<String>, base_url: impl Into<String>) -> Self {
        let base_url: String = base_url.into();
        ClientConfig {
            token: SecretString::from(token.into()),
            base_url: base_url.trim_end_matches('/').to_string(),
            rate_scale: 1.0,
            max_retries: 5,
            request_timeout: Duration::from_secs(30),
            concurrency: 8,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
        check_base_url(&base)?;
        let mut cfg = ClientConfig::new(token, base);
        if let Some(raw) = non_empty("SLACK_RATE_SCALE") {
            cfg.rate_scale = parse_rate_scale(&raw)?;
        }
        Ok(cfg)
    }
}

/// Refuses an API base the token must not be sent to: anything but `https://`, except plain
/// `http://` to this machine (loopback: 127.0.0.0/8, ::1, `localhost`), where test servers such as
/// slack-sim run. Over plain HTTP to any other host the bearer token would cross the network in
/// clear.
pub(crate) fn check_base_url(base: &str) -> Result<(), Error> {
    let refuse = |message: String| Error::Config {
        message,
        hint: Some(
            "set SLACK_API_BASE to an https:// URL (Slack's is https://slack.com/api); plain \
             http:// is only for a server on this machine (127.0.0.1, ::1 or localhost)"
                .to_string(),
        ),
    };
    let url = reqwest::Url::parse(base)
        .map_err(|e| refuse(format!("SLACK_API_BASE={base:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(refuse(format!(
            "SLACK_API_BASE={base:?} is plain http:// to another machine: the token would be \
             sent in clear"
        ))),
        other => Err(refuse(format!(
            "SLACK_API_BASE={base:?} has scheme {other:?}; only https:// is allowed"
        ))),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    // The URL parser lower-cases names and writes IPv6 hosts in brackets.
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
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
    fn plain_http_only_to_this_machine() {
        for ok in [
            "https://slack.com/api",
            "https://10.0.0.5:8443/api",
            "http://127.0.0.1:9/api",
            "http://127.8.9.10/api",
            "http://[::1]:8080/api",
            "http://localhost:3000/api",
            "http://LOCALHOST/api",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/api",
            "http://10.0.0.5/api",
            "http://[::2]/api",
            "http://localhost.example.com/api",
            "http://127.0.0.1.nip.io/api",
            "ftp://127.0.0.1/api",
            "slack.com/api",
        ] {
            let err = check_base_url(bad).expect_err(bad);
            assert!(matches!(err, Error::Config { .. }), "{bad}: {err:?}");
            assert!(
                err.hint().is_some_and(|h| h.contains("https://")),
                "{bad}: {err:?}"
            );
        }
        let vars = [
            ("SLACK_TOKEN", "xoxb-2"),
            ("SLACK_API_BASE", "http://example.com/api"),
        ];
        let err = ClientConfig::from_lookup(lookup(&vars)).expect_err("plain http refused");
        assert!(err.to_string().contains("in clear"), "{err}");
        assert!(!err.to_string().contains("xoxb-2"), "{err}");
    }

    #[test]
    fn debug_hides_token() {
        let cfg = ClientConfig::new("xoxb-very-secret", "http://x");
        assert!(!format!("{cfg:?}").contains("very-secret"));
    }
}
