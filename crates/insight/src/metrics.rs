//! The metrics of insight-report, computed from the store's daily aggregates (never from raw
//! events, so a 90-day report reads thousands of rows per channel, not millions of events).
//!
//! `participation_score = 100 × (0.4 × m + 0.6 × a / a_max)`: m is the share of the period's
//! membership snapshots of the channel in which the user was a member, a the user's posts +
//! replies + reactions there, a_max the largest a in the channel (the second term is 0 when a_max
//! is 0). Every member appears, silent ones included.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use store::Store;
use store::db::{self, params};

use crate::time::{day_start_us, rfc3339_local};

/// Errors computing metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("database error: {0}")]
    Db(#[from] db::DbError),
    #[error("the period {since}..{until} is empty: --since is after --until")]
    EmptyPeriod { since: Date, until: Date },
}

/// An inclusive range of local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub since: Date,
    pub until: Date,
}

impl Period {
    /// Days in the period.
    pub fn days(&self) -> i64 {
        (self.until - self.since).get_days() as i64 + 1
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Period {
        let len = jiff::Span::new().days(self.days());
        Period {
            since: self.since.checked_sub(len).unwrap_or(self.since),
            until: self.since.yesterday().unwrap_or(self.since),
        }
    }

    fn bounds_us(&self, tz: &TimeZone) -> (i64, i64) {
        let end = self.until.tomorrow().unwrap_or(self.until);
        (day_start_us(self.since, tz), day_start_us(end, tz) - 1)
    }

    fn days_text(&self) -> (String, String) {
        (self.since.to_string(), self.until.to_string())
    }
}

/// Who and what a report is about. Empty = everyone / every channel.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    pub users: Option<HashSet<String>>,
    pub department: Option<String>,
    pub channels: Option<HashSet<String>>,
    /// People left out of every figure as if their rows were purged (opted out since the last
    /// sync): the read-only twin of `Store::insight_without_users`, for readers that cannot write.
    pub hidden_users: HashSet<String>,
}

impl Cohort {
    fn has_channel(&self, id: &str) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(id))
    }
    fn has_user(&self, user: &UserInfo, id: &str) -> bool {
        !self.hidden_users.contains(id)
            && self.users.as_ref().is_none_or(|u| u.contains(id))
            && self
                .department
                .as_ref()
                .is_none_or(|d| user.department.as_deref() == Some(d.as_str()))
    }
}

/// A stored user, as reports show them.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub name: String,
    pub display_name: String,
    pub department: Option<String>,
}

/// One user in one channel over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct UserChannelRow {
    pub user_id: String,
    pub user_name: String,
    pub department: Option<String>,
    pub channel_id: String,
    pub channel_name: String,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
    /// Share of the period's membership snapshots with the user in the channel, 0..1.
    pub membership_share: f64,
    pub participation_score: f64,
}

impl UserChannelRow {
    pub fn total(&self) -> u64 {
        self.posts + self.replies + self.reactions
    }
    /// (posts, replies, reactions) as shares of the user's total here; zeros when silent.
    pub fn mix(&self) -> (f64, f64, f64) {
        let t = self.total() as f64;
        if t == 0.0 {
            return (0.0, 0.0, 0.0);
        }
        (
            self.posts as f64 / t,
            self.replies as f64 / t,
            self.reactions as f64 / t,
        )
    }
}

/// First and last post or reply of a user on a local day (reactions carry no time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveWindow {
    pub user_id: String,
    pub user_name: String,
    pub date: String,
    pub first_ts: String,
    pub last_ts: String,
}

/// Counts shared by channel, day and department rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub members: u64,
    pub active_members: u64,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
    /// Median seconds from a thread parent to the first reply by someone else.
    pub median_reply_latency_s: Option<f64>,
    /// Mean participation score of the members.
    pub avg_score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDay {
    pub channel_id: String,
    pub channel_name: String,
    pub date: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRange {
    pub channel_id: String,
    pub channel_name: String,
    pub is_private: bool,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentRange {
    pub department: String,
    pub counts: Counts,
}

/// Posts and replies by local weekday (0 = Monday) and hour, per department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatCell {
    pub department: String,
    pub weekday: u8,
    pub hour: u8,
    pub events: u64,
}

/// A channel's or department's numbers against the previous period of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `channel` or `department`.
    pub scope: &'static str,
    pub id: String,
    pub name: String,
    pub now: Counts,
    pub before: Counts,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub period: Period,
    pub previous: Period,
    pub timezone: String,
    pub user_channel: Vec<UserChannelRow>,
    pub active_windows: Vec<ActiveWindow>,
    pub channel_days: Vec<ChannelDay>,
    pub channels: Vec<ChannelRange>,
    pub departments: Vec<DepartmentRange>,
    pub heatmap: Vec<HeatCell>,
    pub week_over_week: Vec<Change>,
}

/// Label of users without a department.
pub const NO_DEPARTMENT: &str = "(none)";

struct Ctx<'a> {
    store: &'a Store,
    tz: &'a TimeZone,
    cohort: &'a Cohort,
    users: HashMap<String, UserInfo>,
    /// channel id -> (name, is_private), cohort-filtered.
    channels: BTreeMap<String, (String, bool)>,
    /// channel id -> its membership snapshots, oldest first. Read once: the snapshot table is
    /// keyed by run, so a per-channel query would scan all of it for every channel.
    snapshots: HashMap<String, Vec<Snapshot>>,
    /// (channel, thread ts) of threads a hidden user posted or replied in: their latency was
    /// measured with them, so it is left out (as a purge deletes the thread row).
    hidden_threads: HashSet<(String, String)>,
}

/// One membership snapshot of a channel.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    taken_us: i64,
    run_id: i64,
    members: u64,
}

/// Per-channel figures of one period (what week-over-week compares).
struct Core {
    rows: Vec<UserChannelRow>,
    channels: Vec<ChannelRange>,
    departments: Vec<DepartmentRange>,
}

/// Computes every metric of `period` (and the previous period for week over week).
pub fn compute(
    store: &Store,
    period: Period,
    cohort: &Cohort,
    tz: &TimeZone,
    timezone_name: &str,
) -> Result<Metrics, MetricsError> {
    if period.since > period.until {
        return Err(MetricsError::EmptyPeriod {
            since: period.since,
            until: period.until,
        });
    }
    let conn = store.db();
    let mut users = HashMap::new();
    conn.query_each(
        "SELECT user_id, name, display_name, department FROM insight_users",
        [],
        |r| {
            let id: String = r.get(0)?;
            if !cohort.hidden_users.contains(&id) {
                users.insert(
                    id,
                    UserInfo {
                        name: r.get(1)?,
                        display_name: r.get(2)?,
                        department: r.get(3)?,
                    },
                );
            }
            Ok(())
        },
    )?;
    let mut channels = BTreeMap::new();
    conn.query_each(
        "SELECT channel_id, name, is_private FROM insight_channels",
        [],
        |r| {
            let id: String = r.get(0)?;
            if cohort.has_channel(&id) {
                channels.insert(id, (r.get(1)?, r.get(2)?));
            }
            Ok(())
        },
    )?;
    let mut snapshots: HashMap<String, Vec<Snapshot>> = HashMap::new();
    conn.query_each(
        // Members counted in key order of their own table (an index-only scan on Postgres), then
        // joined: joining first made Postgres hash and group every member row (4 s at 3.7M rows
        // against 0.5 s), and SQLite is faster this way too.
        "SELECT s.channel_id, s.run_id, s.taken_us, coalesce(m.n, 0) FROM insight_member_snapshots s
         LEFT JOIN (SELECT run_id, channel_id, count(*) AS n FROM insight_members
                    GROUP BY run_id, channel_id) m
           ON m.run_id = s.run_id AND m.channel_id = s.channel_id",
        [],
        |r| {
            let id: String = r.get(0)?;
            if channels.contains_key(&id) {
                snapshots.entry(id).or_default().push(Snapshot {
                    run_id: r.get(1)?,
                    taken_us: r.get(2)?,
                    members: r.get::<i64>(3)? as u64,
                });
            }
            Ok(())
        },
    )?;
    let mut hidden_threads = HashSet::new();
    for user in &cohort.hidden_users {
        // A hidden member does not count in a snapshot's size.
        conn.query_each(
            "SELECT run_id, channel_id FROM insight_members WHERE user_id = ?1",
            [user],
            |r| {
                let (run_id, channel): (i64, String) = (r.get(0)?, r.get(1)?);
                if let Some(s) = snapshots
                    .get_mut(&channel)
                    .and_then(|l| l.iter_mut().find(|s| s.run_id == run_id))
                {
                    s.members = s.members.saturating_sub(1);
                }
                Ok(())
            },
        )?;
        conn.query_each(
            "SELECT DISTINCT channel_id, thread_ts FROM insight_events
             WHERE user_id = ?1 AND kind < 2 AND thread_ts IS NOT NULL",
            [user],
            |r| {
                hidden_threads.insert((r.get(0)?, r.get(1)?));
                Ok(())
            },
        )?;
    }
    for list in snapshots.values_mut() {
        list.sort_by_key(|s| (s.taken_us, s.run_id));
    }
    let ctx = Ctx {
        store,
        tz,
        cohort,
        users,
        channels,
        snapshots,
        hidden_threads,
    };
    // Read once for the period: the channel figures and the channel-day rows both use them.
    let lat_now = latencies(&ctx, period)?;
    let now = core(&ctx, period, &lat_now)?;
    let previous = period.previous();
    let before = core(&ctx, previous, &latencies(&ctx, previous)?)?;
    let week_over_week = changes(&now, &before);
    Ok(Metrics {
        period,
        previous,
        timezone: timezone_name.to_string(),
        active_windows: active_windows(&ctx, period)?,
        channel_days: channel_days(&ctx, period, lat_now)?,
        heatmap: heatmap(&ctx, period)?,
        user_channel: now.rows,
        channels: now.channels,
        departments: now.departments,
        week_over_week,
    })
}

/// Membership snapshots of a channel used for a period: those taken inside it, or else the one
/// nearest to it (the latest before its end, else the earliest after), so a report over days
/// without a sync still knows who the members were.
/// The flag says they were taken inside the period (not the nearest one outside).
fn snapshot_runs(ctx: &Ctx<'_>, channel: &str, period: Period) -> (Vec<i64>, bool) {
    let (start, end) = period.bounds_us(ctx.tz);
    let Some(snaps) = ctx.snapshots.get(channel) else {
        return (Vec::new(), false);
    };
    let runs: Vec<i64> = snaps
        .iter()
        .filter(|s| (start..=end).contains(&s.taken_us))
        .map(|s| s.run_id)
        .collect();
    if !runs.is_empty() {
        return (runs, true);
    }
    let nearest = snaps
        .iter()
        .rev()
        .find(|s| s.taken_us <= end)
        .or_else(|| snaps.first())
        .map(|s| vec![s.run_id])
        .unwrap_or_default();
    (nearest, false)
}

/// channel -> user -> number of the channel's snapshots taken inside `period` the user is in, for
/// every channel at once: what [`membership_counts`] gives for the runs [`snapshot_runs`] finds
/// inside the period. For PostgreSQL, where one statement per channel was a round trip and an
/// index probe per snapshot each (a grouped join over all members is faster there).
fn membership_in_period(
    ctx: &Ctx<'_>,
    period: Period,
) -> Result<HashMap<String, HashMap<String, u64>>, MetricsError> {
    let (start, end) = period.bounds_us(ctx.tz);
    let mut out: HashMap<String, HashMap<String, u64>> = HashMap::new();
    ctx.store.db().query_each(
        "SELECT m.channel_id, m.user_id, count(*) FROM insight_member_snapshots s
         JOIN insight_members m ON m.run_id = s.run_id AND m.channel_id = s.channel_id
         WHERE s.taken_us BETWEEN ?1 AND ?2 GROUP BY m.channel_id, m.user_id",
        params![start, end],
        |r| {
            let channel: String = r.get(0)?;
            let user: String = r.get(1)?;
            if ctx.channels.contains_key(&channel) && !ctx.cohort.hidden_users.contains(&user) {
                out.entry(channel)
                    .or_default()
                    .insert(user, r.get::<i64>(2)? as u64);
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// user -> number of the given snapshots the user is in.
///
/// All of a channel's runs in one statement (an `IN` list): a report spans a snapshot per day, and
/// on PostgreSQL a statement per snapshot was a round trip each (90k of them for 1000 channels).
/// Postgres counts per user on the server; SQLite returns the rows, which it reads off the
/// primary key in order, where grouping would sort them all in a temporary b-tree first.
fn membership_counts(
    ctx: &Ctx<'_>,
    channel: &str,
    runs: &[i64],
) -> Result<HashMap<String, u64>, MetricsError> {
    let mut out = HashMap::new();
    let db = ctx.store.db();
    for chunk in runs.chunks(500) {
        let list = (0..chunk.len())
            .map(|i| format!("?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let mut values = vec![db::ValueRef::Text(channel)];
        values.extend(chunk.iter().map(|r| db::ValueRef::Int(*r)));
        let counted = db.is_postgres();
        let sql = if counted {
            format!(
                "SELECT user_id, count(*) FROM insight_members
                 WHERE channel_id = ?1 AND run_id IN ({list}) GROUP BY user_id"
            )
        } else {
            format!(
                "SELECT user_id, 1 FROM insight_members WHERE channel_id = ?1 AND run_id IN ({list})"
            )
        };
        db.query_each(&sql, &values, |r| {
            let user: String = r.get(0)?;
            if !ctx.cohort.hidden_users.contains(&user) {
                *out.entry(user).or_insert(0) += r.get::<i64>(1)? as u64;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Reply latencies (s) per (channel, day).
type Latencies = HashMap<(String, String), Vec<f64>>;

fn latencies(ctx: &Ctx<'_>, period: Period) -> Result<Latencies, MetricsError> {
    let (since, until) = period.days_text();
    let mut out: HashMap<(String, String), Vec<f64>> = HashMap::new();
    // Each value list is only ever sorted for a median, so the order rows come in does not matter.
    ctx.store.db().query_each(
        "SELECT channel_id, day, latency_s, thread_ts FROM insight_threads
         WHERE day BETWEEN ?1 AND ?2 AND latency_s IS NOT NULL",
        params![since, until],
        |r| {
            let (channel, day): (String, String) = (r.get(0)?, r.get(1)?);
            let latency: f64 = r.get(2)?;
            if !ctx.hidden_threads.is_empty()
                && ctx.hidden_threads.contains(&(channel.clone(), r.get(3)?))
            {
                return Ok(());
            }
            out.entry((channel, day)).or_default().push(latency);
            Ok(())
        },
    )?;
    Ok(out)
}

/// `lat`: [`latencies`] of `period`.
fn core(ctx: &Ctx<'_>, period: Period, lat: &Latencies) -> Result<Core, MetricsError> {
    let (since, until) = period.days_text();
    // channel -> user -> (posts, replies, reactions)
    let mut activity: HashMap<String, HashMap<String, (u64, u64, u64)>> = HashMap::new();
    // Per channel, so each query is a range of the (channel_id, day, user_id) key: a query over
    // all channels is planned on the user_id index without statistics, a random lookup per row.
    for channel in ctx.channels.keys() {
        ctx.store.db().query_each(
            "SELECT user_id, sum(posts), sum(replies), sum(reactions)
             FROM insight_daily_user_channel WHERE channel_id = ?1 AND day BETWEEN ?2 AND ?3
             GROUP BY user_id",
            params![channel, since, until],
            |r| {
                let user: String = r.get(0)?;
                if ctx.cohort.hidden_users.contains(&user) {
                    return Ok(());
                }
                let (p, re, x): (i64, i64, i64) = (r.get(1)?, r.get(2)?, r.get(3)?);
                activity
                    .entry(channel.clone())
                    .or_default()
                    .insert(user, (p as u64, re as u64, x as u64));
                Ok(())
            },
        )?;
    }
    let mut in_period = if ctx.store.db().is_postgres() {
        Some(membership_in_period(ctx, period)?)
    } else {
        None
    };
    let mut lat_by_channel: HashMap<String, Vec<f64>> = HashMap::new();
    for ((channel, _day), v) in lat {
        lat_by_channel.entry(channel.clone()).or_default().extend(v);
    }
    let mut rows = Vec::new();
    let mut channels = Vec::new();
    for (channel_id, (channel_name, is_private)) in &ctx.channels {
        let (runs, inside) = snapshot_runs(ctx, channel_id, period);
        let membership = match in_period.as_mut() {
            Some(all) if inside => all.remove(channel_id).unwrap_or_default(),
            _ => membership_counts(ctx, channel_id, &runs)?,
        };
        let empty = HashMap::new();
        let act = activity.get(channel_id).unwrap_or(&empty);
        let a_max = act.values().map(|(p, r, x)| p + r + x).max().unwrap_or(0);
        let everyone: BTreeSet<&String> = membership.keys().chain(act.keys()).collect();
        let mut channel_rows = Vec::new();
        for user_id in everyone {
            let (posts, replies, reactions) = act.get(user_id).copied().unwrap_or((0, 0, 0));
            let m = if runs.is_empty() {
                0.0
            } else {
                *membership.get(user_id).unwrap_or(&0) as f64 / runs.len() as f64
            };
            let a = posts + replies + reactions;
            let activity_term = if a_max == 0 {
                0.0
            } else {
                a as f64 / a_max as f64
            };
            let info = ctx.users.get(user_id).cloned().unwrap_or_default();
            channel_rows.push(UserChannelRow {
                user_id: user_id.clone(),
                user_name: if info.display_name.is_empty() {
                    info.name.clone()
                } else {
                    info.display_name.clone()
                },
                department: info.department.clone(),
                channel_id: channel_id.clone(),
                channel_name: channel_name.clone(),
                posts,
                replies,
                reactions,
                membership_share: m,
                participation_score: 100.0 * (0.4 * m + 0.6 * activity_term),
            });
        }
        let mut lat = lat_by_channel.remove(channel_id).unwrap_or_default();
        let members = membership.len() as u64;
        channels.push(ChannelRange {
            channel_id: channel_id.clone(),
            channel_name: channel_name.clone(),
            is_private: *is_private,
            counts: Counts {
                members,
                active_members: act.values().filter(|(p, r, x)| p + r + x > 0).count() as u64,
                posts: act.values().map(|v| v.0).sum(),
                replies: act.values().map(|v| v.1).sum(),
                reactions: act.values().map(|v| v.2).sum(),
                median_reply_latency_s: median(&mut lat),
                avg_score: mean(channel_rows.iter().map(|r| r.participation_score)),
            },
        });
        rows.extend(channel_rows.into_iter().filter(|r| {
            let info = ctx.users.get(&r.user_id).cloned().unwrap_or_default();
            ctx.cohort.has_user(&info, &r.user_id)
        }));
    }
    let departments = rollup(&rows);
    Ok(Core {
        rows,
        channels,
        departments,
    })
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u64), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Department rollups of user-channel rows.
fn rollup(rows: &[UserChannelRow]) -> Vec<DepartmentRange> {
    let mut by: BTreeMap<String, Vec<&UserChannelRow>> = BTreeMap::new();
    for r in rows {
        by.entry(
            r.department
                .clone()
                .unwrap_or_else(|| NO_DEPARTMENT.to_string()),
        )
        .or_default()
        .push(r);
    }
    by.into_iter()
        .map(|(department, rs)| {
            let members: HashSet<&str> = rs.iter().map(|r| r.user_id.as_str()).collect();
            let active: HashSet<&str> = rs
                .iter()
                .filter(|r| r.total() > 0)
                .map(|r| r.user_id.as_str())
                .collect();
            DepartmentRange {
                department,
                counts: Counts {
                    members: members.len() as u64,
                    active_members: active.len() as u64,
                    posts: rs.iter().map(|r| r.posts).sum(),
                    replies: rs.iter().map(|r| r.replies).sum(),
                    reactions: rs.iter().map(|r| r.reactions).sum(),
                    median_reply_latency_s: None,
                    avg_score: mean(rs.iter().map(|r| r.participation_score)),
                },
            }
        })
        .collect()
}

fn changes(now: &Core, before: &Core) -> Vec<Change> {
    let mut out = Vec::new();
    let prev: HashMap<&str, &ChannelRange> = before
        .channels
        .iter()
        .map(|c| (c.channel_id.as_str(), c))
        .collect();
    for c in &now.channels {
        out.push(Change {
            scope: "channel",
            id: c.channel_id.clone(),
            name: c.channel_name.clone(),
            now: c.counts.clone(),
            before: prev
                .get(c.channel_id.as_str())
                .map(|p| p.counts.clone())
                .unwrap_or_default(),
        });
    }
    let prev: HashMap<&str, &DepartmentRange> = before
        .departments
        .iter()
        .map(|d| (d.department.as_str(), d))
        .collect();
    for d in &now.departments {
        out.push(Change {
            scope: "department",
            id: d.department.clone(),
            name: d.department.clone(),
            now: d.counts.clone(),
            before: prev
                .get(d.department.as_str())
                .map(|p| p.counts.clone())
                .unwrap_or_default(),
        });
    }
    out
}

/// `lat`: [`latencies`] of `period`.
fn channel_days(
    ctx: &Ctx<'_>,
    period: Period,
    mut lat: Latencies,
) -> Result<Vec<ChannelDay>, MetricsError> {
    let (since, until) = period.days_text();
    let mut stored: HashMap<(String, String), (u64, u64, u64, u64)> = HashMap::new();
    ctx.store.db().query_each(
        "SELECT channel_id, day, active_members, posts, replies, reactions
         FROM insight_daily_channel WHERE day BETWEEN ?1 AND ?2",
        params![since, until],
        |r| {
            let v: (i64, i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
            stored.insert(
                (r.get(0)?, r.get(1)?),
                (v.0 as u64, v.1 as u64, v.2 as u64, v.3 as u64),
            );
            Ok(())
        },
    )?;
    // A hidden user's own rows come off the channel-day totals (a purge rebuilds them without).
    for user in &ctx.cohort.hidden_users {
        ctx.store.db().query_each(
            "SELECT channel_id, day, posts, replies, reactions FROM insight_daily_user_channel
             WHERE user_id = ?1 AND day BETWEEN ?2 AND ?3",
            params![user, since, until],
            |r| {
                let key: (String, String) = (r.get(0)?, r.get(1)?);
                let v: (i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
                if let Some(e) = stored.get_mut(&key) {
                    e.0 = e.0.saturating_sub(1);
                    e.1 = e.1.saturating_sub(v.0 as u64);
                    e.2 = e.2.saturating_sub(v.1 as u64);
                    e.3 = e.3.saturating_sub(v.2 as u64);
                }
                Ok(())
            },
        )?;
    }
    let mut out = Vec::new();
    for (channel_id, (channel_name, _)) in &ctx.channels {
        let snaps = ctx
            .snapshots
            .get(channel_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut day = period.since;
        while day <= period.until {
            let end = day_start_us(day.tomorrow().unwrap_or(day), ctx.tz);
            let members = snaps
                .iter()
                .rev()
                .find(|s| s.taken_us < end)
                .or(snaps.first())
                .map_or(0, |s| s.members);
            let key = (channel_id.clone(), day.to_string());
            let (active, posts, replies, reactions) = stored.get(&key).copied().unwrap_or_default();
            let mut l = lat.remove(&key).unwrap_or_default();
            out.push(ChannelDay {
                channel_id: channel_id.clone(),
                channel_name: channel_name.clone(),
                date: day.to_string(),
                counts: Counts {
                    members,
                    active_members: active,
                    posts,
                    replies,
                    reactions,
                    median_reply_latency_s: median(&mut l),
                    avg_score: 0.0,
                },
            });
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
    }
    Ok(out)
}

fn active_windows(ctx: &Ctx<'_>, period: Period) -> Result<Vec<ActiveWindow>, MetricsError> {
    let (since, until) = period.days_text();
    // user -> day -> (first, last); looked up by borrowed text, so keys are allocated once.
    let mut nested: HashMap<String, HashMap<String, (i64, i64)>> = HashMap::new();
    let unknown = UserInfo::default();
    let everyone = ctx.cohort.users.is_none()
        && ctx.cohort.department.is_none()
        && ctx.cohort.hidden_users.is_empty();
    for channel in ctx.channels.keys() {
        ctx.store.db().query_each(
            "SELECT user_id, day, first_us, last_us FROM insight_active_windows
             WHERE channel_id = ?1 AND day BETWEEN ?2 AND ?3",
            params![channel, since, until],
            |r| {
                let user: String = r.get(0)?;
                if !everyone
                    && !ctx
                        .cohort
                        .has_user(ctx.users.get(&user).unwrap_or(&unknown), &user)
                {
                    return Ok(());
                }
                let (day, first, last): (String, i64, i64) = (r.get(1)?, r.get(2)?, r.get(3)?);
                let e = nested
                    .entry(user)
                    .or_default()
                    .entry(day)
                    .or_insert((first, last));
                e.0 = e.0.min(first);
                e.1 = e.1.max(last);
                Ok(())
            },
        )?;
    }
    let mut by: Vec<((String, String), (i64, i64))> = nested
        .into_iter()
        .flat_map(|(user, days)| {
            days.into_iter()
                .map(move |(day, w)| ((user.clone(), day), w))
        })
        .collect();
    by.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(by
        .into_iter()
        .map(|((user_id, date), (first, last))| ActiveWindow {
            user_name: ctx
                .users
                .get(&user_id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            user_id,
            date,
            first_ts: rfc3339_local(first, ctx.tz),
            last_ts: rfc3339_local(last, ctx.tz),
        })
        .collect())
}

fn heatmap(ctx: &Ctx<'_>, period: Period) -> Result<Vec<HeatCell>, MetricsError> {
    let (since, until) = period.days_text();
    // Per channel over the (channel_id, day, user_id, hour) key and summed here by department:
    // grouping millions of rows joined to users in SQL sorted them all in a temporary b-tree.
    let mut cells: BTreeMap<(String, u8, u8), u64> = BTreeMap::new();
    // (department, weekday, hour) -> events, departments by index while summing.
    let mut dept_index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut sums: Vec<[[u64; 24]; 7]> = Vec::new();
    let mut weekday_of: HashMap<String, u8> = HashMap::new();
    let none = UserInfo::default();
    // PostgreSQL sums each user's days by weekday on the server (a tenth of the rows cross);
    // SQLite would sort them for that, so it reads the key range and the weekday is found here.
    let pg = ctx.store.db().is_postgres();
    let sql = if pg {
        "SELECT user_id, CAST(extract(isodow FROM CAST(day AS date)) - 1 AS BIGINT) AS weekday,
           hour, sum(events) FROM insight_daily_user_hour
         WHERE channel_id = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY user_id, weekday, hour"
    } else {
        "SELECT user_id, day, hour, events FROM insight_daily_user_hour
         WHERE channel_id = ?1 AND day BETWEEN ?2 AND ?3"
    };
    for channel in ctx.channels.keys() {
        // Rows mostly come in key order (day, user, hour): the last day's weekday and the last
        // user's department slot are reused while they repeat.
        let mut last_day = (String::new(), 0u8);
        let mut last_user: (String, Option<usize>) = (String::new(), None);
        ctx.store
            .db()
            .query_each(sql, params![channel, since, until], |r| {
                let user: String = r.get(0)?;
                let user = user.as_str();
                if user != last_user.0 {
                    let info = ctx.users.get(user).unwrap_or(&none);
                    let keep = !ctx.cohort.hidden_users.contains(user)
                        && ctx.cohort.users.as_ref().is_none_or(|u| u.contains(user))
                        && ctx
                            .cohort
                            .department
                            .as_ref()
                            .is_none_or(|d| info.department.as_deref() == Some(d.as_str()));
                    let slot = keep.then(|| {
                        let next = dept_index.len();
                        let k = *dept_index.entry(info.department.as_deref()).or_insert(next);
                        if k == sums.len() {
                            sums.push([[0; 24]; 7]);
                        }
                        k
                    });
                    last_user = (user.to_string(), slot);
                }
                let Some(k) = last_user.1 else {
                    return Ok(());
                };
                if pg {
                    last_day.1 = r.get::<i64>(1)?.clamp(0, 6) as u8;
                } else {
                    let day: String = r.get(1)?;
                    let day = day.as_str();
                    if day != last_day.0 {
                        let w = match weekday_of.get(day) {
                            Some(w) => *w,
                            None => {
                                let w = day
                                    .parse::<Date>()
                                    .map_or(0, |d| d.weekday().to_monday_zero_offset() as u8);
                                weekday_of.insert(day.to_string(), w);
                                w
                            }
                        };
                        last_day = (day.to_string(), w);
                    }
                }
                let hour: i64 = r.get(2)?;
                let events: i64 = r.get(3)?;
                sums[k][usize::from(last_day.1.min(6))][hour.clamp(0, 23) as usize] +=
                    events as u64;
                Ok(())
            })?;
    }
    for (department, k) in dept_index {
        for (weekday, hours) in sums[k].iter().enumerate() {
            for (hour, events) in hours.iter().enumerate().filter(|(_, e)| **e > 0) {
                *cells
                    .entry((
                        department.unwrap_or(NO_DEPARTMENT).to_string(),
                        weekday as u8,
                        hour as u8,
                    ))
                    .or_insert(0) += events;
            }
        }
    }
    Ok(cells
        .into_iter()
        .map(|((department, weekday, hour), events)| HeatCell {
            department,
            weekday,
            hour,
            events,
        })
        .collect())
}
