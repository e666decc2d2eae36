//! The self-contained HTML dashboard: one file, inline CSS, charts drawn here as inline SVG, no
//! scripts and no network, so it opens the same from a mail attachment as from a web server.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use insight::metrics::Metrics;
use report::html_escape as esc;

use crate::tables::WEEKDAYS;

const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
];
const CSS: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}\
.note{color:#666;font-size:12px}table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#2a7d2a}.down{color:#b22}\
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}\
.grid{display:flex;flex-wrap:wrap;gap:24px}";

/// Renders the dashboard.
pub fn render(m: &Metrics) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Slack engagement {} to {}</title><style>{CSS}</style></head><body>",
        m.period.since, m.period.until
    );
    let _ = write!(
        h,
        "<h1>Slack engagement</h1><div class=\"note\">{} to {} ({}), compared with {} to {}. \
         Active windows use posts and replies only: Slack gives reactions no time.</div>",
        m.period.since,
        m.period.until,
        esc(&m.timezone),
        m.previous.since,
        m.previous.until
    );
    h.push_str("<h2>Channel activity over time</h2>");
    h.push_str(&activity_chart(m));
    h.push_str("<h2>Interaction mix</h2>");
    h.push_str(&mix_chart(m));
    h.push_str("<h2>Hour of day × weekday, per team</h2><div class=\"grid\">");
    h.push_str(&heatmaps(m));
    h.push_str("</div><h2>Participation leaderboard</h2>");
    h.push_str(&leaderboard(m));
    h.push_str("<h2>Week over week</h2>");
    h.push_str(&week_over_week(m));
    h.push_str("</body></html>\n");
    h
}

fn activity_chart(m: &Metrics) -> String {
    // Top channels by total activity; one polyline each.
    let mut per: BTreeMap<&str, Vec<(String, u64)>> = BTreeMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for d in &m.channel_days {
        let c = &d.counts;
        per.entry(&d.channel_id)
            .or_default()
            .push((d.date.clone(), c.posts + c.replies + c.reactions));
        names.insert(&d.channel_id, &d.channel_name);
    }
    let mut ranked: Vec<(&str, u64)> = per
        .iter()
        .map(|(id, v)| (*id, v.iter().map(|x| x.1).sum()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.truncate(PALETTE.len());
    let days = m.period.days().max(1) as f64;
    let max = ranked
        .iter()
        .flat_map(|(id, _)| per[id].iter().map(|x| x.1))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, hgt, left, bottom) = (900.0, 260.0, 40.0, 24.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\" role=\"img\" aria-label=\"activity per day\">"
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#999\"/><text x=\"2\" y=\"14\" font-size=\"11\">{max}</text><text x=\"2\" y=\"{y}\" font-size=\"11\">0</text>",
        y = hgt - bottom
    );
    let x_of = |i: usize| left + (w - left - 10.0) * (i as f64 + 0.5) / days;
    let y_of = |v: u64| (hgt - bottom) - (hgt - bottom - 10.0) * v as f64 / max;
    if let Some((id, _)) = ranked.first() {
        for (i, (date, _)) in per[id].iter().enumerate() {
            if i % ((days as usize / 10).max(1)) == 0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                    x_of(i),
                    hgt - 6.0,
                    &date[5..]
                );
            }
        }
    }
    let mut legend = String::from("<div class=\"legend\">");
    for (k, (id, total)) in ranked.iter().enumerate() {
        let color = PALETTE[k];
        let points: Vec<String> = per[id]
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        let _ = write!(
            legend,
            "<span><i class=\"sw\" style=\"background:{color}\"></i>#{} ({total})</span>",
            esc(names.get(id).copied().unwrap_or(id))
        );
    }
    s.push_str("</svg>");
    legend.push_str("</div>");
    s + &legend
}

fn mix_chart(m: &Metrics) -> String {
    let colors = ["#4e79a7", "#f28e2b", "#59a14f"];
    let row_h = 22.0;
    let (label_w, bar_w) = (220.0, 600.0);
    let hgt = row_h * m.channels.len() as f64 + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{hgt}\" role=\"img\" aria-label=\"interaction mix\">",
        label_w + bar_w + 20.0
    );
    for (i, c) in m.channels.iter().enumerate() {
        let y = i as f64 * row_h;
        let k = &c.counts;
        let total = (k.posts + k.replies + k.reactions) as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">#{}</text>",
            y + 15.0,
            esc(&c.channel_name)
        );
        let mut x = label_w;
        for (j, v) in [k.posts, k.replies, k.reactions].into_iter().enumerate() {
            if total == 0.0 {
                break;
            }
            let wdt = bar_w * v as f64 / total;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{wdt:.1}\" height=\"{}\" fill=\"{}\"><title>{v}</title></rect>",
                y + 3.0,
                row_h - 6.0,
                colors[j]
            );
            x += wdt;
        }
    }
    let y = row_h * m.channels.len() as f64 + 18.0;
    for (j, label) in ["posts", "replies", "reactions"].iter().enumerate() {
        let x = label_w + j as f64 * 110.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{y}\" font-size=\"12\">{label}</text>",
            y - 9.0,
            colors[j],
            x + 14.0
        );
    }
    s.push_str("</svg>");
    s
}

fn heatmaps(m: &Metrics) -> String {
    let mut by: BTreeMap<&str, [[u64; 24]; 7]> = BTreeMap::new();
    for c in &m.heatmap {
        by.entry(&c.department).or_insert([[0; 24]; 7])[c.weekday as usize % 7]
            [c.hour as usize % 24] += c.events;
    }
    let mut out = String::new();
    for (dept, grid) in by {
        let max = grid.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
        let cell = 16.0;
        let mut s = format!(
            "<div><b>{}</b><br><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"heatmap\">",
            esc(dept),
            34.0 + 24.0 * cell,
            20.0 + 7.0 * cell
        );
        for (d, row) in grid.iter().enumerate() {
            let _ = write!(
                s,
                "<text x=\"0\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                d as f64 * cell + 12.0,
                WEEKDAYS[d]
            );
            for (hr, v) in row.iter().enumerate() {
                let a = *v as f64 / max;
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},{})\"><title>{} {hr}:00 {v}</title></rect>",
                    34.0 + hr as f64 * cell,
                    d as f64 * cell,
                    cell - 1.0,
                    cell - 1.0,
                    (240.0 - 200.0 * a) as u8,
                    (244.0 - 150.0 * a) as u8,
                    (250.0 - 80.0 * a) as u8,
                    WEEKDAYS[d]
                );
            }
        }
        for hr in (0..24).step_by(3) {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{hr}</text>",
                34.0 + hr as f64 * cell,
                7.0 * cell + 14.0
            );
        }
        s.push_str("</svg></div>");
        out.push_str(&s);
    }
    if out.is_empty() {
        out.push_str("<p class=\"note\">No posts or replies in the period.</p>");
    }
    out
}

fn leaderboard(m: &Metrics) -> String {
    let mut rows: Vec<_> = m.user_channel.iter().collect();
    rows.sort_by(|a, b| {
        b.participation_score
            .total_cmp(&a.participation_score)
            .then(a.user_id.cmp(&b.user_id))
    });
    let mut s = String::from(
        "<table><tr><th>#</th><th>User</th><th>Channel</th><th>Score</th><th></th><th>Posts</th><th>Replies</th><th>Reactions</th></tr>",
    );
    for (i, r) in rows.iter().take(20).enumerate() {
        let _ = write!(
            s,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>#{}</td><td class=\"n\">{:.1}</td><td><svg width=\"120\" height=\"10\"><rect width=\"{:.1}\" height=\"10\" fill=\"#4e79a7\"/></svg></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            esc(&r.user_name),
            esc(&r.channel_name),
            r.participation_score,
            1.2 * r.participation_score,
            r.posts,
            r.replies,
            r.reactions
        );
    }
    s.push_str("</table>");
    s
}

fn week_over_week(m: &Metrics) -> String {
    let mut s = String::from(
        "<table><tr><th>Scope</th><th>Name</th><th>Score</th><th>Change</th><th>Posts</th><th>Replies</th><th>Reactions</th><th>Active</th></tr>",
    );
    let delta = |now: f64, before: f64, digits: usize| {
        let d = now - before;
        let d = if d.abs() < 0.05 { 0.0 } else { d };
        let class = if d > 0.0 {
            "up"
        } else if d < 0.0 {
            "down"
        } else {
            ""
        };
        format!("<span class=\"{class}\">{d:+.digits$}</span>")
    };
    for w in &m.week_over_week {
        let (n, b) = (&w.now, &w.before);
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{} ({})</td><td class=\"n\">{} ({})</td><td class=\"n\">{} ({})</td><td class=\"n\">{} ({})</td></tr>",
            w.scope,
            esc(&w.name),
            n.avg_score,
            delta(n.avg_score, b.avg_score, 1),
            n.posts,
            delta(n.posts as f64, b.posts as f64, 0),
            n.replies,
            delta(n.replies as f64, b.replies as f64, 0),
            n.reactions,
            delta(n.reactions as f64, b.reactions as f64, 0),
            n.active_members,
            delta(n.active_members as f64, b.active_members as f64, 0)
        );
    }
    s.push_str("</table>");
    s
}
