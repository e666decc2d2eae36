//! The HTTP side: form-encoded POSTs with a bearer token, per-method pacing, bounded retries, cursor
//! pagination as streams, and call counters.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use tracing::{debug, trace, warn};

use crate::config::{ClientConfig, check_base_url};
use crate::error::{Error, UserError};
use crate::rate::{MAX_RATE_LIMIT_RETRIES, MAX_RETRY_AFTER, RateBudget};
use crate::types::{
    AuthTest, Conversation, InviteOutcome, ListConversations, Message, PostedMessage, RawMessage,
    Team, TimeRange, User, WithRaw, decode_with_raw,
};

/// Page sizes. Slack's calls are the scarce resource (per-minute budgets), so ask for the largest page
/// each method documents; pages may still come back smaller (filters, the 15-message strict limit),
/// which the paginator accepts.
const LIMIT_USERS: &str = "1000";
const LIMIT_CONVERSATIONS: &str = "1000";
const LIMIT_MEMBERS: &str = "1000";
/// conversations.history documents 999 as its maximum.
const LIMIT_HISTORY: &str = "999";
const LIMIT_REPLIES: &str = "1000";
/// conversations.invite takes at most 100 users per call (current docs).
const INVITE_BATCH: usize = 100;

/// Wait used when a 429 comes without a readable `Retry-After`.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Slack codes on `ok: false` that mean a passing server fault rather than a bad request.
const TRANSIENT_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Whether a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads, and writes whose repetition has no extra effect.
    Safe,
    /// Writes that would repeat their effect: resend only when Slack certainly did not process them.
    OnlyIfUnprocessed,
}

/// Counters for one method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Answers with HTTP 429 (or `ok:false` `ratelimited`).
    pub http_429: u64,
    /// Requests that were resends of an earlier failed attempt.
    pub retries: u64,
}

/// Counters for the whole client, for progress lines and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub http_429: u64,
    pub retries: u64,
    pub per_method: BTreeMap<String, MethodStats>,
}

/// A Slack Web API client. Cheap to clone (shared state behind an `Arc`); all clones share the rate
/// budget, the in-flight limit and the counters.
#[derive(Clone)]
pub struct SlackClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) token: SecretString,
    pub(crate) base_url: String,
    pub(crate) max_retries: u32,
    max_body_bytes: u64,
    rate_scale: f64,
    pub(crate) budget: RateBudget,
    pub(crate) in_flight: Semaphore,
    stats: Mutex<BTreeMap<String, MethodStats>>,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("base_url", &self.inner.base_url)
            .field("rate_scale", &self.inner.rate_scale)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// What one HTTP exchange came to.
enum Attempt<T> {
    /// An `ok: true` answer, decoded.
    Body(T),
    /// 429: wait this long, then resend.
    RateLimited(Duration),
    /// A failure worth another try; `unprocessed` is true when Slack certainly did not act on it.
    Transient { error: Error, unprocessed: bool },
    /// A failure that a resend would not fix.
    Fatal(Error),
}

impl SlackClient {
    /// The waits between retries of one call (API or download): jittered, 200 ms doubling to
    /// 10 s, at most `max_retries` of them.
    pub(crate) fn retry_backoff(&self) -> backon::ExponentialBackoff {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.inner.max_retries as usize)
            .build()
    }

    /// Builds a client. Fails with [`Error::Config`] on unusable settings.
    pub fn new(cfg: ClientConfig) -> Result<Self, Error> {
        let config_error = |message: String| Error::Config {
            message,
            hint: None,
        };
        if cfg.base_url.trim().is_empty() {
            return Err(config_error("SLACK_API_BASE is empty".into()));
        }
        check_base_url(&cfg.base_url)?;
        if cfg.concurrency == 0 {
            return Err(config_error("concurrency must be at least 1".into()));
        }
        if !(cfg.rate_scale.is_finite() && cfg.rate_scale >= 0.0) {
            return Err(config_error(format!(
                "rate scale {} is not a non-negative number",
                cfg.rate_scale
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("slack-tools/", env!("CARGO_PKG_VERSION")))
            .redirect(crate::download::redirect_policy())
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(SlackClient {
            inner: Arc::new(Inner {
                http,
                token: cfg.token,
                base_url: cfg.base_url.trim_end_matches('/').to_string(),
                max_retries: cfg.max_retries,
                max_body_bytes: cfg.max_body_bytes,
                rate_scale: cfg.rate_scale,
                budget: RateBudget::new(cfg.rate_scale),
                in_flight: Semaphore::new(cfg.concurrency),
                stats: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The API root calls go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `auth.test`: checks the token and says whose it is.
    pub async fn auth_test(&self) -> Result<AuthTest, Error> {
        let body = self.call("auth.test", &[], Replay::Safe, None).await?;
        decode("auth.test", body)
    }

    /// `auth.revoke`'s answer body (see `oauth.rs`). Safe to resend: revoking twice revokes.
    pub(crate) async fn call_revoke(&self) -> Result<Value, Error> {
        self.call("auth.revoke", &[], Replay::Safe, None).await
    }

    /// `team.info`: the workspace.
    pub async fn team_info(&self) -> Result<Team, Error> {
        let body = self.call("team.info", &[], Replay::Safe, None).await?;
        object_field("team.info", body, "team")
    }

    /// `users.list`, one page per item.
    pub fn users_list(&self) -> BoxStream<'static, Result<Vec<User>, Error>> {
        self.paginate(
            "users.list",
            vec![("limit", LIMIT_USERS.into())],
            None,
            "members",
        )
    }

    /// Every workspace member (deleted and invited included).
    pub async fn all_users(&self) -> Result<Vec<User>, Error> {
        self.users_list().try_concat().await
    }

    /// `users.info` for one user ID.
    pub async fn users_info(&self, user: &str) -> Result<User, Error> {
        let body = self
            .call("users.info", &[("user", user.into())], Replay::Safe, None)
            .await?;
        object_field("users.info", body, "user")
    }

    /// `conversations.list`, one page per item.
    pub fn conversations_list(
        &self,
        q: ListConversations,
    ) -> BoxStream<'static, Result<Vec<Conversation>, Error>> {
        let types: Vec<&str> = q.types.iter().map(|t| t.as_str()).collect();
        let params = vec![
            ("limit", LIMIT_CONVERSATIONS.into()),
            ("types", types.join(",")),
            ("exclude_archived", q.exclude_archived.to_string()),
        ];
        self.paginate("conversations.list", params, None, "channels")
    }

    /// Every conversation matching `q`.
    pub async fn all_conversations(
        &self,
        q: ListConversations,
    ) -> Result<Vec<Conversation>, Error> {
        self.conversations_list(q).try_concat().await
    }

    /// `conversations.info` for one channel ID.
    pub async fn conversations_info(&self, channel: &str) -> Result<Conversation, Error> {
        let body = self
            .call(
                "conversations.info",
                &[("channel", channel.into())],
                Replay::Safe,
                Some(channel),
            )
            .await?;
        object_field("conversations.info", body, "channel")
    }

    /// `conversations.members`: user IDs, one page per item.
    pub fn conversation_members(
        &self,
        channel: &str,
    ) -> BoxStream<'static, Result<Vec<String>, Error>> {
        let params = vec![
            ("channel", channel.to_string()),
            ("limit", LIMIT_MEMBERS.into()),
        ];
        self.paginate(
            "conversations.members",
            params,
            Some(channel.to_string()),
            "members",
        )
    }

    /// Every member of `channel`.
    pub async fn all_members(&self, channel: &str) -> Result<Vec<String>, Error> {
        self.conversation_members(channel).try_concat().await
    }

    /// `conversations.history`: top-level messages (and thread broadcasts), newest first as Slack
    /// sends them, one page per item.
    pub fn history(
        &self,
        channel: &str,
        range: TimeRange,
    ) -> BoxStream<'static, Result<Vec<Message>, Error>> {
        let params = history_params(channel, &range);
        self.paginate(
            "conversations.history",
            params,
            Some(channel.to_string()),
            "messages",
        )
    }

    /// `conversations.replies`: the parent first, then replies oldest first, one page per item.
    /// Messages already yielded (by `ts`) are dropped, since whether later pages repeat the parent is
    /// undocumented.
    pub fn replies(
        &self,
        channel: &str,
        thread_ts: &str,
        range: TimeRange,
    ) -> BoxStream<'static, Result<Vec<Message>, Error>> {
        let params = replies_params(channel, thread_ts, &range);
        let mut seen = HashSet::new();
        self.paginate::<Message>(
            "conversations.replies",
            params,
            Some(channel.to_string()),
            "messages",
        )
        .map_ok(move |page| {
            page.into_iter()
                .filter(|m| seen.insert(m.ts.clone()))
                .collect()
        })
        .boxed()
    }

    /// [`SlackClient::history`] with every message's JSON text kept as received instead of as a
    /// `Value` ([`RawMessage`]): several times less CPU per message for exporters.
    pub fn history_raw(
        &self,
        channel: &str,
        range: TimeRange,
    ) -> BoxStream<'static, Result<Vec<RawMessage>, Error>> {
        let params = history_params(channel, &range);
        self.paginate_as(
            "conversations.history",
            params,
            Some(channel.to_string()),
            |page: MessagePage| Ok((page.items?, page.next_cursor)),
        )
    }

    /// [`SlackClient::replies`] with every message's JSON text kept as received ([`RawMessage`]).
    pub fn replies_raw(
        &self,
        channel: &str,
        thread_ts: &str,
        range: TimeRange,
    ) -> BoxStream<'static, Result<Vec<RawMessage>, Error>> {
        let params = replies_params(channel, thread_ts, &range);
        let mut seen = HashSet::new();
        self.paginate_as(
            "conversations.replies",
            params,
            Some(channel.to_string()),
            |page: MessagePage| Ok((page.items?, page.next_cursor)),
        )
        .map_ok(move |page: Vec<RawMessage>| {
            page.into_iter()
                .filter(|m| seen.insert(m.message.ts.clone()))
                .collect()
        })
        .boxed()
    }

    /// `conversations.invite`: adds `users` to `channel`, in batches of 100 (Slack's per-call maximum).
    /// With `force`, valid users are invited even if others fail; their failures come back in
    /// [`InviteOutcome::user_errors`]. Without it, one bad user fails the batch with [`Error::Api`]
    /// carrying `user_errors`. An `already_in_channel` error means the user is in: callers treat it
    /// as done.
    pub async fn conversations_invite(
        &self,
        channel: &str,
        users: &[String],
        force: bool,
    ) -> Result<InviteOutcome, Error> {
        let mut outcome = InviteOutcome::default();
        for batch in users.chunks(INVITE_BATCH) {
            let params = [
                ("channel", channel.to_string()),
                ("users", batch.join(",")),
                ("force", force.to_string()),
            ];
            // Resending an invite is safe: if the first attempt went through, the repeat answers
            // `already_in_channel` (or lists it per user with `force`), which callers treat as done,
            // so no effect is doubled.
            let body = self
                .call("conversations.invite", &params, Replay::Safe, Some(channel))
                .await?;
            if let Some(ch) = body.get("channel").filter(|c| c.is_object()) {
                outcome.channel = Some(
                    decode_with_raw(ch.clone())
                        .map_err(|e| decode_error("conversations.invite", e))?,
                );
            }
            if let Some(errors) = body.get("errors") {
                let errors: Vec<UserError> = serde_json::from_value(errors.clone())
                    .map_err(|e| decode_error("conversations.invite", e))?;
                outcome.user_errors.extend(errors);
            }
        }
        Ok(outcome)
    }

    /// `chat.postMessage`. `blocks` is sent as Slack's JSON array.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
    ) -> Result<PostedMessage, Error> {
        self.post_message_with_metadata(channel, text, blocks, None)
            .await
    }

    /// [`SlackClient::post_message`] with Slack's message `metadata`
    /// (`{"event_type": ..., "event_payload": {...}}`), which marks the message for a later
    /// search of the channel's history ([`SlackClient::recent_messages_with_metadata`]).
    pub async fn post_message_with_metadata(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
        metadata: Option<Value>,
    ) -> Result<PostedMessage, Error> {
        let mut params = vec![("channel", channel.to_string()), ("text", text.to_string())];
        if let Some(blocks) = blocks {
            params.push(("blocks", blocks.to_string()));
        }
        if let Some(metadata) = metadata {
            params.push(("metadata", metadata.to_string()));
        }
        // Not idempotent: a resend after Slack processed the first request would post the message
        // twice. Resend only when Slack certainly did not act (a 429, or the connection failed before
        // the request went out); a 5xx, timeout or cut-off answer may follow a successful post.
        let body = self
            .call(
                "chat.postMessage",
                &params,
                Replay::OnlyIfUnprocessed,
                Some(channel),
            )
            .await?;
        let field = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(PostedMessage {
            channel: field("channel"),
            ts: field("ts"),
        })
    }

    /// One `conversations.history` page of the channel's newest `limit` messages with
    /// `include_all_metadata=true`, as Slack sends them (each may carry `metadata`).
    pub async fn recent_messages_with_metadata(
        &self,
        channel: &str,
        limit: u32,
    ) -> Result<Vec<Value>, Error> {
        let mut body = self
            .call(
                "conversations.history",
                &[
                    ("channel", channel.to_string()),
                    ("limit", limit.to_string()),
                    ("include_all_metadata", "true".to_string()),
                ],
                Replay::Safe,
                Some(channel),
            )
            .await?;
        match body.get_mut("messages").map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(Error::Decode {
                method: "conversations.history".into(),
                detail: "`messages` is not an array".into(),
            }),
        }
    }

    /// `pins.list`: the channel's pinned items as Slack sends them (`type`, `created`,
    /// `created_by`, `message`, ...).
    pub async fn pins_list(&self, channel: &str) -> Result<Vec<Value>, Error> {
        let mut body = self
            .call(
                "pins.list",
                &[("channel", channel.into())],
                Replay::Safe,
                Some(channel),
            )
            .await?;
        match body.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(Error::Decode {
                method: "pins.list".into(),
                detail: "`items` is not an array".into(),
            }),
        }
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> ClientStats {
        let per_method = self
            .inner
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut total = ClientStats::default();
        for s in per_method.values() {
            total.requests += s.requests;
            total.http_429 += s.http_429;
            total.retries += s.retries;
        }
        total.per_method = per_method;
        total
    }

    pub(crate) fn count(&self, method: &str, f: impl FnOnce(&mut MethodStats)) {
        let mut map = self.inner.stats.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(method.to_string()).or_default());
    }

    /// Streams the pages of a cursor-paginated method, yielding the `field` array of each answer.
    /// Ends only when `next_cursor` is empty, null or absent, never on a short page.
    fn paginate<T: WithRaw + Send + 'static>(
        &self,
        method: &'static str,
        params: Vec<(&'static str, String)>,
        channel: Option<String>,
        field: &'static str,
    ) -> BoxStream<'static, Result<Vec<T>, Error>> {
        self.paginate_as(method, params, channel, move |body: Value| {
            let items = page_items::<T>(method, &body, field)?;
            Ok((items, next_cursor(&body)))
        })
    }

    /// [`SlackClient::paginate`] over answers decoded as `P`; `extract` splits one into its items
    /// and the next cursor.
    fn paginate_as<P, I>(
        &self,
        method: &'static str,
        params: Vec<(&'static str, String)>,
        channel: Option<String>,
        extract: impl Fn(P) -> Result<(Vec<I>, Option<String>), Error> + Send + Sync + 'static,
    ) -> BoxStream<'static, Result<Vec<I>, Error>>
    where
        P: Answer + Send + 'static,
        I: Send + 'static,
    {
        struct State {
            client: SlackClient,
            cursor: Option<String>,
            /// Every cursor followed so far: a server whose cursors loop (over one page or many)
            /// would otherwise be paged forever.
            followed: HashSet<String>,
            pages: u64,
            finished: bool,
        }
        let start = State {
            client: self.clone(),
            cursor: None,
            followed: HashSet::new(),
            pages: 0,
            finished: false,
        };
        let params = Arc::new(params);
        let extract = Arc::new(extract);
        stream::try_unfold(start, move |mut st| {
            let params = Arc::clone(&params);
            let extract = Arc::clone(&extract);
            let channel = channel.clone();
            async move {
                if st.finished {
                    return Ok(None);
                }
                let mut call_params = (*params).clone();
                if let Some(c) = &st.cursor {
                    call_params.push(("cursor", c.clone()));
                }
                let body = st
                    .client
                    .call_as::<P>(method, &call_params, Replay::Safe, channel.as_deref())
                    .await?;
                let (items, next) = extract(body)?;
                st.pages += 1;
                if let Some(c) = &next
                    && !st.followed.insert(c.clone())
                {
                    return Err(Error::CursorCycle {
                        method: method.into(),
                        page: st.pages,
                    });
                }
                st.finished = next.is_none();
                st.cursor = next;
                Ok(Some((items, st)))
            }
        })
        .boxed()
    }

    /// Sends one Web API call with pacing and retries, returning the `ok: true` body.
    async fn call(
        &self,
        method: &str,
        params: &[(&str, String)],
        replay: Replay,
        channel: Option<&str>,
    ) -> Result<Value, Error> {
        self.call_as::<Value>(method, params, replay, channel).await
    }

    /// [`SlackClient::call`] with the `ok: true` body decoded as `T` (see [`Answer`]).
    async fn call_as<T: Answer>(
        &self,
        method: &str,
        params: &[(&str, String)],
        replay: Replay,
        channel: Option<&str>,
    ) -> Result<T, Error> {
        let budget = self.inner.budget.method(method);
        let mut backoff = self.retry_backoff();
        let mut rate_waits = 0u32;
        let mut attempt = 0u32;
        loop {
            budget.acquire().await;
            if attempt > 0 {
                self.count(method, |s| s.retries += 1);
            }
            attempt += 1;
            match self.send_once::<T>(method, params, replay, channel).await {
                Attempt::Body(body) => return Ok(body),
                Attempt::Fatal(e) => return Err(e),
                Attempt::RateLimited(wait) => {
                    // A rate-limited request was refused, not processed: resending is safe for
                    // every method, including chat.postMessage.
                    self.count(method, |s| s.http_429 += 1);
                    rate_waits += 1;
                    if rate_waits > MAX_RATE_LIMIT_RETRIES {
                        return Err(Error::RateLimited {
                            method: method.into(),
                            attempts: rate_waits - 1,
                        });
                    }
                    debug!(
                        method,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited; pausing this method"
                    );
                    budget.block_for(wait);
                }
                Attempt::Transient { error, unprocessed } => {
                    if replay == Replay::OnlyIfUnprocessed && !unprocessed {
                        return Err(error);
                    }
                    match backoff.next() {
                        Some(delay) => {
                            debug!(method, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
                            tokio::time::sleep(delay).await;
                        }
                        None => {
                            warn!(method, attempts = attempt, error = %error, "giving up after retries");
                            return Err(error);
                        }
                    }
                }
            }
        }
    }

    /// Interprets an answer without `ok: true`: rate-limit and transient codes are retried,
    /// everything else becomes a typed error.
    fn check_error<T>(
        &self,
        method: &str,
        body: Value,
        retry_after: Option<RetryAfter>,
        replay: Replay,
        channel: Option<&str>,
    ) -> Attempt<T> {
        log_warnings(method, &body);
        let Some(code) = body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Attempt::Transient {
                error: Error::Decode {
                    method: method.into(),
                    detail: "answer has neither ok:true nor an error code".into(),
                },
                unprocessed: false,
            };
        };
        if code == "ratelimited" || code == "rate_limited" {
            return self.rate_limited(method, retry_after);
        }
        let error = Error::from_slack(method, code, &body, channel);
        match error.code() {
            Some(c) if TRANSIENT_CODES.contains(&c) && replay == Replay::Safe => {
                Attempt::Transient {
                    error,
                    unprocessed: false,
                }
            }
            _ => Attempt::Fatal(error),
        }
    }

    /// What a rate-limited answer comes to: wait its `Retry-After` (1 s when absent), or fail
    /// when it asks for more than [`MAX_RETRY_AFTER`].
    fn rate_limited<T>(&self, method: &str, retry_after: Option<RetryAfter>) -> Attempt<T> {
        match retry_after {
            None => Attempt::RateLimited(DEFAULT_RETRY_AFTER),
            Some(RetryAfter::Wait(wait)) => Attempt::RateLimited(wait),
            Some(RetryAfter::TooLong(requested_secs)) => {
                // Counted here: the caller counts only the 429s it waits out.
                self.count(method, |s| s.http_429 += 1);
                Attempt::Fatal(Error::RetryAfterTooLong {
                    method: method.into(),
                    requested_secs,
                    limit_secs: MAX_RETRY_AFTER.as_secs(),
                })
            }
        }
    }

    /// One HTTP exchange, holding an in-flight permit.
    async fn send_once<T: Answer>(
        &self,
        method: &str,
        params: &[(&str, String)],
        replay: Replay,
        channel: Option<&str>,
    ) -> Attempt<T> {
        let _permit = self.inner.in_flight.acquire().await;
        self.count(method, |s| s.requests += 1);
        let url = format!("{}/{}", self.inner.base_url, method);
        let mut auth =
            match HeaderValue::from_str(&format!("Bearer {}", self.inner.token.expose_secret())) {
                Ok(v) => v,
                Err(_) => {
                    return Attempt::Fatal(Error::Config {
                        message:
                            "the Slack token contains characters not allowed in an HTTP header"
                                .into(),
                        hint: Some("check SLACK_TOKEN for stray quotes or spaces".into()),
                    });
                }
            };
        // Keeps the token out of the HTTP stack's Debug output and logs.
        auth.set_sensitive(true);
        let param_names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        trace!(method, params = ?param_names, "sending");
        let started = std::time::Instant::now();
        let response = match self
            .inner
            .http
            .post(&url)
            .header(AUTHORIZATION, auth)
            .form(params)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // A connect failure means the request never reached Slack.
                let unprocessed = e.is_connect();
                return Attempt::Transient {
                    error: transport_error(method, &e),
                    unprocessed,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        debug!(
            method,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "answer"
        );
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return self.rate_limited(method, retry_after);
        }
        if status.is_server_error() {
            return Attempt::Transient {
                error: Error::Http {
                    method: method.into(),
                    status: status.as_u16(),
                },
                unprocessed: false,
            };
        }
        let bytes = match read_body(response, self.inner.max_body_bytes).await {
            Ok(b) => b,
            // Not retried: the same server would send the same oversized answer again.
            Err(BodyError::TooLarge) => {
                return Attempt::Fatal(Error::BodyTooLarge {
                    method: method.into(),
                    limit_bytes: self.inner.max_body_bytes,
                });
            }
            Err(BodyError::Transport(e)) => {
                return Attempt::Transient {
                    error: transport_error(method, &e),
                    unprocessed: false,
                };
            }
        };
        match T::decode(method, &bytes) {
            Ok(Ok(body)) => Attempt::Body(body),
            Ok(Err(body)) => self.check_error(method, body, retry_after, replay, channel),
            Err(_) if !status.is_success() => Attempt::Fatal(Error::Http {
                method: method.into(),
                status: status.as_u16(),
            }),
            // A cut-off or garbled body: the server likely failed mid-answer, worth another read.
            Err(e) => Attempt::Transient {
                error: Error::Decode {
                    method: method.into(),
                    detail: format!("{e} ({} bytes)", bytes.len()),
                },
                unprocessed: false,
            },
        }
    }
}

/// How an answer body is decoded. `Ok(Err(value))` is an answer without `ok: true`, handed back
/// whole for the error handling; `Err` is a body that is not JSON at all.
trait Answer: Sized {
    fn decode(method: &str, bytes: &[u8]) -> Result<Result<Self, Value>, serde_json::Error>;
}

impl Answer for Value {
    fn decode(method: &str, bytes: &[u8]) -> Result<Result<Self, Value>, serde_json::Error> {
        let body: Value = serde_json::from_slice(bytes)?;
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            log_warnings(method, &body);
            Ok(Ok(body))
        } else {
            Ok(Err(body))
        }
    }
}

/// A page of `conversations.history` / `.replies`, decoded without a `Value` tree: each message
/// is typed straight from its bytes and keeps them as received.
struct MessagePage {
    /// The messages, or why the `messages` array could not be decoded (not worth a retry).
    items: Result<Vec<RawMessage>, Error>,
    next_cursor: Option<String>,
}

impl Answer for MessagePage {
    fn decode(method: &str, bytes: &[u8]) -> Result<Result<Self, Value>, serde_json::Error> {
        /// The usual `ok: true` answer. Anything that does not fit (an error answer, a field of an
        /// unexpected type) goes through the general `Value` path below, so both decode alike.
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            ok: Option<bool>,
            #[serde(borrow)]
            messages: Option<Vec<&'a RawValue>>,
            warning: Option<String>,
            response_metadata: Option<Metadata>,
        }
        #[derive(serde::Deserialize)]
        struct Metadata {
            next_cursor: Option<String>,
            warnings: Option<Vec<String>>,
        }
        if let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(bytes)
            && envelope.ok == Some(true)
            && let Some(messages) = envelope.messages
        {
            let meta = envelope.response_metadata;
            let warnings = meta.as_ref().and_then(|m| m.warnings.as_deref());
            for w in envelope.warning.iter().chain(warnings.unwrap_or_default()) {
                debug!(method, warning = %w, "Slack warning");
            }
            let items = messages
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    serde_json::from_str::<Message>(raw.get())
                        .map(|message| RawMessage {
                            message,
                            json: raw.get().to_owned(),
                        })
                        .map_err(|e| Error::Decode {
                            method: method.into(),
                            detail: format!("messages[{i}]: {e}"),
                        })
                })
                .collect();
            return Ok(Ok(MessagePage {
                items,
                next_cursor: meta.and_then(|m| m.next_cursor).filter(|c| !c.is_empty()),
            }));
        }
        let body = match Value::decode(method, bytes)? {
            Ok(body) => body,
            Err(not_ok) => return Ok(Err(not_ok)),
        };
        let items = page_items::<Message>(method, &body, "messages").map(|messages| {
            messages
                .into_iter()
                .map(|mut message| {
                    let json = std::mem::take(&mut message.raw).to_string();
                    RawMessage { message, json }
                })
                .collect()
        });
        Ok(Ok(MessagePage {
            items,
            next_cursor: next_cursor(&body),
        }))
    }
}

/// Parameters of a `conversations.history` call (typed and raw variants share them).
fn history_params(channel: &str, range: &TimeRange) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("channel", channel.to_string()),
        ("limit", LIMIT_HISTORY.into()),
    ];
    push_range(&mut params, range);
    params
}

/// Parameters of a `conversations.replies` call (typed and raw variants share them).
fn replies_params(
    channel: &str,
    thread_ts: &str,
    range: &TimeRange,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("channel", channel.to_string()),
        ("ts", thread_ts.to_string()),
        ("limit", LIMIT_REPLIES.into()),
    ];
    push_range(&mut params, range);
    params
}

fn push_range(params: &mut Vec<(&'static str, String)>, range: &TimeRange) {
    if let Some(oldest) = &range.oldest {
        params.push(("oldest", oldest.clone()));
    }
    if let Some(latest) = &range.latest {
        params.push(("latest", latest.clone()));
    }
    if range.inclusive {
        params.push(("inclusive", "true".into()));
    }
}

/// A `Retry-After` header as the client acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
    /// Wait this long, then resend.
    Wait(Duration),
    /// More than [`MAX_RETRY_AFTER`]: this many whole seconds (rounded up, saturated).
    TooLong(u64),
}

/// Seconds, possibly fractional (lenient: some servers send `1.5`). Anything else is ignored.
pub(crate) fn parse_retry_after(raw: &str) -> Option<RetryAfter> {
    let secs: f64 = raw.trim().parse().ok()?;
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    // Compared as a float, before any Duration is made: `Duration::from_secs_f64` panics past
    // u64::MAX seconds (a header of "99999999999999999999" or "1e400").
    if secs > MAX_RETRY_AFTER.as_secs_f64() {
        // A float-to-int `as` saturates: infinity becomes u64::MAX.
        return Some(RetryAfter::TooLong(secs.ceil() as u64));
    }
    Some(RetryAfter::Wait(Duration::from_secs_f64(secs)))
}

/// Why an answer body could not be read whole.
enum BodyError {
    /// Longer than the limit (announced or as sent).
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the body chunk by chunk, stopping as soon as it passes `limit` bytes. An announced
/// Content-Length over the limit fails at once; a smaller or absent one is not trusted.
async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > limit {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn next_cursor(body: &Value) -> Option<String> {
    body.pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

fn log_warnings(method: &str, body: &Value) {
    if let Some(w) = body.get("warning").and_then(Value::as_str) {
        debug!(method, warning = w, "Slack warning");
    }
    if let Some(ws) = body
        .pointer("/response_metadata/warnings")
        .and_then(Value::as_array)
    {
        for w in ws.iter().filter_map(Value::as_str) {
            debug!(method, warning = w, "Slack warning");
        }
    }
}

/// The error and its causes, without the URL's query (there is none) and never the headers.
pub(crate) fn transport_error(method: &str, e: &reqwest::Error) -> Error {
    let mut detail = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Error::Transport {
        method: method.into(),
        detail,
    }
}

fn decode_error(method: &str, e: serde_json::Error) -> Error {
    Error::Decode {
        method: method.into(),
        detail: e.to_string(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(method: &str, body: Value) -> Result<T, Error> {
    serde_json::from_value(body).map_err(|e| decode_error(method, e))
}

fn object_field<T: WithRaw>(method: &str, mut body: Value, field: &str) -> Result<T, Error> {
    match body.get_mut(field).map(Value::take) {
        Some(v) if v.is_object() => decode_with_raw(v).map_err(|e| decode_error(method, e)),
        _ => Err(Error::Decode {
            method: method.into(),
            detail: format!("answer has no `{field}` object"),
        }),
    }
}

fn page_items<T: WithRaw>(method: &str, body: &Value, field: &str) -> Result<Vec<T>, Error> {
    let Some(items) = body.get(field).and_then(Value::as_array) else {
        return Err(Error::Decode {
            method: method.into(),
            detail: format!("answer has no `{field}` array"),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            decode_with_raw(v.clone()).map_err(|e| Error::Decode {
                method: method.into(),
                detail: format!("{field}[{i}]: {e}"),
            })
        })
        .collect()
}

/// Member IDs are plain strings: no raw copy needed.
impl WithRaw for String {
    fn set_raw(&mut self, _raw: Value) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_lenient() {
        let wait = |d| Some(RetryAfter::Wait(d));
        assert_eq!(parse_retry_after("2"), wait(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), wait(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("600"), wait(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
    }

    #[test]
    fn huge_retry_after_is_too_long_not_a_panic() {
        assert_eq!(parse_retry_after("600.5"), Some(RetryAfter::TooLong(601)));
        assert_eq!(parse_retry_after("99999"), Some(RetryAfter::TooLong(99999)));
        for huge in [
            "18446744073709551615",
            "99999999999999999999",
            "1e300",
            "1e400",
            "inf",
        ] {
            assert_eq!(
                parse_retry_after(huge),
                Some(RetryAfter::TooLong(u64::MAX)),
                "{huge}"
            );
        }
    }

    #[test]
    fn cursor_end_markers() {
        assert_eq!(
            next_cursor(&serde_json::json!({"response_metadata": {"next_cursor": ""}})),
            None
        );
        assert_eq!(
            next_cursor(&serde_json::json!({"response_metadata": {"next_cursor": null}})),
            None
        );
        assert_eq!(next_cursor(&serde_json::json!({})), None);
        assert_eq!(
            next_cursor(
                &serde_json::json!({"response_metadata": {"next_cursor": "dXNlcjpVMDYx=="}})
            )
            .as_deref(),
            Some("dXNlcjpVMDYx==")
        );
    }
}
