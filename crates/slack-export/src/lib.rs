//! slack-export: channel history with threads to text, JSON, the standard Slack export layout or an
//! offline HTML archive, streamed through a SQLite spool so memory stays flat and `--resume` fetches
//! only what changed; every export feeds the store's search index, which `search` queries.
//!
//! Data flow: [`fetch`] pages history and replies into the store's export spool (one transaction
//! per page); [`sink::render_channel`] streams the spool, in the order a format asks for, into a
//! [`sink::Sink`] ([`formats`]). The binary's `main` only parses flags and calls [`run`].

pub mod attachments;
pub mod compact;
pub mod fetch;
pub mod files;
pub mod formats;
pub mod names;
pub mod people;
pub mod search;
pub mod sink;
pub mod summary;
pub mod window;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use cli_support::slack_error;
use cli_support::{CommonArgs, Outcome, UsageError};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::tz::TimeZone;
use slack_client::{
    Conversation, ConversationType, ListConversations, SlackClient, TimeRange, User,
};
use store::Store;
use tracing::{error, info, warn};

use crate::sink::{ChannelMeta, ExportError, Sink};
use crate::summary::{ApiCalls, ChannelSummary, ExportSummary};
use crate::window::{slack_ts, ts_key};

/// The channel `--demo` exports when none is named.
pub const DEMO_CHANNEL: &str = "bitsafe-acme";

/// Export Slack channel history, threads included, to text, JSON, the standard Slack export
/// layout or an offline HTML archive; search everything exported.
#[derive(Parser, Debug)]
#[command(name = "slack-export", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Channels to export: IDs (C0123ABCD), `#name` or `name`.
    #[arg(value_name = "CHANNEL")]
    pub channels: Vec<String>,

    /// Also export every channel in the audit scope of categories.json (in --config).
    #[arg(long)]
    pub all_in_scope: bool,

    /// Oldest messages to include: a date (start of that day in --tz) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Newest messages to include: a date (that whole day in --tz) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Time zone for text timestamps and date bounds (IANA name); default: this machine's zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Continue the export in --out from its saved state: fetch only new messages and threads with
    /// new replies (an interrupted export picks up where it stopped).
    #[arg(long)]
    pub resume: bool,

    /// With --resume: how many days before the newest exported message to re-read for new replies
    /// to older threads.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub thread_lookback: u32,

    /// Also download every file attached to an exported message, once per file ID, into
    /// `files/<FILE_ID>/<name>` under the export root; every format links to the local copy. A
    /// rerun (or --resume) skips files already there whole.
    #[arg(long)]
    pub files: bool,

    /// With --files: skip files larger than SIZE (bytes, or e.g. `20MB`, `1.5GiB`); they are
    /// listed in the summary.
    #[arg(long, value_name = "SIZE")]
    pub max_file_size: Option<String>,

    /// Also export the token owner's direct messages and group DMs (needs the im:read,
    /// im:history, mpim:read and mpim:history scopes).
    #[arg(long)]
    pub dms: bool,

    /// Do not add the exported messages to the store's search index (`slack-export search`):
    /// a bulk export with rate limits off runs faster; a later export without it catches up.
    #[arg(long)]
    pub no_index: bool,

    /// With --format slack: write one `slack-export.zip` instead of a folder.
    #[arg(long)]
    pub zip: bool,

    /// Print the run's summary as one JSON document on stdout (per channel: id, name, messages
    /// exported and new, threads fetched, files written, error). Progress stays on stderr.
    #[arg(long)]
    pub json: bool,

    /// Print shell completions for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    pub generate_completions: Option<String>,

    /// Write man pages into DIR and exit.
    #[arg(long, value_name = "DIR")]
    pub generate_man: Option<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Subcommands (without one, the command exports).
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find messages in everything exported into the store (Slack, and Telegram once tg-admin
    /// exports into it), newest first; exits 1 when nothing matches.
    Search(search::SearchArgs),
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text, one `<channel>.txt` per channel.
    Text,
    /// Lossless raw messages, one `<channel>.json` per channel.
    Json,
    /// Slack's standard export layout (users.json, channels.json, day files) for export viewers.
    Slack,
    /// An offline HTML archive in `<out>/html/`: index.html, a page per channel (per month for long
    /// ones), threads, reactions, local files and images; no script or network needed.
    Html,
}

/// Runs the command: the whole tool behind `main`.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    cli_support::load_dotenv()?;
    if let Some(Command::Search(args)) = &cli.command {
        return search::run_search(args, cli.common.db_path());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(cli))
}

fn export_error(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::Slack(s) => slack_error(s),
        other => anyhow::Error::new(other),
    }
}

/// Settings resolved from the flags before any call is made.
struct Settings {
    tz: TimeZone,
    since: Option<i64>,
    until: Option<i64>,
    /// `--max-file-size` in bytes.
    max_file_size: Option<u64>,
}

fn settings(cli: &Cli) -> Result<Settings, UsageError> {
    let (tz, since, until) = window::zone_and_window(
        cli.tz.as_deref(),
        cli.since.as_deref(),
        cli.until.as_deref(),
    )?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(UsageError::new("--since is not before --until")
            .with_hint("swap the two dates, or widen the window"));
    }
    if cli.zip && cli.format != Format::Slack {
        return Err(UsageError::new("--zip only applies to --format slack"));
    }
    let max_file_size = match &cli.max_file_size {
        None => None,
        Some(_) if !cli.files => {
            return Err(UsageError::new("--max-file-size only applies with --files")
                .with_hint("add --files, or drop --max-file-size"));
        }
        Some(v) => Some(files::parse_size(v).map_err(|e| {
            UsageError::new(format!("--max-file-size {v:?}: {e}"))
                .with_hint("give bytes or a size such as 500KB, 20MB or 1.5GiB")
        })?),
    };
    Ok(Settings {
        tz,
        since,
        until,
        max_file_size,
    })
}

async fn run_async(cli: Cli) -> anyhow::Result<Outcome> {
    let settings = settings(&cli)?;
    let mut demo_env = None;
    let (client, config_dir) = if cli.common.demo {
        let env = demo::DemoEnv::start().await?;
        let client = env.client()?;
        let dir = env.config_dir.clone();
        demo_env = Some(env);
        (client, dir)
    } else {
        // SLACK_TOKEN, else the workspace connected in the admin panel (sealed in the store).
        let cfg = token_vault::client_config(&cli.common.db_path()).map_err(slack_error)?;
        (
            SlackClient::new(cfg).map_err(slack_error)?,
            cli.common.config.clone(),
        )
    };
    let outcome = export(&cli, &settings, &client, &config_dir).await;
    if let Some(env) = demo_env {
        env.shutdown().await;
    }
    outcome
}

/// Picks the channels to export from the arguments and `--all-in-scope`.
async fn select_channels(
    cli: &Cli,
    client: &SlackClient,
    config_dir: &Path,
    known: &[Conversation],
) -> anyhow::Result<Vec<Conversation>> {
    let mut wanted: Vec<String> = cli.channels.clone();
    if wanted.is_empty() && !cli.all_in_scope && !cli.dms {
        if cli.common.demo {
            wanted.push(DEMO_CHANNEL.to_string());
        } else {
            return Err(UsageError::new("no channel to export")
                .with_hint("name channels (IDs, #name or name), or pass --all-in-scope or --dms")
                .into());
        }
    }
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for arg in &wanted {
        match resolve_channel(arg, known) {
            Resolved::Found(c) => out.push(c.clone()),
            Resolved::Id(id) => match client.conversations_info(&id).await {
                Ok(c) => out.push(c),
                Err(e) if e.code() == Some("channel_not_found") => unknown.push(format!(
                    "{arg}: no such channel (or not visible to this token)"
                )),
                Err(e) => return Err(slack_error(e)),
            },
            Resolved::Unknown(close) => unknown.push(if close.is_empty() {
                format!("{arg}: no such channel")
            } else {
                format!("{arg}: no such channel; did you mean {}?", close.join(", "))
            }),
        }
    }
    if !unknown.is_empty() {
        return Err(
            UsageError::new(format!("unknown channel(s):\n  {}", unknown.join("\n  ")))
                .with_hint("give channel IDs or exact names as conversations.list shows them")
                .into(),
        );
    }
    if cli.all_in_scope {
        let config = roster::load(config_dir).map_err(|e| {
            anyhow::Error::new(UsageError::new(format!("{e}")).with_hint(format!(
                "--all-in-scope reads team.json and categories.json in {}",
                config_dir.display()
            )))
        })?;
        out.extend(
            known
                .iter()
                .filter(|c| {
                    !c.name.is_empty() && config.categories.in_slack_scope(&c.name, c.is_archived)
                })
                .cloned(),
        );
    }
    let mut seen = HashSet::new();
    out.retain(|c| seen.insert(c.id.clone()));
    Ok(out)
}

enum Resolved<'a> {
    Found(&'a Conversation),
    /// Looks like an ID that conversations.list did not return (a DM, or a channel the token
    /// cannot list): ask conversations.info.
    Id(String),
    /// No match; close names to suggest.
    Unknown(Vec<String>),
}

fn looks_like_id(s: &str) -> bool {
    s.len() >= 9
        && matches!(s.as_bytes()[0], b'C' | b'G' | b'D')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn resolve_channel<'a>(arg: &str, known: &'a [Conversation]) -> Resolved<'a> {
    let name = arg.trim().trim_start_matches('#');
    if let Some(c) = known.iter().find(|c| c.id == name) {
        return Resolved::Found(c);
    }
    if let Some(c) = known
        .iter()
        .find(|c| c.name == name)
        .or_else(|| known.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
    {
        return Resolved::Found(c);
    }
    if looks_like_id(name) {
        return Resolved::Id(name.to_string());
    }
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .iter()
        .filter(|c| !c.name.is_empty())
        .map(|c| {
            let score = strsim::jaro_winkler(&lower, &c.name.to_lowercase());
            let contains = !lower.is_empty() && c.name.to_lowercase().contains(&lower);
            (
                if contains { score.max(0.9) } else { score },
                c.name.as_str(),
            )
        })
        .filter(|(s, _)| *s >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    Resolved::Unknown(
        scored
            .into_iter()
            .take(3)
            .map(|(_, n)| format!("#{n}"))
            .collect(),
    )
}

/// File stems for the channels: sanitised names, made unique within the run. DMs are named
/// after the other person (`dm-<name>`) when `dm_names` gives one, else by ID (the Slack layout's
/// folders are by ID, as in Slack's own export).
fn file_stems(channels: &[Conversation], dm_names: Option<&names::Directory>) -> Vec<String> {
    let mut used = HashSet::new();
    channels
        .iter()
        .map(|c| {
            let dm_name = match (dm_names, c.is_im, c.user.as_deref()) {
                (Some(dir), true, Some(user)) if dir.knows_user(user) => {
                    Some(format!("dm-{}", dir.user(user)))
                }
                _ => None,
            };
            let base = files::sanitize(dm_name.as_deref().unwrap_or(&c.name), &c.id);
            let stem = if used.contains(&base.to_lowercase()) {
                format!("{base}-{}", files::sanitize(&c.id, "channel"))
            } else {
                base
            };
            used.insert(stem.to_lowercase());
            stem
        })
        .collect()
}

/// Where the per-channel bars are drawn: stderr when someone watches it, nowhere otherwise.
fn progress_area(quiet: bool) -> MultiProgress {
    let visible = !quiet && std::io::stderr().is_terminal();
    MultiProgress::with_draw_target(if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    })
}

/// A channel's bar, to be added to the [`progress_area`].
fn progress(label: &str) -> ProgressBar {
    let bar = ProgressBar::no_length();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} {pos} messages ({per_sec}, {elapsed})")
    {
        bar.set_style(style);
    }
    bar.set_message(label.to_string());
    bar
}

/// Channels fetched at the same time (each also has its own threads in flight; the client caps
/// requests in flight and paces each method whatever the count).
const CHANNELS_IN_FLIGHT: usize = 3;

/// A channel whose fetch has ended, waiting to be rendered.
struct Fetched {
    meta: ChannelMeta,
    label: String,
    spool_id: i64,
    fetched: Result<fetch::FetchStats, ExportError>,
}

/// What every channel's fetch of one run shares.
struct RunContext<'a> {
    cli: &'a Cli,
    settings: &'a Settings,
    client: &'a SlackClient,
    store: &'a Store,
    /// The output directory, absolute: the key of this export's saved state.
    export_key: &'a str,
    bars: &'a MultiProgress,
    /// Set once pins.list was refused for want of `pins:read` (warned once, not asked again).
    no_pins: &'a std::sync::atomic::AtomicBool,
}

/// Prepares one channel's spool and fetches it. A fatal Slack error listing members ends the run;
/// a failed fetch comes back in [`Fetched::fetched`] for the caller to report.
async fn fetch_one(
    run: &RunContext<'_>,
    conv: Conversation,
    stem: String,
) -> anyhow::Result<Fetched> {
    let RunContext {
        cli,
        settings,
        client,
        store,
        export_key,
        bars,
        no_pins,
    } = *run;
    // The label reaches the terminal (progress, per-channel lines): no escapes from Slack's names.
    let label = if conv.name.is_empty() {
        roster::text::terminal_safe(&conv.id).into_owned()
    } else {
        format!("#{}", roster::text::terminal_safe(&conv.name))
    };
    let id = conv.id.clone();
    let state = store.export_channel(export_key, &id, &conv.name, !cli.resume)?;
    let resume_from = (cli.resume && state.complete)
        .then_some(state.newest_ts.as_deref())
        .flatten();
    let range = pass_range(settings, resume_from, cli.thread_lookback);
    let bar = bars.add(progress(&label));
    if !bars.is_hidden() {
        // The ticker is a thread: only worth it when someone sees the spinner.
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    // Members and pins are asked for while history comes in: pins.list is Tier 2, and waiting
    // for it first would hold back every channel's history.
    let (extras, fetched) = tokio::join!(
        channel_extras(cli, client, &conv, &label, no_pins),
        fetch::fetch_channel(client, store, state.id, &id, range, &bar)
    );
    bar.finish_and_clear();
    bars.remove(&bar);
    let (members, pins) = extras?;
    let meta = ChannelMeta {
        conversation: conv,
        file_stem: stem,
        members,
        pins,
        people: Vec::new(),
        local_files: HashMap::new(),
    };
    Ok(Fetched {
        meta,
        label,
        spool_id: state.id,
        fetched,
    })
}

/// A channel's members (listed by the slack and json formats, and naming a group DM in text) and
/// pins (slack and json formats). A fatal Slack error ends the run, except a missing `pins:read`,
/// which is warned about once and leaves pins out.
async fn channel_extras(
    cli: &Cli,
    client: &SlackClient,
    conv: &Conversation,
    label: &str,
    no_pins: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<(Vec<String>, Vec<serde_json::Value>)> {
    use std::sync::atomic::Ordering;
    let members = async {
        if cli.format == Format::Text && !conv.is_mpim {
            return Ok(Vec::new());
        }
        match client.all_members(&conv.id).await {
            Ok(m) => Ok(m),
            Err(e) if e.is_fatal() => Err(slack_error(e)),
            Err(e) => {
                warn!(channel = %label, error = %e, "could not list members; none are listed");
                Ok(Vec::new())
            }
        }
    };
    let pins = async {
        if cli.format == Format::Text || conv.is_im || no_pins.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        match client.pins_list(&conv.id).await {
            Ok(p) => Ok(p),
            Err(e @ slack_client::Error::MissingScope { .. }) => {
                if !no_pins.swap(true, Ordering::Relaxed) {
                    warn!(error = %e, "pins are not exported: the token lacks pins:read");
                }
                Ok(Vec::new())
            }
            Err(e) if e.is_fatal() => Err(slack_error(e)),
            Err(e) => {
                warn!(channel = %label, error = %e, "could not list pins; none are listed");
                Ok(Vec::new())
            }
        }
    };
    let (members, pins) = tokio::join!(members, pins);
    Ok((members?, pins?))
}

/// The history window of one channel's pass.
fn pass_range(settings: &Settings, resume_from: Option<&str>, lookback_days: u32) -> TimeRange {
    let mut oldest = settings.since;
    if let Some(newest) = resume_from.and_then(ts_key) {
        let from = newest.saturating_sub(i64::from(lookback_days) * 86_400_000_000);
        oldest = Some(oldest.map_or(from, |s| s.max(from)));
    }
    let to_ts = |k: i64| {
        slack_ts(jiff::Timestamp::from_microsecond(k).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    };
    TimeRange {
        oldest: oldest.map(to_ts),
        // `until` is an exclusive instant; with `inclusive` the bound is its last microsecond.
        latest: settings.until.map(|u| to_ts(u - 1)),
        inclusive: true,
    }
}

async fn export(
    cli: &Cli,
    settings: &Settings,
    client: &SlackClient,
    config_dir: &Path,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let notify_config = notifications::load_with_store(config_dir, &cli.common.db_path())
        .map_err(cli_support::config_error)?;
    let users = client.all_users().await.map_err(slack_error)?;
    let known = client
        .all_conversations(ListConversations::channels())
        .await
        .map_err(slack_error)?;
    let mut channels = select_channels(cli, client, config_dir, &known).await?;
    if cli.dms {
        let dms = client
            .all_conversations(ListConversations {
                types: vec![ConversationType::Im, ConversationType::Mpim],
                exclude_archived: false,
            })
            .await
            .map_err(slack_error)?;
        let have: HashSet<String> = channels.iter().map(|c| c.id.clone()).collect();
        channels.extend(dms.into_iter().filter(|c| !have.contains(&c.id)));
    }
    if channels.is_empty() {
        warn!("no channel matched; nothing to export");
        if cli.json {
            print_json(&ExportSummary {
                format: format_name(cli.format).into(),
                ..ExportSummary::default()
            })?;
        }
        return Ok(Outcome::Success);
    }

    let out_dir = cli.common.out.clone();
    private_files::create_dir_all(&out_dir)
        .with_context(|| format!("creating the output directory {}", out_dir.display()))?;
    // Temporary files of a killed run: text and JSON files, the zip, the layout's day files, the
    // html archive's month pages (`html/c/<channel>/<month>.html`).
    cli_support::remove_stale_temps(&out_dir, 4)?;
    let export_key = out_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", out_dir.display()))?
        .display()
        .to_string();
    let store = Store::open(&cli.common.db_path())?;

    let names = Arc::new(names::Directory::new(&users, &known));
    let mut sink: Box<dyn Sink> = match cli.format {
        Format::Text => Box::new(formats::text::TextSink::new(
            out_dir.clone(),
            settings.tz.clone(),
            names.clone(),
        )),
        Format::Html => Box::new(
            formats::html::HtmlSink::new(&out_dir, settings.tz.clone(), names.clone())
                .map_err(export_error)?,
        ),
        Format::Json => Box::new(formats::json::JsonSink::new(out_dir.clone(), names.clone())),

        Format::Slack => {
            let window = formats::slack::Window {
                since: settings.since,
                until: settings.until,
            };
            Box::new(
                formats::slack::SlackSink::new(&out_dir, cli.zip, window).map_err(export_error)?,
            )
        }
    };
    // Downloaded files live under the export root: the folder of the Slack layout, else --out
    // (beside the zip with --zip).
    let mut downloader = if cli.files {
        let root = if cli.format == Format::Slack && !cli.zip {
            out_dir.join(formats::slack::EXPORT_DIR)
        } else {
            out_dir.clone()
        };
        let files_dir = root.join(files::FILES_DIR);
        if files_dir.is_dir() {
            // Downloads a killed run left half done (`files/<ID>/.<name>.partial`).
            cli_support::remove_stale_temps(&files_dir, 2)?;
        }
        Some(attachments::Downloader::new(
            client.clone(),
            root,
            settings.max_file_size,
        ))
    } else {
        None
    };
    let mut extra_users: Vec<User> = Vec::new();
    let mut unresolved: BTreeSet<String> = BTreeSet::new();
    let mut users_looked_up = 0u64;

    let stems = file_stems(
        &channels,
        (cli.format != Format::Slack).then_some(names.as_ref()),
    );
    let bars = progress_area(cli.common.quiet);
    let mut metas = Vec::new();
    let mut summaries: Vec<ChannelSummary> = Vec::new();
    let mut failed = 0usize;
    let mut total_messages = 0u64;
    // Several channels are fetched at once and rendered one at a time, in the order given: a
    // channel's fetch waits on round trips (its first history page before any thread, the last
    // threads trickling in), which the next channel's calls fill. All the futures run on this task,
    // so they share the one store connection without locks; their HTTP calls run on the runtime's
    // workers, and go on while a finished channel is rendered here.
    let run = RunContext {
        cli,
        settings,
        client,
        store: &store,
        export_key: &export_key,
        bars: &bars,
        no_pins: &std::sync::atomic::AtomicBool::new(false),
    };
    let fetches = futures::stream::iter(channels.into_iter().zip(stems))
        .map(|(conv, stem)| fetch_one(&run, conv, stem))
        .buffered(CHANNELS_IN_FLIGHT);
    futures::pin_mut!(fetches);
    while let Some(done) = fetches.next().await {
        let Fetched {
            mut meta,
            label,
            spool_id,
            fetched,
        } = done?;
        let id = meta.conversation.id.clone();
        let mut summary = ChannelSummary::new(&id, &meta.conversation.name);
        let stats = match fetched {
            Ok(stats) => stats,
            Err(ExportError::Slack(e)) if e.is_fatal() => return Err(slack_error(e)),
            Err(e) => {
                error!(channel = %label, error = %e, "export failed; rerun with --resume to continue");
                failed += 1;
                summary.error = Some(e.to_string());
                summaries.push(summary);
                continue;
            }
        };
        summary.add_fetch(&stats);
        if stats.thread_errors.is_empty() {
            let newest = store.export_newest_top_level(spool_id)?;
            store.export_finish_channel(spool_id, newest.as_deref())?;
        } else {
            failed += 1;
            error!(
                channel = %label,
                threads = stats.thread_errors.len(),
                "some threads could not be fetched; their replies are missing (rerun with --resume)"
            );
        }
        // What the messages refer to: people users.list did not return are looked up (and named
        // in every format), attached files downloaded with --files.
        let (people, attached) = scan_channel(&store, spool_id, downloader.is_some())?;
        let mut ids: BTreeSet<String> = people;
        ids.extend(meta.members.iter().cloned());
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !names.knows_user(id) && !unresolved.contains(*id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let found = people::look_up(client, &store, &unknown)
                .await
                .map_err(export_error)?;
            users_looked_up += found.calls;
            names.add_users(&found.found);
            extra_users.extend(found.found);
            unresolved.extend(found.unresolved);
        }
        meta.people = ids.into_iter().collect();
        if let Some(d) = downloader.as_mut() {
            d.fetch(attached).await.map_err(export_error)?;
            meta.local_files = d.local().clone();
        }
        let files_before = sink.files_written();
        // Every format's messages become searchable (`slack-export search`), in the same pass.
        let started_render = Instant::now();
        let mut indexer =
            (!cli.no_index).then(|| search::ChannelIndexer::new(&store, &meta, &names));
        let written =
            sink::render_channel_with(&store, spool_id, &meta, sink.as_mut(), &mut |item| {
                indexer.as_mut().map_or(Ok(()), |i| i.add(item))
            })
            .map_err(export_error)?;
        if let Some(indexer) = indexer {
            let indexed = indexer.finish().map_err(export_error)?;
            tracing::debug!(
                channel = %label,
                indexed,
                ms = started_render.elapsed().as_millis() as u64,
                "rendered and indexed"
            );
        }
        total_messages += written;
        summary.messages_exported = written;
        summary.files_written = sink.files_written() - files_before;
        summaries.push(summary);
        if !cli.common.quiet {
            bars.suspend(|| {
                eprintln!(
                    "{label}: {written} messages exported ({} new); {} threads fetched, {} unchanged",
                    stats.new_messages, stats.threads_fetched, stats.threads_skipped
                );
            });
        }
        metas.push(meta);
    }
    let mut all_users = users;
    // Looked up concurrently, so found in any order: by ID, for the same bytes every run.
    extra_users.sort_by(|a, b| a.id.cmp(&b.id));
    all_users.extend(extra_users);
    sink.finish(&all_users, &metas).map_err(export_error)?;
    let tally = downloader.map(|d| d.tally).unwrap_or_default();
    let unresolved: Vec<String> = unresolved.into_iter().collect();
    if !tally.failed.is_empty() {
        failed += 1;
        error!(
            files = tally.failed.len(),
            "some files could not be downloaded; run again to retry them"
        );
    }

    let elapsed = started.elapsed();
    let api = client.stats();
    info!(
        channels = metas.len(),
        failed,
        messages = total_messages,
        requests = api.requests,
        http_429 = api.http_429,
        retries = api.retries,
        "export finished"
    );
    if !cli.common.quiet {
        eprintln!(
            "exported {} channel(s), {total_messages} messages to {} in {:.1}s ({} API calls, {} rate-limited, {} retried){}",
            metas.len(),
            sink.location(),
            elapsed.as_secs_f64(),
            api.requests,
            api.http_429,
            api.retries,
            if failed > 0 {
                format!("; {failed} channel(s) failed")
            } else {
                String::new()
            }
        );
        if cli.files {
            eprintln!(
                "files: {} downloaded ({} bytes), {} already there, {} missing, {} too large, {} failed",
                tally.downloaded,
                tally.bytes,
                tally.skipped_existing,
                tally.missing.len(),
                tally.too_large.len(),
                tally.failed.len()
            );
            for m in tally.missing.iter().chain(&tally.failed) {
                eprintln!(
                    "  {} {}: {}",
                    roster::text::terminal_safe(&m.id),
                    roster::text::terminal_safe(&m.name),
                    roster::text::terminal_safe(&m.reason)
                );
            }
            for f in &tally.too_large {
                eprintln!(
                    "  {} {}: too large ({} bytes)",
                    roster::text::terminal_safe(&f.id),
                    roster::text::terminal_safe(&f.name),
                    f.size.map_or("unknown".to_string(), |s| s.to_string())
                );
            }
        }
        if !unresolved.is_empty() {
            eprintln!(
                "{} user ID(s) Slack could not resolve, shown by ID: {}",
                unresolved.len(),
                roster::text::terminal_safe(&unresolved.join(", "))
            );
        }
    }
    if cli.json {
        print_json(&ExportSummary {
            format: format_name(cli.format).into(),
            location: sink.location(),
            channels_exported: metas.len(),
            channels_failed: failed,
            messages_exported: total_messages,
            files_written: sink.files_written(),
            api: ApiCalls {
                requests: api.requests,
                http_429: api.http_429,
                retries: api.retries,
            },
            seconds: elapsed.as_secs_f64(),
            channels: summaries,
            files_downloaded: tally.downloaded,
            files_bytes: tally.bytes,
            files_skipped_existing: tally.skipped_existing,
            files_missing: tally.missing,
            files_too_large: tally.too_large,
            files_failed: tally.failed,
            users_looked_up,
            users_unresolved: unresolved,
        })?;
    }
    let ctx = notifications::context([
        ("channels", metas.len().to_string()),
        ("messages", total_messages.to_string()),
        ("files", sink.files_written().to_string()),
        ("output", sink.location()),
    ]);
    let db = cli.common.db_path();
    let done = notifications::Event::ExportComplete;
    notifications::emit_for_tool(client, &db, &notify_config, done, &ctx).await;
    Ok(if failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// The people a channel's spooled messages name, and (with `files`) their attached file objects.
fn scan_channel(
    store: &Store,
    spool_id: i64,
    files: bool,
) -> Result<(BTreeSet<String>, Vec<serde_json::Value>), anyhow::Error> {
    let mut people = BTreeSet::new();
    let mut attached = Vec::new();
    store
        .export_for_each::<ExportError>(spool_id, store::export::SpoolOrder::Chronological, |row| {
            let refs: people::MessageRefs = serde_json::from_str(row.raw)?;
            refs.collect_ids(&mut people);
            if files {
                attached.extend(refs.files);
            }
            Ok(())
        })
        .map_err(export_error)?;
    Ok((people, attached))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Slack => "slack",
        Format::Html => "html",
    }
}

/// `--json`: the one document on stdout, pretty-printed like every tool's `--json`.
fn print_json(summary: &ExportSummary) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, summary)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: &str, name: &str) -> Conversation {
        Conversation {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn channel_arguments_resolve_by_id_name_or_suggest() {
        let known = [
            conv("C0AAAAAAAA", "bitsafe-acme"),
            conv("C0BBBBBBBB", "general"),
        ];
        assert!(
            matches!(resolve_channel("#bitsafe-acme", &known), Resolved::Found(c) if c.id == "C0AAAAAAAA")
        );
        assert!(
            matches!(resolve_channel("C0BBBBBBBB", &known), Resolved::Found(c) if c.name == "general")
        );
        assert!(
            matches!(resolve_channel("D0CCCCCCCC", &known), Resolved::Id(id) if id == "D0CCCCCCCC")
        );
        match resolve_channel("bitsafe-acm", &known) {
            Resolved::Unknown(close) => assert_eq!(close, ["#bitsafe-acme"]),
            _ => panic!("expected suggestions"),
        }
        assert!(matches!(resolve_channel("zzz", &known), Resolved::Unknown(c) if c.is_empty()));
    }

    #[test]
    fn stems_are_unique_and_safe() {
        let stems = file_stems(
            &[conv("C1", "a/b"), conv("C2", "a_b"), conv("D3", "")],
            None,
        );
        assert_eq!(stems, ["a_b", "a_b-C2", "D3"]);
    }

    #[test]
    fn resumed_pass_starts_lookback_days_before_newest() {
        let s = Settings {
            tz: TimeZone::UTC,
            since: None,
            until: Some(2_000_000_000_000_000),
            max_file_size: None,
        };
        let r = pass_range(&s, Some("1700000000.000000"), 1);
        assert_eq!(r.oldest.as_deref(), Some("1699913600.000000"));
        assert_eq!(r.latest.as_deref(), Some("1999999999.999999"));
        assert!(r.inclusive);
        assert_eq!(pass_range(&s, None, 1).oldest, None);
    }
}
