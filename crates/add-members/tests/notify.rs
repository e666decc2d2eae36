//! Issue 14: members_added is posted once per run that added someone, when notifications.json
//! enables it; a run that adds nobody posts nothing.

mod common;

use common::*;

fn notification_posts(env: &Env) -> Vec<String> {
    env.sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .map(|r| r.params["text"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_fires_once_per_run_that_added_someone() {
    let env = Env::start().await;
    std::fs::write(
        env.dir.path().join("config/notifications.json"),
        r#"{"events": {"members_added": {"channels": ["C0ACME"],
            "template": "Added {count} invite(s) in {channels}: {members}"}}}"#,
    )
    .expect("notifications.json");
    let run = env
        .run(&["frank", "--yes", "--channels", "bitsafe-acme"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let posts = notification_posts(&env);
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0],
        "Members added\nAdded 1 invite(s) in bitsafe-acme: frank"
    );

    // Everyone is in already: nothing added, nothing posted.
    let run = env
        .run(&["frank", "--yes", "--channels", "bitsafe-acme"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(notification_posts(&env).len(), 1);

    let store = store::Store::open(&env.db()).expect("db");
    let rows = store.notification_entries(None, 10).expect("log");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event.as_deref(), Some("members_added"));
    assert_eq!(rows[0].summary_status(), "delivered");
}
