//! Fetching one channel into the spool: history pages as they arrive, and — overlapped with them —
//! the replies of every thread parent whose `latest_reply` is not already stored. Only messages with
//! `reply_count > 0` cost a replies call; threads already stored at the same `latest_reply` cost none.

use std::time::Duration;

use futures::stream::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use slack_client::{RawMessage, SlackClient, TimeRange};
use store::Store;
use store::export::{SpoolMessage, ThreadBatch};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};

use crate::compact;
use crate::sink::ExportError;
use crate::window::ts_key;

/// Threads whose replies are fetched at the same time (the client caps requests in flight too).
const THREADS_IN_FLIGHT: usize = 8;
/// Finished threads that may wait to be stored before the fetcher stops taking new ones.
const THREADS_WAITING: usize = 64;
/// Messages of finished threads stored per commit (bounds what a kill loses and what waits in
/// memory).
const THREAD_BATCH_ROWS: usize = 1000;
/// Longest a finished thread waits for its batch's commit.
const THREAD_BATCH_WAIT: Duration = Duration::from_millis(100);

/// What one channel's fetch did.
#[derive(Debug, Default)]
pub struct FetchStats {
    /// Top-level messages (and broadcasts) read from history.
    pub history_messages: u64,
    /// Replies read (parents excluded).
    pub replies: u64,
    /// Messages not stored before this run.
    pub new_messages: u64,
    pub threads_fetched: u64,
    /// Threads whose stored copy was already current.
    pub threads_skipped: u64,
    /// Threads whose replies could not be fetched (the run reports failure; a `--resume` retries).
    pub thread_errors: Vec<(String, slack_client::Error)>,
}

/// Which copy of a message wins when the same `ts` comes twice.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    History,
    Replies,
}

/// A message ready to spool, owning its JSON text.
struct Row {
    ts_key: i64,
    thread_key: i64,
    replace: bool,
    ts: String,
    user: Option<String>,
    raw: String,
}

fn rows(messages: Vec<RawMessage>, source: Source) -> Result<Vec<Row>, ExportError> {
    let mut out = Vec::with_capacity(messages.len());
    for RawMessage { message: m, json } in messages {
        let Some(key) = ts_key(&m.ts) else {
            warn!(ts = %m.ts, "skipping a message with an unreadable ts");
            continue;
        };
        let is_reply = m.is_reply();
        let thread_key = match m.thread_ts.as_deref() {
            Some(t) if is_reply => ts_key(t).unwrap_or(key),
            _ => key,
        };
        // The history copy of a top-level message and the replies copy of a reply win: each run
        // (resumed or not) then ends with the same copy whichever call came last.
        let replace = match source {
            Source::History => !is_reply,
            Source::Replies => is_reply,
        };
        out.push(Row {
            ts_key: key,
            thread_key,
            replace,
            ts: m.ts,
            user: m.user,
            raw: compact::normalized(json)?,
        });
    }
    Ok(out)
}

fn spool_view(rows: &[Row]) -> Vec<SpoolMessage<'_>> {
    rows.iter()
        .map(|r| SpoolMessage {
            ts_key: r.ts_key,
            thread_key: r.thread_key,
            ts: &r.ts,
            user: r.user.as_deref(),
            raw: &r.raw,
            replace: r.replace,
        })
        .collect()
}

/// A history page, already turned into rows (off the task that writes the spool).
struct HistoryPage {
    count: u64,
    /// `(ts, latest_reply)` of the thread parents on the page.
    parents: Vec<(String, String)>,
    rows: Vec<Row>,
}

fn history_page(page: Vec<RawMessage>) -> Result<HistoryPage, ExportError> {
    let parents = page
        .iter()
        .map(|r| &r.message)
        .filter(|m| m.reply_count > 0 && !m.is_reply())
        .map(|m| (m.ts.clone(), m.latest_reply.clone().unwrap_or_default()))
        .collect();
    Ok(HistoryPage {
        count: page.len() as u64,
        parents,
        rows: rows(page, Source::History)?,
    })
}

/// What a thread's fetch came to.
enum Thread {
    Fetched { replies: u64, rows: Vec<Row> },
    Failed(slack_client::Error),
}

/// `(thread ts, latest_reply, outcome)`.
type ThreadDone = (String, String, Result<Thread, ExportError>);

async fn fetch_thread(
    client: SlackClient,
    channel: String,
    ts: String,
    latest: String,
) -> ThreadDone {
    let outcome = match client
        .replies_raw(&channel, &ts, TimeRange::default())
        .try_concat()
        .await
    {
        Ok(mut messages) => {
            // The parent comes first in every answer; its history copy is already stored (and
            // wins over this one), so spooling it again would only cost a no-op insert.
            messages.retain(|m| m.message.ts != ts);
            let replies = messages.iter().filter(|m| m.message.is_reply()).count() as u64;
            rows(messages, Source::Replies).map(|rows| Thread::Fetched { replies, rows })
        }
        Err(e) => Ok(Thread::Failed(e)),
    };
    (ts, latest, outcome)
}

/// Stores finished threads in one commit; returns how many messages were new.
fn store_threads(
    store: &Store,
    spool_id: i64,
    threads: &[(String, String, Vec<Row>)],
) -> Result<usize, ExportError> {
    if threads.is_empty() {
        return Ok(0);
    }
    let views: Vec<Vec<SpoolMessage<'_>>> = threads.iter().map(|(_, _, r)| spool_view(r)).collect();
    let batch: Vec<ThreadBatch<'_>> = threads
        .iter()
        .zip(&views)
        .map(|((ts, latest, _), messages)| ThreadBatch {
            thread_ts: ts,
            latest_reply: latest,
            messages,
        })
        .collect();
    Ok(store.export_put_threads(spool_id, &batch)?)
}

/// A finished task's value; a panic inside it continues here.
fn joined<T>(result: Result<T, JoinError>) -> Result<T, ExportError> {
    match result {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ExportError::Task(e.to_string())),
    }
}

/// Fetches the threads that arrive on `want`, up to [`THREADS_IN_FLIGHT`] at once, and hands each
/// outcome to `done`. It is a task of its own so calls keep going out while the task that writes
/// the spool is busy (a commit, another channel's render). Ends when `want` is closed and every
/// thread is handed over, or when `done` is dropped.
async fn thread_fetcher(
    client: SlackClient,
    channel: String,
    mut want: mpsc::UnboundedReceiver<(String, String)>,
    done: mpsc::Sender<ThreadDone>,
) {
    let mut in_flight: JoinSet<ThreadDone> = JoinSet::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = want.recv(), if open && in_flight.len() < THREADS_IN_FLIGHT => match next {
                Some((ts, latest)) => {
                    in_flight.spawn(fetch_thread(client.clone(), channel.clone(), ts, latest));
                }
                None => open = false,
            },
            Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => {
                // A panic carries on here; only dropping this task cancels a thread task.
                let Ok(outcome) = joined(finished) else {
                    return;
                };
                if done.send(outcome).await.is_err() {
                    return;
                }
            },
            else => return,
        }
    }
}

/// Fetches `channel` within `range` into the spool `spool_id`, updating `bar` as pages arrive.
/// A fatal Slack error (auth, scope) or a history failure is returned; a failed thread is recorded
/// in the stats and the others go on.
///
/// History pages and threads are fetched and decoded by tasks on the runtime's workers (the next
/// history page while this one is stored, threads as soon as their parent's page is read); this
/// task only writes the spool. Dropping the future aborts them.
pub async fn fetch_channel(
    client: &SlackClient,
    store: &Store,
    spool_id: i64,
    channel: &str,
    range: TimeRange,
    bar: &ProgressBar,
) -> Result<FetchStats, ExportError> {
    let mut stats = FetchStats::default();
    let (tx, mut pages) = mpsc::channel::<Result<HistoryPage, ExportError>>(1);
    let mut history_task = JoinSet::new();
    {
        let client = client.clone();
        let channel = channel.to_string();
        history_task.spawn(async move {
            let mut history = client.history_raw(&channel, range);
            while let Some(page) = history.next().await {
                let page = page.map_err(ExportError::from).and_then(history_page);
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    break;
                }
            }
        });
    }
    // Wanted threads queue up as history pages are read (a few dozen bytes each, as the queue
    // inside this task did before); finished ones hold their messages, so at most
    // THREADS_WAITING of them wait for this task before the fetcher holds back.
    let (want_tx, want_rx) = mpsc::unbounded_channel();
    let (done_tx, mut finished) = mpsc::channel(THREADS_WAITING);
    let mut fetcher = JoinSet::new();
    fetcher.spawn(thread_fetcher(
        client.clone(),
        channel.to_string(),
        want_rx,
        done_tx,
    ));
    let mut want = Some(want_tx);
    let mut outstanding = 0usize;
    let mut history_done = false;
    let mut pending: Vec<(String, String, Vec<Row>)> = Vec::new();
    let mut pending_rows = 0usize;
    let mut pending_since: Option<Instant> = None;

    loop {
        if history_done {
            // No more threads will be wanted: the fetcher ends once it has handed over the rest.
            want = None;
            if outstanding == 0 {
                break;
            }
        }
        let flush_at = pending_since.map(|t| t + THREAD_BATCH_WAIT);
        let mut due = false;
        tokio::select! {
            () = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => due = true,
            page = pages.recv(), if !history_done => match page {
                None => {
                    // The history task has ended: a panic in it is carried on here.
                    if let Some(ended) = history_task.join_next().await {
                        joined(ended)?;
                    }
                    history_done = true;
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(page)) => {
                    let parent_ts: Vec<&str> = page.parents.iter().map(|(ts, _)| ts.as_str()).collect();
                    let stored_latest = store.export_threads_latest(spool_id, &parent_ts)?;
                    for ((ts, latest), stored) in page.parents.into_iter().zip(stored_latest) {
                        if !latest.is_empty() && stored.as_deref() == Some(latest.as_str()) {
                            stats.threads_skipped += 1;
                        } else if let Some(want) = &want
                            && want.send((ts, latest)).is_ok()
                        {
                            outstanding += 1;
                        }
                    }
                    // Stored after its threads are handed to the fetcher, so their calls go out
                    // during this commit. Their rows are stored by this task later, so the page is
                    // always in before them.
                    stats.new_messages += store.export_put_messages(spool_id, &spool_view(&page.rows))? as u64;
                    stats.history_messages += page.count;
                    bar.inc(page.count);
                }
            },
            first = finished.recv(), if outstanding > 0 => {
                let Some(first) = first else {
                    // The fetcher ended with threads still owed: it panicked (carried on here) or
                    // was stopped.
                    if let Some(ended) = fetcher.join_next().await {
                        joined(ended)?;
                    }
                    return Err(ExportError::Task("the thread fetcher stopped early".into()));
                };
                let mut done = vec![first];
                while let Ok(more) = finished.try_recv() {
                    done.push(more);
                }
                outstanding -= done.len();
                for (ts, latest, outcome) in done {
                    match outcome? {
                        Thread::Fetched { replies, rows } => {
                            stats.replies += replies;
                            stats.threads_fetched += 1;
                            bar.inc(replies);
                            pending_rows += rows.len();
                            pending.push((ts, latest, rows));
                            pending_since.get_or_insert_with(Instant::now);
                        }
                        Thread::Failed(e) if e.is_fatal() => return Err(e.into()),
                        Thread::Failed(e) => {
                            warn!(channel, thread = %ts, error = %e, "could not fetch a thread's replies");
                            stats.thread_errors.push((ts, e));
                        }
                    }
                }
            }
        }
        // Finished threads are stored in batches: a commit per thread was most of the spool's
        // cost (WAL frames, locks) on channels with many small threads. A batch waits at most
        // THREAD_BATCH_WAIT, so a slow (rate-limited) export still saves its progress as it goes;
        // a kill loses at most the batch, whose threads a `--resume` fetches again.
        if due || pending_rows >= THREAD_BATCH_ROWS || (history_done && outstanding == 0) {
            stats.new_messages += store_threads(store, spool_id, &pending)? as u64;
            pending.clear();
            pending_rows = 0;
            pending_since = None;
        }
    }
    debug!(channel, ?stats, "channel fetched");
    Ok(stats)
}
