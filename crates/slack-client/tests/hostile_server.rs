//! The client against a hostile or broken server over real loopback HTTP: absurd `Retry-After`
//! values, bodies without end, and cursors that loop. Each must end the call with a clear error,
//! never a panic, a hang or unbounded memory.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Mock, Reply, page};
use futures::StreamExt;
use serde_json::json;
use slack_client::{Error, SlackClient};

#[tokio::test]
async fn a_huge_retry_after_fails_the_call_without_panicking_or_waiting() {
    let mock = Mock::start().await;
    // u64::MAX seconds, a value past it, and one just over the client's limit.
    mock.seq(
        "users.info",
        vec![Reply::RateLimited("99999999999999999999")],
    );
    mock.seq(
        "team.info",
        vec![Reply::RateLimited("18446744073709551615")],
    );
    mock.seq("auth.test", vec![Reply::RateLimited("601")]);
    let client = mock.client();
    let started = Instant::now();
    let err = client.users_info("U1").await.expect_err("refused");
    assert!(
        matches!(
            &err,
            Error::RetryAfterTooLong { method, requested_secs: u64::MAX, limit_secs: 600 }
                if method == "users.info"
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("users.info") && text.contains("600 s"),
        "{text}"
    );
    assert!(err.hint().is_some());
    let err = client.team_info().await.expect_err("refused");
    assert!(matches!(err, Error::RetryAfterTooLong { .. }), "{err:?}");
    let err = client.auth_test().await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::RetryAfterTooLong {
                requested_secs: 601,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the client waited"
    );
    // One request each: asking again at once would only draw the same answer.
    assert_eq!(mock.seen_for("users.info").len(), 1);
    assert_eq!(mock.seen_for("auth.test").len(), 1);
    assert_eq!(client.stats().http_429, 3);
}

#[tokio::test]
async fn a_retry_after_within_the_limit_is_still_waited_out() {
    let mock = Mock::start().await;
    mock.seq(
        "users.info",
        vec![
            Reply::RateLimited("0.3"),
            Reply::Json(json!({"ok": true, "user": {"id": "U1", "name": "a"}})),
        ],
    );
    let client = mock.client();
    let started = Instant::now();
    assert_eq!(
        client.users_info("U1").await.expect("after the wait").id,
        "U1"
    );
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[tokio::test]
async fn an_endless_body_stops_at_the_limit_and_is_not_retried() {
    let mock = Mock::start().await;
    let sent = Arc::new(AtomicUsize::new(0));
    mock.seq(
        "conversations.members",
        vec![Reply::Endless {
            chunk: 64 * 1024,
            sent: Arc::clone(&sent),
        }],
    );
    let mut cfg = mock.config();
    cfg.max_body_bytes = 1024 * 1024;
    let client = SlackClient::new(cfg).expect("client");
    let started = Instant::now();
    let err = client.all_members("C1").await.expect_err("too large");
    assert!(
        matches!(&err, Error::BodyTooLarge { method, limit_bytes: 1_048_576 } if method == "conversations.members"),
        "{err:?}"
    );
    assert!(err.to_string().contains("1048576 bytes"), "{err}");
    assert!(err.hint().is_some());
    // Well before the 5 s request timeout: the client stopped reading, it did not time out.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        mock.seen_for("conversations.members").len(),
        1,
        "not retried"
    );
    // The server could push only what the socket buffers hold past the limit.
    let pushed = sent.load(Ordering::SeqCst);
    assert!(pushed < 64 * 1024 * 1024, "server pushed {pushed} bytes");
}

#[tokio::test]
async fn an_announced_body_over_the_limit_is_refused_before_reading() {
    let mock = Mock::start().await;
    let big = format!(
        r#"{{"ok":true,"members":["U1"],"padding":"{}"}}"#,
        "x".repeat(300_000)
    );
    mock.seq("conversations.members", vec![Reply::Text(big)]);
    let mut cfg = mock.config();
    cfg.max_body_bytes = 100_000;
    let client = SlackClient::new(cfg).expect("client");
    let err = client.all_members("C1").await.expect_err("too large");
    assert!(matches!(err, Error::BodyTooLarge { .. }), "{err:?}");
    // The default limit is far above real pages: the same answer passes.
    assert_eq!(
        mock.client().all_members("C1").await.expect("members"),
        ["U1"]
    );
}

#[tokio::test]
async fn cursors_that_loop_over_several_pages_end_with_an_error() {
    let mock = Mock::start().await;
    // a -> b -> c -> a: no page repeats its own cursor, but the listing would never end.
    mock.on("users.list", |req, _| {
        let next = match req.params.get("cursor").map(String::as_str) {
            None => "a",
            Some("a") => "b",
            Some("b") => "c",
            Some(_) => "a",
        };
        page(
            "members",
            json!([{"id": format!("U{next}"), "name": next}]),
            Some(next),
        )
    });
    let client = mock.client();
    let pages: Vec<_> = client.users_list().collect().await;
    assert_eq!(pages.len(), 4, "three pages, then the error: {pages:?}");
    assert!(pages[..3].iter().all(Result::is_ok));
    let err = pages[3].as_ref().expect_err("cycle");
    assert!(
        matches!(err, Error::CursorCycle { method, page: 4 } if method == "users.list"),
        "{err:?}"
    );
    assert!(err.to_string().contains("users.list"), "{err}");
    assert_eq!(mock.seen_for("users.list").len(), 4);
    // The one-page loop (a cursor that does not advance) is caught the same way.
    mock.on("conversations.members", |_, _| {
        page("members", json!(["U1"]), Some("same"))
    });
    let err = client.all_members("C1").await.expect_err("cycle");
    assert!(
        matches!(&err, Error::CursorCycle { page: 2, .. }),
        "{err:?}"
    );
}
