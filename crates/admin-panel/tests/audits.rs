//! The Audits and Group pages and their API, end to end: the real `admin-panel` binary over a
//! store written the way slack-audit writes it (`audit_run::engine::record`), or by slack-audit
//! itself against the demo slack-sim.

mod common;

use std::path::Path;

use audit::{AuditInput, GroupFinding, Platform};
use audit_run::AuditRun;
use common::*;
use roster::{AuditConfig, Resolution};
use serde_json::Value;
use store::Store;

const TEAM: &str = r#"{"members": [
  {"handle": "ann", "name": "Ann A", "role": "required", "slack": ["U_ANN"]},
  {"handle": "bob", "name": "Bob B", "role": "required", "slack": ["U_BOB"]},
  {"handle": "cy", "name": "Cy C", "role": "required", "slack": ["U_CY"]}
]}"#;
const CATEGORIES: &str = r#"{"slack_scope": {"name_contains": ["bd"]}, "categories": [
  {"name": "Intro", "match": ["intro"]},
  {"name": "BD Customer"}
]}"#;

/// A finding of `total` required members with `missing` of them missing.
fn gf(platform: Platform, id: &str, name: &str, missing: &[&str]) -> GroupFinding {
    let total = 3u32;
    let present = total - missing.len() as u32;
    GroupFinding {
        platform,
        group_id: id.into(),
        group_name: name.into(),
        category: if name.contains("intro") {
            "Intro"
        } else {
            "BD Customer"
        }
        .into(),
        required_present: present,
        required_total: total,
        missing_required: missing.iter().map(|s| s.to_string()).collect(),
        optional_present: 0,
        missing_optional: vec![],
        excluded: vec![],
        is_private: true,
        flag_public: false,
        flag_rename: false,
        suggested_name: None,
        is_ext_shared: false,
        member_count: 5,
        completeness_pct: f64::from(present) * 100.0 / f64::from(total),
        error: None,
    }
}

fn public(mut f: GroupFinding) -> GroupFinding {
    f.is_private = false;
    f.flag_public = true;
    f
}

fn unreadable(mut f: GroupFinding, error: &str) -> GroupFinding {
    f.error = Some(error.into());
    f.missing_required.clear();
    f.required_present = 0;
    f.completeness_pct = 0.0;
    f
}

/// Records a finished run of `findings` over `platforms` as slack-audit does.
fn record(db: &Path, started: &str, platforms: &[Platform], findings: Vec<GroupFinding>) -> i64 {
    let config = AuditConfig::from_texts(TEAM, CATEGORIES, Path::new("cfg")).expect("config");
    let input = AuditInput {
        config: &config,
        resolutions: platforms
            .iter()
            .map(|p| (*p, Resolution::default()))
            .collect(),
    };
    let result = audit::summarize(&input, findings, vec![]);
    let run = AuditRun {
        result,
        resolutions: input.resolutions.clone(),
        platforms: platforms.to_vec(),
        skipped: vec![],
    };
    let mut store = Store::open(db).expect("opens");
    let started_at: jiff::Timestamp = started.parse().expect("time");
    let id = store.begin_audit_run(started_at, "cli").expect("begins");
    audit_run::engine::record(&mut store, id, started_at, &run).expect("records");
    id
}

const SLACK: &[Platform] = &[Platform::Slack];
const BOTH: &[Platform] = &[Platform::Slack, Platform::Telegram];

/// Two runs: the second with gaps, flags, an Intro group, a Telegram chat and an unreadable one.
fn findings_store(dir: &Path) -> (std::path::PathBuf, i64, i64) {
    let db = dir.join("slack-tools.db");
    let first = record(
        &db,
        "2026-01-05T09:00:00Z",
        BOTH,
        vec![
            gf(Platform::Slack, "C1", "acme-bd", &["ann"]),
            gf(Platform::Slack, "C2", "globex-bd", &[]),
        ],
    );
    let mut rename = gf(Platform::Slack, "C4", "ibtc-deal", &[]);
    rename.flag_rename = true;
    rename.suggested_name = Some("cbtc-deal".into());
    let now = store::format_time(jiff::Timestamp::now());
    let second = record(
        &db,
        &now,
        BOTH,
        vec![
            gf(Platform::Slack, "C1", "acme-bd", &[]),
            public(gf(Platform::Slack, "C2", "globex-bd", &["bob", "cy"])),
            gf(Platform::Slack, "C3", EVIL, &["ann"]),
            rename,
            gf(Platform::Slack, "C5", "intro-hooli", &["bob"]),
            gf(Platform::Telegram, "-1001", "Zeta chat", &["cy"]),
            unreadable(gf(Platform::Slack, "C6", "broken", &[]), "not_in_channel"),
        ],
    );
    (db, first, second)
}

async fn status(c: &reqwest::Client, url: &str) -> u16 {
    c.get(url).send().await.expect("request").status().as_u16()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["group_id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn audits_list_is_newest_first_and_pages_with_a_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, first, second) = findings_store(dir.path());
    let mut store = Store::open(&db).expect("opens");
    let running = store
        .begin_audit_run(jiff::Timestamp::now(), "cli")
        .expect("begins");
    let failed = store
        .begin_audit_run(jiff::Timestamp::now(), "panel:ann")
        .expect("begins");
    store.fail_audit_run(failed).expect("fails");
    let panel = start(&db, None);
    let (base, c) = (&panel.base, client());

    let p1 = get_json(&c, &format!("{base}/api/v1/audits?limit=3")).await;
    let got: Vec<i64> = p1["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, vec![failed, running, second]);
    assert_eq!(p1["items"][0]["status"], "failed");
    assert_eq!(p1["items"][0]["started_by"], "panel:ann");
    assert_eq!(p1["items"][1]["status"], "running");
    assert!(p1["items"][1]["duration_secs"].is_null());
    let row = store.audit_run(second).expect("reads").expect("row");
    let r = &p1["items"][2];
    assert_eq!(r["status"], "finished");
    assert_eq!(r["started_by"], "cli");
    assert_eq!(r["platforms"], serde_json::json!(["slack", "telegram"]));
    assert_eq!(r["groups"], row.groups);
    assert_eq!(r["groups_with_gaps"], row.groups_with_gaps);
    assert_eq!(r["missing_required"], row.missing_required);
    assert_eq!(r["coverage"].as_f64(), row.coverage);
    assert!(r["duration_secs"].as_f64().expect("a duration") >= 0.0);

    let cursor = p1["next_cursor"].as_str().expect("more pages");
    let p2 = get_json(&c, &format!("{base}/api/v1/audits?limit=3&cursor={cursor}")).await;
    assert_eq!(p2["items"].as_array().expect("items").len(), 1);
    assert_eq!(p2["items"][0]["id"], first);
    assert!(p2["next_cursor"].is_null());

    // CSV: a header and one line per run of the page.
    let csv = c
        .get(format!("{base}/api/v1/audits?format=csv"))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let body = csv.text().await.expect("body");
    assert_eq!(body.lines().count(), 5, "{body}");
    assert!(body.starts_with("id,started_at,finished_at,duration_secs,started_by,status,"));

    // The page links each run and the next page; the next page holds the oldest run.
    let html = c
        .get(format!("{base}/audits?limit=3"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        html.contains(&format!("href=\"/audits/{second}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/audits?cursor={second}&amp;limit=3\"")));
    assert!(html.contains("href=\"/audits\">Audits</a>"), "nav entry");
    let older = c
        .get(format!("{base}/audits?cursor={second}&limit=3"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(older.contains(&format!("href=\"/audits/{first}\"")));
    assert!(
        !older.contains("id=\"older\""),
        "the last page has no next link"
    );

    for bad in ["limit=0", "limit=501", "cursor=abc", "sort=name"] {
        assert_eq!(
            status(&c, &format!("{base}/api/v1/audits?{bad}")).await,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn run_findings_filter_sort_page_and_csv_equal_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, first, second) = findings_store(dir.path());
    let panel = start(&db, None);
    let (base, c) = (&panel.base, client());
    let api = format!("{base}/api/v1/audits/{second}/findings?limit=500");

    let all = get_json(&c, &api).await;
    assert_eq!(all["items"].as_array().expect("items").len(), 7);
    assert!(all["next_cursor"].is_null());

    // Gaps only: exactly the store's findings with gaps (the table holds gaps and errors).
    let store = Store::open(&db).expect("opens");
    let stored: Vec<(String, Vec<String>)> = store
        .audit_findings(second)
        .expect("findings")
        .into_iter()
        .filter(|f| f.error.is_none())
        .map(|f| (f.group_id, f.missing_required))
        .collect();
    let gaps = get_json(&c, &format!("{api}&gaps=1")).await;
    let mut shown: Vec<(String, Vec<String>)> = gaps["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| {
            (
                f["group_id"].as_str().expect("id").to_string(),
                serde_json::from_value(f["missing_required"].clone()).expect("handles"),
            )
        })
        .collect();
    shown.sort();
    let mut expected = stored.clone();
    expected.sort();
    assert_eq!(shown, expected);
    assert_eq!(shown.len(), 4);

    for (filter, want) in [
        ("platform=telegram", vec!["-1001"]),
        ("flag=public", vec!["C2"]),
        ("flag=rename", vec!["C4"]),
        ("flag=unreadable", vec!["C6"]),
        ("category=Intro", vec!["C5"]),
        (
            "platform=slack&gaps=1&category=BD%20Customer",
            vec!["C3", "C2"],
        ),
    ] {
        assert_eq!(
            ids(&get_json(&c, &format!("{api}&{filter}")).await),
            want,
            "{filter}"
        );
    }

    // Sorting: most missing first; lowest coverage first; by name.
    let by_missing = get_json(&c, &format!("{api}&sort=missing")).await;
    let missing: Vec<usize> = by_missing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["missing_required"].as_array().expect("list").len())
        .collect();
    assert_eq!(missing, vec![2, 1, 1, 1, 0, 0, 0]);
    assert_eq!(by_missing["items"][0]["group_id"], "C2");
    let by_cov = get_json(&c, &format!("{api}&sort=coverage")).await;
    let cov: Vec<f64> = by_cov["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["completeness_pct"].as_f64().expect("pct"))
        .collect();
    assert!(cov.windows(2).all(|w| w[0] <= w[1]), "{cov:?}");
    let by_name = get_json(&c, &format!("{api}&sort=name")).await;
    let names: Vec<String> = by_name["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["group_name"].as_str().expect("name").to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Pages of two, cursor after cursor, add up to the whole sorted list.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            None => format!("{base}/api/v1/audits/{second}/findings?limit=2&sort=missing"),
            Some(cur) => {
                format!("{base}/api/v1/audits/{second}/findings?limit=2&sort=missing&cursor={cur}")
            }
        };
        let page = get_json(&c, &url).await;
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, ids(&by_missing));

    // The page's CSV for a filter holds exactly the rows the page shows, in its order, and the
    // store's findings with gaps.
    let filter = "gaps=1&sort=missing";
    let html = c
        .get(format!("{base}/audits/{second}?{filter}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    let page_rows: Vec<String> = html
        .split("data-group-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().expect("id").to_string())
        .collect();
    let csv = c
        .get(format!("{base}/audits/{second}?{filter}&format=csv"))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let body = csv.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (id_col, missing_col) = (col("group_id"), col("missing_required"));
    let mut csv_rows: Vec<(String, Vec<String>)> = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("record");
        csv_rows.push((
            rec[id_col].to_string(),
            rec[missing_col].split(';').map(str::to_string).collect(),
        ));
    }
    assert_eq!(
        csv_rows
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        page_rows
    );
    csv_rows.sort();
    assert_eq!(csv_rows, expected);
    assert!(html.contains(&format!(
        "href=\"/audits/{second}?{}&amp;format=csv\"",
        filter.replace('&', "&amp;")
    )));
    // The filter form keeps its values, and the hostile name is text.
    assert!(html.contains("name=\"gaps\" value=\"1\" checked"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains(EVIL));
    assert!(
        html.contains("href=\"/groups/slack/C2\""),
        "findings link their group"
    );
    assert!(html.contains("href=\"/groups/telegram/-1001\""));

    // The changes since the previous run, as the audit-run diff computes them.
    let detail = get_json(&c, &format!("{base}/api/v1/audits/{second}")).await;
    assert_eq!(detail["previous_run_id"], first);
    let closed = &detail["changes"]["gaps_closed"];
    assert_eq!(closed.as_array().expect("list").len(), 1);
    assert_eq!(
        (closed[0]["group_id"].as_str(), closed[0]["handle"].as_str()),
        (Some("C1"), Some("ann"))
    );
    assert!(
        html.contains("ann</a>") || html.contains("ann no longer missing from"),
        "{html}"
    );

    // Bad filters name the choices; missing runs are 404.
    for bad in [
        "sort=size",
        "platform=irc",
        "gaps=maybe",
        "flag=loud",
        "limit=0",
        "cursor=x",
        "colour=red",
    ] {
        assert_eq!(
            status(&c, &format!("{base}/api/v1/audits/{second}/findings?{bad}")).await,
            400,
            "{bad}"
        );
    }
    let r = c
        .get(format!("{base}/audits/{second}?sort=size"))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("name, coverage, missing")
    );
    for missing in [
        "/audits/999",
        "/api/v1/audits/999",
        "/api/v1/audits/999/findings",
        "/audits/999/report.csv",
        "/audits/999/report.xlsx",
    ] {
        assert_eq!(
            status(&c, &format!("{base}{missing}")).await,
            404,
            "{missing}"
        );
    }

    // A run going on has a page saying so, and no findings or reports yet.
    let running = Store::open(&db)
        .expect("opens")
        .begin_audit_run(jiff::Timestamp::now(), "cli")
        .expect("begins");
    let html = c
        .get(format!("{base}/audits/{running}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(html.contains("this run is running"), "{html}");
    assert_eq!(
        status(&c, &format!("{base}/api/v1/audits/{running}/findings")).await,
        404
    );
    assert_eq!(
        status(&c, &format!("{base}/audits/{running}/report.csv")).await,
        404
    );
}

#[tokio::test]
async fn group_history_shows_gaps_opening_and_closing_renames_and_privacy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("slack-tools.db");
    let r1 = record(
        &db,
        "2026-01-05T09:00:00Z",
        SLACK,
        vec![gf(Platform::Slack, "C1", "acme", &["ann"])],
    );
    let r2 = record(
        &db,
        "2026-01-12T09:00:00Z",
        SLACK,
        vec![public(gf(Platform::Slack, "C1", "acme-renamed", &["bob"]))],
    );
    let r3 = record(
        &db,
        "2026-01-19T09:00:00Z",
        SLACK,
        vec![gf(Platform::Slack, "C2", "other", &[])],
    );
    // A Telegram-only run did not look at Slack: not a run the group was missing from.
    record(
        &db,
        "2026-01-20T09:00:00Z",
        &[Platform::Telegram],
        vec![gf(Platform::Telegram, "C1", "same id, other platform", &[])],
    );
    let r5 = record(
        &db,
        "2026-01-26T09:00:00Z",
        SLACK,
        vec![unreadable(
            public(gf(Platform::Slack, "C1", "acme-renamed", &[])),
            "not_in_channel",
        )],
    );
    let panel = start(&db, None);
    let (base, c) = (&panel.base, client());

    let h = get_json(&c, &format!("{base}/api/v1/groups/slack/C1")).await;
    assert_eq!(h["group_name"], "acme-renamed");
    let runs: Vec<(i64, bool)> = h["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| (r["run_id"].as_i64().expect("id"), !r["finding"].is_null()))
        .collect();
    assert_eq!(runs, vec![(r5, true), (r3, false), (r2, true), (r1, true)]);
    assert_eq!(
        h["runs"][2]["finding"]["completeness_pct"]
            .as_f64()
            .expect("pct")
            .round(),
        67.0
    );
    let events: Vec<(i64, String, String)> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["run_id"].as_i64().expect("run"),
                e["kind"].as_str().expect("kind").to_string(),
                e["handle"]
                    .as_str()
                    .or(e["to"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let ev = |run: i64, kind: &str, what: &str| (run, kind.to_string(), what.to_string());
    assert_eq!(
        events,
        vec![
            ev(r5, "seen_again", ""),
            ev(r5, "unreadable", "not_in_channel"),
            ev(r3, "not_seen", ""),
            ev(r2, "renamed", "acme-renamed"),
            ev(r2, "made_public", ""),
            ev(r2, "missing", "bob"),
            ev(r2, "back", "ann"),
            ev(r1, "first_seen", "acme"),
            ev(r1, "missing", "ann"),
        ]
    );
    assert_eq!(h["events"][3]["from"], "acme");

    let html = c
        .get(format!("{base}/groups/slack/C1"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(html.contains("Renamed from acme to acme-renamed"), "{html}");
    assert!(html.contains("<strong>bob</strong> went missing"));
    assert!(html.contains("<strong>ann</strong> came back"));
    assert!(html.contains("not in this run"));

    // The Telegram chat with the same id is its own group; unknown ones are 404.
    let tg = get_json(&c, &format!("{base}/api/v1/groups/telegram/C1")).await;
    assert_eq!(tg["runs"].as_array().expect("runs").len(), 1);
    for missing in [
        "/groups/slack/C9",
        "/api/v1/groups/slack/C9",
        "/api/v1/groups/irc/C1",
    ] {
        assert_eq!(
            status(&c, &format!("{base}{missing}")).await,
            404,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn dashboard_gaps_link_their_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _, _) = findings_store(dir.path());
    let panel = start(&db, None);
    let html = client()
        .get(format!("{}/", panel.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    let gaps = html
        .split("id=\"worst-gaps\"")
        .nth(1)
        .expect("worst gaps table");
    assert!(gaps.contains("href=\"/groups/slack/C2\""), "{gaps}");
    assert!(
        html.contains("href=\"/groups/slack/C1\""),
        "the closed gap links its group"
    );
}

#[tokio::test]
async fn reports_are_slack_audits_files_or_regenerated_equal_from_the_store() {
    if !tools_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("slack-tools.db");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let env = demo::DemoEnv::start().await.expect("demo sim");
    let (base_url, config) = (env.sim.base_url(), env.config_dir.clone());
    let (db2, out2) = (db.clone(), out.clone());
    tokio::task::spawn_blocking(move || {
        admin_panel::demo_store::run_tool("slack-audit", &[], &base_url, &config, &db2, &out2)
    })
    .await
    .expect("task")
    .expect("slack-audit runs");
    env.shutdown().await;

    let run = Store::open(&db)
        .expect("opens")
        .latest_audit_run()
        .expect("reads")
        .expect("a run");
    let stamp = run.started_at.strftime("%Y%m%d-%H%M%S").to_string();
    let reports = out.join("audit_reports");
    let csv_file = reports.join(format!("slack-audit-{stamp}-groups.csv"));
    let xlsx_file = reports.join(format!("slack-audit-{stamp}.xlsx"));
    let written_csv = std::fs::read(&csv_file).expect("slack-audit wrote the CSV");
    let written_xlsx = std::fs::read(&xlsx_file).expect("slack-audit wrote the workbook");

    let out_arg = out.to_str().expect("utf8 path");
    let panel = start_with(&db, None, &["--out", out_arg]);
    let c = client();
    let get = |path: String| {
        let c = c.clone();
        let base = panel.base.clone();
        async move {
            let r = c
                .get(format!("{base}{path}"))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200, "{path}");
            let source = r.headers()["x-report-source"]
                .to_str()
                .expect("ascii")
                .to_string();
            let kind = r.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .to_string();
            let disposition = r.headers()["content-disposition"]
                .to_str()
                .expect("ascii")
                .to_string();
            (
                source,
                kind,
                disposition,
                r.bytes().await.expect("body").to_vec(),
            )
        }
    };
    let id = run.id;

    // On disk: the run's own files, byte for byte.
    let (source, kind, disposition, body) = get(format!("/audits/{id}/report.csv")).await;
    assert_eq!(
        (source.as_str(), kind.as_str()),
        ("file", "text/csv; charset=utf-8")
    );
    assert!(
        disposition.contains(&format!("slack-audit-{stamp}-groups.csv")),
        "{disposition}"
    );
    assert_eq!(body, written_csv);
    let (source, kind, _, body) = get(format!("/audits/{id}/report.xlsx")).await;
    assert_eq!(source, "file");
    assert!(kind.contains("spreadsheetml"), "{kind}");
    assert_eq!(body, written_xlsx);

    // The page's unfiltered CSV is the same table slack-audit wrote.
    let page_csv = c
        .get(format!("{}/audits/{id}?format=csv", panel.base))
        .send()
        .await
        .expect("csv")
        .bytes()
        .await
        .expect("body");
    assert_eq!(page_csv.to_vec(), written_csv);

    // Files gone: regenerated from the store with the same writers; the CSV is identical.
    std::fs::remove_file(&csv_file).expect("rm");
    std::fs::remove_file(&xlsx_file).expect("rm");
    let (source, _, _, body) = get(format!("/audits/{id}/report.csv")).await;
    assert_eq!(source, "regenerated");
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&written_csv)
    );
    let (source, _, _, body) = get(format!("/audits/{id}/report.xlsx")).await;
    assert_eq!(source, "regenerated");
    assert!(body.starts_with(b"PK"), "an xlsx (zip) file");

    // A file whose name another run shares (same second) may be that run's: regenerated.
    std::fs::write(&csv_file, b"not this run's\n").expect("writes");
    let mut store = Store::open(&db).expect("opens");
    let twin = store
        .begin_audit_run(run.started_at, "cli")
        .expect("begins");
    store.fail_audit_run(twin).expect("fails");
    let (source, _, _, body) = get(format!("/audits/{id}/report.csv")).await;
    assert_eq!(source, "regenerated");
    assert_eq!(body, written_csv);
}
