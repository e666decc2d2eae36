//! End-to-end, the archive standing on its own: `--files` (downloaded once, linked, resumable,
//! gone files listed, size cap, the token nowhere), Slack Connect people looked up once across
//! runs and named in every format, `--dms`, and channel metadata with pins. The real binary
//! against an in-process slack-sim over loopback, real SQLite files, temp dirs.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, TopicField, Workspace, file_content};

const TOKEN: &str = "xoxp-archive-test-5ecret";
const LAB: &str = "C0FILES001";
const DM: &str = "D0DM000001";
const MPIM: &str = "C0MPIM0001";
const EXT: &str = "U0EXT00001";
const GHOST: &str = "U0GHOST001";
const OPS: &str = "U0DEMOOPS";

const T1: &str = "1767600000.000100";
const T2: &str = "1767600100.000100";
const T3: &str = "1767600200.000100";
const T4: &str = "1767600300.000100";

const SMALL: u64 = 3_000;
const BIG: u64 = 50_000;

fn file(id: &str, name: &str, size: u64) -> Value {
    // Slack percent-encodes the name in its URLs.
    let url_name = name.replace('/', "%2F");
    json!({"id": id, "name": name, "title": name, "mimetype": "application/pdf", "filetype": "pdf",
           "size": size, "mode": "hosted",
           "url_private": format!("https://files.slack.com/files-pri/T0DEMO-{id}/{url_name}"),
           "url_private_download": format!("https://files.slack.com/files-pri/T0DEMO-{id}/download/{url_name}")})
}

/// The demo workspace plus a channel with files (one attached twice, one big, gone ones), a
/// Slack Connect person only users.info knows, an ID nobody knows, a pin, a DM and a group DM.
fn workspace() -> Workspace {
    let mut ws = demo::workspace();
    ws.users.push(json!({
        "id": EXT, "team_id": "T0OTHER001", "name": "zara.ext", "deleted": false,
        "is_bot": false, "is_stranger": false, "real_name": "Zara Outside",
        "profile": {"real_name": "Zara Outside", "display_name": "Zara (Customer)", "team": "T0OTHER001"}
    }));
    let members: Vec<String> = [OPS, "U0DEMOAKI", EXT].map(String::from).to_vec();
    ws.channels.push(Channel {
        id: LAB.into(),
        name: "files-lab".into(),
        created: 1_767_000_000,
        creator: "U0DEMOAKI".into(),
        is_ext_shared: true,
        is_shared: true,
        topic: TopicField {
            value: "Quarterly files".into(),
            creator: "U0DEMOAKI".into(),
            last_set: 1_767_000_100,
        },
        purpose: TopicField {
            value: "Shared with the customer".into(),
            creator: "U0DEMOAKI".into(),
            last_set: 1_767_000_100,
        },
        members,
        messages: vec![
            json!({"type": "message", "ts": T1, "user": "U0DEMOAKI", "text": "the report",
                   "files": [file("F0SMALL001", "report.pdf", SMALL)], "pinned_to": [LAB]}),
            json!({"type": "message", "ts": T2, "user": EXT,
                   "text": "again, and the big one for <@U0DEMOAKI>",
                   "files": [file("F0SMALL001", "report.pdf", SMALL), file("F0BIG00001", "big.bin", BIG)],
                   "reactions": [{"name": "eyes", "users": [GHOST], "count": 1}]}),
            json!({"type": "message", "ts": T3, "user": "U0DEMOAKI", "text": "gone ones, cc <@U0EXT00001>",
                   "files": [{"id": "F0TOMB0001", "mode": "tombstone"},
                             {"id": "F0HIDDEN01", "mode": "hidden_by_limit"},
                             file("F0DELETED1", "deleted.pdf", 100)]}),
            json!({"type": "message", "ts": T4, "user": "U0DEMOAKI", "text": "../../escape",
                   "files": [file("F0ESCAPE01", "../../escape.pdf", 10),
                             {"id": "F0OUTSIDE1", "name": "elsewhere.pdf", "size": 10,
                              "url_private": "https://files.evil.example/F0OUTSIDE1/elsewhere.pdf"}]}),
        ],
        ..Channel::default()
    });
    ws.channels.push(Channel {
        id: DM.into(),
        name: "U0DEMOAKI".into(),
        is_im: true,
        is_private: true,
        created: 1_767_000_000,
        user: Some("U0DEMOAKI".into()),
        members: vec![OPS.into(), "U0DEMOAKI".into()],
        messages: vec![json!({"type": "message", "ts": T1, "user": "U0DEMOAKI", "text": "psst"})],
        ..Channel::default()
    });
    ws.channels.push(Channel {
        id: MPIM.into(),
        name: "mpdm-ops--aki--mar-1".into(),
        is_mpim: true,
        is_private: true,
        created: 1_767_000_000,
        creator: OPS.into(),
        members: vec![OPS.into(), "U0DEMOAKI".into(), "U0DEMOMAR".into()],
        messages: vec![
            json!({"type": "message", "ts": T1, "user": "U0DEMOMAR", "text": "group hi"}),
        ],
        ..Channel::default()
    });
    ws
}

async fn sim_with(scopes: Option<&[&str]>) -> SimHandle {
    let s = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        workspace(),
        SimOptions {
            token: TOKEN.into(),
            scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim starts");
    // Deleted after its message was posted: the message still carries it, Slack answers 404.
    s.delete_file("F0DELETED1");
    s
}

async fn sim() -> SimHandle {
    sim_with(None).await
}

/// Runs the binary (off the runtime serving the sim); `out` is under `dir`, the store beside it.
async fn run(sim: &SimHandle, dir: &Path, out: &str, db: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-export"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--tz", "UTC", "--out"])
        .arg(dir.join(out))
        .arg("--db")
        .arg(dir.join(db))
        .env("SLACK_API_BASE", sim.base_url())
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "off")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn ok(out: &Output) {
    assert_eq!(
        code(out),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn downloads(sim: &SimHandle, id: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "files-pri" && r.params.get("file").map(String::as_str) == Some(id))
        .count()
}

/// Every file under `root` (recursively) whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .expect("read")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

fn missing_ids(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["files_missing"]
        .as_array()
        .expect("files_missing")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().expect("id").to_string(),
                // `refused: <why>` compared by its kind.
                m["reason"]
                    .as_str()
                    .expect("reason")
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn files_download_once_link_from_every_format_and_resume_by_size() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");

    let first = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--format", "json", "--files", "--json", "-v"],
    )
    .await;
    ok(&first);
    let doc = summary(&first);
    assert_eq!(doc["files_downloaded"], 3, "{doc:#}");
    assert_eq!(doc["files_skipped_existing"], 0);
    assert_eq!(
        missing_ids(&doc),
        [
            ("F0DELETED1".to_string(), "not_found".to_string()),
            ("F0HIDDEN01".to_string(), "hidden_by_limit".to_string()),
            // A URL outside Slack: the token is not sent there.
            ("F0OUTSIDE1".to_string(), "refused".to_string()),
            ("F0TOMB0001".to_string(), "tombstone".to_string()),
        ]
    );
    assert_eq!(doc["files_failed"], json!([]));
    // Byte for byte what the sim serves; attached twice, downloaded once.
    let small = out.join("files/F0SMALL001/report.pdf");
    assert_eq!(
        std::fs::read(&small).expect("small"),
        file_content("F0SMALL001", SMALL)
    );
    assert_eq!(
        std::fs::read(out.join("files/F0BIG00001/big.bin")).expect("big"),
        file_content("F0BIG00001", BIG)
    );
    assert_eq!(downloads(&sim, "F0SMALL001"), 1);
    // A hostile name stays inside files/<ID>/.
    assert!(out.join("files/F0ESCAPE01/_.._escape.pdf").is_file());
    assert!(!dir.path().join("escape.pdf").exists());
    // JSON carries local_path beside the Slack URL; the text line names the copy.
    let messages: Vec<Value> =
        serde_json::from_str(&read(&out.join("files-lab.json"))).expect("json");
    let f = &messages[1]["files"][1];
    assert_eq!(f["local_path"], "files/F0BIG00001/big.bin");
    assert!(
        f["url_private"]
            .as_str()
            .expect("url")
            .contains("/files-pri/")
    );
    assert!(
        messages[2]["files"][0].get("local_path").is_none(),
        "a tombstone has no copy"
    );

    // The token is in no output file and not in the -v log or the summary.
    assert_eq!(
        files_containing(&out, TOKEN.as_bytes()),
        Vec::<String>::new()
    );
    assert!(!String::from_utf8_lossy(&first.stderr).contains(TOKEN));
    assert!(!String::from_utf8_lossy(&first.stdout).contains(TOKEN));

    // A rerun finds them whole and downloads nothing.
    let before = sim.requests().len();
    let again = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--format", "json", "--files", "--json", "--resume"],
    )
    .await;
    ok(&again);
    let doc = summary(&again);
    assert_eq!(
        (
            doc["files_downloaded"].as_u64(),
            doc["files_skipped_existing"].as_u64()
        ),
        (Some(0), Some(3))
    );
    assert!(
        !sim.requests()[before..]
            .iter()
            .any(|r| r.method == "files-pri" && r.status == 200)
    );

    // A file cut short (a run killed midway, or a copy damaged) is fetched again whole.
    let big = out.join("files/F0BIG00001/big.bin");
    std::fs::write(&big, &file_content("F0BIG00001", BIG)[..1000]).expect("truncate");
    // And a download a killed run left under its temporary name is cleared away.
    let stale = out.join("files/F0BIG00001/.big.bin.k1ll3d.partial");
    std::fs::write(&stale, b"half").expect("stale temp");
    let redo = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--format", "json", "--files", "--json"],
    )
    .await;
    ok(&redo);
    assert!(
        !stale.exists(),
        "the killed run's temporary file is removed"
    );
    let doc = summary(&redo);
    assert_eq!(
        (
            doc["files_downloaded"].as_u64(),
            doc["files_skipped_existing"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(
        std::fs::read(&big).expect("big"),
        file_content("F0BIG00001", BIG)
    );
    assert_eq!(downloads(&sim, "F0BIG00001"), 2);

    // Text and the slack layout link to the copies too.
    let text = run(&sim, dir.path(), "text", "text.db", &[LAB, "--files"]).await;
    ok(&text);
    let txt = read(&dir.path().join("text/files-lab.txt"));
    assert!(
        txt.contains("[file: report.pdf -> files/F0SMALL001/report.pdf]"),
        "{txt}"
    );
    assert!(txt.contains("[file: F0TOMB0001 (deleted)]"), "{txt}");
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(
        stderr.contains("F0TOMB0001") && stderr.contains("tombstone"),
        "{stderr}"
    );
    let layout = run(
        &sim,
        dir.path(),
        "layout",
        "layout.db",
        &[LAB, "--files", "--format", "slack"],
    )
    .await;
    ok(&layout);
    let root = dir.path().join("layout/slack-export");
    assert_eq!(
        std::fs::read(root.join("files/F0SMALL001/report.pdf")).expect("copy in the layout"),
        file_content("F0SMALL001", SMALL)
    );
    let day: Vec<Value> =
        serde_json::from_str(&read(&root.join("files-lab/2026-01-05.json"))).expect("day");
    assert_eq!(
        day[0]["files"][0]["local_path"],
        "files/F0SMALL001/report.pdf"
    );
    assert_eq!(
        files_containing(dir.path(), TOKEN.as_bytes()),
        Vec::<String>::new()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_file_size_skips_big_files_and_needs_files() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--files", "--max-file-size", "10KB", "--json"],
    )
    .await;
    ok(&out);
    let doc = summary(&out);
    assert_eq!(
        doc["files_too_large"],
        json!([{"id": "F0BIG00001", "name": "big.bin", "size": BIG}])
    );
    assert_eq!(doc["files_downloaded"], 2);
    assert!(!dir.path().join("out/files/F0BIG00001").exists());
    assert_eq!(downloads(&sim, "F0BIG00001"), 0);

    let usage = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--max-file-size", "10KB"],
    )
    .await;
    assert_eq!(code(&usage), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--files"));
    let usage = run(
        &sim,
        dir.path(),
        "out",
        "out.db",
        &[LAB, "--files", "--max-file-size", "lots"],
    )
    .await;
    assert_eq!(code(&usage), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("hint:"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_people_are_looked_up_once_and_named_in_every_format() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let info_calls = |sim: &SimHandle, id: &str| {
        sim.requests()
            .iter()
            .filter(|r| {
                r.method == "users.info" && r.params.get("user").map(String::as_str) == Some(id)
            })
            .count()
    };

    let text = run(&sim, dir.path(), "text", "shared.db", &[LAB, "--json"]).await;
    ok(&text);
    let doc = summary(&text);
    assert_eq!(doc["users_unresolved"], json!([GHOST]));
    let txt = read(&dir.path().join("text/files-lab.txt"));
    assert!(txt.contains("Zara (Customer): again"), "{txt}");
    assert!(txt.contains("cc @Zara (Customer)"), "{txt}");
    assert!(!txt.contains(&format!("unknown user {EXT}")), "{txt}");
    assert_eq!(info_calls(&sim, EXT), 1);
    assert_eq!(info_calls(&sim, GHOST), 1);

    // Another run on the same store: answered from the cache, found and not found alike.
    let json_run = run(
        &sim,
        dir.path(),
        "json",
        "shared.db",
        &[LAB, "--format", "json", "--json"],
    )
    .await;
    ok(&json_run);
    assert_eq!(summary(&json_run)["users_looked_up"], 0);
    assert_eq!(info_calls(&sim, EXT), 1);
    assert_eq!(info_calls(&sim, GHOST), 1);
    let meta: Value =
        serde_json::from_str(&read(&dir.path().join("json/files-lab.meta.json"))).expect("meta");
    assert_eq!(meta["users"][EXT], "Zara (Customer)");
    assert!(
        meta["members"]
            .as_array()
            .expect("members")
            .contains(&json!({"id": EXT, "name": "Zara (Customer)"}))
    );

    let layout = run(
        &sim,
        dir.path(),
        "layout",
        "shared.db",
        &[LAB, "--format", "slack"],
    )
    .await;
    ok(&layout);
    let users: Vec<Value> =
        serde_json::from_str(&read(&dir.path().join("layout/slack-export/users.json")))
            .expect("users");
    let ext = users
        .iter()
        .find(|u| u["id"] == EXT)
        .expect("the Connect person is in users.json");
    assert_eq!(ext["team_id"], "T0OTHER001");
    assert_eq!(info_calls(&sim, EXT), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dms_and_channel_metadata_in_the_slack_layout_and_json() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = run(
        &sim,
        dir.path(),
        "layout",
        "l.db",
        &[LAB, "--dms", "--format", "slack"],
    )
    .await;
    ok(&layout);
    let root = dir.path().join("layout/slack-export");
    let dms: Vec<Value> = serde_json::from_str(&read(&root.join("dms.json"))).expect("dms");
    assert_eq!(
        dms,
        vec![json!({"id": DM, "created": 1_767_000_000, "members": [OPS, "U0DEMOAKI"]})]
    );
    assert!(
        root.join(DM).join("2026-01-05.json").is_file(),
        "DM folders are by ID"
    );
    let mpims: Vec<Value> = serde_json::from_str(&read(&root.join("mpims.json"))).expect("mpims");
    assert_eq!(mpims.len(), 1);
    assert_eq!(mpims[0]["name"], "mpdm-ops--aki--mar-1");
    assert_eq!(mpims[0]["members"], json!([OPS, "U0DEMOAKI", "U0DEMOMAR"]));
    let channels: Vec<Value> =
        serde_json::from_str(&read(&root.join("channels.json"))).expect("channels");
    let lab = channels
        .iter()
        .find(|c| c["id"] == LAB)
        .expect("lab listed");
    assert_eq!(lab["topic"]["value"], "Quarterly files");
    assert_eq!(lab["purpose"]["value"], "Shared with the customer");
    assert_eq!(lab["creator"], "U0DEMOAKI");
    assert_eq!(lab["created"], 1_767_000_000);
    assert_eq!(
        lab["pins"],
        json!([{"id": T1, "type": "C", "created": 1_767_600_060, "user": "U0DEMOAKI", "owner": "U0DEMOAKI"}])
    );

    // Text: DMs named after the other people.
    let text = run(&sim, dir.path(), "text", "t.db", &["--dms"]).await;
    ok(&text);
    let dm = read(&dir.path().join("text/dm-Aki.txt"));
    assert!(dm.starts_with("# DM with Aki"), "{dm}");
    let group = read(&dir.path().join("text/mpdm-ops--aki--mar-1.txt"));
    assert!(
        group
            .lines()
            .next()
            .is_some_and(|l| l.contains("Group DM") && l.contains("Aki")),
        "{group}"
    );

    // JSON: <channel>.meta.json beside the messages, members and creator with names, pins.
    let json_run = run(&sim, dir.path(), "json", "j.db", &[LAB, "--format", "json"]).await;
    ok(&json_run);
    let meta: Value =
        serde_json::from_str(&read(&dir.path().join("json/files-lab.meta.json"))).expect("meta");
    assert_eq!(meta["creator"]["id"], "U0DEMOAKI");
    assert_eq!(meta["topic"]["value"], "Quarterly files");
    assert_eq!(meta["pins"][0]["message"]["ts"], T1);
    assert_eq!(meta["members"].as_array().expect("members").len(), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dms_without_their_history_scope_fail_naming_it() {
    let scopes = [
        "channels:read",
        "groups:read",
        "im:read",
        "mpim:read",
        "users:read",
        "channels:history",
        "groups:history",
        "mpim:history",
        "pins:read",
    ];
    let sim = sim_with(Some(&scopes)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&sim, dir.path(), "out", "o.db", &["--dms"]).await;
    assert_ne!(code(&out), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("im:history"), "{stderr}");
    sim.shutdown().await;
}
