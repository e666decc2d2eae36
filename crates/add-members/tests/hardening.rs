//! The real binary's guards (issue 11): a malformed `.env` is reported without its text, plain
//! `http://` to another machine is refused before the token is sent, and "no" at the prompt
//! exits 1 having changed nothing.

mod common;

use std::process::{Command, Stdio};

use common::*;

const FAKE_TOKEN: &str = "xoxp-1111-2222-fake-secret-in-dotenv";

/// The binary in an empty temp dir holding only `.env`, with no Slack variables set.
fn in_dir_with_dotenv(dotenv: &str) -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(".env"), dotenv).expect(".env");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_add-members"));
    cmd.args(["frank", "--dry-run"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    (dir, cmd)
}

#[test]
fn a_malformed_dotenv_names_the_line_but_never_prints_it() {
    // An unclosed quote: dotenvy's own error quotes the line and everything after it.
    let dotenv = format!(
        "# Slack\nSLACK_RATE_SCALE=1\nSLACK_TOKEN=\"{FAKE_TOKEN}\nSLACK_API_BASE=http://127.0.0.1:9/private-base\n"
    );
    let (dir, mut cmd) = in_dir_with_dotenv(&dotenv);
    let run = Run::from(cmd.output().expect("runs"));
    assert_eq!(run.code, 2, "{run:?}");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("fake-secret"), "token echoed: {run:?}");
    assert!(
        !all.contains("private-base"),
        "rest of the file echoed: {run:?}"
    );
    assert!(run.stderr.contains("line 3"), "{run:?}");
    assert!(run.stderr.contains("unclosed quote"), "{run:?}");
    let path = dir.path().join(".env");
    assert!(run.stderr.contains(&*path.to_string_lossy()), "{run:?}");
    assert!(run.stderr.contains("hint:"), "{run:?}");
}

#[test]
fn a_dotenv_value_error_names_its_line() {
    let dotenv = format!("SLACK_TOKEN={FAKE_TOKEN} trailing words\n");
    let (_dir, mut cmd) = in_dir_with_dotenv(&dotenv);
    let run = Run::from(cmd.output().expect("runs"));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!run.stderr.contains("fake-secret"), "{run:?}");
    assert!(!run.stderr.contains("trailing"), "{run:?}");
    assert!(run.stderr.contains("line 1"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_with_exit_2() {
    let env = Env::start().await;
    // `.invalid` never resolves: were the refusal gone, the run would fail later with exit 1
    // instead of sending anything anywhere.
    let mut cmd = env.command(&["frank", "--dry-run"]);
    cmd.env("SLACK_API_BASE", "http://slack.example.invalid/api");
    let run = Run::from(
        tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("runs"),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("in clear"), "{run:?}");
    assert!(
        run.stderr.contains("hint:") && run.stderr.contains("https://"),
        "{run:?}"
    );
    assert!(!run.stderr.contains(TOKEN), "{run:?}");
    assert!(env.sim.requests().is_empty());

    // Loopback over plain http, by address and by name, is where the sim lives: accepted.
    let run = env.run(&["frank", "--dry-run"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let by_name = env.sim.base_url().replace("127.0.0.1", "localhost");
    let mut cmd = env.command(&["frank", "--dry-run"]);
    cmd.env("SLACK_API_BASE", by_name);
    let run = Run::from(
        tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("runs"),
    );
    assert_eq!(run.code, 0, "{run:?}");
}

/// Single-quoted for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_at_the_prompt_exits_1_and_invites_nobody() {
    let env = Env::start().await;
    // The prompt needs a terminal: `script` (util-linux) runs the binary on a pseudo-terminal
    // and types our "n" into it.
    let plain = env.command(&[]);
    let mut line = sh_quote(&plain.get_program().to_string_lossy());
    for arg in ["frank", "aki", "maria"]
        .into_iter()
        .map(str::to_string)
        .chain(plain.get_args().map(|a| a.to_string_lossy().into_owned()))
    {
        line.push(' ');
        line.push_str(&sh_quote(&arg));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(env.dir.path())
        .env_clear()
        .envs(
            plain
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd
            .spawn()
            .expect("`script` (util-linux) is needed to drive the prompt on a terminal");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"n\n")
            .expect("type n");
        child.wait_with_output().expect("runs")
    })
    .await
    .expect("join");
    let run = Run::from(run);
    assert!(run.stdout.contains("Send these invites? [y/N]"), "{run:?}");
    assert!(run.stdout.contains("Nothing was changed."), "{run:?}");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(env.invites().is_empty(), "declined, yet invited");
}
