//! `insight-report`: engagement metrics for a period from the insight tables of the store, written
//! as CSV files, one xlsx workbook and a self-contained HTML dashboard.

pub mod dashboard;
pub mod tables;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use cli_support::{CommonArgs, Outcome, UsageError};
use insight::{Cohort, InsightConfig, Period};
use jiff::civil::Date;
use store::Store;
use store::db::OptionalExt;

/// Engagement metrics (participation, active windows, channel and team activity, week over week)
/// from the database insight-sync fills.
#[derive(Parser, Debug)]
#[command(name = "insight-report", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// First day (YYYY-MM-DD, configured timezone). Default: window_days before --until.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Last day, inclusive. Default: today.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output formats, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "csv,xlsx,html")]
    pub format: Vec<Format>,
    /// Cohort: users (IDs, usernames or display names), comma-separated, or a file with one per line.
    #[arg(long, value_name = "FILE|LIST")]
    pub users: Option<String>,
    /// Cohort: one department.
    #[arg(long, value_name = "NAME")]
    pub department: Option<String>,
    /// Cohort: channels (IDs or names), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Xlsx,
    Html,
}

/// Parses and runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    cli_support::load_dotenv()?;
    let demo_db;
    let (config_dir, db, _demo_guard) = if cli.common.demo {
        // The demo syncs the demo workspace into a temporary database first.
        let dir = tempfile::tempdir().context("creating a temporary directory for the demo")?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let config_dir = dir.path().join("config");
        demo::write_config(&config_dir)?;
        demo_db = dir.path().join("demo.db");
        let cfg = insight::load_config(&config_dir).map_err(config_error)?;
        let summary = rt.block_on(async {
            let env = demo::DemoEnv::start().await?;
            let client = env.client()?;
            let s = insight_collect::sync(
                &client,
                &cfg,
                &insight_collect::SyncOptions {
                    db: demo_db.clone(),
                    out: dir.path().join("raw"),
                    config_dir: config_dir.clone(),
                    since: None,
                    prune_unscoped: false,
                },
            )
            .await?;
            anyhow::Ok(s)
        })?;
        eprintln!("{summary}");
        (config_dir, demo_db.clone(), Some(dir))
    } else {
        (cli.common.config.clone(), cli.common.db_path(), None)
    };
    let cfg = insight::load_config(&config_dir).map_err(config_error)?;
    // A Postgres URL names a server: whether the database is there is the connection's to say.
    if matches!(store::Location::parse(&db)?, store::Location::Sqlite(_)) && !db.exists() {
        return Err(UsageError::new(format!("no database at {}", db.display()))
            .with_hint("run insight-sync first, or point --db at its database")
            .into());
    }
    let store = Store::open(&db)?;
    let until = match &cli.until {
        Some(s) => parse_day(s, "--until")?,
        None => insight::time::today(&cfg.tz),
    };
    let since = match &cli.since {
        Some(s) => parse_day(s, "--since")?,
        None => until
            .checked_sub(jiff::Span::new().days(cfg.window_days as i64 - 1))
            .unwrap_or(until),
    };
    if since > until {
        return Err(UsageError::new(format!("--since {since} is after --until {until}")).into());
    }
    let cohort = cohort(&store, &cli)?;
    let started = std::time::Instant::now();
    let hidden = opted_out_since_sync(&store, &cfg)?;
    let compute = |store: &Store| {
        insight::compute(
            store,
            Period { since, until },
            &cohort,
            &cfg.tz,
            &cfg.timezone,
        )
    };
    let metrics = if hidden.is_empty() {
        compute(&store)?
    } else {
        // People opted out since the last sync are left out of this report as the next sync will
        // erase them: their rows purged in a transaction that is rolled back afterwards.
        tracing::info!(
            "{} people opted out since the last sync are left out of this report",
            hidden.len()
        );
        store.insight_without_users(&hidden, compute)??
    };
    let written = write_outputs(&metrics, &cli.common.out, &cli.format)?;
    eprintln!(
        "insight-report: {since} to {until}: {} user-channel rows, {} channels, {} files in {:.2}s",
        metrics.user_channel.len(),
        metrics.channels.len(),
        written.len(),
        started.elapsed().as_secs_f64()
    );
    let mut stdout = std::io::stdout().lock();
    for p in written {
        writeln!(stdout, "{}", p.display())?;
    }
    Ok(Outcome::Success)
}

/// [`insight_collect::opted_out_since_sync`], its refusal as a usage error with a hint.
fn opted_out_since_sync(store: &Store, cfg: &InsightConfig) -> anyhow::Result<Vec<String>> {
    insight_collect::opted_out_since_sync(store, cfg).map_err(|e| match e {
        insight_collect::OptOutError::Unrecognised { .. } => {
            let hint = e.hint().map(str::to_string);
            cli_support::with_hint(e, hint, true)
        }
        e => anyhow::Error::new(e),
    })
}

fn config_error(e: insight::ConfigError) -> anyhow::Error {
    let hint = e.hint.clone();
    cli_support::with_hint(e, Some(hint), true)
}

fn parse_day(s: &str, flag: &str) -> anyhow::Result<Date> {
    s.parse().map_err(|e| {
        UsageError::new(format!("{flag} {s:?} is not a date: {e}"))
            .with_hint("use YYYY-MM-DD")
            .into()
    })
}

/// Resolves the cohort flags against the stored users and channels.
fn cohort(store: &Store, cli: &Cli) -> anyhow::Result<Cohort> {
    let mut c = Cohort {
        department: cli.department.clone(),
        ..Cohort::default()
    };
    if let Some(spec) = &cli.users {
        let text = if Path::new(spec).is_file() {
            std::fs::read_to_string(spec).with_context(|| format!("reading {spec}"))?
        } else {
            spec.replace(',', "\n")
        };
        let mut ids = HashSet::new();
        for ident in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let ident = ident.trim_start_matches('@');
            let found: Vec<String> = store.db().query_all(
                "SELECT user_id FROM insight_users WHERE user_id = ?1 OR lower(name) = lower(?1)
                 OR lower(display_name) = lower(?1)",
                [ident],
                |r| r.get(0),
            )?;
            if found.is_empty() {
                return Err(
                    UsageError::new(format!("--users: {ident:?} is not a stored user"))
                        .with_hint("use a Slack user ID or a username from the last sync")
                        .into(),
                );
            }
            ids.extend(found);
        }
        c.users = Some(ids);
    }
    if !cli.channels.is_empty() {
        let mut ids = HashSet::new();
        for ch in &cli.channels {
            let ch = ch.trim().trim_start_matches('#');
            let id: Option<String> = store
                .db()
                .query_row(
                    "SELECT channel_id FROM insight_channels WHERE channel_id = ?1 OR name = ?1",
                    [ch],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => ids.insert(id),
                None => {
                    return Err(UsageError::new(format!(
                        "--channels: {ch:?} is not a synced channel"
                    ))
                    .with_hint(
                        "list channels in scope with the channel_metrics.csv of a full report",
                    )
                    .into());
                }
            };
        }
        c.channels = Some(ids);
    }
    Ok(c)
}

/// Writes the requested formats into `out`; returns the paths written.
pub fn write_outputs(
    m: &insight::Metrics,
    out: &Path,
    formats: &[Format],
) -> anyhow::Result<Vec<PathBuf>> {
    private_files::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Reports and dashboards a killed run left half-written.
    cli_support::remove_stale_temps(out, 0)?;
    let tables = tables::tables(m);
    let mut written = Vec::new();
    if formats.contains(&Format::Csv) {
        for t in &tables {
            let p = out.join(format!("{}.csv", t.name));
            report::write_csv(t, &p)?;
            written.push(p);
        }
    }
    if formats.contains(&Format::Xlsx) {
        let p = out.join("insight.xlsx");
        let mut wb = report::Workbook::new();
        for t in &tables {
            wb = wb.sheet(t);
        }
        wb.save(&p)?;
        written.push(p);
    }
    if formats.contains(&Format::Html) {
        let p = out.join("insight.html");
        private_files::write(&p, dashboard::render(m))
            .with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

/// For tests: an [`InsightConfig`] from text.
pub fn parse_config(text: &str) -> Result<InsightConfig, insight::ConfigError> {
    InsightConfig::parse(text, Path::new("insight.json"))
}
