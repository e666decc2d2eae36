//! Message metadata on chat.postMessage and conversations.history, and the planned faults that
//! answer a post with a 500 or a reset after it took effect (issue 14).

mod common;

use common::*;
use slack_sim::{FaultKind, ScriptedFault, SimOptions, generate};

/// chat.postMessage of `text` to `channel`: the HTTP status.
async fn post_status(base: &str, channel: &str, text: &str) -> u16 {
    raw(
        base,
        "chat.postMessage",
        Some(TOKEN),
        &[("channel", channel), ("text", text)],
    )
    .await
    .status
}

#[tokio::test]
async fn metadata_is_kept_and_returned_only_with_include_all_metadata() {
    let ws = generate(&spec(10, 4, 3));
    let general = ws
        .channels
        .iter()
        .find(|c| c.is_general)
        .expect("general")
        .id
        .clone();
    let sim = sim(ws).await;
    let base = sim.base_url();
    let meta = r#"{"event_type":"slack_tools_notification","event_payload":{"notification_id":7}}"#;
    let posted = call(
        &base,
        "chat.postMessage",
        &[("channel", &general), ("text", "hi"), ("metadata", meta)],
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    let plain = call(
        &base,
        "conversations.history",
        &[("channel", &general), ("limit", "1")],
    )
    .await;
    assert_eq!(plain["messages"][0]["ts"], posted["ts"]);
    assert!(plain["messages"][0].get("metadata").is_none(), "{plain}");
    let full = call(
        &base,
        "conversations.history",
        &[
            ("channel", &general),
            ("limit", "1"),
            ("include_all_metadata", "true"),
        ],
    )
    .await;
    assert_eq!(
        full["messages"][0]["metadata"]["event_payload"]["notification_id"],
        7
    );
    assert_eq!(
        full["messages"][0]["metadata"]["event_type"],
        "slack_tools_notification"
    );

    let bad = call(
        &base,
        "chat.postMessage",
        &[
            ("channel", &general),
            ("text", "x"),
            ("metadata", r#"{"event_payload":{}}"#),
        ],
    )
    .await;
    assert_eq!(bad["error"], "invalid_metadata_schema");
    let bad = call(
        &base,
        "chat.postMessage",
        &[("channel", &general), ("text", "x"), ("metadata", "{oops")],
    )
    .await;
    assert_eq!(bad["error"], "invalid_metadata_format");
}

#[tokio::test]
async fn a_post_answered_500_after_effect_is_stored_and_one_before_effect_is_not() {
    let ws = generate(&spec(10, 4, 3));
    let general = ws
        .channels
        .iter()
        .find(|c| c.is_general)
        .expect("general")
        .id
        .clone();
    let post = |fault| ScriptedFault {
        method: "chat.postMessage".into(),
        fault,
    };
    let sim = sim_with(
        ws,
        SimOptions {
            token: TOKEN.into(),
            fault_script: vec![
                post(FaultKind::ServerErrorAfterEffect),
                post(FaultKind::ServerError),
            ],
            ..SimOptions::default()
        },
    )
    .await;
    let base = sim.base_url();
    let count = |sim: &slack_sim::SimHandle| {
        sim.with_workspace(|ws| ws.channel(&general).expect("general").messages.len())
    };
    let before = count(&sim);
    assert_eq!(post_status(&base, &general, "one").await, 500);
    assert_eq!(count(&sim), before + 1, "500-after stores the post");
    assert_eq!(post_status(&base, &general, "two").await, 500);
    assert_eq!(count(&sim), before + 1, "a plain 500 stores nothing");
    assert_eq!(
        post_status(&base, &general, "three").await,
        200,
        "the script is used up"
    );
    let faults: Vec<Option<String>> = sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [Some("500-after".to_string()), Some("500".to_string()), None]
    );
    assert_eq!(
        "chat.postMessage=reset-after".parse::<ScriptedFault>(),
        Ok(post(FaultKind::ResetAfterEffect))
    );
    assert!("chat.postMessage=boom".parse::<ScriptedFault>().is_err());
}
