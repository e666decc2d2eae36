//! Fresh PostgreSQL databases for tests, the way crates.io's test suite makes them: the migrations
//! are applied once to a template database per server, and each test gets its own database
//! created from that template (fast, isolated), dropped when the test's [`TestDb`] goes.
//!
//! The server comes from `TEST_DATABASE_URL` (`scripts/pg-start.sh` starts a throwaway one and
//! prints it). Without it a test on Postgres is skipped with a message, except under `CI=true`,
//! where a missing server is a failure.

use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Store;
use crate::db::pg::PgTarget;

/// Where Postgres tests run: `TEST_DATABASE_URL`.
pub fn server_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "TEST_DATABASE_URL is not set, and CI needs the PostgreSQL tests to run\n\
                     hint: eval \"$(scripts/pg-start.sh --install)\" starts a throwaway server and sets it"
                );
            }
            eprintln!(
                "skipping the PostgreSQL part of this test: TEST_DATABASE_URL is not set \
                 (eval \"$(scripts/pg-start.sh)\" starts a server)"
            );
            None
        }
    }
}

/// Runs `f` on a fresh SQLite store (a file in a temp directory) and then, when a server is
/// configured, on a fresh Postgres database: the store's tests run on both backends.
pub fn on_both(f: impl Fn(&mut Store)) {
    let dir = tempfile_dir();
    let mut lite = Store::open(&dir.join("test.db")).expect("open the SQLite test store");
    f(&mut lite);
    drop(lite);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(pg) = TestDb::new() {
        let mut store = pg.open();
        f(&mut store);
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "slack-tools-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A database of its own for one test, at the current schema; dropped on drop.
pub struct TestDb {
    url: String,
    name: String,
    admin: PgTarget,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh migrated database, or `None` when no server is configured (see [`server_url`]).
    pub fn new() -> Option<TestDb> {
        Self::create(true)
    }

    /// A fresh database without any table (to test migrating from nothing or an older version).
    pub fn empty() -> Option<TestDb> {
        Self::create(false)
    }

    fn create(migrated: bool) -> Option<TestDb> {
        let server = server_url()?;
        let admin = PgTarget::parse(&server).expect("TEST_DATABASE_URL is a valid PostgreSQL URL");
        let template = if migrated {
            template(&server, &admin)
        } else {
            "template0".to_string()
        };
        let name = format!(
            "st_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let conn = admin.connect().expect("connect to the test server");
        let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
        // Creating from a template fails while another session is connected to the template;
        // that only happens for a moment after it was made, so try again briefly.
        let mut tries = 0;
        loop {
            match conn.with_client({
                let sql = sql.clone();
                move |c| {
                    c.batch_execute(&sql)
                        .map_err(|e| crate::db::pg::describe(&e))
                }
            }) {
                Ok(Ok(())) => break,
                Ok(Err(e)) if tries < 50 && e.contains("being accessed by other users") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Ok(Err(e)) => panic!("cannot create the test database {name}: {e}"),
                Err(e) => panic!("cannot create the test database {name}: {e}"),
            }
        }
        Some(TestDb {
            url: with_dbname(&server, &name),
            name,
            admin,
        })
    }

    /// The database's full URL, password included: for `--db` or `DATABASE_URL` of a binary
    /// under test (tests check that it never shows).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens the store on this database.
    pub fn open(&self) -> Store {
        Store::open(std::path::Path::new(&self.url)).expect("open the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(conn) = self.admin.connect() {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = conn.with_client(move |c| c.batch_execute(&sql));
        }
    }
}

/// The password in a test database's URL: what a test checks never shows in output or files.
pub fn url_password(url: &str) -> String {
    let authority = url.split("://").nth(1).expect("a URL");
    let userinfo = authority.rsplit_once('@').expect("the URL names a user").0;
    let password = userinfo.split_once(':').expect("the URL has a password").1;
    assert!(password.len() >= 4, "a password long enough to look for");
    password.to_string()
}

/// Fails when any file below `root` holds `secret` (the database password, a token).
pub fn assert_no_file_holds(root: &std::path::Path, secret: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            assert_no_file_holds(&p, secret);
        } else if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the database password",
                p.display()
            );
        }
    }
}

/// `url` with its database name replaced by `name` (keeps user, password, host, port, options).
pub fn with_dbname(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let (before_query, query) = match rest.find('?') {
        Some(q) => (&rest[..q], &rest[q..]),
        None => (rest, ""),
    };
    let authority_end = before_query
        .rfind('@')
        .map(|at| {
            at + before_query[at..]
                .find('/')
                .unwrap_or(before_query.len() - at)
        })
        .unwrap_or_else(|| before_query.find('/').unwrap_or(before_query.len()));
    format!(
        "{}{}/{name}{query}",
        &url[..scheme_end],
        &before_query[..authority_end]
    )
}

/// The template database for this build's migrations, made once per server and process.
fn template(server: &str, admin: &PgTarget) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            crate::migrations::postgres_migrations_text().hash(&mut h);
            let name = format!("st_template_{:016x}", h.finish());
            let conn = admin.connect().expect("connect to the test server");
            let n = name.clone();
            let url = with_dbname(server, &name);
            conn.with_client(move |c| {
                // One process makes the template; the others wait for it here.
                c.execute("SELECT pg_advisory_lock(7301)", &[])
                    .expect("lock for the template");
                let exists = c
                    .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&n])
                    .expect("look for the template")
                    .is_some();
                if !exists {
                    c.batch_execute(&format!("CREATE DATABASE {n}"))
                        .expect("create the template database");
                    let store = Store::open(std::path::Path::new(&url));
                    if let Err(e) = store {
                        let _ = c.batch_execute(&format!("DROP DATABASE {n}"));
                        panic!("cannot migrate the template database: {e}");
                    }
                }
                c.execute("SELECT pg_advisory_unlock(7301)", &[])
                    .expect("unlock");
            })
            .expect("the test server answers");
            name
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5/postgres", "t1"),
            "postgres://u:p@h:5/t1"
        );
        assert_eq!(
            with_dbname("postgres://u:p/w@h:5/db?sslmode=disable", "t1"),
            "postgres://u:p/w@h:5/t1?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "t1"), "postgresql://h/t1");
    }
}
