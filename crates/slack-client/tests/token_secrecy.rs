//! The token never shows up in logs at any level (TRACE included, for both `tracing` events and the
//! HTTP stack's `log` records), nor in errors or Debug output, across success and failure paths.
//! Its own test binary, because it installs process-wide loggers.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Mock, Reply, TOKEN};
use futures::TryStreamExt;
use serde_json::json;
use slack_client::{ClientConfig, SlackClient, TimeRange};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Forwards `log` records (reqwest, hyper-util) into the same buffer.
struct LogCapture(Captured);

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut out = self.0.clone();
        let _ = writeln!(
            out,
            "[log {} {}] {}",
            record.level(),
            record.target(),
            record.args()
        );
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn token_is_absent_from_trace_logs_errors_and_debug() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    log::set_logger(Box::leak(Box::new(LogCapture(captured.clone())))).expect("logger");
    log::set_max_level(log::LevelFilter::Trace);

    let mock = Mock::start().await;
    mock.seq(
        "auth.test",
        vec![
            Reply::Status(503, json!({})),
            Reply::Json(json!({"ok": true, "team_id": "T1", "user_id": "U1"})),
        ],
    );
    mock.seq(
        "conversations.history",
        vec![
            Reply::RateLimited("0.1"),
            Reply::Text("{\"ok\":tr".into()),
            common::page("messages", json!([{"ts": "1.0"}]), None),
        ],
    );
    mock.seq(
        "users.info",
        vec![Reply::Json(json!({"ok": false, "error": "user_not_found"}))],
    );
    mock.reset_connections(1);

    let client = mock.client();
    let mut evidence = String::new();
    client.auth_test().await.expect("auth.test after a 503");
    client
        .history("C1", TimeRange::default())
        .try_concat()
        .await
        .expect("history after 429 and a cut body");
    let err = client.users_info("U1").await.expect_err("not found");
    evidence.push_str(&format!(
        "{err}\n{err:?}\n{client:?}\n{:?}\n",
        mock.config()
    ));

    // Wrong token and an unreachable server: errors must not echo the token either.
    let mut wrong = mock.config();
    wrong.token = format!("{TOKEN}-wrong").into();
    let err = SlackClient::new(wrong)
        .expect("client")
        .auth_test()
        .await
        .expect_err("invalid_auth");
    evidence.push_str(&format!("{err}\n{err:?}\n"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut dead = ClientConfig::new(TOKEN, format!("http://127.0.0.1:{port}/api"));
    dead.max_retries = 1;
    let err = SlackClient::new(dead)
        .expect("client")
        .team_info()
        .await
        .expect_err("unreachable");
    evidence.push_str(&format!("{err}\n{err:?}\n"));

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    // The capture must really hold trace output from the client and the HTTP stack, or the check
    // below proves nothing.
    assert!(
        logs.contains("TRACE") && logs.contains("sending"),
        "no trace events captured"
    );
    assert!(
        logs.contains("auth.test") && logs.contains("retrying"),
        "client events missing"
    );
    assert!(
        logs.contains("[log "),
        "no log records from the HTTP stack captured"
    );
    assert!(!logs.contains(TOKEN), "token leaked into logs");
    assert!(
        !logs.contains("5ecret"),
        "part of the token leaked into logs"
    );
    assert!(
        !evidence.contains(TOKEN) && !evidence.contains("5ecret"),
        "token leaked into errors/Debug:\n{evidence}"
    );
    // Sanity: the requests really carried the token.
    assert!(
        mock.seen()
            .iter()
            .any(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
}
