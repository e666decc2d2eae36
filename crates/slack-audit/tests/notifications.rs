//! Issue 14: the audit's notifications from config/notifications.json, through the real binary,
//! a slack-sim on loopback and the real SQLite file.

mod common;

use common::*;
use serde_json::Value;
use slack_sim::{FaultKind, ScriptedFault, SimHandle, SimOptions};

impl TestDir {
    fn write_notifications(&self, json: &str) {
        std::fs::write(self.config().join("notifications.json"), json).expect("notifications.json");
    }
}

/// Every message in the sim carrying our notification mark: (channel ID, event payload).
fn marked_messages(sim: &SimHandle) -> Vec<(String, Value, String)> {
    sim.with_workspace(|ws| {
        let mut out = Vec::new();
        for c in &ws.channels {
            for m in &c.messages {
                if m["metadata"]["event_type"] == "slack_tools_notification" {
                    out.push((
                        c.id.clone(),
                        m["metadata"]["event_payload"].clone(),
                        m["text"].as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        out
    })
}

/// (event, status, attempts, template) of every logged notification, oldest first.
fn logged(t: &TestDir) -> Vec<(String, String, i64, String)> {
    let store = store::Store::open(&t.db()).expect("db");
    store
        .db()
        .query_all(
            "SELECT event, status, attempts, template FROM notifications ORDER BY id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("rows")
}

fn posts(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "chat.postMessage")
        .count()
}

const BOTH: &str = r#"{"default_channel": "general", "events": {
    "audit_complete": {"template": "Audit: {coverage} covered, {new_gaps} new gap(s)"},
    "audit_new_gaps": {"channels": ["C0RND"], "template": "{count} new gap(s): {gaps}", "priority": "high"}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_gaps_fire_once_and_only_when_a_run_has_gaps_the_previous_had_not() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(BOTH);

    // First run: nothing to compare with, so no new gaps; the summary is sent.
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    // Second run, nothing changed: the summary only.
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(posts(&sim), 2);

    // aki leaves cust-acme, renamed so its name must be escaped in the message.
    sim.with_workspace(|ws| {
        let c = ws.channel_mut("C0ACME").expect("acme");
        c.members.retain(|m| m != "U0AKI");
        c.name = "cust-acme-<!channel>".into();
    });
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(posts(&sim), 4);

    let events: Vec<String> = logged(&t).into_iter().map(|l| l.0).collect();
    assert_eq!(
        events,
        [
            "audit_complete",
            "audit_complete",
            "audit_complete",
            "audit_new_gaps"
        ]
    );
    assert!(logged(&t).iter().all(|l| l.1 == "delivered" && l.2 == 1));
    let marked = marked_messages(&sim);
    assert_eq!(marked.len(), 4);
    let (channel, _, text) = &marked[3];
    assert_eq!(channel, "C0RND");
    assert!(
        text.contains("1 new gap(s): cust-acme-&lt;!channel&gt;: aki"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(marked[..3].iter().all(|m| m.0 == "C0GEN"));
}

/// Every kind of failure around chat.postMessage: Slack took the post and answered 500, the
/// connection was reset after Slack took it, a 429 and then a 500 before anything happened. Each
/// notification is in its channel exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_is_delivered_exactly_once_under_faults() {
    let post = |fault| ScriptedFault {
        method: "chat.postMessage".into(),
        fault,
    };
    let opts = SimOptions {
        fault_script: vec![
            post(FaultKind::ServerErrorAfterEffect),
            post(FaultKind::ResetAfterEffect),
            post(FaultKind::RateLimited),
            post(FaultKind::ServerError),
        ],
        ..SimOptions::default()
    };
    let sim = start_sim(workspace(), opts).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(
        r#"{"events": {"audit_complete": {"channels": ["general", "C0RND", "C0ACME", "cust-globex"],
            "template": "Audit: {coverage}"}}}"#,
    );
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));

    let faults: Vec<Option<String>> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        faults,
        [
            Some("500-after".to_string()),
            Some("reset-after".to_string()),
            Some("429".to_string()),
            // The client's own resend after the 429.
            Some("500".to_string()),
            None,
            None
        ]
    );
    let log = logged(&t);
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|l| l.1 == "delivered"), "{log:?}");
    // The unclear failures were found in the channel instead of sent again.
    assert_eq!(log.iter().map(|l| l.2).collect::<Vec<_>>(), [1, 1, 2, 1]);
    let mut channels: Vec<String> = marked_messages(&sim).into_iter().map(|m| m.0).collect();
    channels.sort();
    assert_eq!(channels, ["C0ACME", "C0GEN", "C0GLX", "C0RND"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_naming_a_missing_variable_sends_its_fallback() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(
        r#"{"default_channel": "C0GEN", "events": {"audit_complete": {
            "template": "{coverage} of {customers}", "fallback": "Audit finished: {coverage}"}}}"#,
    );
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let marked = marked_messages(&sim);
    assert_eq!(marked.len(), 1);
    assert!(
        marked[0].2.ends_with("Audit finished: 33.3%"),
        "{}",
        marked[0].2
    );
    assert_eq!(logged(&t)[0].3, "fallback");
}

/// `--notify CHANNEL` overrides the file's channel for the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_flag_overrides_the_channel() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(BOTH);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.args(["--notify", "C0RND"]);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let marked = marked_messages(&sim);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].0, "C0RND");
    assert!(
        marked[0].2.contains("Audit: 33.3% covered"),
        "{}",
        marked[0].2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_notifications_file_is_a_located_usage_error_before_any_call() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(r#"{"default_channel": "general", "events": {"audit_new_gap": {}}}"#);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 2, "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("notifications.json") && err.contains("events.audit_new_gap"),
        "{err}"
    );
    assert!(err.contains("unknown field `audit_new_gap`"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("audit_new_gaps"),
        "{err}"
    );
    assert!(sim.requests().is_empty(), "Slack was called");
}

/// A Telegram session that is not authorised: the run reports Slack and says so in Slack, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_not_logged_in_sends_session_expired_once() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(r#"{"events": {"telegram_session_expired": {"channels": ["C0RND"]}}}"#);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_API_ID", "12345")
        .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
        .env("TELEGRAM_SESSION", t.path().join("none.session"));
    let out = run(cmd).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let marked = marked_messages(&sim);
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0].0, "C0RND");
    assert!(
        marked[0].2.starts_with("Telegram session expired\n")
            && marked[0].2.contains("not logged in"),
        "{}",
        marked[0].2
    );
    assert!(
        !marked[0].2.contains("0123456789abcdef"),
        "no secret posted"
    );
    assert_eq!(logged(&t)[0].0, "telegram_session_expired");
}

/// `system_alert` (enabled in the file): a group the audit could not read is something to look
/// at; the alert names the run and the count, once per run, beside the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_cannot_be_read_raises_one_system_alert() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let proxy = failing_proxy(sim.base_url(), "C0GLX", "not_in_channel").await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    t.write_notifications(
        r#"{"default_channel": "general", "events": {
            "system_alert": {"channels": ["C0RND"], "template": "{tool}: {message}", "priority": "high"}}}"#,
    );
    let out = run(t.command(Some(&proxy))).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let events: Vec<String> = logged(&t).into_iter().map(|l| l.0).collect();
    assert_eq!(events, ["system_alert"]);
    let marked = marked_messages(&sim);
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0].0, "C0RND");
    assert!(
        marked[0]
            .2
            .contains("slack-audit: audit run 1: 1 group(s) could not be read"),
        "{}",
        marked[0].2
    );
    // A run with every group readable raises none.
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(marked_messages(&sim).len(), 1);
}
