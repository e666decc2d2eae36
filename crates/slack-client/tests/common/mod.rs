//! A scriptable Slack double for the client's tests: a real axum server on loopback whose answers
//! each test scripts per method (JSON, HTTP status, 429 + Retry-After, truncated bodies, dropped
//! connections), and which records every request it saw.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use slack_client::{ClientConfig, SlackClient};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

pub const TOKEN: &str = "xoxb-test-5ecret-t0ken";

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// HTTP 200 with this JSON.
    Json(Value),
    /// Any status with this JSON.
    Status(u16, Value),
    /// HTTP 429 with this `Retry-After` value and Slack's `ratelimited` body.
    RateLimited(&'static str),
    /// HTTP 200 whose body is this text, complete per Content-Length (e.g. cut-off JSON).
    Text(String),
    /// HTTP 200 announcing more bytes than it sends, then closing: a body cut off in transit.
    CutOff(String),
    /// Wait, then answer.
    Delayed(Duration, Box<Reply>),
    /// HTTP 200 with no Content-Length whose body never ends: `chunk` bytes at a time, each
    /// counted in `sent` as it is handed to the connection.
    Endless {
        chunk: usize,
        sent: Arc<AtomicUsize>,
    },
}

/// A request as the double saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub params: HashMap<String, String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub query: Option<String>,
    pub at: Instant,
}

type Script = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

#[derive(Default)]
struct Shared {
    scripts: Mutex<HashMap<String, Script>>,
    calls: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct Mock {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// Connections to drop right after reading their request, before answering.
    reset_next: Arc<AtomicUsize>,
}

impl Mock {
    pub async fn start() -> Mock {
        let shared = Arc::new(Shared::default());
        let reset_next = Arc::new(AtomicUsize::new(0));
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let listener = ResettingListener {
            inner: tcp,
            reset_next: Arc::clone(&reset_next),
        };
        let app = Router::new()
            .route("/api/{method}", axum::routing::post(handle))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock {
            addr,
            shared,
            reset_next,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A config pointing at this double, with pacing off and quick timeouts.
    pub fn config(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new(TOKEN, self.base());
        cfg.rate_scale = 0.0;
        cfg.request_timeout = Duration::from_secs(5);
        cfg
    }

    pub fn client(&self) -> SlackClient {
        SlackClient::new(self.config()).expect("client")
    }

    /// Answers `method` by calling `f(request, n)`, n counting this method's calls from 0.
    pub fn on(&self, method: &str, f: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) {
        self.shared
            .scripts
            .lock()
            .expect("lock")
            .insert(method.to_string(), Arc::new(f));
    }

    /// Answers `method` with `replies` in turn, repeating the last one.
    pub fn seq(&self, method: &str, replies: Vec<Reply>) {
        self.on(method, move |_, n| {
            replies[n.min(replies.len() - 1)].clone()
        });
    }

    /// Drops the next `n` new connections after reading their request.
    pub fn reset_connections(&self, n: usize) {
        self.reset_next.store(n, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.log.lock().expect("lock").clone()
    }

    pub fn seen_for(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method)
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        method: method.clone(),
        params: params.into_iter().collect(),
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        query: uri.query().map(str::to_string),
        at: Instant::now(),
    };
    shared.log.lock().expect("lock").push(seen.clone());
    let n = {
        let mut calls = shared.calls.lock().expect("lock");
        let c = calls.entry(method.clone()).or_insert(0);
        *c += 1;
        *c - 1
    };
    let script = shared.scripts.lock().expect("lock").get(&method).cloned();
    let mut reply = match (seen.authorization.as_deref(), script) {
        (None, _) => Reply::Json(json!({"ok": false, "error": "not_authed"})),
        (Some(a), _) if a != format!("Bearer {TOKEN}") => {
            Reply::Json(json!({"ok": false, "error": "invalid_auth"}))
        }
        (_, Some(f)) => f(&seen, n),
        (_, None) => Reply::Json(json!({"ok": false, "error": "unknown_method"})),
    };
    while let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    match reply {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Status(s, v) => {
            (StatusCode::from_u16(s).expect("status"), axum::Json(v)).into_response()
        }
        Reply::RateLimited(after) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, after)],
            axum::Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response(),
        Reply::Text(t) => ([(header::CONTENT_TYPE, "application/json")], t).into_response(),
        Reply::CutOff(t) => {
            let announced = (t.len() + 100).to_string();
            // A streamed body has no exact size, so hyper trusts the announced length, sends what
            // there is, and closes the connection when the stream ends short.
            let chunks =
                futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(t))]);
            let mut r = Response::new(Body::from_stream(chunks));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, announced.parse().expect("len"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                "application/json".parse().expect("ct"),
            );
            r
        }
        Reply::Endless { chunk, sent } => {
            let chunks = futures::stream::repeat_with(move || {
                sent.fetch_add(chunk, Ordering::SeqCst);
                Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; chunk]))
            });
            let mut r = Response::new(Body::from_stream(chunks));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                "application/json".parse().expect("ct"),
            );
            r
        }
        Reply::Delayed(..) => unreachable!("unwrapped above"),
    }
}

/// Accepts like a TcpListener, but can drop chosen connections mid-request (a reset as the client
/// sees it).
struct ResettingListener {
    inner: TcpListener,
    reset_next: Arc<AtomicUsize>,
}

impl axum::serve::Listener for ResettingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Ok((mut stream, addr)) = self.inner.accept().await else {
                continue;
            };
            let reset = self
                .reset_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if !reset {
                return (stream, addr);
            }
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
            drop(stream);
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A `{"ok":true, field: items, response_metadata: {next_cursor}}` page.
pub fn page(field: &str, items: Value, next_cursor: Option<&str>) -> Reply {
    let mut body = json!({"ok": true});
    body[field] = items;
    body["response_metadata"] = json!({"next_cursor": next_cursor.unwrap_or("")});
    Reply::Json(body)
}
