//! Team and Engagement pages against the real binary and a real SQLite file: status codes, JSON
//! shapes, pagination, cohort filters, CSV equal to the page, and the privacy rules (a person in
//! the current opt_out_users and a private channel not opted in appear nowhere).

mod common;

use common::insight::{PERIOD, fixture};
use serde_json::{Value, json};

async fn text(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn team_lists_roster_identities_and_gaps_with_paging_and_csv() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let b = &panel.base;

    let all = common::get_json(&c, &format!("{b}/api/v1/team")).await;
    let items = all["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(all["next_cursor"], Value::Null);
    assert!(all["run_id"].as_i64().is_some());
    let ann = &items[0];
    assert_eq!(ann["handle"], "ann");
    assert_eq!(ann["role"], "required");
    assert_eq!(ann["status"], "active");
    assert_eq!(ann["department"], "eng");
    assert_eq!(ann["slack"]["status"], "matched");
    assert_eq!(ann["slack"]["user_id"], "U1");
    assert_eq!(ann["telegram"]["configured"], json!(["ann_tg"]));
    // The latest run misses ann in the group named EVIL (C3): linked to its Group page.
    assert_eq!(
        ann["missing_from"],
        json!([{"platform": "slack", "group_id": "C3", "group_name": common::EVIL,
                "href": "/groups/slack/C3"}])
    );
    assert_eq!(items[1]["slack"]["user_id"], "U2");
    assert_eq!(items[1]["missing_from"][0]["group_id"], "C2");
    assert_eq!(items[2]["status"], "inactive");
    assert_eq!(items[2]["role"], "optional");
    // Not among the stored Slack users, and the latest audit did not resolve them either.
    assert_eq!(items[2]["slack"]["status"], "unmatched");
    assert_eq!(items[2]["slack"]["user_id"], Value::Null);
    assert_eq!(
        items[2]["slack"]["note"],
        "the latest audit did not resolve them to one user"
    );

    // Paging: one at a time, in team.json order.
    let p1 = common::get_json(&c, &format!("{b}/api/v1/team?limit=1")).await;
    assert_eq!(p1["items"][0]["handle"], "ann");
    assert_eq!(p1["next_cursor"], "1");
    let p2 = common::get_json(&c, &format!("{b}/api/v1/team?limit=1&cursor=1")).await;
    assert_eq!(p2["items"][0]["handle"], "bob");
    let p3 = common::get_json(&c, &format!("{b}/api/v1/team?limit=2&cursor=2")).await;
    assert_eq!(p3["items"].as_array().expect("items").len(), 1);
    assert_eq!(p3["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=501", "cursor=abc", "bogus=1"] {
        let (status, _) = text(&c, &format!("{b}/api/v1/team?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }

    let (status, csv) = text(&c, &format!("{b}/api/v1/team?format=csv")).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "handle,name,role,status,department,slack,telegram,missing_from"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("ann,Ann Ames,required,active,eng,matched U1 (ann),"));

    let (status, html) = text(&c, &format!("{b}/team")).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/groups/slack/C3""#));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!html.contains(common::EVIL));
    assert!(html.contains(r#"href="/team""#) && html.contains(r#"href="/engagement""#));
}

/// The rows of the HTML table with id `id` (cell texts), for comparing with its CSV.
fn html_rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("table {id}"));
    let body = &html[start..];
    let body = &body[body.find("<tbody>").expect("tbody")..body.find("</tbody>").expect("end")];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn engagement_cohorts_paging_and_csv_equal_to_the_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let b = &panel.base;

    let e = common::get_json(&c, &format!("{b}/api/v1/engagement?{PERIOD}")).await;
    assert_eq!(e["period"]["since"], "2026-01-05");
    assert_eq!(e["period"]["previous_until"], "2026-01-04");
    let board = e["leaderboard"]["items"].as_array().expect("items");
    let ids: Vec<&str> = board
        .iter()
        .map(|l| l["user_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["U1", "U2"], "ann is the most active; zed is hidden");
    assert_eq!(
        board[0]["posts"], 4,
        "two posts in each of the two shown channels"
    );
    assert_eq!(board[0]["channels"], 2);
    let channels: Vec<&str> = e["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["channel_name"].as_str().expect("name"))
        .collect();
    assert_eq!(channels, ["general", "leads"]);
    // Channel totals without the hidden person: 2 posts (ann), 1 reply (bob), no reaction; the
    // thread zed replied in is not measured.
    let general = &e["channels"][0];
    assert_eq!(
        (
            &general["posts"],
            &general["replies"],
            &general["reactions"]
        ),
        (&json!(2), &json!(1), &json!(0))
    );
    assert_eq!(general["members"], 2);
    assert_eq!(general["median_reply_latency_s"], Value::Null);
    let day = e["channel_days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|d| d["channel_name"] == "general" && d["date"] == "2026-01-06")
        .expect("day row");
    assert_eq!(
        (&day["posts"], &day["active_members"]),
        (&json!(2), &json!(2))
    );
    let heat: u64 = e["heatmap"]
        .as_array()
        .expect("heat")
        .iter()
        .map(|h| h["events"].as_u64().expect("n"))
        .sum();
    assert_eq!(heat, 6, "ann's 2 posts and bob's reply in two channels");
    assert!(
        e["heatmap"]
            .as_array()
            .expect("heat")
            .iter()
            .all(|h| h["weekday"] == 1)
    );
    assert_eq!(e["options"]["departments"], json!(["eng", "sales"]));

    // Cohorts: a department, a channel, a user.
    let dept = common::get_json(
        &c,
        &format!("{b}/api/v1/engagement?{PERIOD}&department=sales"),
    )
    .await;
    assert_eq!(dept["leaderboard"]["items"][0]["user_id"], "U2");
    assert_eq!(
        dept["leaderboard"]["items"]
            .as_array()
            .expect("items")
            .len(),
        1
    );
    assert_eq!(
        dept["mix"],
        json!([{"department": "sales", "posts": 0, "replies": 2, "reactions": 0}])
    );
    let chan = common::get_json(
        &c,
        &format!("{b}/api/v1/engagement?{PERIOD}&channels=%23leads"),
    )
    .await;
    assert_eq!(chan["channels"].as_array().expect("c").len(), 1);
    assert_eq!(chan["leaderboard"]["items"][0]["channels"], 1);
    assert_eq!(chan["cohort"]["channels"], json!(["leads"]));
    let user = common::get_json(
        &c,
        &format!("{b}/api/v1/engagement?{PERIOD}&users=Bob+Brown"),
    )
    .await;
    assert_eq!(
        user["leaderboard"]["items"]
            .as_array()
            .expect("items")
            .len(),
        1
    );
    assert_eq!(user["active_windows"][0]["user_id"], "U2");
    assert_eq!(user["active_windows"][0]["median_first"], "12:00");

    // Leaderboard paging.
    let p1 = common::get_json(&c, &format!("{b}/api/v1/engagement?{PERIOD}&limit=1")).await;
    assert_eq!(p1["leaderboard"]["items"][0]["user_id"], "U1");
    assert_eq!(p1["leaderboard"]["next_cursor"], "1");
    let p2 = common::get_json(
        &c,
        &format!("{b}/api/v1/engagement?{PERIOD}&limit=1&cursor=1"),
    )
    .await;
    assert_eq!(p2["leaderboard"]["items"][0]["user_id"], "U2");
    assert_eq!(p2["leaderboard"]["next_cursor"], Value::Null);

    for (bad, says) in [
        ("since=2026-13-01", "YYYY-MM-DD"),
        ("since=2026-01-07&until=2026-01-01", "after"),
        ("since=2024-01-01&until=2026-01-01", "at most"),
        ("channels=secret-plans", "not a synced channel"),
        ("channels=nope", "not a synced channel"),
        ("users=zed.optout", "not a stored user"),
        ("format=csv&table=secrets", "not one of"),
        ("limit=0", "out of range"),
        ("cursor=x", "not one this server"),
    ] {
        let (status, body) = text(&c, &format!("{b}/api/v1/engagement?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains(says), "{bad}: {body}");
    }

    // Every table's CSV holds exactly the rows the page shows, with the same filters.
    let filters = format!("{PERIOD}&department=eng&channels=general%2Cleads");
    let (status, html) = text(&c, &format!("{b}/engagement?{filters}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg id=\"activity-chart\""));
    assert!(html.contains("<svg id=\"heatmap\""));
    assert!(
        html.contains(r#"<option value="eng" selected>eng</option>"#),
        "the form keeps the cohort"
    );
    for t in [
        "leaderboard",
        "channels",
        "channel_days",
        "mix",
        "heatmap",
        "active_windows",
        "week_over_week",
    ] {
        assert!(
            html.contains(&format!("format=csv&amp;table={t}\"")),
            "CSV link of {t}"
        );
        let (status, csv) = text(
            &c,
            &format!("{b}/api/v1/engagement?{filters}&format=csv&table={t}"),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        if html.contains(&format!("<table id=\"{t}\">")) {
            assert_eq!(csv_rows(&csv), html_rows(&html, t), "{t}");
        }
    }
    let (_, lead_csv) = text(&c, &format!("{b}/api/v1/engagement?{filters}&format=csv")).await;
    let rows = csv_rows(&lead_csv);
    assert_eq!(rows.len(), 1, "eng is only ann: {rows:?}");
    assert_eq!(rows[0][1], "U1");
}

#[tokio::test]
async fn an_opted_out_person_and_a_private_channel_not_opted_in_appear_nowhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let b = &panel.base;
    let mut urls = vec![
        format!("{b}/team"),
        format!("{b}/api/v1/team"),
        format!("{b}/api/v1/team?format=csv"),
        format!("{b}/engagement?{PERIOD}"),
        format!("{b}/engagement"),
        format!("{b}/api/v1/engagement?{PERIOD}"),
    ];
    for t in [
        "leaderboard",
        "channels",
        "channel_days",
        "mix",
        "heatmap",
        "active_windows",
        "week_over_week",
    ] {
        urls.push(format!(
            "{b}/api/v1/engagement?{PERIOD}&format=csv&table={t}"
        ));
    }
    for url in &urls {
        let (status, body) = text(&c, url).await;
        assert_eq!(status, 200, "{url}");
        for secret in ["U9", "zed", "Zed", "zedteam", "secret-plans", "C2\""] {
            if secret == "C2\"" && url.contains("team") {
                continue; // C2 is also an audit group ID in the team data.
            }
            assert!(!body.contains(secret), "{secret} in {url}");
        }
    }
    // The private channel stays out even when asked for by ID.
    let (status, _) = text(&c, &format!("{b}/api/v1/engagement?{PERIOD}&channels=C2")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn engagement_without_insight_json_says_where_it_looked() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = common::seeded_store(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let (status, body) = text(&c, &format!("{}/engagement", panel.base)).await;
    assert_eq!(status, 503);
    assert!(
        body.contains("no insight.json in") && body.contains("--config"),
        "{body}"
    );
    let (status, body) = text(&c, &format!("{}/api/v1/team", panel.base)).await;
    assert_eq!(status, 503);
    assert!(body.contains("team.json"), "{body}");
}

/// On this fixture (threads, three channels, a private one) the panel's read-only way of hiding
/// an opted-out person gives insight-report's figures (a purge inside a rolled-back transaction).
#[test]
fn hidden_users_give_the_figures_of_the_rolled_back_purge() {
    use insight::{Cohort, Period};
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let store = store::Store::open(&db).expect("open");
    let period = Period {
        since: "2026-01-05".parse().expect("day"),
        until: "2026-01-07".parse().expect("day"),
    };
    let utc = jiff::tz::TimeZone::UTC;
    let ids = vec!["U9".to_string()];
    let purged = store
        .insight_without_users(&ids, |s| {
            insight::compute(s, period, &Cohort::default(), &utc, "UTC")
        })
        .expect("transaction")
        .expect("metrics");
    let hidden = Cohort {
        hidden_users: ids.iter().cloned().collect(),
        ..Cohort::default()
    };
    let read_only = insight::compute(&store, period, &hidden, &utc, "UTC").expect("metrics");
    assert_eq!(read_only.user_channel, purged.user_channel);
    assert_eq!(read_only.channels, purged.channels);
    assert_eq!(read_only.channel_days, purged.channel_days);
    assert_eq!(read_only.departments, purged.departments);
    assert_eq!(read_only.heatmap, purged.heatmap);
    assert_eq!(read_only.active_windows, purged.active_windows);
    assert_eq!(read_only.week_over_week, purged.week_over_week);
    // The thread U9 replied in is not measured either way; with U9 it is.
    assert!(
        read_only
            .channels
            .iter()
            .all(|c| c.counts.median_reply_latency_s.is_none())
    );
    let with = insight::compute(&store, period, &Cohort::default(), &utc, "UTC").expect("metrics");
    assert!(
        with.channels
            .iter()
            .all(|c| c.counts.median_reply_latency_s == Some(7200.0))
    );
    // The file is unchanged: U9 is still stored for the next sync to erase.
    assert!(store.insight_user_stored("U9").expect("reads"));
}

/// Engagement answers are kept in memory between requests; a person erased from the store
/// (`purge-user`, an opt-out applied by a sync) or added to `opt_out_users` after a page was
/// served must be gone from the very next answer, not from some later one.
#[tokio::test]
async fn a_person_purged_or_opted_out_after_a_page_was_served_is_gone_from_the_next() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let url = format!("{}/api/v1/engagement?{PERIOD}", panel.base);
    let ids = |e: &Value| -> Vec<String> {
        e["leaderboard"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| l["user_id"].as_str().expect("id").to_string())
            .collect()
    };
    let first = common::get_json(&c, &url).await;
    assert_eq!(ids(&first), ["U1", "U2"]);
    assert_eq!(
        common::get_json(&c, &url).await,
        first,
        "asked again, the same answer"
    );

    // Another process (insight-sync purge-user) erases bob while the panel runs.
    store::Store::open(&db)
        .expect("opens")
        .insight_purge_user("U2", &|_| None)
        .expect("purges");
    let after_purge = common::get_json(&c, &url).await;
    assert_eq!(ids(&after_purge), ["U1"], "{after_purge}");
    assert!(!after_purge.to_string().contains("bob"), "{after_purge}");

    // ann is opted out in insight.json; no sync has run since.
    let cfg = dir.path().join("insight.json");
    let mut j: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).expect("reads")).expect("json");
    j["opt_out_users"] = json!(["U9", "U1"]);
    std::fs::write(&cfg, j.to_string()).expect("writes");
    let after_opt_out = common::get_json(&c, &url).await;
    assert_eq!(ids(&after_opt_out), Vec::<String>::new(), "{after_opt_out}");
    assert!(
        !after_opt_out.to_string().contains("Ann"),
        "{after_opt_out}"
    );
}

/// Someone marked inactive in team.json since the latest audit is required nowhere now: the Team
/// page does not list the gaps that run found for them.
#[tokio::test]
async fn a_member_made_inactive_since_the_latest_run_has_no_gaps_listed() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let team = dir.path().join("team.json");
    let panel = common::start(&db, None);
    let c = common::client();
    let url = format!("{}/api/v1/team", panel.base);
    let before = common::get_json(&c, &url).await;
    assert_eq!(before["items"][1]["handle"], "bob");
    assert_eq!(before["items"][1]["missing_from"][0]["group_id"], "C2");

    let mut j: Value =
        serde_json::from_str(&std::fs::read_to_string(&team).expect("reads")).expect("json");
    j["members"][1]["status"] = json!("inactive");
    std::fs::write(&team, j.to_string()).expect("writes");
    let after = common::get_json(&c, &url).await;
    assert_eq!(after["items"][1]["status"], "inactive");
    assert_eq!(after["items"][1]["missing_from"], json!([]), "{after}");
}

/// A table on the Engagement page shows `rows=` rows (default 100), says how many there are and
/// links to all of them; the CSV always holds every row.
#[tokio::test]
async fn engagement_tables_show_the_first_rows_and_link_to_all() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = fixture(dir.path());
    let panel = common::start(&db, None);
    let c = common::client();
    let b = &panel.base;

    let (status, capped) = text(&c, &format!("{b}/engagement?{PERIOD}&rows=1")).await;
    assert_eq!(status, 200);
    assert_eq!(html_rows(&capped, "leaderboard").len(), 1);
    assert!(
        capped.contains("The first 1 of 2 rows.")
            && capped.contains(&format!(
                "href=\"/engagement?{}&amp;rows=all#h-leaderboard\"",
                PERIOD.replace('&', "&amp;")
            )),
        "{capped}"
    );
    let (_, all) = text(&c, &format!("{b}/engagement?{PERIOD}&rows=all")).await;
    let shown = html_rows(&all, "leaderboard");
    assert_eq!(shown.len(), 2);
    assert!(!all.contains("The first"), "nothing is left out");
    let (_, default) = text(&c, &format!("{b}/engagement?{PERIOD}")).await;
    assert_eq!(
        html_rows(&default, "leaderboard"),
        shown,
        "under 100 rows: all"
    );
    let (_, lead_csv) = text(
        &c,
        &format!("{b}/api/v1/engagement?{PERIOD}&format=csv&table=leaderboard"),
    )
    .await;
    assert_eq!(csv_rows(&lead_csv).len(), 2, "the CSV has every row");

    let (status, body) = text(&c, &format!("{b}/engagement?{PERIOD}&rows=0")).await;
    assert_eq!(status, 400);
    assert!(body.contains("positive number, or all"), "{body}");
}
