//! The insight fixture the Team and Engagement tests share: the seeded audit store plus insight
//! data, team.json and insight.json in the store's directory (the panel's --config).

use std::path::{Path, PathBuf};

use serde_json::json;
use store::Store;
use store::insight::{
    ChannelBatch, ChannelSyncState, EventKind, InsightChannel, InsightEvent, InsightUser, ThreadRow,
};

/// 2026-01-06 10:00 UTC (a Tuesday).
pub const T0: i64 = 1_767_693_600_000_000;
pub const HOUR: i64 = 3_600_000_000;
pub const PERIOD: &str = "since=2026-01-05&until=2026-01-07";

fn ev(at_us: i64, kind: EventKind, user: &str, thread: Option<&str>) -> InsightEvent {
    let (day, hour) = insight::time::local_day_hour(at_us, &jiff::tz::TimeZone::UTC);
    InsightEvent {
        ts: format!("{}.{:06}", at_us / 1_000_000, at_us % 1_000_000),
        kind,
        user_id: user.into(),
        emoji: if kind == EventKind::Reaction {
            "eyes".into()
        } else {
            String::new()
        },
        at_us,
        day,
        hour,
        thread_ts: thread.map(str::to_string),
        text: None,
    }
}

/// The seeded audit store plus insight data: ann (U1, eng), bob (U2, sales), and zed (U9, opted
/// out in insight.json but not yet erased by a sync). Channels: `general` (public), `leads`
/// (private, opted in), `secret-plans` (private, not opted in).
pub fn fixture(dir: &Path) -> PathBuf {
    let db = super::seeded_store(dir);
    let mut store = Store::open(&db).expect("open");
    // The latest audit could not resolve cy on Slack (as slack-audit records it).
    store
        .conn()
        .execute(
            "UPDATE audit_runs SET results_json = json_set(results_json,
               '$.summary.unmatched_members', json('[\"cy (slack)\"]'))
             WHERE id = (SELECT max(id) FROM audit_runs)",
            [],
        )
        .expect("marks cy unmatched");
    let user = |id: &str, name: &str, display: &str, dept: &str| InsightUser {
        user_id: id.into(),
        name: name.into(),
        display_name: display.into(),
        department: Some(dept.into()),
        deleted: false,
        is_bot: false,
    };
    store
        .insight_upsert_users(&[
            user("U1", "ann", "Ann Ames", "eng"),
            user("U2", "bob", "Bob Brown", "sales"),
            user("U9", "zed.optout", "Zed Optout", "zedteam"),
        ])
        .expect("users");
    let everyone: Vec<String> = ["U1", "U2", "U9"].iter().map(|s| s.to_string()).collect();
    let chans = [
        ("C1", "general", false),
        ("C3", "leads", true),
        ("C2", "secret-plans", true),
    ];
    for (id, name, private) in chans {
        let ch = InsightChannel {
            channel_id: id.into(),
            name: name.into(),
            is_private: private,
            is_archived: false,
        };
        let events = [
            ev(T0, EventKind::Post, "U1", Some("1767693600.000000")),
            ev(T0 + HOUR, EventKind::Post, "U1", None),
            ev(
                T0 + 2 * HOUR,
                EventKind::Reply,
                "U2",
                Some("1767693600.000000"),
            ),
            ev(T0 + 3 * HOUR, EventKind::Post, "U9", None),
            ev(
                T0 + 4 * HOUR,
                EventKind::Reply,
                "U9",
                Some("1767693600.000000"),
            ),
            ev(T0, EventKind::Reaction, "U9", None),
        ];
        let threads = [ThreadRow {
            thread_ts: "1767693600.000000".into(),
            latest_reply: "1767708000.000000".into(),
            day: "2026-01-06".into(),
            latency_s: Some(7200.0),
        }];
        store
            .insight_store_channel(&ChannelBatch {
                channel: &ch,
                run_id: 1,
                taken_us: T0,
                members: &everyone,
                refetched_ts: &[],
                events: &events,
                threads: &threads,
                from_day: "2026-01-01",
                state: ChannelSyncState::default(),
            })
            .expect("batch");
    }
    std::fs::write(
        dir.join("insight.json"),
        json!({"opt_out_users": ["U9"], "private_channels_opt_in": ["leads"], "timezone": "UTC",
               "window_days": 7})
        .to_string(),
    )
    .expect("insight.json");
    std::fs::write(
        dir.join("team.json"),
        json!({"members": [
            {"handle": "ann", "name": "Ann Ames", "role": "required", "slack": ["ann"],
             "telegram": ["ann_tg"], "department": "eng"},
            {"handle": "bob", "name": "Bob Brown", "role": "required", "slack": ["U2"]},
            {"handle": "cy", "name": "Cy Cole", "role": "optional", "slack": ["nobody-here"],
             "status": "inactive"}
        ]})
        .to_string(),
    )
    .expect("team.json");
    db
}
