//! insight-sync and insight-report at scale, against a release slack-sim process:
//! 1. A 7-day sync of a 5k-user, 1k-channel workspace with sim and client at rate scale 60: wall
//!    time over the rate-limit floor of the calls it made (target ≤ 1.3), then a second sync of the
//!    unchanged workspace, which must fetch no thread replies.
//! 2. Ingest events/s with rate limits off on both sides.
//! 3. A 90-day database of (up to) 10M events written straight into the store's insight tables:
//!    `insight-report` over the full range against DuckDB doing the same aggregation over the same
//!    rows (`scripts/insight_duckdb.py`), ours/duckdb (target < 2).
//!
//! With `INSIGHT_BENCH_PG=postgres://...` (any database on a server; the bench creates and drops
//! its own `slack_tools_bench_insight` there) parts 2 and 3 also run on PostgreSQL, printed next
//! to SQLite's: the same sync into a fresh database, and the same generated rows (copied from the
//! SQLite file with COPY, then VACUUM ANALYZE) reported by the same binary, whose CSVs must match byte
//! for byte. Goal: PostgreSQL within 1.5x of SQLite for both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::civil::Date;
use slack_client::rate_floor;
use slack_sim::{GenSpec, Workspace};
use store::Store;
use store::rusqlite::params;

use crate::sim;

const TOKEN: &str = "xoxp-bench-insight";
const RATE_SCALE: f64 = 60.0;
const USERS: usize = 5_000;
const CHANNELS: usize = 1_000;
/// Members per generated channel are capped: the sim otherwise draws up to every user (2.5k on
/// average), far above what a real 5k-person workspace's channels hold.
const MAX_MEMBERS: usize = 300;

/// Runs every part; `INSIGHT_BENCH_PARTS=sync,ingest,report` picks some (and
/// `INSIGHT_BENCH_EVENTS=N` sizes the report database) when iterating on one.
pub fn run() -> anyhow::Result<()> {
    let parts =
        std::env::var("INSIGHT_BENCH_PARTS").unwrap_or_else(|_| "sync,ingest,report".into());
    let tmp = tempfile::tempdir()?;
    // INSIGHT_BENCH_DIR keeps the files (databases, CSVs, logs) for a look afterwards.
    let kept = std::env::var_os("INSIGHT_BENCH_DIR").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    if parts.contains("sync") || parts.contains("ingest") {
        let (ws_path, ws) = workspace(dir)?;
        if parts.contains("sync") {
            sync_floor(dir, &ws_path, &ws)?;
        }
        drop(ws);
        if parts.contains("ingest") {
            ingest(dir, &ws_path)?;
        }
    }
    if parts.contains("report") {
        report_vs_duckdb(dir)?;
    }
    Ok(())
}

/// The generated workspace, ending now so the rolling 7-day window covers its last week (the
/// sim's command line always ends history on 2026-01-01, and retention would prune that at once).
fn workspace(dir: &Path) -> anyhow::Result<(PathBuf, Workspace)> {
    let started = Instant::now();
    let now = jiff::Timestamp::now().as_second();
    let ws = slack_sim::generate(&GenSpec {
        users: USERS,
        channels: CHANNELS,
        // One day more than the window: the sync reads only the window, the rest is never fetched.
        days: 8,
        seed: 6,
        max_members: Some(MAX_MEMBERS),
        end: Some(now),
    });
    let path = dir.join("ws.json");
    ws.save(&path)?;
    eprintln!(
        "insight bench: generated {USERS} users, {CHANNELS} channels in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok((path, ws))
}

/// Every listed channel in scope: public, archived, and the private ones the token user is in
/// (opted in by ID), so the sync reads all 1k channels.
pub(crate) fn write_config(dir: &Path, ws: Option<&Workspace>) -> anyhow::Result<PathBuf> {
    let config = dir.join("config");
    std::fs::create_dir_all(&config)?;
    let private: Vec<&str> = ws
        .map(|ws| {
            ws.channels
                .iter()
                .filter(|c| c.is_private && !c.is_im && !c.is_mpim)
                .filter(|c| c.members.contains(&ws.token_user))
                .map(|c| c.id.as_str())
                .collect()
        })
        .unwrap_or_default();
    let cfg = serde_json::json!({
        "channels": {"include_archived": true},
        "private_channels_opt_in": private,
        "window_days": 7,
        "timezone": "UTC",
    });
    std::fs::write(
        config.join("insight.json"),
        serde_json::to_string_pretty(&cfg)?,
    )?;
    Ok(config)
}

/// One insight-sync process: its wall time and summary line.
struct SyncRun {
    wall: Duration,
    summary: String,
}

impl SyncRun {
    /// A `key=value` figure of the summary line.
    fn figure(&self, key: &str) -> u64 {
        self.summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn run_sync(base: &str, dir: &Path, config: &Path, scale: &str) -> anyhow::Result<SyncRun> {
    run_sync_into(
        base,
        dir,
        dir.join("insight.db").as_os_str(),
        &dir.join("out"),
        config,
        scale,
    )
}

/// [`run_sync`] into any `--db` (a file or a Postgres URL) and snapshot directory.
fn run_sync_into(
    base: &str,
    dir: &Path,
    db: &std::ffi::OsStr,
    out_dir: &Path,
    config: &Path,
    scale: &str,
) -> anyhow::Result<SyncRun> {
    let started = Instant::now();
    let out = Command::new(sim::bin_dir().join("insight-sync"))
        .args(["--quiet", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out_dir)
        .env("SLACK_API_BASE", base)
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", scale)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .context("running insight-sync")?;
    let wall = started.elapsed();
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        bail!("insight-sync failed ({}): {summary}", out.status);
    }
    Ok(SyncRun { wall, summary })
}

/// Answered calls per method in sim log records (429s excluded: they are not calls the work
/// needs), and the number of 429s.
fn calls_by_method(records: &[serde_json::Value]) -> (BTreeMap<String, u64>, u64) {
    let mut by = BTreeMap::new();
    let mut limited = 0;
    for r in records {
        if r["status"] == 429 {
            limited += 1;
            continue;
        }
        if let Some(m) = r["method"].as_str() {
            *by.entry(m.to_string()).or_insert(0) += 1;
        }
    }
    (by, limited)
}

/// The rate-limit floor of a sync's calls. Slack budgets each method separately, and the sync runs
/// in two sequential phases: `users.list`, then `conversations.list` (nothing else can start before
/// the channel list is known), then every channel's `conversations.members`, `.history` and
/// `.replies` overlapping (8 channels in flight). So the floor is
/// `floor(users.list) + floor(conversations.list) + max(floor of each per-channel method)`,
/// each method's floor from `slack_client::rate_floor` at its sustained rate.
fn sync_floor_of(calls: &BTreeMap<String, u64>) -> (Duration, String) {
    let floor = |m: &str| rate_floor(m, calls.get(m).copied().unwrap_or(0), RATE_SCALE);
    let sequential = floor("users.list") + floor("conversations.list");
    let (method, overlapped) = calls
        .keys()
        .filter(|m| !matches!(m.as_str(), "users.list" | "conversations.list"))
        .map(|m| (m.clone(), floor(m)))
        .max_by_key(|(_, d)| *d)
        .unwrap_or_default();
    (
        sequential + overlapped,
        format!("users.list + conversations.list + {method}"),
    )
}

/// Threads in the sync's window that have replies: what the first sync must fetch.
fn threads_in_window(ws: &Workspace, oldest_us: i64) -> u64 {
    let in_scope = |c: &slack_sim::Channel| {
        !c.is_im && !c.is_mpim && (!c.is_private || c.members.contains(&ws.token_user))
    };
    let mut n = 0;
    for c in ws.channels.iter().filter(|c| in_scope(c)) {
        let parents: HashSet<&str> = c
            .messages
            .iter()
            .filter_map(|m| {
                let thread = m["thread_ts"].as_str()?;
                (m["ts"].as_str() != Some(thread)).then_some(thread)
            })
            .filter(|t| ts_us(t) >= oldest_us)
            .collect();
        n += parents.len() as u64;
    }
    n
}

fn ts_us(ts: &str) -> i64 {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    s.parse::<i64>().unwrap_or(0) * 1_000_000 + format!("{f:0<6}")[..6].parse::<i64>().unwrap_or(0)
}

/// Part 1: wall / floor at rate scale 60, first sync and an unchanged second sync.
fn sync_floor(root: &Path, ws_path: &Path, ws: &Workspace) -> anyhow::Result<()> {
    let dir = root.join("floor");
    std::fs::create_dir_all(&dir)?;
    let config = write_config(&dir, Some(ws))?;
    let log = dir.join("sim.jsonl");
    let ws_arg = ws_path.display().to_string();
    let sim = sim::start(
        &[
            "--workspace",
            &ws_arg,
            "--token",
            TOKEN,
            "--rate-scale",
            "60",
        ],
        &log,
    )?;
    let oldest_us = jiff::Timestamp::now().as_microsecond() - 7 * 86_400 * 1_000_000;
    let first = run_sync(&sim.base_url, &dir, &config, "60")?;
    let first_records = sim::read_log(&log)?;
    let second = run_sync(&sim.base_url, &dir, &config, "60")?;
    let all = sim::read_log(&log)?;
    let second_records = &all[first_records.len()..];
    let threads = threads_in_window(ws, oldest_us);

    println!(
        "insight.workspace: {USERS} users, {CHANNELS} channels (members capped at {MAX_MEMBERS}), 7-day window"
    );
    for (label, run, records) in [
        ("first", &first, &first_records[..]),
        ("second", &second, second_records),
    ] {
        let (calls, limited) = calls_by_method(records);
        let (floor, how) = sync_floor_of(&calls);
        let total: u64 = calls.values().sum();
        println!("insight.sync_{label}.summary: {}", run.summary);
        println!("insight.sync_{label}.calls (rate-scale 60): {calls:?}");
        println!(
            "insight.sync_{label}.wall_s / floor_s ({how}): {:.1} / {:.1} = {:.2} (target <= 1.3)",
            run.wall.as_secs_f64(),
            floor.as_secs_f64(),
            run.wall.as_secs_f64() / floor.as_secs_f64()
        );
        println!(
            "insight.sync_{label}.http_429_share: {:.4} ({limited} of {})",
            limited as f64 / (total + limited).max(1) as f64,
            total + limited
        );
        let replies = calls.get("conversations.replies").copied().unwrap_or(0);
        let expected = if label == "first" { threads } else { 0 };
        println!(
            "insight.sync_{label}.replies_calls vs threads_with_new_replies: {replies} vs {expected} (threads_fetched={})",
            run.figure("threads_fetched")
        );
    }
    Ok(())
}

/// Part 2: events/s into a fresh database with rate limits off.
fn ingest(root: &Path, ws_path: &Path) -> anyhow::Result<()> {
    let dir = root.join("ingest");
    std::fs::create_dir_all(&dir)?;
    let ws = Workspace::load(ws_path)?;
    let config = write_config(&dir, Some(&ws))?;
    drop(ws);
    let ws_arg = ws_path.display().to_string();
    let sim = sim::start(
        &["--workspace", &ws_arg, "--token", TOKEN],
        &dir.join("sim.jsonl"),
    )?;
    let run = run_sync(&sim.base_url, &dir, &config, "0")?;
    let events = run.figure("events");
    let lite_rate = events as f64 / run.wall.as_secs_f64();
    println!("insight.ingest.summary (limits off): {}", run.summary);
    println!(
        "insight.ingest.events_per_s (limits off, fresh database, whole sync incl. snapshots): {lite_rate:.0} ({events} events in {:.1}s)",
        run.wall.as_secs_f64()
    );
    if let Some(server) = pg_server() {
        // Alternating runs into fresh databases, best of each: one sync of either can be slowed
        // by whatever else the machine runs.
        let mut lite_walls = vec![run.wall.as_secs_f64()];
        let mut pg_walls = Vec::new();
        let mut pg_events = 0;
        for round in 0..2 {
            let url = fresh_pg(&server)?;
            let pg = run_sync_into(
                &sim.base_url,
                &dir,
                std::ffi::OsStr::new(&url),
                &dir.join(format!("out-pg{round}")),
                &config,
                "0",
            )?;
            pg_events = pg.figure("events");
            pg_walls.push(pg.wall.as_secs_f64());
            let again = dir.join(format!("again{round}"));
            std::fs::create_dir_all(&again)?;
            lite_walls.push(
                run_sync(&sim.base_url, &again, &config, "0")?
                    .wall
                    .as_secs_f64(),
            );
        }
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (lite_rate, pg_rate) = (
            events as f64 / best(&lite_walls),
            pg_events as f64 / best(&pg_walls),
        );
        println!(
            "insight.ingest.postgres.events_per_s (the same sync into a fresh PostgreSQL database, best of {pg_walls:.1?} s): {pg_rate:.0}; sqlite best of {lite_walls:.1?} s: {lite_rate:.0}"
        );
        println!(
            "insight.ingest.sqlite/postgres events/s (goal <= 1.5): {:.2}",
            lite_rate / pg_rate
        );
        drop_pg(&server)?;
    }
    Ok(())
}

/// Name of the database the PostgreSQL side creates (and drops) on `INSIGHT_BENCH_PG`'s server.
const PG_BENCH_DB: &str = "slack_tools_bench_insight";

/// `INSIGHT_BENCH_PG`: a PostgreSQL server (any database on it) for the side-by-side figures.
fn pg_server() -> Option<String> {
    std::env::var("INSIGHT_BENCH_PG")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Runs one statement outside a transaction on the server's own database.
fn pg_admin(server: &str, sql: String) -> anyhow::Result<()> {
    let target = store::db::pg::PgTarget::parse(server)?;
    let conn = target.connect()?;
    conn.with_client(move |c| c.batch_execute(&sql))?
        .map_err(|e| anyhow::anyhow!(store::db::pg::describe(&e)))
}

/// A fresh, migrated [`PG_BENCH_DB`]; its URL.
fn fresh_pg(server: &str) -> anyhow::Result<String> {
    drop_pg_now(server)?;
    pg_admin(server, format!("CREATE DATABASE {PG_BENCH_DB}"))?;
    let url = store::test_db::with_dbname(server, PG_BENCH_DB);
    Store::open(Path::new(&url))?;
    Ok(url)
}

/// Drops [`PG_BENCH_DB`], unless `INSIGHT_BENCH_DIR` asks to keep what the run made (then the
/// next run replaces it).
fn drop_pg(server: &str) -> anyhow::Result<()> {
    if std::env::var_os("INSIGHT_BENCH_DIR").is_some() {
        return Ok(());
    }
    drop_pg_now(server)
}

fn drop_pg_now(server: &str) -> anyhow::Result<()> {
    pg_admin(
        server,
        format!("DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"),
    )
}

/// Copies every insight table of the SQLite file `lite` into the Postgres database `url` with
/// COPY (a reader thread streams SQLite's rows as COPY text), then VACUUM ANALYZE, as autovacuum
/// would have run after a sync wrote them.
fn copy_to_postgres(lite: &Path, url: &str) -> anyhow::Result<()> {
    use store::rusqlite::types::ValueRef;
    let store = Store::open(Path::new(url))?;
    let pg = store.db().as_postgres().context("a PostgreSQL store")?;
    // Parents before children (the list is children first).
    for table in store::insight::INSIGHT_TABLES.iter().rev() {
        let lite_conn = store::rusqlite::Connection::open(lite)?;
        let cols: Vec<String> = {
            let mut stmt =
                lite_conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let list = cols.join(", ");
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let select = format!("SELECT {list} FROM {table}");
        let reader = std::thread::spawn(move || -> anyhow::Result<()> {
            let mut stmt = lite_conn.prepare(&select)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            let mut buf = Vec::with_capacity(1 << 20);
            while let Some(r) = rows.next()? {
                for i in 0..n {
                    if i > 0 {
                        buf.push(b'\t');
                    }
                    match r.get_ref(i)? {
                        ValueRef::Null => buf.extend_from_slice(b"\\N"),
                        ValueRef::Integer(v) => write!(buf, "{v}")?,
                        ValueRef::Real(v) => write!(buf, "{v}")?,
                        ValueRef::Text(t) => {
                            for &b in t {
                                match b {
                                    b'\\' => buf.extend_from_slice(b"\\\\"),
                                    b'\t' => buf.extend_from_slice(b"\\t"),
                                    b'\n' => buf.extend_from_slice(b"\\n"),
                                    b'\r' => buf.extend_from_slice(b"\\r"),
                                    _ => buf.push(b),
                                }
                            }
                        }
                        ValueRef::Blob(_) => bail!("a blob in {select}"),
                    }
                }
                buf.push(b'\n');
                if buf.len() >= 1 << 20 {
                    if tx.send(std::mem::take(&mut buf)).is_err() {
                        return Ok(()); // the writer failed; its error is reported
                    }
                    buf.reserve(1 << 20);
                }
            }
            let _ = tx.send(buf);
            Ok(())
        });
        let copy = format!("COPY {table} ({list}) FROM STDIN");
        let written = pg.with_client(move |c| -> Result<u64, String> {
            let mut w = c.copy_in(&copy).map_err(|e| store::db::pg::describe(&e))?;
            for chunk in rx {
                w.write_all(&chunk).map_err(|e| e.to_string())?;
            }
            w.finish().map_err(|e| store::db::pg::describe(&e))
        })?;
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the SQLite reader of {table} panicked"))??;
        written.map_err(|e| anyhow::anyhow!("COPY {table}: {e}"))?;
    }
    // Autovacuum does this after a sync's writes; right after COPY the first reader would
    // otherwise pay for setting every row's hint bits, and no index-only scan could be used.
    store.db().execute_batch("VACUUM ANALYZE")?;
    Ok(())
}

/// Days of the generated report database, and its event count unless `INSIGHT_BENCH_EVENTS` says.
const REPORT_DAYS: i64 = 90;
const REPORT_EVENTS: u64 = 10_000_000;
pub const DEPARTMENTS: &[&str] = &[
    "engineering",
    "sales",
    "marketing",
    "support",
    "product",
    "finance",
    "people",
    "legal",
];
const EMOJI: &[&str] = &["+1", "eyes", "tada", "heart", "rocket", "fire", "pray"];

/// What the generator wrote.
pub(crate) struct Generated {
    pub events: u64,
    members: u64,
    user_channel_days: u64,
    pub since: Date,
    pub until: Date,
}

/// One generated message of a channel-day.
struct Msg {
    ts: String,
    at_us: i64,
    hour: u8,
    user: usize,
    /// Index of the parent post for a reply.
    parent: Option<usize>,
}

/// One event row, in the store's shape.
struct Row {
    ts: String,
    kind: u8,
    user: usize,
    emoji: &'static str,
    at_us: i64,
    hour: u8,
    thread_ts: Option<String>,
}

fn user_id(i: usize) -> String {
    format!("U0B{i:08}")
}

/// Writes a 90-day insight database of about `target` events straight into the store's tables:
/// one transaction, prepared statements, rows in primary-key order, secondary indexes dropped
/// during the load and recreated after from their own `CREATE INDEX` text (so the schema ends up
/// exactly as the migration made it). The aggregates are computed here from the same rows, the
/// way the sync's rebuild would: one snapshot per channel per day (a daily sync).
pub(crate) fn generate_db(path: &Path, target: u64) -> anyhow::Result<Generated> {
    let mut store = Store::open(path)?;
    let conn = store.conn_mut();
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -1000000; PRAGMA temp_store = MEMORY;",
    )?;
    let indexes: Vec<(String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
             AND tbl_name LIKE 'insight_%'",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {name}"))?;
    }
    let until = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()?;
    let since = until.checked_sub(jiff::Span::new().days(REPORT_DAYS - 1))?;
    let day_start: Vec<i64> = (0..REPORT_DAYS)
        .map(|d| {
            let day = since.checked_add(jiff::Span::new().days(d))?;
            Ok(day
                .to_zoned(jiff::tz::TimeZone::UTC)?
                .timestamp()
                .as_second())
        })
        .collect::<anyhow::Result<_>>()?;
    let day_text: Vec<String> = (0..REPORT_DAYS)
        .map(|d| Ok(since.checked_add(jiff::Span::new().days(d))?.to_string()))
        .collect::<anyhow::Result<_>>()?;
    let users: Vec<String> = (0..USERS).map(user_id).collect();
    let channels: Vec<String> = (0..CHANNELS).map(|c| format!("C0B{c:08}")).collect();
    let mut rng = fastrand::Rng::with_seed(11);

    let tx = conn.transaction()?;
    let mut stats = Generated {
        events: 0,
        members: 0,
        user_channel_days: 0,
        since,
        until,
    };
    {
        let mut ins = tx.prepare(
            "INSERT INTO insight_users (user_id, name, display_name, department, deleted, is_bot)
             VALUES (?1, ?2, ?3, ?4, 0, 0)",
        )?;
        for (i, id) in users.iter().enumerate() {
            let dept = (i % 10 != 9).then(|| DEPARTMENTS[i % DEPARTMENTS.len()]);
            ins.execute(params![id, format!("user{i}"), format!("User {i}"), dept])?;
        }
        let mut ins = tx.prepare(
            "INSERT INTO insight_channels (channel_id, name, is_private, is_archived, newest_ts, oldest_synced_us)
             VALUES (?1, ?2, ?3, 0, NULL, ?4)",
        )?;
        for (c, id) in channels.iter().enumerate() {
            ins.execute(params![
                id,
                format!("chan-{c}"),
                c % 7 == 0,
                day_start[0] * 1_000_000
            ])?;
        }
    }
    // Members per channel (10..80, sorted by ID), each with the day they joined: most were there
    // from the start, a fifth joined during the period (so membership shares are not all 1).
    let membership: Vec<Vec<(usize, i64)>> = (0..CHANNELS)
        .map(|_| {
            let size = 10 + rng.usize(0..70);
            let mut picked = HashSet::new();
            while picked.len() < size {
                picked.insert(rng.usize(0..USERS));
            }
            let mut m: Vec<(usize, i64)> = picked
                .into_iter()
                .map(|u| {
                    let joined = if rng.f64() < 0.2 {
                        rng.i64(0..REPORT_DAYS)
                    } else {
                        0
                    };
                    (u, joined)
                })
                .collect();
            m.sort_unstable();
            m
        })
        .collect();
    {
        let mut snap = tx.prepare(
            "INSERT INTO insight_member_snapshots (run_id, channel_id, taken_us) VALUES (?1, ?2, ?3)",
        )?;
        let mut mem = tx.prepare(
            "INSERT INTO insight_members (run_id, channel_id, user_id) VALUES (?1, ?2, ?3)",
        )?;
        for d in 0..REPORT_DAYS {
            let run = d + 1;
            for (c, id) in channels.iter().enumerate() {
                snap.execute(params![
                    run,
                    id,
                    (day_start[d as usize] + 12 * 3600) * 1_000_000
                ])?;
                for (u, joined) in &membership[c] {
                    if *joined <= d {
                        mem.execute(params![run, id, users[*u]])?;
                        stats.members += 1;
                    }
                }
            }
        }
    }
    // Channel activity is skewed: a few busy channels, many quiet ones.
    let weights: Vec<f64> = (0..CHANNELS).map(|_| rng.f64().powi(3) + 0.02).collect();
    let total_w: f64 = weights.iter().sum();
    {
        let mut ev = tx.prepare(
            "INSERT INTO insight_events (channel_id, ts, kind, user_id, emoji, at_us, day, hour, thread_ts, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)",
        )?;
        let mut th = tx.prepare(
            "INSERT INTO insight_threads (channel_id, thread_ts, latest_reply, day, latency_s)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut duc = tx.prepare(
            "INSERT INTO insight_daily_user_channel (day, channel_id, user_id, posts, replies, reactions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut dc = tx.prepare(
            "INSERT INTO insight_daily_channel (day, channel_id, active_members, posts, replies, reactions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut duh = tx.prepare(
            "INSERT INTO insight_daily_user_hour (channel_id, day, user_id, hour, events)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut aw = tx.prepare(
            "INSERT INTO insight_active_windows (channel_id, day, user_id, first_us, last_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (c, channel) in channels.iter().enumerate() {
            let per_day = target as f64 / REPORT_DAYS as f64 * weights[c] / total_w;
            for d in 0..REPORT_DAYS as usize {
                let present: Vec<usize> = membership[c]
                    .iter()
                    .filter(|(_, j)| *j <= d as i64)
                    .map(|(u, _)| *u)
                    .collect();
                if present.is_empty() {
                    continue;
                }
                let count = (per_day * (0.5 + rng.f64())).round() as usize;
                let rows = channel_day(&mut rng, &present, day_start[d], count);
                let day = &day_text[d];
                // Aggregates of the day, as the sync's rebuild computes them from the events.
                let mut per_user: BTreeMap<usize, [i64; 3]> = BTreeMap::new();
                let mut per_hour: BTreeMap<(usize, u8), i64> = BTreeMap::new();
                let mut window: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
                for r in &rows {
                    ev.execute(params![
                        channel,
                        r.ts,
                        r.kind,
                        users[r.user],
                        r.emoji,
                        r.at_us,
                        day,
                        r.hour,
                        r.thread_ts
                    ])?;
                    per_user.entry(r.user).or_default()[r.kind as usize] += 1;
                    if r.kind < 2 {
                        *per_hour.entry((r.user, r.hour)).or_default() += 1;
                        let w = window.entry(r.user).or_insert((r.at_us, r.at_us));
                        w.0 = w.0.min(r.at_us);
                        w.1 = w.1.max(r.at_us);
                    }
                }
                stats.events += rows.len() as u64;
                for t in threads_of(&rows) {
                    th.execute(params![channel, t.0, t.1, day, t.2])?;
                }
                let mut sums = [0i64; 3];
                for (u, k) in &per_user {
                    duc.execute(params![day, channel, users[*u], k[0], k[1], k[2]])?;
                    for (s, v) in sums.iter_mut().zip(k) {
                        *s += v;
                    }
                }
                stats.user_channel_days += per_user.len() as u64;
                if !per_user.is_empty() {
                    dc.execute(params![
                        day,
                        channel,
                        per_user.len() as i64,
                        sums[0],
                        sums[1],
                        sums[2]
                    ])?;
                }
                for ((u, h), n) in &per_hour {
                    duh.execute(params![channel, day, users[*u], h, n])?;
                }
                for (u, (first, last)) in &window {
                    aw.execute(params![channel, day, users[*u], first, last])?;
                }
            }
        }
    }
    tx.commit()?;
    for (_, sql) in &indexes {
        conn.execute_batch(sql)?;
    }
    drop(store);
    Ok(stats)
}

/// The events of one channel-day: about 55% posts, 20% replies (to an earlier post of the day),
/// 25% reactions (on one of the day's messages), sorted in primary-key order.
fn channel_day(rng: &mut fastrand::Rng, present: &[usize], start_s: i64, count: usize) -> Vec<Row> {
    // A few people write most of a channel's messages.
    let pick =
        |rng: &mut fastrand::Rng| present[(rng.f64().powi(2) * present.len() as f64) as usize];
    let n_msgs = (count * 3).div_ceil(4);
    let mut times: Vec<i64> = {
        let mut seen = HashSet::new();
        while seen.len() < n_msgs {
            seen.insert(start_s * 1_000_000 + rng.i64(7 * 3_600_000_000..19 * 3_600_000_000));
        }
        seen.into_iter().collect()
    };
    times.sort_unstable();
    let mut msgs: Vec<Msg> = Vec::with_capacity(n_msgs);
    let mut posts: Vec<usize> = Vec::new();
    for at_us in times {
        let parent =
            (!posts.is_empty() && rng.f64() < 0.27).then(|| posts[rng.usize(0..posts.len())]);
        if parent.is_none() {
            posts.push(msgs.len());
        }
        msgs.push(Msg {
            ts: format!("{}.{:06}", at_us / 1_000_000, at_us % 1_000_000),
            at_us,
            hour: ((at_us / 1_000_000 - start_s) / 3600) as u8,
            user: pick(rng),
            parent,
        });
    }
    let mut rows: Vec<Row> = msgs
        .iter()
        .map(|m| Row {
            ts: m.ts.clone(),
            kind: u8::from(m.parent.is_some()),
            user: m.user,
            emoji: "",
            at_us: m.at_us,
            hour: m.hour,
            thread_ts: m.parent.map(|p| msgs[p].ts.clone()),
        })
        .collect();
    let mut reacted = HashSet::new();
    for _ in n_msgs..count {
        if msgs.is_empty() {
            break;
        }
        // A taken (message, person, emoji) is drawn again a few times, then skipped.
        for _ in 0..4 {
            let (m, u, e) = (
                rng.usize(0..msgs.len()),
                pick(rng),
                rng.usize(0..EMOJI.len()),
            );
            if reacted.insert((m, u, e)) {
                let msg = &msgs[m];
                rows.push(Row {
                    ts: msg.ts.clone(),
                    kind: 2,
                    user: u,
                    emoji: EMOJI[e],
                    at_us: msg.at_us,
                    hour: msg.hour,
                    thread_ts: msg.parent.map(|p| msgs[p].ts.clone()),
                });
                break;
            }
        }
    }
    rows.sort_by(|a, b| (&a.ts, a.kind, a.user, a.emoji).cmp(&(&b.ts, b.kind, b.user, b.emoji)));
    rows
}

/// (thread_ts, latest_reply, latency to the first reply by someone else) of a day's threads.
fn threads_of(rows: &[Row]) -> Vec<(String, String, Option<f64>)> {
    let parents: HashMap<&str, (i64, usize)> = rows
        .iter()
        .filter(|r| r.kind == 0)
        .map(|r| (r.ts.as_str(), (r.at_us, r.user)))
        .collect();
    let mut threads: BTreeMap<&str, (String, Option<f64>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == 1) {
        let Some(parent) = r.thread_ts.as_deref() else {
            continue;
        };
        let (p_us, p_user) = parents[parent];
        let t = threads.entry(parent).or_insert((r.ts.clone(), None));
        if r.ts > t.0 {
            t.0 = r.ts.clone();
        }
        if r.user != p_user {
            let lat = (r.at_us - p_us) as f64 / 1e6;
            t.1 = Some(t.1.map_or(lat, |l: f64| l.min(lat)));
        }
    }
    threads
        .into_iter()
        .map(|(ts, (latest, lat))| (ts.to_string(), latest, lat))
        .collect()
}

/// Writes each table DuckDB needs as CSV (for events only the columns the aggregation reads).
fn export_csv(db: &Path, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let store = Store::open(db)?;
    for (name, sql) in [
        (
            "users",
            "SELECT user_id, name, display_name, department FROM insight_users",
        ),
        (
            "channels",
            "SELECT channel_id, name, is_private FROM insight_channels",
        ),
        (
            "member_snapshots",
            "SELECT run_id, channel_id, taken_us FROM insight_member_snapshots",
        ),
        (
            "members",
            "SELECT run_id, channel_id, user_id FROM insight_members",
        ),
        (
            "threads",
            "SELECT channel_id, thread_ts, day, latency_s FROM insight_threads",
        ),
        (
            "daily_user_channel",
            "SELECT day, channel_id, user_id, posts, replies, reactions FROM insight_daily_user_channel",
        ),
        (
            "daily_channel",
            "SELECT day, channel_id, active_members, posts, replies, reactions FROM insight_daily_channel",
        ),
        (
            "daily_user_hour",
            "SELECT channel_id, day, user_id, hour, events FROM insight_daily_user_hour",
        ),
        (
            "active_windows",
            "SELECT channel_id, day, user_id, first_us, last_us FROM insight_active_windows",
        ),
        (
            "events",
            "SELECT channel_id, user_id, kind, day, hour, at_us FROM insight_events",
        ),
    ] {
        let mut w = csv::Writer::from_path(dir.join(format!("{name}.csv")))?;
        let mut stmt = store.conn().prepare(sql)?;
        let cols: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        w.write_record(&cols)?;
        let mut rows = stmt.query([])?;
        let mut rec: Vec<String> = Vec::with_capacity(cols.len());
        while let Some(r) = rows.next()? {
            rec.clear();
            for i in 0..cols.len() {
                rec.push(match r.get_ref(i)? {
                    store::rusqlite::types::ValueRef::Null => String::new(),
                    store::rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    store::rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    store::rusqlite::types::ValueRef::Text(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    store::rusqlite::types::ValueRef::Blob(_) => bail!("unexpected blob in {name}"),
                });
            }
            w.write_record(&rec)?;
        }
        w.flush()?;
    }
    Ok(())
}

/// Sum of (rows, posts, replies, reactions) of a user_channel_metrics.csv, to check both sides
/// computed the same thing.
fn user_channel_totals(path: &Path) -> anyhow::Result<[u64; 4]> {
    let mut r = csv::Reader::from_path(path)?;
    let headers = r.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no {name} column", path.display()))
    };
    let (p, re, x) = (col("posts")?, col("replies")?, col("reactions")?);
    let mut t = [0u64; 4];
    for rec in r.records() {
        let rec = rec?;
        t[0] += 1;
        for (slot, i) in [(1, p), (2, re), (3, x)] {
            t[slot] += rec.get(i).unwrap_or("0").parse::<u64>().unwrap_or(0);
        }
    }
    Ok(t)
}

/// Whether two report directories hold the same CSV files with the same bytes.
fn same_csvs(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let list = |d: &Path| -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut m = BTreeMap::new();
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "csv") {
                m.insert(
                    p.display()
                        .to_string()
                        .replace(&d.display().to_string(), ""),
                    std::fs::read(&p)?,
                );
            }
        }
        Ok(m)
    };
    Ok(list(a)? == list(b)?)
}

/// Part 3: insight-report over the full 90 days against DuckDB over the same rows.
fn report_vs_duckdb(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("report");
    std::fs::create_dir_all(&dir)?;
    let target = std::env::var("INSIGHT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(REPORT_EVENTS);
    let db = dir.join("insight.db");
    for stale in ["insight.db", "insight.db-wal", "insight.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let started = Instant::now();
    let g = generate_db(&db, target)?;
    let gen_s = started.elapsed().as_secs_f64();
    println!(
        "insight.report_db: {} events over {REPORT_DAYS} days ({} to {}), {USERS} users, {CHANNELS} channels, {} membership rows (a snapshot per channel per day), {} user-channel-days; generated in {gen_s:.0}s",
        g.events, g.since, g.until, g.members, g.user_channel_days
    );
    let config = write_config(&dir, None)?;
    let (since, until) = (g.since.to_string(), g.until.to_string());

    let ours_out = dir.join("ours");
    let started = Instant::now();
    let out = Command::new(sim::bin_dir().join("insight-report"))
        .args(["--quiet", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&ours_out)
        .args(["--since", &since, "--until", &until, "--format", "csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .context("running insight-report")?;
    let ours = started.elapsed().as_secs_f64();
    anyhow::ensure!(out.success(), "insight-report failed ({out})");
    println!("insight.report.ours_s (insight-report process, full range, csv): {ours:.2}");

    if let Some(server) = pg_server() {
        let url = fresh_pg(&server)?;
        let started = Instant::now();
        copy_to_postgres(&db, &url)?;
        println!(
            "insight.report.postgres_fill_s (the same rows copied from the SQLite file, then VACUUM ANALYZE): {:.0}",
            started.elapsed().as_secs_f64()
        );
        // Alternating runs, best of each: on a shared machine one run of either can be slowed
        // by whatever else runs (the fill's own checkpoint included).
        let report = |db: &std::ffi::OsStr, out: &Path| -> anyhow::Result<f64> {
            let started = Instant::now();
            let status = Command::new(sim::bin_dir().join("insight-report"))
                .args(["--quiet", "--config"])
                .arg(&config)
                .arg("--db")
                .arg(db)
                .arg("--out")
                .arg(out)
                .args(["--since", &since, "--until", &until, "--format", "csv"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context("running insight-report")?;
            anyhow::ensure!(status.success(), "insight-report failed ({status})");
            Ok(started.elapsed().as_secs_f64())
        };
        let pg_out = dir.join("ours-pg");
        let (mut lite_runs, mut pg_runs) = (vec![ours], Vec::new());
        for _ in 0..3 {
            pg_runs.push(report(std::ffi::OsStr::new(&url), &pg_out)?);
            lite_runs.push(report(db.as_os_str(), &dir.join("ours-again"))?);
        }
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (lite_s, pg_s) = (best(&lite_runs), best(&pg_runs));
        let same = same_csvs(&ours_out, &pg_out)?;
        println!(
            "insight.report.postgres_s (the same report on PostgreSQL, best of {:.2?}): {pg_s:.2}; sqlite best of {:.2?}: {lite_s:.2}; postgres/sqlite (goal <= 1.5): {:.2}; CSV files {}",
            pg_runs,
            lite_runs,
            pg_s / lite_s,
            if same { "byte-identical" } else { "DIFFER" }
        );
        drop_pg(&server)?;
    }
    if std::env::var("INSIGHT_BENCH_DUCKDB").is_ok_and(|v| v == "0") {
        std::io::stdout().flush()?;
        return Ok(());
    }

    let csv_dir = dir.join("csv");
    let started = Instant::now();
    export_csv(&db, &csv_dir)?;
    let export_s = started.elapsed().as_secs_f64();
    let duck_out = dir.join("duckdb");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/insight_duckdb.py");
    let py = Command::new("python3")
        .arg(&script)
        .arg(&csv_dir)
        .arg(&duck_out)
        .args([&since, &until])
        .stderr(Stdio::inherit())
        .output()
        .context("running scripts/insight_duckdb.py (pip install duckdb)")?;
    anyhow::ensure!(
        py.status.success(),
        "insight_duckdb.py failed ({})",
        py.status
    );
    let res: serde_json::Value = serde_json::from_slice(&py.stdout).with_context(|| {
        format!(
            "insight_duckdb.py printed {:?}",
            String::from_utf8_lossy(&py.stdout)
        )
    })?;
    let agg = res["aggregates_s"].as_f64().context("aggregates_s")?;
    let raw = res["raw_events_s"].as_f64().context("raw_events_s")?;
    let ours_t = user_channel_totals(&ours_out.join("user_channel_metrics.csv"))?;
    let duck_t = user_channel_totals(&duck_out.join("aggregates/user_channel_metrics.csv"))?;
    let raw_t = user_channel_totals(&duck_out.join("raw/user_channel_metrics.csv"))?;
    println!(
        "insight.report.duckdb_s (same tables insight-report reads, in memory, {} threads; load from CSV {:.1}s and SQLite->CSV export {export_s:.1}s not counted): {agg:.2}",
        res["threads"],
        res["load_s"].as_f64().unwrap_or(0.0)
    );
    println!("insight.report.ours/duckdb (target < 2): {:.2}", ours / agg);
    println!(
        "insight.report.duckdb_from_raw_events_s (the same tables aggregated from the {} events first): {raw:.2}; ours/that: {:.2}",
        g.events,
        ours / raw
    );
    println!(
        "insight.report.check user_channel rows/posts/replies/reactions: ours {ours_t:?}, duckdb {duck_t:?}, duckdb-from-events {raw_t:?} ({})",
        if ours_t == duck_t && duck_t == raw_t {
            "match"
        } else {
            "MISMATCH"
        }
    );
    std::io::stdout().flush()?;
    Ok(())
}
