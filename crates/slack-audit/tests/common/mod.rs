//! Helpers for the end-to-end tests: a temp working directory, the real `slack-audit` binary run
//! against a slack-sim served in-process on loopback, a small test workspace and config, and a
//! loopback proxy that makes chosen calls fail the way Slack does.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx, open_workbook};
use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, Team, Workspace};

pub const TOKEN: &str = "xoxp-e2e-secret-token";

/// A temp directory the binary runs in (so no stray `.env` is read), with `config/` and `out/`.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    pub fn reports(&self) -> PathBuf {
        self.out().join("audit_reports")
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("config")
    }

    pub fn db(&self) -> PathBuf {
        self.out().join("slack-tools.db")
    }

    /// Writes team.json and categories.json into `config/`.
    pub fn write_config(&self, team: &str, categories: &str) {
        std::fs::create_dir_all(self.config()).expect("mkdir config");
        std::fs::write(self.config().join("team.json"), team).expect("team.json");
        std::fs::write(self.config().join("categories.json"), categories).expect("categories.json");
    }

    /// Writes a Telegram fixture account (docs/telegram.md) into the temp dir; returns its path
    /// for `TELEGRAM_FIXTURE`.
    pub fn write_telegram_fixture(&self, json: &str) -> PathBuf {
        let path = self.path().join("telegram.json");
        std::fs::write(&path, json).expect("telegram fixture");
        path
    }

    /// The binary with a clean environment pointed at `base_url` (None: no Slack settings).
    pub fn command(&self, base_url: Option<&str>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-audit"));
        cmd.current_dir(self.path())
            .env_remove("SLACK_TOKEN")
            .env_remove("SLACK_USER_TOKEN")
            .env_remove("SLACK_API_BASE")
            .env_remove("SLACK_RATE_SCALE")
            .env_remove("SLACK_TOOLS_CONFIG")
            .env_remove("SLACK_TOOLS_OUT")
            .env_remove("SLACK_TOOLS_DB")
            .env_remove("DATABASE_URL")
            .env_remove("SLACK_TOOLS_SECRET_KEY")
            .env_remove("RUST_LOG")
            .env_remove("TELEGRAM_FIXTURE")
            .env_remove("TELEGRAM_API_ID")
            .env_remove("TELEGRAM_API_HASH")
            .env_remove("TELEGRAM_PHONE")
            .env_remove("TELEGRAM_SESSION")
            .arg("--config")
            .arg(self.config())
            .arg("--out")
            .arg(self.out());
        if let Some(url) = base_url {
            // The sims in these tests enforce no rate limits, so the client need not pace.
            cmd.env("SLACK_TOKEN", TOKEN)
                .env("SLACK_API_BASE", url)
                .env("SLACK_RATE_SCALE", "off");
        }
        cmd
    }
}

/// Runs a command off the async runtime (the sim serves on the runtime meanwhile).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run slack-audit"))
        .await
        .expect("join")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The roster the test workspace is audited with: aki and maria required, frank optional.
pub const TEAM: &str = r#"{"members": [
  {"handle": "aki", "name": "Aki Balogh", "role": "required", "slack": ["aki"]},
  {"handle": "maria", "name": "Maria Lopez", "role": "required", "slack": ["maria@corp.example"]},
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["U0FRANK"]}
]}"#;

pub const CATEGORIES: &str = r#"{"slack_scope": {"name_contains": ["cust"]},
 "categories": [{"name": "Intro", "match": ["intro"]}, {"name": "BD Customer"}]}"#;

fn user(id: &str, name: &str, email: &str) -> Value {
    json!({"id": id, "team_id": "T0E2E", "name": name, "deleted": false, "is_bot": false,
           "real_name": name, "profile": {"display_name": name, "real_name": name, "email": email}})
}

pub fn channel(id: &str, name: &str, private: bool, members: &[&str]) -> Channel {
    Channel {
        id: id.into(),
        name: name.into(),
        is_private: private,
        creator: "U0OPS".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        ..Channel::default()
    }
}

/// Four customer channels and two others:
/// - cust-acme: everyone → complete
/// - cust-globex: maria missing
/// - cust-public (public): aki missing
/// - cust-intro-x: complete
/// - general, random: out of scope.
pub fn workspace() -> Workspace {
    let ops = "U0OPS";
    Workspace {
        team: Team {
            id: "T0E2E".into(),
            name: "E2E".into(),
            domain: "e2e".into(),
        },
        token_user: ops.into(),
        users: vec![
            user(ops, "ops", "ops@corp.example"),
            user("U0AKI", "aki", "aki@corp.example"),
            user("U0MARIA", "mlopez", "maria@corp.example"),
            user("U0FRANK", "frank", "frank@corp.example"),
            user("U0CUST", "customer", "c@customer.example"),
        ],
        channels: vec![
            channel(
                "C0GEN",
                "general",
                false,
                &[ops, "U0AKI", "U0MARIA", "U0FRANK"],
            ),
            channel(
                "C0ACME",
                "cust-acme",
                true,
                &[ops, "U0AKI", "U0MARIA", "U0CUST"],
            ),
            channel("C0GLX", "cust-globex", true, &[ops, "U0AKI", "U0CUST"]),
            channel("C0PUB", "cust-public", false, &[ops, "U0MARIA", "U0FRANK"]),
            channel("C0INT", "cust-intro-x", true, &[ops, "U0AKI", "U0MARIA"]),
            channel("C0RND", "random", false, &[ops]),
        ],
    }
}

pub async fn start_sim(ws: Workspace, mut opts: SimOptions) -> SimHandle {
    opts.token = TOKEN.to_string();
    slack_sim::start(([127, 0, 0, 1], 0).into(), ws, opts)
        .await
        .expect("start slack-sim")
}

/// Parses a CSV file into its header and rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The CSV row for `group_name` as header → value.
pub fn csv_row(path: &Path, group_name: &str) -> std::collections::HashMap<String, String> {
    let (header, rows) = read_csv(path);
    let col = header
        .iter()
        .position(|h| h == "group_name")
        .expect("group_name column");
    let row = rows
        .into_iter()
        .find(|r| r[col] == group_name)
        .unwrap_or_else(|| panic!("no row for {group_name}"));
    header.into_iter().zip(row).collect()
}

/// A loopback proxy in front of the sim that answers `conversations.members` for `bad_channel`
/// with `{"ok": false, "error": code}` and forwards everything else unchanged.
pub async fn failing_proxy(
    sim_base: String,
    bad_channel: &'static str,
    code: &'static str,
) -> String {
    proxy(sim_base, bad_channel, Some(code)).await
}

/// A loopback proxy in front of the sim that never answers `conversations.members` for
/// `slow_channel` (a run reading it hangs there until killed) and forwards everything else.
pub async fn hanging_proxy(sim_base: String, slow_channel: &'static str) -> String {
    proxy(sim_base, slow_channel, None).await
}

/// `conversations.members` of `bad_channel` answers `{"ok": false, "error": code}`, or never
/// with no code.
async fn proxy(sim_base: String, bad_channel: &'static str, code: Option<&'static str>) -> String {
    use axum::body::Bytes;
    use axum::extract::{Path as AxPath, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    #[derive(Clone)]
    struct Proxy {
        base: String,
        http: reqwest::Client,
        bad: &'static str,
        code: Option<&'static str>,
    }

    async fn handle(
        State(p): State<Proxy>,
        AxPath(method): AxPath<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let text = String::from_utf8_lossy(&body);
        if method == "conversations.members" && text.contains(&format!("channel={}", p.bad)) {
            let Some(code) = p.code else {
                std::future::pending::<()>().await;
                unreachable!("pending never completes");
            };
            return axum::Json(json!({"ok": false, "error": code})).into_response();
        }
        let mut req = p
            .http
            .post(format!("{}/{method}", p.base))
            .body(body.to_vec());
        for (k, v) in headers.iter() {
            if k == "authorization" || k == "content-type" {
                req = req.header(k.as_str(), v.as_bytes());
            }
        }
        match req.send().await {
            Ok(resp) => {
                let status =
                    StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                let retry = resp.headers().get("retry-after").cloned();
                let bytes = resp.bytes().await.unwrap_or_default();
                let mut out = (status, bytes).into_response();
                out.headers_mut()
                    .insert("content-type", "application/json".parse().expect("header"));
                if let Some(r) = retry {
                    out.headers_mut().insert("retry-after", r);
                }
                out
            }
            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
        }
    }

    let state = Proxy {
        base: sim_base.trim_end_matches('/').to_string(),
        http: reqwest::Client::new(),
        bad: bad_channel,
        code,
    };
    let app = axum::Router::new()
        .route("/api/{method}", axum::routing::post(handle))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/api")
}

/// The cells of one sheet of an xlsx report, as text (read back with calamine, as a user's
/// spreadsheet would).
pub fn sheet(path: &std::path::Path, name: &str) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook(path).expect("open xlsx");
    let range = book.worksheet_range(name).expect("sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// Every file under `root` is 0600 and every directory (root included) 0700: what a run makes.
#[cfg(unix)]
pub fn assert_owner_only(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(root), 0o700, "{}: {:o}", root.display(), mode(root));
    for e in std::fs::read_dir(root).expect("readable dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            assert_owner_only(&p);
        } else {
            assert_eq!(mode(&p), 0o600, "{}: {:o}", p.display(), mode(&p));
        }
    }
}
