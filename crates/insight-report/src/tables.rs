//! Metrics as report tables: one [`Table`] per CSV file and xlsx sheet, with the file
//! names and leading columns.

use insight::metrics::{Counts, Metrics};
use report::{Cell, Row, Table};

fn opt(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, |x| Cell::Float((x * 10.0).round() / 10.0))
}

fn round1(v: f64) -> Cell {
    Cell::Float((v * 10.0).round() / 10.0)
}

fn int(v: u64) -> Cell {
    Cell::Int(v as i64)
}

/// `(file stem, table)` for every output, in sheet order.
pub fn tables(m: &Metrics) -> Vec<Table> {
    let mut uc = Table::new(
        "user_channel_metrics",
        [
            "user_id",
            "user_name",
            "channel_id",
            "channel_name",
            "posts",
            "replies",
            "reactions",
            "participation_score",
            "department",
            "posts_share",
            "replies_share",
            "reactions_share",
            "membership_share",
        ],
    );
    for r in &m.user_channel {
        let (p, re, x) = r.mix();
        uc.push(Row::new(vec![
            Cell::text(&r.user_id),
            Cell::text(&r.user_name),
            Cell::text(&r.channel_id),
            Cell::text(&r.channel_name),
            int(r.posts),
            int(r.replies),
            int(r.reactions),
            round1(r.participation_score),
            Cell::text(r.department.clone().unwrap_or_default()),
            Cell::Percent(p * 100.0),
            Cell::Percent(re * 100.0),
            Cell::Percent(x * 100.0),
            Cell::Percent(r.membership_share * 100.0),
        ]));
    }
    let mut aw = Table::new(
        "active_windows",
        ["user_id", "date", "first_ts", "last_ts", "user_name"],
    );
    for w in &m.active_windows {
        aw.push(Row::new(vec![
            Cell::text(&w.user_id),
            Cell::text(&w.date),
            Cell::text(&w.first_ts),
            Cell::text(&w.last_ts),
            Cell::text(&w.user_name),
        ]));
    }
    let counts_cols = [
        "members",
        "active_members",
        "posts",
        "replies",
        "reactions",
        "median_reply_latency_s",
    ];
    let counts = |c: &Counts| {
        vec![
            int(c.members),
            int(c.active_members),
            int(c.posts),
            int(c.replies),
            int(c.reactions),
            opt(c.median_reply_latency_s),
        ]
    };
    let mut cm = Table::new(
        "channel_metrics",
        ["channel_id", "channel_name", "private"]
            .into_iter()
            .chain(counts_cols)
            .chain(["avg_participation_score"]),
    );
    for c in &m.channels {
        let mut cells = vec![
            Cell::text(&c.channel_id),
            Cell::text(&c.channel_name),
            Cell::Bool(c.is_private),
        ];
        cells.extend(counts(&c.counts));
        cells.push(round1(c.counts.avg_score));
        cm.push(Row::new(cells));
    }
    let mut cd = Table::new(
        "channel_daily",
        ["channel_id", "channel_name", "date"]
            .into_iter()
            .chain(counts_cols),
    );
    for d in &m.channel_days {
        let mut cells = vec![
            Cell::text(&d.channel_id),
            Cell::text(&d.channel_name),
            Cell::text(&d.date),
        ];
        cells.extend(counts(&d.counts));
        cd.push(Row::new(cells));
    }
    let mut tm = Table::new(
        "team_metrics",
        [
            "department",
            "members",
            "active_members",
            "posts",
            "replies",
            "reactions",
            "avg_participation_score",
        ],
    );
    for d in &m.departments {
        let c = &d.counts;
        tm.push(Row::new(vec![
            Cell::text(&d.department),
            int(c.members),
            int(c.active_members),
            int(c.posts),
            int(c.replies),
            int(c.reactions),
            round1(c.avg_score),
        ]));
    }
    let mut hw = Table::new("hour_weekday", ["department", "weekday", "hour", "events"]);
    for h in &m.heatmap {
        hw.push(Row::new(vec![
            Cell::text(&h.department),
            Cell::text(WEEKDAYS[h.weekday as usize % 7]),
            Cell::Int(h.hour as i64),
            int(h.events),
        ]));
    }
    let mut wow = Table::new(
        "week_over_week",
        [
            "scope",
            "id",
            "name",
            "avg_participation_score",
            "prev_avg_participation_score",
            "score_change",
            "posts",
            "prev_posts",
            "replies",
            "prev_replies",
            "reactions",
            "prev_reactions",
            "active_members",
            "prev_active_members",
        ],
    );
    for w in &m.week_over_week {
        wow.push(Row::new(vec![
            Cell::text(w.scope),
            Cell::text(&w.id),
            Cell::text(&w.name),
            round1(w.now.avg_score),
            round1(w.before.avg_score),
            round1(w.now.avg_score - w.before.avg_score),
            int(w.now.posts),
            int(w.before.posts),
            int(w.now.replies),
            int(w.before.replies),
            int(w.now.reactions),
            int(w.before.reactions),
            int(w.now.active_members),
            int(w.before.active_members),
        ]));
    }
    vec![uc, aw, cm, cd, tm, hw, wow]
}

/// Weekday labels, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
