//! Rate limiting (429 + Retry-After per method) and injected faults (deterministic per seed,
//! each kind observable on the wire, never half-applying a write), over real HTTP.

mod common;

use std::time::Duration;

use common::*;
use slack_sim::{SimOptions, generate};

fn opts(rate_scale: Option<f64>, faults: f64, fault_seed: u64) -> SimOptions {
    SimOptions {
        token: TOKEN.into(),
        rate_scale,
        faults,
        fault_seed,
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn over_the_tier_answers_429_with_integer_retry_after_for_that_method_only() {
    let sim = sim_with(generate(&spec(10, 3, 1)), opts(Some(1.0), 0.0, 0)).await;
    let base = sim.base_url();
    // Tier 2: 20 per minute plus a burst tolerance of 2.
    for i in 0..22 {
        let r = raw(&base, "users.list", Some(TOKEN), &[("limit", "5")]).await;
        assert_eq!(r.status, 200, "call {i}");
    }
    let r = raw(&base, "users.list", Some(TOKEN), &[("limit", "5")]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.retry_after.as_deref(), Some("60"));
    assert_eq!(
        r.json(),
        serde_json::json!({"ok": false, "error": "ratelimited"})
    );
    // Another method has its own budget.
    assert_eq!(raw(&base, "team.info", Some(TOKEN), &[]).await.status, 200);
    let last = sim.requests().into_iter().rev().nth(1).expect("logged");
    assert_eq!(
        (last.status, last.error.as_deref()),
        (429, Some("ratelimited"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn scaled_window_reopens_after_retry_after() {
    // Scale 60: a one-second window.
    let sim = sim_with(generate(&spec(10, 3, 2)), opts(Some(60.0), 0.0, 0)).await;
    let base = sim.base_url();
    let mut first_429 = None;
    for i in 0..40 {
        let r = raw(&base, "conversations.list", Some(TOKEN), &[]).await;
        if r.status == 429 {
            first_429 = Some((i, r.retry_after.clone()));
            break;
        }
    }
    let (i, retry) = first_429.expect("rate limited within 40 calls");
    assert_eq!(i, 22);
    assert_eq!(retry.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        raw(&base, "conversations.list", Some(TOKEN), &[])
            .await
            .status,
        200
    );
    sim.shutdown().await;
}

/// What the client saw for one request under faults.
#[derive(Debug, PartialEq)]
enum Seen {
    Ok,
    Status(u16),
    ConnectionError,
    BadJson,
}

async fn observe(base: &str, method: &str, params: &[(&str, &str)]) -> Seen {
    // A fresh client per request: a reset must not poison the next request's connection.
    let client = reqwest::Client::new();
    let resp = match client
        .post(format!("{base}/{method}"))
        .bearer_auth(TOKEN)
        .form(params)
        .send()
        .await
    {
        Ok(r) => r,
        Err(_) => return Seen::ConnectionError,
    };
    let status = resp.status().as_u16();
    let Ok(body) = resp.text().await else {
        return Seen::ConnectionError;
    };
    if status != 200 {
        return Seen::Status(status);
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(_) => Seen::Ok,
        Err(_) => Seen::BadJson,
    }
}

async fn fault_run(seed: u64) -> (Vec<Option<String>>, Vec<Seen>) {
    let sim = sim_with(generate(&spec(10, 3, 3)), opts(None, 0.3, seed)).await;
    let base = sim.base_url();
    let mut seen = Vec::new();
    for _ in 0..60 {
        seen.push(observe(&base, "users.list", &[("limit", "4")]).await);
    }
    let faults = sim.requests().into_iter().map(|r| r.fault).collect();
    sim.shutdown().await;
    (faults, seen)
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    let (a, seen_a) = fault_run(42).await;
    let (b, seen_b) = fault_run(42).await;
    let (c, _) = fault_run(43).await;
    assert_eq!(a.len(), 60);
    assert_eq!(a, b);
    assert_eq!(seen_a, seen_b);
    assert_ne!(a, c);
    let n = a.iter().filter(|f| f.is_some()).count();
    assert!((5..=35).contains(&n), "about 30% faulted, got {n}");
}

#[tokio::test]
async fn every_fault_kind_is_what_the_client_sees() {
    let sim = sim_with(generate(&spec(10, 3, 4)), opts(None, 1.0, 7)).await;
    let base = sim.base_url();
    let mut seen = Vec::new();
    for _ in 0..30 {
        seen.push(observe(&base, "auth.test", &[]).await);
    }
    let log = sim.requests();
    assert_eq!(log.len(), 30);
    for (rec, s) in log.iter().zip(&seen) {
        let expected = match rec.fault.as_deref() {
            Some("429") => Seen::Status(429),
            Some("500") => Seen::Status(500),
            Some("reset") => Seen::ConnectionError,
            Some("truncated") => Seen::BadJson,
            other => panic!("every request faults at P=1, got {other:?}"),
        };
        assert_eq!(*s, expected, "{rec:?}");
    }
    for kind in ["429", "500", "reset", "truncated"] {
        assert!(
            log.iter().any(|r| r.fault.as_deref() == Some(kind)),
            "{kind} never drawn"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_faulted_invite_never_happened() {
    let sim = sim_with(generate(&spec(40, 6, 5)), opts(None, 1.0, 9)).await;
    let base = sim.base_url();
    let (ch, before, user) = sim.with_workspace(|ws| {
        let me = ws.token_user.clone();
        let c = ws
            .channels
            .iter()
            .find(|c| {
                !c.is_im && !c.is_mpim && !c.is_archived && c.is_member(&me) && c.members.len() < 30
            })
            .expect("channel");
        let u = ws
            .users
            .iter()
            .filter(|u| u["deleted"] == false && u["is_bot"] == false)
            .filter_map(|u| u["id"].as_str())
            .find(|id| !c.is_member(id))
            .expect("outsider")
            .to_string();
        (c.id.clone(), c.clone(), u)
    });
    for _ in 0..16 {
        observe(
            &base,
            "conversations.invite",
            &[("channel", &ch), ("users", &user)],
        )
        .await;
        observe(
            &base,
            "chat.postMessage",
            &[("channel", &ch), ("text", "hi")],
        )
        .await;
    }
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.fault.as_deref() == Some("truncated"))
    );
    let after = sim.with_workspace(|ws| ws.channel(&ch).expect("ch").clone());
    assert_eq!(after, before, "no faulted write changed the channel");
    sim.shutdown().await;
}
