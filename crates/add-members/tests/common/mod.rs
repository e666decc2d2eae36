//! Test helpers: a small customer workspace served by an in-process slack-sim over loopback, its
//! team config in a temp dir, and a runner for the real `add-members` binary pointed at it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, Team, Workspace};

pub const TOKEN: &str = "xoxp-test-add-members";
pub const OPS: &str = "U0OPS";
pub const FRANK: &str = "U0FRANK";
pub const AKI: &str = "U0AKI";
pub const MARIA: &str = "U0MARIA";
pub const GINA: &str = "U0GINA";

fn user(id: &str, name: &str, real: &str, email: &str, deleted: bool) -> Value {
    json!({"id": id, "team_id": "T0TEST", "name": name, "deleted": deleted, "is_bot": false,
        "real_name": real, "tz": "UTC", "tz_offset": 0,
        "profile": {"display_name": "", "real_name": real, "email": email}})
}

fn channel(id: &str, name: &str, private: bool, members: &[&str]) -> Channel {
    Channel {
        id: id.into(),
        name: name.into(),
        is_private: private,
        created: 1_700_000_000,
        creator: OPS.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        ..Channel::default()
    }
}

/// The test workspace: customer channels with gaps, an archived one, one the token user is not in,
/// a channel outside the scope, a deactivated user and two people with the same name.
pub fn workspace() -> Workspace {
    let mut old = channel("C0OLD", "bitsafe-oldco", true, &[OPS]);
    old.is_archived = true;
    Workspace {
        team: Team {
            id: "T0TEST".into(),
            name: "Test".into(),
            domain: "test".into(),
        },
        token_user: OPS.into(),
        users: vec![
            user(OPS, "opsdesk", "Ops Desk", "ops@bitsafe.example", false),
            user(FRANK, "ffox", "Frank Fox", "frank@example.com", false),
            user(AKI, "aki", "Aki Balogh", "aki@bitsafe.example", false),
            user(
                MARIA,
                "mlopez",
                "Maria Lopez",
                "maria@bitsafe.example",
                false,
            ),
            user(GINA, "gina", "Gina Howe", "gina@bitsafe.example", true),
            user(
                "U0JOHNA",
                "john.a",
                "John Smith",
                "ja@bitsafe.example",
                false,
            ),
            user(
                "U0JOHNB",
                "john.b",
                "John Smith",
                "jb@bitsafe.example",
                false,
            ),
        ],
        channels: vec![
            channel("C0ACME", "bitsafe-acme", true, &[OPS, AKI]),
            channel("C0GLOBEX", "bitsafe-globex", true, &[OPS, FRANK]),
            channel("C0INIT", "bitsafe-initech", false, &[OPS]),
            channel("C0STARK", "bitsafe-stark", true, &[OPS]),
            channel("C0NOOPS", "bitsafe-noops", false, &[AKI]),
            channel("C0GEN", "general", false, &[OPS, FRANK, AKI, MARIA]),
            old,
        ],
    }
}

pub const TEAM_JSON: &str = r#"{"members": [
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["frank@example.com"]},
  {"handle": "aki", "name": "Aki Balogh", "role": "required", "slack": ["aki"]},
  {"handle": "maria", "name": "Maria Lopez", "role": "required", "slack": ["maria@bitsafe.example"]},
  {"handle": "gina", "name": "Gina Howe", "role": "required", "slack": ["gina"]}
]}"#;

pub const CATEGORIES_JSON: &str = r#"{"slack_scope": {"name_contains": ["bitsafe"]},
 "exclusions": [{"group": "bitsafe-stark", "members": ["maria"], "reason": "smaller channel"}]}"#;

/// A sim, a config dir and an output dir for one test.
pub struct Env {
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(SimOptions::default()).await
    }

    pub async fn start_with(mut opts: SimOptions) -> Env {
        opts.token = TOKEN.into();
        let sim = slack_sim::start(([127, 0, 0, 1], 0).into(), workspace(), opts)
            .await
            .expect("sim starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::write(config.join("team.json"), TEAM_JSON).expect("team.json");
        std::fs::write(config.join("categories.json"), CATEGORIES_JSON).expect("categories.json");
        Env { sim, dir }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn db(&self) -> PathBuf {
        self.out().join("slack-tools.db")
    }

    /// The command for the real binary against this sim, with no pacing (the sim has no limits
    /// unless a test sets them) and stdin closed (no TTY).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_add-members"));
        cmd.args(args)
            .arg("--config")
            .arg(self.dir.path().join("config"))
            .arg("--out")
            .arg(self.out())
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLACK_TOKEN", TOKEN)
            .env("SLACK_API_BASE", self.sim.base_url())
            .env("SLACK_RATE_SCALE", "0")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to completion off the async runtime (the sim keeps serving meanwhile).
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("binary runs");
        Run::from(out)
    }

    /// Members of a channel as the sim holds them now.
    pub fn members(&self, channel: &str) -> Vec<String> {
        self.sim.with_workspace(|ws| {
            ws.channel(channel)
                .map(|c| c.members.clone())
                .unwrap_or_default()
        })
    }

    /// The conversations.invite requests the sim answered (faulted ones excluded).
    pub fn invites(&self) -> Vec<slack_sim::RequestRecord> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "conversations.invite" && r.fault.is_none())
            .collect()
    }

    pub fn log_lines(&self) -> Vec<Value> {
        read_jsonl(&self.out().join("add-members.jsonl"))
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect()
}

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The users param of an invite request, split.
pub fn invited_users(r: &slack_sim::RequestRecord) -> Vec<String> {
    let mut users: Vec<String> = r
        .params
        .get("users")
        .map(|u| u.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    users.sort();
    users
}
