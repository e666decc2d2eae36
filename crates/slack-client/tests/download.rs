//! File downloads against small local servers: retries after 429 and a body cut off midway
//! (the cut-off try's sink is dropped, never handed back), the size cap, and the token kept away
//! from other hosts (URLs and redirects).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use slack_client::{ClientConfig, Download, Error, FileRequest, SlackClient};

const TOKEN: &str = "xoxp-download-test";
const SIZE: usize = 1000;

#[derive(Default)]
struct Seen {
    file_hits: AtomicUsize,
    /// Authorization headers the second server received (None = absent).
    elsewhere: Mutex<Vec<Option<String>>>,
}

fn content() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8).collect()
}

/// 429 first, then a body cut off after half, then the whole file.
async fn flaky_file(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    assert_eq!(
        headers[header::AUTHORIZATION].to_str().expect("ascii"),
        format!("Bearer {TOKEN}")
    );
    let hit = seen.file_hits.fetch_add(1, Ordering::SeqCst);
    let mut resp = match hit {
        0 => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert(header::RETRY_AFTER, "0".parse().expect("header"));
            return r;
        }
        1 => {
            // Half the body reaches the client, then the connection drops.
            let parts = futures::stream::unfold(0u8, |step| async move {
                match step {
                    0 => Some((Ok(Bytes::from(content()[..SIZE / 2].to_vec())), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Some((Err(std::io::Error::other("connection dropped")), 2))
                    }
                    _ => None,
                }
            });
            Response::new(Body::from_stream(parts))
        }
        _ => Response::new(Body::from(content())),
    };
    resp.headers_mut().insert(
        header::CONTENT_LENGTH,
        SIZE.to_string().parse().expect("len"),
    );
    resp
}

async fn elsewhere(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> &'static str {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    seen.elsewhere.lock().expect("lock").push(auth);
    "stolen"
}

async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn servers() -> (Arc<Seen>, u16, u16) {
    let seen = Arc::new(Seen::default());
    let other = serve(
        Router::new()
            .route("/stolen", get(elsewhere))
            .with_state(seen.clone()),
    )
    .await;
    let main = serve(
        Router::new()
            .route("/files-pri/T1-F1/file.bin", get(flaky_file))
            .route(
                "/files-pri/T1-F2/away.bin",
                // "localhost" is another host than 127.0.0.1 for the client.
                get(move || async move {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::FOUND;
                    r.headers_mut().insert(
                        header::LOCATION,
                        format!("http://localhost:{other}/stolen")
                            .parse()
                            .expect("location"),
                    );
                    r
                }),
            )
            .route(
                "/files-pri/T1-F3/login.bin",
                get(|| async {
                    let mut r = Response::new(Body::from("<html>sign in</html>"));
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, "text/html".parse().expect("ct"));
                    r
                }),
            )
            .with_state(seen.clone()),
    )
    .await;
    (seen, main, other)
}

fn client(port: u16) -> SlackClient {
    let mut cfg = ClientConfig::new(TOKEN, format!("http://127.0.0.1:{port}/api"));
    cfg.rate_scale = 0.0;
    cfg.max_retries = 3;
    SlackClient::new(cfg).expect("client")
}

#[tokio::test]
async fn a_cut_off_body_is_redone_and_429_waited_out() {
    let (seen, port, _) = servers().await;
    let c = client(port);
    let url = format!("http://127.0.0.1:{port}/files-pri/T1-F1/file.bin");
    let opened = AtomicUsize::new(0);
    let got = c
        .download(
            &FileRequest {
                url: &url,
                max_bytes: SIZE as u64,
                html_expected: false,
            },
            || {
                opened.fetch_add(1, Ordering::SeqCst);
                Ok(Vec::<u8>::new())
            },
        )
        .await
        .expect("download");
    match got {
        Download::Complete { sink, bytes } => {
            assert_eq!(bytes, SIZE as u64);
            assert_eq!(sink, content(), "the cut-off try's half is not kept");
        }
        other => panic!("expected the file, got {other:?}"),
    }
    // The 429 opened nothing; the cut-off try and the whole one each opened a fresh sink.
    assert_eq!(opened.load(Ordering::SeqCst), 2);
    assert_eq!(seen.file_hits.load(Ordering::SeqCst), 3);
    let stats = c.stats();
    let dl = &stats.per_method["files.download"];
    assert_eq!((dl.requests, dl.http_429, dl.retries), (3, 1, 2));
}

#[tokio::test]
async fn the_cap_stops_a_longer_body() {
    let (seen, port, _) = servers().await;
    seen.file_hits.store(2, Ordering::SeqCst);
    let c = client(port);
    let url = format!("http://127.0.0.1:{port}/files-pri/T1-F1/file.bin");
    let got = c
        .download(
            &FileRequest {
                url: &url,
                max_bytes: 999,
                html_expected: false,
            },
            || Ok(Vec::<u8>::new()),
        )
        .await
        .expect("download");
    assert!(matches!(got, Download::TooLarge), "{got:?}");
}

#[tokio::test]
async fn the_token_goes_to_no_other_host() {
    let (seen, port, other) = servers().await;
    let c = client(port);
    // A URL on another host: refused before any request.
    let err = c
        .download(
            &FileRequest {
                url: &format!("http://localhost:{other}/stolen"),
                max_bytes: 100,
                html_expected: false,
            },
            || Ok(Vec::<u8>::new()),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::NotSlackUrl { .. }), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    // A redirect to another host: not followed.
    let err = c
        .download(
            &FileRequest {
                url: &format!("http://127.0.0.1:{port}/files-pri/T1-F2/away.bin"),
                max_bytes: 100,
                html_expected: false,
            },
            || Ok(Vec::<u8>::new()),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::RedirectRefused { host } if host == "localhost"),
        "{err}"
    );
    assert!(seen.elsewhere.lock().expect("lock").is_empty());
    // Slack's sign-in page instead of a file is an error, not the file.
    let err = c
        .download(
            &FileRequest {
                url: &format!("http://127.0.0.1:{port}/files-pri/T1-F3/login.bin"),
                max_bytes: 100,
                html_expected: false,
            },
            || Ok(Vec::<u8>::new()),
        )
        .await
        .expect_err("sign-in page");
    assert!(matches!(err, Error::FileSignIn), "{err}");

    // What the policy relies on for Slack's own hosts: reqwest drops the Authorization header
    // when a redirect changes the host.
    let plain = reqwest::Client::new();
    let body = plain
        .get(format!("http://127.0.0.1:{port}/files-pri/T1-F2/away.bin"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "stolen");
    assert_eq!(*seen.elsewhere.lock().expect("lock"), vec![None]);
}
