//! The client against a scripted Slack double over real loopback HTTP: pagination, rate limits,
//! retries, error mapping and write semantics.

mod common;

use std::time::{Duration, Instant};

use common::{Mock, Reply, TOKEN, page};
use futures::TryStreamExt;
use serde_json::json;
use slack_client::{ConversationType, Error, ListConversations, SlackClient, TimeRange};

fn users(ids: &[&str]) -> serde_json::Value {
    json!(
        ids.iter()
            .map(|id| json!({"id": id, "name": id.to_lowercase(), "profile": {"display_name": ""}}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn users_pages_follow_cursors_through_short_and_empty_pages() {
    let mock = Mock::start().await;
    // Cursors end in '=' like Slack's; pages are short and one is empty while more remain.
    mock.on("users.list", |req, _| {
        match req.params.get("cursor").map(String::as_str) {
            None => page("members", users(&["U1", "U2"]), Some("dXNlcjpVMDI=")),
            Some("dXNlcjpVMDI=") => page("members", users(&[]), Some("dXNlcjpVMDM+/=")),
            Some("dXNlcjpVMDM+/=") => page("members", users(&["U3"]), None),
            Some(other) => {
                Reply::Json(json!({"ok": false, "error": "invalid_cursor", "got": other}))
            }
        }
    });
    let client = mock.client();
    let pages: Vec<Vec<slack_client::User>> =
        client.users_list().try_collect().await.expect("pages");
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 0, 1]
    );
    let all = client.all_users().await.expect("all users");
    let ids: Vec<&str> = all.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["U1", "U2", "U3"]);
    assert_eq!(all[0].raw["name"], "u1");
    let seen = mock.seen_for("users.list");
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|s| {
        s.params
            .get("limit")
            .is_some_and(|l| l.parse::<u32>().is_ok())
    }));
    assert!(
        seen.iter()
            .all(|s| s.content_type.as_deref() == Some("application/x-www-form-urlencoded"))
    );
    assert!(
        seen.iter().all(|s| s.query.is_none()),
        "parameters travel in the form body, not the URL"
    );
}

#[tokio::test]
async fn null_and_absent_next_cursor_end_the_listing() {
    let mock = Mock::start().await;
    mock.on("conversations.list", |req, _| {
        match req.params.get("cursor").map(String::as_str) {
            None => page("channels", json!([{"id": "C1", "name": "a"}]), Some("c2")),
            Some("c2") => Reply::Json(json!({"ok": true, "channels": [{"id": "C2", "name": "b"}], "response_metadata": {"next_cursor": null}})),
            Some(_) => Reply::Json(json!({"ok": false, "error": "invalid_cursor"})),
        }
    });
    mock.seq(
        "conversations.members",
        vec![Reply::Json(json!({"ok": true, "members": ["U1", "U2"]}))],
    );
    let client = mock.client();
    let q = ListConversations {
        types: vec![
            ConversationType::PublicChannel,
            ConversationType::PrivateChannel,
        ],
        exclude_archived: true,
    };
    let chans = client.all_conversations(q).await.expect("channels");
    assert_eq!(
        chans.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["C1", "C2"]
    );
    let first = &mock.seen_for("conversations.list")[0];
    assert_eq!(first.params["types"], "public_channel,private_channel");
    assert_eq!(first.params["exclude_archived"], "true");
    assert_eq!(
        client.all_members("C1").await.expect("members"),
        ["U1", "U2"]
    );
    assert_eq!(
        mock.seen_for("conversations.members").len(),
        1,
        "absent response_metadata ends paging"
    );
}

#[tokio::test]
async fn history_sends_the_range_and_keeps_raw_messages() {
    let mock = Mock::start().await;
    let msgs = json!([
        {"type": "message", "ts": "1700000002.000200", "user": "U1", "text": "hi", "thread_ts": "1700000002.000200",
         "reply_count": 2, "reply_users": ["U2"], "latest_reply": "1700000009.000100", "blocks": [{"type": "rich_text"}]},
        {"type": "message", "subtype": "channel_join", "ts": "1700000001.000100", "user": "U2", "text": "joined"}
    ]);
    mock.seq(
        "conversations.history",
        vec![page("messages", msgs.clone(), None)],
    );
    let client = mock.client();
    let range = TimeRange {
        oldest: Some("1700000000.000000".into()),
        latest: Some("1800000000.000000".into()),
        inclusive: true,
    };
    let got: Vec<slack_client::Message> = client
        .history("C1", range)
        .try_concat()
        .await
        .expect("history");
    assert_eq!(got.len(), 2);
    assert!(got[0].is_thread_parent());
    assert_eq!(got[1].subtype.as_deref(), Some("channel_join"));
    assert_eq!(
        got[0].raw, msgs[0],
        "raw is the message exactly as received"
    );
    let seen = &mock.seen_for("conversations.history")[0];
    assert_eq!(seen.params["channel"], "C1");
    assert_eq!(seen.params["oldest"], "1700000000.000000");
    assert_eq!(seen.params["latest"], "1800000000.000000");
    assert_eq!(seen.params["inclusive"], "true");
    assert!(seen.params["limit"].parse::<u32>().expect("limit") <= 999);
}

#[tokio::test]
async fn replies_start_with_the_parent_and_drop_repeats_across_pages() {
    let mock = Mock::start().await;
    let parent = json!({"ts": "10.0", "thread_ts": "10.0", "reply_count": 3, "text": "parent"});
    let reply =
        |ts: &str| json!({"ts": ts, "thread_ts": "10.0", "parent_user_id": "U1", "text": ts});
    let (p1, p2) = (
        json!([parent.clone(), reply("11.0")]),
        json!([parent.clone(), reply("12.0"), reply("11.0")]),
    );
    let p3 = json!([reply("13.0")]);
    mock.on("conversations.replies", move |req, _| {
        match req.params.get("cursor").map(String::as_str) {
            None => page("messages", p1.clone(), Some("p2")),
            Some("p2") => page("messages", p2.clone(), Some("p3")),
            _ => page("messages", p3.clone(), None),
        }
    });
    let client = mock.client();
    let msgs: Vec<slack_client::Message> = client
        .replies("C1", "10.0", TimeRange::default())
        .try_concat()
        .await
        .expect("replies");
    let ts: Vec<&str> = msgs.iter().map(|m| m.ts.as_str()).collect();
    assert_eq!(ts, ["10.0", "11.0", "12.0", "13.0"]);
    assert!(msgs[0].is_thread_parent() && msgs[1..].iter().all(|m| m.is_reply()));
    assert_eq!(
        mock.seen_for("conversations.replies")[0].params["ts"],
        "10.0"
    );
}

#[tokio::test]
async fn raw_history_keeps_each_message_text_as_sent_and_decodes_like_history() {
    let mock = Mock::start().await;
    // Spacing, `\/` and `\u00e9` are kept verbatim; the typed fields are the same as history's.
    let first = r#"{"type":"message", "ts":"1700000002.000200","user":"U1","text":"caf\u00e9 http:\/\/x","thread_ts":"1700000002.000200","reply_count":2,"latest_reply":"1700000009.000100","blocks":[{"type":"rich_text"}]}"#;
    let second = r#"{"type":"message","subtype":"channel_join","ts":"1700000001.000100","user":"U2","text":null}"#;
    let page1 = format!(
        r#"{{"ok":true,"messages":[ {first} ,{second}],"has_more":true,"response_metadata":{{"next_cursor":"c2","warnings":["superfluous_charset"]}},"warning":"superfluous_charset"}}"#
    );
    // The last page has an odd `response_metadata` (a number cursor): the general decoder's rules
    // apply (no cursor, so the listing ends) and the message comes back re-serialised.
    let page2 = r#"{"ok":true,"messages":[{"ts":"1700000000.000100","text":"x"}],"response_metadata":{"next_cursor":5}}"#;
    mock.seq(
        "conversations.history",
        [page1.as_str(), page2, page1.as_str(), page2]
            .map(|p| Reply::Text(p.into()))
            .to_vec(),
    );
    let client = mock.client();
    let raw: Vec<slack_client::RawMessage> = client
        .history_raw("C1", TimeRange::default())
        .try_concat()
        .await
        .expect("raw history");
    let typed: Vec<slack_client::Message> = client
        .history("C1", TimeRange::default())
        .try_concat()
        .await
        .expect("history");
    assert_eq!(raw.len(), 3);
    assert_eq!(raw[0].json, first);
    assert_eq!(raw[1].json, second);
    assert_eq!(raw[2].json, r#"{"ts":"1700000000.000100","text":"x"}"#);
    for (r, t) in raw.iter().zip(&typed) {
        assert_eq!(r.message.ts, t.ts);
        assert_eq!(r.message.text, t.text);
        assert_eq!(r.message.reply_count, t.reply_count);
        assert_eq!(r.message.latest_reply, t.latest_reply);
        assert_eq!(r.message.subtype, t.subtype);
        assert!(
            r.message.raw.is_null(),
            "raw path keeps the text, not a Value"
        );
        let reparsed: serde_json::Value = serde_json::from_str(&r.json).expect("json");
        assert_eq!(reparsed, t.raw);
    }
    assert_eq!(
        mock.seen_for("conversations.history")[1].params["cursor"],
        "c2"
    );
}

#[tokio::test]
async fn raw_pages_map_errors_and_retry_cut_off_bodies_like_the_typed_ones() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.replies",
        vec![
            Reply::Text(r#"{"ok":true,"messages":[{"ts":"1.0","#.into()),
            Reply::Json(json!({"ok": true, "messages": [
                {"ts": "1.0", "thread_ts": "1.0", "reply_count": 1},
                {"ts": "2.0", "thread_ts": "1.0"}
            ]})),
        ],
    );
    mock.seq(
        "conversations.history",
        vec![
            Reply::Json(json!({"ok": false, "error": "channel_not_found"})),
            Reply::Json(json!({"ok": true, "messages": [{"ts": "1.0"}, {"ts": 5}]})),
        ],
    );
    let client = mock.client();
    let replies: Vec<slack_client::RawMessage> = client
        .replies_raw("C1", "1.0", TimeRange::default())
        .try_concat()
        .await
        .expect("replies after a retry");
    assert_eq!(replies.len(), 2);
    assert!(replies[1].message.is_reply());
    assert_eq!(mock.seen_for("conversations.replies").len(), 2);

    let err = client
        .history_raw("C1", TimeRange::default())
        .try_concat()
        .await
        .expect_err("unknown channel");
    assert_eq!(err.code(), Some("channel_not_found"));
    let err = client
        .history_raw("C1", TimeRange::default())
        .try_concat()
        .await
        .expect_err("a message with a numeric ts");
    assert!(
        matches!(&err, Error::Decode { detail, .. } if detail.starts_with("messages[1]")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_429_pauses_only_its_method_for_retry_after() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.history",
        vec![Reply::RateLimited("1"), page("messages", json!([]), None)],
    );
    mock.seq(
        "users.info",
        vec![Reply::Json(
            json!({"ok": true, "user": {"id": "U1", "name": "a"}}),
        )],
    );
    let client = mock.client();
    let history = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .history("C1", TimeRange::default())
                .try_concat()
                .await
        })
    };
    // While history waits out its Retry-After, another method goes through at once.
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..5 {
        client.users_info("U1").await.expect("users.info");
    }
    let msgs = history.await.expect("join").expect("history after waiting");
    assert!(msgs.is_empty());
    let seen = mock.seen_for("conversations.history");
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "resent after {gap:?}, before Retry-After"
    );
    // Order, not duration: every users.info call was answered while history was still blocked.
    let others = mock.seen_for("users.info");
    assert_eq!(others.len(), 5);
    assert!(
        others.iter().all(|o| o.at < seen[1].at),
        "users.info waited on history's 429"
    );
    let stats = client.stats();
    assert_eq!(stats.http_429, 1);
    assert_eq!(stats.per_method["conversations.history"].http_429, 1);
    assert_eq!(stats.per_method["users.info"].requests, 5);
}

#[tokio::test]
async fn concurrent_callers_of_a_blocked_method_all_wait() {
    let mock = Mock::start().await;
    mock.on("conversations.members", |_, n| {
        if n == 0 {
            Reply::RateLimited("0.5")
        } else {
            Reply::Json(json!({"ok": true, "members": ["U1"]}))
        }
    });
    let client = mock.client();
    let first = tokio::spawn({
        let c = client.clone();
        async move { c.all_members("C0").await }
    });
    // Let the first call collect its 429, then start more callers of the same method.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t429 = mock.seen_for("conversations.members")[0].at;
    let others: Vec<_> = (1..4)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.all_members(&format!("C{i}")).await })
        })
        .collect();
    first.await.expect("join").expect("first");
    for o in others {
        o.await.expect("join").expect("other");
    }
    let later = &mock.seen_for("conversations.members")[1..];
    assert_eq!(later.len(), 4);
    assert!(
        later
            .iter()
            .all(|s| s.at - t429 >= Duration::from_millis(450)),
        "a caller ignored the method's block"
    );
}

#[tokio::test]
async fn fractional_retry_after_and_bounded_429_retries() {
    let mock = Mock::start().await;
    mock.seq(
        "team.info",
        vec![
            Reply::RateLimited("0.2"),
            Reply::Json(
                json!({"ok": true, "team": {"id": "T1", "name": "Acme", "domain": "acme"}}),
            ),
        ],
    );
    mock.seq("conversations.info", vec![Reply::RateLimited("0")]);
    let client = mock.client();
    let t = Instant::now();
    let team = client.team_info().await.expect("team");
    assert_eq!((team.id.as_str(), team.domain.as_str()), ("T1", "acme"));
    assert!(t.elapsed() >= Duration::from_millis(190));
    let err = client
        .conversations_info("C1")
        .await
        .expect_err("always 429");
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(err.code(), Some("ratelimited"));
    assert_eq!(
        mock.seen_for("conversations.info").len(),
        1 + slack_client::rate::MAX_RATE_LIMIT_RETRIES as usize
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let mock = Mock::start().await;
    mock.seq(
        "auth.test",
        vec![
            Reply::Status(503, json!({"ok": false})),
            Reply::Status(500, json!({})),
            Reply::Json(json!({"ok": false, "error": "internal_error"})),
            Reply::Json(json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "bot", "team_id": "T1", "user_id": "U0", "bot_id": "B1"})),
        ],
    );
    let client = mock.client();
    let who = client.auth_test().await.expect("auth.test");
    assert_eq!(who.team_id, "T1");
    assert_eq!(who.bot_id.as_deref(), Some("B1"));
    assert_eq!(mock.seen_for("auth.test").len(), 4);
    assert_eq!(client.stats().retries, 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_max_retries() {
    let mock = Mock::start().await;
    mock.seq("users.info", vec![Reply::Status(502, json!({}))]);
    let mut cfg = mock.config();
    cfg.max_retries = 2;
    let client = SlackClient::new(cfg).expect("client");
    let err = client.users_info("U1").await.expect_err("always 502");
    assert!(matches!(err, Error::Http { status: 502, .. }), "{err:?}");
    assert_eq!(mock.seen_for("users.info").len(), 3);
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let mock = Mock::start().await;
    mock.seq(
        "users.info",
        vec![Reply::Json(
            json!({"ok": true, "user": {"id": "U7", "name": "g"}}),
        )],
    );
    mock.reset_connections(2);
    let client = mock.client();
    let user = client.users_info("U7").await.expect("served after resets");
    assert_eq!(user.id, "U7");
    assert_eq!(client.stats().retries, 2);
    assert_eq!(
        mock.seen_for("users.info").len(),
        1,
        "the dropped attempts never reached the handler"
    );
}

#[tokio::test]
async fn truncated_bodies_are_retried() {
    let mock = Mock::start().await;
    let full = json!({"ok": true, "members": ["U1", "U2"]});
    mock.seq(
        "conversations.members",
        vec![
            Reply::Text(r#"{"ok":true,"members":["U1","#.into()),
            Reply::CutOff(r#"{"ok":true,"mem"#.into()),
            Reply::Json(full),
        ],
    );
    let client = mock.client();
    assert_eq!(
        client.all_members("C1").await.expect("members"),
        ["U1", "U2"]
    );
    assert_eq!(mock.seen_for("conversations.members").len(), 3);
}

#[tokio::test]
async fn wrong_token_is_invalid_auth_and_says_what_to_fix() {
    let mock = Mock::start().await;
    mock.seq("auth.test", vec![Reply::Json(json!({"ok": true}))]);
    let mut cfg = mock.config();
    cfg.token = "xoxb-wrong".to_string().into();
    let client = SlackClient::new(cfg).expect("client");
    let err = client.auth_test().await.expect_err("wrong token");
    assert!(
        matches!(&err, Error::Auth { code } if code == "invalid_auth"),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(err.to_string().contains("SLACK_TOKEN"));
    assert_eq!(
        mock.seen_for("auth.test").len(),
        1,
        "auth failures are not retried"
    );
    // The right token travels only as a bearer header.
    let good = mock.client();
    good.auth_test().await.expect("right token");
    let seen = mock.seen_for("auth.test");
    let last = seen.last().expect("request");
    assert_eq!(
        last.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(last.params.values().all(|v| !v.contains(TOKEN)) && last.query.is_none());
    assert!(!format!("{good:?}").contains(TOKEN));
}

#[tokio::test]
async fn missing_scope_shows_needed_and_provided() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.invite",
        vec![Reply::Json(json!({"ok": false, "error": "missing_scope", "needed": "channels:write", "provided": "channels:read,users:read"}))],
    );
    let client = mock.client();
    let err = client
        .conversations_invite("C1", &["U1".into()], false)
        .await
        .expect_err("missing scope");
    let msg = err.to_string();
    assert!(
        msg.contains("channels:write") && msg.contains("channels:read,users:read"),
        "{msg}"
    );
    assert!(err.is_fatal());
    assert!(err.hint().is_some_and(|h| h.contains("channels:write")));
}

#[tokio::test]
async fn channel_errors_name_the_channel() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.info",
        vec![Reply::Json(
            json!({"ok": false, "error": "channel_not_found"}),
        )],
    );
    let client = mock.client();
    let err = client
        .conversations_info("C0BAD")
        .await
        .expect_err("not found");
    assert_eq!(err.code(), Some("channel_not_found"));
    assert!(err.to_string().contains("C0BAD"));
    assert!(!err.is_fatal());
    assert_eq!(mock.seen_for("conversations.info").len(), 1);
}

#[tokio::test]
async fn invite_batches_users_and_reports_partial_errors() {
    let mock = Mock::start().await;
    mock.on("conversations.invite", |req, _| {
        if req.params["users"].contains("UBAD") {
            Reply::Json(
                json!({"ok": true, "channel": {"id": req.params["channel"], "name": "acme"},
                "errors": [{"user": "UBAD", "ok": false, "error": "user_not_found"}]}),
            )
        } else {
            Reply::Json(
                json!({"ok": true, "channel": {"id": req.params["channel"], "name": "acme"}}),
            )
        }
    });
    let client = mock.client();
    let mut users: Vec<String> = (0..249).map(|i| format!("U{i:04}")).collect();
    users.push("UBAD".into());
    let out = client
        .conversations_invite("C9", &users, true)
        .await
        .expect("invite");
    assert_eq!(
        out.user_errors,
        vec![slack_client::UserError {
            user: "UBAD".into(),
            error: "user_not_found".into()
        }]
    );
    assert_eq!(out.channel.expect("channel").id, "C9");
    let seen = mock.seen_for("conversations.invite");
    assert_eq!(seen.len(), 3);
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| s.params["users"].split(',').count())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(
        seen.iter()
            .all(|s| s.params["force"] == "true" && s.params["channel"] == "C9")
    );
}

#[tokio::test]
async fn invite_without_force_fails_with_user_errors_and_is_retried_on_5xx() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.invite",
        vec![
            Reply::Status(500, json!({})),
            Reply::Json(json!({"ok": false, "error": "user_not_found", "errors": [{"user": "U404", "ok": false, "error": "user_not_found"}]})),
        ],
    );
    let client = mock.client();
    let err = client
        .conversations_invite("C5", &["U1".into(), "U404".into()], false)
        .await
        .expect_err("bad user");
    match &err {
        Error::Api {
            channel,
            user_errors,
            ..
        } => {
            assert_eq!(channel.as_deref(), Some("C5"));
            assert_eq!(user_errors[0].user, "U404");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("C5"));
    assert_eq!(
        mock.seen_for("conversations.invite").len(),
        2,
        "invite is safe to resend after a 5xx"
    );
}

#[tokio::test]
async fn post_message_is_not_resent_when_slack_may_have_posted() {
    let mock = Mock::start().await;
    mock.seq(
        "chat.postMessage",
        vec![
            Reply::Status(500, json!({})),
            Reply::Json(json!({"ok": true, "channel": "C1", "ts": "1.1"})),
        ],
    );
    let client = mock.client();
    let err = client
        .post_message("C1", "hello", None)
        .await
        .expect_err("500 must not be resent");
    assert!(matches!(err, Error::Http { status: 500, .. }));
    assert_eq!(mock.seen_for("chat.postMessage").len(), 1);

    let mock = Mock::start().await;
    mock.seq(
        "chat.postMessage",
        vec![
            Reply::RateLimited("0.1"),
            Reply::Json(json!({"ok": true, "channel": "C1", "ts": "1.2"})),
        ],
    );
    let client = mock.client();
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]);
    let posted = client
        .post_message("C1", "hi", Some(blocks.clone()))
        .await
        .expect("posted after 429");
    assert_eq!(
        posted,
        slack_client::PostedMessage {
            channel: "C1".into(),
            ts: "1.2".into()
        }
    );
    let seen = mock.seen_for("chat.postMessage");
    assert_eq!(seen.len(), 2, "a 429 was refused, so resending is safe");
    let sent: serde_json::Value =
        serde_json::from_str(&seen[1].params["blocks"]).expect("blocks json");
    assert_eq!(sent, blocks);
}

#[tokio::test]
async fn post_message_is_resent_after_a_refused_connection() {
    // Bind and drop a listener to get a port nobody listens on: the request never went out.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cfg = slack_client::ClientConfig::new(TOKEN, format!("http://127.0.0.1:{port}/api"));
    cfg.max_retries = 2;
    let client = SlackClient::new(cfg).expect("client");
    let err = client
        .post_message("C1", "x", None)
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(
        client.stats().per_method["chat.postMessage"].requests,
        3,
        "connect errors are safe to resend"
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn in_flight_requests_stay_within_concurrency() {
    let mock = Mock::start().await;
    mock.seq(
        "users.info",
        vec![Reply::Delayed(
            Duration::from_millis(50),
            Box::new(Reply::Json(json!({"ok": true, "user": {"id": "U1"}}))),
        )],
    );
    let mut cfg = mock.config();
    cfg.concurrency = 3;
    let client = SlackClient::new(cfg).expect("client");
    let calls = (0..12).map(|_| client.users_info("U1"));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(mock.max_in_flight(), 3);
}

#[tokio::test]
async fn proactive_budget_paces_concurrent_callers_without_429s() {
    let mock = Mock::start().await;
    mock.seq(
        "conversations.members",
        vec![Reply::Json(json!({"ok": true, "members": ["U1"]}))],
    );
    let mut cfg = mock.config();
    // conversations.members: 100/min * 60 = 100/s.
    cfg.rate_scale = 60.0;
    cfg.concurrency = 16;
    let client = SlackClient::new(cfg).expect("client");
    let calls = 100u64;
    let started = Instant::now();
    let tasks = (0..calls).map(|i| {
        let c = client.clone();
        async move { c.all_members(&format!("C{i}")).await }
    });
    let results = futures::future::join_all(tasks).await;
    let took = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    let floor = slack_client::rate_floor("conversations.members", calls, 60.0);
    let ratio = took.as_secs_f64() / floor.as_secs_f64();
    eprintln!("100 members calls at scale 60: {took:?}, floor {floor:?}, ratio {ratio:.3}");
    // Shared budget: never faster than the floor (minus the first free cell), and not far above it.
    assert!(took >= floor.mul_f64(0.95), "budget not shared: {took:?}");
    // Beyond the small initial burst (5 = the 5% headroom), requests come no faster than ~95/s:
    // any 21 consecutive ones span at least (20 - 5) / 95 s.
    let seen = mock.seen_for("conversations.members");
    for w in seen.windows(21) {
        assert!(
            w[20].at - w[0].at >= Duration::from_millis(140),
            "burst above the budget"
        );
    }
    assert_eq!(client.stats().http_429, 0);
}

#[tokio::test]
async fn timeouts_are_retried_for_reads_but_not_for_posts() {
    let mock = Mock::start().await;
    let slow = |body: serde_json::Value| {
        Reply::Delayed(Duration::from_millis(800), Box::new(Reply::Json(body)))
    };
    let user = json!({"ok": true, "user": {"id": "U1", "name": "a"}});
    mock.seq("users.info", vec![slow(user.clone()), Reply::Json(user)]);
    mock.seq(
        "chat.postMessage",
        vec![slow(json!({"ok": true, "channel": "C1", "ts": "1.0"}))],
    );
    let mut cfg = mock.config();
    cfg.request_timeout = Duration::from_millis(300);
    let client = SlackClient::new(cfg).expect("client");
    assert_eq!(
        client
            .users_info("U1")
            .await
            .expect("second try is quick")
            .id,
        "U1"
    );
    assert_eq!(mock.seen_for("users.info").len(), 2);
    let err = client
        .post_message("C1", "once", None)
        .await
        .expect_err("timed out");
    assert!(
        matches!(&err, Error::Transport { detail, .. } if detail.contains("timed out")),
        "{err:?}"
    );
    assert_eq!(
        mock.seen_for("chat.postMessage").len(),
        1,
        "a timed-out post may have gone through: never resent"
    );
}
