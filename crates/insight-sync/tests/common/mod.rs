//! Helpers shared by insight-sync's test files.

use store::Store;

/// Column `i` as text whatever its type (a dump is only compared with another dump).
fn text(r: &store::db::Row<'_>, i: usize) -> store::db::Result<String> {
    if let Ok(v) = r.get::<Option<i64>>(i) {
        return Ok(format!("{v:?}"));
    }
    if let Ok(v) = r.get::<Option<f64>>(i) {
        return Ok(format!("{v:?}"));
    }
    Ok(format!("{:?}", r.get::<Option<String>>(i)?))
}

/// Every row that matters, sorted: run bookkeeping left out, membership as the latest snapshot
/// per channel (a killed run leaves an extra older snapshot, by design).
pub fn dump(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT 'u', user_id, name, display_name, department, deleted, is_bot FROM insight_users",
        "SELECT 'c', channel_id, name, is_private, is_archived, newest_ts, '' FROM insight_channels",
        "SELECT 'e', channel_id, ts, kind, user_id, emoji, at_us || day || hour || coalesce(thread_ts,'') FROM insight_events",
        "SELECT 't', channel_id, thread_ts, latest_reply, day, coalesce(latency_s, -1), '' FROM insight_threads",
        "SELECT 'duc', channel_id, day, user_id, posts, replies, reactions FROM insight_daily_user_channel",
        "SELECT 'dc', channel_id, day, active_members, posts, replies, reactions FROM insight_daily_channel",
        "SELECT 'duh', channel_id, day, user_id, hour, events, '' FROM insight_daily_user_hour",
        "SELECT 'aw', channel_id, day, user_id, first_us, last_us, '' FROM insight_active_windows",
        "SELECT 'm', m.channel_id, m.user_id, '', '', '', '' FROM insight_members m
         WHERE m.run_id = (SELECT max(run_id) FROM insight_member_snapshots s WHERE s.channel_id = m.channel_id)",
    ] {
        let rows = store
            .db()
            .query_all(sql, [], |r| {
                (0..7)
                    .map(|i| text(r, i))
                    .collect::<store::db::Result<Vec<_>>>()
                    .map(|p| p.join("|"))
            })
            .expect("query");
        out.extend(rows);
    }
    out.sort();
    out
}
