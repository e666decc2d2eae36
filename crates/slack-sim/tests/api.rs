//! Web API behaviour over real HTTP: auth, scopes, pagination of every paged method, history and
//! replies semantics, invites, posting, the request log.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use slack_sim::{SimOptions, generate};

#[tokio::test]
async fn missing_token_is_not_authed_and_wrong_token_invalid_auth() {
    let sim = generated(10, 4, 1).await;
    let base = sim.base_url();
    let r = raw(&base, "auth.test", None, &[]).await;
    assert_eq!(r.json()["error"], "not_authed");
    let r = raw(&base, "auth.test", Some("xoxp-wrong"), &[]).await;
    assert_eq!(r.json()["error"], "invalid_auth");
    // A token param works as well as the header, and is never recorded.
    let r = raw(&base, "auth.test", None, &[("token", TOKEN)]).await;
    let body = r.json();
    assert_eq!(body["ok"], true);
    assert_eq!(
        body["user_id"],
        sim.with_workspace(|ws| ws.token_user.clone())
    );
    let log = sim.requests();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| !r.params.contains_key("token")));
    assert_eq!(log[0].error.as_deref(), Some("not_authed"));
    assert!(!format!("{log:?}").contains(TOKEN));
    sim.shutdown().await;
}

#[tokio::test]
async fn users_list_pages_through_exactly_all_users() {
    let sim = generated(57, 5, 2).await;
    let base = sim.base_url();
    let ps = pages(&base, "users.list", &[("limit", "10")]).await;
    assert_eq!(ps.len(), 6);
    let ids: Vec<&str> = items(&ps, "members")
        .iter()
        .map(|u| u["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 57);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 57);
    assert_eq!(
        ps[0]["response_metadata"]["next_cursor"]
            .as_str()
            .map(|c| c.is_empty()),
        Some(false)
    );
    let r = call(
        &base,
        "users.list",
        &[("limit", "10"), ("cursor", "bm9wZTpub3Bl")],
    )
    .await;
    assert_eq!(r["error"], "invalid_cursor");
    let r = call(&base, "users.info", &[("user", ids[3])]).await;
    assert_eq!(r["user"]["id"], ids[3]);
    assert_eq!(
        call(&base, "users.info", &[("user", "U_NOPE")]).await["error"],
        "user_not_found"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn conversations_list_counts_types_and_filters_archived_after_the_cut() {
    let sim = generated(30, 17, 3).await;
    let base = sim.base_url();
    let all = pages(
        &base,
        "conversations.list",
        &[("types", "public_channel,private_channel"), ("limit", "4")],
    )
    .await;
    let chans = items(&all, "channels");
    assert_eq!(chans.len(), 17);
    assert_eq!(
        chans.iter().map(|c| &c["id"]).collect::<HashSet<_>>().len(),
        17
    );
    let archived = chans.iter().filter(|c| c["is_archived"] == true).count();
    // Default type is public_channel only.
    let public = items(
        &pages(&base, "conversations.list", &[("limit", "100")]).await,
        "channels",
    )
    .len();
    assert_eq!(
        public,
        chans.iter().filter(|c| c["is_private"] == false).count()
    );
    // ims exist only for types=im.
    let ims = pages(&base, "conversations.list", &[("types", "im")]).await;
    assert!(!items(&ims, "channels").is_empty());
    assert!(
        items(&ims, "channels")
            .iter()
            .all(|c| c["is_im"] == true && c["user"].is_string())
    );

    // exclude_archived: same number of pages (cut first), archived ones filtered out of them.
    sim.with_workspace(|ws| {
        // Make sure there is an archived channel to filter.
        let c = ws
            .channels
            .iter_mut()
            .find(|c| c.name == "random")
            .expect("random");
        c.is_archived = true;
    });
    let archived = archived
        + usize::from(
            !chans
                .iter()
                .any(|c| c["name"] == "random" && c["is_archived"] == true),
        );
    let ex = pages(
        &base,
        "conversations.list",
        &[
            ("types", "public_channel,private_channel"),
            ("limit", "4"),
            ("exclude_archived", "true"),
        ],
    )
    .await;
    assert_eq!(ex.len(), all.len(), "filter applies after the page is cut");
    assert_eq!(items(&ex, "channels").len(), 17 - archived);
    assert!(
        ex.iter()
            .any(|p| p["channels"].as_array().expect("arr").len() < 4
                && !p["response_metadata"]["next_cursor"]
                    .as_str()
                    .expect("s")
                    .is_empty()),
        "some page is short while more remain"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn private_channels_of_others_are_invisible() {
    let sim = generated(30, 6, 4).await;
    let base = sim.base_url();
    let hidden = sim.with_workspace(|ws| {
        let me = ws.token_user.clone();
        ws.channels
            .iter()
            .find(|c| c.is_private && !c.is_im && !c.is_member(&me))
            .map(|c| c.id.clone())
    });
    let hidden = hidden.expect("generator makes private channels the token user is not in");
    let listed = pages(&base, "conversations.list", &[("types", "private_channel")]).await;
    assert!(
        items(&listed, "channels")
            .iter()
            .all(|c| c["id"] != hidden.as_str())
    );
    for m in [
        "conversations.history",
        "conversations.info",
        "conversations.members",
    ] {
        assert_eq!(
            call(&base, m, &[("channel", &hidden)]).await["error"],
            "channel_not_found",
            "{m}"
        );
    }
    // A public channel the token user is not in is readable with a user token.
    let outside = sim.with_workspace(|ws| {
        let me = ws.token_user.clone();
        ws.channels
            .iter_mut()
            .find(|c| !c.is_private && !c.is_im && !c.is_mpim && !c.is_general)
            .map(|c| {
                c.members.retain(|m| *m != me);
                c.id.clone()
            })
    });
    let outside = outside.expect("a public channel");
    assert_eq!(
        call(&base, "conversations.history", &[("channel", &outside)]).await["ok"],
        true
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn members_paginate_and_match_num_members() {
    let sim = generated(80, 5, 5).await;
    let base = sim.base_url();
    let general = sim.with_workspace(|ws| ws.channels[0].id.clone());
    let info = call(
        &base,
        "conversations.info",
        &[("channel", &general), ("include_num_members", "true")],
    )
    .await;
    let n = info["channel"]["num_members"]
        .as_u64()
        .expect("num_members") as usize;
    let ps = pages(
        &base,
        "conversations.members",
        &[("channel", &general), ("limit", "7")],
    )
    .await;
    assert_eq!(ps.len(), n.div_ceil(7));
    let ms = items(&ps, "members");
    assert_eq!(ms.len(), n);
    assert_eq!(ms.iter().collect::<HashSet<_>>().len(), n);
    sim.shutdown().await;
}

/// The busiest channel's id.
fn busiest(sim: &slack_sim::SimHandle) -> String {
    sim.with_workspace(|ws| {
        ws.channels
            .iter()
            .max_by_key(|c| c.messages.len())
            .map(|c| c.id.clone())
            .expect("channels")
    })
}

#[tokio::test]
async fn history_is_newest_first_paged_and_excludes_plain_replies() {
    let sim = generated(30, 6, 6).await;
    let base = sim.base_url();
    let ch = busiest(&sim);
    let expected: Vec<String> = sim.with_workspace(|ws| {
        let c = ws.channel(&ch).expect("channel");
        let mut v: Vec<String> = c
            .messages
            .iter()
            .filter(|m| m.get("thread_ts").is_none() || m["subtype"] == "thread_broadcast")
            .map(|m| m["ts"].as_str().expect("ts").to_string())
            .collect();
        v.reverse();
        v
    });
    let ps = pages(
        &base,
        "conversations.history",
        &[("channel", &ch), ("limit", "9")],
    )
    .await;
    let got: Vec<String> = items(&ps, "messages")
        .iter()
        .map(|m| m["ts"].as_str().expect("ts").to_string())
        .collect();
    assert_eq!(got, expected);
    assert!(ps.len() > 2);
    assert!(ps[..ps.len() - 1].iter().all(|p| p["has_more"] == true));
    assert_eq!(ps.last().expect("page")["has_more"], false);
    let parents = items(&ps, "messages")
        .into_iter()
        .filter(|m| m["reply_count"].as_u64().unwrap_or(0) > 0)
        .count();
    assert!(parents > 0, "busiest channel has threads");

    // oldest/latest exclusive unless inclusive.
    let (a, b) = (&expected[10], &expected[3]);
    let win = call(
        &base,
        "conversations.history",
        &[("channel", &ch), ("oldest", a), ("latest", b)],
    )
    .await;
    let ts: Vec<&str> = win["messages"]
        .as_array()
        .expect("msgs")
        .iter()
        .map(|m| m["ts"].as_str().expect("ts"))
        .collect();
    assert_eq!(
        ts,
        expected[4..10]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let win = call(
        &base,
        "conversations.history",
        &[
            ("channel", &ch),
            ("oldest", a),
            ("latest", b),
            ("inclusive", "true"),
        ],
    )
    .await;
    assert_eq!(win["messages"].as_array().expect("msgs").len(), 8);
    assert_eq!(
        call(
            &base,
            "conversations.history",
            &[("channel", &ch), ("latest", "soon")]
        )
        .await["error"],
        "invalid_ts_latest"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn replies_start_with_parent_page_and_match_reply_count() {
    let sim = generated(30, 6, 7).await;
    let base = sim.base_url();
    let ch = busiest(&sim);
    let hist = pages(
        &base,
        "conversations.history",
        &[("channel", &ch), ("limit", "200")],
    )
    .await;
    let parent = items(&hist, "messages")
        .into_iter()
        .filter(|m| m["reply_count"].as_u64().unwrap_or(0) > 3)
        .max_by_key(|m| m["reply_count"].as_u64())
        .cloned()
        .expect("a thread with several replies");
    let pts = parent["ts"].as_str().expect("ts");
    let ps = pages(
        &base,
        "conversations.replies",
        &[("channel", &ch), ("ts", pts), ("limit", "3")],
    )
    .await;
    assert!(ps.len() > 1);
    let mut seen = HashSet::new();
    let mut replies = Vec::new();
    for p in &ps {
        let msgs = p["messages"].as_array().expect("msgs");
        assert_eq!(msgs[0]["ts"], pts, "every page starts with the parent");
        for m in msgs {
            if seen.insert(m["ts"].as_str().expect("ts").to_string()) && m["ts"] != pts {
                replies.push(m.clone());
            }
        }
    }
    assert_eq!(
        replies.len() as u64,
        parent["reply_count"].as_u64().expect("count")
    );
    let tss: Vec<&str> = replies
        .iter()
        .map(|m| m["ts"].as_str().expect("ts"))
        .collect();
    let mut sorted = tss.clone();
    sorted.sort_by_key(|t| slack_sim::ts_key(t));
    assert_eq!(tss, sorted, "replies oldest first");
    assert!(
        replies
            .iter()
            .all(|r| r["thread_ts"] == pts && r["parent_user_id"] == parent["user"])
    );
    assert_eq!(parent["latest_reply"].as_str(), tss.last().copied());

    // A reply added to the old thread moves latest_reply and reply_count.
    let new_ts = sim.with_workspace(|ws| {
        let c = ws.channel_mut(&ch).expect("ch");
        let ts = slack_sim::format_ts(
            c.messages
                .iter()
                .filter_map(|m| slack_sim::ts_key(m["ts"].as_str()?))
                .max()
                .expect("max")
                + 1,
        );
        c.messages
            .push(json!({"type":"message","user":"U_LATE","text":"late","ts":ts,"thread_ts":pts}));
        ts
    });
    let again = call(
        &base,
        "conversations.replies",
        &[("channel", &ch), ("ts", pts)],
    )
    .await;
    let msgs = again["messages"].as_array().expect("msgs");
    assert_eq!(
        msgs[0]["reply_count"].as_u64(),
        Some(replies.len() as u64 + 1)
    );
    assert_eq!(msgs[0]["latest_reply"], new_ts.as_str());
    assert_eq!(msgs.last().expect("last")["ts"], new_ts.as_str());
    assert_eq!(
        call(
            &base,
            "conversations.replies",
            &[("channel", &ch), ("ts", "1.000001")]
        )
        .await["error"],
        "thread_not_found"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_scope_names_needed_and_provided() {
    let ws = generate(&spec(10, 4, 8));
    let opts = SimOptions {
        token: TOKEN.into(),
        scopes: Some(vec!["channels:read".into(), "channels:history".into()]),
        ..SimOptions::default()
    };
    let sim = sim_with(ws, opts).await;
    let base = sim.base_url();
    let r = call(&base, "users.list", &[("limit", "5")]).await;
    assert_eq!(r["error"], "missing_scope");
    assert_eq!(r["needed"], "users:read");
    assert_eq!(r["provided"], "channels:read,channels:history");
    let r = call(
        &base,
        "conversations.list",
        &[("types", "public_channel,private_channel")],
    )
    .await;
    assert_eq!(r["needed"], "groups:read");
    assert_eq!(call(&base, "conversations.list", &[]).await["ok"], true);
    sim.shutdown().await;
}

/// A channel the token user is in, and active users not in it.
fn invite_target(sim: &slack_sim::SimHandle, private: bool) -> (String, Vec<String>, Vec<String>) {
    sim.with_workspace(|ws| {
        let me = ws.token_user.clone();
        let c = ws
            .channels
            .iter()
            .filter(|c| {
                c.is_private == private
                    && !c.is_im
                    && !c.is_mpim
                    && !c.is_archived
                    && c.is_member(&me)
            })
            .min_by_key(|c| c.members.len())
            .expect("invite target");
        let outside: Vec<String> = ws
            .users
            .iter()
            .filter(|u| u["deleted"] == false && u["is_bot"] == false)
            .filter_map(|u| u["id"].as_str().map(str::to_string))
            .filter(|id| !c.is_member(id))
            .collect();
        assert!(outside.len() >= 3, "room to invite");
        (c.id.clone(), c.members.clone(), outside)
    })
}

#[tokio::test]
async fn invite_all_or_nothing_without_force_partial_with_force() {
    let sim = generated(60, 10, 9).await;
    let base = sim.base_url();
    let (ch, members, outside) = invite_target(&sim, false);
    let me = sim.with_workspace(|ws| ws.token_user.clone());
    let bad = format!(
        "{},{},U_NOBODY,{}",
        outside[0],
        members.iter().find(|m| **m != me).expect("other member"),
        me
    );
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &ch), ("users", &bad)],
    )
    .await;
    assert_eq!(r["ok"], false);
    let errs: Vec<(&str, &str)> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["user"].as_str().expect("u"),
                e["error"].as_str().expect("e"),
            )
        })
        .collect();
    assert_eq!(
        errs.iter().map(|e| e.1).collect::<Vec<_>>(),
        ["already_in_channel", "user_not_found", "cant_invite_self"]
    );
    assert_eq!(r["error"], "already_in_channel");
    assert!(
        sim.with_workspace(|ws| !ws.channel(&ch).expect("ch").is_member(&outside[0])),
        "nothing added without force"
    );

    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &ch), ("users", &bad), ("force", "true")],
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["channel"]["id"], ch.as_str());
    assert_eq!(r["errors"].as_array().expect("errors").len(), 3);
    let joined = sim.with_workspace(|ws| {
        let c = ws.channel(&ch).expect("ch");
        (
            c.is_member(&outside[0]),
            c.messages.iter().any(|m| {
                m["subtype"] == "channel_join"
                    && m["user"] == outside[0].as_str()
                    && m["inviter"] == me.as_str()
            }),
        )
    });
    assert_eq!(joined, (true, true));
    // The join shows up as the newest history message.
    let h = call(
        &base,
        "conversations.history",
        &[("channel", &ch), ("limit", "1")],
    )
    .await;
    assert_eq!(h["messages"][0]["subtype"], "channel_join");

    let two = format!("{},{}", outside[1], outside[2]);
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &ch), ("users", &two)],
    )
    .await;
    assert_eq!(r["ok"], true);
    assert!(r.get("errors").is_none());
    let many: Vec<String> = (0..101).map(|i| format!("U{i}")).collect();
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &ch), ("users", &many.join(","))],
    )
    .await;
    assert_eq!(r["error"], "too_many_users");
    sim.shutdown().await;
}

#[tokio::test]
async fn invite_channel_errors_and_scopes() {
    let ws = generate(&spec(60, 12, 10));
    let me = ws.token_user.clone();
    let opts = SimOptions {
        token: TOKEN.into(),
        scopes: Some(vec!["channels:write".into(), "groups:read".into()]),
        ..SimOptions::default()
    };
    let sim = sim_with(ws, opts).await;
    let base = sim.base_url();
    let (private, _, outside) = invite_target(&sim, true);
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &private), ("users", &outside[0])],
    )
    .await;
    assert_eq!(
        (r["error"].as_str(), r["needed"].as_str()),
        (Some("missing_scope"), Some("groups:write"))
    );
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", "C_NOPE"), ("users", &outside[0])],
    )
    .await;
    assert_eq!(r["error"], "channel_not_found");
    let (public, _, outside) = invite_target(&sim, false);
    sim.with_workspace(|ws| {
        ws.channel_mut(&public)
            .expect("ch")
            .members
            .retain(|m| *m != me)
    });
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &public), ("users", &outside[0])],
    )
    .await;
    assert_eq!(r["error"], "not_in_channel");
    sim.with_workspace(|ws| ws.channel_mut(&public).expect("ch").is_archived = true);
    let r = call(
        &base,
        "conversations.invite",
        &[("channel", &public), ("users", &outside[0])],
    )
    .await;
    assert_eq!(r["error"], "is_archived");
    sim.shutdown().await;
}

#[tokio::test]
async fn post_message_accepts_json_body_and_stamps_increasing_ts() {
    let sim = generated(10, 4, 11).await;
    let base = sim.base_url();
    let general = sim.with_workspace(|ws| ws.channels[0].id.clone());
    let client = reqwest::Client::new();
    let mut last = 0u128;
    for i in 0..3 {
        let r: Value = client
            .post(format!("{base}/chat.postMessage"))
            .bearer_auth(TOKEN)
            .json(&json!({"channel": general, "text": format!("hello {i}")}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["channel"], general.as_str());
        let ts = r["ts"].as_str().expect("ts");
        assert_eq!(r["message"]["ts"], ts);
        assert_eq!(ts.split_once('.').map(|(_, f)| f.len()), Some(6));
        let k = slack_sim::ts_key(ts).expect("ts");
        assert!(k > last);
        last = k;
    }
    let h = call(
        &base,
        "conversations.history",
        &[("channel", &general), ("limit", "1")],
    )
    .await;
    assert_eq!(h["messages"][0]["text"], "hello 2");
    assert_eq!(
        call(&base, "chat.postMessage", &[("channel", &general)]).await["error"],
        "no_text"
    );
    // A threaded reply makes its parent a thread.
    let parent = h["messages"][0]["ts"].as_str().expect("ts").to_string();
    let r = call(
        &base,
        "chat.postMessage",
        &[
            ("channel", &general),
            ("text", "re"),
            ("thread_ts", &parent),
        ],
    )
    .await;
    assert_eq!(r["message"]["thread_ts"], parent.as_str());
    let rep = call(
        &base,
        "conversations.replies",
        &[("channel", &general), ("ts", &parent)],
    )
    .await;
    assert_eq!(rep["messages"][0]["reply_count"], 1);
    sim.shutdown().await;
}
