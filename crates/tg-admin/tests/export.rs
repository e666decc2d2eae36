//! End-to-end tests of `tg-admin export` (issue 13): media downloads, `--resume` (also after a
//! kill), Telegram Desktop's layout and `--all-in-scope`, through the real binary, a fixture
//! account and the real SQLite store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use store::test_db::url_password;

const CHAT: i64 = -1_001_234_567_890;
const STEM: &str = "iBTC __ Acme";

fn fixture(extra_top: &str, extra_messages: &str) -> String {
    format!(
        r#"{{"me": {{"id": 1000, "username": "opsdesk", "first_name": "Ops"}},
 "users": [{{"id": 6, "username": "nftaddie", "first_name": "Addie", "last_name": "Ng"}},
           {{"id": 8, "username": "cust", "first_name": "Cara", "last_name": "Cust"}}],
 "max_page": 2,
 {extra_top}
 "chats": [
  {{"id": {CHAT}, "title": "iBTC <> Acme", "kind": "supergroup",
   "participants": [{{"user": 1000, "role": "creator"}}, {{"user": 6, "role": "member"}}, {{"user": 8, "role": "member"}}],
   "messages": [
     {{"id": 1, "from": 8, "date": "2026-11-18T09:00:00Z", "text": "hi"}},
     {{"id": 2, "from": 6, "date": "2026-11-18T09:05:00Z", "text": "the photo", "reply_to": 1,
       "media": {{"kind": "photo", "mime_type": "image/jpeg", "size": 70000, "width": 800, "height": 600}}}},
     {{"id": 3, "from": 8, "date": "2026-11-18T09:06:00Z", "text": "",
       "media": {{"kind": "voice", "mime_type": "audio/ogg", "size": 3000, "duration_seconds": 4}}}},
     {{"id": 4, "from": 6, "date": "2026-11-18T09:07:00Z", "text": "contract",
       "media": {{"kind": "document", "file_name": "../../etc/passwd", "mime_type": "application/pdf", "size": 5000}}}},
     {{"id": 5, "from": 8, "date": "2026-11-18T09:08:00Z", "text": "demo",
       "media": {{"kind": "video", "file_name": "demo.mp4", "mime_type": "video/mp4", "size": 200000, "duration_seconds": 12, "width": 1280, "height": 720}}}},
     {{"id": 6, "from": 6, "date": "2026-11-18T09:09:00Z", "text": "report",
       "media": {{"kind": "document", "file_name": "report.pdf", "mime_type": "application/pdf", "size": 100}}}},
     {{"id": 7, "from": 8, "date": "2026-11-18T09:10:00Z", "text": "report again",
       "media": {{"kind": "document", "file_name": "REPORT.pdf", "mime_type": "application/pdf", "size": 120}}}},
     {{"id": 8, "from": null, "date": "2026-11-18T09:11:00Z", "text": "announcement"}}
     {extra_messages}]}},
  {{"id": -1002, "title": "iBTC <> Globex", "kind": "group",
   "participants": [{{"user": 1000, "role": "admin"}}, {{"user": 6, "role": "member"}}],
   "messages": [{{"id": 1, "from": 6, "date": "2026-11-18T10:00:00Z", "text": "globex"}}]}},
  {{"id": -1003, "title": "Cust news", "kind": "channel",
   "participants": [{{"user": 1000, "role": "admin"}}, {{"user": 8, "role": "member"}}],
   "messages": [{{"id": 1, "from": null, "date": "2026-11-18T10:00:00Z", "text": "news"}}]}}]}}"#
    )
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(json: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tg.json"), json).expect("write fixture");
        Env { dir }
    }

    fn fixture_path(&self) -> PathBuf {
        self.dir.path().join("tg.json")
    }

    fn set_fixture(&self, json: &str) {
        std::fs::write(self.fixture_path(), json).expect("write fixture");
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tg-admin"));
        cmd.args([
            "--out",
            self.out().to_str().expect("utf8"),
            "--config",
            self.dir.path().to_str().expect("utf8"),
        ])
        .args(args)
        .env("TELEGRAM_FIXTURE", self.fixture_path())
        .env_remove("RUST_LOG")
        .current_dir(self.dir.path())
        .stdin(Stdio::null());
        cmd
    }

    /// Started in the background, output discarded (for the tests that kill it midway).
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tg-admin")
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out().join(rel))
            .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn media_bytes(message: i64, size: u64) -> Vec<u8> {
    telegram::fixture_media_bytes(CHAT, message, size)
}

/// Every file under `dir`, relative, sorted, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        // Tolerant: polled while a run creates and renames files.
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path
                    .strip_prefix(base)
                    .expect("under base")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, bytes));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The export files (not the store, its WAL, or the Excel reports, which carry times).
fn export_tree(out: &Path) -> Vec<(String, Vec<u8>)> {
    tree(out)
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("slack-tools.db") && !rel.starts_with("tg-admin"))
        .collect()
}

#[test]
fn media_is_downloaded_named_safely_linked_and_not_fetched_again() {
    let env = Env::new(&fixture("", ""));
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--media",
        "photo,document,voice,video",
        "--max-file-size",
        "100K",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let media_dir = format!("{STEM}_media");
    // Exact bytes, under the chat's media folder.
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join("2_photo.jpg")).expect("photo"),
        media_bytes(2, 70000)
    );
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join("3_voice.ogg")).expect("voice"),
        media_bytes(3, 3000)
    );
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join("6_report.pdf")).expect("report"),
        media_bytes(6, 100)
    );
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join("7_REPORT.pdf")).expect("REPORT"),
        media_bytes(7, 120)
    );
    // "../../etc/passwd" stays inside the media folder, without separators or "..".
    let names: Vec<String> = std::fs::read_dir(env.out().join(&media_dir))
        .expect("media dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let doc = names
        .iter()
        .find(|n| n.starts_with("4_"))
        .expect("document saved");
    assert!(!doc.contains("..") && !doc.contains('/'), "{doc}");
    assert!(doc.ends_with("etc_passwd"), "{doc}");
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join(doc)).expect("doc"),
        media_bytes(4, 5000)
    );
    // The video is larger than --max-file-size: listed, not downloaded.
    assert!(!names.iter().any(|n| n.starts_with("5_")), "{names:?}");
    assert_eq!(names.len(), 5, "{names:?}");
    // Owner-only, like everything the tools write.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: PathBuf| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(env.out().join(&media_dir)), 0o700);
        assert_eq!(mode(env.out().join(&media_dir).join("2_photo.jpg")), 0o600);
    }

    let text = env.read(&format!("{STEM}.txt"));
    assert!(
        text.contains(&format!(
            "    2026-11-18 09:05  Addie Ng: the photo [photo: {media_dir}/2_photo.jpg]"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Cara Cust: [voice: {media_dir}/3_voice.ogg]")),
        "{text}"
    );
    assert!(
        text.contains(
            "Cara Cust: demo [video demo.mp4: not downloaded (larger than --max-file-size)]"
        ),
        "{text}"
    );
    assert!(text.contains("(anonymous): announcement"), "{text}");

    // JSON of the same chat: the relative path beside Telegram's metadata.
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--format",
        "json",
        "--media",
        "--max-file-size",
        "100K",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&env.read(&format!("{STEM}.json"))).expect("json");
    let msgs = v["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 8);
    assert_eq!(msgs[1]["media"]["kind"], "photo");
    assert_eq!(msgs[1]["media"]["size"], 70000);
    assert_eq!(msgs[1]["media"]["path"], format!("{media_dir}/2_photo.jpg"));
    assert_eq!(msgs[1]["from"]["username"], "nftaddie");
    assert_eq!(msgs[4]["media"]["path"], serde_json::Value::Null);
    assert_eq!(
        msgs[4]["media"]["note"],
        "not downloaded (larger than --max-file-size)"
    );
    assert_eq!(msgs[0].get("media"), None);

    // A rerun skips files already complete: a download now would fail (fault), yet it succeeds
    // and adds the new message's photo.
    env.set_fixture(&fixture(
        r#""faults": [{"op": "download_media", "message": 2, "times": 9},
                      {"op": "download_media", "message": 4, "times": 9}],"#,
        r#", {"id": 9, "from": 6, "date": "2026-11-19T09:00:00Z", "text": "new photo",
             "media": {"kind": "photo", "mime_type": "image/jpeg", "size": 900}}"#,
    ));
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--resume",
        "--media",
        "photo,document,voice,video",
        "--max-file-size",
        "100K",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(env.out().join(&media_dir).join("9_photo.jpg")).expect("new photo"),
        media_bytes(9, 900)
    );
    let text = env.read(&format!("{STEM}.txt"));
    assert!(
        text.contains(&format!(
            "Addie Ng: new photo [photo: {media_dir}/9_photo.jpg]"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("[photo: {media_dir}/2_photo.jpg]")),
        "{text}"
    );
}

fn temp_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .map(|(rel, _)| rel)
        .filter(|rel| rel.ends_with(".partial"))
        .collect()
}

#[test]
fn a_download_cut_off_midway_is_never_kept_and_is_redone() {
    // Cut twice: the run's one retry is cut as well.
    let env = Env::new(&fixture(
        r#""faults": [{"op": "download_media", "message": 2, "cut_after_bytes": 1000, "times": 2}],"#,
        "",
    ));
    let args = [
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--media",
        "photo",
    ];
    let o = env.run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let photo = env.out().join(format!("{STEM}_media/2_photo.jpg"));
    assert!(!photo.exists(), "a cut-off download was kept");
    assert_eq!(temp_files(&env.out()), Vec::<String>::new());
    let text = env.read(&format!("{STEM}.txt"));
    assert!(
        text.contains("[photo: download failed: connection to Telegram failed: downloading the media of message 2"),
        "{text}"
    );
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));

    // The fault is used up: a resumed run downloads it whole.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = env.run(&resume);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&photo).expect("photo"), media_bytes(2, 70000));
    assert!(
        env.read(&format!("{STEM}.txt"))
            .contains(&format!("[photo: {STEM}_media/2_photo.jpg]"))
    );

    // Cut once only: the retry within the same run completes it.
    let env = Env::new(&fixture(
        r#""faults": [{"op": "download_media", "message": 2, "cut_after_bytes": 1000, "times": 1}],"#,
        "",
    ));
    let o = env.run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(env.out().join(format!("{STEM}_media/2_photo.jpg"))).expect("photo"),
        media_bytes(2, 70000)
    );
}

fn more_messages(from: i64, to: i64) -> String {
    (from..=to)
        .map(|id| {
            format!(
                r#", {{"id": {id}, "from": {}, "date": "2026-11-20T{:02}:00:00Z", "text": "later {id}"{}}}"#,
                if id % 2 == 0 { 6 } else { 8 },
                id - from,
                if id % 3 == 0 {
                    format!(
                        r#", "media": {{"kind": "document", "file_name": "f{id}.txt", "mime_type": "text/plain", "size": {}}}"#,
                        id * 10
                    )
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

#[test]
fn resume_adds_only_newer_messages_to_the_same_file() {
    let env = Env::new(&fixture("", ""));
    let o = env.run(&["export", &CHAT.to_string(), "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = env.read(&format!("{STEM}.txt"));

    // Two new messages, and message 1 edited on Telegram since: --resume reads only after the
    // last exported message, so the edit is not fetched again.
    let json = fixture("", &more_messages(10, 11))
        .replace("\"text\": \"hi\"", "\"text\": \"hi (edited)\"");
    env.set_fixture(&json);
    let o = env.run(&["export", &CHAT.to_string(), "--tz", "UTC", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let resumed = env.read(&format!("{STEM}.txt"));
    assert!(
        resumed.starts_with(&first),
        "not appended:\n{first}\n---\n{resumed}"
    );
    assert_eq!(
        &resumed[first.len()..],
        "2026-11-20 00:00  Addie Ng: later 10\n2026-11-20 01:00  Cara Cust: later 11\n"
    );
    // The run's table counts 2 new messages of 10.
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = stdout
        .lines()
        .find(|l| l.contains("iBTC <> Acme"))
        .expect("summary row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(cells.windows(2).any(|w| w == ["10", "2"]), "{row}");

    // Without --resume the export starts over and sees the edit.
    let o = env.run(&["export", &CHAT.to_string(), "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let full = env.read(&format!("{STEM}.txt"));
    assert!(full.contains("Cara Cust: hi (edited)"), "{full}");
}

fn stored_rows(db: &Path) -> i64 {
    let Ok(store) = store::Store::open_read_only(db) else {
        return 0;
    };
    store
        .db()
        .query_row("SELECT count(*) FROM tg_export_messages", (), |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_killed_export_resumed_writes_the_same_files_as_an_uninterrupted_run() {
    // 16 messages, 2 per page, each page 300 ms: long enough to kill the run midway.
    let json = fixture(
        r#""slow": [{"op": "history_page", "ms": 300}],"#,
        &more_messages(10, 17),
    );
    let args = [
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--format",
        "json",
        "--media",
        "--max-file-size",
        "100K",
    ];
    let clean = Env::new(&json);
    let o = clean.run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let killed = Env::new(&json);
    let mut child = killed.spawn(&args);
    let db = killed.out().join("slack-tools.db");
    let started = Instant::now();
    loop {
        let rows = stored_rows(&db);
        if rows >= 4 {
            assert!(rows < 16, "the run finished before it could be killed");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no page stored in 30s"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    // Killed before the files were written; the store holds whole pages only.
    assert!(!killed.out().join(format!("{STEM}.json")).exists());
    let before = stored_rows(&db);
    assert_eq!(before % 2, 0, "half a page stored");

    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = killed.run(&resume);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // It read only what the killed run had not stored: 16 messages, 16 - before of them new.
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = stdout
        .lines()
        .find(|l| l.contains("iBTC <> Acme"))
        .expect("summary row");
    let new = (16 - before).to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(cells.windows(2).any(|w| w == ["16", new.as_str()]), "{row}");
    let want = export_tree(&clean.out());
    assert!(
        want.iter().any(|(rel, _)| rel.ends_with("15_f15.txt")),
        "{:?}",
        want.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    assert_eq!(
        export_tree(&killed.out()),
        want,
        "the resumed export differs from the uninterrupted one"
    );
}

#[test]
fn on_postgres_a_killed_export_resumes_to_the_files_of_an_uninterrupted_sqlite_run() {
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let password = url_password(pg.url());
    // As above: 16 messages, 2 per page, each page 300 ms.
    let json = fixture(
        r#""slow": [{"op": "history_page", "ms": 300}],"#,
        &more_messages(10, 17),
    );
    let chat = CHAT.to_string();
    let args = [
        "export",
        &chat,
        "--tz",
        "UTC",
        "--format",
        "json",
        "--media",
        "--max-file-size",
        "100K",
    ];
    let clean = Env::new(&json);
    let o = clean.run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let on_pg = [&["--db", pg.url()][..], &args[..]].concat();
    let killed = Env::new(&json);
    let mut child = killed.spawn(&on_pg);
    let db = Path::new(pg.url());
    let started = Instant::now();
    loop {
        let rows = stored_rows(db);
        if rows >= 4 {
            assert!(rows < 16, "the run finished before it could be killed");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no page stored in 30s"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(!killed.out().join(format!("{STEM}.json")).exists());
    assert!(
        !killed.out().join("slack-tools.db").exists(),
        "the store is on PostgreSQL, not in a file"
    );
    let before = stored_rows(db);
    assert_eq!(before % 2, 0, "half a page stored");

    let mut resume = on_pg.clone();
    resume.push("--resume");
    let o = killed.run(&resume);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = stdout
        .lines()
        .find(|l| l.contains("iBTC <> Acme"))
        .expect("summary row");
    let new = (16 - before).to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(cells.windows(2).any(|w| w == ["16", new.as_str()]), "{row}");
    assert_eq!(
        export_tree(&killed.out()),
        export_tree(&clean.out()),
        "the export resumed on PostgreSQL differs from the uninterrupted one on SQLite"
    );
    // The messages are in the search index on PostgreSQL, newest first.
    let hits = pg
        .open()
        .search(&store::search::SearchQuery {
            query: "later".into(),
            limit: 100,
            ..Default::default()
        })
        .expect("searches");
    let ids: Vec<&str> = hits.iter().map(|h| h.msg_id.as_str()).collect();
    assert_eq!(ids, ["17", "16", "15", "14", "13", "12", "11", "10"]);

    for stream in [&o.stdout, &o.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(&password));
    }
    for (rel, bytes) in tree(killed.dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "the password is in {rel}"
        );
    }
}

#[test]
fn tdesktop_format_is_read_like_a_telegram_desktop_export() {
    let env = Env::new(&fixture("", ""));
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--format",
        "tdesktop",
        "--media",
        "photo,voice,document",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let root = env.out().join(STEM);
    let text = std::fs::read_to_string(root.join("result.json")).expect("result.json");
    // Telegram Desktop indents by one space.
    assert!(text.starts_with("{\n \"name\": \"iBTC <> Acme\",\n \"type\": \"private_supergroup\",\n \"id\": 1234567890,\n \"messages\": [\n  {\n   \"id\": 1,\n   \"type\": \"message\","), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let m = v["messages"].as_array().expect("messages");
    assert_eq!(m.len(), 8);
    assert_eq!(m[1]["date"], "2026-11-18T09:05:00");
    assert_eq!(m[1]["date_unixtime"], "1794992700");
    assert_eq!(m[1]["from"], "Addie Ng");
    assert_eq!(m[1]["from_id"], "user6");
    assert_eq!(m[1]["reply_to_message_id"], 1);
    assert_eq!(m[1]["photo"], "photos/photo_2@18-11-2026_09-05-00.jpg");
    assert_eq!(m[1]["width"], 800);
    assert_eq!(m[1]["text"], "the photo");
    assert_eq!(
        m[1]["text_entities"],
        serde_json::json!([{"type": "plain", "text": "the photo"}])
    );
    assert_eq!(
        m[2]["file"],
        "voice_messages/audio_3@18-11-2026_09-06-00.ogg"
    );
    assert_eq!(m[2]["media_type"], "voice_message");
    assert_eq!(m[2]["mime_type"], "audio/ogg");
    assert_eq!(m[2]["duration_seconds"], 4);
    assert_eq!(m[2]["text"], "");
    assert_eq!(m[2]["text_entities"], serde_json::json!([]));
    assert_eq!(m[5]["file"], "files/report.pdf");
    assert_eq!(m[5].get("media_type"), None);
    // Same name, other case: kept apart.
    assert_eq!(m[6]["file"], "files/REPORT (7).pdf");
    // Not among --media: tdesktop's own wording.
    assert_eq!(
        m[4]["file"],
        "(File not included. Change data exporting settings to download.)"
    );
    assert_eq!(m[4]["media_type"], "video_file");
    // Anonymous admin: sent as the chat.
    assert_eq!(m[7]["from"], "iBTC <> Acme");
    assert_eq!(m[7]["from_id"], "channel1234567890");

    // Read the way telegram-chat-parser (keizerzilla) reads result.json: messages of type
    // "message" with text, `from`, `from_id`, `date`, text as a string or a list of parts, the
    // reply id when present; media paths relative to result.json, by tdesktop folder.
    let mut rows = Vec::new();
    for msg in m {
        if msg["type"] != "message" {
            continue;
        }
        let text = match &msg["text"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(parts) => parts
                .iter()
                .map(|p| {
                    p.as_str()
                        .unwrap_or_else(|| p["text"].as_str().unwrap_or(""))
                })
                .collect(),
            other => panic!("text is neither a string nor a list: {other}"),
        };
        for key in ["photo", "file"] {
            if let Some(rel) = msg
                .get(key)
                .and_then(|p| p.as_str())
                .filter(|p| !p.starts_with('('))
            {
                let folder = rel.split('/').next().unwrap_or("");
                assert!(
                    [
                        "photos",
                        "files",
                        "video_files",
                        "voice_messages",
                        "round_video_messages",
                        "stickers"
                    ]
                    .contains(&folder),
                    "{rel}"
                );
                assert!(root.join(rel).is_file(), "{rel} missing");
            }
        }
        if text.is_empty() {
            continue;
        }
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}",
            msg["id"],
            msg["from"].as_str().expect("from"),
            msg["from_id"].as_str().expect("from_id"),
            msg["date"].as_str().expect("date"),
            text,
            msg.get("reply_to_message_id")
                .map(ToString::to_string)
                .unwrap_or_default()
        ));
    }
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert_eq!(rows[0], "1|Cara Cust|user8|2026-11-18T09:00:00|hi|");
    assert_eq!(rows[1], "2|Addie Ng|user6|2026-11-18T09:05:00|the photo|1");
    assert_eq!(
        std::fs::read(root.join("photos/photo_2@18-11-2026_09-05-00.jpg")).expect("photo"),
        media_bytes(2, 70000)
    );
}

#[test]
fn all_in_scope_exports_the_audit_groups_one_after_another_obeying_flood_wait() {
    let env = Env::new(&fixture(
        &format!(r#""flood_wait": [{{"op": "history_page", "seconds": 1, "chat": {CHAT}}}],"#),
        "",
    ));
    std::fs::write(
        env.dir.path().join("team.json"),
        r#"{"members": [{"handle": "ops", "name": "Ops Desk", "role": "required", "telegram": ["opsdesk"]}]}"#,
    )
    .expect("team");
    std::fs::write(
        env.dir.path().join("categories.json"),
        r#"{"slack_scope": {"name_contains": ["ibtc"]}, "telegram_scope": {"shared_with": "@cust"},
            "categories": [{"name": "Customer"}]}"#,
    )
    .expect("categories");
    let o = env.run(&["export", "--all-in-scope", "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Only the group shared with @cust; the channel with @cust is not an audit group.
    let files: Vec<String> = export_tree(&env.out())
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(files, vec![format!("{STEM}.txt")]);
    assert!(stderr(&o).contains("FLOOD_WAIT"), "{}", stderr(&o));
    assert!(env.read(&format!("{STEM}.txt")).contains("Cara Cust: hi"));

    // Chats and --all-in-scope together are a usage error.
    let o = env.run(&["export", "--all-in-scope", "-1002"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A bad --media kind names the kinds.
    let o = env.run(&["export", "-1002", "--media", "gif"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("photo, video, document, voice"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["export", "-1002", "--media", "--max-file-size", "ten"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("20M"), "{}", stderr(&o));
}

#[test]
fn names_of_earlier_exports_and_of_the_tools_are_never_taken() {
    let env = Env::new(
        r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "chats": [
  {"id": -3001, "title": "Acme", "kind": "group", "participants": [{"user": 1000, "role": "admin"}],
   "messages": [{"id": 1, "from": 1000, "date": "2026-11-18T09:00:00Z", "text": "first acme"}]},
  {"id": -3002, "title": "Acme", "kind": "group", "participants": [{"user": 1000, "role": "admin"}],
   "messages": [{"id": 1, "from": 1000, "date": "2026-11-18T09:00:00Z", "text": "second acme"}]},
  {"id": -3003, "title": "tg-admin", "kind": "group", "participants": [{"user": 1000, "role": "admin"}],
   "messages": [{"id": 1, "from": 1000, "date": "2026-11-18T09:00:00Z", "text": "reports?"}]},
  {"id": -3004, "title": "nul.txt", "kind": "group", "participants": [{"user": 1000, "role": "admin"}],
   "messages": [{"id": 1, "from": 1000, "date": "2026-11-18T09:00:00Z", "text": "device"}]}]}"#,
    );
    let o = env.run(&["export", "-3001"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Another run, another chat of the same title: the earlier file stays the first chat's.
    let o = env.run(&["export", "-3002"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.read("Acme.txt").contains("first acme"));
    assert!(env.read("Acme_-3002.txt").contains("second acme"));
    // And the first chat, exported again, keeps its name.
    let o = env.run(&["export", "-3001", "-3002"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.read("Acme.txt").contains("first acme"));
    assert!(env.read("Acme_-3002.txt").contains("second acme"));

    // In another format the chats keep their names (JSON and text share `<name>_media`), and a
    // chat new to this output does not take theirs.
    let o = env.run(&["export", "-3002", "-3001", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.read("Acme.json").contains("first acme"));
    assert!(env.read("Acme_-3002.json").contains("second acme"));

    let o = env.run(&["export", "-3003", "-3004", "--format", "tdesktop"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.read("tg-admin_-3003/result.json").contains("reports?"));
    assert!(!env.out().join("tg-admin/result.json").exists());
    assert!(env.read("_nul.txt/result.json").contains("device"));
}

#[test]
fn a_chat_telegram_makes_wait_too_long_is_given_up_and_the_next_one_exported() {
    let env = Env::new(&fixture(
        &format!(r#""flood_wait": [{{"op": "history_page", "seconds": 999, "chat": {CHAT}}}],"#),
        "",
    ));
    std::fs::write(
        env.dir.path().join("team.json"),
        r#"{"members": [{"handle": "ops", "name": "Ops Desk", "role": "required", "telegram": ["opsdesk"]}]}"#,
    )
    .expect("team");
    std::fs::write(
        env.dir.path().join("categories.json"),
        r#"{"slack_scope": {"name_contains": ["ibtc"]}, "telegram_scope": {"shared_with": "nftaddie"}}"#,
    )
    .expect("categories");
    let o = env.run(&["export", "--all-in-scope", "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("gave up on"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    assert!(env.read("iBTC __ Globex.txt").contains("Addie Ng: globex"));
    assert!(!env.out().join(format!("{STEM}.txt")).exists());
    // The wait is over: a resumed run exports the chat it gave up on.
    let o = env.run(&["export", "--all-in-scope", "--tz", "UTC", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.read(&format!("{STEM}.txt")).contains("Cara Cust: hi"));
}

#[test]
fn a_chat_right_after_a_bare_media_flag_is_explained() {
    let env = Env::new(&fixture("", ""));
    let o = env.run(&["export", "--media", "-1002"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown kind \"-1002\""),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("name the chats first"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["export", "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--all-in-scope"), "{}", stderr(&o));
    // Chats first, the bare flag last: every kind.
    let o = env.run(&["export", "-1002", "--media"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn since_starts_reading_at_that_time_instead_of_skipping_older_history() {
    // Reading from the first message would fail: the export must start at --since.
    let env = Env::new(&fixture(
        r#""faults": [{"op": "history_page", "message": 0, "times": 9}],"#,
        "",
    ));
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--since",
        "2026-11-18T09:08:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = env.read(&format!("{STEM}.txt"));
    let body: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(body.len(), 4, "{text}");
    assert!(
        body[0].starts_with("2026-11-18 09:08  Cara Cust: demo"),
        "{text}"
    );
}

#[test]
fn a_run_killed_during_a_download_keeps_no_part_of_it_and_the_resume_completes_it() {
    let json = fixture(r#""slow": [{"op": "download_media", "ms": 1500}],"#, "");
    let args = [
        "export",
        &CHAT.to_string(),
        "--tz",
        "UTC",
        "--media",
        "photo,voice",
    ];
    let clean = Env::new(&json);
    let o = clean.run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let killed = Env::new(&json);
    let mut child = killed.spawn(&args);
    let started = Instant::now();
    // The photo's temporary file exists while its download is under way.
    while temp_files(&killed.out()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no download started in 30s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(temp_files(&killed.out()).len(), 1);
    assert!(
        !killed
            .out()
            .join(format!("{STEM}_media/2_photo.jpg"))
            .exists()
    );

    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = killed.run(&resume);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The killed run's temporary file is removed; the files equal the uninterrupted run's.
    assert_eq!(temp_files(&killed.out()), Vec::<String>::new());
    assert_eq!(export_tree(&killed.out()), export_tree(&clean.out()));
    assert_eq!(
        std::fs::read(killed.out().join(format!("{STEM}_media/2_photo.jpg"))).expect("photo"),
        media_bytes(2, 70000)
    );
}

/// `--format html`: slack-export's offline renderer over the stored chat: an index, the chat's
/// page with the reply under the message it answers, the downloaded photo shown from its local
/// copy, a file that was not downloaded named with the reason, and the title escaped.
#[test]
fn html_format_is_an_offline_archive_with_threads_and_local_media() {
    let env = Env::new(&fixture("", ""));
    let o = env.run(&[
        "export",
        &CHAT.to_string(),
        "--format",
        "html",
        "--tz",
        "UTC",
        "--media",
        "photo",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let root = format!("{STEM}_html");
    let index = env.read(&format!("{root}/index.html"));
    assert!(index.contains("iBTC &lt;&gt; Acme"), "{index}");
    let page_rel = index
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap_or(""))
        .find(|h| h.starts_with("c/"))
        .expect("the chat's page is linked");
    let page = env.read(&format!("{root}/{page_rel}"));
    // Message 2 answers message 1: it comes after it, inside its thread.
    let hi = page.find(">hi<").expect("message 1");
    let photo = page.find("the photo").expect("message 2");
    assert!(hi < photo, "the reply follows its parent");
    assert!(
        page[hi..photo].contains("class=\"replies"),
        "the reply is nested: {}",
        &page[hi..photo]
    );
    // The photo from its local copy, relative to the page (two levels below --out).
    let img = format!(
        "src=\"../../{}_media/2_photo.jpg\"",
        STEM.replace(' ', "%20")
    );
    assert!(page.contains(&img), "{page}");
    assert!(
        env.out()
            .join(format!("{STEM}_media/2_photo.jpg"))
            .is_file()
    );
    // The voice note was not asked for: named, with why there is no copy.
    assert!(
        page.contains("not downloaded (kind not in --media)"),
        "{page}"
    );
    assert!(!page.contains("<script"), "no script in an offline archive");
}

/// Every export feeds the store's full-text index, so `slack-export search` finds Telegram
/// messages (and media file names) beside Slack's; a second export indexes nothing twice.
#[test]
fn exported_messages_are_searchable_in_the_store() {
    let env = Env::new(&fixture("", ""));
    for _ in 0..2 {
        let o = env.run(&["export", &CHAT.to_string(), "--tz", "UTC"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let store = store::Store::open_read_only(&env.out().join("slack-tools.db")).expect("store");
    let find = |q: &str| {
        store
            .search(&store::search::SearchQuery {
                query: q.into(),
                limit: 10,
                ..Default::default()
            })
            .expect("searches")
    };
    let hits = find("contract");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].source, "telegram");
    assert_eq!(hits[0].conversation_id, CHAT.to_string());
    assert_eq!(hits[0].conversation_name, "iBTC <> Acme");
    assert_eq!(hits[0].msg_id, "4");
    assert_eq!(hits[0].sender_name, "Addie Ng");
    // The document's file name is searchable too; a channel post speaks as the chat.
    let by_file = find("passwd");
    assert_eq!(by_file.len(), 1, "{by_file:?}");
    assert_eq!(by_file[0].msg_id, "4");
    let news = find("announcement");
    assert_eq!(news[0].sender_name, "iBTC <> Acme");
    let rows: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM search_messages WHERE source = 'telegram'",
            [],
            |r| r.get(0),
        )
        .expect("counts");
    assert_eq!(rows, 8, "each message once after two exports");
}
