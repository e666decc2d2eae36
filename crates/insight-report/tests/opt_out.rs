//! insight-report applies the opt-out list of insight.json as it stands when the report runs,
//! not only the one the last sync applied: the real binary, a real sim sync, the real SQLite file.
//! Also: departments come from team.json's `department` (issue 12), through the same path.

use std::io::Read;
use std::path::{Path, PathBuf};

use slack_sim::{GenSpec, SimOptions};
use store::Store;

const TOKEN: &str = "xoxp-report-test";

fn write_config(dir: &Path, opt_out: &[&str]) {
    std::fs::create_dir_all(dir).expect("config dir");
    let doc = serde_json::json!({
        "channels": {"name_contains": []},
        "opt_out_users": opt_out,
        "window_days": 7, "timezone": "UTC"
    });
    std::fs::write(dir.join("insight.json"), doc.to_string()).expect("config");
}

/// Every output file's text: CSV and HTML as they are, the xlsx's XML parts unzipped.
fn output_texts(out: &Path) -> Vec<(PathBuf, String)> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(out).expect("out dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "xlsx") {
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).expect("xlsx"))
                .expect("xlsx is a zip");
            for i in 0..zip.len() {
                let mut part = zip.by_index(i).expect("part");
                let mut text = String::new();
                if part.read_to_string(&mut text).is_ok() {
                    texts.push((path.join(format!("part{i}")), text));
                }
            }
        } else {
            texts.push((path.clone(), std::fs::read_to_string(&path).expect("text")));
        }
    }
    assert!(texts.len() > 5, "every format was written");
    texts
}

fn report(config: &Path, db: &Path, out: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_insight-report"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("insight-report runs")
}

async fn sync(sim: &slack_sim::SimHandle, config: &Path, dir: &Path) {
    let mut client = slack_client::ClientConfig::new(TOKEN, sim.base_url());
    client.rate_scale = 0.0;
    let client = slack_client::SlackClient::new(client).expect("client");
    let cfg = insight::load_config(config).expect("config");
    insight_collect::sync(
        &client,
        &cfg,
        &insight_collect::SyncOptions {
            db: dir.join("insight.db"),
            out: dir.join("raw"),
            config_dir: config.to_path_buf(),
            since: None,
            prune_unscoped: false,
        },
    )
    .await
    .expect("sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_opted_out_after_the_last_sync_is_in_no_report_output() {
    let mut ws = slack_sim::generate(&GenSpec {
        users: 30,
        channels: 8,
        days: 5,
        seed: 7,
        max_members: Some(15),
        end: Some(jiff::Timestamp::now().as_second() - 3600),
    });
    // The busiest author of a public channel, renamed to something no other text contains.
    let author = ws
        .channels
        .iter()
        .filter(|c| !c.is_private && !c.is_im && !c.is_mpim)
        .flat_map(|c| c.messages.iter())
        .filter_map(|m| m["user"].as_str())
        .find(|u| *u != ws.token_user)
        .expect("an author")
        .to_string();
    let user = ws
        .users
        .iter_mut()
        .find(|u| u["id"] == author.as_str())
        .expect("user");
    user["name"] = "zq.victim".into();
    user["profile"]["display_name"] = "zqdisplay".into();
    let someone_else_email = ws
        .users
        .iter()
        .find(|u| u["id"] != author.as_str() && u["profile"]["email"].is_string())
        .and_then(|u| u["profile"]["email"].as_str())
        .expect("another user's email")
        .to_string();
    let sim = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    let db = dir.path().join("insight.db");
    write_config(&config, &[]);
    sync(&sim, &config, dir.path()).await;
    let needles = [author.as_str(), "zq.victim", "zqdisplay"];
    let run = |out: &str| {
        let (config, db, out) = (config.clone(), db.clone(), dir.path().join(out));
        tokio::task::spawn_blocking(move || (report(&config, &db, &out), out))
    };

    let (out, before) = run("before").await.expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts = output_texts(&before);
    assert!(
        texts
            .iter()
            .any(|(_, t)| t.contains(&author) && t.contains("zq.victim")),
        "the person is in the report before the opt-out"
    );

    // Opted out by ID after the last sync: gone from every output before any sync runs.
    write_config(&config, &[author.as_str()]);
    let (out, after) = run("after").await.expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (path, text) in output_texts(&after) {
        for n in needles {
            assert!(!text.contains(n), "{n} in {}", path.display());
        }
    }
    // The report changed nothing: the next sync erases them (with their snapshots).
    let stored: i64 = Store::open(&db)
        .expect("db")
        .db()
        .query_row(
            "SELECT count(*) FROM insight_users WHERE user_id = ?1",
            [&author],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stored, 1);

    // An email the store cannot match, or an ID matching nobody stored (a typo of someone who
    // is?), added since the last sync: refused, not guessed.
    for unknown in [someone_else_email.as_str(), "U0NEVERSEEN"] {
        write_config(&config, &[author.as_str(), unknown]);
        let (out, _) = run("unknown").await.expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(unknown) && stderr.contains("run insight-sync"),
            "{stderr}"
        );
    }
    write_config(&config, &[author.as_str(), someone_else_email.as_str()]);
    // Once a sync has applied that list, the same report runs.
    sync(&sim, &config, dir.path()).await;
    let (out, _) = run("synced").await.expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// issue 12: with `"departments": {"source": "team.json"}`, a member's `department` is their
/// department in the report; a member without one stays `team`, everyone else `(none)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments_come_from_team_json() {
    let ws = slack_sim::generate(&GenSpec {
        users: 30,
        channels: 8,
        days: 5,
        seed: 7,
        max_members: Some(15),
        end: Some(jiff::Timestamp::now().as_second() - 3600),
    });
    // Two different authors of public channels: one with a department, one without.
    let mut authors: Vec<String> = Vec::new();
    for u in ws
        .channels
        .iter()
        .filter(|c| !c.is_private && !c.is_im && !c.is_mpim)
        .flat_map(|c| c.messages.iter())
        .filter_map(|m| m["user"].as_str())
    {
        if u != ws.token_user && !authors.iter().any(|a| a == u) {
            authors.push(u.to_string());
        }
    }
    let [sales, plain] = [&authors[0], &authors[1]];
    let sim = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws.clone(),
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    let doc = serde_json::json!({
        "channels": {"name_contains": []},
        "window_days": 7, "timezone": "UTC",
        "departments": {"source": "team.json"}
    });
    std::fs::write(config.join("insight.json"), doc.to_string()).expect("insight.json");
    let team = serde_json::json!({"members": [
        {"handle": "sally", "name": "Sally", "role": "required", "slack": [sales],
         "department": "  Sales Team "},
        {"handle": "paul", "name": "Paul", "role": "optional", "slack": [plain]}
    ]});
    std::fs::write(config.join("team.json"), team.to_string()).expect("team.json");
    sync(&sim, &config, dir.path()).await;

    let out_dir = dir.path().join("out");
    let (c, d, o) = (
        config.clone(),
        dir.path().join("insight.db"),
        out_dir.clone(),
    );
    let out = tokio::task::spawn_blocking(move || report(&c, &d, &o))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = |name: &str| std::fs::read_to_string(out_dir.join(name)).expect("csv");
    let team_metrics = csv("team_metrics.csv");
    let departments: Vec<&str> = team_metrics
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(departments.contains(&"Sales Team"), "{team_metrics}");
    assert!(departments.contains(&"team"), "{team_metrics}");
    let user_channel = csv("user_channel_metrics.csv");
    let header: Vec<&str> = user_channel
        .lines()
        .next()
        .expect("header")
        .split(',')
        .collect();
    let col = header
        .iter()
        .position(|h| *h == "department")
        .expect("department column");
    let department_of = |user: &str| -> Vec<String> {
        user_channel
            .lines()
            .filter(|l| l.starts_with(&format!("{user},")))
            .map(|l| l.split(',').nth(col).unwrap_or_default().to_string())
            .collect()
    };
    let s = department_of(sales);
    assert!(
        !s.is_empty() && s.iter().all(|d| d == "Sales Team"),
        "{s:?}\n{user_channel}"
    );
    let p = department_of(plain);
    assert!(!p.is_empty() && p.iter().all(|d| d == "team"), "{p:?}");
    let other = ws
        .users
        .iter()
        .filter_map(|u| u["id"].as_str())
        .find(|u| *u != sales.as_str() && *u != plain.as_str() && !department_of(u).is_empty())
        .expect("another user in the report");
    assert!(department_of(other).iter().all(String::is_empty), "{other}");
}
