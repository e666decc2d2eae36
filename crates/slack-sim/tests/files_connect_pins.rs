//! Files served at `url_private`, Slack Connect people only users.info knows, pins.list, and
//! DMs in conversations.list, over real HTTP.

mod common;

use common::{TOKEN, call, raw, sim, sim_with, spec};
use serde_json::Value;
use slack_sim::{SimOptions, add_external_users, file_content, generate};

/// The first downloadable file object of the generated workspace, with its channel.
fn hosted_files(ws: &slack_sim::Workspace) -> Vec<Value> {
    ws.channels
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter_map(|m| m.get("files").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect()
}

#[tokio::test]
async fn files_are_served_with_the_token_only_and_gone_ones_answer_404() {
    let ws = generate(&spec(30, 12, 7));
    let files = hosted_files(&ws);
    assert!(
        files.iter().any(|f| f["mode"] == "tombstone"),
        "the generator makes tombstones"
    );
    let s = sim(ws).await;
    // The URLs in history point at the sim's own address.
    let served = s.with_workspace(|ws| hosted_files(ws));
    let hosted: Vec<&Value> = served.iter().filter(|f| f["mode"] == "hosted").collect();
    assert!(hosted.len() >= 2, "need files, got {}", hosted.len());
    let f = hosted[0];
    let url = f["url_private_download"].as_str().expect("download url");
    let origin = format!("http://{}", s.addr());
    assert!(url.starts_with(&origin), "{url} not on {origin}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Without the token: a redirect to the sign-in page, never the content.
    let resp = client.get(url).send().await.expect("sent");
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(location.contains("redir="), "{location}");
    let body = resp.bytes().await.expect("body");
    assert!(!body.starts_with(b"slack-sim file"));
    // A wrong token is refused the same way.
    let resp = client
        .get(url)
        .bearer_auth("xoxp-wrong")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 302);

    // With it: exactly the deterministic content of the advertised size.
    let id = f["id"].as_str().expect("id");
    let size = f["size"].as_u64().expect("size");
    for key in ["url_private", "url_private_download"] {
        let resp = client
            .get(f[key].as_str().expect("url"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp.bytes().await.expect("body");
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(&bytes[..], &file_content(id, size)[..]);
    }

    // A file deleted after its message was read: 404.
    let other = hosted[1];
    s.delete_file(other["id"].as_str().expect("id"));
    let resp = client
        .get(other["url_private"].as_str().expect("url"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 404);

    let log: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.method == "files-pri")
        .collect();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].status, 302);
    assert_eq!(log[2].params["file"], id);
    s.shutdown().await;
}

#[tokio::test]
async fn connect_people_are_known_to_users_info_only() {
    let mut ws = generate(&spec(30, 12, 7));
    assert!(ws.channels.iter().any(|c| c.is_ext_shared));
    add_external_users(&mut ws, 3, 7);
    let s = sim(ws).await;
    let base = s.base_url();
    let list = call(&base, "users.list", &[("limit", "1000")]).await;
    let ids: Vec<&str> = list["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 30);
    assert!(!ids.iter().any(|id| id.starts_with("U0EXT")));
    let info = call(&base, "users.info", &[("user", "U0EXT00001")]).await;
    assert_eq!(info["user"]["team_id"], "T0EXTERN01");
    assert_eq!(info["user"]["is_stranger"], false);
    let missing = call(&base, "users.info", &[("user", "U0NOBODY1")]).await;
    assert_eq!(missing["error"], "user_not_found");
    // They are members of the shared channels and wrote some of their messages.
    let shared = s.with_workspace(|ws| {
        ws.channels
            .iter()
            .filter(|c| c.is_ext_shared)
            .map(|c| c.id.clone())
            .collect::<Vec<_>>()
    });
    let members = call(&base, "conversations.members", &[("channel", &shared[0])]).await;
    assert!(
        members["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.starts_with("U0EXT")))
    );
    s.shutdown().await;
}

#[tokio::test]
async fn pins_list_and_dms_with_their_scopes() {
    let ws = generate(&spec(30, 12, 7));
    let pinned = ws
        .channels
        .iter()
        .find(|c| c.messages.iter().any(|m| m.get("pinned_to").is_some()))
        .map(|c| c.id.clone())
        .expect("the generator pins some messages");
    let s = sim_with(
        ws,
        SimOptions {
            token: TOKEN.into(),
            scopes: Some(
                [
                    "channels:read",
                    "groups:read",
                    "channels:history",
                    "im:read",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ..SimOptions::default()
        },
    )
    .await;
    let base = s.base_url();
    let refused = call(&base, "pins.list", &[("channel", &pinned)]).await;
    assert_eq!(refused["error"], "missing_scope");
    assert_eq!(refused["needed"], "pins:read");
    let refused = call(&base, "conversations.list", &[("types", "im,mpim")]).await;
    assert_eq!(refused["needed"], "mpim:read");
    let ims = call(&base, "conversations.list", &[("types", "im")]).await;
    let im = &ims["channels"][0];
    assert_eq!(im["is_im"], true);
    assert!(im["user"].as_str().is_some());
    let history = call(
        &base,
        "conversations.history",
        &[("channel", im["id"].as_str().expect("id"))],
    )
    .await;
    assert_eq!(history["needed"], "im:history");
    s.shutdown().await;

    let s = sim(generate(&spec(30, 12, 7))).await;
    let base = s.base_url();
    let pins = call(&base, "pins.list", &[("channel", &pinned)]).await;
    let items = pins["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[0]["channel"], pinned.as_str());
    assert!(items[0]["created"].as_i64().is_some());
    assert!(items[0]["message"]["ts"].as_str().is_some());
    let mpims = call(&base, "conversations.list", &[("types", "mpim")]).await;
    let mpim = &mpims["channels"][0];
    assert_eq!(mpim["is_mpim"], true);
    assert!(mpim["name"].as_str().expect("name").starts_with("mpdm-"));
    let r = raw(&base, "pins.list", None, &[("channel", &pinned)]).await;
    assert_eq!(r.json()["error"], "not_authed");
    s.shutdown().await;
}
