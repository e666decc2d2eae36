//! One sync: users, channels in scope, a membership snapshot per channel, the window's messages,
//! replies of threads whose `latest_reply` moved, and reactions, written per channel in one
//! transaction; then retention.
//!
//! Channels are fetched concurrently (each Slack method has its own rate budget, so history,
//! replies and members calls overlap) and written one at a time by this task, which owns the
//! store. Privacy rules are applied here, before anything reaches the store or a snapshot.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::TryStreamExt;
use insight::InsightConfig;
use insight::time::{local_day_hour, ts_to_us};
use jiff::Timestamp;
use roster::{Identity, Platform, PlatformUser, UserIndex};
use serde_json::{Value, json};
use slack_client::{Conversation, ListConversations, Message, SlackClient, TimeRange, User};
use store::Store;
use store::insight::{
    ChannelBatch, ChannelSyncState, EventKind, InsightChannel, InsightEvent, InsightUser, ThreadRow,
};

use crate::snapshot;

/// Channels fetched at once.
const CONCURRENCY: usize = 8;

/// Everything that can stop a sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// `db` is the path or the URL without its password; `lock` says which lock (a file, or an
    /// advisory lock in the Postgres database).
    #[error("another insight-sync is running on {db} ({lock})")]
    Locked { db: String, lock: String },
    #[error("cannot use the lock file {}: {source}", path.display())]
    LockIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("Slack: {0}")]
    Slack(#[from] slack_client::Error),
    #[error("cannot write snapshot files under {}: {source}", path.display())]
    Snapshot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] roster::ConfigError),
    #[error("an internal task stopped: {0}")]
    Task(String),
    #[error(
        "opt_out_users entry {entry:?} matches no Slack user, so that person would be collected"
    )]
    OptOutUnmatched {
        entry: String,
        /// users.list carried no email at all (the token lacks `users:read.email`).
        emails_hidden: bool,
        suggestions: Vec<String>,
    },
    #[error("departments come from team.json, but {} cannot be read: {source}", path.display())]
    TeamFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SyncError {
    /// What to do about it, for the errors whose fix is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            SyncError::OptOutUnmatched {
                entry,
                emails_hidden,
                suggestions,
            } => {
                let mut hint = String::new();
                if *emails_hidden && entry.contains('@') {
                    hint.push_str(
                        "Slack sent no email addresses (the token lacks the users:read.email scope), \
                         so an email cannot be matched; ",
                    );
                }
                hint.push_str(
                    "put the person's Slack user ID (U..., in Slack: their profile > More > Copy member ID) \
                     in insight.json's opt_out_users: IDs never change, unlike names and emails",
                );
                if !suggestions.is_empty() {
                    hint.push_str(&format!("; close matches: {}", suggestions.join(", ")));
                }
                Some(hint)
            }
            _ => None,
        }
    }

    /// Whether the configuration is at fault (exit 2) rather than the run.
    pub fn is_usage(&self) -> bool {
        matches!(self, SyncError::OptOutUnmatched { .. })
    }
}

/// What a sync is asked to do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub db: PathBuf,
    /// Root of the raw snapshots (`--out`).
    pub out: PathBuf,
    /// The config directory (for `team.json` when departments come from it).
    pub config_dir: PathBuf,
    /// Backfill from here instead of the rolling window.
    pub since: Option<Timestamp>,
    /// Delete the data of channels that left the scope now, not after `unscoped_grace_days`.
    pub prune_unscoped: bool,
}

/// What a sync did; printed as the cron summary line (or, with `--json`, as one JSON object
/// with these field names).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncSummary {
    pub run_id: i64,
    pub users: usize,
    pub opted_out_users: usize,
    /// Opted-out people found stored by earlier syncs, erased in this one.
    pub purged_users: usize,
    pub channels: usize,
    pub failed_channels: Vec<String>,
    /// Channels deleted at once: opted out, or a private channel whose opt-in was revoked.
    pub removed_channels: usize,
    /// Channels out of scope for another reason, kept until `unscoped_grace_days` pass.
    pub unscoped_kept: usize,
    /// Channels out of scope whose grace period passed (or `--prune-unscoped`), deleted.
    pub unscoped_pruned: usize,
    pub events: u64,
    pub threads_fetched: u64,
    pub requests: u64,
    pub http_429: u64,
    pub pruned_rows: usize,
    pub pruned_files: usize,
    pub seconds: f64,
}

impl std::fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "insight-sync: {} run={} users={} opted_out={} purged_users={} channels={} failed={} removed={} unscoped_kept={} unscoped_pruned={} events={} threads_fetched={} requests={} 429s={} pruned_rows={} pruned_files={} seconds={:.1}",
            if self.failed_channels.is_empty() {
                "ok"
            } else {
                "partial"
            },
            self.run_id,
            self.users,
            self.opted_out_users,
            self.purged_users,
            self.channels,
            self.failed_channels.len(),
            self.removed_channels,
            self.unscoped_kept,
            self.unscoped_pruned,
            self.events,
            self.threads_fetched,
            self.requests,
            self.http_429,
            self.pruned_rows,
            self.pruned_files,
            self.seconds
        )
    }
}

/// The advisory lock key of insight-sync in a Postgres database ("insight" in ASCII). Advisory
/// locks are per database, so syncs into different databases on one server never meet.
pub const PG_LOCK_KEY: i64 = 0x0069_6e73_6967_6874;

/// The sync lock, held for the life of the value: an exclusive lock on `<db>.insight-lock` for a
/// SQLite file, a session advisory lock for a Postgres database (so syncs on different hosts are
/// kept apart too). The OS or the server releases it when the process dies, so a killed sync
/// never blocks the next one.
#[derive(Debug)]
pub struct SyncLock {
    _held: Held,
}

enum Held {
    File(std::fs::File),
    /// The connection whose session holds the advisory lock; closing it releases the lock.
    Postgres(store::db::pg::PgConn),
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::File(file) => f.debug_tuple("File").field(file).finish(),
            Held::Postgres(c) => f.debug_tuple("Postgres").field(&c.shown()).finish(),
        }
    }
}

/// Takes the sync lock of `db` (a path or a Postgres URL) or fails at once if another sync holds
/// it.
pub fn lock(db: &Path) -> Result<SyncLock, SyncError> {
    if let store::Location::Postgres(target) = store::Location::parse(db)? {
        return lock_postgres(&target);
    }
    let path = PathBuf::from(format!("{}.insight-lock", db.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_files::create_dir_all(dir).map_err(|source| SyncError::LockIo {
            path: path.clone(),
            source,
        })?;
    }
    let file = private_files::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SyncError::LockIo {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(SyncLock {
            _held: Held::File(file),
        }),
        Err(std::fs::TryLockError::WouldBlock) => Err(SyncError::Locked {
            db: db.display().to_string(),
            lock: format!("lock file {}", path.display()),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(SyncError::LockIo { path, source }),
    }
}

/// The Postgres side of [`lock`]: `pg_try_advisory_lock` on a connection of the lock's own, held
/// open for the run (another host's sync sees it; the server drops it with the session).
fn lock_postgres(target: &store::db::pg::PgTarget) -> Result<SyncLock, SyncError> {
    let conn = target.connect().map_err(store::StoreError::from)?;
    let got = conn
        .with_client(|c| {
            c.query_one("SELECT pg_try_advisory_lock($1)", &[&PG_LOCK_KEY])
                .and_then(|r| r.try_get::<_, bool>(0))
        })
        .map_err(store::StoreError::from)?
        .map_err(|e| store::StoreError::from(store::db::DbError::from(e)))?;
    if !got {
        return Err(SyncError::Locked {
            db: target.shown().to_string(),
            lock: format!("advisory lock {PG_LOCK_KEY} in that database"),
        });
    }
    Ok(SyncLock {
        _held: Held::Postgres(conn),
    })
}

/// The IDs of the opted-out users. An identifier matching several users opts all of them out:
/// with privacy, erring on the side of collecting less is the safe mistake. An identifier matching
/// nobody stops the sync (a typo would otherwise collect someone who asked not to be), unless it
/// is the ID of a person the store still holds (gone from Slack, so purged now).
pub fn opted_out(
    cfg: &InsightConfig,
    index: &UserIndex,
    emails_hidden: bool,
    store: &Store,
) -> Result<HashSet<String>, SyncError> {
    let mut out = HashSet::new();
    for ident in &cfg.opt_out_users {
        match index.lookup(ident) {
            Identity::One(id) => {
                out.insert(id);
            }
            Identity::Many(ids) => out.extend(ids),
            Identity::None { suggestions } => {
                let id = ident.trim().to_string();
                if store.insight_user_stored(&id)? {
                    out.insert(id);
                } else {
                    return Err(SyncError::OptOutUnmatched {
                        entry: ident.clone(),
                        emails_hidden,
                        suggestions,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `<@ID>` and `<@ID|label>` mentions of `drop` users become `<@redacted>`.
pub fn redact_mentions(text: &str, drop: &HashSet<String>) -> String {
    let mut out = text.to_string();
    for id in drop {
        let open = format!("<@{id}");
        let mut from = 0;
        while let Some(at) = out[from..].find(&open).map(|i| i + from) {
            let rest = &out[at + open.len()..];
            let end = match rest.chars().next() {
                Some('>') => Some(1),
                Some('|') => rest.find('>').map(|i| i + 1),
                _ => None,
            };
            match end {
                Some(len) => {
                    out.replace_range(at..at + open.len() + len, "<@redacted>");
                    from = at + "<@redacted>".len();
                }
                // `<@U12` inside `<@U123>`: another person.
                None => from = at + open.len(),
            }
        }
    }
    out
}

/// user ID -> department, from team.json or a profile field.
fn departments(
    cfg: &InsightConfig,
    config_dir: &Path,
    users: &[User],
    index: &UserIndex,
) -> Result<HashMap<String, String>, SyncError> {
    let mut out = HashMap::new();
    match cfg.departments.source.as_deref() {
        None => {}
        Some("team.json") => {
            let path = config_dir.join(roster::TEAM_FILE);
            let text = std::fs::read_to_string(&path).map_err(|source| SyncError::TeamFile {
                path: path.clone(),
                source,
            })?;
            let team = roster::parse_team(&text, &path)?;
            let resolution = roster::resolve_team(&team, Platform::Slack, index);
            // A member's own `department`, else `team` (what every member got before the key).
            for (id, dept) in team.departments_by_user_id(&resolution, Some("team")) {
                out.insert(id.to_string(), dept.to_string());
            }
        }
        Some(field) => {
            for u in users {
                if let Some(v) = u.raw["profile"][field].as_str().filter(|s| !s.is_empty()) {
                    out.insert(u.id.clone(), v.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// What was fetched for one channel.
struct Fetched {
    conv: Conversation,
    members: Vec<String>,
    history: Vec<Message>,
    /// thread ts -> replies (parent included, as Slack sends it).
    threads: Vec<(String, Vec<Message>)>,
}

async fn fetch_channel(
    client: SlackClient,
    conv: Conversation,
    oldest: String,
    known_threads: HashMap<String, String>,
) -> Result<Fetched, slack_client::Error> {
    let members = client.all_members(&conv.id).await?;
    let range = TimeRange {
        oldest: Some(oldest),
        latest: None,
        inclusive: true,
    };
    let history: Vec<Message> = client.history(&conv.id, range).try_concat().await?;
    let mut threads = Vec::new();
    // Only threads whose latest_reply moved since the last sync: most reply calls are saved here.
    for m in history.iter().filter(|m| m.is_thread_parent()) {
        let latest = m.latest_reply.clone().unwrap_or_default();
        if known_threads.get(&m.ts) == Some(&latest) {
            continue;
        }
        let replies: Vec<Message> = client
            .replies(&conv.id, &m.ts, TimeRange::default())
            .try_concat()
            .await?;
        threads.push((m.ts.clone(), replies));
    }
    Ok(Fetched {
        conv,
        members,
        history,
        threads,
    })
}

/// Whether a message is a person's post or reply (joins, bot posts and other system messages
/// are not interactions).
fn is_interaction(m: &Message) -> bool {
    m.user.is_some()
        && m.bot_id.is_none()
        && matches!(
            m.subtype.as_deref(),
            None | Some("thread_broadcast" | "file_share" | "me_message")
        )
}

struct Collected {
    events: Vec<InsightEvent>,
    refetched: Vec<String>,
    threads: Vec<ThreadRow>,
    newest_ts: Option<String>,
}

fn collect(
    f: &Fetched,
    known_threads: &HashMap<String, String>,
    drop: &HashSet<String>,
    cfg: &InsightConfig,
) -> Collected {
    let mut events = Vec::new();
    let mut refetched = Vec::new();
    let mut seen = HashSet::new();
    let mut push_message = |m: &Message, events: &mut Vec<InsightEvent>| {
        if !seen.insert(m.ts.clone()) {
            return;
        }
        let Some(at_us) = ts_to_us(&m.ts) else {
            return;
        };
        refetched.push(m.ts.clone());
        let (day, hour) = local_day_hour(at_us, &cfg.tz);
        let author_kept = m.user.as_ref().is_some_and(|u| !drop.contains(u));
        if is_interaction(m) && author_kept {
            events.push(InsightEvent {
                ts: m.ts.clone(),
                kind: if m.is_reply() {
                    EventKind::Reply
                } else {
                    EventKind::Post
                },
                user_id: m.user.clone().unwrap_or_default(),
                emoji: String::new(),
                at_us,
                day: day.clone(),
                hour,
                thread_ts: m.thread_ts.clone(),
                text: cfg.store_text.then(|| redact_mentions(&m.text, drop)),
            });
        }
        // Reactions count for the reactor, whoever wrote the message.
        for r in &m.reactions {
            for u in r.users.iter().filter(|u| !drop.contains(*u)) {
                events.push(InsightEvent {
                    ts: m.ts.clone(),
                    kind: EventKind::Reaction,
                    user_id: u.clone(),
                    emoji: r.name.clone(),
                    at_us,
                    day: day.clone(),
                    hour,
                    thread_ts: m.thread_ts.clone(),
                    text: None,
                });
            }
        }
    };
    for m in &f.history {
        push_message(m, &mut events);
    }
    let mut threads = Vec::new();
    let parents: HashMap<&str, &Message> = f.history.iter().map(|m| (m.ts.as_str(), m)).collect();
    for (thread_ts, replies) in &f.threads {
        for m in replies {
            push_message(m, &mut events);
        }
        let Some(parent) = parents.get(thread_ts.as_str()) else {
            continue;
        };
        let Some(parent_us) = ts_to_us(thread_ts) else {
            continue;
        };
        let first_other = replies
            .iter()
            .filter(|r| r.ts != *thread_ts && r.user.is_some() && r.user != parent.user)
            .filter(|r| r.user.as_ref().is_some_and(|u| !drop.contains(u)))
            .filter_map(|r| ts_to_us(&r.ts))
            .min();
        threads.push(ThreadRow {
            thread_ts: thread_ts.clone(),
            latest_reply: parent.latest_reply.clone().unwrap_or_default(),
            day: local_day_hour(parent_us, &cfg.tz).0,
            latency_s: first_other.map(|r| (r - parent_us) as f64 / 1e6),
        });
    }
    let _ = known_threads;
    let newest_ts = f
        .history
        .iter()
        .filter_map(|m| ts_to_us(&m.ts).map(|u| (u, &m.ts)))
        .max()
        .map(|(_, ts)| ts.clone());
    Collected {
        events,
        refetched,
        threads,
        newest_ts,
    }
}

/// Runs one sync. Holds the lock for its whole duration.
pub async fn sync(
    client: &SlackClient,
    cfg: &InsightConfig,
    opts: &SyncOptions,
) -> Result<SyncSummary, SyncError> {
    let started = Instant::now();
    let _lock = lock(&opts.db)?;
    let mut store = Store::open(&opts.db)?;
    let now = Timestamp::now();
    let now_text = store::format_time(now);

    // Who is opted out is settled before anything is written: an entry matching nobody stops here.
    let users = client.all_users().await?;
    let platform: Vec<PlatformUser> = users.iter().map(User::platform_user).collect();
    let index = UserIndex::new(&platform);
    let emails_hidden = platform.iter().all(|u| u.email.is_none());
    let drop = opted_out(cfg, &index, emails_hidden, &store)?;
    let depts = departments(cfg, &opts.config_dir, &users, &index)?;

    let run_id = store.insight_begin_run(&now_text)?;
    let mut summary = SyncSummary {
        run_id,
        ..SyncSummary::default()
    };
    let snap_day = local_day_hour(now.as_microsecond(), &jiff::tz::TimeZone::UTC).0;
    let snap_dir = snapshot::root(&opts.out).join(&snap_day);
    let snap_err = |source| SyncError::Snapshot {
        path: snap_dir.clone(),
        source,
    };

    summary.purged_users = purge_opted_out(&mut store, cfg, &opts.out, &drop)?;
    let kept: Vec<&User> = users.iter().filter(|u| !drop.contains(&u.id)).collect();
    store.insight_upsert_users(
        &kept
            .iter()
            .map(|u| InsightUser {
                user_id: u.id.clone(),
                name: u.name.clone(),
                display_name: u.display().to_string(),
                department: depts.get(&u.id).cloned(),
                deleted: u.deleted,
                is_bot: u.is_bot,
            })
            .collect::<Vec<_>>(),
    )?;
    summary.users = kept.len();
    summary.opted_out_users = users.len() - kept.len();
    let mut users_raw = Value::Array(kept.iter().map(|u| u.raw.clone()).collect());
    snapshot::scrub(&mut users_raw, &drop, cfg.store_text);
    snapshot::write_gz(
        &snap_dir.join(format!("run{run_id}-users.json.gz")),
        &users_raw,
    )
    .map_err(snap_err)?;

    let convs = client
        .all_conversations(ListConversations::channels())
        .await?;
    let listed: HashMap<String, Conversation> =
        convs.iter().map(|c| (c.id.clone(), c.clone())).collect();
    let in_scope: Vec<Conversation> = convs
        .into_iter()
        .filter(|c| cfg.in_scope(&c.id, &c.name, c.is_private, c.is_archived))
        .collect();
    let scope_ids: HashSet<&str> = in_scope.iter().map(|c| c.id.as_str()).collect();
    let grace_us = i64::from(cfg.unscoped_grace_days) * 86_400_000_000;
    for stored in store.insight_stored_channels()? {
        let id = stored.channel_id.as_str();
        if scope_ids.contains(id) {
            store.insight_mark_scoped(id)?;
            continue;
        }
        // The channel as Slack lists it now, when it still does.
        let (name, is_private) = listed
            .get(id)
            .map_or((stored.name.as_str(), stored.is_private), |c| {
                (c.name.as_str(), c.is_private)
            });
        let channel_opted_out = InsightConfig::listed(&cfg.opt_out_channels, id, name)
            || InsightConfig::listed(&cfg.opt_out_channels, id, &stored.name);
        let revoked = is_private && !InsightConfig::listed(&cfg.private_channels_opt_in, id, name);
        let at_once = channel_opted_out || revoked;
        if at_once {
            tracing::info!(
                "channel {id} (#{name}) was opted out or its opt-in revoked: deleting its data"
            );
        } else {
            let since = store.insight_mark_unscoped(id, now.as_microsecond())?;
            if !opts.prune_unscoped && now.as_microsecond() - since < grace_us {
                let until = Timestamp::from_microsecond(since.saturating_add(grace_us))
                    .map(|t| t.strftime("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                let why = if listed.contains_key(id) {
                    "no longer matches insight.json's channels filter (or was archived)"
                } else {
                    "is missing from Slack's channel list"
                };
                tracing::warn!(
                    "channel {id} (#{name}) {why}; its data is kept until {until} \
                     (unscoped_grace_days) or a sync with --prune-unscoped"
                );
                summary.unscoped_kept += 1;
                continue;
            }
            tracing::info!(
                "channel {id} (#{name}) has been out of scope past its grace period: deleting its data"
            );
        }
        store.insight_delete_channel(id)?;
        snapshot::remove_channel(&opts.out, id).map_err(snap_err)?;
        if at_once {
            summary.removed_channels += 1;
        } else {
            summary.unscoped_pruned += 1;
        }
    }

    let window_start = opts.since.unwrap_or_else(|| {
        now.checked_sub(jiff::SignedDuration::from_hours(
            24 * cfg.window_days as i64,
        ))
        .unwrap_or(now)
    });
    let start_us = window_start.as_microsecond();
    let oldest = format!(
        "{}.{:06}",
        start_us.div_euclid(1_000_000),
        start_us.rem_euclid(1_000_000)
    );
    let from_day = local_day_hour(start_us, &cfg.tz).0;
    let mut known: HashMap<String, HashMap<String, String>> = HashMap::new();
    for c in &in_scope {
        known.insert(c.id.clone(), store.insight_thread_latest(&c.id)?);
    }
    // Fetches are tasks of their own, not futures polled by this loop: they keep their calls
    // going while a finished channel's snapshot and rows are written here (polled only between
    // writes, the pipeline stalled for every channel stored). Dropping the set aborts them.
    let mut waiting = in_scope.into_iter();
    let mut fetches = tokio::task::JoinSet::new();
    let spawn_next = |fetches: &mut tokio::task::JoinSet<_>,
                      waiting: &mut std::vec::IntoIter<Conversation>| {
        if let Some(c) = waiting.next() {
            let k = known.get(&c.id).cloned().unwrap_or_default();
            let id = c.id.clone();
            let fut = fetch_channel(client.clone(), c, oldest.clone(), k);
            fetches.spawn(async move { (id, fut.await) });
        }
    };
    for _ in 0..CONCURRENCY {
        spawn_next(&mut fetches, &mut waiting);
    }
    while let Some(joined) = fetches.join_next().await {
        let (id, fetched) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(SyncError::Task(e.to_string())),
        };
        spawn_next(&mut fetches, &mut waiting);
        let f = match fetched {
            Ok(f) => f,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::warn!("channel {id}: {e}; it will be retried at the next sync");
                summary.failed_channels.push(id);
                continue;
            }
        };
        let empty = HashMap::new();
        let known_threads = known.get(&id).unwrap_or(&empty);
        let c = collect(&f, known_threads, &drop, cfg);
        let members: Vec<String> = f
            .members
            .iter()
            .filter(|m| !drop.contains(*m))
            .cloned()
            .collect();
        let channel = InsightChannel {
            channel_id: f.conv.id.clone(),
            name: f.conv.name.clone(),
            is_private: f.conv.is_private,
            is_archived: f.conv.is_archived,
        };
        // Snapshot first: if the process dies between the two, the next sync rewrites both.
        let mut raw = json!({
            "channel": f.conv.raw,
            "members": members,
            "messages": f.history.iter().map(|m| m.raw.clone()).collect::<Vec<_>>(),
            "threads": f.threads.iter().map(|(ts, r)| json!({"thread_ts": ts,
                "messages": r.iter().map(|m| m.raw.clone()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        });
        snapshot::scrub(&mut raw, &drop, cfg.store_text);
        snapshot::write_gz(
            &snap_dir.join(format!("run{run_id}-{}.json.gz", channel.channel_id)),
            &raw,
        )
        .map_err(snap_err)?;
        store.insight_store_channel(&ChannelBatch {
            channel: &channel,
            run_id,
            taken_us: now.as_microsecond(),
            members: &members,
            refetched_ts: &c.refetched,
            events: &c.events,
            threads: &c.threads,
            from_day: &from_day,
            state: ChannelSyncState {
                newest_ts: c.newest_ts,
                oldest_synced_us: Some(start_us),
            },
        })?;
        summary.channels += 1;
        summary.events += c.events.len() as u64;
        summary.threads_fetched += f.threads.len() as u64;
    }

    let (rows, files) = prune(&mut store, cfg, &opts.out)?;
    summary.pruned_rows = rows;
    summary.pruned_files = files;
    if summary.purged_users + summary.removed_channels + summary.unscoped_pruned > 0 {
        checkpoint(&store);
    }
    let stats = client.stats();
    summary.requests = stats.requests;
    summary.http_429 = stats.http_429;
    summary.seconds = started.elapsed().as_secs_f64();
    store.insight_finish_run(
        run_id,
        &store::format_time(Timestamp::now()),
        if summary.failed_channels.is_empty() {
            "ok"
        } else {
            "failed"
        },
        summary.channels as u64,
        summary.events,
    )?;
    Ok(summary)
}

/// Erases the opted-out people that earlier syncs stored: raw snapshots first, then their rows
/// (if the process dies in between, the rows still say who needs scrubbing at the next sync), then
/// the WAL. When the list changed since the last sync (or no sync recorded one: a database from
/// before snapshots were scrubbed on opt-out), every snapshot is checked for every opted-out
/// person, stored or not. Records the list it applied, for insight-report. Returns people erased.
fn purge_opted_out(
    store: &mut Store,
    cfg: &InsightConfig,
    out: &Path,
    drop: &HashSet<String>,
) -> Result<usize, SyncError> {
    let mut stored = Vec::new();
    for id in drop {
        if store.insight_user_stored(id)? {
            stored.push(id.clone());
        }
    }
    let fingerprint = cfg.opt_out_fingerprint();
    let list_changed = store.meta_get(OPT_OUT_APPLIED_KEY)?.as_deref() != Some(&fingerprint);
    let scan: HashSet<String> = if list_changed {
        drop.clone()
    } else {
        stored.iter().cloned().collect()
    };
    if !scan.is_empty() {
        // Only the people go: other text is as store_text kept it when written.
        let files = snapshot::purge_users(out, &scan, true, false).map_err(|source| {
            SyncError::Snapshot {
                path: snapshot::root(out),
                source,
            }
        })?;
        if !files.is_empty() {
            tracing::info!(
                "{} snapshot files rewritten without opted-out people",
                files.len()
            );
        }
    }
    for id in &stored {
        let one: HashSet<String> = [id.clone()].into();
        let redact = |t: &str| Some(redact_mentions(t, &one)).filter(|r| r != t);
        store.insight_purge_user(id, &redact)?;
    }
    if !stored.is_empty() {
        tracing::info!("{} opted-out people erased from the database", stored.len());
        checkpoint(store);
    }
    store.meta_set(OPT_OUT_APPLIED_KEY, &fingerprint)?;
    Ok(stored.len())
}

/// Meta key: the fingerprint of the `opt_out_users` the last sync applied (see insight-report).
pub const OPT_OUT_APPLIED_KEY: &str = "insight.opt_out_applied";

/// Truncates the WAL after deletions, so deleted rows survive in no file; a reader holding it
/// open only delays that to a later checkpoint.
fn checkpoint(store: &Store) {
    match store.checkpoint_truncate() {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "a reader kept the database's write-ahead log from being emptied; deleted rows leave it at the next checkpoint"
        ),
        Err(e) => tracing::warn!("checkpointing the database: {e}"),
    }
}

/// Retention: rows and snapshot files past their `raw_days` / `aggregate_days`.
pub fn prune(
    store: &mut Store,
    cfg: &InsightConfig,
    out: &Path,
) -> Result<(usize, usize), SyncError> {
    let now = Timestamp::now();
    let days_ago = |d: u32| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * d as i64))
            .unwrap_or(now)
            .as_microsecond()
    };
    let raw_before = days_ago(cfg.retention.raw_days);
    let agg_day = local_day_hour(days_ago(cfg.retention.aggregate_days), &cfg.tz).0;
    let removed = store.insight_prune(raw_before, &agg_day)?;
    let raw_day = local_day_hour(raw_before, &jiff::tz::TimeZone::UTC).0;
    let files = snapshot::prune(out, &raw_day).map_err(|source| SyncError::Snapshot {
        path: snapshot::root(out),
        source,
    })?;
    Ok((removed.iter().map(|(_, n)| n).sum(), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_with_and_without_label_are_redacted_and_longer_ids_are_not() {
        let drop: HashSet<String> = ["U1".to_string()].into();
        assert_eq!(
            redact_mentions("a <@U1> b <@U1|ann> c <@U12> d <@U1", &drop),
            "a <@redacted> b <@redacted> c <@U12> d <@U1"
        );
        assert_eq!(
            redact_mentions("<@U1><@U1>", &drop),
            "<@redacted><@redacted>"
        );
    }
}
