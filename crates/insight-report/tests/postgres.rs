//! insight-report on PostgreSQL gives the same CSV bytes as on SQLite: one slack-sim workspace
//! (fixed seed) synced into a SQLite file and into a fresh Postgres database (store::test_db;
//! skipped without TEST_DATABASE_URL, a failure in CI), reported by the real binary over the same
//! days. Then a person opts out: the next sync erases them on Postgres as on SQLite, and the
//! reports still agree byte for byte. The URL's password shows in no output.

use std::path::{Path, PathBuf};
use store::test_db::url_password;

use slack_sim::{GenSpec, SimOptions};
use store::test_db::TestDb;

const TOKEN: &str = "xoxp-report-pg-test";

fn write_config(dir: &Path, opt_out: &[&str]) {
    std::fs::create_dir_all(dir).expect("config dir");
    let doc = serde_json::json!({
        "channels": {"name_contains": []},
        "private_channels_opt_in": [],
        "opt_out_users": opt_out,
        "window_days": 7, "timezone": "Europe/Berlin", "store_text": true
    });
    std::fs::write(dir.join("insight.json"), doc.to_string()).expect("config");
}

async fn sync(sim: &slack_sim::SimHandle, config: &Path, db: &Path, raw: &Path) {
    let mut client = slack_client::ClientConfig::new(TOKEN, sim.base_url());
    client.rate_scale = 0.0;
    let client = slack_client::SlackClient::new(client).expect("client");
    let cfg = insight::load_config(config).expect("config");
    insight_collect::sync(
        &client,
        &cfg,
        &insight_collect::SyncOptions {
            db: db.to_path_buf(),
            out: raw.to_path_buf(),
            config_dir: config.to_path_buf(),
            since: Some(jiff::Timestamp::from_second(since_day_start()).expect("ts")),
            prune_unscoped: false,
        },
    )
    .await
    .expect("sync");
}

/// Midnight UTC ten days ago: both syncs fetch the same range.
fn since_day_start() -> i64 {
    (jiff::Timestamp::now().as_second() / 86_400 - 10) * 86_400
}

fn day(offset_days: i64) -> String {
    jiff::Timestamp::from_second(since_day_start() + offset_days * 86_400)
        .expect("ts")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

fn report(config: &Path, db: &Path, out: &Path) -> std::process::Output {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_insight-report"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .args(["--since", &day(1), "--until", &day(11)])
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("insight-report runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every CSV file of a report directory, by name, as bytes.
fn csvs(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().to_string(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the report wrote its CSV files: {files:?}"
    );
    files
}

fn all_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            all_files(&p, into);
        } else {
            into.push(p);
        }
    }
}

fn assert_same_csvs(lite: &Path, pg: &Path) {
    let (a, b) = (csvs(lite), csvs(pg));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x.len() > 40, "{name} has rows");
        assert!(
            x == y,
            "{name} differs between SQLite and PostgreSQL:\n--- SQLite\n{}\n--- PostgreSQL\n{}",
            String::from_utf8_lossy(x),
            String::from_utf8_lossy(y)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_report_gives_the_same_csv_bytes_on_postgres_as_on_sqlite_and_opt_out_erases() {
    let Some(pg) = TestDb::new() else {
        return;
    };
    let ws = slack_sim::generate(&GenSpec {
        users: 30,
        channels: 8,
        days: 8,
        seed: 11,
        max_members: Some(15),
        end: Some(jiff::Timestamp::now().as_second() - 3600),
    });
    let author = ws
        .channels
        .iter()
        .filter(|c| !c.is_private && !c.is_im && !c.is_mpim)
        .flat_map(|c| c.messages.iter())
        .filter_map(|m| m["user"].as_str())
        .find(|u| *u != ws.token_user)
        .expect("an author")
        .to_string();
    let sim = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    let lite = dir.path().join("insight.db");
    let url = PathBuf::from(pg.url());
    let round = |name: &'static str| {
        let (config, lite, url, dir) = (
            config.clone(),
            lite.clone(),
            url.clone(),
            dir.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || {
            let (a, b) = (
                dir.join(format!("lite-{name}")),
                dir.join(format!("pg-{name}")),
            );
            report(&config, &lite, &a);
            let o = report(&config, &url, &b);
            (a, b, o)
        })
    };

    write_config(&config, &[]);
    sync(&sim, &config, &lite, &dir.path().join("raw-lite")).await;
    sync(&sim, &config, &url, &dir.path().join("raw-pg")).await;
    let (a, b, output) = round("before").await.expect("join");
    assert_same_csvs(&a, &b);
    assert!(
        csvs(&b)
            .iter()
            .any(|(_, t)| String::from_utf8_lossy(t).contains(&author)),
        "the author is in the report before opting out"
    );
    let pw = url_password(pg.url());
    for bytes in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(bytes).contains(&pw));
    }

    // Opted out: the next sync erases them on both backends, and the reports agree again.
    write_config(&config, &[author.as_str()]);
    sync(&sim, &config, &lite, &dir.path().join("raw-lite")).await;
    sync(&sim, &config, &url, &dir.path().join("raw-pg")).await;
    let (a, b, _) = round("after").await.expect("join");
    assert_same_csvs(&a, &b);
    for (name, bytes) in csvs(&b) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&author),
            "{author} still in {name}"
        );
    }
    let store = pg.open();
    for table in store::insight::INSIGHT_TABLES {
        let has_user: bool = store
            .db()
            .query_row(
                "SELECT count(*) FROM information_schema.columns
                 WHERE table_name = ?1 AND column_name = 'user_id'",
                [*table],
                |r| r.get::<i64>(0),
            )
            .expect("columns")
            > 0;
        if has_user {
            let n: i64 = store
                .db()
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE user_id = ?1"),
                    [&author],
                    |r| r.get(0),
                )
                .expect("count");
            assert_eq!(n, 0, "{table} still holds the opted-out person");
        }
    }
    let mentions: i64 = store
        .db()
        .query_row(
            "SELECT count(*) FROM insight_events WHERE strpos(text, ?1) > 0",
            [&author],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(mentions, 0, "stored texts mentioning them were redacted");

    let mut files = Vec::new();
    all_files(dir.path(), &mut files);
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&pw),
            "the password is in {}",
            f.display()
        );
    }
}
