//! admin-panel under load: a store holding 52 weekly audits of 1000 groups plus the insight
//! database of `insight` (10M events by default), the release `admin-panel` on loopback (no
//! users: read-only), and 50 concurrent clients per endpoint measuring requests/s and p50/p99.
//! Side by side, the original product's stack: a minimal Flask app under gunicorn with 2 sync
//! workers (`crates/bench/reference/panel_flask.py`) answering the same dashboard query from the
//! same SQLite file. Goals: p99 < 100 ms on every page, ours >= 10x Flask's requests/s.
//!
//! `PANEL_BENCH_EVENTS=N` sizes the insight data and `PANEL_BENCH_REQUESTS=N` the requests per
//! endpoint when iterating.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use audit::{AuditResult, AuditSummary, CategoryCount, GroupFinding, Platform};
use store::Store;
use store::audit::{Finding, NewAuditRun};

use crate::{insight, sim};

const RUNS: usize = 52;
const GROUPS: usize = 1000;
const CLIENTS: usize = 50;
const REQUESTS: usize = 5000;
/// Each endpoint's load stops starting requests at this time even when some are left, and a
/// request still unanswered after it counts as failed, so a slow page cannot stall the run.
const MAX_LOAD: Duration = Duration::from_secs(20);
const EVENTS: u64 = 10_000_000;
/// The first (cold) request of an endpoint may compute for a while on 10M events.
const FIRST_TIMEOUT: Duration = Duration::from_secs(600);
const HANDLES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];

/// The endpoints measured, `{run}` standing for the newest run's id. An endpoint this build does
/// not serve (404) is reported as skipped, so pages that land later join by a line here.
const ENDPOINTS: &[&str] = &[
    "/",
    "/api/v1/dashboard",
    "/audits/{run}",
    "/api/v1/audits/{run}/findings",
    "/engagement",
    "/api/v1/engagement",
];

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run() -> anyhow::Result<()> {
    let env_num = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let events = env_num("PANEL_BENCH_EVENTS", EVENTS);
    let requests = env_num("PANEL_BENCH_REQUESTS", REQUESTS as u64) as usize;
    let tmp = tempfile::tempdir()?;
    // PANEL_BENCH_DB=FILE keeps the generated store there and reuses it on the next run (minutes
    // of generation saved when iterating on the panel).
    let kept = std::env::var_os("PANEL_BENCH_DB").map(std::path::PathBuf::from);
    let db = kept
        .clone()
        .unwrap_or_else(|| tmp.path().join("slack-tools.db"));
    let dir = db.parent().context("PANEL_BENCH_DB names no directory")?;

    let started = Instant::now();
    let last_run = if kept.is_some() && db.is_file() {
        let run = Store::open(&db)?
            .latest_audit_run()?
            .context("the kept PANEL_BENCH_DB store has no audit run")?;
        println!("panel.store: reusing {}", db.display());
        run.id
    } else {
        let g = insight::generate_db(&db, events)?;
        let last_run = write_audits(&db)?;
        println!(
            "panel.store: {RUNS} weekly audits of {GROUPS} groups + {} insight events ({} to {}); generated in {:.0}s",
            g.events,
            g.since,
            g.until,
            started.elapsed().as_secs_f64()
        );
        last_run
    };

    let (panel, base) = start_panel(dir, &db)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(MAX_LOAD)
        .build()?;
    let mut worst_p99 = Duration::ZERO;
    let mut dashboard_rps = 0.0;
    let mut failing: Vec<String> = Vec::new();
    // One request to each endpoint first, timed on its own (a long timeout): what the panel
    // computes once and keeps. The panel's warming task computes the default Engagement view at
    // start; a cohort nobody asked for yet shows what an uncached Engagement question costs.
    // The loads below then measure the steady state, none of them sharing the machine with a
    // computation of another endpoint.
    let cold = format!(
        "/api/v1/engagement?department={}",
        insight::DEPARTMENTS.first().copied().unwrap_or("eng")
    );
    let mut served = Vec::new();
    for path in ENDPOINTS.iter().copied().chain([cold.as_str()]) {
        let path = path.replace("{run}", &last_run.to_string());
        let url = format!("{base}{}", path.trim_start_matches('/'));
        let first = Instant::now();
        match rt.block_on(async {
            let resp = client.get(&url).timeout(FIRST_TIMEOUT).send().await?;
            let status = resp.status();
            resp.bytes().await.map(|b| (status, b.len()))
        }) {
            Ok((reqwest::StatusCode::NOT_FOUND, _)) => {
                println!("panel.ours {path}: not served by this build (404), skipped");
            }
            Ok((status, bytes)) => {
                println!(
                    "panel.ours {path}: first request {:.1} ms, {} KB, {status}",
                    ms(first.elapsed()),
                    bytes / 1024
                );
                if path != cold {
                    served.push((path, url));
                }
            }
            Err(e) => {
                println!("panel.ours {path}: FAILED, first request: {e}");
                failing.push(path.clone());
            }
        }
    }
    for (path, url) in served {
        let r = rt.block_on(load(&client, &url, requests))?;
        println!("panel.ours {path}: {}", r.line());
        worst_p99 = worst_p99.max(r.p99);
        if r.failed > 0 {
            failing.push(path.clone());
        }
        if path == "/api/v1/dashboard" {
            dashboard_rps = r.rps;
        }
    }
    println!(
        "panel.ours worst p99 (target < 100 ms): {:.1} ms{}",
        ms(worst_p99),
        if failing.is_empty() {
            String::new()
        } else {
            format!("; FAILED answers from {failing:?}")
        }
    );

    // The panel may still be working on requests its clients gave up on: stop it so Flask has
    // the machine to itself.
    drop(panel);
    let (_flask, flask_base) = start_flask(dir, &db, &rt, &client)?;
    let url = format!("{flask_base}api/v1/dashboard");
    let flask = rt.block_on(load(&client, &url, requests))?;
    println!(
        "panel.flask /api/v1/dashboard (gunicorn, 2 sync workers): {}",
        flask.line()
    );
    println!(
        "panel.dashboard_api ours/flask requests/s (target >= 10): {:.1}",
        dashboard_rps / flask.rps
    );
    Ok(())
}

/// One endpoint's figures under load.
struct Load {
    requests: usize,
    failed: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
}

impl Load {
    fn line(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms ({} requests, {CLIENTS} clients, {} failed)",
            self.rps,
            ms(self.p50),
            ms(self.p99),
            self.requests,
            self.failed
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `CLIENTS` tasks sharing `requests` GETs of `url` (stopping at `MAX_LOAD`), each reading the
/// whole body; a non-2xx answer counts as failed.
async fn load(client: &reqwest::Client, url: &str, requests: usize) -> anyhow::Result<Load> {
    let left = Arc::new(AtomicUsize::new(requests));
    let started = Instant::now();
    let deadline = started + MAX_LOAD;
    let mut tasks = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let (client, url, left) = (client.clone(), url.to_string(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut failed = 0usize;
            while Instant::now() < deadline
                && left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                let t = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                    Err(_) => false,
                };
                times.push(t.elapsed());
                failed += usize::from(!ok);
            }
            (times, failed)
        }));
    }
    let mut times = Vec::with_capacity(requests);
    let mut failed = 0;
    for t in tasks {
        let (t, f) = t.await?;
        times.extend(t);
        failed += f;
    }
    let wall = started.elapsed();
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    anyhow::ensure!(!times.is_empty(), "no request to {url} was made");
    Ok(Load {
        requests: times.len(),
        failed,
        rps: times.len() as f64 / wall.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// 52 weekly runs of 1000 Slack groups, stored the way audit-run records a run (begin, then
/// finish with the full results JSON and a finding row per group with a gap); about a fifth of
/// the groups miss someone, drifting from week to week. Returns the newest run's id.
fn write_audits(db: &Path) -> anyhow::Result<i64> {
    let mut store = Store::open(db)?;
    let mut rng = fastrand::Rng::with_seed(12);
    let now = jiff::Timestamp::now();
    let mut last = 0;
    for week in 0..RUNS {
        let started_at = now - jiff::SignedDuration::from_hours(24 * 7 * (RUNS - 1 - week) as i64);
        let mut findings: Vec<GroupFinding> = (0..GROUPS)
            .map(|g| {
                let customer = g % 4 != 0;
                let required: Vec<&str> = HANDLES[..if customer { 4 } else { 2 }].to_vec();
                let missing: Vec<String> = required
                    .iter()
                    .filter(|_| rng.f64() < 0.06)
                    .map(|h| h.to_string())
                    .collect();
                let total = required.len() as u32;
                let present = total - missing.len() as u32;
                GroupFinding {
                    platform: Platform::Slack,
                    group_id: format!("C{g:08}"),
                    group_name: format!("{}-{g:04}", if customer { "cust" } else { "team" }),
                    category: if customer { "BD Customer" } else { "Internal" }.to_string(),
                    required_present: present,
                    required_total: total,
                    missing_required: missing,
                    optional_present: 1,
                    missing_optional: Vec::new(),
                    excluded: Vec::new(),
                    is_private: g % 10 != 0,
                    flag_public: customer && g % 10 == 0,
                    flag_rename: g % 50 == 0,
                    suggested_name: (g % 50 == 0).then(|| format!("ext-cust-{g:04}")),
                    is_ext_shared: customer,
                    member_count: 5 + (g % 40) as u64,
                    completeness_pct: f64::from(present) * 100.0 / f64::from(total),
                    error: None,
                }
            })
            .collect();
        findings.sort_by(|a, b| a.group_name.cmp(&b.group_name));
        let summary = summary_of(&findings);
        let result = AuditResult {
            findings,
            summary,
            warnings: Vec::new(),
        };
        let s = &result.summary;
        let run = NewAuditRun {
            started_at,
            finished_at: Some(started_at + jiff::SignedDuration::from_secs(90)),
            platforms: vec!["slack".to_string()],
            groups: i64::from(s.groups),
            groups_with_gaps: i64::from(s.groups_with_gaps),
            missing_required: i64::from(s.missing_required_total),
            coverage: s.coverage_rate,
            results: serde_json::to_value(&result)?,
        };
        let rows: Vec<Finding> = result
            .findings
            .iter()
            .filter(|f| f.has_gaps() || f.error.is_some())
            .map(|f| Finding {
                platform: "slack".to_string(),
                group_id: f.group_id.clone(),
                group_name: f.group_name.clone(),
                category: f.category.clone(),
                required_present: i64::from(f.required_present),
                required_total: i64::from(f.required_total),
                missing_required: f.missing_required.clone(),
                missing_optional: f.missing_optional.clone(),
                error: f.error.clone(),
            })
            .collect();
        let id = store.begin_audit_run(started_at, "cli")?;
        store.finish_audit_run(id, &run, &rows)?;
        last = id;
    }
    Ok(last)
}

fn summary_of(findings: &[GroupFinding]) -> AuditSummary {
    let mut per_category: Vec<CategoryCount> = Vec::new();
    for f in findings {
        let i = match per_category.iter().position(|c| c.category == f.category) {
            Some(i) => i,
            None => {
                per_category.push(CategoryCount {
                    category: f.category.clone(),
                    groups: 0,
                    complete: 0,
                    with_gaps: 0,
                    missing_required: 0,
                });
                per_category.len() - 1
            }
        };
        let c = &mut per_category[i];
        c.groups += 1;
        c.complete += u32::from(!f.has_gaps());
        c.with_gaps += u32::from(f.has_gaps());
        c.missing_required += f.missing_required.len() as u32;
    }
    let cov = per_category.iter().find(|c| c.category == "BD Customer");
    let count = |p: &dyn Fn(&GroupFinding) -> bool| findings.iter().filter(|f| p(f)).count() as u32;
    AuditSummary {
        coverage_category: "BD Customer".to_string(),
        coverage_rate: cov.map(|c| f64::from(c.complete) / f64::from(c.groups)),
        coverage_groups: cov.map_or(0, |c| c.groups),
        groups: findings.len() as u32,
        groups_with_gaps: count(&|f| f.has_gaps()),
        missing_required_total: findings
            .iter()
            .map(|f| f.missing_required.len() as u32)
            .sum(),
        per_category,
        public_count: count(&|f| f.flag_public),
        rename_count: count(&|f| f.flag_rename),
        unmatched_members: Vec::new(),
        errors: 0,
        platforms: vec![Platform::Slack],
    }
}

/// The release admin-panel over `db` on a free loopback port, no users file (read-only); waits
/// for its `listening on` line and returns the base URL.
fn start_panel(dir: &Path, db: &Path) -> anyhow::Result<(Killed, String)> {
    // The Engagement page reads insight.json (window, timezone) as insight-report does.
    let config = insight::write_config(dir, None)?;
    let mut child = Command::new(sim::bin_dir().join("admin-panel"))
        .args(["--listen", "127.0.0.1:0", "--quiet", "--db"])
        .arg(db)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting admin-panel (cargo build --release -p admin-panel)")?;
    let stdout = child.stdout.take().context("admin-panel stdout")?;
    let child = Killed(child);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(url) = line.strip_prefix("listening on ") {
            return Ok((child, url.trim().to_string()));
        }
    }
    bail!("admin-panel exited before listening")
}

/// gunicorn with 2 sync workers serving `reference/panel_flask.py` over `db` (installing flask and
/// gunicorn with pip when missing); waits until it answers and returns the base URL.
fn start_flask(
    dir: &Path,
    db: &Path,
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
) -> anyhow::Result<(Killed, String)> {
    let have = Command::new("python3")
        .args(["-c", "import flask, gunicorn"])
        .stderr(Stdio::null())
        .status()?;
    if !have.success() {
        let pip = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "flask", "gunicorn"])
            .status()
            .context("pip install flask gunicorn")?;
        anyhow::ensure!(pip.success(), "pip install flask gunicorn failed ({pip})");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference");
    let child = Command::new("python3")
        .args(["-m", "gunicorn", "--workers", "2", "--worker-class", "sync"])
        .args(["--bind", &format!("127.0.0.1:{port}"), "--chdir"])
        .arg(&reference)
        .args(["--log-level", "warning", "panel_flask:app"])
        .env("PANEL_DB", db)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting gunicorn")?;
    let child = Killed(child);
    let base = format!("http://127.0.0.1:{port}/");
    let url = format!("{base}api/v1/dashboard");
    let started = Instant::now();
    loop {
        if let Ok(resp) = rt.block_on(async { client.get(&url).send().await }) {
            let status = resp.status();
            anyhow::ensure!(
                status.is_success(),
                "the Flask app answered {url} with {status}"
            );
            return Ok((child, base));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("gunicorn did not answer {url} within 30s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
