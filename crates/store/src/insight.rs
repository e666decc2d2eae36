//! insight-sync's tables: users, channels, membership snapshots, interaction events, threads and
//! the daily aggregates insight-report reads.
//!
//! The module knows nothing about Slack or privacy rules: the sync decides what may be stored and
//! computes local days and hours; this module writes one channel's batch in one transaction (so a
//! killed sync never leaves a half-written channel) and rebuilds that channel's aggregates from its
//! events in the same transaction.
//!
//! Both backends run the same statements, except the per-row loops of a channel's batch (members,
//! events, threads, users): on PostgreSQL every statement is a round trip to the server, so there
//! they go as arrays bound to one `INSERT ... SELECT FROM UNNEST(...)` per chunk of rows.

use crate::db::{Backend, Db, DbError, OptionalExt, params};
use crate::{Store, StoreError};

/// Every insight table, children first (the order deletes run in).
pub const INSIGHT_TABLES: &[&str] = &[
    "insight_active_windows",
    "insight_daily_user_hour",
    "insight_daily_channel",
    "insight_daily_user_channel",
    "insight_threads",
    "insight_events",
    "insight_members",
    "insight_member_snapshots",
    "insight_channels",
    "insight_users",
    "insight_sync_runs",
];

/// A person as stored (never an opted-out one: the sync drops those before calling in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsightUser {
    pub user_id: String,
    pub name: String,
    pub display_name: String,
    pub department: Option<String>,
    pub deleted: bool,
    pub is_bot: bool,
}

/// A channel in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsightChannel {
    pub channel_id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
}

/// A stored channel as the scope check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    pub channel_id: String,
    pub name: String,
    pub is_private: bool,
    /// When a sync first found it out of scope (Unix µs); `None` while in scope.
    pub unscoped_since_us: Option<i64>,
}

/// What the store remembers about a channel between syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSyncState {
    pub newest_ts: Option<String>,
    /// Start (Unix µs) of the oldest window fetched for this channel.
    pub oldest_synced_us: Option<i64>,
}

/// The kind of an interaction event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Post = 0,
    Reply = 1,
    Reaction = 2,
}

/// One normalized interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightEvent {
    /// The message's ts (for a reaction: the reacted message's ts).
    pub ts: String,
    pub kind: EventKind,
    pub user_id: String,
    /// The emoji name for reactions, empty otherwise.
    pub emoji: String,
    /// Unix µs of the message.
    pub at_us: i64,
    /// Local day (YYYY-MM-DD) and hour in the configured timezone.
    pub day: String,
    pub hour: u8,
    pub thread_ts: Option<String>,
    /// Only when the config keeps text.
    pub text: Option<String>,
}

/// A thread whose replies were fetched in this sync.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadRow {
    pub thread_ts: String,
    pub latest_reply: String,
    /// Local day of the parent.
    pub day: String,
    /// Seconds from the parent to the first reply by someone else.
    pub latency_s: Option<f64>,
}

/// Everything one sync learned about one channel, written in one transaction.
#[derive(Debug, Clone)]
pub struct ChannelBatch<'a> {
    pub channel: &'a InsightChannel,
    pub run_id: i64,
    pub taken_us: i64,
    /// The membership snapshot (opted-out users already removed).
    pub members: &'a [String],
    /// Messages re-fetched in this sync: their stored reactions are replaced by `events`' ones.
    pub refetched_ts: &'a [String],
    pub events: &'a [InsightEvent],
    pub threads: &'a [ThreadRow],
    /// Aggregates of this channel from this local day on are rebuilt from the events.
    pub from_day: &'a str,
    pub state: ChannelSyncState,
}

/// Rows removed by a purge or prune, per table.
pub type RemovedRows = Vec<(&'static str, usize)>;

/// Rewrites a stored text (or JSON document) without a person: `Some(new)` when it changed.
/// The store knows no message syntax; the caller says what a mention looks like.
pub type Redact<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Rows per statement of a Postgres bulk write: large enough that round trips vanish in the cost
/// of the rows, small enough to keep each statement's arrays a few megabytes.
const PG_CHUNK: usize = 10_000;

impl Store {
    /// Starts a sync run and returns its id.
    pub fn insight_begin_run(&self, started_at: &str) -> Result<i64, StoreError> {
        let id = self.conn.query_row(
            "INSERT INTO insight_sync_runs (started_at, status) VALUES (?1, 'running')
             RETURNING run_id",
            [started_at],
            |r| r.get(0),
        )?;
        bump_generation(&self.conn)?;
        Ok(id)
    }

    /// Records how a run ended.
    pub fn insight_finish_run(
        &self,
        run_id: i64,
        finished_at: &str,
        status: &str,
        channels: u64,
        events: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE insight_sync_runs SET finished_at = ?2, status = ?3, channels = ?4, events = ?5
             WHERE run_id = ?1",
            params![run_id, finished_at, status, channels as i64, events as i64],
        )?;
        bump_generation(&self.conn)?;
        Ok(())
    }

    /// Inserts or updates users, all in one transaction.
    pub fn insight_upsert_users(&mut self, users: &[InsightUser]) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO insight_users (user_id, name, display_name, department, deleted, is_bot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,
               display_name = excluded.display_name, department = excluded.department,
               deleted = excluded.deleted, is_bot = excluded.is_bot";
        const PG_SQL: &str = "INSERT INTO insight_users (user_id, name, display_name, department, deleted, is_bot)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
             ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,
               display_name = excluded.display_name, department = excluded.department,
               deleted = excluded.deleted, is_bot = excluded.is_bot";
        self.conn.transaction(|tx| {
            if tx.is_postgres() {
                // One statement may not update a row twice: the last of a repeated user wins,
                // as it does row by row.
                let users = last_of_each(users, |u| u.user_id.as_str());
                for chunk in users.chunks(PG_CHUNK) {
                    let ids: Vec<String> = chunk.iter().map(|u| u.user_id.clone()).collect();
                    let names: Vec<String> = chunk.iter().map(|u| u.name.clone()).collect();
                    let shown: Vec<String> = chunk.iter().map(|u| u.display_name.clone()).collect();
                    let depts: Vec<Option<String>> =
                        chunk.iter().map(|u| u.department.clone()).collect();
                    let deleted: Vec<i64> = chunk.iter().map(|u| i64::from(u.deleted)).collect();
                    let bots: Vec<i64> = chunk.iter().map(|u| i64::from(u.is_bot)).collect();
                    pg_bulk(tx, move |c| {
                        c.execute(PG_SQL, &[&ids, &names, &shown, &depts, &deleted, &bots])
                    })?;
                }
                return Ok(());
            }
            for u in users {
                tx.execute(
                    SQL,
                    params![
                        u.user_id,
                        u.name,
                        u.display_name,
                        u.department,
                        u.deleted,
                        u.is_bot
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The stored channel IDs.
    pub fn insight_channel_ids(&self) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT channel_id FROM insight_channels ORDER BY channel_id",
            [],
            |r| r.get(0),
        )
    }

    /// Every stored channel with its scope state.
    pub fn insight_stored_channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        self.rows(
            "SELECT channel_id, name, is_private, unscoped_since_us FROM insight_channels
             ORDER BY channel_id",
            [],
            |r| {
                Ok(StoredChannel {
                    channel_id: r.get(0)?,
                    name: r.get(1)?,
                    is_private: r.get(2)?,
                    unscoped_since_us: r.get(3)?,
                })
            },
        )
    }

    /// Records that a channel is out of scope since `now_us` unless an earlier time is recorded;
    /// returns the time it has been out of scope since.
    pub fn insight_mark_unscoped(&self, channel_id: &str, now_us: i64) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "UPDATE insight_channels SET unscoped_since_us = coalesce(unscoped_since_us, ?2)
             WHERE channel_id = ?1 RETURNING unscoped_since_us",
            params![channel_id, now_us],
            |r| r.get(0),
        )?)
    }

    /// Clears the out-of-scope mark of a channel that is in scope again.
    pub fn insight_mark_scoped(&self, channel_id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE insight_channels SET unscoped_since_us = NULL
             WHERE channel_id = ?1 AND unscoped_since_us IS NOT NULL",
            [channel_id],
        )?;
        Ok(())
    }

    /// A channel's sync state (`None` when never synced).
    pub fn insight_channel_state(
        &self,
        channel_id: &str,
    ) -> Result<Option<ChannelSyncState>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT newest_ts, oldest_synced_us FROM insight_channels WHERE channel_id = ?1",
                [channel_id],
                |r| {
                    Ok(ChannelSyncState {
                        newest_ts: r.get(0)?,
                        oldest_synced_us: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stored `latest_reply` per thread of a channel.
    pub fn insight_thread_latest(
        &self,
        channel_id: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let pairs: Vec<(String, String)> = self.rows(
            "SELECT thread_ts, latest_reply FROM insight_threads WHERE channel_id = ?1",
            [channel_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(pairs.into_iter().collect())
    }

    /// Writes one channel's batch and rebuilds its aggregates from `from_day` on, atomically.
    pub fn insight_store_channel(&mut self, b: &ChannelBatch<'_>) -> Result<(), StoreError> {
        self.conn.transaction(|tx| {
            if tx.is_postgres() {
                // What SQLite's WAL with synchronous=NORMAL gives: a commit survives the process
                // (a kill -9), the last few may be lost with the server's machine, never half of
                // one. Without it every channel waited for a WAL flush to disk.
                tx.execute_batch("SET LOCAL synchronous_commit = off")?;
            }
            let c = b.channel;
            // Two-argument max/min are greatest/least in Postgres (same NULL-free inputs here).
            let (max, min) = match tx.backend() {
                Backend::Sqlite => ("max", "min"),
                Backend::Postgres => ("greatest", "least"),
            };
            tx.execute(
                &format!(
                    "INSERT INTO insight_channels (channel_id, name, is_private, is_archived, newest_ts, oldest_synced_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (channel_id) DO UPDATE SET name = excluded.name,
                       is_private = excluded.is_private, is_archived = excluded.is_archived,
                       newest_ts = {max}(coalesce(insight_channels.newest_ts, ''), coalesce(excluded.newest_ts, '')),
                       oldest_synced_us = {min}(coalesce(insight_channels.oldest_synced_us, excluded.oldest_synced_us),
                                              coalesce(excluded.oldest_synced_us, insight_channels.oldest_synced_us))"
                ),
                params![
                    c.channel_id,
                    c.name,
                    c.is_private,
                    c.is_archived,
                    b.state.newest_ts,
                    b.state.oldest_synced_us
                ],
            )?;
            // A snapshot taken again in the same run replaces the old one, members and all (what
            // SQLite's INSERT OR REPLACE did through the cascade).
            tx.execute(
                "DELETE FROM insight_members WHERE run_id = ?1 AND channel_id = ?2",
                params![b.run_id, c.channel_id],
            )?;
            tx.execute(
                "INSERT INTO insight_member_snapshots (run_id, channel_id, taken_us) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, channel_id) DO UPDATE SET taken_us = excluded.taken_us",
                params![b.run_id, c.channel_id, b.taken_us],
            )?;
            if tx.is_postgres() {
                store_rows_pg(tx, b)?;
            } else {
                store_rows_lite(tx, b)?;
            }
            rebuild_channel_aggregates(tx, &c.channel_id, b.from_day)?;
            Ok(())
        })
    }

    /// Deletes every row of a channel (its opt-in was revoked or it left the scope).
    pub fn insight_delete_channel(&mut self, channel_id: &str) -> Result<RemovedRows, StoreError> {
        self.conn.transaction(|tx| {
            let mut removed = Vec::new();
            for table in INSIGHT_TABLES {
                if matches!(*table, "insight_users" | "insight_sync_runs") {
                    continue;
                }
                let n = tx.execute(
                    &format!("DELETE FROM {table} WHERE channel_id = ?1"),
                    [channel_id],
                )?;
                removed.push((*table, n));
            }
            bump_generation(tx)?;
            Ok(removed)
        })
    }

    /// Removes every row about `user_id` and the aggregates built from them; `redact` rewrites a
    /// stored message text that mentions them (`None`: leave it).
    pub fn insight_purge_user(
        &mut self,
        user_id: &str,
        redact: Redact<'_>,
    ) -> Result<RemovedRows, StoreError> {
        self.conn
            .transaction(|tx| purge_user_rows(tx, user_id, redact))
    }

    /// Whether any insight table holds `user_id` (the sync asks before scrubbing snapshots for a
    /// newly opted-out person: never stored means never snapshotted either).
    pub fn insight_user_stored(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM insight_users WHERE user_id = ?1)
                 OR EXISTS (SELECT 1 FROM insight_events WHERE user_id = ?1)
                 OR EXISTS (SELECT 1 FROM insight_members WHERE user_id = ?1) THEN 1 ELSE 0 END",
            [user_id],
            |r| r.get(0),
        )?)
    }

    /// Runs `f` on the store as it would be with `user_ids` purged, then puts everything back:
    /// insight-report leaves out people opted out since the last sync without changing the file
    /// (the next sync purges them together with their raw snapshots).
    pub fn insight_without_users<T>(
        &self,
        user_ids: &[String],
        f: impl FnOnce(&Store) -> T,
    ) -> Result<T, StoreError> {
        // The look ends as an "error" so the transaction rolls back, carrying `f`'s answer out.
        enum Look<T> {
            Done(T),
            Failed(StoreError),
        }
        impl<T> From<DbError> for Look<T> {
            fn from(e: DbError) -> Self {
                Look::Failed(e.into())
            }
        }
        let looked: Result<(), Look<T>> = self.conn.transaction(|tx| {
            for id in user_ids {
                purge_user_rows(tx, id, &|_| None).map_err(Look::Failed)?;
            }
            Err(Look::Done(f(self)))
        });
        match looked {
            Err(Look::Done(out)) => Ok(out),
            Err(Look::Failed(e)) => Err(e),
            Ok(()) => unreachable!("the look always rolls back"),
        }
    }

    /// Retention: events and membership snapshots older than `raw_before_us`, aggregates (and
    /// threads) of days before `aggregate_before_day`.
    pub fn insight_prune(
        &mut self,
        raw_before_us: i64,
        aggregate_before_day: &str,
    ) -> Result<RemovedRows, StoreError> {
        self.conn.transaction(|tx| {
            let mut removed = vec![(
                "insight_events",
                tx.execute(
                    "DELETE FROM insight_events WHERE at_us < ?1",
                    [raw_before_us],
                )?,
            )];
            // Membership snapshots feed the participation score, so they live as long as aggregates.
            removed.push((
                "insight_member_snapshots",
                tx.execute(
                    "DELETE FROM insight_member_snapshots WHERE taken_us < ?1",
                    [day_start_guess_us(aggregate_before_day)],
                )?,
            ));
            removed.push((
                "insight_members",
                tx.execute(
                    "DELETE FROM insight_members WHERE NOT EXISTS (SELECT 1 FROM insight_member_snapshots s
                       WHERE s.run_id = insight_members.run_id AND s.channel_id = insight_members.channel_id)",
                    [],
                )?,
            ));
            for table in [
                "insight_daily_user_channel",
                "insight_daily_channel",
                "insight_daily_user_hour",
                "insight_active_windows",
                "insight_threads",
            ] {
                let n = tx.execute(
                    &format!("DELETE FROM {table} WHERE day < ?1"),
                    [aggregate_before_day],
                )?;
                removed.push((table, n));
            }
            bump_generation(tx)?;
            Ok(removed)
        })
    }

    /// A number readers that keep figures computed from the insight tables (the admin panel's
    /// Engagement page) key them by. It moves, in the same transaction as the change, with every
    /// removal (an opt-out erasure, `purge-user`, a channel leaving the scope, retention), so
    /// nobody removed is ever shown from figures computed before; and when a sync starts and
    /// ends. The channels a sync writes in between show once it ends (or the next one starts,
    /// after a killed sync): moving it per channel would make a reader recompute everything a
    /// thousand times during one sync. 0 when nothing was ever written.
    pub fn insight_generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'insight_generation'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }
}

/// See [`Store::insight_generation`]. Called after the change, inside its transaction when it has
/// one: bumped before the change, a reader could key figures of the old rows by the new number.
fn bump_generation(conn: &Db) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('insight_generation', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
        [],
    )?;
    Ok(())
}

/// The batch's members, re-fetched messages, events and threads, row by row (SQLite: each
/// statement is a function call on a cached prepared statement).
fn store_rows_lite(tx: &Db, b: &ChannelBatch<'_>) -> Result<(), StoreError> {
    let c = &b.channel.channel_id;
    for m in b.members {
        tx.execute(
            "INSERT INTO insight_members (run_id, channel_id, user_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (run_id, channel_id, user_id) DO NOTHING",
            params![b.run_id, c, m],
        )?;
    }
    // Reactions can be taken back: a re-fetched message's reactions are replaced wholesale.
    for ts in b.refetched_ts {
        tx.execute(
            "DELETE FROM insight_events WHERE channel_id = ?1 AND ts = ?2 AND kind = 2",
            params![c, ts],
        )?;
    }
    for e in b.events {
        tx.execute(
            "INSERT INTO insight_events (channel_id, ts, kind, user_id, emoji, at_us, day, hour, thread_ts, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (channel_id, ts, kind, user_id, emoji) DO UPDATE SET at_us = excluded.at_us,
               day = excluded.day, hour = excluded.hour, thread_ts = excluded.thread_ts,
               text = excluded.text",
            params![
                c,
                e.ts,
                e.kind as i64,
                e.user_id,
                e.emoji,
                e.at_us,
                e.day,
                e.hour,
                e.thread_ts,
                e.text
            ],
        )?;
    }
    for t in b.threads {
        tx.execute(
            "INSERT INTO insight_threads (channel_id, thread_ts, latest_reply, day, latency_s)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (channel_id, thread_ts) DO UPDATE SET latest_reply = excluded.latest_reply,
               day = excluded.day, latency_s = excluded.latency_s",
            params![c, t.thread_ts, t.latest_reply, t.day, t.latency_s],
        )?;
    }
    Ok(())
}

/// [`store_rows_lite`] on Postgres: the same rows and conflict rules, as arrays bound to one
/// statement per chunk.
fn store_rows_pg(tx: &Db, b: &ChannelBatch<'_>) -> Result<(), StoreError> {
    let channel = b.channel.channel_id.clone();
    for chunk in b.members.chunks(PG_CHUNK) {
        let users = chunk.to_vec();
        let (run_id, ch) = (b.run_id, channel.clone());
        pg_bulk(tx, move |c| {
            c.execute(
                "INSERT INTO insight_members (run_id, channel_id, user_id)
                 SELECT $1, $2, u FROM UNNEST($3::text[]) AS u
                 ON CONFLICT (run_id, channel_id, user_id) DO NOTHING",
                &[&run_id, &ch, &users],
            )
        })?;
    }
    for chunk in b.refetched_ts.chunks(PG_CHUNK) {
        let ts = chunk.to_vec();
        let ch = channel.clone();
        pg_bulk(tx, move |c| {
            c.execute(
                "DELETE FROM insight_events WHERE channel_id = $1 AND kind = 2
                 AND ts = ANY($2::text[])",
                &[&ch, &ts],
            )
        })?;
    }
    // One statement may not update a row twice: the last of a repeated event wins, as row by row.
    let events = last_of_each(b.events, |e| {
        (
            e.ts.as_str(),
            e.kind as i64,
            e.user_id.as_str(),
            e.emoji.as_str(),
        )
    });
    for chunk in events.chunks(PG_CHUNK) {
        let ts: Vec<String> = chunk.iter().map(|e| e.ts.clone()).collect();
        let kind: Vec<i64> = chunk.iter().map(|e| e.kind as i64).collect();
        let user: Vec<String> = chunk.iter().map(|e| e.user_id.clone()).collect();
        let emoji: Vec<String> = chunk.iter().map(|e| e.emoji.clone()).collect();
        let at: Vec<i64> = chunk.iter().map(|e| e.at_us).collect();
        let day: Vec<String> = chunk.iter().map(|e| e.day.clone()).collect();
        let hour: Vec<i64> = chunk.iter().map(|e| i64::from(e.hour)).collect();
        let thread: Vec<Option<String>> = chunk.iter().map(|e| e.thread_ts.clone()).collect();
        let text: Vec<Option<String>> = chunk.iter().map(|e| e.text.clone()).collect();
        let ch = channel.clone();
        pg_bulk(tx, move |c| {
            c.execute(
                "INSERT INTO insight_events (channel_id, ts, kind, user_id, emoji, at_us, day, hour, thread_ts, text)
                 SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[],
                   $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::text[])
                 ON CONFLICT (channel_id, ts, kind, user_id, emoji) DO UPDATE SET at_us = excluded.at_us,
                   day = excluded.day, hour = excluded.hour, thread_ts = excluded.thread_ts,
                   text = excluded.text",
                &[
                    &ch, &ts, &kind, &user, &emoji, &at, &day, &hour, &thread, &text,
                ],
            )
        })?;
    }
    let threads = last_of_each(b.threads, |t| t.thread_ts.as_str());
    for chunk in threads.chunks(PG_CHUNK) {
        let ts: Vec<String> = chunk.iter().map(|t| t.thread_ts.clone()).collect();
        let latest: Vec<String> = chunk.iter().map(|t| t.latest_reply.clone()).collect();
        let day: Vec<String> = chunk.iter().map(|t| t.day.clone()).collect();
        let latency: Vec<Option<f64>> = chunk.iter().map(|t| t.latency_s).collect();
        let ch = channel.clone();
        pg_bulk(tx, move |c| {
            c.execute(
                "INSERT INTO insight_threads (channel_id, thread_ts, latest_reply, day, latency_s)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::float8[])
                 ON CONFLICT (channel_id, thread_ts) DO UPDATE SET latest_reply = excluded.latest_reply,
                   day = excluded.day, latency_s = excluded.latency_s",
                &[&ch, &ts, &latest, &day, &latency],
            )
        })?;
    }
    Ok(())
}

/// Runs one array-bound statement on the Postgres worker (the caller checked the backend).
fn pg_bulk(
    db: &Db,
    f: impl FnOnce(&mut postgres::Client) -> Result<u64, postgres::Error> + Send + 'static,
) -> Result<u64, StoreError> {
    let pg = db
        .as_postgres()
        .expect("pg_bulk is only called on a Postgres store");
    Ok(pg.with_client(f)?.map_err(DbError::from)?)
}

/// `rows` without earlier rows whose key repeats later, in their order (the last one wins).
fn last_of_each<'a, T, K: std::hash::Hash + Eq + 'a>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut last = std::collections::HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    if last.len() == rows.len() {
        return rows.iter().collect();
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// [`Store::insight_purge_user`] inside the caller's transaction.
pub(crate) fn purge_user_rows(
    tx: &Db,
    user_id: &str,
    redact: Redact<'_>,
) -> Result<RemovedRows, StoreError> {
    let pairs = |sql: &str| -> Result<Vec<(String, String)>, StoreError> {
        Ok(tx.query_all(sql, [user_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
    };
    // Channel-day rollups are rebuilt from the per-user rows once the user's rows are gone.
    let touched = pairs(
        "SELECT DISTINCT channel_id, day FROM insight_daily_user_channel WHERE user_id = ?1",
    )?;
    // Threads they started or replied in: the reply latency was measured with them. The row goes;
    // a thread still in the window is fetched and measured again (without them) at the next sync.
    let threads = pairs(
        "SELECT DISTINCT channel_id, thread_ts FROM insight_events
         WHERE user_id = ?1 AND kind < 2 AND thread_ts IS NOT NULL",
    )?;
    let mut removed = Vec::new();
    let mut n = 0;
    for (channel, thread_ts) in &threads {
        n += tx.execute(
            "DELETE FROM insight_threads WHERE channel_id = ?1 AND thread_ts = ?2",
            params![channel, thread_ts],
        )?;
    }
    removed.push(("insight_threads", n));
    for table in INSIGHT_TABLES {
        if matches!(
            *table,
            "insight_daily_channel"
                | "insight_threads"
                | "insight_member_snapshots"
                | "insight_channels"
                | "insight_sync_runs"
        ) {
            continue;
        }
        let n = tx.execute(
            &format!("DELETE FROM {table} WHERE user_id = ?1"),
            [user_id],
        )?;
        removed.push((*table, n));
    }
    for (channel, day) in &touched {
        tx.execute(
            "DELETE FROM insight_daily_channel WHERE channel_id = ?1 AND day = ?2",
            params![channel, day],
        )?;
        tx.execute(
            "INSERT INTO insight_daily_channel (day, channel_id, active_members, posts, replies, reactions)
             SELECT day, channel_id, count(*), sum(posts), sum(replies), sum(reactions)
             FROM insight_daily_user_channel WHERE channel_id = ?1 AND day = ?2
             GROUP BY day, channel_id",
            params![channel, day],
        )?;
    }
    // Other people's stored text that mentions them (instr is strpos in Postgres).
    let find = match tx.backend() {
        Backend::Sqlite => "instr(text, ?1) > 0",
        Backend::Postgres => "strpos(text, ?1) > 0",
    };
    let texts: Vec<(String, String, i64, String, String, String)> = tx.query_all(
        &format!(
            "SELECT channel_id, ts, kind, user_id, emoji, text FROM insight_events WHERE {find}"
        ),
        [user_id],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let mut redacted = 0;
    for (channel, ts, kind, user, emoji, text) in texts {
        if let Some(new) = redact(&text) {
            redacted += tx.execute(
                "UPDATE insight_events SET text = ?6 WHERE channel_id = ?1 AND ts = ?2
                 AND kind = ?3 AND user_id = ?4 AND emoji = ?5",
                params![channel, ts, kind, user, emoji, new],
            )?;
        }
    }
    removed.push(("insight_events.text (mentions redacted)", redacted));
    bump_generation(tx)?;
    Ok(removed)
}

/// Midnight UTC of a `YYYY-MM-DD` day in µs (membership snapshots carry UTC times; a few hours of
/// timezone slack on a 90-day retention does not matter).
fn day_start_guess_us(day: &str) -> i64 {
    day.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map_or(i64::MIN, |z| z.timestamp().as_microsecond())
}

/// Rebuilds one channel's aggregates for days from `from_day` on from its events. (Counts by
/// kind are CASE sums: a comparison is not a number in Postgres.)
fn rebuild_channel_aggregates(tx: &Db, channel: &str, from_day: &str) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM insight_daily_user_channel WHERE channel_id = ?1 AND day >= ?2",
        "INSERT INTO insight_daily_user_channel (day, channel_id, user_id, posts, replies, reactions)
         SELECT day, channel_id, user_id, sum(CASE WHEN kind = 0 THEN 1 ELSE 0 END),
           sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END), sum(CASE WHEN kind = 2 THEN 1 ELSE 0 END)
         FROM insight_events WHERE channel_id = ?1 AND day >= ?2 GROUP BY channel_id, day, user_id",
        "DELETE FROM insight_daily_channel WHERE channel_id = ?1 AND day >= ?2",
        "INSERT INTO insight_daily_channel (day, channel_id, active_members, posts, replies, reactions)
         SELECT day, channel_id, count(*), sum(posts), sum(replies), sum(reactions)
         FROM insight_daily_user_channel WHERE channel_id = ?1 AND day >= ?2 GROUP BY channel_id, day",
        "DELETE FROM insight_daily_user_hour WHERE channel_id = ?1 AND day >= ?2",
        "INSERT INTO insight_daily_user_hour (channel_id, day, user_id, hour, events)
         SELECT channel_id, day, user_id, hour, count(*)
         FROM insight_events WHERE channel_id = ?1 AND day >= ?2 AND kind < 2
         GROUP BY channel_id, day, user_id, hour",
        "DELETE FROM insight_active_windows WHERE channel_id = ?1 AND day >= ?2",
        "INSERT INTO insight_active_windows (channel_id, day, user_id, first_us, last_us)
         SELECT channel_id, day, user_id, min(at_us), max(at_us)
         FROM insight_events WHERE channel_id = ?1 AND day >= ?2 AND kind < 2
         GROUP BY channel_id, day, user_id",
    ] {
        tx.execute(sql, params![channel, from_day])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: &str, kind: EventKind, user: &str, emoji: &str, day: &str) -> InsightEvent {
        InsightEvent {
            ts: ts.into(),
            kind,
            user_id: user.into(),
            emoji: emoji.into(),
            at_us: ts.parse::<f64>().map_or(0, |s| (s * 1e6) as i64),
            day: day.into(),
            hour: 10,
            thread_ts: None,
            text: None,
        }
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.db().query_row(sql, [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn batch_is_idempotent_and_reactions_are_replaced() {
        crate::test_db::on_both(batch_is_idempotent_and_reactions_are_replaced_on);
    }

    fn batch_is_idempotent_and_reactions_are_replaced_on(store: &mut Store) {
        let ch = InsightChannel {
            channel_id: "C1".into(),
            name: "general".into(),
            is_private: false,
            is_archived: false,
        };
        let members = vec!["U1".to_string(), "U2".to_string()];
        let events = vec![
            event("100.000001", EventKind::Post, "U1", "", "2026-01-01"),
            event(
                "100.000001",
                EventKind::Reaction,
                "U2",
                "eyes",
                "2026-01-01",
            ),
        ];
        let refetched = vec!["100.000001".to_string()];
        let batch = ChannelBatch {
            channel: &ch,
            run_id: 1,
            taken_us: 0,
            members: &members,
            refetched_ts: &refetched,
            events: &events,
            threads: &[],
            from_day: "2026-01-01",
            state: ChannelSyncState::default(),
        };
        store.insight_store_channel(&batch).expect("first");
        store.insight_store_channel(&batch).expect("second");
        assert_eq!(count(store, "SELECT count(*) FROM insight_events"), 2);
        assert_eq!(
            count(store, "SELECT reactions FROM insight_daily_channel"),
            1
        );
        // The reaction was taken back: re-fetching the message without it removes it.
        let only_post = vec![events[0].clone()];
        store
            .insight_store_channel(&ChannelBatch {
                events: &only_post,
                ..batch.clone()
            })
            .expect("third");
        assert_eq!(
            count(store, "SELECT count(*) FROM insight_events WHERE kind = 2"),
            0
        );
        assert_eq!(
            count(store, "SELECT reactions FROM insight_daily_channel"),
            0
        );
        let removed = store.insight_purge_user("U1", &|_| None).expect("purge");
        assert!(
            removed
                .iter()
                .any(|(t, n)| *t == "insight_events" && *n == 1)
        );
        assert_eq!(
            count(store, "SELECT count(*) FROM insight_daily_channel"),
            0
        );
        assert_eq!(
            count(
                store,
                "SELECT count(*) FROM insight_members WHERE user_id = 'U1'"
            ),
            0
        );
    }
    #[test]
    fn removals_and_sync_ends_move_the_generation() {
        crate::test_db::on_both(removals_and_sync_ends_move_the_generation_on);
    }

    fn removals_and_sync_ends_move_the_generation_on(store: &mut Store) {
        assert_eq!(store.insight_generation().expect("reads"), 0);
        let mut last = 0;
        let mut moved = |store: &Store, what: &str, expected: bool| {
            let now = store.insight_generation().expect("reads");
            assert_eq!(now > last, expected, "{what}: generation {last} -> {now}");
            last = now;
        };
        let run = store
            .insight_begin_run("2026-01-01T00:00:00Z")
            .expect("begins");
        moved(store, "insight_begin_run", true);
        store
            .insight_upsert_users(&[InsightUser {
                user_id: "U1".into(),
                name: "ann".into(),
                display_name: "Ann".into(),
                department: None,
                deleted: false,
                is_bot: false,
            }])
            .expect("users");
        let ch = InsightChannel {
            channel_id: "C1".into(),
            name: "general".into(),
            is_private: false,
            is_archived: false,
        };
        let members = vec!["U1".to_string()];
        let events = vec![event("100.000001", EventKind::Post, "U1", "", "2026-01-01")];
        store
            .insight_store_channel(&ChannelBatch {
                channel: &ch,
                run_id: run,
                taken_us: 0,
                members: &members,
                refetched_ts: &[],
                events: &events,
                threads: &[],
                from_day: "2026-01-01",
                state: ChannelSyncState::default(),
            })
            .expect("stores");
        store.insight_mark_unscoped("C1", 5).expect("marks");
        store.insight_mark_scoped("C1").expect("marks");
        moved(
            store,
            "a sync's users, channel batches and scope marks",
            false,
        );
        store
            .insight_finish_run(run, "2026-01-01T00:01:00Z", "ok", 1, 1)
            .expect("finishes");
        moved(store, "insight_finish_run", true);
        // A look at the store without a person is rolled back, generation included.
        store
            .insight_without_users(&["U1".to_string()], |_| ())
            .expect("looks");
        moved(store, "insight_without_users", false);
        store.insight_purge_user("U1", &|_| None).expect("purges");
        moved(store, "insight_purge_user", true);
        store.insight_prune(i64::MAX, "2027-01-01").expect("prunes");
        moved(store, "insight_prune", true);
        store.insight_delete_channel("C1").expect("deletes");
        moved(store, "insight_delete_channel", true);
    }

    #[test]
    fn repeated_rows_in_a_batch_keep_the_last_and_a_snapshot_taken_again_replaces_its_members() {
        crate::test_db::on_both(|store| {
            let ch = InsightChannel {
                channel_id: "C1".into(),
                name: "general".into(),
                is_private: false,
                is_archived: false,
            };
            let mut later = event("100.000001", EventKind::Post, "U1", "", "2026-01-02");
            later.text = Some("second".into());
            // The same post twice (Postgres refuses to update one row twice in a statement).
            let events = vec![
                event("100.000001", EventKind::Post, "U1", "", "2026-01-01"),
                later,
                event(
                    "100.000001",
                    EventKind::Reaction,
                    "U2",
                    "eyes",
                    "2026-01-02",
                ),
            ];
            let thread = |latest: &str| ThreadRow {
                thread_ts: "100.000001".into(),
                latest_reply: latest.into(),
                day: "2026-01-02".into(),
                latency_s: Some(1.5),
            };
            let threads = vec![thread("101.0"), thread("102.0")];
            let members = vec!["U1".to_string(), "U2".to_string(), "U2".to_string()];
            let batch = ChannelBatch {
                channel: &ch,
                run_id: 7,
                taken_us: 1,
                members: &members,
                refetched_ts: &[],
                events: &events,
                threads: &threads,
                from_day: "2026-01-01",
                state: ChannelSyncState {
                    newest_ts: Some("100.000001".into()),
                    oldest_synced_us: Some(50),
                },
            };
            store.insight_store_channel(&batch).expect("stores");
            let text: String = store
                .db()
                .query_row(
                    "SELECT day || '/' || text FROM insight_events WHERE kind = 0",
                    [],
                    |r| r.get(0),
                )
                .expect("row");
            assert_eq!(text, "2026-01-02/second");
            assert_eq!(
                store.insight_thread_latest("C1").expect("threads")["100.000001"],
                "102.0"
            );
            assert_eq!(
                count(store, "SELECT count(*) FROM insight_members"),
                2,
                "a repeated member is stored once"
            );
            assert_eq!(
                count(
                    store,
                    "SELECT posts * 100 + reactions FROM insight_daily_channel WHERE day = '2026-01-02'"
                ),
                101
            );
            // The same run snapshots the channel again with fewer members and older state: the
            // snapshot is replaced, the newest ts and oldest window keep their extremes.
            let fewer = vec!["U1".to_string()];
            store
                .insight_store_channel(&ChannelBatch {
                    members: &fewer,
                    taken_us: 2,
                    events: &[],
                    threads: &[],
                    state: ChannelSyncState {
                        newest_ts: Some("099.000001".into()),
                        oldest_synced_us: Some(10),
                    },
                    ..batch.clone()
                })
                .expect("stores again");
            assert_eq!(count(store, "SELECT count(*) FROM insight_members"), 1);
            assert_eq!(
                count(store, "SELECT taken_us FROM insight_member_snapshots"),
                2
            );
            let state = store.insight_channel_state("C1").expect("state");
            assert_eq!(
                state,
                Some(ChannelSyncState {
                    newest_ts: Some("100.000001".into()),
                    oldest_synced_us: Some(10),
                })
            );
            assert!(store.insight_user_stored("U2").expect("asks"));
            assert!(!store.insight_user_stored("U9").expect("asks"));
        });
    }
}
