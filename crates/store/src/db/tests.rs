//! The connection layer on both backends (Postgres when TEST_DATABASE_URL is set; see
//! [`crate::test_db`]).

use super::*;
use crate::Store;
use crate::test_db::TestDb;

fn on_both(f: impl Fn(&Store)) {
    crate::test_db::on_both(|s| f(s));
}

#[test]
fn values_round_trip_the_same_on_both_backends() {
    on_both(|s| {
        let db = s.db();
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params!["k", "é ünïcode 'quoted' ?1"],
        )
        .expect("insert");
        let v: String = db
            .query_row("SELECT value FROM meta WHERE key = ?1", ["k"], |r| r.get(0))
            .expect("read");
        assert_eq!(v, "é ünïcode 'quoted' ?1");
        // Integers, reals, NULL and flags come back as they went in.
        let (i, f, n, b): (i64, f64, Option<String>, bool) = db
            .query_row(
                "SELECT ?1 + 0, ?2 * 1.0, NULL, ?3 = 1",
                params![41_i64, 2.5_f64, true],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("row");
        assert_eq!((i, f, n, b), (41, 2.5, None, true));
        // SUM over integers is NUMERIC on Postgres: still an integer here.
        let total: i64 = db
            .query_row(
                "SELECT sum(x) FROM (SELECT 9000000000 AS x UNION ALL SELECT 1) t",
                [],
                |r| r.get(0),
            )
            .expect("sum");
        assert_eq!(total, 9_000_000_001);
        let avg: f64 = db
            .query_row(
                "SELECT avg(x) FROM (SELECT 1 AS x UNION ALL SELECT 2) t",
                [],
                |r| r.get(0),
            )
            .expect("avg");
        assert!((avg - 1.5).abs() < 1e-9, "{avg}");
        // Parameters where Postgres infers NUMERIC, and NUMERIC results with fractions.
        let (x, y, z): (f64, i64, f64) = db
            .query_row(
                "SELECT ?1 * 1.5, ?2 * 10, ?3 * 1.0",
                params![-1234.0625_f64, 100_000_000_i64, 0.001_f64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("numeric");
        assert_eq!((x, y), (-1851.09375, 1_000_000_000));
        assert!((z - 0.001).abs() < 1e-12, "{z}");
        assert!(
            db.query_row("SELECT value FROM meta WHERE key = ?1", ["none"], |r| {
                r.get::<String>(0)
            })
            .optional()
            .expect("query")
            .is_none()
        );
        let err = db
            .query_row("SELECT value FROM meta WHERE key = ?1", ["k"], |r| {
                r.get::<i64>(0)
            })
            .expect_err("text is not an integer");
        assert!(err.to_string().contains("expected an integer"), "{err}");
    });
}

#[test]
fn a_failed_transaction_leaves_nothing_and_a_committed_one_everything() {
    on_both(|s| {
        let db = s.db();
        let r: Result<(), DbError> = db.transaction(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('a', '1')", [])?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('a', '2')", [])?;
            Ok(())
        });
        let e = r.expect_err("duplicate key");
        assert!(e.is_unique_violation(), "{e}");
        assert!(db.is_autocommit());
        let n: i64 = db
            .query_row("SELECT count(*) FROM meta WHERE key = 'a'", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "the first insert was rolled back");
        db.transaction(|tx| -> Result<(), DbError> {
            tx.execute("INSERT INTO meta (key, value) VALUES ('b', '1')", [])?;
            assert!(matches!(
                tx.transaction(|_| Ok::<_, DbError>(())),
                Err(DbError::NestedTransaction)
            ));
            Ok(())
        })
        .expect("commits");
        let all = db
            .query_all("SELECT key FROM meta ORDER BY key", [], |r| {
                r.get::<String>("key")
            })
            .expect("rows");
        assert_eq!(all, vec!["b".to_string()]);
    });
}

#[test]
fn a_wrong_password_or_a_closed_port_is_a_clear_error_without_the_password() {
    let Some(db) = TestDb::new() else { return };
    let url = db.url().to_string();
    // Swap the password for a wrong one.
    let at = url.rfind('@').expect("user info");
    let colon = url[..at].rfind(':').expect("password");
    let wrong = format!("{}:not-the-pw-Zq9{}", &url[..colon], &url[at..]);
    let e = Store::open(std::path::Path::new(&wrong)).expect_err("refused");
    let msg = e.to_string();
    assert!(!msg.contains("not-the-pw-Zq9"), "{msg}");
    assert!(msg.contains("password"), "{msg}");
    assert!(msg.contains(db.name()), "names the database: {msg}");
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let closed = format!(
        "postgres://u:secret-Zq9@127.0.0.1:{port}/somedb?connect_timeout=2"
    );
    let msg = Store::open(std::path::Path::new(&closed))
        .expect_err("nothing listens")
        .to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("somedb") && msg.contains("hint:"), "{msg}");
    assert!(!msg.contains("secret-Zq9"), "{msg}");
}

#[test]
fn postgres_schema_matches_the_sqlite_version() {
    assert_eq!(
        crate::migrations::postgres_migration_count() as i64,
        crate::migrations::SCHEMA_VERSION,
        "every SQLite migration needs its migrations/postgres/V<n>__ twin"
    );
    let Some(db) = TestDb::new() else { return };
    let s = db.open();
    assert_eq!(
        s.schema_version().expect("version"),
        crate::migrations::SCHEMA_VERSION
    );
    // Opening again (another host, a later run) applies nothing and fails nothing.
    let again = db.open();
    assert_eq!(
        again.schema_version().expect("version"),
        crate::migrations::SCHEMA_VERSION
    );
}
