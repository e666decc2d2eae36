//! Connecting Slack over HTTP against a real slack-sim: the whole install (connect -> sim approval
//! -> callback), the state refused when missing, forged, replayed or from another session, the
//! stored token sealed (no plaintext in the database files) and used by a real `slack-audit` with
//! SLACK_TOKEN unset, the default channel, disconnect (auth.revoke), and viewers refused.

mod common;

use common::slack::*;
use common::*;
use store::Store;

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .expect("location")
        .to_string()
}

/// Posts `/slack/connect` and approves (or cancels) on the sim's page: the callback URL.
async fn approve_on_sim(c: &reqwest::Client, base: &str, decision: &str) -> String {
    let page = c.get(format!("{base}/slack")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.expect("body"));
    let r = c
        .post(format!("{base}/slack/connect"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("connect");
    assert_eq!(r.status(), 303);
    let authorize = url::Url::parse(&location(&r)).expect("authorize url");
    assert_eq!(authorize.path(), "/oauth/v2/authorize");
    let q: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert!(q["user_scope"].contains("users:read") && q["user_scope"].contains("channels:read"));
    assert!(q["redirect_uri"].ends_with("/slack/oauth/callback"));
    assert!(q["state"].len() >= 32, "a random state");
    assert!(!authorize.as_str().contains(CLIENT_SECRET));
    let sim_page = c.get(authorize.clone()).send().await.expect("sim page");
    assert!(sim_page.text().await.expect("body").contains("Allow"));
    let origin = authorize.origin().ascii_serialization();
    let mut form: Vec<(String, String)> = q.into_iter().collect();
    form.push(("decision".into(), decision.into()));
    let r = c
        .post(format!("{origin}/oauth/v2/authorize"))
        .form(&form)
        .send()
        .await
        .expect("decision");
    assert_eq!(r.status(), 302);
    location(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_use_and_disconnect_through_the_oauth_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = demo_with_app().await;
    let (panel, db) = panel(dir.path(), &env);
    let base = panel.base.clone();
    let c = client();
    assert_eq!(login(&c, &base, "ann", "s3cret pass").await.status(), 303);
    let before = get_json(&c, &format!("{base}/api/v1/slack")).await;
    assert_eq!(before["connected"], false);
    assert_eq!(before["configured"], true);

    // Cancelled on Slack's page: nothing connected, said so.
    let cancelled = approve_on_sim(&c, &base, "cancel").await;
    let r = c.get(&cancelled).send().await.expect("callback");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("cancelled"));

    let callback = approve_on_sim(&c, &base, "allow").await;
    assert!(callback.starts_with(&base), "{callback}");
    // Coming from Slack's site the browser leaves the SameSite=Strict session cookie off: the
    // callback answers a page that reloads itself (same-site, so with the cookie) once.
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = cookieless.get(&callback).send().await.expect("callback");
    assert_eq!(r.status(), 200);
    let refresh = r.headers()["refresh"]
        .to_str()
        .expect("refresh")
        .to_string();
    let again = refresh.strip_prefix("0; url=").expect("a reload target");
    assert!(
        again.starts_with("/slack/oauth/callback?") && again.contains("hop=1"),
        "{again}"
    );
    let r = cookieless
        .get(format!("{base}{again}"))
        .send()
        .await
        .expect("hop");
    assert_eq!(
        r.status(),
        303,
        "no session on the reload either: to the login"
    );
    assert_eq!(location(&r), "/login");
    let r = c
        .get(format!("{base}{again}"))
        .send()
        .await
        .expect("callback");
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(location(&r), "/slack");

    let status = get_json(&c, &format!("{base}/api/v1/slack")).await;
    assert_eq!(status["connected"], true, "{status}");
    assert_eq!(
        status["team_id"],
        env.sim.with_workspace(|w| w.team.id.clone())
    );
    assert_eq!(status["connected_by"], "ann");
    assert_eq!(status["missing"], serde_json::json!([]));
    assert!(status["scopes"].as_array().is_some_and(|s| s.len() > 5));
    let text = status.to_string();
    assert!(!text.contains("xoxp-"), "no token in the status: {text}");
    let page = c.get(format!("{base}/slack")).send().await.expect("page");
    // The Connect form's redirect to the authorize page is allowed by the page's CSP.
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    let sim_origin = format!("http://{}", env.sim.addr());
    assert!(
        csp.contains(&format!("form-action 'self' {sim_origin}")),
        "{csp}"
    );
    let html = page.text().await.expect("body");
    assert!(html.contains("Connected workspace") && !html.contains("xoxp-"));

    // Replayed: the same callback again is refused, and so are forged and missing states.
    let r = c.get(&callback).send().await.expect("replay");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("already used"));
    let r = c
        .get(format!("{base}/slack/oauth/callback?code=x&state=forged"))
        .send()
        .await
        .expect("forged");
    assert_eq!(r.status(), 400);
    let r = c
        .get(format!("{base}/slack/oauth/callback?code=x"))
        .send()
        .await
        .expect("missing");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("no state"));

    // A state handed to one login session does not complete another's.
    let other_callback = approve_on_sim(&c, &base, "allow").await;
    let other = client();
    assert_eq!(
        login(&other, &base, "ann", "s3cret pass").await.status(),
        303
    );
    let r = other.get(&other_callback).send().await.expect("foreign");
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("another login session")
    );

    // The token is in the store sealed: no plaintext token in the files.
    assert!(
        !store_bytes_contain(&db, b"xoxp-"),
        "plaintext token in the store"
    );
    let key_file = dir.path().join("slack-tools.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Default channel: a bad one is refused, a good one shown.
    let csrf = csrf_in(
        &c.get(format!("{base}/slack"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body"),
    );
    let r = c
        .post(format!("{base}/slack/channel"))
        .form(&[("csrf", csrf.as_str()), ("channel", "Not A Channel!")])
        .send()
        .await
        .expect("channel");
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{base}/slack/channel"))
        .form(&[("csrf", csrf.as_str()), ("channel", "#alerts")])
        .send()
        .await
        .expect("channel");
    assert_eq!(r.status(), 303);
    let status = get_json(&c, &format!("{base}/api/v1/slack")).await;
    assert_eq!(status["default_channel"], "#alerts");

    // The stored token runs a real audit with SLACK_TOKEN unset.
    if let Some(exe) = slack_audit() {
        let out = run_audit(&exe, dir.path(), &db, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("from the store"), "{stderr}");
        assert!(!stderr.contains("xoxp-"), "{stderr}");
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
        assert!(summary.is_object(), "{summary}");
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("slack-audit is not built next to the tests: run cargo build --workspace first");
    } else {
        eprintln!(
            "!!!!! SKIPPED: slack-audit not built (cargo build --workspace); the audit part was not run !!!!!"
        );
    }

    // Disconnect: revoked at Slack, deleted here.
    let r = c
        .post(format!("{base}/slack/disconnect"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("disconnect");
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let revokes: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "auth.revoke")
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0].error, None);
    let status = get_json(&c, &format!("{base}/api/v1/slack")).await;
    assert_eq!(status["connected"], false);
    if let Some(exe) = slack_audit() {
        let out = run_audit(&exe, dir.path(), &db, &env);
        assert_eq!(out.status.code(), Some(2), "no token any more");
    }

    // Every step is in the activity trail.
    let store = Store::open(&db).expect("store");
    let details: Vec<String> = store
        .conn()
        .prepare("SELECT detail FROM panel_events WHERE detail LIKE 'slack:%' ORDER BY id")
        .expect("query")
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("details");
    let all = details.join("\n");
    for expected in [
        "connect started",
        "not approved",
        "connected workspace",
        "callback refused",
        "default notification channel",
        "disconnected (revoked at Slack",
    ] {
        assert!(all.contains(expected), "{expected} missing from:\n{all}");
    }
    assert!(!all.contains("xoxp-"));
    drop(panel);
    env.shutdown().await;
}

#[tokio::test]
async fn viewers_are_refused_the_slack_page_and_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = demo_with_app().await;
    let (panel, _db) = panel(dir.path(), &env);
    let base = panel.base.clone();
    let c = client();
    assert_eq!(login(&c, &base, "vic", "viewer pass").await.status(), 303);
    for path in ["/slack", "/api/v1/slack"] {
        let r = c.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(r.status(), 403, "{path}");
    }
    let dash = c.get(format!("{base}/")).send().await.expect("dashboard");
    let csrf = csrf_in(&dash.text().await.expect("body"));
    for path in ["/slack/connect", "/slack/disconnect", "/slack/channel"] {
        let r = c
            .post(format!("{base}{path}"))
            .form(&[("csrf", csrf.as_str()), ("channel", "#x")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403, "{path}");
    }
    // Without the CSRF token even an admin's POST is refused.
    let admin = client();
    assert_eq!(
        login(&admin, &base, "ann", "s3cret pass").await.status(),
        303
    );
    let r = admin
        .post(format!("{base}/slack/connect"))
        .form(&[("x", "y")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    drop(panel);
    env.shutdown().await;
}
