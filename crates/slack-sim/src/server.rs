//! The HTTP side of the sim: an axum server on `/api/{method}` that decodes parameters, injects
//! faults, checks the token and rate limits, runs the method against the shared workspace and
//! records every request.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::FaultKind;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{any, get};
use axum::serve::{IncomingStream, Listener};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::files::{FILES_PATH, file_content, file_id_of, find_file, point_file_urls};
use crate::index::IndexCache;
use crate::methods::{self, Ctx};
use crate::oauth::{OAuthApp, OAuthState, basic_auth};
use crate::params::{parse_form, parse_json};
use crate::rate::{RateLimiter, rate_rule};
use crate::{DEFAULT_TOKEN, SimError, SimOptions, Workspace};

/// One request as the sim saw it. `params` never holds the token.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub params: BTreeMap<String, String>,
    /// HTTP status sent; 0 when the connection was reset instead of answered.
    pub status: u16,
    /// Slack's `error` code when the body said `ok:false`.
    pub error: Option<String>,
    /// The injected fault, if any: `429`, `500`, `reset` or `truncated`.
    pub fault: Option<String>,
}

/// A running sim. Dropping it without [`SimHandle::shutdown`] leaves the server running until
/// the runtime stops.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The Web API base URL, e.g. `http://127.0.0.1:PORT/api`; methods live at `{base}/{method}`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request served so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Runs `f` on the live workspace (read it, or change it between calls, e.g. add a reply to
    /// an old thread). Messages are re-sorted by `ts` afterwards so the sim's invariants hold.
    pub fn with_workspace<R>(&self, f: impl FnOnce(&mut Workspace) -> R) -> R {
        let mut st = lock(&self.shared.state);
        let out = f(&mut st.ws);
        for c in &mut st.ws.channels {
            c.sort_messages();
        }
        point_file_urls(&mut st.ws, &self.shared.origin);
        st.index.clear();
        out
    }

    /// Deletes file `id` from the sim's storage while messages still carry its object, as when
    /// a file is deleted after its message was read: downloads of it answer 404 from now on.
    pub fn delete_file(&self, id: &str) {
        lock(&self.shared.deleted_files).insert(id.to_string());
    }

    /// Registers an app for the OAuth install flow (`/oauth/v2/authorize`, `oauth.v2.access`):
    /// tokens minted for it carry the user scopes approved, whatever [`SimOptions::scopes`] says.
    pub fn register_oauth_app(&self, app: OAuthApp) {
        lock(&self.shared.oauth).register(app);
    }

    /// Makes the authorization codes not yet exchanged `by` older: past ten minutes they are
    /// refused (`invalid_code`), as Slack's expire.
    pub fn age_oauth_codes(&self, by: Duration) {
        lock(&self.shared.oauth).age_codes(by);
    }

    /// Stops accepting requests and waits (briefly) for the server task to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Idle keep-alive connections can hold a graceful shutdown open; don't wait for them.
        if tokio::time::timeout(Duration::from_secs(2), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

struct State0 {
    ws: Workspace,
    /// Message indexes of channels read since the last change (see `index.rs`).
    index: IndexCache,
    /// Last `ts` handed out, in microseconds: new messages are stamped strictly after it.
    clock: u128,
}

struct Shared {
    state: Mutex<State0>,
    token: String,
    scopes: Option<Vec<String>>,
    faults: f64,
    fault_rng: Mutex<fastrand::Rng>,
    /// Planned faults not used yet (see [`crate::ScriptedFault`]).
    fault_script: Mutex<Vec<crate::ScriptedFault>>,
    rate: Option<Mutex<RateLimiter>>,
    log: Mutex<Vec<RequestRecord>>,
    log_file: Option<Mutex<std::fs::File>>,
    /// `http://HOST:PORT`: where file URLs point.
    origin: String,
    /// Files deleted from storage (see [`SimHandle::delete_file`]).
    deleted_files: Mutex<HashSet<String>>,
    /// Registered OAuth apps, pending codes and the tokens minted from them.
    oauth: Mutex<OAuthState>,
}

/// A poisoned lock only means another request panicked; the data is still usable for a test double.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the sim on `addr` (use port 0 for any free port) and returns once it is accepting.
/// Refuses [`DEFAULT_TOKEN`] on an address that is not loopback ([`SimError::WellKnownToken`]).
pub async fn start(
    addr: SocketAddr,
    ws: Workspace,
    opts: SimOptions,
) -> Result<SimHandle, SimError> {
    if !addr.ip().is_loopback() && opts.token == DEFAULT_TOKEN {
        return Err(SimError::WellKnownToken { addr });
    }
    if !(0.0..=1.0).contains(&opts.faults) {
        return Err(SimError::InvalidOption(format!(
            "faults must be a probability between 0 and 1, got {}",
            opts.faults
        )));
    }
    if let Some(s) = opts.rate_scale
        && !(s > 0.0 && s.is_finite())
    {
        return Err(SimError::InvalidOption(format!(
            "rate scale must be a positive number, got {s}"
        )));
    }
    let log_file = match &opts.log_file {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| SimError::Io {
                    path: path.clone(),
                    source,
                })?,
        )),
        None => None,
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let clock = ws.max_ts_micros();
    let origin = format!("http://{local}");
    let mut ws = ws;
    point_file_urls(&mut ws, &origin);
    let shared = Arc::new(Shared {
        state: Mutex::new(State0 {
            ws,
            index: IndexCache::default(),
            clock,
        }),
        token: opts.token,
        scopes: opts.scopes,
        faults: opts.faults,
        fault_rng: Mutex::new(fastrand::Rng::with_seed(opts.fault_seed)),
        fault_script: Mutex::new(opts.fault_script),
        rate: opts.rate_scale.map(|s| Mutex::new(RateLimiter::new(s))),
        log: Mutex::new(Vec::new()),
        log_file,
        origin,
        deleted_files: Mutex::new(HashSet::new()),
        oauth: Mutex::new(OAuthState::default()),
    });
    let app = Router::new()
        .route("/api/{method}", any(api))
        .route("/files-pri/{*path}", any(file_download))
        .route(
            "/oauth/v2/authorize",
            get(authorize_page).post(authorize_decide),
        )
        .with_state(shared.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            SimListener(listener),
            app.into_make_service_with_connect_info::<ConnKill>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("slack-sim server stopped: {e}");
        }
    });
    tracing::debug!("slack-sim listening on {local}");
    Ok(SimHandle {
        addr: local,
        shared,
        stop: Some(stop_tx),
        task,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    RateLimited,
    ServerError,
    Reset,
    Truncated,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::RateLimited => "429",
            Fault::ServerError => "500",
            Fault::Reset => "reset",
            Fault::Truncated => "truncated",
        }
    }
}

impl Shared {
    /// Draws this request's fault from the seeded sequence. Two draws per request, always, so
    /// the sequence depends only on the number of requests before it.
    fn draw_fault(&self) -> Option<Fault> {
        if self.faults <= 0.0 {
            return None;
        }
        let mut rng = lock(&self.fault_rng);
        let hit = rng.f64() < self.faults;
        let kind = rng.u8(0..4);
        hit.then_some(match kind {
            0 => Fault::RateLimited,
            1 => Fault::ServerError,
            2 => Fault::Reset,
            _ => Fault::Truncated,
        })
    }

    /// The next planned fault for `method`, removed from the script.
    fn take_scripted(&self, method: &str) -> Option<FaultKind> {
        let mut script = lock(&self.fault_script);
        let pos = script.iter().position(|f| f.method == method)?;
        Some(script.remove(pos).fault)
    }

    fn record(&self, rec: RequestRecord) {
        if let Some(file) = &self.log_file
            && let Ok(line) = serde_json::to_string(&rec)
        {
            let mut f = lock(file);
            // The log is best effort: a full disk must not turn into a failed API call.
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
        lock(&self.log).push(rec);
    }
}

fn json_response(status: StatusCode, body: String, scopes: Option<&[String]>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(scopes) = scopes
        && let Ok(v) = HeaderValue::from_str(&scopes.join(","))
    {
        resp.headers_mut().insert("x-oauth-scopes", v);
    }
    resp
}

fn ratelimited(retry_after: u64) -> Response {
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        r#"{"ok":false,"error":"ratelimited"}"#.to_string(),
        None,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

fn decode_params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    if let Some(q) = uri.query() {
        parse_form(q, &mut params);
    }
    if !body.is_empty() {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(ct.starts_with("application/json") && parse_json(body, &mut params)) {
            parse_form(&String::from_utf8_lossy(body), &mut params);
        }
    }
    params
}

async fn api(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnKill>,
    Path(method): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut params = decode_params(&uri, &headers, &body);
    // The token is taken out of the params before anything is recorded.
    let param_token = params.remove("token");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let token = bearer.or(param_token).filter(|t| !t.is_empty());

    let mut rec = RequestRecord {
        method: method.clone(),
        params: params.clone(),
        status: 200,
        error: None,
        fault: None,
    };

    // Faults are decided before the method runs, so a faulted write never happened (except the
    // scripted after-effect kinds, answered once the method has run).
    let scripted = sh.take_scripted(&method);
    let mut after_effect = None;
    let fault = match scripted {
        Some(FaultKind::RateLimited) => Some(Fault::RateLimited),
        Some(FaultKind::ServerError) => Some(Fault::ServerError),
        Some(FaultKind::Reset) => Some(Fault::Reset),
        Some(kind) => {
            after_effect = Some(kind);
            None
        }
        None => sh.draw_fault(),
    };
    rec.fault = fault.map(|f| f.name().to_string());
    match fault {
        Some(Fault::RateLimited) => {
            rec.status = 429;
            rec.error = Some("ratelimited".into());
            sh.record(rec);
            return ratelimited(1);
        }
        Some(Fault::ServerError) => {
            rec.status = 500;
            sh.record(rec);
            let mut resp = Response::new(Body::from("Internal Server Error"));
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return resp;
        }
        Some(Fault::Reset) => {
            rec.status = 0;
            sh.record(rec);
            // The connection's next write fails and the socket is closed with an RST.
            conn.0.store(true, Ordering::SeqCst);
            return Response::new(Body::empty());
        }
        Some(Fault::Truncated) | None => {}
    }

    // A minted token carries the scopes its install approved; the sim's own token those of
    // `SimOptions::scopes`. A revoked token is refused as Slack does.
    let minted_scopes: Option<Result<Vec<String>, &str>> = token.as_ref().and_then(|t| {
        lock(&sh.oauth).tokens.get(t).map(|m| {
            if m.revoked {
                Err("token_revoked")
            } else {
                Ok(m.scopes.clone())
            }
        })
    });
    let scopes: Option<&[String]> = match &minted_scopes {
        Some(Ok(s)) => Some(s.as_slice()),
        _ => sh.scopes.as_deref(),
    };
    let result = match token {
        // Exchanging a code authenticates the client, not a token.
        _ if method == "oauth.v2.access" => {
            let basic = basic_auth(
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok()),
            );
            rec.params.remove("client_secret");
            rec.params.remove("code");
            let (team, user) = {
                let st = lock(&sh.state);
                (st.ws.team.clone(), st.ws.token_user.clone())
            };
            lock(&sh.oauth)
                .access(&team, &user, basic, &params)
                .map(methods::Reply::Json)
        }
        None => Err(methods::ApiError::new("not_authed")),
        Some(_) if matches!(minted_scopes, Some(Err(_))) => {
            Err(methods::ApiError::new("token_revoked"))
        }
        Some(t) if t != sh.token && minted_scopes.is_none() => {
            Err(methods::ApiError::new("invalid_auth"))
        }
        Some(t) if method == "auth.revoke" => {
            // `test=true` only says whether the token would be revoked.
            if params.get("test").is_none_or(|v| v != "true" && v != "1") {
                lock(&sh.oauth).revoke(&t);
            }
            Ok(methods::Reply::Json(serde_json::json!({ "revoked": true })))
        }
        Some(_) => {
            if let (Some(rate), Some(rule)) = (&sh.rate, rate_rule(&method)) {
                let key = if rule.per_channel {
                    format!("{method}:{}", params.get("channel").map_or("", |s| s))
                } else {
                    method.clone()
                };
                if let Err(secs) = lock(rate).check(&key, rule, Instant::now()) {
                    rec.status = 429;
                    rec.error = Some("ratelimited".into());
                    sh.record(rec);
                    return ratelimited(secs);
                }
            }
            let mut st = lock(&sh.state);
            let State0 { ws, index, clock } = &mut *st;
            if fault == Some(Fault::Truncated) && methods::is_write(&method) {
                // The client never sees a whole answer, so the write must not happen: run it on
                // a scratch copy only to produce a realistic (then truncated) body.
                let mut scratch = ws.clone();
                let mut scratch_clock = *clock;
                let mut scratch_index = IndexCache::default();
                let mut ctx = Ctx {
                    scopes,
                    clock: &mut scratch_clock,
                    index: &mut scratch_index,
                };
                methods::call(&mut scratch, &mut ctx, &method, &params)
            } else {
                let mut ctx = Ctx {
                    scopes,
                    clock,
                    index,
                };
                methods::call(ws, &mut ctx, &method, &params)
            }
        }
    };

    let mut text = match result {
        Ok(reply) => reply.into_text(),
        Err(e) => {
            rec.error = Some(e.code.clone());
            e.into_body().to_string()
        }
    };
    match after_effect {
        Some(FaultKind::ServerErrorAfterEffect) => {
            rec.status = 500;
            rec.fault = Some("500-after".into());
            sh.record(rec);
            let mut resp = Response::new(Body::from("Internal Server Error"));
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return resp;
        }
        Some(_) => {
            rec.status = 0;
            rec.fault = Some("reset-after".into());
            sh.record(rec);
            conn.0.store(true, Ordering::SeqCst);
            return Response::new(Body::empty());
        }
        None => {}
    }
    if fault == Some(Fault::Truncated) {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    sh.record(rec);
    json_response(StatusCode::OK, text, scopes)
}

/// `GET /oauth/v2/authorize`: the approval page (see `oauth.rs`).
async fn authorize_page(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let mut p = BTreeMap::new();
    if let Some(q) = uri.query() {
        parse_form(q, &mut p);
    }
    let team = lock(&sh.state).ws.team.clone();
    lock(&sh.oauth).authorize_page(&team, &p)
}

/// The approval form's POST: redirects to the app with a code (or `error=access_denied`).
async fn authorize_decide(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let mut p = BTreeMap::new();
    parse_form(&String::from_utf8_lossy(&body), &mut p);
    lock(&sh.oauth).decide(&p)
}

/// `url_private` / `url_private_download`: the file's bytes with the token in the
/// `Authorization` header; without it (or with another token) a redirect to the sign-in page, as
/// Slack answers. Unknown, tombstoned and deleted files answer 404. Logged as method `files-pri`
/// with the file ID as `file`.
async fn file_download(State(sh): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path();
    let id = file_id_of(path).unwrap_or("").to_string();
    let mut rec = RequestRecord {
        method: "files-pri".into(),
        params: BTreeMap::from([("file".to_string(), id.clone())]),
        status: 200,
        error: None,
        fault: None,
    };
    let authed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == sh.token);
    if !authed {
        rec.status = 302;
        rec.error = Some("not_authed".into());
        sh.record(rec);
        let mut resp = Response::new(Body::from("<html><body>Sign in to Slack</body></html>"));
        *resp.status_mut() = StatusCode::FOUND;
        let target = format!(
            "{}/?redir={}",
            sh.origin,
            path.replace('%', "%25").replace('/', "%2F")
        );
        if let Ok(v) = HeaderValue::from_str(&target) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return resp;
    }
    let found = if lock(&sh.deleted_files).contains(&id) || !path.starts_with(FILES_PATH) {
        None
    } else {
        let st = lock(&sh.state);
        find_file(&st.ws, &id).map(|f| {
            let size = f
                .get("size")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let mime = f
                .get("mimetype")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("application/octet-stream")
                .to_string();
            (size, mime)
        })
    };
    let Some((size, mime)) = found else {
        rec.status = 404;
        rec.error = Some("file_not_found".into());
        sh.record(rec);
        let mut resp = Response::new(Body::from("Not Found"));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
    };
    sh.record(rec);
    let mut resp = Response::new(Body::from(file_content(&id, size)));
    if let Ok(v) = HeaderValue::from_str(&mime) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// A TCP connection that can be told to fail: used to answer a "reset" fault with a real RST.
struct SimStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl SimStream {
    fn killed(&self) -> Option<std::io::Error> {
        if self.kill.load(Ordering::SeqCst) {
            // Zero linger makes the close an RST rather than an orderly FIN.
            let _ = self.inner.set_zero_linger();
            Some(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
        } else {
            None
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct SimListener(TcpListener);

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = SimStream {
                        inner: stream,
                        kill: Arc::new(AtomicBool::new(false)),
                    };
                    return (io, addr);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The per-connection kill switch, handed to the handler as connect info.
#[derive(Clone)]
struct ConnKill(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, SimListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        ConnKill(stream.io().kill.clone())
    }
}
