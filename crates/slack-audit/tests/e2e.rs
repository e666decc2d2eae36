//! End-to-end: the real `slack-audit` binary against slack-sim over loopback.

mod common;

use common::*;
use serde_json::Value;
use slack_sim::SimOptions;

const ISSUE_HEADERS: &[&str] = &[
    "platform",
    "group_id",
    "group_name",
    "category",
    "required_present",
    "required_total",
    "missing_required",
    "optional_present",
    "missing_optional",
    "excluded",
    "is_private",
    "flag_public",
    "flag_rename",
    "suggested_name",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_writes_xlsx_and_csv_with_the_demo_numbers() {
    let t = TestDir::new();
    // From a directory without any config: --demo brings its own (Slack sim and Telegram account).
    let mut cmd = t.command(None);
    cmd.arg("--demo");
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("Telegram: skipped"), "{text}");
    // gina is optional in the demo but her Slack identifier still matches nobody.
    assert!(text.contains("`gina` matches no slack user"), "{text}");
    // Slack: 4 of 6 BD Customer channels complete; Telegram: 3 of 9 groups.
    assert!(
        text.contains("Coverage: 46.7% of BD Customer groups have every required member (7 of 15)"),
        "{text}"
    );

    let csv = t.reports().join("slack-audit-latest-groups.csv");
    let (header, rows) = read_csv(&csv);
    assert_eq!(&header[..ISSUE_HEADERS.len()], ISSUE_HEADERS);
    // Slack: 12 channels, of which general, random (out of scope) and bitsafe-oldco (archived)
    // are not audited. Telegram: 14 dialogs, of which the broadcast channel and the group not
    // shared with mojo_onchain are left out.
    let on = |p: &str| rows.iter().filter(|r| r[0] == p).count();
    assert_eq!(on("slack"), 9, "{rows:?}");
    assert_eq!(on("telegram"), 12, "{rows:?}");
    assert_eq!(rows.len(), 21);
    let initech = csv_row(&csv, "bitsafe-initech");
    assert_eq!(initech["category"], "BD Customer");
    assert_eq!(initech["missing_required"], "maria;sam");
    assert_eq!(initech["required_present"], "2");
    assert_eq!(initech["required_total"], "4");
    assert_eq!(initech["missing_optional"], "gina;frank;alice;bob");
    assert_eq!(initech["is_private"], "no");
    assert_eq!(initech["flag_public"], "yes");
    let stark = csv_row(&csv, "bitsafe-stark");
    assert_eq!(stark["excluded"], "maria");
    assert_eq!(stark["required_total"], "3");
    assert_eq!(stark["missing_required"], "");
    let umbrella = csv_row(&csv, "bitsafe-ibtc-umbrella");
    assert_eq!(umbrella["flag_rename"], "yes");
    assert_eq!(umbrella["suggested_name"], "bitsafe-cbtc-umbrella");
    let mktg = csv_row(&csv, "bitsafe-mktg-launch");
    assert_eq!(mktg["category"], "Marketing");
    assert_eq!(mktg["missing_required"], "bob");
    let internal = csv_row(&csv, "bitsafe-internal-ops");
    assert_eq!(internal["required_total"], "0");
    assert_eq!(internal["completeness_pct"], "100.0");
    // Telegram rows: chat id as group_id, same categories and rename rules.
    let tg_globex = csv_row(&csv, "iBTC <> Globex");
    assert_eq!(tg_globex["platform"], "telegram");
    assert_eq!(tg_globex["group_id"], "-1001000000002");
    assert_eq!(tg_globex["missing_required"], "aki;dev;sam");
    assert_eq!(tg_globex["suggested_name"], "cbtc <> Globex");
    assert_eq!(tg_globex["flag_public"], "no");
    let tg_hooli = csv_row(&csv, "Hooli <> BitSafe");
    assert_eq!(tg_hooli["missing_required"], "aki;maria;dev");
    assert_eq!(tg_hooli["optional_present"], "1"); // frankfox
    let tg_intro = csv_row(&csv, "Globex intro");
    assert_eq!(tg_intro["category"], "Intro");
    assert_eq!(tg_intro["missing_required"], "aki;sam");
    assert_eq!(csv_row(&csv, "Hooli treasury")["missing_required"], "");

    // Timestamped copies next to the stable `latest` ones.
    let names: Vec<String> = std::fs::read_dir(t.reports())
        .expect("reports dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("-groups.csv") && !n.contains("latest"))
    );
    // The demo account was copied under --out; the built-in data is untouched by construction.
    assert!(t.out().join("telegram-demo.json").exists());

    let xlsx = t.reports().join("slack-audit-latest.xlsx");
    let groups = sheet(&xlsx, "Groups");
    assert_eq!(groups.len(), 22);
    assert_eq!(&groups[0][..ISSUE_HEADERS.len()], ISSUE_HEADERS);
    // Missing: one row per group × missing required member. Slack: globex dev, initech maria
    // and sam, mktg bob, intro-hooli sam = 5. Telegram: 3 each in six BD groups, 4 in Pied
    // Piper, alice and bob in the marketing group, aki and sam in the intro = 23.
    let missing = sheet(&xlsx, "Missing");
    assert_eq!(missing.len() - 1, 28, "{missing:?}");
    assert!(
        missing
            .iter()
            .any(|r| r[2] == "bitsafe-globex" && r[4] == "dev" && r[6] == "U0DEMODEV")
    );
    assert!(missing.iter().any(|r| r[0] == "telegram"
        && r[2] == "iBTC <> Globex"
        && r[4] == "aki"
        && r[6] == "2002"));
    let summary = sheet(&xlsx, "Summary");
    let value = |key: &str| {
        summary
            .iter()
            .find(|r| r[0].starts_with(key))
            .map(|r| r[1].clone())
            .unwrap_or_else(|| panic!("no summary row {key}: {summary:?}"))
    };
    assert_eq!(value("Platforms"), "slack, telegram");
    assert_eq!(value("Groups audited"), "21");
    assert_eq!(value("Groups with gaps"), "12");
    assert_eq!(value("Public channels"), "1");
    assert_eq!(value("Groups to rename"), "5");
    assert_eq!(
        value("Unmatched team members"),
        "gina (slack); gina (telegram); alice (telegram); bob (telegram)"
    );
    assert!(!summary.iter().any(|r| r[0] == "Skipped"), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_like_names_are_neutralised_in_csv_and_xlsx() {
    let mut ws = workspace();
    ws.channels.push(channel(
        "C0EVIL",
        "=cust+HYPERLINK(1)",
        true,
        &["U0OPS", "U0AKI"],
    ));
    ws.channels
        .push(channel("C0DASH", "-cust-dash", true, &["U0OPS", "U0AKI"]));
    let sim = start_sim(ws, SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let raw =
        std::fs::read_to_string(t.reports().join("slack-audit-latest-groups.csv")).expect("csv");
    assert!(raw.contains("'=cust+HYPERLINK(1)"), "{raw}");
    assert!(raw.contains("'-cust-dash"), "{raw}");
    let groups = sheet(&t.reports().join("slack-audit-latest.xlsx"), "Groups");
    assert!(
        groups.iter().any(|r| r[2] == "'=cust+HYPERLINK(1)"),
        "{groups:?}"
    );
    assert!(!groups.iter().any(|r| r[2].starts_with('=')));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_changes_between_two_runs() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let first = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&first), 0, "stderr: {}", stderr(&first));
    assert!(stdout(&first).contains("first recorded run"));

    // Maria joins cust-globex (gap closed), aki leaves cust-acme (gap opened), a new channel.
    sim.with_workspace(|ws| {
        ws.channel_mut("C0GLX")
            .expect("globex")
            .members
            .push("U0MARIA".into());
        ws.channel_mut("C0ACME")
            .expect("acme")
            .members
            .retain(|m| m != "U0AKI");
        ws.channels.push(channel(
            "C0NEW",
            "cust-new",
            true,
            &["U0OPS", "U0AKI", "U0MARIA"],
        ));
    });
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.arg("--json");
    let second = run(cmd).await;
    assert_eq!(code(&second), 0, "stderr: {}", stderr(&second));
    let doc: Value = serde_json::from_slice(&second.stdout).expect("--json prints JSON only");
    let changes = &doc["changes"];
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("array")
            .iter()
            .map(|g| {
                format!(
                    "{}:{}",
                    g["group_name"].as_str().unwrap_or(""),
                    g["handle"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(names(&changes["gaps_closed"]), vec!["cust-globex:maria"]);
    assert_eq!(names(&changes["gaps_opened"]), vec!["cust-acme:aki"]);
    assert_eq!(names(&changes["new_groups"]), vec!["cust-new:"]);
    assert_eq!(doc["groups"].as_array().map(Vec::len), Some(5));
    assert_eq!(doc["summary"]["groups"], 5);

    let mut cmd = t.command(None);
    cmd.args(["history", "--json"]);
    let history = run(cmd).await;
    assert_eq!(code(&history), 0, "stderr: {}", stderr(&history));
    let runs: Value = serde_json::from_slice(&history.stdout).expect("history JSON");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    // Newest first. Run 1: BD Customer = acme ok, globex gap, public gap → 1/3.
    // Run 2: acme gap, globex ok, public gap, new ok → 2/4.
    let cov = |i: usize| runs[i]["coverage"].as_f64().expect("coverage");
    assert!((cov(1) - 1.0 / 3.0).abs() < 1e-9, "{runs:?}");
    assert!((cov(0) - 0.5).abs() < 1e-9, "{runs:?}");
    let trend = runs[0]["coverage_change_points"].as_f64().expect("trend");
    assert!((trend - (50.0 - 100.0 / 3.0)).abs() < 1e-6, "{trend}");

    let mut cmd = t.command(None);
    cmd.arg("history");
    let table = stdout(&run(cmd).await);
    assert!(
        table.contains("50.0%") && table.contains("+16.7"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_gaps_exits_3_and_reports_anyway() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.arg("--fail-on-gaps");
    let out = run(cmd).await;
    assert_eq!(code(&out), 3, "stderr: {}", stderr(&out));
    assert!(t.reports().join("slack-audit-latest.xlsx").exists());

    // No gaps left: exit 0 even with the flag.
    sim.with_workspace(|ws| {
        ws.channel_mut("C0GLX")
            .expect("globex")
            .members
            .push("U0MARIA".into());
        ws.channel_mut("C0PUB")
            .expect("public")
            .members
            .push("U0AKI".into());
    });
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.arg("--fail-on-gaps");
    let out = run(cmd).await;
    assert_eq!(
        code(&out),
        0,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_exits_2_naming_file_and_place_and_writes_nothing() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(
        TEAM,
        r#"{"slack_scope": {"name_contains": ["cust"]}, "categories": [{"name": "X", "match": ["x"], "required": ["marai"]}]}"#,
    );
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("categories.json"), "{err}");
    assert!(err.contains("categories[0].required[0]"), "{err}");
    assert!(err.contains("did you mean `maria`"), "{err}");
    assert!(
        !t.out().exists(),
        "nothing may be written on a config error"
    );
    assert!(
        sim.requests().is_empty(),
        "no Slack call before the config is valid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_error_is_reported_and_the_run_goes_on() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let proxy = failing_proxy(sim.base_url(), "C0GLX", "not_in_channel").await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&proxy))).await;
    // The audit is incomplete: exit 1, but every other group is reported.
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("could not be read") && text.contains("not_in_channel"),
        "{text}"
    );
    let csv = t.reports().join("slack-audit-latest-groups.csv");
    let (_, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 4);
    let globex = csv_row(&csv, "cust-globex");
    assert!(globex["error"].contains("not_in_channel"), "{globex:?}");
    assert_eq!(globex["missing_required"], "");
    assert_eq!(csv_row(&csv, "cust-public")["missing_required"], "aki");
    let store = store::Store::open(&t.db()).expect("db");
    let runs = store.list_audit_runs(5).expect("runs");
    assert_eq!(runs.len(), 1);
    let findings = store.audit_findings(runs[0].id).expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f.group_id == "C0GLX" && f.error.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scope_stops_at_once_naming_the_scope() {
    let opts = SimOptions {
        scopes: Some(vec![
            "channels:read".into(),
            "users:read".into(),
            "users:read.email".into(),
        ]),
        ..SimOptions::default()
    };
    let sim = start_sim(workspace(), opts).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("groups:read"), "{err}");
    assert!(err.contains("hint:") && err.contains("reinstall"), "{err}");
    assert!(!t.reports().exists(), "no report after a fatal error");
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.method == "conversations.members"),
        "nothing fetched after the fatal error"
    );
    assert!(!err.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_a_usage_error() {
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(None)).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("SLACK_TOKEN"));
    assert!(!t.out().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_give_the_same_report() {
    // Enough channels that a 10% fault rate certainly hits some calls.
    let mut ws = workspace();
    for i in 0..30 {
        let members: &[&str] = if i % 3 == 0 {
            &["U0OPS", "U0AKI"]
        } else {
            &["U0OPS", "U0AKI", "U0MARIA"]
        };
        ws.channels.push(channel(
            &format!("C0X{i:03}"),
            &format!("cust-extra-{i:03}"),
            true,
            members,
        ));
    }
    let clean = start_sim(ws.clone(), SimOptions::default()).await;
    let faulty = start_sim(
        ws,
        SimOptions {
            faults: 0.1,
            fault_seed: 7,
            ..SimOptions::default()
        },
    )
    .await;
    let a = TestDir::new();
    a.write_config(TEAM, CATEGORIES);
    let b = TestDir::new();
    b.write_config(TEAM, CATEGORIES);
    let out_a = run(a.command(Some(&clean.base_url()))).await;
    let out_b = run(b.command(Some(&faulty.base_url()))).await;
    assert_eq!(code(&out_a), 0, "stderr: {}", stderr(&out_a));
    assert_eq!(code(&out_b), 0, "stderr: {}", stderr(&out_b));
    let faults = faulty
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(faults > 0, "the sim injected no fault");
    let csv_a = std::fs::read(a.reports().join("slack-audit-latest-groups.csv")).expect("a");
    let csv_b = std::fs::read(b.reports().join("slack-audit-latest-groups.csv")).expect("b");
    assert_eq!(csv_a, csv_b);
    assert_eq!(
        sheet(&a.reports().join("slack-audit-latest.xlsx"), "Missing"),
        sheet(&b.reports().join("slack-audit-latest.xlsx"), "Missing")
    );
}

/// Issue 11: a group name is printed in the summary; an escape sequence, `\r` or U+2028 in it
/// must reach the terminal as visible text, not as control characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_shows_control_characters_in_names_as_escapes() {
    let mut ws = workspace();
    ws.channels.push(channel(
        "C0ESC",
        "cust-\x1b[31mred\r\u{2028}\u{9b}2J",
        true,
        &["U0OPS", "U0AKI"],
    ));
    let sim = start_sim(ws, SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("cust-\\u{1b}[31mred\\u{d}\\u{2028}\\u{9b}2J"),
        "{text}"
    );
    for bad in ['\x1b', '\r', '\u{2028}', '\u{9b}'] {
        assert!(!text.contains(bad), "{bad:?} on stdout: {text:?}");
        assert!(!stderr(&out).contains(bad), "{bad:?} on stderr");
    }
}

/// Issue 11: a channel whose members cannot be read is named in a warning log line and in the
/// summary; `\r`, U+2028 and bidi overrides in its name reach neither stream raw (tracing escapes
/// only ESC and C1 controls itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_show_control_characters_in_names_as_escapes() {
    let mut ws = workspace();
    ws.channels.push(channel(
        "C0CR",
        "cust-ok\rcust-FAKE\u{2028}\u{202e}x",
        true,
        &["U0OPS", "U0AKI"],
    ));
    let sim = start_sim(ws, SimOptions::default()).await;
    let proxy = failing_proxy(sim.base_url(), "C0CR", "not_in_channel").await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let out = run(t.command(Some(&proxy))).await;
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cust-ok\\u{d}cust-FAKE\\u{2028}\\u{202e}x"),
        "{err}"
    );
    for bad in ['\r', '\u{2028}', '\u{202e}'] {
        assert!(!err.contains(bad), "{bad:?} on stderr: {err:?}");
        assert!(!stdout(&out).contains(bad), "{bad:?} on stdout");
    }
}

/// Issue 11: Slack reads the plain-text fallback like mrkdwn, so a group named `<!channel>`
/// would ping everyone in the notify channel unless it is escaped there as in the blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_text_fallback_escapes_group_names() {
    let mut ws = workspace();
    ws.channels.push(channel(
        "C0PING",
        "cust-<!channel>-&-<@U0AKI>",
        true,
        &["U0OPS", "U0AKI"],
    ));
    let sim = start_sim(ws, SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.args(["--notify", "general"]);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .collect();
    assert_eq!(posts.len(), 1);
    let text = &posts[0].params["text"];
    assert!(
        text.contains("cust-&lt;!channel&gt;-&amp;-&lt;@U0AKI&gt;"),
        "{text}"
    );
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_posts_the_summary_and_logs_delivery() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(TEAM, CATEGORIES);
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.args(["--notify", "general"]);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .collect();
    assert_eq!(posts.len(), 1);
    let text = &posts[0].params["text"];
    assert!(
        text.contains("Customer coverage audit") && text.contains("cust-globex"),
        "{text}"
    );
    let blocks: Value = serde_json::from_str(&posts[0].params["blocks"]).expect("blocks JSON");
    assert_eq!(blocks[0]["type"], "header");
    let store = store::Store::open(&t.db()).expect("db");
    let (status, attempts, ts, run_id): (String, i64, Option<String>, Option<i64>) = store
        .db()
        .query_row(
            "SELECT status, attempts, message_ts, run_id FROM notifications",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("one notification");
    assert_eq!(status, "delivered");
    assert_eq!(attempts, 1);
    assert!(ts.is_some_and(|t| !t.is_empty()));
    assert_eq!(
        run_id,
        store.latest_audit_run().expect("runs").map(|r| r.id)
    );

    // A channel the token cannot post in: logged as failed, exit 1.
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.args(["--notify", "C0NOPE"]);
    let out = run(cmd).await;
    assert_eq!(code(&out), 1);
    let (status, error): (String, Option<String>) = store
        .db()
        .query_row(
            "SELECT status, error FROM notifications ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("second notification");
    assert_eq!(status, "failed");
    assert!(error.unwrap_or_default().contains("channel_not_found"));
}

/// Reports, the history database and the demo account hold customer data: owner-only from
/// creation. Temp files a killed run left next to the reports go at the next run's start.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_database_are_owner_only_and_stale_temps_go() {
    let t = TestDir::new();
    let mut cmd = t.command(None);
    cmd.arg("--demo");
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert!(t.reports().join("slack-audit-latest.xlsx").is_file());
    assert_owner_only(&t.out());

    let stale = [
        ".report-Ab12Cd.tmp",
        ".slack-audit-latest.xlsx.x1y2z3.partial",
    ];
    for f in stale {
        std::fs::write(t.reports().join(f), "half").expect("plant");
    }
    let mut cmd = t.command(None);
    cmd.arg("--demo");
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    for f in stale {
        assert!(!t.reports().join(f).exists(), "{f} left");
    }
    assert!(t.reports().join("slack-audit-latest-groups.csv").is_file());
}

/// issue 12: an inactive member (`"status": "inactive"`) is expected nowhere. maria (required) is
/// inactive and missing from cust-globex: no gap there, and not reported unmatched; aki (active)
/// missing from cust-public still is a gap, so `--fail-on-gaps` still exits 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_required_member_missing_is_no_gap_but_an_active_one_is() {
    let sim = start_sim(workspace(), SimOptions::default()).await;
    let t = TestDir::new();
    t.write_config(
        r#"{"members": [
  {"handle": "aki", "name": "Aki Balogh", "role": "required", "slack": ["aki"], "department": "Sales"},
  {"handle": "maria", "name": "Maria Lopez", "role": "required", "slack": ["maria@corp.example"], "status": "inactive"},
  {"handle": "gone", "name": "Gone Person", "role": "required", "slack": ["gone@corp.example"], "status": "inactive"},
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["U0FRANK"]}
]}"#,
        CATEGORIES,
    );
    let mut cmd = t.command(Some(&sim.base_url()));
    cmd.arg("--fail-on-gaps");
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "stdout: {}\nstderr: {err}", stdout(&out));
    // `gone` matches nobody in Slack, but being inactive that is not worth a warning.
    assert!(!err.contains("`gone`"), "{err}");

    let csv = t.reports().join("slack-audit-latest-groups.csv");
    let globex = csv_row(&csv, "cust-globex");
    assert_eq!(globex["missing_required"], "", "{globex:?}");
    assert_eq!(
        (
            globex["required_present"].as_str(),
            globex["required_total"].as_str()
        ),
        ("1", "1")
    );
    let public = csv_row(&csv, "cust-public");
    assert_eq!(public["missing_required"], "aki", "{public:?}");

    // Made active again, maria's absence is a gap once more.
    let team = std::fs::read_to_string(t.config().join("team.json")).expect("team.json");
    std::fs::write(
        t.config().join("team.json"),
        team.replacen(r#", "status": "inactive"}"#, "}", 1),
    )
    .expect("write team.json");
    let out = run(t.command(Some(&sim.base_url()))).await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let globex = csv_row(&csv, "cust-globex");
    assert_eq!(globex["missing_required"], "maria", "{globex:?}");
}
