//! End to end on PostgreSQL: the real `add-members` binary against slack-sim, its record in a
//! Postgres database. Skipped without a server (`TEST_DATABASE_URL`); a failure in CI.

mod common;

use common::*;
use store::test_db::TestDb;
use store::test_db::{assert_no_file_holds, url_password};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_lands_in_postgres_and_a_second_run_adds_nothing() {
    let Some(pg) = TestDb::new() else { return };
    let password = &url_password(pg.url());
    let env = Env::start().await;
    let args = [
        "frank",
        "maria",
        "--yes",
        "--channels",
        "bitsafe-acme,bitsafe-initech",
        "--db",
        pg.url(),
    ];
    let first = env.run(&args).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(env.invites().len(), 2);
    let store = pg.open();
    let runs = store.invite_runs(10).expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, store::invites::InviteRunStatus::Completed);
    assert_eq!(runs[0].totals.added, 4, "frank and maria in both: {runs:?}");
    let ops = store.invite_ops(runs[0].id).expect("ops");
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o.result == "added"), "{ops:?}");

    // The same again (through DATABASE_URL): nothing new to invite, nothing new recorded.
    let mut cmd = env.command(&args[..5]);
    cmd.env("DATABASE_URL", pg.url());
    let second = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("runs");
    let second = Run::from(second);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("added 0"), "{second:?}");
    assert_eq!(env.invites().len(), 2, "no second invite");
    let ops: usize = store
        .invite_runs(10)
        .expect("runs")
        .iter()
        .map(|r| store.invite_ops(r.id).expect("ops").len())
        .sum();
    assert_eq!(ops, 2, "no operation recorded twice");
    assert!(
        !env.db().exists(),
        "no SQLite file beside the Postgres store"
    );

    // --from-audit with no audit in this database names it without the password.
    let none = env.run(&["--from-audit", "--yes", "--db", pg.url()]).await;
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains(pg.name()), "{none:?}");
    for run in [&first, &second, &none] {
        assert!(
            !run.stdout.contains(password) && !run.stderr.contains(password),
            "{run:?}"
        );
    }
    assert_no_file_holds(env.dir.path(), password);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connected_token_in_postgres_needs_the_secret_key() {
    let Some(pg) = TestDb::new() else { return };
    let password = &url_password(pg.url());
    let env = Env::start().await;
    let key_hex = "5a".repeat(32);
    let key = token_vault::VaultKey::parse(&key_hex).expect("key");
    token_vault::save(
        &pg.open(),
        &key,
        &token_vault::Grant {
            team_id: "T0TEST".into(),
            team_name: "Test".into(),
            app_id: None,
            authed_user_id: OPS.into(),
            scopes: vec!["channels:read".into()],
            token: secrecy::SecretString::from(TOKEN),
        },
        "admin",
    )
    .expect("connect Slack");
    let args = ["frank", "--dry-run", "--db", pg.url()];

    // No SLACK_TOKEN, no key: a settings problem (exit 2) that says what to set.
    let mut cmd = env.command(&args);
    cmd.env_remove("SLACK_TOKEN");
    let out = Run::from(cmd.output().expect("runs"));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("SLACK_TOOLS_SECRET_KEY"), "{out:?}");
    assert!(out.stderr.contains("hint:"), "{out:?}");
    assert!(
        !out.stderr.contains(password) && !out.stderr.contains(TOKEN),
        "{out:?}"
    );

    // With the key the stored token is used.
    let mut cmd = env.command(&args);
    cmd.env_remove("SLACK_TOKEN")
        .env("SLACK_TOOLS_SECRET_KEY", &key_hex);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("runs");
    let out = Run::from(out);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Dry run"), "{out:?}");
    assert!(!out.stderr.contains(password), "{out:?}");
}
