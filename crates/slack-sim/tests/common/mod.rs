//! Helpers shared by the slack-sim integration tests: start a sim on loopback and call it over
//! real HTTP the way a Slack client does (form bodies, bearer token).
#![allow(dead_code)]

use serde_json::Value;
use slack_sim::{GenSpec, SimHandle, SimOptions, Workspace, generate, start};

pub const TOKEN: &str = "xoxp-test-token";

pub fn spec(users: usize, channels: usize, seed: u64) -> GenSpec {
    GenSpec {
        users,
        channels,
        days: 20,
        seed,
        ..GenSpec::default()
    }
}

pub async fn sim_with(ws: Workspace, opts: SimOptions) -> SimHandle {
    start("127.0.0.1:0".parse().expect("addr"), ws, opts)
        .await
        .expect("sim starts")
}

pub async fn sim(ws: Workspace) -> SimHandle {
    sim_with(
        ws,
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
}

pub async fn generated(users: usize, channels: usize, seed: u64) -> SimHandle {
    sim(generate(&spec(users, channels, seed))).await
}

pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// POSTs a form to `{base}/{method}` with an optional bearer token.
pub async fn raw(base: &str, method: &str, token: Option<&str>, params: &[(&str, &str)]) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.post(format!("{base}/{method}")).form(params);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_string());
    let body = resp.text().await.expect("body");
    Reply {
        status,
        retry_after,
        body,
    }
}

/// Calls a method with the right token and returns the parsed body (HTTP 200 expected).
pub async fn call(base: &str, method: &str, params: &[(&str, &str)]) -> Value {
    let r = raw(base, method, Some(TOKEN), params).await;
    assert_eq!(r.status, 200, "{method}: {}", r.body);
    r.json()
}

/// Follows `response_metadata.next_cursor` until it is empty; returns every page.
pub async fn pages(base: &str, method: &str, params: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        if !cursor.is_empty() {
            p.push(("cursor", &cursor));
        }
        let page = call(base, method, &p).await;
        assert_eq!(page["ok"], true, "{method}: {page}");
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or("")
            .to_string();
        out.push(page);
        if cursor.is_empty() {
            return out;
        }
        assert!(out.len() < 10_000, "{method}: pagination does not end");
    }
}

pub fn items<'a>(pages: &'a [Value], key: &str) -> Vec<&'a Value> {
    pages
        .iter()
        .flat_map(|p| p[key].as_array().expect("array").iter())
        .collect()
}
