//! Engagement (`/engagement`, `/api/v1/engagement`): insight metrics for a date range and a cohort
//! (department, channels, users) chosen in a plain GET form: leaderboard, channel activity over
//! time, interaction mix, hour x weekday heatmap, active windows, reply latency, week over week.
//! The numbers are `insight::compute`'s (what insight-report writes); this module only arranges
//! them. `?format=csv&table=NAME` downloads one table with the same filters and the same rows.
//!
//! Privacy (insight.json, read at every request so an edit applies at once): people named in the
//! current `opt_out_users` are left out of every figure through `Cohort::hidden_users` (the store
//! is read-only here, so insight-report's rolled-back purge is not available; both give the same
//! numbers, see insight-report's tests), and only public channels and opted-in private channels,
//! never opted-out ones, are read. Message text is never read.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use insight::{Cohort, InsightConfig, Metrics, Period};
use jiff::civil::Date;
use maud::{Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};
use store::Store;

use crate::auth::Viewer;
use crate::controllers::helpers::{DEFAULT_LIMIT, MAX_LIMIT, csv_response};
use crate::error::{AppError, AppResult};
use crate::{AppState, layout};

/// The longest range one request may ask for (a year and a bit), so one request cannot make the
/// panel read the whole history twice over.
const MAX_DAYS: i64 = 400;
/// Channels drawn in the activity chart (the busiest); the table lists them all.
const CHART_CHANNELS: usize = 8;
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// Chart line colours (SVG attributes, so the CSP's style-src does not apply).
const COLOURS: [&str; 8] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/engagement", get(page))
        .route("/api/v1/engagement", get(api))
}

/// The form's fields and the API's parameters. Empty fields mean "not set".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngagementQuery {
    /// First day, YYYY-MM-DD (insight.json's timezone). Default: `window_days` before `until`.
    pub since: Option<String>,
    /// Last day, inclusive. Default: today.
    pub until: Option<String>,
    pub department: Option<String>,
    /// Channel names or IDs, comma-separated.
    pub channels: Option<String>,
    /// User IDs, usernames or display names, comma-separated.
    pub users: Option<String>,
    /// `csv`: one table (`table=`) as CSV.
    pub format: Option<String>,
    /// Which table the CSV holds: leaderboard (default), channels, channel_days, mix, heatmap,
    /// active_windows, week_over_week.
    pub table: Option<String>,
    /// Leaderboard paging in the JSON answer.
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// Rows each table shows on the page: a number, or `all` (default [`PAGE_ROWS`]). The CSV
    /// and JSON always hold every row.
    pub rows: Option<String>,
}

/// Rows a table shows on the page unless `rows=` says otherwise: with thousands of people a page
/// of every row weighs megabytes; the rest is one click (or the CSV) away.
pub const PAGE_ROWS: usize = 100;

impl EngagementQuery {
    /// How many rows each table of the page shows (`None`: all).
    fn page_rows(&self) -> AppResult<Option<usize>> {
        match set(&self.rows) {
            None => Ok(Some(PAGE_ROWS)),
            Some("all") => Ok(None),
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(AppError::BadRequest(format!(
                    "rows {n:?} is not a number of rows: use a positive number, or all"
                ))),
            },
        }
    }
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn list(v: &Option<String>) -> Vec<String> {
    set(v)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().trim_start_matches(['#', '@']).to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl EngagementQuery {
    /// The filters as a query string (for the CSV and JSON links: the same rows as the page).
    fn filters(&self) -> String {
        let mut out = String::new();
        for (k, v) in [
            ("since", &self.since),
            ("until", &self.until),
            ("department", &self.department),
            ("channels", &self.channels),
            ("users", &self.users),
        ] {
            if let Some(v) = set(v) {
                let _ = write!(
                    out,
                    "{}{k}={}",
                    if out.is_empty() { "" } else { "&" },
                    enc(v)
                );
            }
        }
        out
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// insight.json of the config directory; `None` when there is none.
pub fn insight_config(dir: &Path) -> AppResult<Option<InsightConfig>> {
    Ok(read_config(dir)?.map(|(cfg, _)| cfg))
}

/// insight.json parsed, with a hash of its bytes (a changed opt-out list or scope is a different
/// question for the figures cache).
fn read_config(dir: &Path) -> AppResult<Option<(InsightConfig, u64)>> {
    let file = dir.join("insight.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AppError::Config(format!(
                "{}: cannot read: {e} (hint: make it readable by the panel's user)",
                file.display()
            )));
        }
    };
    let cfg = InsightConfig::parse(&text, &file)
        .map_err(|e| AppError::Config(format!("{e} (hint: {})", e.hint)))?;
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&text, &mut h);
    Ok(Some((cfg, std::hash::Hasher::finish(&h))))
}

fn no_insight_config(config_dir: &Path) -> AppError {
    AppError::Config(format!(
        "no insight.json in {}: start the panel with --config DIR pointing at the directory of insight.json",
        config_dir.display()
    ))
}

/// Everything an Engagement answer depends on: the question (filters as given, and today's date
/// in insight.json's zone, which the default range ends on), insight.json's bytes (opt-outs,
/// scope) and the state of the insight tables ([`Store::insight_generation`], moved by every
/// sync, erasure, purge and prune). An answer kept under a key is therefore never shown for a
/// store or config it was not computed from: someone opted out or purged since is never served
/// from an older answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngagementKey {
    generation: i64,
    config: u64,
    today: Date,
    since: Option<String>,
    until: Option<String>,
    department: Option<String>,
    channels: Vec<String>,
    users: Vec<String>,
}

/// The people the current `opt_out_users` hides (IDs). Without insight.json nobody: the last sync
/// already erased whoever its list named.
pub fn hidden_users(store: &Store, config_dir: &Path) -> AppResult<HashSet<String>> {
    let Some(cfg) = insight_config(config_dir)? else {
        return Ok(HashSet::new());
    };
    hidden_by(store, &cfg)
}

fn hidden_by(store: &Store, cfg: &InsightConfig) -> AppResult<HashSet<String>> {
    match insight_collect::opted_out_since_sync(store, cfg) {
        Ok(ids) => Ok(ids.into_iter().collect()),
        // Someone the panel cannot recognise may be in the data: refuse rather than show them.
        Err(e @ insight_collect::OptOutError::Unrecognised { .. }) => Err(AppError::Config(
            format!("{e} (hint: {})", e.hint().unwrap_or_default()),
        )),
        Err(insight_collect::OptOutError::Store(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// A stored channel the privacy rules let the panel show.
#[derive(Debug, Clone)]
struct ShownChannel {
    id: String,
    name: String,
}

/// Stored channels minus opted-out ones and private ones not opted in (insight.json now, which
/// may be stricter than when they were synced).
fn shown_channels(store: &Store, cfg: &InsightConfig) -> AppResult<Vec<ShownChannel>> {
    let mut stmt = store
        .conn()
        .prepare("SELECT channel_id, name, is_private FROM insight_channels ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(id, name, private)| {
            !InsightConfig::listed(&cfg.opt_out_channels, id, name)
                && (!private || InsightConfig::listed(&cfg.private_channels_opt_in, id, name))
        })
        .map(|(id, name, _)| ShownChannel { id, name })
        .collect())
}

fn parse_day(s: &str, field: &str) -> AppResult<Date> {
    s.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "{field} {s:?} is not a date: use YYYY-MM-DD (e.g. 2026-01-31)"
        ))
    })
}

/// The page's figures, arranged for the page, the API and the CSV alike.
#[derive(Debug, Serialize)]
pub struct Engagement {
    pub period: PeriodView,
    pub cohort: CohortView,
    /// By mean participation score, highest first.
    pub leaderboard: Vec<Leader>,
    /// Per channel over the period, with the median reply latency.
    pub channels: Vec<ChannelRow>,
    /// Per channel and day (the activity chart).
    pub channel_days: Vec<ChannelDayRow>,
    /// Posts, replies and reactions per department of the cohort.
    pub mix: Vec<MixRow>,
    /// Posts and replies by local weekday (0 = Monday) and hour, cells with events only.
    pub heatmap: Vec<HeatRow>,
    /// Per person: days with a post or reply, and their median first and last local time.
    pub active_windows: Vec<WindowRow>,
    /// Channels and departments against the previous period of the same length.
    pub week_over_week: Vec<WowRow>,
    /// What the form offers.
    pub options: Options,
}

#[derive(Debug, Serialize)]
pub struct PeriodView {
    pub since: String,
    pub until: String,
    pub previous_since: String,
    pub previous_until: String,
    pub timezone: String,
}

#[derive(Debug, Serialize)]
pub struct CohortView {
    pub department: Option<String>,
    pub channels: Vec<String>,
    pub users: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Options {
    pub departments: Vec<String>,
    pub channels: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Leader {
    pub rank: usize,
    pub user_id: String,
    pub user_name: String,
    pub department: Option<String>,
    pub channels: usize,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
    pub participation_score: f64,
}

#[derive(Debug, Serialize)]
pub struct ChannelRow {
    pub channel_id: String,
    pub channel_name: String,
    pub members: u64,
    pub active_members: u64,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
    pub median_reply_latency_s: Option<f64>,
    pub avg_score: f64,
}

#[derive(Debug, Serialize)]
pub struct ChannelDayRow {
    pub date: String,
    pub channel_id: String,
    pub channel_name: String,
    pub active_members: u64,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
}

#[derive(Debug, Serialize)]
pub struct MixRow {
    pub department: String,
    pub posts: u64,
    pub replies: u64,
    pub reactions: u64,
}

#[derive(Debug, Serialize)]
pub struct HeatRow {
    pub weekday: u8,
    pub hour: u8,
    pub events: u64,
}

#[derive(Debug, Serialize)]
pub struct WindowRow {
    pub user_id: String,
    pub user_name: String,
    pub days: usize,
    /// Local HH:MM.
    pub median_first: String,
    pub median_last: String,
}

#[derive(Debug, Serialize)]
pub struct WowRow {
    pub scope: &'static str,
    pub id: String,
    pub name: String,
    pub events_now: u64,
    pub events_before: u64,
    pub active_now: u64,
    pub active_before: u64,
}

/// Computes the page for `q` from the store and insight.json (one read transaction).
/// Computes the figures (seconds on a large store: callers go through [`fetch`]'s cache).
/// `today` ends the default range.
pub fn load(
    store: &Store,
    config_dir: &Path,
    q: &EngagementQuery,
    today: Date,
) -> AppResult<Engagement> {
    let cfg = insight_config(config_dir)?.ok_or_else(|| no_insight_config(config_dir))?;
    crate::db::in_read_transaction(store, |s| load_inner(s, &cfg, q, today))
}

fn load_inner(
    store: &Store,
    cfg: &InsightConfig,
    q: &EngagementQuery,
    today: Date,
) -> AppResult<Engagement> {
    let until = match set(&q.until) {
        Some(s) => parse_day(s, "until")?,
        None => today,
    };
    let since = match set(&q.since) {
        Some(s) => parse_day(s, "since")?,
        None => until
            .checked_sub(jiff::Span::new().days(i64::from(cfg.window_days.max(1)) - 1))
            .unwrap_or(until),
    };
    if since > until {
        return Err(AppError::BadRequest(format!(
            "since {since} is after until {until}: pick a since on or before until"
        )));
    }
    let period = Period { since, until };
    if period.days() > MAX_DAYS {
        return Err(AppError::BadRequest(format!(
            "{since} to {until} is {} days: ask for at most {MAX_DAYS}",
            period.days()
        )));
    }
    let hidden = hidden_by(store, cfg)?;
    let shown = shown_channels(store, cfg)?;
    let wanted = list(&q.channels);
    let mut channel_ids: HashSet<String> = HashSet::new();
    let mut channel_names = Vec::new();
    if wanted.is_empty() {
        channel_ids.extend(shown.iter().map(|c| c.id.clone()));
    } else {
        for w in &wanted {
            let c = shown
                .iter()
                .find(|c| &c.id == w || c.name.eq_ignore_ascii_case(w))
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "channels: {w:?} is not a synced channel the panel may show: pick one from the list on the page"
                    ))
                })?;
            channel_ids.insert(c.id.clone());
            channel_names.push(c.name.clone());
        }
    }
    let wanted_users = list(&q.users);
    let mut user_ids: Option<HashSet<String>> = None;
    let mut user_names = Vec::new();
    if !wanted_users.is_empty() {
        let mut ids = HashSet::new();
        let mut stmt = store.conn().prepare(
            "SELECT user_id, name FROM insight_users WHERE user_id = ?1 OR lower(name) = lower(?1)
             OR lower(display_name) = lower(?1)",
        )?;
        for w in &wanted_users {
            let found: Vec<(String, String)> = stmt
                .query_map([w], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|(id, _)| !hidden.contains(id))
                .collect();
            if found.is_empty() {
                return Err(AppError::BadRequest(format!(
                    "users: {w:?} is not a stored user: use a Slack user ID or a username from the last insight-sync"
                )));
            }
            for (id, name) in found {
                user_names.push(name);
                ids.insert(id);
            }
        }
        user_ids = Some(ids);
    }
    let department = set(&q.department).map(str::to_string);
    let cohort = Cohort {
        users: user_ids,
        department: department.clone(),
        channels: Some(channel_ids),
        hidden_users: hidden.clone(),
    };
    let m = insight::compute(store, period, &cohort, &cfg.tz, &cfg.timezone)
        .map_err(|e| AppError::Internal(format!("computing metrics: {e}")))?;
    let departments = {
        let mut stmt = store.conn().prepare(
            "SELECT DISTINCT user_id, department FROM insight_users WHERE department IS NOT NULL",
        )?;
        let mut d: Vec<String> = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(id, _)| !hidden.contains(id))
            .map(|(_, d)| d)
            .collect();
        d.sort();
        d.dedup();
        d
    };
    Ok(arrange(
        &m,
        CohortView {
            department,
            channels: channel_names,
            users: user_names,
        },
        Options {
            departments,
            channels: shown.into_iter().map(|c| c.name).collect(),
        },
    ))
}

fn median_text(mut v: Vec<String>) -> String {
    v.sort();
    v.get(v.len() / 2).cloned().unwrap_or_default()
}

/// Arranges the computed metrics into the page's tables.
fn arrange(m: &Metrics, cohort: CohortView, options: Options) -> Engagement {
    let mut by_user: BTreeMap<&str, Leader> = BTreeMap::new();
    let mut scores: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in &m.user_channel {
        let l = by_user.entry(&r.user_id).or_insert_with(|| Leader {
            rank: 0,
            user_id: r.user_id.clone(),
            user_name: r.user_name.clone(),
            department: r.department.clone(),
            channels: 0,
            posts: 0,
            replies: 0,
            reactions: 0,
            participation_score: 0.0,
        });
        l.channels += 1;
        l.posts += r.posts;
        l.replies += r.replies;
        l.reactions += r.reactions;
        scores
            .entry(&r.user_id)
            .or_default()
            .push(r.participation_score);
    }
    let mut leaderboard: Vec<Leader> = by_user
        .into_iter()
        .map(|(id, mut l)| {
            let s = &scores[id];
            l.participation_score = s.iter().sum::<f64>() / s.len() as f64;
            l
        })
        .collect();
    leaderboard.sort_by(|a, b| {
        b.participation_score
            .total_cmp(&a.participation_score)
            .then_with(|| a.user_name.cmp(&b.user_name))
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    for (i, l) in leaderboard.iter_mut().enumerate() {
        l.rank = i + 1;
    }
    let mut windows: BTreeMap<&str, (String, Vec<String>, Vec<String>)> = BTreeMap::new();
    for w in &m.active_windows {
        let e = windows
            .entry(&w.user_id)
            .or_insert_with(|| (w.user_name.clone(), Vec::new(), Vec::new()));
        // RFC 3339 local: characters 11..16 are HH:MM.
        e.1.push(w.first_ts.get(11..16).unwrap_or_default().to_string());
        e.2.push(w.last_ts.get(11..16).unwrap_or_default().to_string());
    }
    let mut heat: BTreeMap<(u8, u8), u64> = BTreeMap::new();
    for c in &m.heatmap {
        *heat.entry((c.weekday, c.hour)).or_insert(0) += c.events;
    }
    let total = |c: &insight::metrics::Counts| c.posts + c.replies + c.reactions;
    Engagement {
        period: PeriodView {
            since: m.period.since.to_string(),
            until: m.period.until.to_string(),
            previous_since: m.previous.since.to_string(),
            previous_until: m.previous.until.to_string(),
            timezone: m.timezone.clone(),
        },
        cohort,
        leaderboard,
        channels: m
            .channels
            .iter()
            .map(|c| ChannelRow {
                channel_id: c.channel_id.clone(),
                channel_name: c.channel_name.clone(),
                members: c.counts.members,
                active_members: c.counts.active_members,
                posts: c.counts.posts,
                replies: c.counts.replies,
                reactions: c.counts.reactions,
                median_reply_latency_s: c.counts.median_reply_latency_s,
                avg_score: c.counts.avg_score,
            })
            .collect(),
        channel_days: m
            .channel_days
            .iter()
            .map(|d| ChannelDayRow {
                date: d.date.clone(),
                channel_id: d.channel_id.clone(),
                channel_name: d.channel_name.clone(),
                active_members: d.counts.active_members,
                posts: d.counts.posts,
                replies: d.counts.replies,
                reactions: d.counts.reactions,
            })
            .collect(),
        mix: m
            .departments
            .iter()
            .map(|d| MixRow {
                department: d.department.clone(),
                posts: d.counts.posts,
                replies: d.counts.replies,
                reactions: d.counts.reactions,
            })
            .collect(),
        heatmap: heat
            .into_iter()
            .map(|((weekday, hour), events)| HeatRow {
                weekday,
                hour,
                events,
            })
            .collect(),
        active_windows: windows
            .into_iter()
            .map(|(id, (name, first, last))| WindowRow {
                user_id: id.to_string(),
                user_name: name,
                days: first.len(),
                median_first: median_text(first),
                median_last: median_text(last),
            })
            .collect(),
        week_over_week: m
            .week_over_week
            .iter()
            .map(|c| WowRow {
                scope: c.scope,
                id: c.id.clone(),
                name: c.name.clone(),
                events_now: total(&c.now),
                events_before: total(&c.before),
                active_now: c.now.active_members,
                active_before: c.before.active_members,
            })
            .collect(),
        options,
    }
}

/// The figures for `q`, computed once per [`EngagementKey`]: concurrent requests for the same
/// key wait for one computation, later ones are answered from memory until a sync (or any other
/// change to the insight tables) or an edit of insight.json makes it a different key.
pub async fn fetch(
    state: &AppState,
    q: EngagementQuery,
) -> AppResult<(EngagementKey, Arc<Engagement>)> {
    let dir = state.settings.config.clone();
    let key_q = q.clone();
    let key = state
        .read(move |s| {
            let (cfg, config) = read_config(&dir)?.ok_or_else(|| no_insight_config(&dir))?;
            Ok(EngagementKey {
                generation: s.insight_generation()?,
                config,
                today: insight::time::today(&cfg.tz),
                since: set(&key_q.since).map(str::to_string),
                until: set(&key_q.until).map(str::to_string),
                department: set(&key_q.department).map(str::to_string),
                channels: list(&key_q.channels),
                users: list(&key_q.users),
            })
        })
        .await?;
    let today = key.today;
    let dir = state.settings.config.clone();
    let e = state
        .engagement_cache
        .get_or_insert_async(&key, async move {
            state
                .read(move |s| load(s, &dir, &q, today).map(Arc::new))
                .await
        })
        .await?;
    Ok((key, e))
}

/// The JSON answer: the page with the leaderboard cursor-paginated (`cursor` = rows seen).
#[derive(Debug, Serialize)]
struct ApiAnswer<'a> {
    period: &'a PeriodView,
    cohort: &'a CohortView,
    leaderboard: crate::controllers::helpers::Page<&'a Leader>,
    channels: &'a [ChannelRow],
    channel_days: &'a [ChannelDayRow],
    mix: &'a [MixRow],
    heatmap: &'a [HeatRow],
    active_windows: &'a [WindowRow],
    week_over_week: &'a [WowRow],
    options: &'a Options,
}

async fn api(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<EngagementQuery>,
) -> AppResult<Response> {
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(AppError::BadRequest(format!(
                "limit {n} is out of range: use 1 to {MAX_LIMIT}"
            )));
        }
    };
    let skip: usize = match set(&q.cursor) {
        None => 0,
        Some(c) => c.parse().map_err(|_| {
            AppError::BadRequest(format!("cursor {c:?} is not one this server gave out"))
        })?,
    };
    let csv_table = (q.format.as_deref() == Some("csv"))
        .then(|| set(&q.table).unwrap_or("leaderboard").to_string());
    if let Some(t) = &csv_table
        && !TABLES.contains(&t.as_str())
    {
        return Err(AppError::BadRequest(format!(
            "table {t:?} is not one of {}",
            TABLES.join(", ")
        )));
    }
    let (key, e) = fetch(&state, q).await?;
    if let Some(t) = csv_table {
        return Ok(csv(&e, &t));
    }
    // The same figures and page of the leaderboard give the same bytes: serialised once.
    let body = state
        .rendered
        .get_or_render(format!("engagement-api|{key:?}|{skip}|{limit}"), || {
            serde_json::to_vec(&api_answer(&e, skip, limit))
                .map(Into::into)
                .map_err(|err| AppError::Internal(format!("serialising: {err}")))
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

fn api_answer(e: &Engagement, skip: usize, limit: usize) -> ApiAnswer<'_> {
    let total = e.leaderboard.len();
    let items: Vec<&Leader> = e.leaderboard.iter().skip(skip).take(limit).collect();
    ApiAnswer {
        period: &e.period,
        cohort: &e.cohort,
        leaderboard: crate::controllers::helpers::Page {
            items,
            next_cursor: (skip + limit < total).then(|| (skip + limit).to_string()),
        },
        channels: &e.channels,
        channel_days: &e.channel_days,
        mix: &e.mix,
        heatmap: &e.heatmap,
        active_windows: &e.active_windows,
        week_over_week: &e.week_over_week,
        options: &e.options,
    }
}

/// The tables `?format=csv&table=` offers, in page order.
pub const TABLES: &[&str] = &[
    "leaderboard",
    "channels",
    "channel_days",
    "mix",
    "heatmap",
    "active_windows",
    "week_over_week",
];

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

/// The rows of one table, as the page shows them (header, rows).
fn table(e: &Engagement, name: &str) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let n = |x: u64| x.to_string();
    match name {
        "channels" => (
            vec![
                "channel_id",
                "channel",
                "members",
                "active_members",
                "posts",
                "replies",
                "reactions",
                "median_reply_latency_s",
                "avg_score",
            ],
            e.channels
                .iter()
                .map(|c| {
                    vec![
                        c.channel_id.clone(),
                        c.channel_name.clone(),
                        n(c.members),
                        n(c.active_members),
                        n(c.posts),
                        n(c.replies),
                        n(c.reactions),
                        c.median_reply_latency_s.map(f2).unwrap_or_default(),
                        f2(c.avg_score),
                    ]
                })
                .collect(),
        ),
        "channel_days" => (
            vec![
                "date",
                "channel_id",
                "channel",
                "active_members",
                "posts",
                "replies",
                "reactions",
            ],
            e.channel_days
                .iter()
                .map(|d| {
                    vec![
                        d.date.clone(),
                        d.channel_id.clone(),
                        d.channel_name.clone(),
                        n(d.active_members),
                        n(d.posts),
                        n(d.replies),
                        n(d.reactions),
                    ]
                })
                .collect(),
        ),
        "mix" => (
            vec!["department", "posts", "replies", "reactions"],
            e.mix
                .iter()
                .map(|r| {
                    vec![
                        r.department.clone(),
                        n(r.posts),
                        n(r.replies),
                        n(r.reactions),
                    ]
                })
                .collect(),
        ),
        "heatmap" => (
            vec!["weekday", "hour", "events"],
            e.heatmap
                .iter()
                .map(|h| {
                    vec![
                        WEEKDAYS[usize::from(h.weekday.min(6))].to_string(),
                        h.hour.to_string(),
                        n(h.events),
                    ]
                })
                .collect(),
        ),
        "active_windows" => (
            vec!["user_id", "user", "days", "median_first", "median_last"],
            e.active_windows
                .iter()
                .map(|w| {
                    vec![
                        w.user_id.clone(),
                        w.user_name.clone(),
                        w.days.to_string(),
                        w.median_first.clone(),
                        w.median_last.clone(),
                    ]
                })
                .collect(),
        ),
        "week_over_week" => (
            vec![
                "scope",
                "id",
                "name",
                "events_now",
                "events_before",
                "active_now",
                "active_before",
            ],
            e.week_over_week
                .iter()
                .map(|w| {
                    vec![
                        w.scope.to_string(),
                        w.id.clone(),
                        w.name.clone(),
                        n(w.events_now),
                        n(w.events_before),
                        n(w.active_now),
                        n(w.active_before),
                    ]
                })
                .collect(),
        ),
        _ => (
            vec![
                "rank",
                "user_id",
                "user",
                "department",
                "channels",
                "posts",
                "replies",
                "reactions",
                "participation_score",
            ],
            e.leaderboard
                .iter()
                .map(|l| {
                    vec![
                        l.rank.to_string(),
                        l.user_id.clone(),
                        l.user_name.clone(),
                        l.department.clone().unwrap_or_default(),
                        l.channels.to_string(),
                        n(l.posts),
                        n(l.replies),
                        n(l.reactions),
                        f2(l.participation_score),
                    ]
                })
                .collect(),
        ),
    }
}

fn csv(e: &Engagement, name: &str) -> Response {
    let (header, rows) = table(e, name);
    csv_response(
        &format!(
            "engagement-{name}-{}-{}.csv",
            e.period.since, e.period.until
        ),
        &header,
        rows,
    )
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<EngagementQuery>,
) -> AppResult<Response> {
    let filters = q.filters();
    let rows = q.page_rows()?;
    let (key, e) = fetch(&state, q.clone()).await?;
    // Everything below the header, rendered once per figures and form values.
    let content = state
        .rendered
        .get_or_render(format!("engagement|{key:?}|{q:?}"), || {
            Ok(render(&e, &q, &filters, rows).into_string().into())
        })
        .await?;
    let content = PreEscaped(crate::rendered::as_html(&content)?.to_string());
    Ok(layout::page("Engagement", Some(&viewer), content).into_response())
}

/// One table as on the page: its heading, download links and rows (the same as the CSV's).
/// `cap`: the rows shown (`None`: all); a capped table says so and links to the rest.
fn table_html(
    e: &Engagement,
    name: &str,
    title: &str,
    filters: &str,
    cap: Option<usize>,
) -> Markup {
    let (header, rows) = table(e, name);
    let amp = if filters.is_empty() { "" } else { "&" };
    let shown = cap.map_or(rows.len(), |c| c.min(rows.len()));
    html! {
        h2 id={"h-" (name)} { (title) }
        p.links {
            a href={"/api/v1/engagement?" (filters) (amp) "format=csv&table=" (name)} { "CSV" }
        }
        @if rows.is_empty() { p.muted { "Nothing in this period for this cohort." } } @else {
            table id=(name) {
                thead { tr { @for h in &header { th { (h.replace('_', " ")) } } } }
                tbody { @for r in &rows[..shown] { tr { @for c in r { td { (c) } } } } }
            }
            @if shown < rows.len() {
                p.muted.more data-table=(name) {
                    "The first " (shown) " of " (rows.len()) " rows. "
                    a href={"/engagement?" (filters) (amp) "rows=all#h-" (name)} { "Show all" }
                    " (every table), or download the CSV."
                }
            }
        }
    }
}

fn render(e: &Engagement, q: &EngagementQuery, filters: &str, cap: Option<usize>) -> Markup {
    let amp = if filters.is_empty() { "" } else { "&" };
    html! {
        form method="get" action="/engagement" id="cohort" class="filters" {
            label { "Since " input type="date" name="since" value=(e.period.since); }
            label { "Until " input type="date" name="until" value=(e.period.until); }
            label { "Department "
                select name="department" {
                    option value="" { "(all)" }
                    @for d in &e.options.departments {
                        option value=(d) selected[e.cohort.department.as_deref() == Some(d.as_str())] { (d) }
                    }
                }
            }
            label { "Channels " input type="text" name="channels" placeholder="all; or names, comma-separated" value=[set(&q.channels)] list="channel-names"; }
            datalist id="channel-names" { @for c in &e.options.channels { option value=(c) {} } }
            label { "Users " input type="text" name="users" placeholder="all; or usernames, comma-separated" value=[set(&q.users)]; }
            button type="submit" { "Show" }
        }
        p.muted {
            (e.period.since) " to " (e.period.until) " (" (e.period.timezone) "), compared with "
            (e.period.previous_since) " to " (e.period.previous_until) ". "
            a href={"/api/v1/engagement?" (filters)} { "JSON" }
            " · Channels: "
            @if e.cohort.channels.is_empty() { "all shown" } @else { (e.cohort.channels.join(", ")) }
            " · Users: "
            @if e.cohort.users.is_empty() { "everyone" } @else { (e.cohort.users.join(", ")) }
        }
        p.muted { "People who opted out and private channels not opted in are left out of every figure; message text is never shown." }
        (table_html(e, "leaderboard", "Leaderboard (participation score)", filters, cap))
        h2 { "Channel activity over time" }
        p.links { a href={"/api/v1/engagement?" (filters) (amp) "format=csv&table=channel_days"} { "CSV" } }
        (activity_chart(e))
        (table_html(e, "channels", "Channels and reply latency", filters, cap))
        (table_html(e, "mix", "Interaction mix", filters, cap))
        (mix_bars(e))
        h2 { "Hour x weekday" }
        p.links { a href={"/api/v1/engagement?" (filters) (amp) "format=csv&table=heatmap"} { "CSV" } }
        (heatmap_svg(e))
        (table_html(e, "active_windows", "Active windows", filters, cap))
        (table_html(e, "week_over_week", "Week over week", filters, cap))
    }
}

/// Posts + replies + reactions per day, one line per channel (the busiest [`CHART_CHANNELS`]).
fn activity_chart(e: &Engagement) -> Markup {
    let mut days: Vec<&str> = e.channel_days.iter().map(|d| d.date.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    let mut busiest: Vec<&ChannelRow> = e.channels.iter().collect();
    busiest.sort_by_key(|c| std::cmp::Reverse(c.posts + c.replies + c.reactions));
    busiest.truncate(CHART_CHANNELS);
    if days.is_empty() || busiest.is_empty() {
        return html! { p.muted { "No channel in this period." } };
    }
    let series: Vec<(&ChannelRow, Vec<u64>)> = busiest
        .iter()
        .map(|c| {
            let mut v = vec![0; days.len()];
            for d in e
                .channel_days
                .iter()
                .filter(|d| d.channel_id == c.channel_id)
            {
                if let Ok(i) = days.binary_search(&d.date.as_str()) {
                    v[i] = d.posts + d.replies + d.reactions;
                }
            }
            (*c, v)
        })
        .collect();
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, bottom, top) = (720.0, 180.0, 44.0, 24.0, 10.0);
    // Room on the right for the last date label.
    let plot_w = w - left - 36.0;
    let plot_h = h - bottom - top;
    let x = |i: usize| {
        if days.len() == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (days.len() - 1) as f64
        }
    };
    let y = |v: u64| top + plot_h * (1.0 - v as f64 / max as f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg id="activity-chart" viewBox="0 0 {w} {h}" role="img" aria-label="events per day per channel" xmlns="http://www.w3.org/2000/svg">"##
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#999"/><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#999"/>"##,
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="end">{max}</text><text x="{}" y="{}" font-size="11" text-anchor="end">0</text>"##,
        left - 4.0,
        top + 10.0,
        left - 4.0,
        top + plot_h
    );
    let label_every = days.len().div_ceil(8).max(1);
    for (i, d) in days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % label_every == 0)
    {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            x(i),
            h - 6.0,
            escape(d)
        );
    }
    for (k, (c, v)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{:.1},{:.1}", x(i), y(*n)))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
            points.join(" "),
            escape(&c.channel_name)
        );
    }
    svg.push_str("</svg>");
    html! {
        div.chart { (PreEscaped(svg)) }
        ul.legend { @for (k, (c, _)) in series.iter().enumerate() {
            li { svg width="12" height="12" { rect width="12" height="12" fill=(COLOURS[k % COLOURS.len()]) {} } " " (c.channel_name) }
        } }
    }
}

/// Text for SVG built as a string (maud escapes everything else on the page).
fn escape(s: &str) -> String {
    let mut out = String::new();
    let _ = maud::Escaper::new(&mut out).write_str(s);
    out
}

/// Posts, replies and reactions of the whole cohort as one bar of shares.
fn mix_bars(e: &Engagement) -> Markup {
    let (p, r, x) = e.mix.iter().fold((0u64, 0u64, 0u64), |a, m| {
        (a.0 + m.posts, a.1 + m.replies, a.2 + m.reactions)
    });
    let t = p + r + x;
    if t == 0 {
        return html! {};
    }
    let share = |v: u64| 600.0 * v as f64 / t as f64;
    let (wp, wr) = (share(p), share(r));
    html! {
        svg id="mix-bar" viewBox="0 0 600 24" width="600" height="24" role="img" aria-label="interaction mix" {
            rect x="0" y="0" width=(format!("{wp:.1}")) height="24" fill=(COLOURS[0]) { title { "posts " (p) } }
            rect x=(format!("{wp:.1}")) y="0" width=(format!("{wr:.1}")) height="24" fill=(COLOURS[1]) { title { "replies " (r) } }
            rect x=(format!("{:.1}", wp + wr)) y="0" width=(format!("{:.1}", share(x))) height="24" fill=(COLOURS[2]) { title { "reactions " (x) } }
        }
        p.muted {
            "posts " (p) " (" (format!("{:.0}", 100.0 * p as f64 / t as f64)) "%), replies " (r) " ("
            (format!("{:.0}", 100.0 * r as f64 / t as f64)) "%), reactions " (x) " ("
            (format!("{:.0}", 100.0 * x as f64 / t as f64)) "%)"
        }
    }
}

/// Posts and replies by weekday (rows) and local hour (columns); darker is busier.
fn heatmap_svg(e: &Engagement) -> Markup {
    let max = e.heatmap.iter().map(|h| h.events).max().unwrap_or(0);
    if max == 0 {
        return html! { p.muted { "No post or reply in this period for this cohort." } };
    }
    let (cw, ch, left, top) = (26.0, 20.0, 36.0, 16.0);
    let cell = |wd: u8, hr: u8| {
        e.heatmap
            .iter()
            .find(|h| h.weekday == wd && h.hour == hr)
            .map_or(0, |h| h.events)
    };
    html! {
        div.chart { svg id="heatmap" viewBox={"0 0 " (left + 24.0 * cw) " " (top + 7.0 * ch + 4.0)} role="img" aria-label="posts and replies by weekday and hour" {
            @for hr in (0u8..24).step_by(3) {
                text x=(left + f64::from(hr) * cw + cw / 2.0) y="12" font-size="10" text-anchor="middle" { (format!("{hr:02}")) }
            }
            @for wd in 0u8..7 {
                text x="0" y=(top + f64::from(wd) * ch + 14.0) font-size="11" { (WEEKDAYS[usize::from(wd)]) }
                @for hr in 0u8..24 {
                    @let n = cell(wd, hr);
                    rect x=(left + f64::from(hr) * cw) y=(top + f64::from(wd) * ch) width=(cw - 2.0) height=(ch - 2.0)
                        fill="#2563eb" fill-opacity=(format!("{:.2}", if n == 0 { 0.04 } else { 0.15 + 0.85 * n as f64 / max as f64 })) {
                        title { (WEEKDAYS[usize::from(wd)]) " " (format!("{hr:02}")) ":00 " (n) }
                    }
                }
            }
        } }
    }
}
