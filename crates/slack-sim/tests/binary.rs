//! The `slack-sim` binary: one stdout line with the URL, exact --users/--channels counts,
//! --dump/--workspace round trip, --log JSON lines without the token.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slack-sim"))
        .args(["--listen", "127.0.0.1:0", "--token", TOKEN])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn slack-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read line");
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/api"),
        "{base}"
    );
    Running { child, base }
}

#[tokio::test]
async fn generated_counts_are_exact() {
    for (users, channels) in [(137usize, 23usize), (5, 1), (250, 40)] {
        let sim = run(&[
            "--users",
            &users.to_string(),
            "--channels",
            &channels.to_string(),
            "--seed",
            "7",
            "--days",
            "5",
        ]);
        let u = pages(&sim.base, "users.list", &[("limit", "100")]).await;
        assert_eq!(items(&u, "members").len(), users);
        let c = pages(
            &sim.base,
            "conversations.list",
            &[("types", "public_channel,private_channel"), ("limit", "10")],
        )
        .await;
        assert_eq!(items(&c, "channels").len(), channels);
        let im = pages(&sim.base, "conversations.list", &[("types", "im,mpim")]).await;
        assert!(
            !items(&im, "channels").is_empty(),
            "ims beyond the channel count"
        );
    }
}

#[tokio::test]
async fn dump_then_load_serves_the_same_workspace_and_logs_without_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("ws.json");
    let log = dir.path().join("requests.jsonl");
    let first = run(&[
        "--users",
        "20",
        "--channels",
        "5",
        "--seed",
        "3",
        "--dump",
        dump.to_str().expect("utf8"),
    ]);
    let a = pages(&first.base, "users.list", &[("limit", "7")]).await;
    drop(first);
    let ws: slack_sim::Workspace =
        serde_json::from_str(&std::fs::read_to_string(&dump).expect("dump written"))
            .expect("workspace JSON");
    assert_eq!(ws.users.len(), 20);

    let second = run(&[
        "--workspace",
        dump.to_str().expect("utf8"),
        "--log",
        log.to_str().expect("utf8"),
    ]);
    let b = pages(&second.base, "users.list", &[("limit", "7")]).await;
    assert_eq!(items(&a, "members"), items(&b, "members"));
    let r = raw(
        &second.base,
        "auth.test",
        Some("wrong"),
        &[("token", "also-wrong")],
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_auth");
    drop(second);
    let text = std::fs::read_to_string(&log).expect("log written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), b.len() + 1);
    assert_eq!(lines[0]["method"], "users.list");
    assert_eq!(lines[0]["params"]["limit"], "7");
    assert_eq!(lines.last().expect("line")["error"], "invalid_auth");
    assert!(!text.contains(TOKEN) && !text.contains("also-wrong"));
}

#[test]
fn the_well_known_token_is_refused_off_loopback() {
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let out = Command::new(env!("CARGO_BIN_EXE_slack-sim"))
            .args(["--listen", listen, "--users", "3", "--channels", "1"])
            .env_remove("SLACK_SIM_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("run slack-sim");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(out.stdout.is_empty(), "{listen}: it must not have started");
        assert!(stderr.contains("well-known token"), "{stderr}");
        assert!(
            stderr.contains("hint:") && stderr.contains("--token"),
            "{stderr}"
        );
    }
    // The same token given explicitly is just as well known.
    let out = Command::new(env!("CARGO_BIN_EXE_slack-sim"))
        .args(["--listen", "0.0.0.0:0", "--token", slack_sim::DEFAULT_TOKEN])
        .stdin(Stdio::null())
        .output()
        .expect("run slack-sim");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_token_of_ones_own_may_listen_off_loopback_and_the_default_on_loopback() {
    // Started and stopped at once: nothing is sent to the non-loopback address.
    for (listen, token) in [
        ("0.0.0.0:0", Some("xoxp-own-secret")),
        ("127.0.0.1:0", None),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-sim"));
        cmd.args(["--listen", listen, "--users", "3", "--channels", "1"])
            .env_remove("SLACK_SIM_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(t) = token {
            cmd.args(["--token", t]);
        }
        let mut child = cmd.spawn().expect("spawn slack-sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read line");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.starts_with("listening on http://"),
            "{listen}: {line:?}"
        );
    }
}
