//! File downloads (`url_private` / `url_private_download`) through the client's own HTTP stack and
//! politeness: the in-flight cap, a rate budget (`files.download`), 429 `Retry-After` and bounded
//! retries. The token goes in the `Authorization` header, only to Slack's hosts (or the API
//! server's own origin, for a local test server); redirects are followed only within the same
//! origin or to Slack's hosts (where reqwest drops the `Authorization` header, since the host
//! changes), never elsewhere.

use std::io::Write;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use tracing::{debug, warn};

use crate::client::{
    DEFAULT_RETRY_AFTER, RetryAfter, SlackClient, parse_retry_after, transport_error,
};
use crate::error::Error;
use crate::rate::{MAX_RATE_LIMIT_RETRIES, MAX_RETRY_AFTER};

/// The name downloads are counted and paced under in [`crate::ClientStats`].
pub const DOWNLOAD_METHOD: &str = "files.download";

/// Redirects one download may follow.
const MAX_REDIRECTS: usize = 10;

/// Whether `host` is one of Slack's (`slack.com`, `files.slack.com`, `slack-edge.com`, ...).
pub fn is_slack_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    ["slack.com", "slack-edge.com", "slack-files.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// The client's redirect rule: follow within the same origin, or to Slack's hosts over https;
/// stop anywhere else (the caller sees the redirect and refuses it). API calls never redirect.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let same_origin = attempt
            .previous()
            .last()
            .is_some_and(|prev| prev.origin() == attempt.url().origin());
        let slack = attempt.url().scheme() == "https"
            && attempt.url().host_str().is_some_and(is_slack_host);
        if same_origin || slack {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// One file to download.
#[derive(Debug, Clone, Copy)]
pub struct FileRequest<'a> {
    /// `url_private_download` (or `url_private`).
    pub url: &'a str,
    /// Stop reading past this many bytes (announced or as sent).
    pub max_bytes: u64,
    /// Whether the file itself is HTML; otherwise an HTML answer is Slack's sign-in page.
    pub html_expected: bool,
}

/// What a download came to.
#[derive(Debug)]
pub enum Download<W> {
    /// The whole body went into `sink`.
    Complete { sink: W, bytes: u64 },
    /// Slack answered 404 or 410: the file is gone.
    Gone { status: u16 },
    /// Longer than [`FileRequest::max_bytes`]; what was read is dropped with its sink.
    TooLarge,
}

/// One try's outcome.
enum Attempt<W> {
    Done(Download<W>),
    RateLimited(Duration),
    Transient(Error),
    Fatal(Error),
}

impl SlackClient {
    /// Downloads `req.url` into a sink from `open`, called afresh for every try: a try cut off
    /// midway drops its sink (for a temporary file, that deletes it) and the next starts over,
    /// so a partial body is never handed back. Paced, capped and retried like API calls.
    pub async fn download<W: Write + Send>(
        &self,
        req: &FileRequest<'_>,
        mut open: impl FnMut() -> std::io::Result<W> + Send,
    ) -> Result<Download<W>, Error> {
        let url = self.file_url(req.url)?;
        let budget = self.inner.budget.method(DOWNLOAD_METHOD);
        let mut backoff = self.retry_backoff();
        let mut rate_waits = 0u32;
        let mut attempt = 0u32;
        loop {
            budget.acquire().await;
            if attempt > 0 {
                self.count(DOWNLOAD_METHOD, |s| s.retries += 1);
            }
            attempt += 1;
            match self.download_once(&url, req, &mut open).await {
                Attempt::Done(d) => return Ok(d),
                Attempt::Fatal(e) => return Err(e),
                Attempt::RateLimited(wait) => {
                    self.count(DOWNLOAD_METHOD, |s| s.http_429 += 1);
                    rate_waits += 1;
                    if rate_waits > MAX_RATE_LIMIT_RETRIES {
                        return Err(Error::RateLimited {
                            method: DOWNLOAD_METHOD.into(),
                            attempts: rate_waits - 1,
                        });
                    }
                    budget.block_for(wait);
                }
                Attempt::Transient(error) => match backoff.next() {
                    Some(delay) => {
                        debug!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying a download");
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        warn!(attempts = attempt, error = %error, "giving up a download after retries");
                        return Err(error);
                    }
                },
            }
        }
    }

    /// The URL, if the token may go there: Slack's hosts over https, or the API server's origin.
    fn file_url(&self, raw: &str) -> Result<Url, Error> {
        let refuse = |host: &str| Error::NotSlackUrl {
            host: host.to_string(),
        };
        let url = Url::parse(raw).map_err(|_| refuse("an unreadable URL"))?;
        let host = url.host_str().unwrap_or("no host").to_string();
        let api_origin = Url::parse(&self.inner.base_url).map(|b| b.origin());
        let same_as_api = api_origin.is_ok_and(|o| o == url.origin());
        let slack = url.scheme() == "https" && is_slack_host(&host);
        if same_as_api || slack {
            Ok(url)
        } else {
            Err(refuse(&host))
        }
    }

    async fn download_once<W: Write>(
        &self,
        url: &Url,
        req: &FileRequest<'_>,
        open: &mut impl FnMut() -> std::io::Result<W>,
    ) -> Attempt<W> {
        let _permit = self.inner.in_flight.acquire().await;
        self.count(DOWNLOAD_METHOD, |s| s.requests += 1);
        let Ok(mut auth) =
            HeaderValue::from_str(&format!("Bearer {}", self.inner.token.expose_secret()))
        else {
            return Attempt::Fatal(Error::Config {
                message: "the Slack token contains characters not allowed in an HTTP header".into(),
                hint: Some("check SLACK_TOKEN for stray quotes or spaces".into()),
            });
        };
        auth.set_sensitive(true);
        let response = match self
            .inner
            .http
            .get(url.clone())
            .header(AUTHORIZATION, auth)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Attempt::Transient(transport_error(DOWNLOAD_METHOD, &e)),
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return match retry_after {
                None => Attempt::RateLimited(DEFAULT_RETRY_AFTER),
                Some(RetryAfter::Wait(wait)) => Attempt::RateLimited(wait),
                Some(RetryAfter::TooLong(requested_secs)) => {
                    Attempt::Fatal(Error::RetryAfterTooLong {
                        method: DOWNLOAD_METHOD.into(),
                        requested_secs,
                        limit_secs: MAX_RETRY_AFTER.as_secs(),
                    })
                }
            };
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Attempt::Done(Download::Gone {
                status: status.as_u16(),
            });
        }
        if status.is_redirection() {
            // The policy stopped it: a host that is not Slack's.
            let host = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "an unreadable location".into());
            return Attempt::Fatal(Error::RedirectRefused { host });
        }
        if status.is_server_error() {
            return Attempt::Transient(Error::Http {
                method: DOWNLOAD_METHOD.into(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Attempt::Fatal(Error::Http {
                method: DOWNLOAD_METHOD.into(),
                status: status.as_u16(),
            });
        }
        let html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/html")
            });
        if html && !req.html_expected {
            return Attempt::Fatal(Error::FileSignIn);
        }
        let announced = response.content_length();
        if announced.is_some_and(|n| n > req.max_bytes) {
            return Attempt::Done(Download::TooLarge);
        }
        let mut sink = match open() {
            Ok(s) => s,
            Err(e) => return Attempt::Fatal(Error::Io(e)),
        };
        let mut response = response;
        let mut bytes = 0u64;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    bytes += chunk.len() as u64;
                    if bytes > req.max_bytes {
                        return Attempt::Done(Download::TooLarge);
                    }
                    if let Err(e) = sink.write_all(&chunk) {
                        return Attempt::Fatal(Error::Io(e));
                    }
                }
                Ok(None) => break,
                // Cut off midway: the sink is dropped with what it holds; the next try starts over.
                Err(e) => return Attempt::Transient(transport_error(DOWNLOAD_METHOD, &e)),
            }
        }
        if announced.is_some_and(|n| n != bytes) {
            return Attempt::Transient(Error::Transport {
                method: DOWNLOAD_METHOD.into(),
                detail: format!(
                    "the body ended after {bytes} of {} bytes",
                    announced.unwrap_or(0)
                ),
            });
        }
        if let Err(e) = sink.flush() {
            return Attempt::Fatal(Error::Io(e));
        }
        Attempt::Done(Download::Complete { sink, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_hosts() {
        for h in [
            "slack.com",
            "files.slack.com",
            "FILES.slack.com",
            "a.slack-edge.com",
        ] {
            assert!(is_slack_host(h), "{h}");
        }
        for h in ["evilslack.com", "slack.com.evil.example", "example.com", ""] {
            assert!(!is_slack_host(h), "{h}");
        }
    }
}
