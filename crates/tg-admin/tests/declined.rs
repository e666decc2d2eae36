//! "No" at the confirmation prompt exits 1 having changed nothing, as in every tool (issue 11).
//! The prompt needs a terminal: `script` (util-linux) runs the binary on a pseudo-terminal and
//! types the answer into it.

use std::io::Write;
use std::process::{Command, Stdio};

const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [{"id": 6, "username": "nftaddie", "first_name": "Addie", "last_name": "Ng"}],
 "chats": [
  {"id": -1001, "title": "iBTC <> Acme", "kind": "supergroup",
   "participants": [{"user": 1000, "role": "creator"}, {"user": 6, "role": "member"}]}]}"#;

/// Single-quoted for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn no_at_the_prompt_exits_1_and_removes_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = dir.path().join("tg.json");
    std::fs::write(&fixture, FIXTURE).expect("fixture");
    let out = dir.path().join("out");
    let line = [
        env!("CARGO_BIN_EXE_tg-admin"),
        "--out",
        out.to_str().expect("utf8"),
        "--config",
        dir.path().to_str().expect("utf8"),
        "remove-user",
        "nftaddie",
    ]
    .map(sh_quote)
    .join(" ");
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("TELEGRAM_FIXTURE", &fixture)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) is needed to drive the prompt on a terminal");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"n\n")
        .expect("type n");
    let o = child.wait_with_output().expect("runs");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Remove 1 membership(s)? [y/N]"), "{text}");
    assert!(text.contains("nothing changed"), "{text}");
    assert_eq!(o.status.code(), Some(1), "{text}");
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).expect("read")).expect("json");
    let members: Vec<i64> = after["chats"][0]["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["user"].as_i64())
        .collect();
    assert!(members.contains(&6), "declined, yet removed: {after}");
}
