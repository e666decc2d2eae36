//! The demo plumbing end to end: the in-process sim answers a real client over loopback HTTP, and
//! the embedded config is written where tools will read it.

use slack_client::{ConversationType, ListConversations};

#[tokio::test]
async fn demo_sim_serves_the_demo_workspace_to_a_real_client() {
    let demo = demo::DemoEnv::start().await.expect("demo starts");
    let client = demo.client().expect("client");

    let auth = client.auth_test().await.expect("auth.test");
    assert_eq!(auth.user_id, "U0DEMOOPS");

    let channels = client
        .all_conversations(ListConversations {
            types: vec![
                ConversationType::PublicChannel,
                ConversationType::PrivateChannel,
            ],
            exclude_archived: false,
        })
        .await
        .expect("conversations.list");
    let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"bitsafe-acme"), "{names:?}");
    assert!(
        names.contains(&"bitsafe-oldco"),
        "archived channels are listed: {names:?}"
    );
    assert_eq!(channels.len(), 12);

    let public_customer = channels
        .iter()
        .find(|c| c.name == "bitsafe-initech")
        .expect("initech");
    assert!(
        !public_customer.is_private,
        "the demo has a public customer channel to flag"
    );

    let users = client.all_users().await.expect("users.list");
    assert!(
        users.iter().any(|u| u.deleted),
        "the demo has a deleted user"
    );
    assert!(users.iter().any(|u| u.is_bot), "the demo has a bot");

    // Threads exist and the sim's parent fields agree with the replies.
    let mut parent = None;
    let mut pages = client.history("C0DEMOACM", Default::default());
    use futures::StreamExt;
    while let Some(page) = pages.next().await {
        for m in page.expect("history page") {
            if m.reply_count > 0 && parent.is_none() {
                parent = Some(m);
            }
        }
    }
    let parent = parent.expect("the demo has threads");
    let mut replies = Vec::new();
    let mut pages = client.replies("C0DEMOACM", &parent.ts, Default::default());
    while let Some(page) = pages.next().await {
        replies.extend(page.expect("replies page"));
    }
    assert_eq!(replies[0].ts, parent.ts, "replies start with the parent");
    assert_eq!(replies.len() as u64, parent.reply_count + 1);

    let team =
        std::fs::read_to_string(demo.config_dir.join("team.json")).expect("team.json written");
    assert_eq!(team, demo::TEAM_JSON);
    demo.shutdown().await;
}

#[test]
fn demo_config_is_valid_roster_config() {
    let dir = tempfile::tempdir().expect("tmp");
    demo::write_config(dir.path()).expect("write");
    let cfg = roster::load(dir.path()).expect("the embedded demo config parses and validates");
    assert!(cfg.team.members.iter().any(|m| m.handle == "aki"));
}
