//! The OAuth v2 install flow over real HTTP: approval page, code exchange (single use, bound to
//! the redirect URI and the client secret), the minted token's scopes, and auth.revoke.

mod common;

use common::*;
use slack_sim::OAuthApp;

const REDIRECT: &str = "http://127.0.0.1:9/slack/oauth/callback";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Approves an install on the sim's page and returns the `Location` it redirects to.
async fn approve(origin: &str, decision: &str, user_scope: &str) -> String {
    let c = no_redirects();
    let page = c
        .get(format!("{origin}/oauth/v2/authorize"))
        .query(&[
            ("client_id", "123.456"),
            ("user_scope", user_scope),
            ("redirect_uri", REDIRECT),
            ("state", "st<ate>&1"),
        ])
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("Allow") && page.contains("users:read"),
        "{page}"
    );
    assert!(
        page.contains("st&lt;ate&gt;&amp;1"),
        "state escaped: {page}"
    );
    let resp = c
        .post(format!("{origin}/oauth/v2/authorize"))
        .form(&[
            ("client_id", "123.456"),
            ("user_scope", user_scope),
            ("redirect_uri", REDIRECT),
            ("state", "st<ate>&1"),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("decision");
    assert_eq!(resp.status().as_u16(), 302);
    resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

fn code_of(location: &str) -> String {
    let url = reqwest::Url::parse(location).expect("url");
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .expect("code");
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.to_string());
    assert_eq!(state.as_deref(), Some("st<ate>&1"));
    code
}

async fn exchange(base: &str, code: &str, secret: &str, redirect: &str) -> serde_json::Value {
    raw(
        base,
        "oauth.v2.access",
        None,
        &[
            ("client_id", "123.456"),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", redirect),
        ],
    )
    .await
    .json()
}

#[tokio::test]
async fn install_exchange_use_and_revoke() {
    let sim = generated(20, 5, 3).await;
    sim.register_oauth_app(OAuthApp {
        client_id: "123.456".into(),
        client_secret: "s3cret".into(),
        app_id: "A111".into(),
    });
    let origin = format!("http://{}", sim.addr());
    let base = sim.base_url();

    let denied = approve(&origin, "cancel", "users:read").await;
    assert!(
        denied.starts_with(REDIRECT) && denied.contains("error=access_denied"),
        "{denied}"
    );

    // Wrong secret, then wrong redirect URI: each refused; a refused exchange burns the code.
    let code = code_of(&approve(&origin, "allow", "users:read,channels:read").await);
    assert_eq!(
        exchange(&base, &code, "nope", REDIRECT).await["error"],
        "bad_client_secret"
    );
    let bad_uri = exchange(&base, &code, "s3cret", "http://127.0.0.1:9/elsewhere").await;
    assert_eq!(bad_uri["error"], "bad_redirect_uri");
    assert_eq!(
        exchange(&base, &code, "s3cret", REDIRECT).await["error"],
        "invalid_code"
    );

    // Older than ten minutes: expired.
    let code = code_of(&approve(&origin, "allow", "users:read").await);
    sim.age_oauth_codes(std::time::Duration::from_secs(601));
    assert_eq!(
        exchange(&base, &code, "s3cret", REDIRECT).await["error"],
        "invalid_code"
    );

    let code = code_of(&approve(&origin, "allow", "users:read,channels:read").await);
    sim.age_oauth_codes(std::time::Duration::from_secs(590));
    let ok = exchange(&base, &code, "s3cret", REDIRECT).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["app_id"], "A111");
    assert_eq!(ok["authed_user"]["token_type"], "user");
    assert_eq!(ok["authed_user"]["scope"], "users:read,channels:read");
    assert_eq!(ok["is_enterprise_install"], false);
    assert!(ok["team"]["id"].is_string() && ok["team"]["name"].is_string());
    assert!(
        ok.get("access_token").is_none(),
        "no bot part without bot scopes"
    );
    // Used twice: refused.
    assert_eq!(
        exchange(&base, &code, "s3cret", REDIRECT).await["error"],
        "invalid_code"
    );

    let token = ok["authed_user"]["access_token"].as_str().expect("token");
    assert!(token.starts_with("xoxp-"));
    let users = raw(&base, "users.list", Some(token), &[]).await.json();
    assert_eq!(users["ok"], true, "{users}");
    let team = raw(&base, "team.info", Some(token), &[]).await.json();
    assert_eq!(
        team["error"], "missing_scope",
        "only the granted scopes: {team}"
    );

    let revoked = raw(&base, "auth.revoke", Some(token), &[]).await.json();
    assert_eq!(revoked, serde_json::json!({"ok": true, "revoked": true}));
    let after = raw(&base, "users.list", Some(token), &[]).await.json();
    assert_eq!(after["error"], "token_revoked");
    // The sim's own token is untouched, and no secret reached the request log.
    assert_eq!(
        raw(&base, "auth.test", Some(TOKEN), &[]).await.json()["ok"],
        true
    );
    let log = serde_json::to_string(&sim.requests()).expect("log");
    assert!(!log.contains("s3cret") && !log.contains(token), "{log}");
}

#[tokio::test]
async fn bot_scopes_add_the_bot_part_and_basic_auth_works() {
    let sim = generated(10, 3, 4).await;
    sim.register_oauth_app(OAuthApp {
        client_id: "123.456".into(),
        client_secret: "s3cret".into(),
        app_id: "A111".into(),
    });
    let c = no_redirects();
    let origin = format!("http://{}", sim.addr());
    let resp = c
        .post(format!("{origin}/oauth/v2/authorize"))
        .form(&[
            ("client_id", "123.456"),
            ("scope", "chat:write"),
            ("user_scope", "users:read"),
            ("redirect_uri", REDIRECT),
            ("state", "x"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("decision");
    let code = code_of(
        &resp.headers()["location"]
            .to_str()
            .expect("loc")
            .replace("state=x", "state=st%3Cate%3E%261"),
    );
    let ok: serde_json::Value = c
        .post(format!("{}/oauth.v2.access", sim.base_url()))
        .basic_auth("123.456", Some("s3cret"))
        .form(&[("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .expect("access")
        .json()
        .await
        .expect("json");
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["token_type"], "bot");
    assert_eq!(ok["scope"], "chat:write");
    assert!(
        ok["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("xoxb-"))
    );
    assert!(ok["bot_user_id"].is_string());
}
