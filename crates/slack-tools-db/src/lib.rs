//! The `slack-tools-db` tool over `store::copy`: `copy --from A --to B` moves every table from one
//! store to another (a SQLite file or a `postgres://` URL, either way round), verified per table by
//! row count and SHA-256; `status` shows a store's backend, schema version and row counts.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use store::{Location, Store};

/// The store's database itself: copy it between SQLite and PostgreSQL, check what it holds.
#[derive(Parser, Debug)]
#[command(
    name = "slack-tools-db",
    version,
    after_help = "A store is a SQLite file path or a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL \
                  (the password is never shown).\n\
                  Exit codes: 0 done, 1 a copy did not verify or a database could not be opened, 2 usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Copy every table of one store into another and verify each (row count and SHA-256).
    /// Safe to run again: rows already there are left alone, so nothing is duplicated.
    Copy {
        /// The store to read (SQLite file or postgres:// URL). It is migrated to this build's
        /// schema first, like any tool would.
        #[arg(long, value_name = "DB")]
        from: PathBuf,
        /// The store to write (created and migrated if needed).
        #[arg(long, value_name = "DB")]
        to: PathBuf,
        /// One JSON object on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The backend, schema version and row count of every table (of --db, DATABASE_URL or the
    /// default file).
    Status {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Copy { from, to, json } => copy(from, to, *json, cli.common.quiet),
        Command::Status { json } => status(&cli.common.db_path(), *json),
    }
}

fn open(arg: &Path) -> anyhow::Result<Store> {
    let shown = store::shown_location(arg);
    Store::open(arg).with_context(|| format!("opening {shown}"))
}

fn same_store(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::Sqlite(x), Location::Sqlite(y)) => {
            x == y || matches!((x.canonicalize(), y.canonicalize()), (Ok(p), Ok(q)) if p == q)
        }
        (Location::Postgres(x), Location::Postgres(y)) => x.shown() == y.shown(),
        _ => false,
    }
}

fn copy(from: &Path, to: &Path, json: bool, quiet: bool) -> anyhow::Result<Outcome> {
    let (src_loc, dst_loc) = (Location::parse(from)?, Location::parse(to)?);
    if same_store(&src_loc, &dst_loc) {
        return Err(UsageError::new(format!(
            "--from and --to are the same store ({})",
            src_loc.shown()
        ))
        .with_hint("give --to another SQLite file or another postgres:// database")
        .into());
    }
    if let Location::Sqlite(p) = &src_loc
        && !p.exists()
    {
        return Err(UsageError::new(format!("{} does not exist", p.display()))
            .with_hint("--from names the store to copy: the SQLite file the tools wrote (default output/slack-tools.db) or a postgres:// URL")
            .into());
    }
    let src = open(from)?;
    let dst = open(to)?;
    let tables = store::copy::tables()?.len() as u64;
    let bar = (!quiet && !json).then(|| cli_support::progress_bar(tables, "tables"));
    let mut current = String::new();
    let reports = store::copy::copy(&src, &dst, |table, rows| {
        if let Some(b) = &bar {
            if table != current {
                current = table.to_string();
                b.inc(1);
            }
            b.set_message(format!("{table} {rows}"));
        }
    })
    .with_context(|| format!("copying {} to {}", src_loc.shown(), dst_loc.shown()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let bad: Vec<&store::copy::TableReport> = reports.iter().filter(|r| !r.verified()).collect();
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "from": src_loc.shown(),
            "to": dst_loc.shown(),
            "verified": bad.is_empty(),
            "tables": reports,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "copied {} -> {}", src_loc.shown(), dst_loc.shown())?;
        writeln!(
            out,
            "{:<28} {:>10} {:>10} {:>10}  {:<16} check",
            "table", "source", "inserted", "target", "sha256"
        )?;
        for r in &reports {
            writeln!(
                out,
                "{:<28} {:>10} {:>10} {:>10}  {:<16} {}",
                r.table,
                r.source_rows,
                r.inserted,
                r.target_rows,
                &r.source_sha256[..16],
                if r.verified() { "ok" } else { "DIFFERS" }
            )?;
        }
        let rows: u64 = reports.iter().map(|r| r.source_rows).sum();
        let inserted: u64 = reports.iter().map(|r| r.inserted).sum();
        writeln!(
            out,
            "{} tables, {rows} rows, {inserted} inserted now; {}",
            reports.len(),
            if bad.is_empty() {
                "every table verified (row count and SHA-256)".to_string()
            } else {
                format!("{} table(s) differ", bad.len())
            }
        )?;
    }
    if !bad.is_empty() {
        let names: Vec<&str> = bad.iter().map(|r| r.table.as_str()).collect();
        eprintln!(
            "error: the target does not hold exactly the source's rows in: {}\n\
             hint: the target already had other rows in these tables (copy into an empty database, \
             or one that only ever received copies of this source)",
            names.join(", ")
        );
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

fn status(db: &Path, json: bool) -> anyhow::Result<Outcome> {
    let loc = Location::parse(db)?;
    if let Location::Sqlite(p) = &loc
        && !p.exists()
    {
        return Err(UsageError::new(format!("{} does not exist", p.display()))
            .with_hint("pass --db FILE or a postgres:// URL (or set DATABASE_URL)")
            .into());
    }
    let store = Store::open_read_only(db).with_context(|| format!("opening {}", loc.shown()))?;
    let version = store.schema_version()?;
    let mut counts = Vec::new();
    for t in store::copy::tables()? {
        let n: i64 =
            store
                .db()
                .query_row(&format!("SELECT count(*) FROM \"{}\"", t.name), [], |r| {
                    r.get(0)
                })?;
        counts.push((t.name, n));
    }
    let backend = match loc {
        Location::Sqlite(_) => "sqlite",
        Location::Postgres(_) => "postgres",
    };
    let mut out = std::io::stdout().lock();
    if json {
        let tables: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(t, n)| (t.clone(), serde_json::json!(n)))
            .collect();
        let v = serde_json::json!({
            "store": loc.shown(), "backend": backend, "schema_version": version,
            "supported_schema_version": store::migrations::SCHEMA_VERSION, "tables": tables,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{} ({backend}), schema version {version}", loc.shown())?;
        for (t, n) in counts {
            writeln!(out, "  {t:<28} {n:>10}")?;
        }
    }
    Ok(Outcome::Success)
}
