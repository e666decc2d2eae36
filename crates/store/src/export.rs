//! slack-export's tables: per-channel export state (`export_channels`, `export_threads`) and the
//! spooled messages (`export_messages`) the export files are streamed from, in thread or time order.
//!
//! The module is deliberately dumb about Slack: the tool computes sort keys and decides which copy
//! of a message wins; this module stores rows and reads them back in order without loading a whole
//! channel into memory.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::db::{self, Db, OptionalExt, params};
use crate::{Store, StoreError, format_time};

/// One channel of one export (an export is identified by its output directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportChannelState {
    /// Row id; the handle every other call takes.
    pub id: i64,
    /// Newest top-level message of the last completed pass.
    pub newest_ts: Option<String>,
    /// Whether the last pass (history and all its threads) finished.
    pub complete: bool,
}

/// A message to spool.
#[derive(Debug, Clone, Copy)]
pub struct SpoolMessage<'a> {
    /// `ts` in microseconds (sorts like time).
    pub ts_key: i64,
    /// The parent's `ts_key` for a reply, else `ts_key`.
    pub thread_key: i64,
    pub ts: &'a str,
    pub user: Option<&'a str>,
    /// The message as received, serialised JSON.
    pub raw: &'a str,
    /// On a `ts` already stored: `true` replaces the stored copy, `false` keeps it.
    pub replace: bool,
}

/// One thread's messages and the `latest_reply` they are current to.
#[derive(Debug, Clone, Copy)]
pub struct ThreadBatch<'a> {
    pub thread_ts: &'a str,
    pub latest_reply: &'a str,
    pub messages: &'a [SpoolMessage<'a>],
}

/// A spooled message read back.
#[derive(Debug, Clone, Copy)]
pub struct StoredMessage<'a> {
    pub ts_key: i64,
    pub thread_key: i64,
    pub ts: &'a str,
    pub raw: &'a str,
}

/// A reply as listed on its parent in the Slack export layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRef {
    pub user: Option<String>,
    pub ts: String,
}

/// The order spooled messages are read back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolOrder {
    /// Top-level messages by time, each directly followed by its replies by time.
    Threaded,
    /// Every message by time (replies interleaved where they were posted).
    Chronological,
}

impl Store {
    /// The state of `channel_id` in the export `export_key`, created if missing. With `fresh`, any
    /// earlier state and spooled messages of that channel are dropped first (a non-resumed run).
    pub fn export_channel(
        &self,
        export_key: &str,
        channel_id: &str,
        channel_name: &str,
        fresh: bool,
    ) -> Result<ExportChannelState, StoreError> {
        self.conn.transaction(|tx| {
            if fresh {
                tx.execute(
                    "DELETE FROM export_channels WHERE export_key = ?1 AND channel_id = ?2",
                    params![export_key, channel_id],
                )?;
            }
            let now = format_time(Timestamp::now());
            tx.execute(
                "INSERT INTO export_channels (export_key, channel_id, channel_name, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (export_key, channel_id) DO UPDATE
                   SET channel_name = excluded.channel_name, updated_at = excluded.updated_at",
                params![export_key, channel_id, channel_name, now],
            )?;
            let state = tx.query_row(
                "SELECT id, newest_ts, complete FROM export_channels
                 WHERE export_key = ?1 AND channel_id = ?2",
                params![export_key, channel_id],
                |r| {
                    Ok(ExportChannelState {
                        id: r.get(0)?,
                        newest_ts: r.get(1)?,
                        complete: r.get::<i64>(2)? != 0,
                    })
                },
            )?;
            Ok(state)
        })
    }

    /// Spools a batch of messages in one transaction and marks the channel's pass unfinished.
    /// Returns how many were new (not stored before).
    pub fn export_put_messages(
        &self,
        channel: i64,
        messages: &[SpoolMessage<'_>],
    ) -> Result<usize, StoreError> {
        self.conn.transaction(|tx| {
            let added = put_messages(tx, channel, messages)?;
            tx.execute(
                "UPDATE export_channels SET complete = 0 WHERE id = ?1 AND complete != 0",
                [channel],
            )?;
            Ok(added)
        })
    }

    /// Spools a thread's messages and records that the thread is stored up to `latest_reply`, in
    /// one transaction (so an interrupted run never believes a half-stored thread is done).
    pub fn export_put_thread(
        &self,
        channel: i64,
        thread_ts: &str,
        latest_reply: &str,
        messages: &[SpoolMessage<'_>],
    ) -> Result<usize, StoreError> {
        self.export_put_threads(
            channel,
            &[ThreadBatch {
                thread_ts,
                latest_reply,
                messages,
            }],
        )
    }

    /// [`Store::export_put_thread`] for several threads in one transaction: one commit per batch
    /// instead of per thread is most of the spool's cost on channels with many small threads.
    pub fn export_put_threads(
        &self,
        channel: i64,
        threads: &[ThreadBatch<'_>],
    ) -> Result<usize, StoreError> {
        self.conn.transaction(|tx| {
            // All the threads' messages go in as one batch, so small threads fill multi-row
            // statements too (put_messages gives the same result as one call per thread).
            let all: Vec<SpoolMessage<'_>> = threads
                .iter()
                .flat_map(|t| t.messages.iter().copied())
                .collect();
            let added = put_messages(tx, channel, &all)?;
            record_threads(tx, channel, threads)?;
            Ok(added)
        })
    }

    /// The `latest_reply` a thread was stored with, if it was.
    pub fn export_thread_latest(
        &self,
        channel: i64,
        thread_ts: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT latest_reply FROM export_threads WHERE channel = ?1 AND thread_ts = ?2",
                params![channel, thread_ts],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// [`Store::export_thread_latest`] for several threads, in one read transaction (on Postgres
    /// in one statement: a round trip per thread would be most of a resumed run's time).
    pub fn export_threads_latest(
        &self,
        channel: i64,
        thread_ts: &[&str],
    ) -> Result<Vec<Option<String>>, StoreError> {
        if let Some(pg) = self.conn.as_postgres() {
            let wanted: Vec<String> = thread_ts.iter().map(|t| t.to_string()).collect();
            let rows = pg
                .with_client(move |c| {
                    c.query(
                        "SELECT thread_ts, latest_reply FROM export_threads
                     WHERE channel = $1 AND thread_ts = ANY($2::text[])",
                        &[&channel, &wanted],
                    )
                })?
                .map_err(db::DbError::from)?;
            let found: HashMap<String, String> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, postgres::Error>>()
                .map_err(db::DbError::from)?;
            return Ok(thread_ts.iter().map(|t| found.get(*t).cloned()).collect());
        }
        self.conn.transaction(|tx| {
            let mut out = Vec::with_capacity(thread_ts.len());
            for ts in thread_ts {
                out.push(
                    tx.query_row(
                        "SELECT latest_reply FROM export_threads WHERE channel = ?1 AND thread_ts = ?2",
                        params![channel, ts],
                        |r| r.get(0),
                    )
                    .optional()?,
                );
            }
            Ok(out)
        })
    }

    /// Marks a channel's pass finished, with the newest top-level `ts` it has.
    pub fn export_finish_channel(
        &self,
        channel: i64,
        newest_ts: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE export_channels SET complete = 1, newest_ts = ?2, updated_at = ?3 WHERE id = ?1",
            params![channel, newest_ts, format_time(Timestamp::now())],
        )?;
        Ok(())
    }

    /// Number of spooled messages of a channel (replies included).
    pub fn export_message_count(&self, channel: i64) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM export_messages WHERE channel = ?1",
            [channel],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The newest top-level message's `ts` of a channel.
    pub fn export_newest_top_level(&self, channel: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT ts FROM export_messages WHERE channel = ?1 AND thread_key = ts_key
                 ORDER BY ts_key DESC LIMIT 1",
                [channel],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Streams a channel's messages in `order` to `f`, one row at a time; stops at `f`'s first error.
    pub fn export_for_each<E: From<StoreError>>(
        &self,
        channel: i64,
        order: SpoolOrder,
        mut f: impl FnMut(StoredMessage<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(conn) = self.conn.as_sqlite() {
            return for_each_sqlite(conn, channel, order, f);
        }
        // Postgres hands over a whole result at once; pages of rows read after the last key
        // (an index walk each) keep memory flat for a channel of millions of messages.
        let mut after = (i64::MIN, i64::MIN);
        loop {
            let row = |r: &db::Row<'_>| -> db::Result<(i64, i64, String, String)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            };
            let page = match order {
                SpoolOrder::Threaded => self.conn.query_all(
                    "SELECT ts_key, thread_key, ts, raw FROM export_messages
                     WHERE channel = ?1 AND (thread_key, ts_key) > (?2, ?3)
                     ORDER BY thread_key, ts_key LIMIT ?4",
                    params![channel, after.0, after.1, PAGE_ROWS],
                    row,
                ),
                SpoolOrder::Chronological => self.conn.query_all(
                    "SELECT ts_key, thread_key, ts, raw FROM export_messages
                     WHERE channel = ?1 AND ts_key > ?2 ORDER BY ts_key LIMIT ?3",
                    params![channel, after.1, PAGE_ROWS],
                    row,
                ),
            }
            .map_err(StoreError::from)?;
            let full = page.len() as i64 == PAGE_ROWS;
            for (ts_key, thread_key, ts, raw) in &page {
                after = (*thread_key, *ts_key);
                f(StoredMessage {
                    ts_key: *ts_key,
                    thread_key: *thread_key,
                    ts,
                    raw,
                })?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The replies of the thread whose parent has `thread_key`, oldest first (parent excluded).
    pub fn export_reply_refs(
        &self,
        channel: i64,
        thread_key: i64,
    ) -> Result<Vec<ReplyRef>, StoreError> {
        self.rows(
            "SELECT \"user\", ts FROM export_messages
             WHERE channel = ?1 AND thread_key = ?2 AND ts_key != ?2 ORDER BY ts_key",
            params![channel, thread_key],
            |r| {
                Ok(ReplyRef {
                    user: r.get(0)?,
                    ts: r.get(1)?,
                })
            },
        )
    }
}

/// Rows per page when a channel's messages are read back from Postgres.
const PAGE_ROWS: i64 = 2000;

/// [`Store::export_for_each`] on SQLite: one statement, stepped row by row, text borrowed in place.
fn for_each_sqlite<E: From<StoreError>>(
    conn: &rusqlite::Connection,
    channel: i64,
    order: SpoolOrder,
    mut f: impl FnMut(StoredMessage<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let sql = match order {
        SpoolOrder::Threaded => {
            "SELECT ts_key, thread_key, ts, raw FROM export_messages WHERE channel = ?1
             ORDER BY thread_key, ts_key"
        }
        SpoolOrder::Chronological => {
            "SELECT ts_key, thread_key, ts, raw FROM export_messages WHERE channel = ?1
             ORDER BY ts_key"
        }
    };
    let mut stmt = conn.prepare(sql).map_err(StoreError::from)?;
    let mut rows = stmt.query([channel]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let ts_key: i64 = row.get(0).map_err(StoreError::from)?;
        let thread_key: i64 = row.get(1).map_err(StoreError::from)?;
        let ts = row.get_ref(2).map_err(StoreError::from)?;
        let raw = row.get_ref(3).map_err(StoreError::from)?;
        f(StoredMessage {
            ts_key,
            thread_key,
            ts: ts
                .as_str()
                .map_err(|e| StoreError::from(rusqlite::Error::from(e)))?,
            raw: raw
                .as_str()
                .map_err(|e| StoreError::from(rusqlite::Error::from(e)))?,
        })?;
    }
    Ok(())
}

/// Records each thread's `latest_reply` (on Postgres in one statement for the whole batch).
fn record_threads(tx: &Db, channel: i64, threads: &[ThreadBatch<'_>]) -> Result<(), StoreError> {
    let Some(pg) = tx.as_postgres() else {
        for t in threads {
            tx.execute(
                "INSERT INTO export_threads (channel, thread_ts, latest_reply) VALUES (?1, ?2, ?3)
                 ON CONFLICT (channel, thread_ts) DO UPDATE SET latest_reply = excluded.latest_reply",
                params![channel, t.thread_ts, t.latest_reply],
            )?;
        }
        return Ok(());
    };
    // One statement may not update a row twice: the last record of a thread wins, as row by row.
    let mut last: HashMap<&str, &str> = HashMap::new();
    for t in threads {
        last.insert(t.thread_ts, t.latest_reply);
    }
    let (ts, latest): (Vec<String>, Vec<String>) = last
        .into_iter()
        .map(|(t, l)| (t.to_string(), l.to_string()))
        .unzip();
    pg.with_client(move |c| {
        c.execute(
            "INSERT INTO export_threads (channel, thread_ts, latest_reply)
             SELECT $1, t, l FROM UNNEST($2::text[], $3::text[]) AS u(t, l)
             ON CONFLICT (channel, thread_ts) DO UPDATE SET latest_reply = excluded.latest_reply",
            &[&channel, &ts, &latest],
        )
    })?
    .map_err(db::DbError::from)?;
    Ok(())
}

/// Rows per multi-row INSERT, largest first: a batch is cut into statements of these sizes, so a
/// few cached statements serve any batch length.
const INSERT_CHUNKS: [usize; 4] = [64, 16, 4, 1];

fn put_messages(tx: &Db, channel: i64, messages: &[SpoolMessage<'_>]) -> Result<usize, StoreError> {
    // Messages whose copy wins go in first, then those that yield to a stored copy: within one batch
    // the same `ts` then ends as it would row by row (a winning copy is never undone by a yielding
    // one; among winning copies the last one stays, see `put_group`).
    let (winning, yielding): (Vec<&SpoolMessage<'_>>, Vec<&SpoolMessage<'_>>) =
        messages.iter().partition(|m| m.replace);
    if let Some(pg) = tx.as_postgres() {
        return put_messages_pg(pg, channel, &winning, &yielding);
    }
    let conn = tx.as_sqlite().expect("a SQLite or a Postgres connection");
    Ok(put_group(conn, channel, &winning, true)? + put_group(conn, channel, &yielding, false)?)
}

/// Inserts `messages` with multi-row insert-or-ignore statements (one statement per message cost
/// most of the spool's CPU: a VDBE run, bind and reset each). Returns how many were new. With
/// `replace`, a chunk that hit stored rows (rare: a resumed run, a broadcast reply) has each of its
/// messages written over the stored copy, in order; rewriting a row just inserted changes nothing.
fn put_group(
    tx: &rusqlite::Connection,
    channel: i64,
    messages: &[&SpoolMessage<'_>],
    replace: bool,
) -> Result<usize, StoreError> {
    let mut added = 0;
    let mut rest = messages;
    while !rest.is_empty() {
        let size = INSERT_CHUNKS
            .into_iter()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut insert = tx.prepare_cached(&insert_sql(size))?;
        for (i, m) in chunk.iter().enumerate() {
            let at = i * 6;
            insert.raw_bind_parameter(at + 1, channel)?;
            insert.raw_bind_parameter(at + 2, m.ts_key)?;
            insert.raw_bind_parameter(at + 3, m.thread_key)?;
            insert.raw_bind_parameter(at + 4, m.ts)?;
            insert.raw_bind_parameter(at + 5, m.user)?;
            insert.raw_bind_parameter(at + 6, m.raw)?;
        }
        let inserted = insert.raw_execute()?;
        added += inserted;
        if replace && inserted < chunk.len() {
            let mut update = tx.prepare_cached(
                "UPDATE export_messages SET thread_key = ?3, user = ?4, raw = ?5
                 WHERE channel = ?1 AND ts_key = ?2",
            )?;
            for m in chunk {
                update.execute(rusqlite::params![
                    channel,
                    m.ts_key,
                    m.thread_key,
                    m.user,
                    m.raw
                ])?;
            }
        }
    }
    Ok(added)
}

/// The columns of spooled messages as arrays, for one `UNNEST` statement on Postgres.
#[derive(Default)]
struct Columns {
    ts_key: Vec<i64>,
    thread_key: Vec<i64>,
    ts: Vec<String>,
    user: Vec<Option<String>>,
    raw: Vec<String>,
}

impl Columns {
    fn push(&mut self, m: &SpoolMessage<'_>) {
        self.ts_key.push(m.ts_key);
        self.thread_key.push(m.thread_key);
        self.ts.push(m.ts.to_string());
        self.user.push(m.user.map(str::to_string));
        self.raw.push(m.raw.to_string());
    }
}

/// [`put_messages`] on Postgres: a statement per message is a round trip each, so each group goes
/// in as arrays in one statement. Row-by-row results are kept by choosing the copies first: of
/// winning copies of one `ts` the last, of yielding copies the first, and none that yields to a
/// winning copy of the same batch.
fn put_messages_pg(
    pg: &db::pg::PgConn,
    channel: i64,
    winning: &[&SpoolMessage<'_>],
    yielding: &[&SpoolMessage<'_>],
) -> Result<usize, StoreError> {
    let mut win_at: HashMap<i64, usize> = HashMap::new();
    for (i, m) in winning.iter().enumerate() {
        win_at.insert(m.ts_key, i);
    }
    let mut win = Columns::default();
    for (i, m) in winning.iter().enumerate() {
        if win_at.get(&m.ts_key) == Some(&i) {
            win.push(m);
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut keep = Columns::default();
    for m in yielding {
        if !win_at.contains_key(&m.ts_key) && seen.insert(m.ts_key) {
            keep.push(m);
        }
    }
    let added = pg
        .with_client(move |c| -> Result<usize, postgres::Error> {
            const INSERT: &str =
                "INSERT INTO export_messages (channel, ts_key, thread_key, ts, \"user\", raw)
             SELECT $1, k, t, s, u, r
             FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                  AS m(k, t, s, u, r)
             ON CONFLICT (channel, ts_key) DO NOTHING";
            let mut added = 0;
            if !win.ts_key.is_empty() {
                let inserted = c.execute(
                    INSERT,
                    &[
                        &channel,
                        &win.ts_key,
                        &win.thread_key,
                        &win.ts,
                        &win.user,
                        &win.raw,
                    ],
                )?;
                // Some were stored before (a resumed run, a broadcast reply): the new copies win.
                if (inserted as usize) < win.ts_key.len() {
                    c.execute(
                    "UPDATE export_messages AS e SET thread_key = m.t, \"user\" = m.u, raw = m.r
                     FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[])
                          AS m(k, t, u, r)
                     WHERE e.channel = $1 AND e.ts_key = m.k",
                    &[&channel, &win.ts_key, &win.thread_key, &win.user, &win.raw],
                )?;
                }
                added += inserted as usize;
            }
            if !keep.ts_key.is_empty() {
                added += c.execute(
                    INSERT,
                    &[
                        &channel,
                        &keep.ts_key,
                        &keep.thread_key,
                        &keep.ts,
                        &keep.user,
                        &keep.raw,
                    ],
                )? as usize;
            }
            Ok(added)
        })?
        .map_err(db::DbError::from)?;
    Ok(added)
}

/// `INSERT ... VALUES (?,?,?,?,?,?), ... ON CONFLICT DO NOTHING` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO export_messages (channel, ts_key, thread_key, ts, user, raw) VALUES ",
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?,?,?,?,?,?)"
        } else {
            ",(?,?,?,?,?,?)"
        });
    }
    sql.push_str(" ON CONFLICT (channel, ts_key) DO NOTHING");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(
        ts_key: i64,
        thread_key: i64,
        ts: &'static str,
        raw: &'static str,
    ) -> SpoolMessage<'static> {
        SpoolMessage {
            ts_key,
            thread_key,
            ts,
            user: Some("U1"),
            raw,
            replace: true,
        }
    }

    fn collect(store: &Store, ch: i64, order: SpoolOrder) -> Vec<(String, String)> {
        let mut out = Vec::new();
        store
            .export_for_each::<StoreError>(ch, order, |m| {
                out.push((m.ts.to_string(), m.raw.to_string()));
                Ok(())
            })
            .expect("iterates");
        out
    }

    #[test]
    fn threaded_and_chronological_orders() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let ch = store
                .export_channel("/out", "C1", "general", false)
                .expect("channel")
                .id;
            // parent 10 with replies 30, 40; top-level 20.
            store
                .export_put_messages(ch, &[msg(20, 20, "20", "b"), msg(10, 10, "10", "a")])
                .expect("put");
            store
                .export_put_thread(
                    ch,
                    "10",
                    "40",
                    &[msg(40, 10, "40", "r2"), msg(30, 10, "30", "r1")],
                )
                .expect("thread");
            let threaded: Vec<String> = collect(store, ch, SpoolOrder::Threaded)
                .into_iter()
                .map(|x| x.0)
                .collect();
            assert_eq!(threaded, ["10", "30", "40", "20"]);
            let chrono: Vec<String> = collect(store, ch, SpoolOrder::Chronological)
                .into_iter()
                .map(|x| x.0)
                .collect();
            assert_eq!(chrono, ["10", "20", "30", "40"]);
            let refs = store.export_reply_refs(ch, 10).expect("refs");
            assert_eq!(
                refs.iter().map(|r| r.ts.as_str()).collect::<Vec<_>>(),
                ["30", "40"]
            );
            assert_eq!(
                store
                    .export_thread_latest(ch, "10")
                    .expect("latest")
                    .as_deref(),
                Some("40")
            );
            assert_eq!(
                store
                    .export_threads_latest(ch, &["20", "10"])
                    .expect("latest of several"),
                [None, Some("40".to_string())]
            );
            assert_eq!(
                store
                    .export_newest_top_level(ch)
                    .expect("newest")
                    .as_deref(),
                Some("20")
            );
        });
    }

    #[test]
    fn replace_flag_decides_which_copy_wins_and_duplicates_are_not_added() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let ch = store
                .export_channel("/out", "C1", "general", false)
                .expect("channel")
                .id;
            assert_eq!(
                store
                    .export_put_messages(ch, &[msg(1, 1, "1", "old")])
                    .expect("put"),
                1
            );
            let keep = SpoolMessage {
                replace: false,
                ..msg(1, 1, "1", "ignored")
            };
            assert_eq!(store.export_put_messages(ch, &[keep]).expect("put"), 0);
            assert_eq!(collect(store, ch, SpoolOrder::Threaded)[0].1, "old");
            store
                .export_put_messages(ch, &[msg(1, 1, "1", "new")])
                .expect("put");
            assert_eq!(collect(store, ch, SpoolOrder::Threaded)[0].1, "new");
            assert_eq!(store.export_message_count(ch).expect("count"), 1);
        });
    }

    #[test]
    fn batches_longer_than_one_statement_keep_row_by_row_semantics() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let ch = store
                .export_channel("/out", "C1", "general", false)
                .expect("channel")
                .id;
            let texts: Vec<String> = (0..400).map(|i| format!("v{i}")).collect();
            let ts: Vec<String> = (0..400).map(|i| i.to_string()).collect();
            // Every 7th of 0..150 stored before, as "old".
            let before: Vec<SpoolMessage<'_>> = (0..150)
                .step_by(7)
                .map(|i| SpoolMessage {
                    ts_key: i,
                    thread_key: i,
                    ts: &ts[i as usize],
                    user: None,
                    raw: "old",
                    replace: true,
                })
                .collect();
            assert_eq!(store.export_put_messages(ch, &before).expect("put"), 22);
            // 0..150, odd ones yielding; then 100..150 again (winning copies, text of i + 250).
            let mut batch: Vec<SpoolMessage<'_>> = (0..150)
                .map(|i| SpoolMessage {
                    ts_key: i,
                    thread_key: i,
                    ts: &ts[i as usize],
                    user: Some("U1"),
                    raw: &texts[i as usize],
                    replace: i % 2 == 0,
                })
                .collect();
            batch.extend((100..150).map(|i| SpoolMessage {
                ts_key: i,
                thread_key: i,
                ts: &ts[i as usize],
                user: Some("U2"),
                raw: &texts[i as usize + 250],
                replace: true,
            }));
            assert_eq!(
                store.export_put_messages(ch, &batch).expect("put"),
                150 - 22
            );
            let got = collect(store, ch, SpoolOrder::Chronological);
            assert_eq!(got.len(), 150);
            for (i, (t, raw)) in got.iter().enumerate() {
                assert_eq!(t, &ts[i]);
                let want = if i >= 100 {
                    texts[i + 250].clone()
                } else if i % 7 == 0 && i % 2 == 1 {
                    "old".to_string()
                } else {
                    texts[i].clone()
                };
                assert_eq!(raw, &want, "ts {i}");
            }
        });
    }

    #[test]
    fn fresh_drops_state_and_resume_keeps_it() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let ch = store
                .export_channel("/out", "C1", "general", false)
                .expect("channel");
            assert!(!ch.complete);
            store
                .export_put_messages(ch.id, &[msg(1, 1, "1", "x")])
                .expect("put");
            store
                .export_finish_channel(ch.id, Some("1"))
                .expect("finish");
            let again = store
                .export_channel("/out", "C1", "general", false)
                .expect("again");
            assert_eq!(
                again,
                ExportChannelState {
                    id: ch.id,
                    newest_ts: Some("1".into()),
                    complete: true
                }
            );
            // Another export directory is a separate state.
            let other = store
                .export_channel("/elsewhere", "C1", "general", false)
                .expect("other");
            assert_ne!(other.id, ch.id);
            let fresh = store
                .export_channel("/out", "C1", "general", true)
                .expect("fresh");
            assert!(!fresh.complete);
            assert_eq!(store.export_message_count(fresh.id).expect("count"), 0);
            // A new batch marks a finished channel unfinished again until the pass ends.
            store.export_finish_channel(fresh.id, None).expect("finish");
            store
                .export_put_messages(fresh.id, &[msg(2, 2, "2", "y")])
                .expect("put");
            assert!(
                !store
                    .export_channel("/out", "C1", "general", false)
                    .expect("state")
                    .complete
            );
        });
    }

    #[test]
    fn channels_longer_than_a_read_page_stream_whole_in_both_orders() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let ch = store
                .export_channel("/out", "C1", "general", false)
                .expect("channel")
                .id;
            // Threads of 3 (parent + 2 replies) across more than two pages of rows.
            let n = (PAGE_ROWS as usize) * 2 + 301;
            let ts: Vec<String> = (0..n).map(|i| format!("{i}.000100")).collect();
            let batch: Vec<SpoolMessage<'_>> = (0..n)
                .map(|i| SpoolMessage {
                    ts_key: i as i64,
                    thread_key: (i - i % 3) as i64,
                    ts: &ts[i],
                    user: None,
                    raw: "{}",
                    replace: true,
                })
                .collect();
            assert_eq!(store.export_put_messages(ch, &batch).expect("put"), n);
            let keys = |order| {
                let mut out = Vec::new();
                store
                    .export_for_each::<StoreError>(ch, order, |m| {
                        out.push((m.thread_key, m.ts_key));
                        Ok(())
                    })
                    .expect("iterates");
                out
            };
            let chrono = keys(SpoolOrder::Chronological);
            assert_eq!(chrono.len(), n);
            assert!(chrono.windows(2).all(|w| w[0].1 < w[1].1));
            let threaded = keys(SpoolOrder::Threaded);
            assert_eq!(threaded.len(), n);
            assert!(threaded.windows(2).all(|w| w[0] < w[1]));
        });
    }
}
