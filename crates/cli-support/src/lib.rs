//! Conventions shared by every tool binary: the common flags, logging to stderr, exit codes, the
//! confirmation gate for destructive operations, progress bars, and shell completions / man pages.
//!
//! Binaries stay thin: `main` parses its clap struct (flattening [`CommonArgs`]), calls
//! [`init`], runs its command, and hands the outcome to [`exit_with`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod dotenv;
mod output_files;

pub use dotenv::load_dotenv;
pub use output_files::{owner_only_umask, remove_stale_temps};

/// Environment variable names the tools read, in one place so docs and code agree.
pub mod env {
    pub const SLACK_TOKEN: &str = "SLACK_TOKEN";
    pub const SLACK_USER_TOKEN: &str = "SLACK_USER_TOKEN";
    pub const SLACK_API_BASE: &str = "SLACK_API_BASE";
    pub const SLACK_RATE_SCALE: &str = "SLACK_RATE_SCALE";
    pub const CONFIG_DIR: &str = "SLACK_TOOLS_CONFIG";
    pub const OUT_DIR: &str = "SLACK_TOOLS_OUT";
    pub const DB: &str = "SLACK_TOOLS_DB";
    /// The store when neither `--db` nor `SLACK_TOOLS_DB` is given (the usual name for a
    /// PostgreSQL URL on hosting platforms).
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const RUST_LOG: &str = "RUST_LOG";
}

/// Flags every tool accepts. Flatten into a tool's clap struct with `#[command(flatten)]`.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Directory holding team.json and categories.json (and insight.json).
    #[arg(long, global = true, value_name = "DIR", default_value = "config", env = env::CONFIG_DIR)]
    pub config: PathBuf,

    /// Directory for reports, logs and exports.
    #[arg(long, global = true, value_name = "DIR", default_value = "output", env = env::OUT_DIR)]
    pub out: PathBuf,

    /// Store for history and state: a SQLite file, or a postgres://user:password@host:port/dbname
    /// URL [default: DATABASE_URL when set, else <out>/slack-tools.db; with --demo
    /// <out>/slack-tools-demo.db].
    // The value may hold a password: --help names the variable but never shows its value.
    #[arg(long, global = true, value_name = "FILE|URL", env = env::DB, hide_env_values = true)]
    pub db: Option<PathBuf>,

    /// More log output on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Run against a built-in demo workspace (an in-process slack-sim); no account needed.
    #[arg(long, global = true)]
    pub demo: bool,
}

impl CommonArgs {
    /// The store: `--db` (or `SLACK_TOOLS_DB`), else `DATABASE_URL` when set and not empty, else
    /// `<out>/slack-tools.db`. Demo runs default to their own `<out>/slack-tools-demo.db` (not
    /// `DATABASE_URL`), so trying a demo never mixes into real history or state.
    ///
    /// The value may be a PostgreSQL URL with a password: show it only through
    /// `store::shown_location`.
    pub fn db_path(&self) -> PathBuf {
        self.db_path_from(|name| std::env::var_os(name))
    }

    /// [`CommonArgs::db_path`] with the environment given by `get`.
    pub fn db_path_from(&self, get: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
        match (&self.db, self.demo) {
            (Some(db), _) => db.clone(),
            (None, true) => self.out.join("slack-tools-demo.db"),
            (None, false) => match get(env::DATABASE_URL) {
                Some(url) if !url.is_empty() => PathBuf::from(url),
                _ => self.out.join("slack-tools.db"),
            },
        }
    }
}

/// How a tool run ended; maps onto the suite's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked was done (exit 0).
    Success,
    /// The operation failed, partly or wholly (exit 1).
    Failed,
    /// `--fail-on-gaps` and gaps were found (exit 3).
    Gaps,
    /// The user answered no at the [`confirm`] prompt: nothing was changed (exit 1, as a failure,
    /// so a script that expected the change does not go on as if it had happened).
    Declined,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed | Outcome::Declined => 1,
            Outcome::Gaps => 3,
        }
    }
}

/// A usage or configuration error: exit code 2. Carries a hint that tells the user what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Sets up logging to stderr. `RUST_LOG` wins; otherwise -q/-v choose the level for our crates and
/// dependencies stay at warn, so a normal run shows only what the user should act on.
pub fn init_logging(common: &CommonArgs) {
    use tracing_subscriber::EnvFilter;
    let ours = match (common.quiet, common.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let deps = if common.verbose >= 2 { "debug" } else { "warn" };
    let default = format!(
        "{deps},slack_client={ours},slack_sim={ours},roster={ours},store={ours},report={ours},\
         audit={ours},demo={ours},cli_support={ours},telegram={ours},slack_audit={ours},audit_run={ours},\
         add_members={ours},slack_export={ours},insight={ours},insight_collect={ours},insight_sync={ours},\
         insight_report={ours},tg_admin={ours},token_vault={ours}"
    );
    let filter = EnvFilter::try_from_env(env::RUST_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| SafeStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(common.verbose > 0)
        .without_time()
        .try_init();
}

/// stderr for log lines. tracing-subscriber escapes ESC and C1 controls in messages and fields, but
/// `\r`, U+2028/U+2029 and bidi overrides in a Slack or Telegram name would still rewrite what the
/// reader sees: they are escaped here as everywhere else (`roster::text`). ESC is kept for the
/// log's own colours, newline and tab for its layout. tracing-subscriber writes each event in one
/// call, so a call holds whole characters.
struct SafeStderr;

impl std::io::Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let safe = roster::text::terminal_safe_keeping(&text, &['\x1b', '\n', '\t']);
        std::io::stderr().lock().write_all(safe.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Handles the hidden generator flags before normal parsing, so they work even when a tool has
/// required arguments: `--generate-completions SHELL` prints a completion script to stdout and
/// `--generate-man DIR` writes `<bin>.1` (and subcommand pages) into DIR.
pub fn handle_generators<C: CommandFactory>() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    let value_after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    if let Some(shell) = value_after("--generate-completions") {
        let shell: clap_complete::Shell = match shell.parse() {
            Ok(s) => s,
            Err(_) => {
                eprintln!(
                    "error: unknown shell {shell:?}; use bash, zsh, fish, elvish or powershell"
                );
                return Some(ExitCode::from(2));
            }
        };
        let mut cmd = C::command();
        let name = cmd.get_name().to_string();
        clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
        return Some(ExitCode::SUCCESS);
    }
    if let Some(dir) = value_after("--generate-man") {
        return Some(match write_man_pages(C::command(), Path::new(&dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: could not write man pages to {dir}: {e}");
                ExitCode::from(1)
            }
        });
    }
    None
}

fn write_man_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub.clone().name(sub_name.clone())).render(&mut buf)?;
        std::fs::write(dir.join(format!("{sub_name}.1")), buf)?;
    }
    Ok(())
}

/// The confirmation gate for destructive operations. `--yes` proceeds; otherwise ask on a terminal;
/// with no terminal refuse (exit 2), because cron must never make changes it was not told to.
/// `Ok(false)` is a "no": every tool then changes nothing and returns [`Outcome::Declined`] (exit 1).
pub fn confirm(question: &str, yes: bool) -> Result<bool, UsageError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError::new(
            "refusing to make changes without confirmation: standard input is not a terminal",
        )
        .with_hint("review the plan with --dry-run, then pass --yes to run non-interactively"));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| UsageError::new(format!("could not read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// A progress bar on stderr, drawn only when both stdout and stderr are terminals (so piped or
/// cron output stays clean).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let visible = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    let style =
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Prints an error chain and its hint to stderr and returns the exit code: 2 for usage/config
/// errors (anything carrying a [`UsageError`] or a `clap` error), 1 otherwise.
pub fn report_error(err: &anyhow::Error) -> ExitCode {
    let mut usage = false;
    let mut hint = None;
    for cause in err.chain() {
        if let Some(u) = cause.downcast_ref::<UsageError>() {
            usage = true;
            if hint.is_none() {
                hint = u.hint.clone();
            }
        }
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            usage |= h.usage;
            if hint.is_none() {
                hint = Some(h.hint.clone());
            }
        }
    }
    // Errors and hints quote platform names (unknown channels, close matches): no escape
    // sequence or `\r` from them reaches the terminal.
    let safe = |s: String| roster::text::terminal_safe_text(&s).into_owned();
    eprintln!("error: {}", safe(err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", safe(cause.to_string()));
    }
    if let Some(h) = hint {
        eprintln!("hint: {}", safe(h));
    }
    ExitCode::from(if usage { 2 } else { 1 })
}

/// Wraps any library error with a hint (and whether it is a usage/config error, exit 2), for
/// library errors that know how they should be fixed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
    pub usage: bool,
}

/// An error with the fix the library knows for it, as the tools report it: printed with a `hint:`
/// line, exit 2 when it is a usage/configuration problem, else 1. The original error stays in the
/// chain when there is nothing to add, so callers can still downcast it.
pub fn with_hint<E>(err: E, hint: Option<String>, usage: bool) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    match hint {
        Some(hint) => anyhow::Error::new(Hinted {
            message: err.to_string(),
            hint,
            usage,
        }),
        None if usage => anyhow::Error::new(UsageError::new(err.to_string())),
        None => anyhow::Error::new(err),
    }
}

/// A config-file problem (team.json, categories.json, notifications.json): exit 2, with the file,
/// the place in it and what to do.
pub fn config_error(e: roster::ConfigError) -> anyhow::Error {
    let mut message = format!("{}: ", e.file.display());
    if let Some(location) = &e.location {
        message.push_str(location);
        message.push_str(": ");
    }
    message.push_str(&e.message);
    let mut usage = UsageError::new(message);
    usage.hint = e.hint;
    usage.into()
}

/// A Slack client error as every Slack tool reports it: with its fix, and exit 2 when the
/// settings are wrong (no token, bad SLACK_RATE_SCALE) rather than the call failing.
pub fn slack_error(e: slack_client::Error) -> anyhow::Error {
    let usage = matches!(e, slack_client::Error::Config { .. });
    let hint = e.hint();
    with_hint(e, hint, usage)
}

/// Final step of every `main`: map the command's result to the process exit code.
pub fn exit_with(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            // A closed stdout (e.g. piped into `head`) is not a failure of the tool.
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            report_error(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_defaults_under_out() {
        let common = CommonArgs {
            config: "config".into(),
            out: "/tmp/x".into(),
            db: None,
            verbose: 0,
            quiet: false,
            demo: false,
        };
        let no_env = |_: &str| None;
        assert_eq!(
            common.db_path_from(no_env),
            PathBuf::from("/tmp/x/slack-tools.db")
        );
        let demo = CommonArgs {
            demo: true,
            ..common.clone()
        };
        assert_eq!(
            demo.db_path_from(no_env),
            PathBuf::from("/tmp/x/slack-tools-demo.db")
        );
        let with_db = CommonArgs {
            db: Some("a.db".into()),
            ..demo
        };
        assert_eq!(with_db.db_path_from(no_env), PathBuf::from("a.db"));
    }

    #[test]
    fn database_url_is_the_store_when_db_is_not_given() {
        let common = CommonArgs {
            config: "config".into(),
            out: "/tmp/x".into(),
            db: None,
            verbose: 0,
            quiet: false,
            demo: false,
        };
        let url = "postgres://u:pw@db:5432/tools";
        let env = |name: &str| (name == env::DATABASE_URL).then(|| url.into());
        assert_eq!(common.db_path_from(env), PathBuf::from(url));
        // Empty is unset.
        let empty = |name: &str| (name == env::DATABASE_URL).then(|| "".into());
        assert_eq!(
            common.db_path_from(empty),
            PathBuf::from("/tmp/x/slack-tools.db")
        );
        // --db wins; a demo keeps its own file.
        let given = CommonArgs {
            db: Some("a.db".into()),
            ..common.clone()
        };
        assert_eq!(given.db_path_from(env), PathBuf::from("a.db"));
        let demo = CommonArgs {
            demo: true,
            ..common
        };
        assert_eq!(
            demo.db_path_from(env),
            PathBuf::from("/tmp/x/slack-tools-demo.db")
        );
    }

    #[test]
    fn usage_errors_exit_2_and_others_1() {
        let e = anyhow::Error::new(UsageError::new("bad flag").with_hint("do x"));
        assert_eq!(report_error(&e), ExitCode::from(2));
        let e = anyhow::anyhow!("network down");
        assert_eq!(report_error(&e), ExitCode::from(1));
        let e = anyhow::Error::new(UsageError::new("inner")).context("outer");
        assert_eq!(report_error(&e), ExitCode::from(2));
    }

    #[test]
    fn slack_settings_errors_are_usage_errors_with_their_hint() {
        let missing = slack_client::ClientConfig::from_lookup(|_| None).expect_err("no token");
        let err = slack_error(missing);
        assert_eq!(report_error(&err), ExitCode::from(2));
        assert!(err.chain().any(|c| c.downcast_ref::<Hinted>().is_some()));
        let plain = with_hint(std::io::Error::other("network down"), None, false);
        assert_eq!(report_error(&plain), ExitCode::from(1));
        assert!(
            plain.downcast_ref::<std::io::Error>().is_some(),
            "original error kept"
        );
    }

    #[test]
    fn declining_exits_1_like_a_failure() {
        assert_eq!(Outcome::Declined.code(), 1);
        assert_eq!(
            exit_with(Ok(Outcome::Declined)),
            ExitCode::from(Outcome::Failed.code())
        );
    }

    #[test]
    fn yes_skips_the_prompt() {
        assert_eq!(confirm("go?", true).ok(), Some(true));
    }
}
