//! Each per-channel error class, through the library against a real slack-sim: the plan is made,
//! then the workspace changes under it (as it does when people act while a run is going), then
//! the plan is carried out. Also Ctrl-C on the real binary.

mod common;

use add_members::execute::{self, Recorder, StopFlag};
use add_members::plan::{ChannelPlan, plan_channel};
use add_members::resolve::Invitee;
use add_members::targets::Target;
use common::*;
use serde_json::json;
use slack_client::{ClientConfig, SlackClient};
use store::invites::NewInviteRun;

fn invitee(id: &str, label: &str) -> Invitee {
    Invitee {
        user_id: id.into(),
        label: label.into(),
        handle: Some(label.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_class_is_recorded_per_channel_and_the_run_goes_on() {
    let env = Env::start().await;
    env.sim.with_workspace(|ws| {
        for (id, name) in [
            ("C0ARCH", "bitsafe-archived-later"),
            ("C0GONE", "bitsafe-gone"),
            ("C0LEFT", "bitsafe-left"),
            ("C0DEACT", "bitsafe-deact"),
            ("C0RACE", "bitsafe-race"),
            ("C0RACE1", "bitsafe-race-one"),
        ] {
            let mut c = ws.channel("C0ACME").cloned().expect("acme");
            c.id = id.into();
            c.name = name.into();
            // C0LEFT is public so the token user can still see it after leaving.
            c.is_private = id != "C0LEFT";
            c.members = vec![OPS.into()];
            ws.channels.push(c);
        }
    });
    let client = SlackClient::new(ClientConfig::new(TOKEN, env.sim.base_url())).expect("client");
    let both = vec![invitee(FRANK, "frank"), invitee(MARIA, "maria")];
    let mut plans: Vec<ChannelPlan> = Vec::new();
    for (id, name) in [
        ("C0ARCH", "bitsafe-archived-later"),
        ("C0GONE", "bitsafe-gone"),
        ("C0LEFT", "bitsafe-left"),
        ("C0DEACT", "bitsafe-deact"),
        ("C0RACE", "bitsafe-race"),
        ("C0RACE1", "bitsafe-race-one"),
        ("C0INIT", "bitsafe-initech"),
    ] {
        let wanted = if id == "C0RACE1" {
            vec![invitee(FRANK, "frank")]
        } else {
            both.clone()
        };
        let target = Target {
            id: id.into(),
            name: name.into(),
            wanted,
            skipped: vec![],
        };
        plans.push(plan_channel(&client, target).await.expect("plan"));
    }
    assert!(
        plans
            .iter()
            .all(|p| p.problem.is_none() && !p.to_add.is_empty())
    );

    // The world moves on after the plan.
    env.sim.with_workspace(|ws| {
        ws.channel_mut("C0ARCH").expect("c").is_archived = true;
        // The token user leaves a private channel (it vanishes) and a public one.
        ws.channel_mut("C0GONE")
            .expect("c")
            .members
            .retain(|m| m != OPS);
        ws.channel_mut("C0LEFT")
            .expect("c")
            .members
            .retain(|m| m != OPS);
        // Maria joins #bitsafe-race on her own; Frank joins #bitsafe-race-one.
        ws.channel_mut("C0RACE")
            .expect("c")
            .members
            .push(MARIA.into());
        ws.channel_mut("C0RACE1")
            .expect("c")
            .members
            .push(FRANK.into());
    });
    let dir = tempfile::tempdir().expect("dir");
    let mut rec = Recorder::new(
        &dir.path().join("out"),
        &dir.path().join("db.sqlite"),
        NewInviteRun {
            started_at: jiff::Timestamp::now(),
            handles: vec!["frank".into(), "maria".into()],
            from_audit_run: None,
            channels_planned: plans.len() as i64,
            log_file: None,
        },
    );
    let stop = StopFlag::default();
    let bar = indicatif_hidden();
    // Deactivate frank just before the deact channel: run the plans one by one.
    let mut results = Vec::new();
    for plan in plans {
        if plan.channel_id == "C0DEACT" {
            set_deleted(&env, FRANK, true);
        }
        let report = execute::execute(
            &client,
            futures::stream::iter(vec![Ok(plan.clone())]),
            &mut rec,
            &stop,
            &bar,
        )
        .await
        .expect("runs");
        if plan.channel_id == "C0DEACT" {
            set_deleted(&env, FRANK, false);
        }
        assert!(report.stopped_by.is_none());
        results.extend(report.channels);
    }
    let result = |id: &str| {
        results
            .iter()
            .find(|r| r.channel_id == id)
            .cloned()
            .expect("result")
    };
    let codes =
        |id: &str| -> Vec<String> { result(id).failed.iter().map(|(_, c)| c.clone()).collect() };
    assert_eq!(codes("C0ARCH"), ["is_archived", "is_archived"]);
    assert_eq!(codes("C0GONE"), ["channel_not_found", "channel_not_found"]);
    assert_eq!(codes("C0LEFT"), ["not_in_channel", "not_in_channel"]);
    // Without force one bad user fails the channel's call: frank with his own code, maria with
    // the call's.
    assert_eq!(codes("C0DEACT"), ["cant_invite", "cant_invite"]);
    // Someone joined meanwhile: counted as done, the other still invited.
    let race = result("C0RACE");
    assert_eq!(race.already_in, ["maria"]);
    assert_eq!(race.added, ["frank"]);
    assert!(race.failed.is_empty());
    let race1 = result("C0RACE1");
    assert_eq!(race1.already_in, ["frank"]);
    assert!(race1.added.is_empty() && race1.failed.is_empty());
    // The run went on to the last channel.
    assert_eq!(result("C0INIT").added, ["frank", "maria"]);
    assert!(env.members("C0RACE").contains(&FRANK.to_string()));

    // #bitsafe-race took two calls: the batch, then the rest after already_in_channel.
    let race_calls = env
        .invites()
        .into_iter()
        .filter(|r| r.params["channel"] == "C0RACE")
        .map(|r| invited_users(&r))
        .collect::<Vec<_>>();
    assert_eq!(
        race_calls,
        vec![
            vec![FRANK.to_string(), MARIA.to_string()],
            vec![FRANK.to_string()]
        ]
    );
    // Every call is in the log, with its result.
    let lines = read_jsonl(&dir.path().join("out").join("add-members.jsonl"));
    assert_eq!(lines.len(), env.invites().len());
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["result"] == "already_in_channel")
            .count(),
        2
    );
}

fn set_deleted(env: &Env, user: &str, deleted: bool) {
    env.sim.with_workspace(|ws| {
        for u in &mut ws.users {
            if u["id"] == json!(user) {
                u["deleted"] = json!(deleted);
            }
        }
    });
}

fn indicatif_hidden() -> indicatif::ProgressBar {
    indicatif::ProgressBar::hidden()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_the_call_in_flight_and_stops_cleanly() {
    let env = Env::start().await;
    // Real Slack pacing (SLACK_RATE_SCALE=1): an invite every ~1.3 s, so there is time to
    // interrupt between calls.
    let mut cmd = env.command(&[
        "frank",
        "maria",
        "--yes",
        "--channels",
        "bitsafe-acme,bitsafe-globex,bitsafe-initech,bitsafe-stark",
    ]);
    cmd.env("SLACK_RATE_SCALE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawns");
    let pid = child.id();
    let log = env.out().join("add-members.jsonl");
    let start = std::time::Instant::now();
    while read_jsonl(&log).is_empty() {
        assert!(start.elapsed().as_secs() < 30, "no invite logged in time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("waits");
    let run = Run::from(out);
    assert_eq!(run.code, 1, "interrupted runs exit 1: {run:?}");
    let lines = read_jsonl(&log);
    let invites = env.invites();
    assert!(
        invites.len() < 4,
        "stopped before all four channels: {run:?}"
    );
    assert_eq!(lines.len(), invites.len(), "every call made is logged");
    assert!(lines.iter().all(|l| l["result"] == "added"));
    let store = store::Store::open(&env.db()).expect("db");
    let runs = store.invite_runs(1).expect("runs");
    assert_eq!(runs[0].status, store::invites::InviteRunStatus::Interrupted);
    assert_eq!(
        store.invite_ops(runs[0].id).expect("ops").len(),
        invites.len()
    );
    assert!(run.stdout.contains("not reached"), "{run:?}");
}
