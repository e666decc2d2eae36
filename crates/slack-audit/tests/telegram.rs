//! End-to-end: the Telegram side of `slack-audit` (real binary; the Telegram account is a fixture
//! file in the test's temp dir via `TELEGRAM_FIXTURE`, Slack a slack-sim on loopback).

mod common;

use common::*;
use slack_sim::SimOptions;

/// Our account 1000 and the sales engineer `mojo` (2001) share -1001, -1002 and -1005; -1003 is a
/// broadcast channel, -1004 is not shared with mojo.
/// - -1001 "cust Acme": aki and maria → complete
/// - -1002 "Globex chat" (basic group): aki only → maria missing
/// - -1005 "Intro: Hooli": maria and frank (optional, matched by id) → aki missing
const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "users": [
  {"id": 2001, "username": "Mojo", "first_name": "Mo", "last_name": "Jonas"},
  {"id": 2002, "username": "akibalogh", "first_name": "Aki", "last_name": "Balogh"},
  {"id": 2006, "username": "MariaL", "first_name": "Maria", "last_name": "Lopez"},
  {"id": 777, "first_name": "Frank"},
  {"id": 3001, "username": "acme_ceo", "first_name": "Priya"}],
 "chats": [
  {"id": -1001, "title": "cust Acme", "kind": "supergroup", "participants": [
    {"user": 1000, "role": "creator"}, {"user": 2001, "role": "member"},
    {"user": 2002, "role": "member"}, {"user": 2006, "role": "member"}, {"user": 3001, "role": "member"}]},
  {"id": -1002, "title": "Globex chat", "kind": "group", "participants": [
    {"user": 1000, "role": "admin"}, {"user": 2001, "role": "member"},
    {"user": 2002, "role": "member"}, {"user": 3001, "role": "member"}]},
  {"id": -1003, "title": "Announcements", "kind": "channel", "participants": [
    {"user": 1000, "role": "creator"}, {"user": 2001, "role": "member"}, {"user": 2002, "role": "member"}]},
  {"id": -1004, "title": "Not shared", "kind": "supergroup", "participants": [
    {"user": 1000, "role": "member"}, {"user": 2002, "role": "member"}, {"user": 3001, "role": "creator"}]},
  {"id": -1005, "title": "Intro: Hooli", "kind": "supergroup", "participants": [
    {"user": 1000, "role": "member"}, {"user": 2001, "role": "creator"},
    {"user": 2006, "role": "member"}, {"user": 777, "role": "member"}]}]}"#;

/// The common test team with Telegram identifiers: a username (any case), a full name, an id.
const TEAM_TG: &str = r#"{"members": [
  {"handle": "aki", "name": "Aki Balogh", "role": "required", "slack": ["aki"], "telegram": ["@AkiBalogh"]},
  {"handle": "maria", "name": "Maria Lopez", "role": "required", "slack": ["maria@corp.example"], "telegram": ["Maria Lopez"]},
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["U0FRANK"], "telegram": ["777"]}
]}"#;

const CATEGORIES_SHARED: &str = r#"{"slack_scope": {"name_contains": ["cust"]},
 "telegram_scope": {"shared_with": "@mojo"},
 "categories": [{"name": "Intro", "match": ["intro"]}, {"name": "BD Customer"}]}"#;

fn latest_csv(t: &TestDir) -> std::path::PathBuf {
    t.reports().join("slack-audit-latest-groups.csv")
}

/// (platform, group_id) of every CSV row.
fn row_ids(t: &TestDir) -> Vec<(String, String)> {
    let (_, rows) = read_csv(&latest_csv(t));
    rows.into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn telegram_ids(t: &TestDir) -> Vec<String> {
    let mut ids: Vec<String> = row_ids(t)
        .into_iter()
        .filter(|(p, _)| p == "telegram")
        .map(|(_, id)| id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_rows_join_the_slack_report_with_their_gaps() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM_TG, CATEGORIES_SHARED);
    let fixture = t.write_telegram_fixture(FIXTURE);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_FIXTURE", &fixture);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(
        !stdout(&out).contains("Telegram: skipped"),
        "{}",
        stdout(&out)
    );

    // Shared with mojo only; the broadcast channel and the unshared group are left out.
    assert_eq!(telegram_ids(&t), vec!["-1001", "-1002", "-1005"]);
    let slack_rows = row_ids(&t).iter().filter(|(p, _)| p == "slack").count();
    assert_eq!(slack_rows, 4, "the Slack part is unchanged");

    let csv = latest_csv(&t);
    let acme = csv_row(&csv, "cust Acme");
    assert_eq!(acme["platform"], "telegram");
    assert_eq!(acme["group_id"], "-1001");
    assert_eq!(acme["required_present"], "2");
    assert_eq!(acme["missing_required"], "");
    assert_eq!(acme["missing_optional"], "frank");
    let globex = csv_row(&csv, "Globex chat");
    assert_eq!(globex["category"], "BD Customer");
    assert_eq!(globex["required_present"], "1");
    assert_eq!(globex["required_total"], "2");
    assert_eq!(globex["missing_required"], "maria");
    // No public-username information: Telegram groups count as private, never flagged public.
    assert_eq!(globex["is_private"], "yes");
    assert_eq!(globex["flag_public"], "no");
    assert_eq!(globex["member_count"], "4");
    let intro = csv_row(&csv, "Intro: Hooli");
    assert_eq!(intro["category"], "Intro");
    assert_eq!(intro["missing_required"], "aki");
    assert_eq!(intro["optional_present"], "1");

    let xlsx = t.reports().join("slack-audit-latest.xlsx");
    let missing = sheet(&xlsx, "Missing");
    let tg_missing: Vec<&Vec<String>> = missing.iter().filter(|r| r[0] == "telegram").collect();
    assert_eq!(tg_missing.len(), 2, "{missing:?}");
    assert!(
        tg_missing
            .iter()
            .any(|r| r[1] == "-1002" && r[4] == "maria" && r[6] == "2006"),
        "{tg_missing:?}"
    );
    assert!(
        tg_missing
            .iter()
            .any(|r| r[1] == "-1005" && r[4] == "aki" && r[6] == "2002"),
        "{tg_missing:?}"
    );
    let groups = sheet(&xlsx, "Groups");
    assert!(
        groups
            .iter()
            .any(|r| r[0] == "telegram" && r[1] == "-1002" && r[6] == "maria"),
        "{groups:?}"
    );
    let summary = sheet(&xlsx, "Summary");
    let platforms = summary
        .iter()
        .find(|r| r[0] == "Platforms")
        .expect("platforms row");
    assert_eq!(platforms[1], "slack, telegram");
    // Slack: acme complete, globex and public with gaps; Telegram: acme complete, globex gap.
    let coverage = summary
        .iter()
        .find(|r| r[0].starts_with("Coverage rate"))
        .expect("coverage row");
    assert_eq!(coverage[1].parse::<f64>().expect("number"), 0.4);

    // The audit only reads: the fixture is as the test wrote it.
    assert_eq!(std::fs::read_to_string(&fixture).expect("fixture"), FIXTURE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_slack_audits_every_telegram_group_when_no_shared_with() {
    let t = TestDir::new();
    t.write_config(TEAM_TG, CATEGORIES);
    let fixture = t.write_telegram_fixture(FIXTURE);
    // No Slack settings at all: with --skip-slack none are needed.
    let mut cmd = t.command(None);
    cmd.env("TELEGRAM_FIXTURE", &fixture)
        .arg("--skip-slack")
        .arg("--json");
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        doc["skipped"],
        serde_json::json!(["Slack: skipped (--skip-slack)"])
    );
    assert_eq!(doc["summary"]["platforms"], serde_json::json!(["telegram"]));

    let ids = row_ids(&t);
    assert!(ids.iter().all(|(p, _)| p == "telegram"), "{ids:?}");
    // All groups and supergroups, still no broadcast channel.
    assert_eq!(telegram_ids(&t), vec!["-1001", "-1002", "-1004", "-1005"]);
    let unshared = csv_row(&latest_csv(&t), "Not shared");
    assert_eq!(unshared["missing_required"], "maria");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_telegram_and_unconfigured_telegram_leave_slack_only() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM_TG, CATEGORIES_SHARED);
    let fixture = t.write_telegram_fixture(FIXTURE);

    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_FIXTURE", &fixture).arg("--skip-telegram");
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("Telegram: skipped (--skip-telegram)"),
        "{}",
        stdout(&out)
    );
    assert!(telegram_ids(&t).is_empty());

    // Nothing configured (the helper clears every TELEGRAM_* variable; no session file here).
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("Telegram: skipped (not configured)"),
        "{}",
        stdout(&out)
    );
    assert!(telegram_ids(&t).is_empty());

    // Both skipped: nothing to audit is a usage error.
    let mut cmd = t.command(None);
    cmd.arg("--skip-slack");
    let out = run(cmd).await;
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("nothing to audit"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_not_logged_in_fails_the_run_but_slack_is_reported() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM_TG, CATEGORIES_SHARED);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_API_ID", "12345")
        .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
        .env("TELEGRAM_SESSION", t.path().join("none.session"));
    let out = run(cmd).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("Telegram: failed (not logged in to Telegram)"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("tg-admin login"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("0123456789abcdef"),
        "no secret in output"
    );
    assert_eq!(row_ids(&t).len(), 4, "the Slack rows are written");
    assert!(telegram_ids(&t).is_empty());

    // Telegram alone: the same problem is a settings error (exit 2) and nothing is written.
    let t2 = TestDir::new();
    t2.write_config(TEAM_TG, CATEGORIES_SHARED);
    let mut cmd = t2.command(None);
    cmd.env("TELEGRAM_API_ID", "12345")
        .env("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
        .env("TELEGRAM_SESSION", t2.path().join("none.session"))
        .arg("--skip-slack");
    let out = run(cmd).await;
    assert_eq!(code(&out), 2, "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("tg-admin login"), "{}", stderr(&out));
    assert!(!t2.reports().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_flood_wait_is_reported_and_a_short_one_waited_out() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM_TG, CATEGORIES_SHARED);
    let long = FIXTURE.replacen(
        r#""chats": ["#,
        r#""flood_wait": [{"op": "participants", "seconds": 3600, "chat": -1002}], "chats": ["#,
        1,
    );
    let fixture = t.write_telegram_fixture(&long);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_FIXTURE", &fixture);
    let out = run(cmd).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Telegram: failed (gave up on participants in chat -1002: Telegram asks to wait 3600s (FLOOD_WAIT), more than the 60s limit)"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("--max-flood-wait"),
        "{}",
        stderr(&out)
    );
    assert_eq!(row_ids(&t).len(), 4, "the Slack part is still reported");
    assert!(telegram_ids(&t).is_empty());

    // A short wait (within --max-flood-wait) is slept through and the run completes.
    let short = FIXTURE.replacen(
        r#""chats": ["#,
        r#""flood_wait": [{"op": "participants", "seconds": 1, "chat": -1002}], "chats": ["#,
        1,
    );
    let fixture = t.write_telegram_fixture(&short);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_FIXTURE", &fixture)
        .args(["--max-flood-wait", "5"]);
    let started = std::time::Instant::now();
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(stderr(&out).contains("FLOOD_WAIT"), "{}", stderr(&out));
    assert_eq!(telegram_ids(&t), vec!["-1001", "-1002", "-1005"]);
    // The rule fired and was consumed: the fixture written back has no flood_wait left.
    let after = std::fs::read_to_string(&fixture).expect("fixture");
    assert!(!after.contains("flood_wait"), "{after}");
    // The previous run had no Telegram part: its groups are not "new", and the coverage change
    // over different platforms is not given.
    let since = "Since the previous run: 0 new group(s), 0 removed, 0 gap(s) closed, 0 opened\n";
    assert!(stdout(&out).contains(since), "{}", stdout(&out));

    // Telegram fails again: its groups are not "removed" either.
    let fixture = t.write_telegram_fixture(&long);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.env("TELEGRAM_FIXTURE", &fixture);
    let out = run(cmd).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains(since), "{}", stdout(&out));
}
