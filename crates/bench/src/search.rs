//! `slack-export search` over the store's FTS5 index side by side with ripgrep over the same
//! archive's text export: a rare and a common word, same machine, same run, warm cache.
//!
//! The archive (default 10M messages; `SEARCH_BENCH_MESSAGES=N` for a small trial run) is generated
//! straight into a store through `store::search` (the API the exporters call) and, line for line,
//! into text files laid out like slack-export's text format (one file per channel). Both are
//! deleted at the end. Needs `target/release/slack-export` (or the same profile's) next to this
//! binary and `rg` on PATH (`apt-get install ripgrep`).
//!
//! Compared like for like:
//! - every match: `slack-export search WORD --limit <all>` vs `rg -i -w WORD` (both print every
//!   matching message, one line each; the counts are checked equal);
//! - the newest 50 (what `search` prints by default): ripgrep has no newest-first, so it still
//!   scans everything; this row says what a user waits for in each tool, not the same work.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use store::Store;
use store::search::SearchDoc;

const MESSAGES: u64 = 10_000_000;
const CHANNELS: u64 = 200;
const USERS: u64 = 500;
/// The rare word: in 10 messages of the archive (one in 1M at the full size).
const RARE: &str = "zanzibarite";
const RARE_MATCHES: u64 = 10;
/// The common word: in one message of every 10.
const COMMON: &str = "deploy";
const COMMON_EVERY: u64 = 10;
/// Generated filler vocabulary (pseudo-words; none is `RARE` or `COMMON`).
const VOCABULARY: usize = 5000;
const BATCH: usize = 20_000;
/// Runs per measurement (the median is reported), after one warm-up run.
const RUNS: usize = 3;

pub fn run() -> anyhow::Result<()> {
    let messages = std::env::var("SEARCH_BENCH_MESSAGES")
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .context("SEARCH_BENCH_MESSAGES is a number")
        })
        .transpose()?
        .unwrap_or(MESSAGES);
    let exe = std::env::current_exe()?;
    let tool = exe
        .parent()
        .map(|d| d.join("slack-export"))
        .filter(|p| p.exists())
        .context("slack-export is not built next to bench: cargo build --release --workspace")?;
    let rg_ok = Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !rg_ok {
        bail!("ripgrep (rg) is not on PATH: apt-get install -y ripgrep");
    }
    let dir = tempfile::Builder::new()
        .prefix("bench-search-")
        .tempdir_in(
            std::env::var_os("SEARCH_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
        )?;
    let db = dir.path().join("search.db");
    let text_dir = dir.path().join("text");
    let started = Instant::now();
    let (rare_expected, common_expected) = generate(&db, &text_dir, messages)?;
    let db_mb = std::fs::metadata(&db)?.len() as f64 / 1e6;
    let text_mb = dir_size(&text_dir)? as f64 / 1e6;
    println!("messages: {messages}");
    println!(
        "archive: store {db_mb:.0} MB (index and text), text export {text_mb:.0} MB; generated in {:.0}s",
        started.elapsed().as_secs_f64()
    );

    for (word, expected) in [(RARE, rare_expected), (COMMON, common_expected)] {
        let all = usize::try_from(expected.max(1))?.to_string();
        let (ours, ours_lines) =
            median(|| lines_of(Command::new(&tool).args(search_args(&db, word, &all))))?;
        let (rg, rg_lines) = median(|| lines_of(&mut rg_command(word, &text_dir)))?;
        if ours_lines != expected || rg_lines != expected {
            bail!(
                "{word}: expected {expected} matches, slack-export search printed {ours_lines}, rg {rg_lines}"
            );
        }
        println!(
            "{word} ({expected} matches), every match: search {:.1} ms, rg {:.1} ms, search/rg {:.3}",
            ms(ours),
            ms(rg),
            ours.as_secs_f64() / rg.as_secs_f64()
        );
        let (newest, newest_lines) =
            median(|| lines_of(Command::new(&tool).args(search_args(&db, word, "50"))))?;
        println!(
            "{word}, newest 50 (rg still reads everything): search {:.1} ms ({newest_lines} lines), rg {:.1} ms, search/rg {:.3}",
            ms(newest),
            ms(rg),
            newest.as_secs_f64() / rg.as_secs_f64()
        );
    }
    drop(dir);
    Ok(())
}

fn search_args<'a>(db: &'a Path, word: &'a str, limit: &'a str) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "search".as_ref(),
        word.as_ref(),
        "--limit".as_ref(),
        limit.as_ref(),
        "--tz".as_ref(),
        "UTC".as_ref(),
        "--quiet".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]
}

fn rg_command(word: &str, dir: &Path) -> Command {
    let mut cmd = Command::new("rg");
    // Case-insensitive whole words, as FTS5's unicode61 tokenizer matches; no file names.
    cmd.args(["-i", "-w", "--no-filename", word]).arg(dir);
    cmd
}

/// Runs `cmd` with stdout in a pipe, returns its wall time and the lines it printed. grep's
/// "nothing found" (exit 1) is a result, anything else non-zero an error.
fn lines_of(cmd: &mut Command) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let out = cmd.stderr(Stdio::inherit()).output()?;
    let took = started.elapsed();
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!("{cmd:?} failed: {:?}", out.status);
    }
    Ok((
        took,
        out.stdout.iter().filter(|&&b| b == b'\n').count() as u64,
    ))
}

fn median(
    mut f: impl FnMut() -> anyhow::Result<(Duration, u64)>,
) -> anyhow::Result<(Duration, u64)> {
    f()?; // warm-up: page cache, SQLite's first page reads
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(f()?);
    }
    runs.sort_by_key(|r| r.0);
    Ok(runs[RUNS / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        total += e?.metadata()?.len();
    }
    Ok(total)
}

/// A pseudo-word for vocabulary slot `i`: consonant-vowel syllables, distinct per `i`.
fn word(mut i: usize) -> String {
    const C: &[u8] = b"bcdfghklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    loop {
        w.push(C[i % C.len()] as char);
        i /= C.len();
        w.push(V[i % V.len()] as char);
        i /= V.len();
        if i == 0 {
            break;
        }
    }
    w.push('x'); // never a real word (so never `deploy`)
    w
}

/// Generates the store and the text export; returns the rare and common word's match counts.
fn generate(db: &Path, text_dir: &Path, messages: u64) -> anyhow::Result<(u64, u64)> {
    let store = Store::open(db)?;
    std::fs::create_dir_all(text_dir)?;
    let vocab: Vec<String> = (0..VOCABULARY).map(word).collect();
    let mut files: Vec<BufWriter<std::fs::File>> = (0..CHANNELS)
        .map(|c| {
            std::fs::File::create(text_dir.join(format!("channel-{c}.txt")))
                .map(|f| BufWriter::with_capacity(1 << 20, f))
        })
        .collect::<Result<_, _>>()?;
    let mut rng = fastrand::Rng::with_seed(13);
    let start_us: i64 = 1_600_000_000_000_000;
    let mut batch = Vec::with_capacity(BATCH);
    let (mut rare, mut common) = (0, 0);
    let rare_every = (messages / RARE_MATCHES).max(1);
    for i in 0..messages {
        // Skewed word choice (squared uniform): a few words common, most rare, like real text.
        let n = 6 + rng.usize(..10);
        let mut text = String::with_capacity(n * 7);
        for k in 0..n {
            if k > 0 {
                text.push(' ');
            }
            let r = rng.f64();
            text.push_str(&vocab[(r * r * VOCABULARY as f64) as usize]);
        }
        if i % COMMON_EVERY == 3 {
            text.push_str(" deploy");
            common += 1;
        }
        if i % rare_every == rare_every / 2 {
            text.push_str(" Zanzibarite");
            rare += 1;
        }
        let channel = i % CHANNELS;
        let user = rng.u64(..USERS);
        // About 3 s apart: 10M messages span a year.
        let time_us = start_us + i as i64 * 3_000_000;
        let time = jiff::Timestamp::from_microsecond(time_us)?
            .strftime("%Y-%m-%d %H:%M")
            .to_string();
        writeln!(files[channel as usize], "{time}  User {user}: {text}")?;
        batch.push(SearchDoc {
            source: "slack".into(),
            conversation_id: format!("C0BENCH{channel:04}"),
            conversation_name: format!("channel-{channel}"),
            msg_id: format!("{}.{:06}", time_us / 1_000_000, time_us % 1_000_000),
            time_us,
            sender_id: Some(format!("U0BENCH{user:04}")),
            sender_name: format!("User {user}"),
            text,
            mentions: Vec::new(),
        });
        if batch.len() == BATCH {
            store.search_index_messages(&batch)?;
            batch.clear();
        }
    }
    store.search_index_messages(&batch)?;
    for f in &mut files {
        f.flush()?;
    }
    Ok((rare, common))
}
