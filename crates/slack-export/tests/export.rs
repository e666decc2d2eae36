//! End-to-end: the real `slack-export` binary against an in-process slack-sim over loopback, with
//! real SQLite files and output in temp dirs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use store::test_db::url_password;

use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, Workspace};

const TOKEN: &str = "xoxp-export-test";
const LAB: &str = "C0LAB00001";
const ACME: &str = "C0DEMOACM";

/// 2026-01-05T08:00:00Z and friends: fixed times so day files and text times are predictable.
const T_JOIN: &str = "1767590000.000100";
const T_PARENT: &str = "1767600000.000100";
const T_REPLY1: &str = "1767603600.000100";
const T_BOT: &str = "1767610000.000100";
const T_REPLY2: &str = "1767690000.000100";

/// The demo workspace plus a small hand-made channel with every message kind the text format
/// shows, and a channel whose name tries to escape the output directory.
fn workspace() -> Workspace {
    let mut ws = demo::workspace();
    let members: Vec<String> = ["U0DEMOOPS", "U0DEMOAKI", "U0DEMOMAR", "U0DEMOOLD"]
        .map(String::from)
        .to_vec();
    ws.channels.push(Channel {
        id: LAB.into(),
        name: "export-lab".into(),
        created: 1_767_000_000,
        creator: "U0DEMOOPS".into(),
        members: members.clone(),
        messages: vec![
            json!({"type": "message", "ts": T_JOIN, "user": "U0DEMOMAR", "subtype": "channel_join",
                   "text": "<@U0DEMOMAR> has joined the channel"}),
            json!({"type": "message", "ts": T_PARENT, "thread_ts": T_PARENT, "user": "U0DEMOAKI",
                   "text": "Plan for <@U0DEMOMAR>, see <#C0DEMOACM|bitsafe-acme> &amp; <https://x.example|the doc>",
                   "edited": {"user": "U0DEMOAKI", "ts": "1767600100.000000"},
                   "files": [{"id": "F1", "name": "plan.pdf"}],
                   "reactions": [{"name": "eyes", "users": ["U0DEMOMAR"], "count": 2}]}),
            json!({"type": "message", "ts": T_REPLY1, "thread_ts": T_PARENT, "user": "U0DEMOOLD",
                   "text": "old hand here"}),
            json!({"type": "message", "ts": T_BOT, "subtype": "bot_message", "bot_id": "B0DEMOBOT",
                   "text": "Deploy done", "x_custom": {"k": [1, 2]}}),
            json!({"type": "message", "ts": T_REPLY2, "thread_ts": T_PARENT, "user": "U0DEMOMAR",
                   "text": "next day reply"}),
        ],
        ..Channel::default()
    });
    ws.channels.push(Channel {
        id: "C0LAB00002".into(),
        name: "../evil\\name".into(),
        created: 1_767_000_000,
        creator: "U0DEMOOPS".into(),
        members,
        messages: vec![
            json!({"type": "message", "ts": T_PARENT, "user": "U0DEMOAKI", "text": "hi"}),
        ],
        ..Channel::default()
    });
    ws
}

async fn sim(opts: SimOptions) -> SimHandle {
    let opts = SimOptions {
        token: TOKEN.into(),
        ..opts
    };
    slack_sim::start(([127, 0, 0, 1], 0).into(), workspace(), opts)
        .await
        .expect("sim starts")
}

fn command(base: &str, dir: &Path, out: &str, args: &[&str]) -> Command {
    command_on(
        base,
        dir,
        out,
        dir.join(format!("{out}.db")).as_os_str(),
        args,
    )
}

/// [`command`] with the store at `db` (a file, or a PostgreSQL URL).
fn command_on(base: &str, dir: &Path, out: &str, db: &std::ffi::OsStr, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-export"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--tz", "UTC", "--out"])
        .arg(dir.join(out))
        .arg("--db")
        .arg(db)
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "off")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion off the async runtime (the sim is served by the runtime).
async fn run(sim: &SimHandle, dir: &Path, out: &str, args: &[&str]) -> Output {
    let mut cmd = command(&sim.base_url(), dir, out, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every file under `root`, relative path to contents.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string();
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Export outputs only (the database sits next to them in some runs).
fn outputs(root: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(root)
        .into_iter()
        .filter(|(k, _)| !k.contains(".db"))
        .collect()
}

fn replies_calls(sim: &SimHandle, since: usize) -> usize {
    sim.requests()[since..]
        .iter()
        .filter(|r| r.method == "conversations.replies" && r.fault.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn text_resolves_names_and_indents_replies_under_their_parent() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&sim, dir.path(), "out", &["#export-lab"]).await;
    ok(&out);
    let text = read(&dir.path().join("out/export-lab.txt"));
    let expected = "\
# #export-lab (C0LAB00001)

2026-01-05 05:13  → Maria joined
2026-01-05 08:00  Aki: Plan for @Maria, see #bitsafe-acme & the doc (https://x.example) (edited) [file: plan.pdf] [:eyes: 2]
    2026-01-05 09:00  Gina Howe (former) (deleted): old hand here
    2026-01-06 09:00  Maria: next day reply
2026-01-05 10:46  Deploy Bot: Deploy done
";
    assert_eq!(text, expected);
    // Only the one thread parent cost a replies call.
    assert_eq!(replies_calls(&sim, 0), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_is_lossless_and_holds_replies() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(&sim, dir.path(), "out", &["export-lab", "--format", "json"]).await);
    let messages: Vec<Value> =
        serde_json::from_str(&read(&dir.path().join("out/export-lab.json"))).expect("json array");
    let ts: Vec<&str> = messages
        .iter()
        .map(|m| m["ts"].as_str().expect("ts"))
        .collect();
    assert_eq!(ts, [T_JOIN, T_PARENT, T_REPLY1, T_REPLY2, T_BOT]);
    let bot = &messages[4];
    assert_eq!(
        bot["x_custom"],
        json!({"k": [1, 2]}),
        "unknown fields survive"
    );
    assert_eq!(messages[1]["reply_count"], json!(2));
    assert_eq!(messages[3]["parent_user_id"], json!("U0DEMOAKI"));
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_layout_has_lists_day_files_and_parent_reply_lists() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["export-lab", ACME, "--format", "slack"],
    )
    .await);
    let root = dir.path().join("out/slack-export");
    let users: Vec<Value> = serde_json::from_str(&read(&root.join("users.json"))).expect("users");
    assert!(
        users
            .iter()
            .any(|u| u["id"] == "U0DEMOOLD" && u["deleted"] == true)
    );
    let channels: Vec<Value> =
        serde_json::from_str(&read(&root.join("channels.json"))).expect("channels");
    let names = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|c| c["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(names(&channels), ["export-lab"]);
    assert_eq!(channels[0]["members"].as_array().expect("members").len(), 4);
    // The demo's customer channel is private: it belongs in groups.json.
    let groups: Vec<Value> =
        serde_json::from_str(&read(&root.join("groups.json"))).expect("groups");
    assert_eq!(names(&groups), ["bitsafe-acme"]);
    assert!(
        groups[0]["purpose"]["value"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    assert!(!groups[0]["members"].as_array().expect("members").is_empty());

    let day1: Vec<Value> =
        serde_json::from_str(&read(&root.join("export-lab/2026-01-05.json"))).expect("day 1");
    let day2: Vec<Value> =
        serde_json::from_str(&read(&root.join("export-lab/2026-01-06.json"))).expect("day 2");
    let ts = |v: &[Value]| {
        v.iter()
            .map(|m| m["ts"].as_str().expect("ts").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ts(&day1), [T_JOIN, T_PARENT, T_REPLY1, T_BOT]);
    assert_eq!(ts(&day2), [T_REPLY2], "a reply lives in its own day's file");
    assert_eq!(
        day1[1]["replies"],
        json!([{"user": "U0DEMOOLD", "ts": T_REPLY1}, {"user": "U0DEMOMAR", "ts": T_REPLY2}])
    );
    assert!(day1[0].get("replies").is_none());
    // Every message of the demo channel is in exactly one day file, each day file holds its day.
    let acme_total: usize = sim.with_workspace(|ws| ws.channel(ACME).expect("acme").messages.len());
    let mut seen = 0;
    for e in std::fs::read_dir(root.join("bitsafe-acme"))
        .expect("acme folder")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        let day: Vec<Value> = serde_json::from_str(&read(&e.path())).expect("day file");
        for m in &day {
            let secs: i64 = m["ts"]
                .as_str()
                .expect("ts")
                .split('.')
                .next()
                .expect("secs")
                .parse()
                .expect("int");
            let date = jiff::Timestamp::from_second(secs)
                .expect("ts")
                .strftime("%Y-%m-%d")
                .to_string();
            assert_eq!(format!("{date}.json"), name);
        }
        seen += day.len();
    }
    assert_eq!(seen, acme_total);
}

#[tokio::test(flavor = "multi_thread")]
async fn zip_holds_the_same_layout_as_the_folder() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(
        &sim,
        dir.path(),
        "folder",
        &["export-lab", "--format", "slack"],
    )
    .await);
    ok(&run(
        &sim,
        dir.path(),
        "zipped",
        &["export-lab", "--format", "slack", "--zip"],
    )
    .await);
    let folder = outputs(&dir.path().join("folder/slack-export"));
    let file = std::fs::File::open(dir.path().join("zipped/slack-export.zip")).expect("zip exists");
    let mut archive = zip::ZipArchive::new(file).expect("valid zip");
    let mut zipped = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).expect("read entry");
        zipped.insert(f.name().expect("entry name").to_string(), bytes);
    }
    assert_eq!(zipped, folder);
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_names_are_sanitised_into_the_output_directory() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(&sim, dir.path(), "out", &["C0LAB00002"]).await);
    ok(&run(
        &sim,
        dir.path(),
        "out2",
        &["C0LAB00002", "--format", "slack"],
    )
    .await);
    let files: Vec<String> = outputs(&dir.path().join("out")).into_keys().collect();
    assert_eq!(files, ["_evil_name.txt"]);
    assert!(
        dir.path()
            .join("out2/slack-export/_evil_name/2026-01-05.json")
            .is_file()
    );
    // Nothing escaped: the temp dir holds only the two outputs and their databases.
    for e in std::fs::read_dir(dir.path()).expect("ls").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        assert!(
            name.starts_with("out"),
            "unexpected {name} next to the outputs"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_channel_exits_2_with_close_matches() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&sim, dir.path(), "out", &["#bitsafe-acm"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean #bitsafe-acme"), "{stderr}");
    assert!(!dir.path().join("out/bitsafe-acm.txt").exists());
}

/// Issue 11: channel names and message text come from Slack; in the text export, the progress
/// lines and a "did you mean" hint, escape sequences, `\r` and U+2028 show as visible escapes.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_from_slack_never_reach_the_terminal_or_text_files() {
    let mut ws = workspace();
    ws.channels.push(Channel {
        id: "C0LAB00003".into(),
        name: "esc\x1b[31mred\r\u{2028}x".into(),
        created: 1_767_000_000,
        creator: "U0DEMOOPS".into(),
        members: vec!["U0DEMOOPS".into(), "U0DEMOAKI".into()],
        messages: vec![
            json!({"type": "message", "ts": T_PARENT, "user": "U0DEMOAKI",
            "text": "line one\x1b[2J\rline\u{2029}two\nnext \u{9b}31m"}),
        ],
        ..Channel::default()
    });
    let opts = SimOptions {
        token: TOKEN.into(),
        ..SimOptions::default()
    };
    let sim = slack_sim::start(([127, 0, 0, 1], 0).into(), ws, opts)
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = ['\x1b', '\r', '\u{2028}', '\u{2029}', '\u{9b}'];

    let out = run(&sim, dir.path(), "out", &["C0LAB00003"]).await;
    ok(&out);
    let files = outputs(&dir.path().join("out"));
    assert_eq!(files.len(), 1, "{:?}", files.keys());
    let text = String::from_utf8(files.into_values().next().expect("file")).expect("utf8");
    assert!(
        text.starts_with("# #esc\\u{1b}[31mred\\u{d}\\u{2028}x (C0LAB00003)\n"),
        "{text}"
    );
    // Newlines still break lines; everything else is escaped.
    assert!(
        text.contains("Aki: line one\\u{1b}[2J\\u{d}line\\u{2029}two\n  next \\u{9b}31m"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("#esc\\u{1b}[31mred"), "{stderr}");
    for c in bad {
        assert!(!text.contains(c), "{c:?} in the text export: {text:?}");
        assert!(!stderr.contains(c), "{c:?} on stderr: {stderr:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(c));
    }

    // A close match named in the error's hint is escaped too.
    let out = run(&sim, dir.path(), "out2", &["#esc"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did you mean #esc\\u{1b}[31mred"),
        "{stderr}"
    );
    for c in bad {
        assert!(!stderr.contains(c), "{c:?} on stderr: {stderr:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_give_byte_identical_output() {
    let clean = sim(SimOptions::default()).await;
    let faulty = sim(SimOptions {
        faults: 0.1,
        fault_seed: 11,
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    for format in ["text", "json", "slack"] {
        let args = ["export-lab", ACME, "--format", format];
        ok(&run(&clean, dir.path(), &format!("clean-{format}"), &args).await);
        ok(&run(&faulty, dir.path(), &format!("faulty-{format}"), &args).await);
        let a = outputs(&dir.path().join(format!("clean-{format}")));
        let b = outputs(&dir.path().join(format!("faulty-{format}")));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{format} output differs under faults");
    }
    let injected = faulty
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(injected > 0, "the faulty sim injected no faults");
}

/// Adds a reply to the thread `parent` in `channel`, and a new top-level message.
fn add_reply_and_message(sim: &SimHandle, channel: &str, parent: &str) -> (String, String) {
    sim.with_workspace(|ws| {
        let next = ws.max_ts_micros() + 1_000_000;
        let reply_ts = slack_sim::format_ts(next);
        let top_ts = slack_sim::format_ts(next + 1_000_000);
        let c = ws.channel_mut(channel).expect("channel");
        c.messages.push(
            json!({"type": "message", "ts": reply_ts, "thread_ts": parent,
            "user": "U0DEMOAKI", "text": "late reply to an old thread"}),
        );
        c.messages
            .push(json!({"type": "message", "ts": top_ts, "user": "U0DEMOMAR",
            "text": "brand new message"}));
        (reply_ts, top_ts)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_merges_new_replies_to_old_threads_without_duplicates() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for format in ["text", "slack"] {
        ok(&run(
            &sim,
            dir.path(),
            &format!("inc-{format}"),
            &["export-lab", "--format", format, "--resume"],
        )
        .await);
    }
    add_reply_and_message(&sim, LAB, T_PARENT);
    for format in ["text", "slack"] {
        let before = sim.requests().len();
        let out = run(
            &sim,
            dir.path(),
            &format!("inc-{format}"),
            &[
                "export-lab",
                "--format",
                format,
                "--resume",
                "--thread-lookback",
                "400",
            ],
        )
        .await;
        ok(&out);
        // Only the thread whose latest_reply moved is fetched again.
        assert_eq!(replies_calls(&sim, before), 1, "{format}");
        ok(&run(
            &sim,
            dir.path(),
            &format!("full-{format}"),
            &["export-lab", "--format", format],
        )
        .await);
        assert_eq!(
            outputs(&dir.path().join(format!("inc-{format}"))),
            outputs(&dir.path().join(format!("full-{format}"))),
            "{format}: resumed export differs from a full one"
        );
    }
    let text = read(&dir.path().join("inc-text/export-lab.txt"));
    let lines: Vec<&str> = text.lines().collect();
    let late = lines
        .iter()
        .position(|l| l.contains("late reply"))
        .expect("late reply exported");
    assert!(
        lines[late].starts_with("    "),
        "indented as a reply: {}",
        lines[late]
    );
    assert!(
        lines[late - 1].contains("next day reply"),
        "after the thread's older replies"
    );
    assert_eq!(text.matches("old hand here").count(), 1, "no duplicates");
    assert!(lines.last().expect("line").contains("brand new message"));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_export_resumes_to_the_same_files() {
    // Rate limits on (sped up 20x) so the export takes seconds and can be killed half-way.
    let sim = sim(SimOptions {
        rate_scale: Some(20.0),
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["bitsafe-acme", "--format", "slack", "--resume"];
    let mut cmd = command(&sim.base_url(), dir.path(), "killed", &args);
    cmd.env("SLACK_RATE_SCALE", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let db = dir.path().join("killed.db");
    let stored_threads = move || -> i64 {
        let Ok(conn) = store::rusqlite::Connection::open(&db) else {
            return 0;
        };
        conn.query_row("SELECT COUNT(*) FROM export_threads", [], |r| r.get(0))
            .unwrap_or(0)
    };
    let total_threads =
        sim.with_workspace(|ws| ws.channel(ACME).expect("acme").thread_summaries().len() as i64);
    // The child is killed and waited on below; a panic before that ends the test run anyway.
    #[allow(clippy::zombie_processes)]
    let killed_at = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n = stored_threads();
            if n >= 5 || Instant::now() > deadline {
                child.kill().expect("kill");
                let status = child.wait().expect("wait");
                assert!(
                    !status.success(),
                    "the export finished before it could be killed"
                );
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("join");
    assert!(
        killed_at >= 5 && killed_at < total_threads,
        "killed mid-export ({killed_at}/{total_threads})"
    );
    assert!(!dir.path().join("killed/slack-export/users.json").exists());

    let before = sim.requests().len();
    let mut resume = command(&sim.base_url(), dir.path(), "killed", &args);
    resume.env("SLACK_RATE_SCALE", "20");
    let out = tokio::task::spawn_blocking(move || resume.output().expect("runs"))
        .await
        .expect("join");
    ok(&out);
    let refetched = replies_calls(&sim, before) as i64;
    assert!(
        refetched <= total_threads - killed_at,
        "threads stored before the kill were fetched again"
    );

    let mut full = command(
        &sim.base_url(),
        dir.path(),
        "full",
        &["bitsafe-acme", "--format", "slack"],
    );
    full.env("SLACK_RATE_SCALE", "20");
    let out = tokio::task::spawn_blocking(move || full.output().expect("runs"))
        .await
        .expect("join");
    ok(&out);
    assert_eq!(
        outputs(&dir.path().join("killed")),
        outputs(&dir.path().join("full"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn since_and_until_bound_top_level_messages() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "export-lab",
        "--format",
        "json",
        "--since",
        "2026-01-05T06:00:00Z",
        "--until",
        "2026-01-05",
    ];
    ok(&run(&sim, dir.path(), "out", &args).await);
    let messages: Vec<Value> =
        serde_json::from_str(&read(&dir.path().join("out/export-lab.json"))).expect("json array");
    let ts: Vec<&str> = messages
        .iter()
        .map(|m| m["ts"].as_str().expect("ts"))
        .collect();
    // The join (05:13) is before --since; a thread in the window comes whole, late replies included.
    assert_eq!(ts, [T_PARENT, T_REPLY1, T_REPLY2, T_BOT]);
    let history = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "conversations.history")
        .expect("history call");
    assert_eq!(
        history.params.get("oldest").map(String::as_str),
        Some("1767592800.000000")
    );
    assert_eq!(
        history.params.get("latest").map(String::as_str),
        Some("1767657599.999999")
    );

    let bad = run(
        &sim,
        dir.path(),
        "bad",
        &["export-lab", "--since", "yesterday-ish"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_all_in_scope_exports_every_scoped_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-export"));
    cmd.current_dir(dir.path())
        .args(["--demo", "--all-in-scope", "--format", "json", "--out"])
        .arg(dir.path().join("out"))
        .env_remove("SLACK_TOKEN")
        .env_remove("SLACK_API_BASE");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("join");
    ok(&out);
    let scope = roster::parse_categories(
        demo::CATEGORIES_JSON,
        Path::new("categories.json"),
        &roster::parse_team(demo::TEAM_JSON, Path::new("team.json")).expect("team"),
    )
    .expect("categories");
    let mut expected: Vec<String> = demo::workspace()
        .channels
        .iter()
        .filter(|c| !c.is_im && !c.is_mpim && scope.in_slack_scope(&c.name, c.is_archived))
        .flat_map(|c| [format!("{}.json", c.name), format!("{}.meta.json", c.name)])
        .collect();
    expected.sort();
    let files: Vec<String> = outputs(&dir.path().join("out")).into_keys().collect();
    assert!(expected.len() > 3, "{expected:?}");
    assert_eq!(files, expected);
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn json_summary_counts_messages_threads_and_files_per_channel() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["export-lab", "--format", "slack", "--resume", "--json"];
    let out = run(&sim, dir.path(), "out", &args).await;
    ok(&out);
    let doc = stdout_json(&out);
    assert_eq!(doc["format"], "slack");
    assert_eq!(doc["channels_exported"], 1);
    assert_eq!(doc["channels_failed"], 0);
    let lab = &doc["channels"][0];
    assert_eq!(lab["id"], LAB);
    assert_eq!(lab["name"], "export-lab");
    // Three top-level messages and two replies, all new; the one thread fetched.
    assert_eq!(lab["messages_exported"], 5, "{doc:#}");
    assert_eq!(lab["new_messages"], 5);
    assert_eq!(lab["threads_fetched"], 1);
    assert!(lab["error"].is_null());
    // Messages fall on 2026-01-05 and 2026-01-06: two day files.
    assert_eq!(lab["files_written"], 2);
    let on_disk = tree(&dir.path().join("out/slack-export")).len() as u64;
    assert_eq!(doc["files_written"].as_u64(), Some(on_disk), "{doc:#}");
    assert_eq!(doc["messages_exported"], 5);

    add_reply_and_message(&sim, LAB, T_PARENT);
    let resumed = run(
        &sim,
        dir.path(),
        "out",
        &[&args[..], &["--thread-lookback", "400"]].concat(),
    )
    .await;
    ok(&resumed);
    let doc = stdout_json(&resumed);
    let lab = &doc["channels"][0];
    assert_eq!(lab["messages_exported"], 7, "{doc:#}");
    assert_eq!(lab["new_messages"], 2);
    assert_eq!(lab["threads_fetched"], 1, "only the thread that moved");
}

#[tokio::test(flavor = "multi_thread")]
async fn many_channels_come_out_in_the_order_asked_and_whole_under_faults() {
    // More channels than are fetched at once, named in an order that is neither by ID nor by name:
    // the summary must list them as asked and every file must match a fault-free run.
    let clean = sim(SimOptions::default()).await;
    let faulty = sim(SimOptions {
        faults: 0.15,
        fault_seed: 5,
        ..SimOptions::default()
    })
    .await;
    let mut ids: Vec<String> = clean.with_workspace(|ws| {
        ws.channels
            .iter()
            .filter(|c| !c.is_archived && c.id != "C0LAB00002")
            .map(|c| c.id.clone())
            .collect()
    });
    assert!(
        ids.len() >= 8,
        "the demo workspace has {} channels",
        ids.len()
    );
    ids.sort();
    let half = ids.len() / 2;
    ids.rotate_left(half);
    ids.swap(0, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args: Vec<&str> = ids.iter().map(String::as_str).collect();
    args.extend(["--format", "json", "--json"]);
    let a = run(&clean, dir.path(), "clean", &args).await;
    ok(&a);
    let b = run(&faulty, dir.path(), "faulty", &args).await;
    ok(&b);
    for out in [&a, &b] {
        let doc = stdout_json(out);
        let listed: Vec<&str> = doc["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| c["id"].as_str().expect("id"))
            .collect();
        assert_eq!(listed, ids, "summary order");
        assert_eq!(doc["channels_exported"].as_u64(), Some(ids.len() as u64));
    }
    let files = outputs(&dir.path().join("clean"));
    // Each channel's messages and its metadata.
    assert_eq!(files.len(), 2 * ids.len());
    assert_eq!(files, outputs(&dir.path().join("faulty")));
    assert!(
        faulty.requests().iter().any(|r| r.fault.is_some()),
        "the faulty sim injected no faults"
    );
}

/// Files and directories under `root`: every file 0600, every directory 0700 (the run made them).
#[cfg(unix)]
fn assert_owner_only(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "{}: {mode:o}", root.display());
    for e in std::fs::read_dir(root).expect("readable dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            assert_owner_only(&p);
        } else {
            assert_owner_only_file(&p);
        }
    }
}

/// Exports hold customer messages: every format writes files only their owner reads, in
/// directories only the owner enters, whatever the umask the tool was started with.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn every_export_file_is_owner_only() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (out, extra) in [
        ("text", &[][..]),
        ("json", &["--format", "json"][..]),
        ("layout", &["--format", "slack"][..]),
        ("zipped", &["--format", "slack", "--zip"][..]),
    ] {
        let mut args = vec!["export-lab"];
        args.extend_from_slice(extra);
        ok(&run(&sim, dir.path(), out, &args).await);
        assert_owner_only(&dir.path().join(out));
        // The spool database the run made beside it.
        assert_owner_only_file(&dir.path().join(format!("{out}.db")));
    }
    assert!(dir.path().join("zipped/slack-export.zip").is_file());
}

#[cfg(unix)]
fn assert_owner_only_file(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{}: {mode:o}", path.display());
}

/// Temporary files a killed export left (a day file, the zip, a text file, from this version and
/// the one before) are removed at the next start; finished files are not touched.
#[tokio::test(flavor = "multi_thread")]
async fn temp_files_of_a_killed_run_are_removed_at_the_next_start() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let stale = [
        "slack-export.zip.partial",
        "export-lab.txt.partial",
        ".notes.txt.Ab12Cd.partial",
        "slack-export/users.json.partial",
        "slack-export/old-channel/2025-12-31.json.partial",
        "slack-export/old-channel/.2025-12-30.json.Xy9Zq1.partial",
    ];
    let real = ["notes.txt", "slack-export/old-channel/2025-12-31.json"];
    std::fs::create_dir_all(out.join("slack-export/old-channel")).expect("mkdir");
    for f in stale.iter().chain(&real) {
        std::fs::write(out.join(f), format!("planted {f}")).expect("plant");
    }
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["export-lab", "--format", "slack"],
    )
    .await);
    for f in stale {
        assert!(!out.join(f).exists(), "{f} is still there");
    }
    for f in real {
        assert_eq!(read(&out.join(f)), format!("planted {f}"), "{f}");
    }
    assert!(
        out.join("slack-export/export-lab/2026-01-05.json")
            .is_file()
    );
}

/// A later run with a narrower window replaces only what it fetched: day files outside its window
/// stay byte for byte, and so do the messages of a day the window cuts through.
#[tokio::test(flavor = "multi_thread")]
async fn narrower_slack_export_keeps_day_files_outside_its_window() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("out/slack-export/export-lab");
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["export-lab", "--format", "slack"],
    )
    .await);
    let wide = outputs(&root);
    assert_eq!(
        wide.keys().collect::<Vec<_>>(),
        ["2026-01-05.json", "2026-01-06.json"]
    );

    // From 09:30 on 2026-01-05 to the end of that day: only the bot message (10:46) is fetched.
    let narrow = [
        "export-lab",
        "--format",
        "slack",
        "--since",
        "2026-01-05T09:30:00Z",
        "--until",
        "2026-01-05",
    ];
    ok(&run(&sim, dir.path(), "out", &narrow).await);
    assert_eq!(outputs(&root), wide, "the narrower run changed files");

    // Inside its window a run has the truth: a message deleted in Slack leaves its day file.
    sim.with_workspace(|ws| {
        ws.channel_mut(LAB)
            .expect("lab")
            .messages
            .retain(|m| m["ts"] != T_BOT)
    });
    ok(&run(&sim, dir.path(), "out", &narrow).await);
    let after = outputs(&root);
    assert_eq!(after["2026-01-06.json"], wide["2026-01-06.json"]);
    let day1: Vec<Value> =
        serde_json::from_slice(&after["2026-01-05.json"]).expect("day 1 is JSON");
    let ts: Vec<&str> = day1.iter().map(|m| m["ts"].as_str().expect("ts")).collect();
    assert_eq!(ts, [T_JOIN, T_PARENT, T_REPLY1]);

    // Without a window a run owns the whole channel, as before.
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["export-lab", "--format", "slack"],
    )
    .await);
    let full = outputs(&root);
    assert_eq!(full["2026-01-06.json"], wide["2026-01-06.json"]);
    assert_eq!(full["2026-01-05.json"], after["2026-01-05.json"]);
}

/// `con`, `nul` and `com1` are valid Slack channel names and Windows device names: their files
/// get a `_` so the export opens on Windows too.
#[tokio::test(flavor = "multi_thread")]
async fn windows_device_channel_names_are_escaped() {
    let sim = sim(SimOptions::default()).await;
    sim.with_workspace(|ws| {
        for (id, name) in [("C0CON00001", "con"), ("C0COM00001", "com1")] {
            ws.channels.push(Channel {
                id: id.into(),
                name: name.into(),
                created: 1_767_000_000,
                creator: "U0DEMOOPS".into(),
                members: vec!["U0DEMOOPS".into()],
                messages: vec![
                    json!({"type": "message", "ts": T_PARENT, "user": "U0DEMOOPS", "text": "hi"}),
                ],
                ..Channel::default()
            });
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(&sim, dir.path(), "out", &["con", "com1"]).await);
    let files: Vec<String> = outputs(&dir.path().join("out")).into_keys().collect();
    assert_eq!(files, ["com1_.txt", "con_.txt"]);
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_exported_messages_newest_first_and_exits_like_grep() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The json format: the index does not depend on the text format's rendering.
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["#export-lab", "--format", "json"],
    )
    .await);

    let found = run(&sim, dir.path(), "out", &["search", "plan"]).await;
    ok(&found);
    assert_eq!(
        stdout(&found),
        "#export-lab  2026-01-05 08:00  Aki: [[Plan]] for @Maria, see #bitsafe-acme & the doc (https://x.example) [file: [[plan]].pdf]\n"
    );
    // Replies and top-level messages alike, newest first; names resolved in sender and text.
    let replies = run(&sim, dir.path(), "out", &["search", "reply", "OR", "hand"]).await;
    ok(&replies);
    assert_eq!(
        stdout(&replies),
        "#export-lab  2026-01-06 09:00  Maria: next day [[reply]]\n\
         #export-lab  2026-01-05 09:00  Gina Howe (former) (deleted): old [[hand]] here\n"
    );
    let by_name = run(&sim, dir.path(), "out", &["search", "maria"]).await;
    ok(&by_name);
    assert!(
        stdout(&by_name).contains("[[Maria]]"),
        "{}",
        stdout(&by_name)
    );

    // Filters: sender, channel, dates.
    let from = run(
        &sim,
        dir.path(),
        "out",
        &["search", "reply OR hand", "--from", "maria"],
    )
    .await;
    assert_eq!(stdout(&from).lines().count(), 1, "{}", stdout(&from));
    let other_channel = run(
        &sim,
        dir.path(),
        "out",
        &["search", "plan", "--channel", "general"],
    )
    .await;
    assert_eq!(other_channel.status.code(), Some(1));
    let until = run(
        &sim,
        dir.path(),
        "out",
        &["search", "reply OR hand", "--until", "2026-01-05"],
    )
    .await;
    assert_eq!(stdout(&until).lines().count(), 1, "{}", stdout(&until));
    assert!(stdout(&until).contains("old [[hand]]"));

    let json = run(&sim, dir.path(), "out", &["search", "deploy", "--json"]).await;
    ok(&json);
    let hits = stdout_json(&json);
    assert_eq!(hits[0]["conversation_id"], LAB);
    assert_eq!(hits[0]["sender_name"], "Deploy Bot");
    assert_eq!(hits[0]["text"], "Deploy done");
    assert_eq!(hits[0]["time"], "2026-01-05T10:46:40+00:00");
    assert_eq!(hits[0]["matches"], json!([[0, 6]]));

    let none = run(&sim, dir.path(), "out", &["search", "zebra"]).await;
    assert_eq!(none.status.code(), Some(1), "nothing found exits 1");
    assert_eq!(stdout(&none), "");

    let bad = run(&sim, dir.path(), "out", &["search", "\"unclosed"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("hint:"), "{}", stderr(&bad));

    // A later export of an edited message updates the index: the old wording is gone.
    sim.with_workspace(|ws| {
        let c = ws.channel_mut(LAB).expect("channel");
        let bot = c
            .messages
            .iter_mut()
            .find(|m| m["ts"] == T_BOT)
            .expect("bot message");
        bot["text"] = json!("Rollback done");
    });
    ok(&run(
        &sim,
        dir.path(),
        "out",
        &["#export-lab", "--format", "json"],
    )
    .await);
    let old = run(&sim, dir.path(), "out", &["search", "deploy"]).await;
    assert_eq!(old.status.code(), Some(1), "{}", stdout(&old));
    ok(&run(&sim, dir.path(), "out", &["search", "rollback"]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_without_a_store_is_a_usage_error() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&sim, dir.path(), "out", &["search", "plan"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
    assert!(
        !dir.path().join("out.db").exists(),
        "searching creates no store"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_index_leaves_the_search_index_alone() {
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&run(&sim, dir.path(), "out", &["#export-lab", "--no-index"]).await);
    let none = run(&sim, dir.path(), "out", &["search", "plan"]).await;
    assert_eq!(none.status.code(), Some(1), "{}", stdout(&none));
    // A later export without it catches up on everything in the spool.
    ok(&run(&sim, dir.path(), "out", &["#export-lab", "--resume"]).await);
    ok(&run(&sim, dir.path(), "out", &["search", "plan"]).await);
}

/// `--db postgres://...`: the export and --resume on PostgreSQL write the same files as on
/// SQLite, fetch only what is new, and search finds the messages; the URL's password shows
/// nowhere (stdout, stderr, output files).
#[tokio::test(flavor = "multi_thread")]
async fn postgres_store_resumes_searches_and_writes_the_same_files_as_sqlite() {
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let url = std::ffi::OsString::from(pg.url());
    let password = url_password(pg.url());
    let sim = sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs_seen: Vec<Output> = Vec::new();
    let run_pg = |out: &str, args: &[&str]| {
        let mut cmd = command_on(&sim.base_url(), dir.path(), out, &url, args);
        async move {
            tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
                .await
                .expect("join")
        }
    };
    let formats = ["text", "slack", "json"];
    for format in formats {
        let args = ["export-lab", "--format", format, "--resume", "--json"];
        let out = run_pg(&format!("pg-{format}"), &args).await;
        ok(&out);
        let lab = &stdout_json(&out)["channels"][0];
        assert_eq!(lab["new_messages"], 5, "{format}: {lab:#}");
        outputs_seen.push(out);
        ok(&run(&sim, dir.path(), &format!("lite-{format}"), &args).await);
    }
    add_reply_and_message(&sim, LAB, T_PARENT);
    for format in formats {
        let args = [
            "export-lab",
            "--format",
            format,
            "--resume",
            "--json",
            "--thread-lookback",
            "400",
        ];
        let before = sim.requests().len();
        let out = run_pg(&format!("pg-{format}"), &args).await;
        ok(&out);
        let lab = &stdout_json(&out)["channels"][0];
        // The reply and the new top-level message only; only the thread that moved.
        assert_eq!(lab["new_messages"], 2, "{format}: {lab:#}");
        assert_eq!(lab["messages_exported"], 7, "{format}: {lab:#}");
        assert_eq!(replies_calls(&sim, before), 1, "{format}");
        outputs_seen.push(out);
        ok(&run(&sim, dir.path(), &format!("lite-{format}"), &args).await);
        let on_pg = outputs(&dir.path().join(format!("pg-{format}")));
        assert!(!on_pg.is_empty(), "{format}: files written");
        assert_eq!(
            on_pg,
            outputs(&dir.path().join(format!("lite-{format}"))),
            "{format}: the export on PostgreSQL differs from the one on SQLite"
        );
    }

    // Search reads the same index on PostgreSQL (the json export above filled it).
    let search_pg = |args: &[&str]| run_pg("pg-json", args);
    let found = search_pg(&["search", "plan"]).await;
    ok(&found);
    assert_eq!(
        stdout(&found),
        "#export-lab  2026-01-05 08:00  Aki: [[Plan]] for @Maria, see #bitsafe-acme & the doc (https://x.example) [file: [[plan]].pdf]\n"
    );
    let replies = search_pg(&["search", "reply OR hand", "--from", "maria"]).await;
    ok(&replies);
    assert_eq!(
        stdout(&replies),
        "#export-lab  2026-01-06 09:00  Maria: next day [[reply]]\n"
    );
    let late = search_pg(&["search", "late", "--until", "2026-01-05"]).await;
    assert_eq!(late.status.code(), Some(1), "{}", stdout(&late));
    let bad = search_pg(&["search", "\"unclosed"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("hint:"), "{}", stderr(&bad));
    outputs_seen.extend([found, replies, late, bad]);

    for out in &outputs_seen {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(&password),
                "the password shows in the output"
            );
        }
    }
    for (name, bytes) in tree(dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "the password is in {name}"
        );
    }
}
