//! admin-panel: a web dashboard and REST API over the slack-tools store (the SQLite file the cron
//! tools write), with logins, roles, CSRF and an audit trail of who looked and what they did.
//!
//! Layout follows crates.io: one [`AppState`] for every handler, a controller module per resource
//! (`controllers/`), shared request helpers (`controllers/helpers.rs`), one error type that becomes
//! the HTTP response ([`error::AppError`]).

pub mod auth;
pub mod controllers;
pub mod db;
pub mod demo_store;
pub mod error;
pub mod layout;
pub mod rendered;
pub mod results_cache;
pub mod runner;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use audit_run::{RunSettings, TelegramSetting};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use clap::{Parser, Subcommand};
use cli_support::{CommonArgs, Outcome, UsageError};
use quick_cache::sync::Cache;
use store::Store;
use store::panel::PanelEventKind;

use crate::controllers::{dashboard, engagement};
use crate::error::{AppError, AppResult};
use crate::users::PanelUser;

/// Engagement answers kept: each is one cohort and range (a few hundred KB at most for a
/// thousand channels), and a page's visitors mostly look at a few.
const ENGAGEMENT_CACHED: usize = 64;

/// admin-panel: the web dashboard of audits and activity, with a REST API under /api/v1/.
#[derive(Parser, Debug)]
#[command(name = "admin-panel", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Address to listen on; `127.0.0.1:0` picks a free port. Without users only loopback is allowed.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        env = "PANEL_LISTEN"
    )]
    pub listen: SocketAddr,

    /// The users file: JSON array of {username, password_hash, role} [default: <config>/panel-users.json].
    #[arg(long, value_name = "FILE", env = "PANEL_USERS")]
    pub users: Option<PathBuf>,

    /// The panel runs behind an HTTPS reverse proxy: cookies get Secure, the client address is
    /// taken from X-Forwarded-For.
    #[arg(long)]
    pub https_proxy: bool,

    /// Warn on the dashboard when the newest audit is older than this many days.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub stale_days: u32,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read a password (without echo; from stdin when it is not a terminal) and print its argon2
    /// hash for the users file.
    HashPassword,
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub db: PathBuf,
    /// Where team.json and insight.json are read (Team and Engagement pages).
    pub config: PathBuf,
    pub https_proxy: bool,
    pub stale_days: u32,
    /// Where the tools write their files (`--out`): audit reports are under `audit_reports/`.
    pub out_dir: PathBuf,
    /// The Slack app's OAuth settings for "Connect Slack" (`None`: not configured).
    pub slack: Option<controllers::slack::OAuthSettings>,
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Empty: no users file, read-only anonymous access (loopback only).
    pub users: Arc<Vec<PanelUser>>,
    pub sessions: Arc<auth::Sessions>,
    pub login_limits: Arc<auth::LoginLimits>,
    /// Audit runs started here, and the Telegram login one may need.
    pub runner: Arc<runner::Runner>,
    /// Finished runs' parsed results (Dashboard, Audits and Group pages).
    pub results: Arc<results_cache::ResultsCache>,
    /// The dashboard's audit figures per state of the finished runs (a handful: the newest
    /// state is the one asked for).
    pub dashboard_cache: Arc<Cache<dashboard::AuditFiguresKey, Arc<dashboard::AuditFigures>>>,
    /// Engagement figures per question and state of the insight data (see
    /// `controllers::engagement::EngagementKey`).
    pub engagement_cache: Arc<Cache<engagement::EngagementKey, Arc<engagement::Engagement>>>,
    /// Rendered page content and JSON bodies, by what they were made from.
    pub rendered: Arc<rendered::Rendered>,
    /// Read-only connections kept open between requests.
    readers: Arc<db::Readers>,
    /// The one writable connection, for the panel's own records.
    writer: Arc<Mutex<Store>>,
    /// "Connect Slack" states handed out and not yet used.
    pub oauth_states: Arc<controllers::slack::PendingStates>,
}

impl AppState {
    /// Opens (and migrates) the store and builds the state.
    /// `runs`: the settings every audit run started here begins from.
    pub fn new(
        settings: Settings,
        users: Vec<PanelUser>,
        runs: RunSettings,
    ) -> Result<AppState, store::StoreError> {
        let mut writer = Store::open(&settings.db)?;
        // A run of ours left `running` can only be from a panel process that was killed. Runs
        // started by others (a cron slack-audit going on right now) are left alone.
        let stale =
            writer.mark_running_audit_runs_interrupted_started_by(runner::STARTED_BY_PREFIX)?;
        if stale > 0 {
            tracing::warn!(
                "{stale} audit run(s) a previous panel left running: marked interrupted"
            );
        }
        Ok(AppState {
            readers: Arc::new(db::Readers::new(settings.db.clone())),
            settings: Arc::new(settings),
            users: Arc::new(users),
            sessions: Arc::default(),
            login_limits: Arc::default(),
            runner: Arc::new(runner::Runner::new(runs)),
            results: Arc::default(),
            dashboard_cache: Arc::new(Cache::new(4)),
            engagement_cache: Arc::new(Cache::new(ENGAGEMENT_CACHED)),
            rendered: Arc::default(),
            writer: Arc::new(Mutex::new(writer)),
            oauth_states: Arc::default(),
        })
    }

    /// Runs `f` over a read-only connection (an idle one, or a new one) on a blocking thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| AppError::Internal(format!("reader task: {e}")))?
    }

    /// Runs `f` over the writable connection on a blocking thread.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let store = writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&store)
        })
        .await
        .map_err(|e| AppError::Internal(format!("writer task: {e}")))?
    }

    /// Records a login, logout or action in the store.
    pub async fn record(
        &self,
        kind: PanelEventKind,
        username: String,
        address: String,
        detail: Option<String>,
    ) -> AppResult<()> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let store = writer.lock().unwrap_or_else(|p| p.into_inner());
            store.panel_event_insert(kind, &username, &address, detail.as_deref())
        })
        .await
        .map_err(|e| AppError::Internal(format!("writer task: {e}")))??;
        Ok(())
    }
}

/// The whole application: routes, CSRF check and security headers.
pub fn router(state: AppState) -> Router {
    controllers::routes()
        .fallback(|| async { AppError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_csrf,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The CSP allows no inline script and no framing; with no JavaScript at all, `script-src` is none.
const CSP: &str = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`] with one more origin forms may be sent (and redirected) to: the Slack page's Connect
/// form ends on Slack's authorize page, and browsers apply `form-action` to that redirect too.
pub fn csp_with_form_target(origin: &str) -> String {
    CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    )
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A handler may have set a stricter or wider policy for its page (see csp_with_form_target).
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if let Some(Command::HashPassword) = cli.command {
        return hash_password_command();
    }
    let users_path = cli
        .users
        .clone()
        .unwrap_or_else(|| cli.common.config.join("panel-users.json"));
    let users = if users_path.exists() {
        users::load(&users_path).map_err(|e| {
            let hint = e.hint();
            cli_support::with_hint(e, Some(hint), true)
        })?
    } else if cli.users.is_some() {
        return Err(UsageError::new(format!(
            "the users file {} does not exist",
            users_path.display()
        ))
        .with_hint(users::USERS_HINT)
        .into());
    } else {
        Vec::new()
    };
    if users.is_empty() && !cli.listen.ip().is_loopback() {
        return Err(UsageError::new(format!(
            "refusing to listen on {} with no users configured: without users the panel is open to anyone who can reach it",
            cli.listen
        ))
        .with_hint(format!(
            "listen on 127.0.0.1, or add users in {}: {}",
            users_path.display(),
            users::USERS_HINT
        ))
        .into());
    }
    let mut settings = Settings {
        db: cli.common.db_path(),
        config: cli.common.config.clone(),
        https_proxy: cli.https_proxy,
        stale_days: cli.stale_days,
        // The demo's tools write under their own directory (see below).
        out_dir: if cli.common.demo {
            cli.common.out.join("admin-panel-demo")
        } else {
            cli.common.out.clone()
        },
        slack: controllers::slack::OAuthSettings::from_lookup(|n| std::env::var(n).ok()),
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // Runs from the panel: like slack-audit's with the same --config/--out/--db; Slack and
    // Telegram settings from the environment like the tools.
    let mut runs = RunSettings::new(
        cli.common.config.clone(),
        cli.common.out.clone(),
        settings.db.clone(),
        "",
    );
    let mut demo_env = None;
    if cli.common.demo {
        // A fresh demo store every time, so the demo always shows the same story.
        for suffix in ["", "-wal", "-shm"] {
            let mut p = settings.db.clone().into_os_string();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("removing the previous demo store"),
            }
        }
        tracing::info!(
            "filling the demo store {}",
            store::shown_location(&settings.db)
        );
        let env = rt.block_on(demo::DemoEnv::start())?;
        rt.block_on(demo_store::fill(&env, &settings.db, &settings.out_dir))?;
        // Runs from the demo panel audit the same sim the demo history came from (Slack only,
        // like the demo's own runs), so a run shows the demo's state, not a fresh one.
        runs.config_dir = env.config_dir.clone();
        // The demo's team.json and insight.json, for the Team and Engagement pages too.
        settings.config = env.config_dir.clone();
        runs.out_dir = settings.out_dir.clone();
        runs.slack = Some(env.client_config());
        runs.telegram = TelegramSetting::Skip;
        demo_env = Some(env);
    }
    let served = rt.block_on(serve(settings, users, runs, cli.listen));
    if let Some(env) = demo_env {
        rt.block_on(env.shutdown());
    }
    served?;
    Ok(Outcome::Success)
}

/// Binds, prints `listening on http://ADDR/`, and serves until Ctrl-C or SIGTERM; requests in
/// flight finish first.
pub async fn serve(
    settings: Settings,
    users: Vec<PanelUser>,
    runs: RunSettings,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let db = settings.db.clone();
    let state = AppState::new(settings, users, runs)
        // A PostgreSQL URL is shown without its password.
        .with_context(|| format!("opening the store {}", store::shown_location(&db)))?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::Error::new(
            UsageError::new(format!("cannot listen on {listen}: {e}")).with_hint(
                "pick another address or port with --listen (127.0.0.1:0 picks a free port)",
            ),
        )
    })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // Signal handlers go in before the ready line: a supervisor (or a test) may send SIGTERM the
    // moment it reads it, and an uninstalled handler means the default action, an unclean death.
    let shutdown = shutdown_signal()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}/").context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
    }
    let runner = state.runner.clone();
    let warm = tokio::spawn(keep_warm(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving");
    // Requests are done; a run still going is stopped here, on purpose, so its row says
    // `interrupted` (audit-run's drop guard) instead of staying `running`.
    runner.shutdown().await;
    warm.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// How often [`keep_warm`] looks whether the data behind the default views changed.
const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Computes the dashboard and the default Engagement view whenever the data behind them changed
/// (a cheap look every [`WARM_EVERY`]; the work only when the cache keys moved), so the first
/// visitor after a sync or an audit is not the one who waits seconds for them.
async fn keep_warm(state: AppState) {
    let mut tick = tokio::time::interval(WARM_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = dashboard::fetch(&state).await {
            tracing::debug!("warming the dashboard: {e}");
        }
        // Without insight.json there is no Engagement page to warm.
        if let Err(e) = engagement::fetch(&state, engagement::EngagementQuery::default()).await {
            tracing::debug!("warming the Engagement page: {e}");
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are registered when this is called, not
/// when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn hash_password_command() -> anyhow::Result<Outcome> {
    use std::io::{IsTerminal, Write};
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        if first != again {
            return Err(UsageError::new("the two passwords differ")
                .with_hint("run admin-panel hash-password again")
                .into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        return Err(UsageError::new("the password is empty")
            .with_hint("type a password (from stdin: one line)")
            .into());
    }
    let hash = users::hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hash}").context("writing to stdout")?;
    Ok(Outcome::Success)
}
