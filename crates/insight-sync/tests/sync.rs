//! insight-sync against a real slack-sim over loopback, real SQLite files and real snapshot files:
//! privacy (opt-out, private opt-in and revoke, no text), idempotence, faults, kill -9, purge, prune.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use insight::InsightConfig;
use insight_sync::{SyncOptions, sync};
use slack_client::{ClientConfig, SlackClient};
use slack_sim::{GenSpec, SimHandle, SimOptions, Workspace};
use store::Store;

const TOKEN: &str = "xoxp-insight-test";

/// A small workspace whose history ends an hour ago, so the sync window sees it.
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

async fn start(ws: Workspace, faults: f64) -> SimHandle {
    slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            faults,
            fault_seed: 12,
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim starts")
}

fn client(sim: &SimHandle) -> SlackClient {
    let mut cfg = ClientConfig::new(TOKEN, sim.base_url());
    cfg.rate_scale = 0.0;
    SlackClient::new(cfg).expect("client")
}

/// The private channel to opt in, one private channel to leave out, and a user to opt out.
struct Picks {
    opted_in: String,
    other_private: Vec<String>,
    opt_out_id: String,
    opt_out_email: String,
}

fn picks(ws: &Workspace) -> Picks {
    let member_private: Vec<&slack_sim::Channel> = ws
        .channels
        .iter()
        .filter(|c| c.is_private && !c.is_im && !c.is_mpim)
        .collect();
    assert!(
        member_private.len() >= 2,
        "the generator made private channels"
    );
    let public = ws
        .channels
        .iter()
        .find(|c| !c.is_private && !c.is_im && !c.is_mpim && c.messages.len() > 5)
        .expect("an active public channel");
    let author = public
        .messages
        .iter()
        .filter_map(|m| m["user"].as_str())
        .find(|u| *u != ws.token_user)
        .expect("an author");
    let user = ws
        .users
        .iter()
        .find(|u| u["id"] == author)
        .expect("author is a user");
    Picks {
        opted_in: member_private[0].name.clone(),
        other_private: member_private[1..].iter().map(|c| c.id.clone()).collect(),
        opt_out_id: author.to_string(),
        opt_out_email: user["profile"]["email"]
            .as_str()
            .expect("email")
            .to_string(),
    }
}

fn config(p: &Picks, opt_in: bool) -> InsightConfig {
    let text = serde_json::json!({
        "channels": {"name_contains": []},
        "private_channels_opt_in": if opt_in { vec![p.opted_in.clone()] } else { vec![] },
        "opt_out_users": [p.opt_out_email],
        "window_days": 7, "timezone": "Europe/Berlin", "store_text": false,
        "retention": {"raw_days": 30, "aggregate_days": 90}
    })
    .to_string();
    InsightConfig::parse(&text, Path::new("insight.json")).expect("config")
}

fn options(dir: &Path) -> SyncOptions {
    SyncOptions {
        db: dir.join("insight.db"),
        out: dir.join("out"),
        config_dir: dir.to_path_buf(),
        since: Some(since()),
        prune_unscoped: false,
    }
}

/// A fixed backfill start (10 days ago at midnight UTC), so runs seconds apart fetch the same range.
fn since() -> jiff::Timestamp {
    let day = jiff::Timestamp::now().as_second() / 86_400 - 10;
    jiff::Timestamp::from_second(day * 86_400).expect("ts")
}

/// Every row that matters, as sorted text ([`common::dump`] of the store at `db`).
fn dump(db: &Path) -> Vec<String> {
    common::dump(&Store::open(db).expect("open"))
}

fn snapshot_texts(out: &Path) -> Vec<(PathBuf, String)> {
    insight_sync::snapshot::files(out)
        .expect("list")
        .into_iter()
        .map(|(_, p)| {
            let mut s = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&p).expect("open"))
                .read_to_string(&mut s)
                .expect("gunzip");
            (p, s)
        })
        .collect()
}

fn db_mentions(db: &Path, needle: &str) -> usize {
    let store = Store::open(db).expect("open");
    let mut n = 0;
    for table in store::insight::INSIGHT_TABLES {
        let cols: Vec<String> = {
            let mut stmt = store
                .conn()
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .expect("cols");
            stmt.query_map([], |r| r.get(0))
                .expect("q")
                .map(|r| r.expect("col"))
                .collect()
        };
        for col in cols {
            let c: i64 = store
                .db()
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE CAST({col} AS TEXT) LIKE '%' || ?1 || '%'"),
                    [needle],
                    |r| r.get(0),
                )
                .expect("count");
            n += c as usize;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_opt_out_private_opt_in_revoke_and_no_text() {
    let ws = workspace();
    let p = picks(&ws);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    let s = sync(&client(&sim), &config(&p, true), &opts)
        .await
        .expect("sync");
    assert!(s.failed_channels.is_empty());
    assert_eq!(s.opted_out_users, 1);
    assert!(s.events > 50, "the workspace has activity: {s}");

    // Never read the history (or members) of a private channel that was not opted in.
    for r in sim.requests() {
        if let Some(ch) = r.params.get("channel") {
            assert!(
                !p.other_private.contains(ch),
                "{} was called on non-opted-in private channel {ch}",
                r.method
            );
        }
    }
    // The opted-out user is nowhere: no row, no snapshot.
    assert_eq!(db_mentions(&opts.db, &p.opt_out_id), 0);
    let snaps = snapshot_texts(&opts.out);
    assert!(snaps.len() > 2);
    for (path, text) in &snaps {
        assert!(
            !text.contains(&p.opt_out_id),
            "{} mentions the opted-out user",
            path.display()
        );
        assert!(!text.contains(&p.opt_out_email), "{}", path.display());
        assert!(
            !text.contains("\"text\""),
            "{} keeps message text",
            path.display()
        );
    }
    let store = Store::open(&opts.db).expect("open");
    let private_id: String = store
        .db()
        .query_row(
            "SELECT channel_id FROM insight_channels WHERE is_private = 1",
            [],
            |r| r.get(0),
        )
        .expect("the opted-in private channel is stored");
    let texts: i64 = store
        .db()
        .query_row(
            "SELECT count(*) FROM insight_events WHERE text IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(texts, 0, "store_text false keeps no text");
    drop(store);

    // Revoking the opt-in deletes the channel's rows and snapshots at the next sync.
    let s2 = sync(&client(&sim), &config(&p, false), &opts)
        .await
        .expect("sync after revoke");
    assert_eq!(s2.removed_channels, 1);
    assert_eq!(db_mentions(&opts.db, &private_id), 0);
    assert!(
        snapshot_texts(&opts.out)
            .iter()
            .all(|(path, _)| !path.to_string_lossy().contains(&private_id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_sync_is_idempotent_and_only_moved_threads_are_refetched() {
    let ws = workspace();
    let p = picks(&ws);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    let cfg = config(&p, true);
    let first = sync(&client(&sim), &cfg, &opts).await.expect("first");
    let before = dump(&opts.db);
    let second = sync(&client(&sim), &cfg, &opts).await.expect("second");
    assert_eq!(
        dump(&opts.db),
        before,
        "a second sync of the same data changes nothing"
    );
    assert!(first.threads_fetched > 0);
    assert_eq!(
        second.threads_fetched, 0,
        "no thread moved, so no replies call"
    );
    // The lock: a second sync while one holds the lock is refused.
    let held = insight_sync::lock(&opts.db).expect("lock");
    let err = sync(&client(&sim), &cfg, &opts).await.expect_err("locked");
    assert!(
        err.to_string().contains("another insight-sync is running"),
        "{err}"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_give_the_same_database_as_a_clean_run() {
    let ws = workspace();
    let p = picks(&ws);
    let cfg = config(&p, true);
    let clean_sim = start(ws.clone(), 0.0).await;
    let clean_dir = tempfile::tempdir().expect("tmp");
    let clean = options(clean_dir.path());
    sync(&client(&clean_sim), &cfg, &clean)
        .await
        .expect("clean");
    let faulty_sim = start(ws, 0.1).await;
    let faulty_dir = tempfile::tempdir().expect("tmp");
    let faulty = options(faulty_dir.path());
    let s = sync(&client(&faulty_sim), &cfg, &faulty)
        .await
        .expect("faulty");
    let reqs = faulty_sim.requests();
    let faults = reqs.iter().filter(|r| r.fault.is_some()).count();
    assert!(
        faults > 0,
        "faults were injected: {faults} of {}",
        reqs.len()
    );
    assert!(
        s.failed_channels.is_empty(),
        "retries absorbed the faults: {s}"
    );
    assert_eq!(dump(&faulty.db), dump(&clean.db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_then_resync_matches_an_uninterrupted_run() {
    let ws = workspace();
    let p = picks(&ws);
    let cfg = config(&p, true);
    let sim = start(ws, 0.0).await;
    let cfg_dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        cfg_dir.path().join("insight.json"),
        serde_json::json!({
            "channels": {"name_contains": []},
            "private_channels_opt_in": [p.opted_in],
            "opt_out_users": [p.opt_out_email],
            "window_days": 7, "timezone": "Europe/Berlin"
        })
        .to_string(),
    )
    .expect("config");
    let since_day = since()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("tz"))
        .date()
        .to_string();
    // Same start instant as the reference run: Berlin midnight differs from UTC midnight, so the
    // reference is re-run with the Berlin day start.
    let berlin_since: jiff::civil::Date = since_day.parse().expect("day");
    let ref_dir2 = tempfile::tempdir().expect("tmp");
    let mut reference2 = options(ref_dir2.path());
    reference2.since = Some(
        berlin_since
            .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("tz"))
            .expect("zoned")
            .timestamp(),
    );
    sync(&client(&sim), &cfg, &reference2)
        .await
        .expect("reference");
    let expected2 = dump(&reference2.db);
    assert!(!expected2.is_empty());

    let base = sim.base_url();
    let bin = env!("CARGO_BIN_EXE_insight-sync");
    let cfg_path = cfg_dir.path().to_path_buf();
    let mut rng = fastrand_seed();
    // Kill points are drawn within the time one uninterrupted run of the binary takes here, so
    // they land mid-run however fast the machine and the sim are (a fixed 20-420 ms missed most
    // runs once the sim indexed its messages).
    let full_ms = {
        let (c, b, sd) = (cfg_path.clone(), base.clone(), since_day.clone());
        tokio::task::spawn_blocking(move || {
            let d = tempfile::tempdir().expect("tmp");
            let started = std::time::Instant::now();
            let status = spawn_sync(bin, &c, d.path(), &sd, &b).wait().expect("wait");
            assert!(status.success(), "the timing run succeeds");
            started.elapsed().as_millis() as u64
        })
        .await
        .expect("join")
    };
    let mut killed_mid_run = 0;
    for trial in 0..20 {
        let dir = tempfile::tempdir().expect("tmp");
        let (c, b, sd) = (cfg_path.clone(), base.clone(), since_day.clone());
        let run = move |dir: &Path| spawn_sync(bin, &c, dir, &sd, &b);
        let run2 = run.clone();
        let delay_ms = 5 + rng.next() % full_ms.max(10);
        let d = dir.path().to_path_buf();
        let finished_early = tokio::task::spawn_blocking(move || {
            let mut child = run(&d);
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let early = child.try_wait().expect("wait").is_some();
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            early
        })
        .await
        .expect("join");
        if !finished_early {
            killed_mid_run += 1;
        }
        let d = dir.path().to_path_buf();
        let status = tokio::task::spawn_blocking(move || run2(&d).wait().expect("wait"))
            .await
            .expect("join");
        assert!(status.success(), "trial {trial}: the resync succeeds");
        assert_eq!(
            dump(&dir.path().join("insight.db")),
            expected2,
            "trial {trial} (killed after {delay_ms} ms)"
        );
    }
    assert!(
        killed_mid_run >= 5,
        "most kills should land mid-run, got {killed_mid_run}"
    );
}

fn spawn_sync(
    bin: &str,
    cfg: &Path,
    dir: &Path,
    since_day: &str,
    base: &str,
) -> std::process::Child {
    std::process::Command::new(bin)
        .arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--db")
        .arg(dir.join("insight.db"))
        .args(["--since", since_day, "-q"])
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn")
}

/// A tiny deterministic generator for kill delays (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}
fn fastrand_seed() -> Lcg {
    Lcg(20260101)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_user_and_prune_remove_rows_and_snapshot_traces() {
    let ws = workspace();
    let p = picks(&ws);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    let cfg = config(&p, true);
    sync(&client(&sim), &cfg, &opts).await.expect("sync");
    // The most active stored user.
    let victim: String = Store::open(&opts.db)
        .expect("open")
        .db()
        .query_row(
            "SELECT user_id FROM insight_events GROUP BY user_id ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a user");
    assert!(db_mentions(&opts.db, &victim) > 0);
    assert!(
        snapshot_texts(&opts.out)
            .iter()
            .any(|(_, t)| t.contains(&victim))
    );
    let mut store = Store::open(&opts.db).expect("open");
    let removed = store.insight_purge_user(&victim, &|_| None).expect("purge");
    drop(store);
    assert!(
        removed
            .iter()
            .any(|(t, n)| *t == "insight_events" && *n > 0)
    );
    let files = insight_sync::snapshot::purge_user(&opts.out, &victim, false).expect("scrub");
    assert!(files > 0);
    assert_eq!(db_mentions(&opts.db, &victim), 0);
    assert!(
        snapshot_texts(&opts.out)
            .iter()
            .all(|(_, t)| !t.contains(&victim))
    );

    // Prune: with a 1-day raw retention, events older than a day go and aggregates stay.
    let mut short = cfg.clone();
    short.retention.raw_days = 1;
    short.retention.aggregate_days = 1;
    let mut store = Store::open(&opts.db).expect("open");
    let old_before: i64 = store
        .db()
        .query_row("SELECT count(*) FROM insight_daily_user_channel", [], |r| {
            r.get(0)
        })
        .expect("count");
    let (rows, _files) = insight_sync::sync::prune(&mut store, &short, &opts.out).expect("prune");
    assert!(rows > 0);
    let cutoff = jiff::Timestamp::now().as_microsecond() - 86_400_000_000;
    let stale: i64 = store
        .db()
        .query_row(
            "SELECT count(*) FROM insight_events WHERE at_us < ?1",
            [cutoff],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stale, 0);
    let after: i64 = store
        .db()
        .query_row("SELECT count(*) FROM insight_daily_user_channel", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert!(after < old_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_summary_is_one_document_with_the_sync_counts() {
    let ws = workspace();
    let p = picks(&ws);
    let total_users = ws.users.len() as u64;
    let cfg = config(&p, true);
    let sim = start(ws, 0.0).await;
    let cfg_dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        cfg_dir.path().join("insight.json"),
        serde_json::json!({
            "channels": {"name_contains": []},
            "private_channels_opt_in": [p.opted_in],
            "opt_out_users": [p.opt_out_email],
            "window_days": 7, "timezone": "UTC"
        })
        .to_string(),
    )
    .expect("config");
    let since_day = since().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    // The library run on the same sim is the reference for what the binary should report.
    let ref_dir = tempfile::tempdir().expect("tmp");
    let expected = sync(&client(&sim), &cfg, &options(ref_dir.path()))
        .await
        .expect("reference sync");

    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_insight-sync"));
    cmd.arg("--config")
        .arg(cfg_dir.path())
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--db")
        .arg(dir.path().join("insight.db"))
        .args(["--since", &since_day, "--json"])
        .env("SLACK_API_BASE", sim.base_url())
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "0");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["opted_out_users"], 1, "{doc:#}");
    assert_eq!(doc["users"].as_u64(), Some(total_users - 1));
    assert_eq!(doc["failed_channels"], serde_json::json!([]));
    for field in [
        "purged_users",
        "removed_channels",
        "unscoped_kept",
        "unscoped_pruned",
    ] {
        assert_eq!(doc[field], 0, "{field} in {doc:#}");
    }
    assert_eq!(doc["channels"].as_u64(), Some(expected.channels as u64));
    assert_eq!(doc["events"].as_u64(), Some(expected.events));
    assert_eq!(
        doc["threads_fetched"].as_u64(),
        Some(expected.threads_fetched)
    );
    assert!(expected.events > 0 && expected.channels > 0, "{expected:?}");
    let store = Store::open(&dir.path().join("insight.db")).expect("db");
    let last_run: i64 = store
        .db()
        .query_row("SELECT max(rowid) FROM insight_sync_runs", [], |r| r.get(0))
        .expect("run id");
    assert_eq!(doc["run_id"].as_i64(), Some(last_run));
    assert!(
        !stdout.contains("insight-sync: ok"),
        "no cron line with --json"
    );
}

/// A person made recognisable for the erasure tests: a unique username, real name, display name
/// and message text, and a `<@ID>` mention of them in someone else's message.
struct Victim {
    id: String,
    name: String,
    email: String,
    needles: Vec<String>,
}

fn mark_victim(ws: &mut Workspace, id: &str) -> Victim {
    let (name, real, display, text) = (
        "zq.victim",
        "Zelda Quorumsky",
        "zqdisplay",
        "zebra-quartz-7731 plans",
    );
    let email = "zq.victim@bitsafe.com";
    let u = ws
        .users
        .iter_mut()
        .find(|u| u["id"] == id)
        .expect("victim is a user");
    u["name"] = name.into();
    u["real_name"] = real.into();
    u["profile"]["real_name"] = real.into();
    u["profile"]["real_name_normalized"] = real.into();
    u["profile"]["display_name"] = display.into();
    u["profile"]["email"] = email.into();
    let channel = ws
        .channels
        .iter_mut()
        .find(|c| {
            !c.is_private && !c.is_im && !c.is_mpim && c.messages.iter().any(|m| m["user"] == id)
        })
        .expect("a public channel the victim wrote in");
    let own = channel
        .messages
        .iter()
        .position(|m| m["user"] == id)
        .expect("their message");
    channel.messages[own]["text"] = text.into();
    let other = channel
        .messages
        .iter()
        .position(|m| m["user"].as_str().is_some_and(|u| u != id) && m.get("subtype").is_none())
        .expect("someone else's message");
    channel.messages[other]["text"] = format!("ping <@{id}> about it").into();
    Victim {
        id: id.to_string(),
        name: name.to_string(),
        email: email.to_string(),
        needles: [id, name, real, display, text].map(String::from).to_vec(),
    }
}

fn config_with(p: &Picks, opt_out: &[&str], store_text: bool) -> InsightConfig {
    let text = serde_json::json!({
        "channels": {"name_contains": []},
        "private_channels_opt_in": [p.opted_in],
        "opt_out_users": opt_out,
        "window_days": 7, "timezone": "UTC", "store_text": store_text,
        "retention": {"raw_days": 30, "aggregate_days": 90}
    })
    .to_string();
    InsightConfig::parse(&text, Path::new("insight.json")).expect("config")
}

fn bytes_contain(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    let needle = needle.as_bytes();
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The needles found in the database file, its WAL and the decompressed snapshots.
fn traces(opts: &SyncOptions, needles: &[String]) -> Vec<String> {
    let wal = PathBuf::from(format!("{}-wal", opts.db.display()));
    let mut found = Vec::new();
    for n in needles {
        for f in [&opts.db, &wal] {
            if bytes_contain(f, n) {
                found.push(format!("{n} in {}", f.display()));
            }
        }
        for (path, text) in snapshot_texts(&opts.out) {
            if text.contains(n.as_str()) {
                found.push(format!("{n} in {}", path.display()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_after_collection_leaves_no_byte_in_the_db_wal_or_snapshots() {
    let mut ws = workspace();
    let p = picks(&ws);
    let victim = mark_victim(&mut ws, &p.opt_out_id);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    let first = sync(&client(&sim), &config_with(&p, &[], true), &opts)
        .await
        .expect("sync with them");
    assert_eq!(first.purged_users, 0);
    let before = traces(&opts, &victim.needles);
    for n in &victim.needles {
        assert!(
            before.iter().any(|t| t.starts_with(&format!("{n} in"))),
            "the first sync stored {n}: {before:?}"
        );
    }
    // A reader holding the file open (a report, a shell) keeps the WAL from being removed when
    // the sync closes its connection: only the sync's own checkpoint empties it.
    let reader = Store::open(&opts.db).expect("reader");
    let second = sync(
        &client(&sim),
        &config_with(&p, &[victim.id.as_str()], true),
        &opts,
    )
    .await
    .expect("sync after the opt-out");
    assert_eq!(second.purged_users, 1, "{second}");
    assert!(second.to_string().contains("purged_users=1"), "{second}");
    assert_eq!(traces(&opts, &victim.needles), Vec::<String>::new());
    // The mention in someone else's kept text was redacted, not the message dropped.
    let redacted: i64 = reader
        .db()
        .query_row(
            "SELECT count(*) FROM insight_events WHERE text LIKE '%<@redacted>%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert!(redacted > 0, "the mention is kept, redacted");
    drop(reader);
    // A third sync finds nobody left to erase and changes nothing about them.
    let third = sync(
        &client(&sim),
        &config_with(&p, &[victim.id.as_str()], true),
        &opts,
    )
    .await
    .expect("third sync");
    assert_eq!(third.purged_users, 0);
    assert_eq!(traces(&opts, &victim.needles), Vec::<String>::new());
}

/// Runs the insight-sync binary on `dir` (config `dir/insight.json`, db `dir/insight.db`, out
/// `dir/out`) against the sim, with `stdin` closed.
async fn run_bin(dir: &Path, base: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_insight-sync"));
    cmd.arg("--config")
        .arg(dir)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--db")
        .arg(dir.join("insight.db"))
        .args(args)
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "0")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("binary runs")
}

fn write_config(dir: &Path, opt_out: &[&str], extra: serde_json::Value) {
    let mut doc = serde_json::json!({
        "channels": {"name_contains": []},
        "opt_out_users": opt_out,
        "window_days": 7, "timezone": "UTC", "store_text": true
    });
    if let (Some(d), serde_json::Value::Object(e)) = (doc.as_object_mut(), extra) {
        d.extend(e);
    }
    std::fs::write(dir.join("insight.json"), doc.to_string()).expect("config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_entry_matching_nobody_stops_the_sync_before_anything_is_written() {
    let ws = workspace();
    let p = picks(&ws);
    let since_day = since().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let sim = start(ws.clone(), 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    write_config(
        dir.path(),
        &["U0AKITYPO", "nobody.here"],
        serde_json::json!({}),
    );
    let out = run_bin(dir.path(), &sim.base_url(), &["--since", &since_day]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"U0AKITYPO\""),
        "names the entry: {stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("user ID (U"),
        "{stderr}"
    );
    let nothing_written = |dir: &Path| {
        assert!(
            snapshot_texts(&dir.join("out")).is_empty(),
            "no snapshot written"
        );
        let store = Store::open(&dir.join("insight.db")).expect("db");
        for table in ["insight_users", "insight_sync_runs", "insight_events"] {
            let n: i64 = store
                .db()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count");
            assert_eq!(n, 0, "{table} is empty");
        }
    };
    nothing_written(dir.path());

    // A real person's email, while the token lacks users:read.email: Slack sends no emails, so
    // the entry matches nobody, and the hint says why.
    let scoped = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            scopes: Some(
                [
                    "users:read",
                    "channels:read",
                    "groups:read",
                    "channels:history",
                    "groups:history",
                    "team:read",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    write_config(
        dir.path(),
        &[p.opt_out_email.as_str()],
        serde_json::json!({}),
    );
    let out = run_bin(dir.path(), &scoped.base_url(), &["--since", &since_day]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&p.opt_out_email), "{stderr}");
    assert!(stderr.contains("users:read.email"), "{stderr}");
    nothing_written(dir.path());
    // The same entry with the scope granted is matched and the sync runs.
    let out = run_bin(dir.path(), &sim.base_url(), &["--since", &since_day]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_user_is_exact_asks_first_and_reaches_spool_invite_log_and_snapshots() {
    let mut ws = workspace();
    let p = picks(&ws);
    let victim = mark_victim(&mut ws, &p.opt_out_id);
    // Two other users sharing a username (a deactivated account's name taken again).
    let others: Vec<usize> = (0..ws.users.len())
        .filter(|&i| {
            ws.users[i]["id"] != victim.id.as_str() && ws.users[i]["id"] != ws.token_user.as_str()
        })
        .take(2)
        .collect();
    ws.users[others[1]]["name"] = ws.users[others[0]]["name"].clone();
    let shared = ws.users[others[0]]["name"]
        .as_str()
        .expect("name")
        .to_string();
    ws.users[others[1]]["profile"]["display_name"] = "samedisplay".into();
    ws.users[others[0]]["profile"]["display_name"] = "samedisplay".into();
    let other_ids: Vec<String> = others
        .iter()
        .map(|&i| ws.users[i]["id"].as_str().expect("id").to_string())
        .collect();
    let sim = start(ws, 0.0).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    write_config(dir.path(), &[], serde_json::json!({}));
    let since_day = since().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let out = run_bin(dir.path(), &base, &["--since", &since_day]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // slack-export's spool and add-members' log in the same file.
    let id = victim.id.as_str();
    {
        let store = Store::open(&opts.db).expect("db");
        let ch = store
            .export_channel("/exports/x", "C0EXPORT", "general", false)
            .expect("export channel")
            .id;
        let own =
            serde_json::json!({"user": id, "ts": "1.000001", "text": "zebra-quartz-7731 plans"})
                .to_string();
        let other = serde_json::json!({"user": "U0OTHER01", "ts": "2.000001",
            "text": format!("hi <@{id}|zq.victim> and <@{id}>"),
            "reactions": [{"name": "eyes", "users": [id, "U0OTHER01"], "count": 2}]})
        .to_string();
        let msg = |ts_key, ts, user, raw| store::export::SpoolMessage {
            ts_key,
            thread_key: ts_key,
            ts,
            user: Some(user),
            raw,
            replace: false,
        };
        store
            .export_put_messages(
                ch,
                &[
                    msg(1, "1.000001", id, &own),
                    msg(2, "2.000001", "U0OTHER01", &other),
                ],
            )
            .expect("spool");
        // The search index slack-export keeps beside the spool: their message, and one naming them.
        let doc =
            |msg_id: &str, sender: &str, sender_name: &str, text: &str| store::search::SearchDoc {
                source: "slack".into(),
                conversation_id: "C0EXPORT".into(),
                conversation_name: "general".into(),
                msg_id: msg_id.into(),
                time_us: 1_000_000,
                sender_id: Some(sender.into()),
                sender_name: sender_name.into(),
                text: text.into(),
                mentions: Vec::new(),
            };
        let mut naming = doc(
            "2.000001",
            "U0OTHER01",
            "Other",
            "hi @zqdisplay about plans",
        );
        naming.mentions = vec![(id.to_string(), "zqdisplay".to_string())];
        store
            .search_index_messages(&[
                doc("1.000001", id, "zqdisplay", "zebra-quartz-7731 plans"),
                naming,
            ])
            .expect("index");
        store
            .db()
            .execute(
                "INSERT INTO invite_runs (started_at, status, channels_planned, handles)
                 VALUES ('2026-01-01T00:00:00.000Z', 'completed', 1, ?1)",
                [serde_json::json!(["@ZQ.Victim", "someone"]).to_string()],
            )
            .expect("invite run");
        store
            .db()
            .execute(
                "INSERT INTO invite_ops (run_id, at, channel_id, channel_name, users, result)
                 VALUES (1, '2026-01-01T00:00:01.000Z', 'C0EXPORT', 'general', ?1, 'added')",
                [serde_json::json!([id, "U0OTHER01"]).to_string()],
            )
            .expect("invite op");
    }
    let file_bytes = || std::fs::read(&opts.db).expect("db bytes");

    // A username two stored users share, or a display name: refused, the candidates listed.
    for ambiguous in [shared.as_str(), "samedisplay"] {
        let out = run_bin(dir.path(), &base, &["purge-user", ambiguous, "--yes"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{ambiguous}: {stderr}");
        for other in &other_ids {
            assert!(stderr.contains(&format!("({other})")), "{stderr}");
        }
        assert!(stderr.contains("hint:"), "{stderr}");
    }
    // Nobody by that name: exit 1, nothing removed.
    let out = run_bin(
        dir.path(),
        &base,
        &["purge-user", "no.such.person", "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was removed"));

    // Dry run by username: the plan, nothing changed.
    let before = file_bytes();
    let out = run_bin(
        dir.path(),
        &base,
        &["purge-user", &victim.name, "--dry-run"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |table: &str| -> usize {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{table}\t")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{table} in {stdout}"))
    };
    assert!(count("insight_events") > 0, "{stdout}");
    assert_eq!(count("export_messages"), 1, "{stdout}");
    assert_eq!(count("export_messages.raw (rewritten)"), 1, "{stdout}");
    assert_eq!(count("invite_ops (rewritten)"), 1, "{stdout}");
    assert_eq!(count("invite_runs.handles (rewritten)"), 1, "{stdout}");
    assert_eq!(count("search_messages"), 1, "{stdout}");
    assert_eq!(count("search_messages.text (rewritten)"), 1, "{stdout}");
    assert!(
        count("insight_events.text (mentions redacted)") > 0,
        "{stdout}"
    );
    assert!(count("snapshot_files") > 0, "{stdout}");
    assert_eq!(file_bytes(), before, "a dry run changes nothing");
    assert!(!traces(&opts, &victim.needles).is_empty());

    // Without --yes and without a terminal: refused, nothing changed.
    let out = run_bin(dir.path(), &base, &["purge-user", id]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(file_bytes(), before);

    // At a terminal, answering no: exit 1, nothing changed. `script` gives the binary a pty.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let line = format!(
            "{} --config {d} --out {d}/out --db {d}/insight.db purge-user {id}",
            env!("CARGO_BIN_EXE_insight-sync"),
            d = dir.path().display()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("script runs");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"n\n")
                .expect("answer");
            child.wait_with_output().expect("wait")
        })
        .await
        .expect("join");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(
            shown.contains("[y/N]") && shown.contains("nothing was removed"),
            "{shown}"
        );
        assert_eq!(file_bytes(), before);
    } else {
        eprintln!(
            "!!!!! SKIPPED: `script` (util-linux) is not installed; declining at the prompt was not checked !!!!!"
        );
    }

    // By email: looked up in Slack (the store keeps none), resolved to the same person.
    let out = run_bin(
        dir.path(),
        &base,
        &["purge-user", &victim.email, "--dry-run"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("purge-user {id} ")), "{stderr}");

    let out = run_bin(dir.path(), &base, &["purge-user", id, "--yes"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(traces(&opts, &victim.needles), Vec::<String>::new());
    let store = Store::open(&opts.db).expect("db");
    let spooled: Vec<String> = store
        .conn()
        .prepare("SELECT raw FROM export_messages")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(spooled.len(), 1, "their own message is gone: {spooled:?}");
    assert!(
        spooled[0].contains("hi <@redacted> and <@redacted>"),
        "{spooled:?}"
    );
    assert!(
        spooled[0].contains("U0OTHER01") && !spooled[0].contains(id),
        "{spooled:?}"
    );
    let invited: String = store
        .db()
        .query_row("SELECT users FROM invite_ops", [], |r| r.get(0))
        .expect("op");
    assert_eq!(invited, r#"["U0OTHER01"]"#);
    let asked: String = store
        .db()
        .query_row("SELECT handles FROM invite_runs", [], |r| r.get(0))
        .expect("run");
    assert_eq!(asked, r#"["someone"]"#);
    let indexed: Vec<(String, String)> = store
        .conn()
        .prepare("SELECT text, mentions FROM search_messages")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(
        indexed,
        [("hi @(removed) about plans".to_string(), "[]".to_string())]
    );
    drop(store);
    // Nothing left: exit 1.
    let out = run_bin(dir.path(), &base, &["purge-user", id, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_leaving_the_scope_are_kept_for_a_grace_period_unless_opted_out() {
    let ws = workspace();
    let p = picks(&ws);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    let all = config_with(&p, &[], false);
    sync(&client(&sim), &all, &opts).await.expect("first");
    let channels = |sql: &str| -> Vec<(String, String)> {
        let store = Store::open(&opts.db).expect("db");
        let mut stmt = store.conn().prepare(sql).expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    let public = channels(
        "SELECT channel_id, name FROM insight_channels WHERE is_private = 0 ORDER BY channel_id",
    );
    assert!(public.len() >= 2, "{public:?}");
    let events_before = db_mentions(&opts.db, &public[1].0);
    assert!(events_before > 0);

    // A typo in the filter: every public channel leaves the scope, none is deleted.
    let mut typo = all.clone();
    typo.channels.name_contains = vec!["zz-typo-zz".into()];
    let s = sync(&client(&sim), &typo, &opts).await.expect("typo");
    assert_eq!(
        (s.removed_channels, s.unscoped_kept, s.unscoped_pruned),
        (0, public.len(), 0),
        "{s}"
    );
    assert!(
        s.to_string().contains(&format!(
            "removed=0 unscoped_kept={} unscoped_pruned=0",
            public.len()
        )),
        "{s}"
    );
    assert_eq!(db_mentions(&opts.db, &public[1].0), events_before);
    assert!(
        snapshot_texts(&opts.out)
            .iter()
            .any(|(path, _)| path.to_string_lossy().contains(&public[1].0))
    );

    // An explicit opt-out deletes at once, the rest stays kept.
    let mut opted = typo.clone();
    opted.opt_out_channels = vec![public[0].1.clone()];
    let s = sync(&client(&sim), &opted, &opts).await.expect("opt-out");
    assert_eq!(
        (s.removed_channels, s.unscoped_kept, s.unscoped_pruned),
        (1, public.len() - 1, 0),
        "{s}"
    );
    assert_eq!(db_mentions(&opts.db, &public[0].0), 0);

    // Back in scope: synced again, the out-of-scope clock cleared.
    let s = sync(&client(&sim), &all, &opts).await.expect("back");
    assert_eq!(s.unscoped_kept, 0);
    assert!(
        channels("SELECT channel_id, '' FROM insight_channels WHERE unscoped_since_us IS NOT NULL")
            .is_empty()
    );

    // --prune-unscoped deletes them now.
    let prune_now = SyncOptions {
        prune_unscoped: true,
        ..options(dir.path())
    };
    let s = sync(&client(&sim), &typo, &prune_now).await.expect("prune");
    assert_eq!(
        (s.removed_channels, s.unscoped_kept, s.unscoped_pruned),
        (0, 0, public.len()),
        "{s}"
    );
    assert_eq!(db_mentions(&opts.db, &public[1].0), 0);

    // A grace period that has passed (0 days: at once) does the same without the flag.
    sync(&client(&sim), &all, &opts).await.expect("restore");
    let mut no_grace = typo.clone();
    no_grace.unscoped_grace_days = 0;
    let s = sync(&client(&sim), &no_grace, &opts)
        .await
        .expect("grace over");
    assert_eq!(
        (s.unscoped_kept, s.unscoped_pruned),
        (0, public.len()),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_left_by_an_older_purge_are_scrubbed_when_the_opt_out_list_changes() {
    let mut ws = workspace();
    let p = picks(&ws);
    let victim = mark_victim(&mut ws, &p.opt_out_id);
    let sim = start(ws, 0.0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = options(dir.path());
    sync(&client(&sim), &config_with(&p, &[], true), &opts)
        .await
        .expect("sync with them");
    // What syncs did before opt-outs reached the snapshots: the rows purged, the files left.
    Store::open(&opts.db)
        .expect("db")
        .insight_purge_user(&victim.id, &|_| None)
        .expect("rows purged");
    assert!(
        snapshot_texts(&opts.out)
            .iter()
            .any(|(_, t)| t.contains(&victim.id))
    );
    let s = sync(
        &client(&sim),
        &config_with(&p, &[victim.id.as_str()], true),
        &opts,
    )
    .await
    .expect("sync with the opt-out");
    assert_eq!(s.purged_users, 0, "no rows were left to erase");
    assert_eq!(traces(&opts, &victim.needles), Vec::<String>::new());
}
