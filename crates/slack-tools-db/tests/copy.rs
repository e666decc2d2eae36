//! `slack-tools-db copy` through the real binary: SQLite -> Postgres -> SQLite, verified, safe to
//! run twice, ids continuing after the copied ones, the full-text index usable in the copy, and
//! the password in no output.

use std::path::Path;
use std::process::{Command, Output};

use store::Store;
use store::test_db::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_slack-tools-db");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SLACK_TOOLS_DB")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A SQLite store with awkward values in several tables: unicode, quotes, NULLs, reals, blobs,
/// 64-bit integers, rows linked by foreign keys, and a message in the search index.
fn fill(path: &Path) {
    let store = Store::open(path).expect("open");
    let c = store.conn();
    c.execute_batch(
        "INSERT INTO meta (key, value) VALUES ('note', 'naïve ''quoted'' ✓');
         INSERT INTO workspaces (team_id, name, domain, first_seen, last_seen)
           VALUES ('T1', 'Acme', NULL, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z');
         INSERT INTO audit_runs (id, started_at, finished_at, platforms, groups, groups_with_gaps,
                                 missing_required, coverage, results_json)
           VALUES (7, '2026-01-01T00:00:00.000Z', NULL, 'slack', 3, 1, 2, 66.6666666667, '{}'),
                  (9, '2026-01-08T00:00:00.000Z', '2026-01-08T00:01:00.000Z', 'slack,telegram',
                   9007199254740993, 0, 0, NULL, '{\"a\": [1, 2]}');
         INSERT INTO audit_findings (run_id, platform, group_id, group_name, category,
                                     required_present, required_total, error)
           VALUES (7, 'slack', 'C1', 'acme-ops 🚀', 'customer', 1, 3, NULL),
                  (9, 'telegram', '-100123', 'Ünïcode group', 'customer', 2, 2, 'kicked');
         INSERT INTO slack_connection (id, team_id, team_name, app_id, authed_user_id, scopes,
                                       token_nonce, token_sealed, connected_by, connected_at)
           VALUES (1, 'T1', 'Acme', NULL, 'U1', 'channels:read', x'00ff10', x'deadbeef00',
                   'admin', '2026-01-01T00:00:00.000Z');",
    )
    .expect("rows");
    store
        .search_index_messages(&[store::search::SearchDoc {
            source: "slack".into(),
            conversation_id: "C1".into(),
            conversation_name: "acme-ops".into(),
            msg_id: "1700000000.000100".into(),
            time_us: 1_700_000_000_000_100,
            sender_id: Some("U1".into()),
            sender_name: "Ann".into(),
            text: "the quarterly kumquat report".into(),
            mentions: Vec::new(),
        }])
        .expect("index");
}

#[test]
fn a_store_goes_to_postgres_and_back_verified_and_a_second_copy_adds_nothing() {
    let Some(pg) = TestDb::new() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let src = dir.path().join("source.db");
    fill(&src);
    let src_s = src.to_str().expect("utf-8");
    let password = pg
        .url()
        .split('@')
        .next()
        .and_then(|u| u.rsplit(':').next())
        .expect("a password in the URL")
        .to_string();

    let first = run(&["copy", "--from", src_s, "--to", pg.url(), "--json"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(!text(&first).contains(&password), "{}", text(&first));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    assert_eq!(report["verified"], true, "{report:#}");
    let table = |name: &str| -> serde_json::Value {
        report["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {report:#}"))
    };
    assert_eq!(table("audit_runs")["source_rows"], 2);
    assert_eq!(table("audit_runs")["inserted"], 2);
    assert_eq!(table("audit_findings")["target_rows"], 2);
    assert_eq!(table("search_messages")["target_rows"], 1);
    assert_eq!(
        table("slack_connection")["source_sha256"],
        table("slack_connection")["target_sha256"]
    );

    // Again: nothing inserted, still verified.
    let second = run(&["copy", "--from", src_s, "--to", pg.url()]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("0 inserted now; every table verified"),
        "{}",
        text(&second)
    );

    // New rows on Postgres get ids after the copied ones (the sequences were moved).
    {
        let store = pg.open();
        let id: i64 = store
            .db()
            .query_row(
                "INSERT INTO audit_runs (started_at, platforms, groups, groups_with_gaps,
                                         missing_required, results_json)
                 VALUES ('2026-01-15T00:00:00.000Z', 'slack', 1, 0, 0, '{}') RETURNING id",
                [],
                |r| r.get(0),
            )
            .expect("insert after the copy");
        assert_eq!(id, 10);
    }

    // And back to a new SQLite file: same rows, and the search index answers.
    let back = dir.path().join("backup.db");
    let back_s = back.to_str().expect("utf-8");
    let third = run(&["copy", "--from", pg.url(), "--to", back_s]);
    assert!(third.status.success(), "{}", text(&third));
    assert!(!text(&third).contains(&password), "{}", text(&third));
    let store = Store::open(&back).expect("backup opens");
    let (groups, coverage, blob): (i64, Option<f64>, Vec<u8>) = store
        .conn()
        .query_row(
            "SELECT r.groups, r.coverage, c.token_sealed FROM audit_runs r, slack_connection c
             WHERE r.id = 9",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    assert_eq!(
        (groups, coverage, blob),
        (9007199254740993, None, vec![0xde, 0xad, 0xbe, 0xef, 0])
    );
    let hits = store
        .search(&store::search::SearchQuery {
            query: "kumquat".into(),
            limit: 50,
            ..Default::default()
        })
        .expect("search the copy");
    assert_eq!(hits.len(), 1, "{hits:?}");
    // The backup also has the row added on Postgres after the first copy.
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM audit_runs", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 3);
    // No secret lands in the SQLite files.
    for f in ["backup.db", "backup.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "{f} holds the password"
            );
        }
    }
}

#[test]
fn a_target_with_other_rows_fails_verification_and_same_store_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("dir");
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    fill(&a);
    Store::open(&b)
        .expect("b")
        .meta_set("only-in-b", "1")
        .expect("row");
    let (a_s, b_s) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"));
    let o = run(&["copy", "--from", a_s, "--to", b_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("meta"), "{}", text(&o));
    assert!(text(&o).contains("DIFFERS"), "{}", text(&o));

    let o = run(&["copy", "--from", a_s, "--to", a_s]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the same store"), "{}", text(&o));

    let o = run(&["copy", "--from", "missing.db", "--to", b_s]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
}
