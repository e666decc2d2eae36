//! End to end: the real `add-members` binary against an in-process slack-sim over loopback.

mod common;

use common::*;
use slack_sim::SimOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_shows_the_plan_and_makes_no_write_call() {
    let env = Env::start().await;
    let run = env.run(&["frank", "aki", "maria", "--dry-run"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(env.invites().is_empty(), "a dry run must not invite");
    assert!(
        env.sim
            .requests()
            .iter()
            .all(|r| r.method != "conversations.invite"),
        "no write call at all"
    );
    // The plan: skips with reasons, archived and excluded shown, out-of-scope channels absent.
    let out = &run.stdout;
    assert!(
        out.contains("#bitsafe-acme") && out.contains("aki (present)"),
        "{run:?}"
    );
    assert!(out.contains("maria (excluded: smaller channel)"), "{run:?}");
    // Archived channels and channels outside the scope are not touched.
    assert!(!out.contains("bitsafe-oldco"), "{run:?}");
    assert!(!out.contains("#general"), "{run:?}");
    assert!(out.contains("Dry run"), "{run:?}");
    // Nothing written under --out either.
    assert!(!env.out().join("add-members.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batched_invite_per_channel_skipping_present_and_excluded() {
    let env = Env::start().await;
    let run = env
        .run(&[
            "frank",
            "aki",
            "maria",
            "--yes",
            "--channels",
            "bitsafe-acme,C0INIT",
            "--channels",
            "bitsafe-st*",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let invites = env.invites();
    let per_channel: Vec<(String, Vec<String>)> = invites
        .iter()
        .map(|r| (r.params["channel"].clone(), invited_users(r)))
        .collect();
    assert_eq!(invites.len(), 3, "one call per channel: {per_channel:?}");
    let users_for = |ch: &str| {
        per_channel
            .iter()
            .find(|(c, _)| c == ch)
            .map(|(_, u)| u.clone())
            .unwrap_or_default()
    };
    // aki is in acme already; maria is excluded from stark.
    assert_eq!(users_for("C0ACME"), [FRANK, MARIA]);
    assert_eq!(users_for("C0INIT"), [AKI, FRANK, MARIA]);
    assert_eq!(users_for("C0STARK"), [AKI, FRANK]);
    assert!(env.members("C0INIT").contains(&MARIA.to_string()));
    assert!(!env.members("C0STARK").contains(&MARIA.to_string()));

    // Every operation is in the JSON-lines log and in SQLite.
    let lines = env.log_lines();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l["result"] == "added" && l["error"].is_null())
    );
    let store = store::Store::open(&env.db()).expect("db");
    let runs = store.invite_runs(10).expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, store::invites::InviteRunStatus::Completed);
    assert_eq!(runs[0].totals.added, 7);
    assert_eq!(
        runs[0].totals.skipped, 2,
        "aki present in acme, maria excluded in stark"
    );
    assert_eq!(store.invite_ops(runs[0].id).expect("ops").len(), 3);
    assert!(run.stdout.contains("added 7"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_is_a_no_op() {
    let env = Env::start().await;
    let args = [
        "frank",
        "maria",
        "--yes",
        "--channels",
        "bitsafe-acme,bitsafe-initech",
    ];
    let first = env.run(&args).await;
    assert_eq!(first.code, 0, "{first:?}");
    let calls = env.invites().len();
    assert_eq!(calls, 2);

    let second = env.run(&args).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(env.invites().len(), calls, "nothing new to invite");
    assert!(second.stdout.contains("added 0"), "{second:?}");
    assert_eq!(env.log_lines().len(), 2, "no operation, no log line");
    // Without --yes and without a TTY it is still fine: nothing to confirm.
    let third = env
        .run(&[
            "frank",
            "maria",
            "--channels",
            "bitsafe-acme,bitsafe-initech",
        ])
        .await;
    assert_eq!(third.code, 0, "{third:?}");
    assert!(third.stdout.contains("Nothing to do"), "{third:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_without_tty_and_yes() {
    let env = Env::start().await;
    let run = env.run(&["frank"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert!(
        run.stdout.contains("#bitsafe-initech"),
        "the plan is shown: {run:?}"
    );
    assert!(env.invites().is_empty());
}

/// issue 12: an inactive team member is expected nowhere; naming their handle is refused like an
/// unknown one (exit 2, nobody invited), saying how to change that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_member_named_by_handle_is_refused_and_nobody_is_invited() {
    let env = Env::start().await;
    let team = env.dir.path().join("config").join("team.json");
    std::fs::write(
        &team,
        TEAM_JSON.replace(
            r#""slack": ["maria@bitsafe.example"]}"#,
            r#""slack": ["maria@bitsafe.example"], "status": "inactive"}"#,
        ),
    )
    .expect("team.json");
    let run = env.run(&["frank", "@Maria", "--yes"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("`@Maria`: team member `maria` is inactive")
            && run.stderr.contains("set the status to active"),
        "{run:?}"
    );
    assert!(env.invites().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_ambiguous_handles_exit_2_and_invite_nobody() {
    let env = Env::start().await;
    let run = env
        .run(&["frnk", "John Smith", "gina", "aki", "--yes"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    let err = &run.stderr;
    assert!(
        err.contains("`frnk`") && err.contains("frank (team handle)"),
        "{run:?}"
    );
    assert!(
        err.contains("ambiguous") && err.contains("john.a (U0JOHNA)"),
        "{run:?}"
    );
    assert!(
        err.contains("`gina`") && err.contains("deactivated"),
        "{run:?}"
    );
    assert!(env.invites().is_empty());
    assert!(
        env.sim
            .requests()
            .iter()
            .all(|r| r.method != "conversations.members")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_channel_pattern_exits_2() {
    let env = Env::start().await;
    let run = env.run(&["frank", "--yes", "--channels", "general"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not in the audit scope"), "{run:?}");
    let run = env
        .run(&["frank", "--yes", "--channels", "bitsafe-acne"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("bitsafe-acme"),
        "close match named: {run:?}"
    );
    assert!(env.invites().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_channel_is_recorded_and_the_run_goes_on() {
    let env = Env::start().await;
    // The token user is not in #bitsafe-noops: Slack answers not_in_channel there.
    let run = env.run(&["frank", "--yes"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(env.members("C0ACME").contains(&FRANK.to_string()));
    assert!(env.members("C0INIT").contains(&FRANK.to_string()));
    assert!(env.members("C0STARK").contains(&FRANK.to_string()));
    assert!(run.stdout.contains("not_in_channel"), "{run:?}");
    let failed: Vec<_> = env
        .log_lines()
        .into_iter()
        .filter(|l| l["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["channel"], "C0NOOPS");
    assert_eq!(failed[0]["error"], "not_in_channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scope_stops_after_the_first_call() {
    let scopes = [
        "users:read",
        "users:read.email",
        "channels:read",
        "groups:read",
    ];
    let env = Env::start_with(SimOptions {
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        ..SimOptions::default()
    })
    .await;
    let run = env.run(&["frank", "--yes"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(env.invites().len(), 1, "stops at once: {run:?}");
    assert!(
        run.stderr.contains("groups:write") || run.stderr.contains("channels:write"),
        "names the needed scope: {run:?}"
    );
    assert!(run.stderr.contains("hint:"), "{run:?}");
    let store = store::Store::open(&env.db()).expect("db");
    let runs = store.invite_runs(1).expect("runs");
    assert_eq!(runs[0].status, store::invites::InviteRunStatus::Stopped);
}

/// One run against a sim injecting faults into 10% of requests (429, 500, connection reset,
/// truncated body); returns how many requests were faulted, of which invites.
async fn converge_under_faults(seed: u64) -> (usize, usize) {
    let env = Env::start_with(SimOptions {
        faults: 0.1,
        fault_seed: seed,
        ..SimOptions::default()
    })
    .await;
    let args = [
        "frank",
        "aki",
        "maria",
        "--yes",
        "--channels",
        "bitsafe-acme,bitsafe-globex,bitsafe-initech,bitsafe-stark",
    ];
    let run = env.run(&args).await;
    assert_eq!(run.code, 0, "seed {seed}: {run:?}");
    let has = |ch: &str, u: &str| env.members(ch).iter().filter(|m| *m == u).count();
    for ch in ["C0ACME", "C0GLOBEX", "C0INIT"] {
        for u in [FRANK, AKI, MARIA] {
            assert_eq!(has(ch, u), 1, "seed {seed}: {u} once in {ch}");
        }
    }
    assert_eq!(has("C0STARK", MARIA), 0, "seed {seed}: exclusion respected");
    assert!(
        env.log_lines().iter().all(|l| l["result"] != "failed"),
        "seed {seed}: no invite reported as failed"
    );
    assert!(run.stdout.contains("failed 0"), "seed {seed}: {run:?}");
    // A rerun under faults changes nothing and fails nothing.
    let again = env.run(&args).await;
    assert_eq!(again.code, 0, "seed {seed}: {again:?}");
    assert!(again.stdout.contains("added 0"), "seed {seed}: {again:?}");
    let requests = env.sim.requests();
    let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
    let invites = requests
        .iter()
        .filter(|r| r.fault.is_some() && r.method == "conversations.invite")
        .count();
    (faulted, invites)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_still_converge_without_duplicate_errors() {
    let (mut faulted, mut invites) = (0, 0);
    for seed in 1..=8 {
        let (f, i) = converge_under_faults(seed).await;
        faulted += f;
        invites += i;
    }
    assert!(
        faulted > 0 && invites > 0,
        "faults hit invites too: {faulted} / {invites}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_audit_adds_the_missing_required_members_per_channel() {
    let env = Env::start().await;
    {
        let mut store = store::Store::open(&env.db()).expect("db");
        let finding = |id: &str, name: &str, missing: &[&str]| store::audit::Finding {
            platform: "slack".into(),
            group_id: id.into(),
            group_name: name.into(),
            category: "BD Customer".into(),
            required_present: 1,
            required_total: 3,
            missing_required: missing.iter().map(|s| s.to_string()).collect(),
            missing_optional: vec![],
            error: None,
        };
        store
            .insert_audit_run(
                &store::audit::NewAuditRun {
                    started_at: jiff::Timestamp::now(),
                    finished_at: None,
                    platforms: vec!["slack".into()],
                    groups: 2,
                    groups_with_gaps: 2,
                    missing_required: 3,
                    coverage: Some(50.0),
                    results: serde_json::json!({}),
                },
                &[
                    finding("C0ACME", "bitsafe-acme", &["maria"]),
                    finding("C0INIT", "bitsafe-initech", &["aki", "gina"]),
                ],
            )
            .expect("audit stored");
    }
    let run = env.run(&["--from-audit", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let invites: Vec<(String, Vec<String>)> = env
        .invites()
        .iter()
        .map(|r| (r.params["channel"].clone(), invited_users(r)))
        .collect();
    assert_eq!(
        invites,
        vec![
            ("C0ACME".to_string(), vec![MARIA.to_string()]),
            ("C0INIT".to_string(), vec![AKI.to_string()]),
        ]
    );
    assert!(run.stdout.contains("gina (deactivated)"), "{run:?}");
    let store = store::Store::open(&env.db()).expect("db");
    assert!(
        store.invite_runs(1).expect("runs")[0]
            .from_audit_run
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_audit_without_a_stored_audit_is_a_usage_error() {
    let env = Env::start().await;
    let run = env.run(&["--from-audit", "--dry-run"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("slack-audit"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_frank_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_add-members"))
                .args(["--demo", "frank", "--yes", "--out"])
                .arg(dir.join("out"))
                .current_dir(&dir)
                .env_remove("SLACK_TOKEN")
                .stdin(std::process::Stdio::null())
                .output()
        }
    })
    .await
    .expect("join")
    .expect("runs");
    let run = Run::from(out);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("#bitsafe-globex"), "{run:?}");
    assert!(run.stdout.contains("added 7"), "{run:?}");
    // The JSON-lines log and the database hold who was invited where: owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        let out = dir.path().join("out");
        assert_eq!(mode(&out), 0o700);
        assert!(out.join("add-members.jsonl").is_file());
        for e in std::fs::read_dir(&out).expect("out").flatten() {
            assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
        }
    }
}
