//! End-to-end tests of the tg-admin binary against fixture accounts in temp dirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [{"id": 6, "username": "nftaddie", "first_name": "Addie", "last_name": "Ng"},
           {"id": 7, "username": "mojo", "first_name": "Mo", "last_name": null},
           {"id": 8, "username": "cust", "first_name": "Cara", "last_name": "Cust"}],
 "chats": [
  {"id": -1001, "title": "iBTC <> Acme", "kind": "supergroup",
   "participants": [{"user": 1000, "role": "creator"}, {"user": 6, "role": "member"}, {"user": 8, "role": "member"}],
   "messages": [
     {"id": 1, "from": 8, "date": "2026-11-18T09:00:00Z", "text": "hi", "reply_to": null},
     {"id": 2, "from": 6, "date": "2026-11-18T09:05:00Z", "text": "hello Cara", "reply_to": 1},
     {"id": 3, "from": 1000, "date": "2026-11-18T09:10:00Z", "text": "agenda?", "reply_to": null},
     {"id": 4, "from": 8, "date": "2026-11-18T09:20:00Z", "text": "thanks Addie", "reply_to": 2},
     {"id": 5, "from": 6, "date": "2026-11-19T09:00:00Z", "text": "next day", "reply_to": null}]},
  {"id": -1002, "title": "iBTC <> Globex", "kind": "group",
   "participants": [{"user": 1000, "role": "admin"}, {"user": 6, "role": "member"}]},
  {"id": -1003, "title": "Initech", "kind": "supergroup",
   "participants": [{"user": 1000, "role": "member"}, {"user": 6, "role": "creator"}, {"user": 7, "role": "member"}]},
  {"id": -1004, "title": "iBTC news", "kind": "channel",
   "participants": [{"user": 1000, "role": "admin", "rights": {"ban_users": true, "change_info": false}}, {"user": 7, "role": "admin"}]}]}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self::with_fixture(FIXTURE)
    }

    fn with_fixture(json: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tg.json"), json).expect("write fixture");
        Env { dir }
    }

    fn fixture_path(&self) -> PathBuf {
        self.dir.path().join("tg.json")
    }

    fn fixture(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.fixture_path()).expect("read"))
            .expect("json")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tg-admin"))
            .args([
                "--out",
                self.out().to_str().expect("utf8"),
                "--config",
                self.dir.path().to_str().expect("utf8"),
            ])
            .args(args)
            .env("TELEGRAM_FIXTURE", self.fixture_path())
            .env_remove("RUST_LOG")
            .env_remove("SLACK_TOOLS_DB")
            .env_remove("DATABASE_URL")
            .current_dir(self.dir.path())
            // No terminal: stdin is not a TTY, as under cron.
            .stdin(Stdio::null())
            .output()
            .expect("run tg-admin")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn participants(fixture: &serde_json::Value, chat: i64) -> Vec<i64> {
    let chats = fixture["chats"].as_array().expect("chats");
    let c = chats.iter().find(|c| c["id"] == chat).expect("chat");
    c["participants"]
        .as_array()
        .expect("p")
        .iter()
        .map(|p| p["user"].as_i64().expect("id"))
        .collect()
}

fn xlsx_reports(out: &Path, prefix: &str) -> usize {
    std::fs::read_dir(out.join("tg-admin"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(prefix) && n.ends_with(".xlsx")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn find_user_lists_groups_roles_and_our_rights() {
    let env = Env::new();
    let o = env.run(&["find-user", "@NFTADDIE"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("@nftaddie")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    let initech = lines
        .iter()
        .find(|l| l.contains("Initech"))
        .expect("Initech row");
    assert!(
        initech.contains("creator") && initech.contains("member") && initech.contains("no"),
        "{initech}"
    );
    assert!(!out.contains("iBTC news"), "not a member there: {out}");
    assert_eq!(xlsx_reports(&env.out(), "find-user-"), 1);
}

#[test]
fn find_user_unknown_user_fails_with_exit_1() {
    let env = Env::new();
    let o = env.run(&["find-user", "ghost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("not found"), "{}", stdout(&o));
}

#[test]
fn remove_dry_run_changes_nothing_then_yes_removes_and_rerun_is_a_noop() {
    let env = Env::new();
    let before = std::fs::read_to_string(env.fixture_path()).expect("read");

    let dry = env.run(&["remove-user", "nftaddie", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(
        stdout(&dry).matches("would remove").count(),
        2,
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("needs ownership transfer"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        std::fs::read_to_string(env.fixture_path()).expect("read"),
        before,
        "dry run changed the fixture"
    );

    let real = env.run(&["remove-user", "nftaddie", "--yes"]);
    assert_eq!(real.status.code(), Some(0), "{}", stderr(&real));
    assert_eq!(
        stdout(&real).matches("removed").count(),
        2,
        "{}",
        stdout(&real)
    );
    let after = env.fixture();
    assert_eq!(participants(&after, -1001), vec![1000, 8]);
    assert_eq!(participants(&after, -1002), vec![1000]);
    assert_eq!(
        participants(&after, -1003),
        vec![1000, 6, 7],
        "creator cannot be removed"
    );

    let log = std::fs::read_to_string(env.out().join("tg-admin/operations.jsonl")).expect("log");
    let removed: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .filter(|v: &serde_json::Value| v["outcome"] == "removed")
        .collect();
    assert_eq!(removed.len(), 2);
    assert!(
        removed
            .iter()
            .all(|v| v["user_id"] == 6 && v["command"] == "remove-user")
    );

    let snapshot = std::fs::read_to_string(env.fixture_path()).expect("read");
    let again = env.run(&["remove-user", "nftaddie", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let out = stdout(&again);
    assert_eq!(out.matches("skipped: not a member").count(), 2, "{out}");
    assert!(
        !out.contains("| removed") && !out.lines().any(|l| l.ends_with("removed")),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(env.fixture_path()).expect("read"),
        snapshot,
        "rerun changed something"
    );
}

/// `(operation, chat_id, chat_title, target_user, new_title, status, error)` of every stored
/// operation, oldest first.
type OpRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn stored_ops(db: &Path) -> Vec<OpRow> {
    let store = store::Store::open_read_only(db).expect("store");
    let mut ops: Vec<OpRow> = store
        .tg_ops(None, 100)
        .expect("ops")
        .into_iter()
        .map(|o| {
            (
                o.operation,
                o.chat_id,
                o.chat_title,
                o.target_user,
                o.new_title,
                o.status,
                o.error,
            )
        })
        .collect();
    ops.reverse();
    ops
}

#[test]
fn changes_are_recorded_in_the_store_and_dry_runs_are_not() {
    let env = Env::new();
    let db = env.out().join("slack-tools.db");
    let dry = env.run(&["remove-user", "nftaddie", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(!db.exists(), "a dry run must not create or fill the store");

    let o = env.run(&["remove-user", "nftaddie", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mapping = env.dir.path().join("map.json");
    std::fs::write(
        &mapping,
        r#"{"-1002": "cBTC <> Globex", "-1004": "cBTC news"}"#,
    )
    .expect("write");
    let o = env.run(&[
        "rename",
        "--mapping",
        mapping.to_str().expect("utf8"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = env.run(&["request-ownership", "nftaddie"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let user = Some("@nftaddie".to_owned());
    assert_eq!(
        stored_ops(&db),
        vec![
            (
                "remove-user".into(),
                -1001,
                "iBTC <> Acme".into(),
                user.clone(),
                None,
                "done".into(),
                None
            ),
            (
                "remove-user".into(),
                -1002,
                "iBTC <> Globex".into(),
                user.clone(),
                None,
                "done".into(),
                None
            ),
            // -1004 is not listed: we lack the right to change its info, so nothing was attempted.
            (
                "rename".into(),
                -1002,
                "iBTC <> Globex".into(),
                None,
                Some("cBTC <> Globex".into()),
                "done".into(),
                None
            ),
            (
                "request-ownership".into(),
                -1003,
                "Initech".into(),
                user,
                None,
                "written".into(),
                None
            ),
        ]
    );
}

#[test]
fn changes_are_recorded_in_a_postgres_store_without_showing_its_password() {
    let Some(pg) = store::test_db::TestDb::new() else {
        return;
    };
    let password = pg
        .url()
        .split("://")
        .nth(1)
        .and_then(|r| r.rsplit_once('@'))
        .and_then(|(u, _)| u.split_once(':'))
        .map(|(_, pw)| pw.to_string())
        .expect("the test URL has a password");
    let env = Env::new();
    let o = env.run(&["remove-user", "nftaddie", "--yes", "--db", pg.url()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains(&password) && !stderr(&o).contains(&password));
    let ops = stored_ops(Path::new(pg.url()));
    let removed: Vec<i64> = ops
        .iter()
        .filter(|o| o.0 == "remove-user" && o.5 == "done")
        .map(|o| o.1)
        .collect();
    assert_eq!(removed, vec![-1001, -1002], "{ops:?}");
    assert!(!env.out().join("slack-tools.db").exists());
}

#[test]
fn a_failed_removal_is_stored_with_its_error() {
    // Chat -1001 answers the removal with a long FLOOD_WAIT, which gives that operation up.
    let env = Env::with_fixture(&FIXTURE.replacen(
        "\"chats\": [",
        "\"flood_wait\": [{\"op\": \"remove_participant\", \"seconds\": 3600, \"chat\": -1001}],\n \"chats\": [",
        1,
    ));
    let o = env.run(&["remove-user", "nftaddie", "--yes", "--max-flood-wait", "30"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let ops = stored_ops(&env.out().join("slack-tools.db"));
    let failed: Vec<&OpRow> = ops.iter().filter(|o| o.5 == "failed").collect();
    assert_eq!(failed.len(), 1, "{ops:?}");
    assert_eq!(failed[0].1, -1001);
    assert!(
        failed[0]
            .6
            .as_deref()
            .is_some_and(|e| e.starts_with("gave up on remove_participant")),
        "{ops:?}"
    );
}

#[test]
fn remove_without_tty_and_without_yes_refuses_with_exit_2() {
    let env = Env::new();
    let before = std::fs::read_to_string(env.fixture_path()).expect("read");
    let o = env.run(&["remove-user", "nftaddie"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pass --yes"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(env.fixture_path()).expect("read"),
        before
    );
}

#[test]
fn users_file_batches_several_people() {
    let env = Env::new();
    let list = env.dir.path().join("leavers.txt");
    std::fs::write(&list, "# leavers\nnftaddie\n\n@mojo  # left in May\n").expect("write");
    let o = env.run(&["find-user", "--users-file", list.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("@nftaddie")).count(),
        3,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("@mojo")).count(),
        2,
        "{out}"
    );
}

#[test]
fn rename_with_mapping_renames_where_allowed_and_reports_the_rest() {
    let env = Env::new();
    let mapping = env.dir.path().join("map.json");
    std::fs::write(
        &mapping,
        r#"{"iBTC <> Acme": "cBTC <> Acme", "-1003": "Initech (cBTC)", "-1004": "cBTC news", "No such group": "x"}"#,
    )
    .expect("write");
    let o = env.run(&[
        "rename",
        "--mapping",
        mapping.to_str().expect("utf8"),
        "--yes",
    ]);
    // The unknown key makes the run exit 1, after the others were handled.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("renamed"), "{out}");
    assert!(out.contains("no right"), "{out}");
    assert!(out.contains("not found"), "{out}");
    let after = env.fixture();
    let titles: Vec<&str> = after["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["title"].as_str().expect("t"))
        .collect();
    assert_eq!(
        titles,
        vec!["cBTC <> Acme", "iBTC <> Globex", "Initech", "iBTC news"]
    );
}

#[test]
fn rename_find_replace_dry_run_previews_only() {
    let env = Env::new();
    let before = std::fs::read_to_string(env.fixture_path()).expect("read");
    let o = env.run(&["rename", "--find", "IBTC", "--replace", "cBTC", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("cBTC <> Acme") && out.contains("cBTC <> Globex"),
        "{out}"
    );
    assert_eq!(out.matches("would rename").count(), 2, "{out}");
    assert_eq!(
        std::fs::read_to_string(env.fixture_path()).expect("read"),
        before
    );
    let refused = env.run(&["rename", "--find", "IBTC", "--replace", "cBTC"]);
    assert_eq!(refused.status.code(), Some(2));
}

/// Issue 11: `İ` lower-cases to three bytes and `ẞ` to two, so byte positions found in the
/// lower-cased title are wrong in the original (this used to panic on a char boundary).
#[test]
fn rename_find_replace_on_titles_whose_lower_case_changes_length() {
    let env = Env::with_fixture(
        r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"}, "users": [],
 "chats": [
  {"id": -2001, "title": "İxẞ", "kind": "supergroup", "participants": [{"user": 1000, "role": "creator"}]},
  {"id": -2002, "title": "ẞẞ X <> İİ", "kind": "group", "participants": [{"user": 1000, "role": "admin"}]}]}"#,
    );
    let o = env.run(&["rename", "--find", "x", "--replace", "cbtc", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("İcbtcẞ"), "{out}");
    assert!(out.contains("ẞẞ cbtc <> İİ"), "{out}");
    assert_eq!(out.matches("would rename").count(), 2, "{out}");
}

/// Issue 11: group titles are printed in listings; escape sequences, `\r` and U+2028 in them
/// must come out as visible escapes, never as control characters.
#[test]
fn listings_show_control_characters_in_titles_as_escapes() {
    let env = Env::with_fixture(
        r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [{"id": 6, "username": "nftaddie", "first_name": "Addie\u001b]0;pwned\u0007"}],
 "chats": [
  {"id": -3001, "title": "Acme\u001b[31m red\r\u2028\u202e", "kind": "supergroup",
   "participants": [{"user": 1000, "role": "creator"}, {"user": 6, "role": "member"}]}]}"#,
    );
    for args in [&["find-user", "nftaddie"][..], &["admin-status"][..]] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains("Acme\\u{1b}[31m red\\u{d}\\u{2028}\\u{202e}"),
            "{args:?}: {out}"
        );
        for bad in ['\x1b', '\r', '\u{7}', '\u{2028}', '\u{202e}'] {
            assert!(!out.contains(bad), "{args:?}: {bad:?} in {out:?}");
            assert!(!stderr(&o).contains(bad), "{args:?}: {bad:?} on stderr");
        }
    }
}

#[test]
fn request_ownership_writes_one_message_per_group() {
    let env = Env::new();
    let o = env.run(&["request-ownership", "nftaddie"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = env.out().join("tg-admin");
    let file = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ownership-requests-")
        })
        .expect("request file");
    let text = std::fs::read_to_string(file.path()).expect("read");
    // Only Initech: there nftaddie is creator and we are a plain member.
    assert_eq!(text.matches("=== To @nftaddie").count(), 1, "{text}");
    assert!(
        text.contains("\"Initech\"")
            && text.contains("transfer ownership")
            && text.contains("@opsdesk"),
        "{text}"
    );
    assert_eq!(xlsx_reports(&env.out(), "request-ownership-"), 1);
}

#[test]
fn export_text_threads_replies_under_their_parent() {
    let env = Env::new();
    let o = env.run(&["export", "-1001", "--tz", "UTC", "--until", "2026-11-19"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(env.out().join("iBTC __ Acme.txt")).expect("export file");
    let body: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(
        body,
        vec![
            "2026-11-18 09:00  Cara Cust: hi",
            "    2026-11-18 09:05  Addie Ng: hello Cara",
            "    2026-11-18 09:20  Cara Cust: [↪ Addie Ng] thanks Addie",
            "2026-11-18 09:10  Ops: agenda?",
        ],
        "{text}"
    );
}

/// Issue 11: the text export holds Telegram's titles, names and text; control characters in them
/// are written as visible escapes, line breaks stay line breaks.
#[test]
fn export_text_shows_control_characters_as_escapes() {
    let env = Env::with_fixture(
        r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [{"id": 8, "username": "cust", "first_name": "Cara\u001b[8m"}],
 "chats": [
  {"id": -4001, "title": "Esc\u001b[31m", "kind": "supergroup",
   "participants": [{"user": 1000, "role": "creator"}, {"user": 8, "role": "member"}],
   "messages": [
     {"id": 1, "from": 8, "date": "2026-11-18T09:00:00Z", "text": "hi\r\u001b[2Jthere\u2028x\nnext", "reply_to": null}]}]}"#,
    );
    let o = env.run(&["export", "-4001", "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(env.out())
        .expect("out")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).expect("export file");
    assert!(
        text.starts_with("# Esc\\u{1b}[31m (supergroup, -4001)\n"),
        "{text}"
    );
    assert!(
        text.contains("Cara\\u{1b}[8m: hi\\u{d}\\u{1b}[2Jthere\\u{2028}x\n    next"),
        "{text}"
    );
    for bad in ['\x1b', '\r', '\u{2028}'] {
        assert!(!text.contains(bad), "{bad:?} in {text:?}");
    }
}

#[test]
fn export_json_and_unknown_chat() {
    let env = Env::new();
    let o = env.run(&[
        "export",
        "iBTC <> Acme",
        "--format",
        "json",
        "--since",
        "2026-11-19T00:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.out().join("iBTC __ Acme.json")).expect("file"),
    )
    .expect("json");
    assert_eq!(v["messages"].as_array().expect("messages").len(), 1);
    assert_eq!(v["messages"][0]["from"]["username"], "nftaddie");
    let bad = env.run(&["export", "iBTC"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("did you mean"), "{}", stderr(&bad));
}

#[test]
fn short_flood_wait_is_waited_out_and_the_removal_done() {
    let json = FIXTURE.replacen(
        "\"chats\": [",
        "\"flood_wait\": [{\"op\": \"remove_participant\", \"seconds\": 2}],\n \"chats\": [",
        1,
    );
    let env = Env::with_fixture(&json);
    let started = std::time::Instant::now();
    let o = env.run(&["remove-user", "nftaddie", "--yes", "--max-flood-wait", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "did not wait"
    );
    assert!(
        stderr(&o).contains("FLOOD_WAIT: waiting 2s"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o).matches("removed").count(), 2);
    assert!(
        env.fixture().get("flood_wait").is_none(),
        "the injected wait was consumed"
    );
}

#[test]
fn long_flood_wait_gives_up_that_operation_with_a_clear_message() {
    let json = FIXTURE.replacen(
        "\"chats\": [",
        "\"flood_wait\": [{\"op\": \"remove_participant\", \"seconds\": 3600, \"chat\": -1001}],\n \"chats\": [",
        1,
    );
    let env = Env::with_fixture(&json);
    let started = std::time::Instant::now();
    let o = env.run(&["remove-user", "nftaddie", "--yes", "--max-flood-wait", "30"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "slept instead of giving up"
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("failed: gave up"), "{out}");
    assert!(
        stderr(&o).contains("3600s") && stderr(&o).contains("--max-flood-wait"),
        "{}",
        stderr(&o)
    );
    let after = env.fixture();
    assert_eq!(
        participants(&after, -1001),
        vec![1000, 6, 8],
        "gave-up chat untouched"
    );
    assert_eq!(
        participants(&after, -1002),
        vec![1000],
        "the other removal still happened"
    );
}

#[test]
fn demo_copies_the_builtin_account_and_never_touches_it() {
    let env = Env::new();
    let o = Command::new(env!("CARGO_BIN_EXE_tg-admin"))
        .args([
            "--demo",
            "--out",
            env.out().to_str().expect("utf8"),
            "remove-user",
            "nftaddie",
            "--yes",
        ])
        .env_remove("TELEGRAM_FIXTURE")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("removed"), "{}", stdout(&o));
    let copy = std::fs::read_to_string(env.out().join("telegram-demo.json")).expect("demo copy");
    assert_ne!(
        copy,
        telegram::demo::DEMO_FIXTURE,
        "changes land in the copy"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_tg-admin"))
        .args([
            "--demo",
            "--out",
            env.out().to_str().expect("utf8"),
            "admin-status",
        ])
        .output()
        .expect("run");
    assert_eq!(status.status.code(), Some(0));
    assert!(stdout(&status).lines().count() >= 14, "{}", stdout(&status));
}

#[test]
fn without_fixture_or_session_it_says_to_log_in_first() {
    let env = Env::new();
    let o = Command::new(env!("CARGO_BIN_EXE_tg-admin"))
        .args(["--out", env.out().to_str().expect("utf8"), "admin-status"])
        .env_remove("TELEGRAM_FIXTURE")
        .env("TELEGRAM_API_ID", "12345")
        .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
        .env("TELEGRAM_SESSION", env.dir.path().join("none.session"))
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tg-admin login"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("0123456789abcdef"), "API hash leaked");
    let login = Command::new(env!("CARGO_BIN_EXE_tg-admin"))
        .args(["login"])
        .env_remove("TELEGRAM_FIXTURE")
        .env("TELEGRAM_API_ID", "12345")
        .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
        .env("TELEGRAM_SESSION", env.dir.path().join("none.session"))
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(login.status.code(), Some(2));
    assert!(stderr(&login).contains("terminal"), "{}", stderr(&login));
}

/// Every file under `dir` is 0600 and no temp file is left; with `dirs` (the tool made them all)
/// every directory is 0700.
#[cfg(unix)]
fn assert_owner_only(dir: &Path, dirs: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).expect("dir").permissions().mode() & 0o777;
        assert!(!dirs || mode == 0o700, "{}: {mode:o}", d.display());
        for e in std::fs::read_dir(&d).expect("ls") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            seen += 1;
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            assert!(!name.ends_with(".partial"), "temp file left: {name}");
            let mode = std::fs::metadata(&p).expect("file").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    assert!(seen > 0, "no file under {}", dir.display());
}

/// Export names: "Acme" and "ACME" get different files (one would overwrite the other on a
/// case-insensitive filesystem), a long title is cut to 200 bytes, and every file written is the
/// owner's only.
#[test]
fn export_names_are_unique_ignoring_case_and_capped() {
    let long = "é".repeat(150);
    let json = FIXTURE.replacen(
        "\"chats\": [",
        &format!(
            "\"chats\": [
  {{\"id\": -2001, \"title\": \"Acme\", \"kind\": \"group\",
   \"participants\": [{{\"user\": 1000, \"role\": \"admin\"}}],
   \"messages\": [{{\"id\": 1, \"from\": 1000, \"date\": \"2026-11-18T09:00:00Z\", \"text\": \"lower acme\", \"reply_to\": null}}]}},
  {{\"id\": -2002, \"title\": \"ACME\", \"kind\": \"group\",
   \"participants\": [{{\"user\": 1000, \"role\": \"admin\"}}],
   \"messages\": [{{\"id\": 1, \"from\": 1000, \"date\": \"2026-11-18T09:00:00Z\", \"text\": \"UPPER ACME\", \"reply_to\": null}}]}},
  {{\"id\": -2003, \"title\": \"{long}\", \"kind\": \"group\",
   \"participants\": [{{\"user\": 1000, \"role\": \"admin\"}}]}},"
        ),
        1,
    );
    let env = Env::with_fixture(&json);
    // Temp files a killed run left behind are removed at the start; the earlier export stays.
    std::fs::create_dir_all(env.out().join("tg-admin")).expect("out");
    std::fs::write(env.out().join(".Acme.json.x7Yz2Q.partial"), "half").expect("plant");
    std::fs::write(env.out().join("tg-admin/.report-abc.tmp"), "half").expect("plant");
    std::fs::write(env.out().join("Initech.txt"), "earlier").expect("plant");
    let o = env.run(&["export", "-2001", "-2002", "-2003", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lower = std::fs::read_to_string(env.out().join("Acme.json")).expect("Acme");
    let upper = std::fs::read_to_string(env.out().join("ACME_-2002.json")).expect("ACME");
    assert!(
        lower.contains("lower acme") && !lower.contains("UPPER"),
        "{lower}"
    );
    assert!(upper.contains("UPPER ACME"), "{upper}");
    let names: Vec<String> = std::fs::read_dir(env.out())
        .expect("ls")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let long_name = names
        .iter()
        .find(|n| n.starts_with('é'))
        .expect("long title exported");
    assert_eq!(long_name.len(), 200 + ".json".len(), "{long_name}");
    assert_eq!(*long_name, format!("{}.json", "é".repeat(100)));
    assert!(!env.out().join(".Acme.json.x7Yz2Q.partial").exists());
    assert!(!env.out().join("tg-admin/.report-abc.tmp").exists());
    assert_eq!(
        std::fs::read_to_string(env.out().join("Initech.txt")).expect("kept"),
        "earlier"
    );
    std::fs::remove_file(env.out().join("Initech.txt")).expect("planted by the test");
    #[cfg(unix)]
    assert_owner_only(&env.out(), false);
}

/// Everything a run writes (reports, the operation log, exports, the demo account) is its owner's
/// only, in directories only the owner can enter.
#[cfg(unix)]
#[test]
fn everything_written_is_owner_only() {
    let env = Env::new();
    let o = env.run(&["remove-user", "nftaddie", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = env.run(&["export", "-1001"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = env.run(&["request-ownership", "nftaddie"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(env.out().join("tg-admin/operations.jsonl").exists());
    assert_owner_only(&env.out(), true);

    let demo = tempfile::tempdir().expect("tempdir");
    let out = demo.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_tg-admin"))
        .args([
            "--demo",
            "--out",
            out.to_str().expect("utf8"),
            "admin-status",
        ])
        .current_dir(demo.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_owner_only(&out, true);
}

/// The session lives in the per-user state directory, not in the shared `output/`; a session at
/// the old `output/telegram.session` is still read, with a log line saying it can be moved.
#[test]
fn session_is_read_from_the_state_dir_or_its_old_place() {
    let env = Env::new();
    let state = env.dir.path().join("state");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_tg-admin"))
            .args(["--out", env.out().to_str().expect("utf8"), "admin-status"])
            .env_remove("TELEGRAM_FIXTURE")
            .env_remove("TELEGRAM_SESSION")
            .env_remove("RUST_LOG")
            .env("TELEGRAM_API_ID", "12345")
            .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
            .env("XDG_STATE_HOME", &state)
            .current_dir(env.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run")
    };
    // A broken session file makes the run name the file it read.
    let legacy = env.dir.path().join("output/telegram.session");
    std::fs::create_dir_all(legacy.parent().expect("dir")).expect("mkdir");
    std::fs::write(&legacy, "{not json").expect("legacy session");
    let o = run();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("session file output/telegram.session"),
        "{err}"
    );
    let new_place = state.join("slack-tools/telegram.session");
    assert!(
        err.contains("old location output/telegram.session")
            && err.contains(&new_place.display().to_string()),
        "{err}"
    );

    std::fs::create_dir_all(new_place.parent().expect("dir")).expect("mkdir");
    std::fs::write(&new_place, "{not json").expect("moved session");
    let o = run();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("session file {}", new_place.display())),
        "{err}"
    );
    assert!(!err.contains("old location"), "{err}");
}
