//! The store against real SQLite files in temp dirs: migrations, version guard, audit history and
//! notification delivery states.

use std::path::Path;

use jiff::Timestamp;
use serde_json::json;
use store::audit::{AuditRunStatus, Finding, NewAuditRun, NotificationStatus};
use store::migrations::SCHEMA_VERSION;
use store::{Store, StoreError};

fn table_names(store: &Store) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Runs `f` with where a store lives, first a SQLite file, then (with a server) a fresh Postgres
/// database: for tests that open the store more than once.
fn on_both_locations(f: impl Fn(&Path)) {
    let dir = tempfile::tempdir().expect("tempdir");
    f(&dir.path().join("db.sqlite"));
    if let Some(pg) = store::test_db::TestDb::new() {
        f(Path::new(pg.url()));
    }
}

fn run_at(ts: &str, coverage: Option<f64>) -> NewAuditRun {
    NewAuditRun {
        started_at: ts.parse().expect("valid time"),
        finished_at: Some(
            ts.parse::<Timestamp>().expect("valid time") + jiff::SignedDuration::from_secs(42),
        ),
        platforms: vec!["slack".into()],
        groups: 3,
        groups_with_gaps: 1,
        missing_required: 2,
        coverage,
        results: json!({"groups": [{"id": "C1", "name": "bitsafe-acme"}], "note": "ünïcode"}),
    }
}

fn finding(group_id: &str, missing: &[&str]) -> Finding {
    Finding {
        platform: "slack".into(),
        group_id: group_id.into(),
        group_name: format!("bitsafe-{group_id}"),
        category: "BD Customer".into(),
        required_present: 1,
        required_total: 1 + missing.len() as i64,
        missing_required: missing.iter().map(|s| s.to_string()).collect(),
        missing_optional: vec!["frank".into()],
        error: None,
    }
}

#[test]
fn fresh_file_gets_every_migration_and_parent_dirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/deeper/slack-tools.db");
    let store = Store::open(&path).expect("opens");
    assert!(path.exists());
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.path(), Some(path.as_path()));
    let tables = table_names(&store);
    for t in [
        "audit_findings",
        "audit_runs",
        "meta",
        "notifications",
        "workspaces",
    ] {
        assert!(
            tables.iter().any(|n| n == t),
            "missing table {t} in {tables:?}"
        );
    }
    let mode: String = store
        .conn()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .conn()
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("fk");
    assert_eq!(fk, 1);
}

/// The database and the `-wal`/`-shm` files SQLite makes beside it hold customer data: owner only
/// from creation (SQLite gives them the database file's mode), and so is the directory made for it.
#[cfg(unix)]
#[test]
fn database_files_and_new_dirs_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/slack-tools.db");
    let store = Store::open(&path).expect("opens");
    store
        .conn()
        .execute_batch("CREATE TABLE probe(x); INSERT INTO probe VALUES (1);")
        .expect("write");
    let wal = dir.path().join("state/slack-tools.db-wal");
    let shm = dir.path().join("state/slack-tools.db-shm");
    assert!(wal.exists() && shm.exists(), "WAL files exist while open");
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    for p in [&path, &wal, &shm] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    drop(store);
    // Reopening an existing file leaves its contents alone.
    let store = Store::open(&path).expect("reopens");
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM probe", [], |r| r.get(0))
        .expect("probe kept");
    assert_eq!(n, 1);
}

#[test]
fn reopen_is_a_no_op_and_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        let store = Store::open(&path).expect("first open");
        store.meta_set("written_by", "test").expect("write");
    }
    let schema_before: Vec<String> = {
        let store = Store::open(&path).expect("second open");
        let mut stmt = store
            .conn()
            .prepare("SELECT sql FROM sqlite_master ORDER BY name")
            .expect("p");
        stmt.query_map([], |r| r.get::<_, Option<String>>(0))
            .expect("q")
            .map(|r| r.expect("row").unwrap_or_default())
            .collect()
    };
    let store = Store::open(&path).expect("third open");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(
        store.meta_get("written_by").expect("read").as_deref(),
        Some("test")
    );
    let mut stmt = store
        .conn()
        .prepare("SELECT sql FROM sqlite_master ORDER BY name")
        .expect("p");
    let schema_after: Vec<String> = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .expect("q")
        .map(|r| r.expect("row").unwrap_or_default())
        .collect();
    assert_eq!(schema_before, schema_after);
}

#[test]
fn newer_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future.db");
    let future = SCHEMA_VERSION + 5;
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch("CREATE TABLE from_the_future (x INTEGER);")
            .expect("create");
        conn.pragma_update(None, "user_version", future)
            .expect("set version");
    }
    let err = Store::open(&path).expect_err("must refuse a newer schema");
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!(*found, future);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("future.db") && message.contains("hint:"),
        "{message}"
    );
    // Nothing was migrated into it.
    let conn = rusqlite::Connection::open(&path).expect("raw reopen");
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("v");
    assert_eq!(v, future);
    let audit_tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_runs'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(audit_tables, 0);
}

#[test]
fn audit_runs_round_trip_through_a_file() {
    on_both_locations(|path| {
        let first = run_at("2026-03-02T09:00:00Z", Some(50.0));
        let second = run_at("2026-03-09T09:00:00.25Z", None);
        let (id1, id2) = {
            let mut store = Store::open(path).expect("open");
            assert!(store.latest_audit_run().expect("latest").is_none());
            let id1 = store
                .insert_audit_run(
                    &first,
                    &[finding("C1", &["alice", "bob"]), finding("C2", &["alice"])],
                )
                .expect("insert 1");
            let id2 = store.insert_audit_run(&second, &[]).expect("insert 2");
            (id1, id2)
        };
        assert!(id2 > id1);

        let store = Store::open(path).expect("reopen");
        let latest = store.latest_audit_run().expect("latest").expect("some run");
        assert_eq!(latest.id, id2);
        assert_eq!(latest.started_at, second.started_at);
        assert_eq!(latest.finished_at, second.finished_at);
        assert_eq!(latest.coverage, None);

        let prev = store
            .previous_audit_run(id2)
            .expect("previous")
            .expect("some run");
        assert_eq!(prev.id, id1);
        assert_eq!(prev.platforms, vec!["slack".to_string()]);
        assert_eq!(
            (prev.groups, prev.groups_with_gaps, prev.missing_required),
            (3, 1, 2)
        );
        assert_eq!(prev.coverage, Some(50.0));
        assert!(store.previous_audit_run(id1).expect("previous").is_none());

        let listed = store.list_audit_runs(10).expect("list");
        assert_eq!(
            listed.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![id2, id1]
        );
        assert_eq!(store.list_audit_runs(1).expect("list").len(), 1);

        assert_eq!(
            store.audit_run_results(id1).expect("results"),
            Some(first.results.clone())
        );
        assert_eq!(store.audit_run_results(9999).expect("results"), None);

        let findings = store.audit_findings(id1).expect("findings");
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].group_id, "C1");
        assert_eq!(
            findings[0].missing_required,
            vec!["alice".to_string(), "bob".to_string()]
        );
        assert_eq!(findings[0].missing_optional, vec!["frank".to_string()]);
        assert_eq!(findings[1].required_total, 2);
        assert!(store.audit_findings(id2).expect("findings").is_empty());
    });
}

#[test]
fn a_run_is_running_until_finished_and_a_dead_one_is_marked_interrupted() {
    on_both_locations(|path| {
        let mut store = Store::open(path).expect("open");
        let done = run_at("2026-03-02T09:00:00Z", Some(50.0));
        let first = store
            .begin_audit_run(done.started_at, "cli")
            .expect("begin 1");
        let row = store.audit_run(first).expect("read").expect("row");
        assert_eq!(
            (row.status, row.started_by.as_deref(), row.finished_at),
            (AuditRunStatus::Running, Some("cli"), None)
        );
        assert!(
            store.latest_audit_run().expect("latest").is_none(),
            "a run going on has no results to compare with"
        );
        store
            .finish_audit_run(first, &done, &[finding("C1", &["alice"])])
            .expect("finish");
        let row = store.audit_run(first).expect("read").expect("row");
        assert_eq!(row.status, AuditRunStatus::Finished);
        assert_eq!(row.finished_at, done.finished_at);
        assert_eq!((row.groups, row.coverage), (3, Some(50.0)));
        assert_eq!(store.audit_findings(first).expect("findings").len(), 1);

        // A second run dies mid-way, a third fails: neither is the latest finished run.
        let dead = store
            .begin_audit_run(Timestamp::now(), "panel:ana")
            .expect("begin 2");
        let failed = store.begin_audit_run(Timestamp::now(), "demo").expect("3");
        store.fail_audit_run(failed).expect("fail");
        assert_eq!(
            store.latest_audit_run().expect("latest").map(|r| r.id),
            Some(first)
        );
        drop(store);

        let mut store = Store::open(path).expect("reopen");
        assert_eq!(
            store.mark_running_audit_runs_interrupted().expect("mark"),
            1
        );
        let statuses: Vec<(i64, AuditRunStatus, Option<String>)> = store
            .list_audit_runs(10)
            .expect("list")
            .into_iter()
            .map(|r| (r.id, r.status, r.started_by))
            .collect();
        assert_eq!(
            statuses,
            vec![
                (failed, AuditRunStatus::Failed, Some("demo".into())),
                (dead, AuditRunStatus::Interrupted, Some("panel:ana".into())),
                (first, AuditRunStatus::Finished, Some("cli".into())),
            ]
        );
        let failed_row = store.audit_run(failed).expect("read").expect("row");
        assert!(failed_row.finished_at.is_some(), "a failed run has an end");
        assert_eq!(
            store.mark_running_audit_runs_interrupted().expect("mark"),
            0
        );
        assert!(matches!(
            store.fail_audit_run(9999),
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn history_pages_newest_first_by_cursor() {
    store::test_db::on_both(|store| {
        let r1 = store
            .insert_audit_run(&run_at("2026-03-01T09:00:00Z", Some(0.5)), &[])
            .expect("run 1");
        let r2 = store
            .insert_audit_run(&run_at("2026-03-08T09:00:00Z", Some(0.5)), &[])
            .expect("run 2");
        let running = store
            .begin_audit_run("2026-03-15T09:00:00Z".parse().expect("time"), "cli")
            .expect("begin");
        let r4 = store
            .insert_audit_run(&run_at("2026-03-22T09:00:00Z", Some(0.5)), &[])
            .expect("run 4");

        // Pages of two, newest first, every state; the cursor is the last id of a page.
        let ids =
            |rows: Vec<store::audit::AuditRunRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.audit_runs_page(None, 2).expect("p1")),
            vec![r4, running]
        );
        assert_eq!(
            ids(store.audit_runs_page(Some(running), 2).expect("p2")),
            vec![r2, r1]
        );
        assert!(store.audit_runs_page(Some(r1), 2).expect("p3").is_empty());
    });
}

#[test]
fn runs_recorded_before_migration_7_get_a_status_from_their_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite");
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        store::migrations::MIGRATIONS
            .to_version(&mut conn, 6)
            .expect("schema 6");
        conn.execute_batch(
            "INSERT INTO audit_runs (started_at, finished_at, platforms, groups, groups_with_gaps,
                                     missing_required, results_json)
             VALUES ('2026-03-02T09:00:00Z', '2026-03-02T09:01:00Z', 'slack', 1, 0, 0, '{}'),
                    ('2026-03-09T09:00:00Z', NULL, 'slack', 1, 0, 0, '{}');",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrates");
    let runs = store.list_audit_runs(10).expect("list");
    let got: Vec<(AuditRunStatus, Option<String>)> =
        runs.into_iter().map(|r| (r.status, r.started_by)).collect();
    assert_eq!(
        got,
        vec![
            (AuditRunStatus::Interrupted, None),
            (AuditRunStatus::Finished, None)
        ]
    );
}

#[test]
fn failed_insert_leaves_no_partial_run() {
    store::test_db::on_both(|store| {
        // The same group twice in one run violates UNIQUE(run_id, platform, group_id).
        let err = store
            .insert_audit_run(
                &run_at("2026-03-02T09:00:00Z", Some(1.0)),
                &[finding("C1", &[]), finding("C1", &[])],
            )
            .expect_err("duplicate finding must fail");
        assert!(
            matches!(&err, StoreError::Db(e) if e.is_unique_violation()),
            "{err:?}"
        );
        assert!(
            store.latest_audit_run().expect("latest").is_none(),
            "the run row was rolled back"
        );
    });
}

#[test]
fn notification_goes_through_retry_to_delivery() {
    store::test_db::on_both(|store| {
        let run = store
            .insert_audit_run(&run_at("2026-03-02T09:00:00Z", Some(80.0)), &[])
            .expect("run");
        let id = store
            .notification_create(Some(run), "#growth")
            .expect("create");

        let n = store.notification_get(id).expect("get").expect("exists");
        assert_eq!(
            (n.status, n.attempts, n.channel.as_str()),
            (NotificationStatus::Queued, 0, "#growth")
        );

        use NotificationStatus::*;
        let n = store
            .notification_update_status(id, Sending, None, None)
            .expect("sending");
        assert_eq!((n.status, n.attempts), (Sending, 1));
        let n = store
            .notification_update_status(id, Retrying, Some("ratelimited"), None)
            .expect("retry");
        assert_eq!(
            (n.status, n.error.as_deref()),
            (Retrying, Some("ratelimited"))
        );
        let n = store
            .notification_update_status(id, Sending, None, None)
            .expect("sending again");
        assert_eq!(
            (n.attempts, n.error.as_deref()),
            (2, Some("ratelimited")),
            "last error kept while retrying"
        );
        let n = store
            .notification_update_status(id, Delivered, None, Some("1712345678.000100"))
            .expect("delivered");
        assert_eq!(n.status, Delivered);
        assert_eq!(n.attempts, 2);
        assert_eq!(n.error, None, "delivery clears the error");
        assert_eq!(n.message_ts.as_deref(), Some("1712345678.000100"));
        assert!(n.updated_at >= n.created_at);

        let err = store
            .notification_update_status(id, Sending, None, None)
            .expect_err("delivered is final");
        assert!(
            matches!(
                err,
                StoreError::InvalidTransition {
                    from: Delivered,
                    to: Sending,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(store.notifications_for_run(run).expect("list").len(), 1);
    });
}

#[test]
fn notification_rejects_skipping_states_and_unknown_ids() {
    use NotificationStatus::*;
    store::test_db::on_both(|store| {
        let id = store.notification_create(None, "C0GROWTH").expect("create");
        let err = store
            .notification_update_status(id, Delivered, None, None)
            .expect_err("queued -> delivered");
        assert!(
            matches!(
                err,
                StoreError::InvalidTransition {
                    from: Queued,
                    to: Delivered,
                    ..
                }
            ),
            "{err:?}"
        );
        // The rejected move changed nothing.
        assert_eq!(
            store
                .notification_get(id)
                .expect("get")
                .expect("exists")
                .status,
            Queued
        );

        store
            .notification_update_status(id, Sending, None, None)
            .expect("sending");
        let n = store
            .notification_update_status(id, Failed, Some("channel_not_found"), None)
            .expect("failed");
        assert_eq!(
            (n.status, n.error.as_deref()),
            (Failed, Some("channel_not_found"))
        );
        assert!(
            store
                .notification_update_status(id, Retrying, None, None)
                .is_err(),
            "failed is final"
        );

        let err = store
            .notification_update_status(4242, Sending, None, None)
            .expect_err("no such id");
        assert!(
            matches!(err, StoreError::NotFound { id: 4242, .. }),
            "{err:?}"
        );
    });
}

#[test]
fn deleting_a_run_cascades_to_findings_and_detaches_notifications() {
    store::test_db::on_both(|store| {
        let run = store
            .insert_audit_run(
                &run_at("2026-03-02T09:00:00Z", None),
                &[finding("C1", &["a"])],
            )
            .expect("run");
        let n = store
            .notification_create(Some(run), "#growth")
            .expect("notification");
        store
            .db()
            .execute("DELETE FROM audit_runs WHERE id = ?1", [run])
            .expect("delete");
        assert!(store.audit_findings(run).expect("findings").is_empty());
        assert_eq!(
            store
                .notification_get(n)
                .expect("get")
                .expect("kept")
                .run_id,
            None
        );
    });
}

#[test]
fn a_second_writer_waits_for_the_lock_instead_of_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shared.db");
    let mut holder = Store::open(&path).expect("open 1");
    let waiter = Store::open(&path).expect("open 2");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let tx = holder
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("write lock");
        tx.execute("INSERT INTO meta (key, value) VALUES ('holder', '1')", [])
            .expect("write");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().expect("commit");
    });
    locked_rx.recv().expect("holder has the lock");
    // Without a busy timeout this fails at once with SQLITE_BUSY ("database is locked").
    waiter
        .meta_set("waiter", "2")
        .expect("waits for the lock, then writes");
    handle.join().expect("holder thread");
    assert_eq!(
        waiter.meta_get("holder").expect("read").as_deref(),
        Some("1")
    );
    assert_eq!(
        waiter.meta_get("waiter").expect("read").as_deref(),
        Some("2")
    );
}

#[test]
fn wal_is_checkpointed_every_32_mb_not_every_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db.sqlite")).expect("opens");
    let pages: i64 = store
        .conn()
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .expect("wal_autocheckpoint");
    assert_eq!(pages, 8192);
}

#[test]
fn only_the_panels_own_running_runs_are_marked_interrupted() {
    store::test_db::on_both(|store| {
        let cron = store.begin_audit_run(Timestamp::now(), "cli").expect("cli");
        let panel = store
            .begin_audit_run(Timestamp::now(), "panel:ana")
            .expect("panel");
        // The prefix is matched exactly (no LIKE wildcards).
        let odd = store
            .begin_audit_run(Timestamp::now(), "panelXana")
            .expect("odd");
        assert_eq!(
            store
                .mark_running_audit_runs_interrupted_started_by("panel:")
                .expect("mark"),
            1
        );
        let status = |s: &Store, id| s.audit_run(id).expect("read").expect("row").status;
        assert_eq!(status(store, panel), AuditRunStatus::Interrupted);
        assert_eq!(status(store, cron), AuditRunStatus::Running);
        assert_eq!(status(store, odd), AuditRunStatus::Running);
    });
}

#[test]
fn of_two_processes_moving_one_notification_only_one_succeeds() {
    use NotificationStatus::*;
    on_both_locations(|path| {
        let mut a = Store::open(path).expect("open a");
        let mut b = Store::open(path).expect("open b");
        for _ in 0..20 {
            let id = a.notification_create(None, "#growth").expect("create");
            let barrier = std::sync::Barrier::new(2);
            let go = |store: &mut Store| {
                barrier.wait();
                store.notification_update_status(id, Sending, None, None)
            };
            let wins = std::thread::scope(|s| {
                let (go, ra, rb) = (&go, &mut a, &mut b);
                let ta = s.spawn(move || go(ra));
                let tb = s.spawn(move || go(rb));
                [ta.join().expect("a"), tb.join().expect("b")]
            });
            let ok = wins.iter().filter(|r| r.is_ok()).count();
            assert_eq!(ok, 1, "exactly one sender may take it: {wins:?}");
            let refused = wins
                .iter()
                .find_map(|r| r.as_ref().err())
                .expect("one refused");
            assert!(
                matches!(
                    refused,
                    StoreError::InvalidTransition {
                        from: Sending,
                        to: Sending,
                        ..
                    }
                ),
                "{refused:?}"
            );
            let n = a.notification_get(id).expect("get").expect("row");
            assert_eq!((n.status, n.attempts), (Sending, 1));
        }
    });
}

#[test]
fn runs_begun_at_once_by_two_processes_both_land_in_the_history() {
    on_both_locations(|path| {
        let mut a = Store::open(path).expect("open a");
        let mut b = Store::open(path).expect("open b");
        let barrier = std::sync::Barrier::new(2);
        let go = |store: &mut Store| {
            barrier.wait();
            let id = store
                .begin_audit_run(Timestamp::now(), "cli")
                .expect("begin");
            store
                .finish_audit_run(
                    id,
                    &run_at("2026-03-02T09:00:00Z", Some(1.0)),
                    &[finding("C1", &["a"])],
                )
                .expect("finish");
            id
        };
        let ids = std::thread::scope(|s| {
            let (go, ra, rb) = (&go, &mut a, &mut b);
            let ta = s.spawn(move || go(ra));
            let tb = s.spawn(move || go(rb));
            [ta.join().expect("a"), tb.join().expect("b")]
        });
        assert_ne!(ids[0], ids[1]);
        let runs = a.list_audit_runs(10).expect("list");
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| r.status == AuditRunStatus::Finished));
        for id in ids {
            assert_eq!(a.audit_findings(id).expect("findings").len(), 1);
        }
    });
}
