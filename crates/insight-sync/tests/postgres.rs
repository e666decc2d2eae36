//! insight-sync on PostgreSQL: the real binary against a real slack-sim and a fresh database per
//! test (store::test_db; skipped without TEST_DATABASE_URL, a failure in CI): kill -9 in the
//! middle of a sync followed by a clean next run, and the advisory lock that keeps two syncs on
//! one database apart, as the lock file does for SQLite.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use store::test_db::url_password;

use common::dump;
use slack_sim::{FaultKind, GenSpec, ScriptedFault, SimHandle, SimOptions, Workspace};
use store::Store;
use store::test_db::TestDb;

const TOKEN: &str = "xoxp-insight-pg-test";
const BIN: &str = env!("CARGO_BIN_EXE_insight-sync");

fn workspace() -> Workspace {
    let end = jiff::Timestamp::now().as_second() - 3600;
    slack_sim::generate(&GenSpec {
        users: 30,
        channels: 8,
        days: 5,
        seed: 7,
        max_members: Some(15),
        end: Some(end),
    })
}

async fn start(ws: Workspace, fault_script: Vec<ScriptedFault>) -> SimHandle {
    slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            fault_script,
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim starts")
}

fn write_config(dir: &Path) {
    std::fs::write(
        dir.join("insight.json"),
        serde_json::json!({
            "channels": {"name_contains": []},
            "window_days": 7, "timezone": "Europe/Berlin"
        })
        .to_string(),
    )
    .expect("config");
}

/// A fixed backfill start (10 days ago), so runs seconds apart fetch the same range.
fn since_day() -> String {
    let day = jiff::Timestamp::now().as_second() / 86_400 - 10;
    jiff::Timestamp::from_second(day * 86_400)
        .expect("ts")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

fn command(cfg: &Path, out: &Path, db: &str, base: &str) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .arg("--db")
        .arg(db)
        .args(["--since", &since_day(), "-q"])
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    c
}

fn spawn_quiet(cfg: &Path, out: &Path, db: &str, base: &str) -> Child {
    command(cfg, out, db, base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn advisory_locks(store: &Store) -> i64 {
    store
        .db()
        .query_row(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [],
            |r| r.get(0),
        )
        .expect("pg_locks")
}

fn assert_no_password(output: &Output, url: &str) {
    let pw = url_password(url);
    for (what, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&pw),
            "the password shows in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_sync_on_postgres_then_a_clean_run_matches_an_uninterrupted_one() {
    let Some(reference) = TestDb::new() else {
        return;
    };
    let sim = start(workspace(), Vec::new()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().expect("tmp");
    write_config(dir.path());
    let cfg = dir.path().to_path_buf();
    let (c, b, url) = (cfg.clone(), base.clone(), reference.url().to_string());
    let full_ms = tokio::task::spawn_blocking(move || {
        let out = tempfile::tempdir().expect("tmp");
        let started = Instant::now();
        let run = command(&c, out.path(), &url, &b).output().expect("runs");
        assert!(
            run.status.success(),
            "the reference run succeeds: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_no_password(&run, &url);
        started.elapsed().as_millis() as u64
    })
    .await
    .expect("join");
    let expected = dump(&reference.open());
    assert!(
        expected.iter().any(|r| r.starts_with("Some(\"e\")")),
        "events were stored"
    );

    let mut killed_mid_run = 0;
    let mut seed = 20_260_101_u64;
    for trial in 0..8 {
        let db = TestDb::new().expect("the server answers");
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay_ms = 5 + (seed >> 33) % full_ms.max(10);
        let (c, b, url) = (cfg.clone(), base.clone(), db.url().to_string());
        let (early, resync) = tokio::task::spawn_blocking(move || {
            let out = tempfile::tempdir().expect("tmp");
            let mut child = spawn_quiet(&c, out.path(), &url, &b);
            std::thread::sleep(Duration::from_millis(delay_ms));
            let early = child.try_wait().expect("wait").is_some();
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            (
                early,
                command(&c, out.path(), &url, &b).output().expect("runs"),
            )
        })
        .await
        .expect("join");
        if !early {
            killed_mid_run += 1;
        }
        assert!(
            resync.status.success(),
            "trial {trial}: the next run succeeds: {}",
            String::from_utf8_lossy(&resync.stderr)
        );
        let store = db.open();
        assert_eq!(
            dump(&store),
            expected,
            "trial {trial} (killed after {delay_ms} ms)"
        );
        assert_eq!(advisory_locks(&store), 0, "no lock is left behind");
    }
    assert!(
        killed_mid_run >= 3,
        "most kills should land mid-run, got {killed_mid_run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_on_postgres_is_refused_like_with_the_lock_file_and_a_killed_one_frees_it() {
    let Some(db) = TestDb::new() else {
        return;
    };
    // users.list answers 429 (Retry-After: 1 s) four times: the first sync holds the lock a while.
    let slow = (0..4)
        .map(|_| ScriptedFault {
            method: "users.list".into(),
            fault: FaultKind::RateLimited,
        })
        .collect();
    let sim = start(workspace(), slow).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().expect("tmp");
    write_config(dir.path());
    let cfg = dir.path();
    let out = dir.path().join("out");

    // Today's behaviour with SQLite: a sync while another holds the lock file.
    let lite = dir.path().join("insight.db");
    let held = insight_sync::lock(&lite).expect("lock file");
    let refused_lite = command(cfg, &out, lite.to_str().expect("utf-8"), &base)
        .output()
        .expect("runs");
    drop(held);
    let lite_err = String::from_utf8_lossy(&refused_lite.stderr).to_string();
    assert!(
        lite_err.contains("another insight-sync is running on"),
        "{lite_err}"
    );

    // Postgres: a real first sync, a real second one while it runs.
    let store = db.open();
    let mut first = spawn_quiet(cfg, &out, db.url(), &base);
    let deadline = Instant::now() + Duration::from_secs(30);
    while advisory_locks(&store) == 0 {
        assert!(
            first.try_wait().expect("wait").is_none(),
            "the first sync ended before it was seen holding the lock"
        );
        assert!(
            Instant::now() < deadline,
            "the first sync never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = command(cfg, &out, db.url(), &base).output().expect("runs");
    assert_no_password(&refused, db.url());
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), refused_lite.status.code(), "{err}");
    assert_ne!(refused.status.code(), Some(0));
    let shown = store::shown_location(Path::new(db.url()));
    assert!(
        err.contains(&format!("another insight-sync is running on {shown}")),
        "{err}"
    );
    assert!(
        first.try_wait().expect("wait").is_none(),
        "the refused sync left the running one alone"
    );

    // kill -9 of the holder: the server ends its session and the lock with it.
    let _ = first.kill();
    let _ = first.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while advisory_locks(&store) > 0 {
        assert!(Instant::now() < deadline, "the killed sync's lock stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let next = command(cfg, &out, db.url(), &base).output().expect("runs");
    assert!(
        next.status.success(),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_no_password(&next, db.url());
    let runs: Vec<String> = store
        .db()
        .query_all(
            "SELECT status FROM insight_sync_runs ORDER BY run_id",
            [],
            |r| r.get(0),
        )
        .expect("runs");
    // The killed one was still waiting on users.list, before it records a run.
    assert_eq!(runs.last().map(String::as_str), Some("ok"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_user_on_postgres_leaves_no_row_that_names_the_person() {
    let Some(db) = TestDb::new() else { return };
    let sim = start(workspace(), Vec::new()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().expect("tmp");
    write_config(dir.path());
    let out = tempfile::tempdir().expect("tmp");
    let (cfg, o, url, b) = (
        dir.path().to_path_buf(),
        out.path().to_path_buf(),
        db.url().to_string(),
        base.clone(),
    );
    let synced = tokio::task::spawn_blocking(move || command(&cfg, &o, &url, &b).output())
        .await
        .expect("join")
        .expect("runs");
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let victim: String = db
        .open()
        .db()
        .query_row(
            "SELECT user_id FROM insight_events GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a user with events");
    let mentions = |store: &Store| -> i64 {
        let like = format!("%{victim}%");
        [
            "SELECT count(*) FROM insight_events WHERE user_id = ?1 OR coalesce(text, '') LIKE ?2",
            "SELECT count(*) FROM insight_users WHERE user_id = ?1 OR name LIKE ?2",
            "SELECT count(*) FROM insight_members WHERE user_id = ?1 OR user_id LIKE ?2",
            "SELECT count(*) FROM insight_daily_user_channel WHERE user_id = ?1 OR user_id LIKE ?2",
            "SELECT count(*) FROM insight_active_windows WHERE user_id = ?1 OR user_id LIKE ?2",
        ]
        .iter()
        .map(|sql| {
            store
                .db()
                .query_row(sql, store::db::params![victim, like], |r| r.get::<i64>(0))
                .expect("count")
        })
        .sum()
    };
    assert!(mentions(&db.open()) > 0);

    // A dry run changes nothing; the real run removes every row.
    for dry in [true, false] {
        let (cfg, o, url, b, v) = (
            dir.path().to_path_buf(),
            out.path().to_path_buf(),
            db.url().to_string(),
            base.clone(),
            victim.clone(),
        );
        let run = tokio::task::spawn_blocking(move || {
            let mut c = command(&cfg, &o, &url, &b);
            c.args(["purge-user", &v, "--yes"]);
            if dry {
                c.arg("--dry-run");
            }
            c.output()
        })
        .await
        .expect("join")
        .expect("runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_no_password(&run, db.url());
        let left = mentions(&db.open());
        if dry {
            assert!(left > 0, "a dry run removed rows");
        } else {
            assert_eq!(left, 0, "rows still name {victim}");
        }
    }
}
