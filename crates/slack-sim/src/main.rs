//! `slack-sim`: serve a generated (or loaded) Slack workspace on loopback until killed.
//! Prints exactly one line, `listening on http://HOST:PORT/api`, to stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use slack_sim::{
    DEFAULT_TOKEN, GenSpec, SimError, SimOptions, Workspace, add_external_users, generate, start,
};

/// A local Slack-compatible Web API server for tests and demos (see docs/slack-sim.md).
#[derive(Parser)]
#[command(name = "slack-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Members in users.list (including deleted users and bots).
    #[arg(long, default_value_t = 40)]
    users: usize,
    /// Public+private channels the token user lists (archived included).
    #[arg(long, default_value_t = 12)]
    channels: usize,
    /// Days of message history.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cap on members per channel.
    #[arg(long)]
    max_members: Option<usize>,
    /// The token the sim accepts. The default is well known: on an address that is not
    /// loopback, pass a secret of your own.
    #[arg(
        long,
        env = "SLACK_SIM_TOKEN",
        default_value = DEFAULT_TOKEN,
        hide_env_values = true
    )]
    token: String,
    /// People of another organisation added to the generated Slack Connect channels (members and
    /// authors of some messages): only users.info knows them, users.list leaves them out.
    #[arg(long, default_value_t = 0)]
    external_users: usize,
    /// Load the workspace from this JSON file instead of generating one.
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Write the workspace being served to this JSON file.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Enforce Slack's rate limits sped up this many times.
    #[arg(long)]
    rate_scale: Option<f64>,
    /// Probability per request of an injected fault (429, 500, reset, truncated body).
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Planned faults, METHOD=KIND each for the next call of METHOD, in order; KIND is 429, 500,
    /// reset, or 500-after / reset-after (the call takes effect, then fails).
    #[arg(long, value_delimiter = ',')]
    fault_script: Vec<slack_sim::ScriptedFault>,
    /// Append a JSON line per request to this file.
    #[arg(long)]
    log: Option<PathBuf>,
    /// Scopes granted to the token, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    scopes: Option<Vec<String>>,
    /// Registers an app for the OAuth install flow (`/oauth/v2/authorize`, `oauth.v2.access`)
    /// with this client ID; needs --oauth-client-secret.
    #[arg(long, requires = "oauth_client_secret")]
    oauth_client_id: Option<String>,
    /// The registered app's client secret.
    #[arg(long, env = "SLACK_SIM_CLIENT_SECRET", hide_env_values = true)]
    oauth_client_secret: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = cli_support::handle_generators::<Cli>() {
        return code;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slack-sim: {e:#}");
            if let Some(hint) = e.downcast_ref::<SimError>().and_then(SimError::hint) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut ws = match &cli.workspace {
        Some(path) => Workspace::load(path)?,
        None => generate(&GenSpec {
            users: cli.users,
            channels: cli.channels,
            days: cli.days,
            seed: cli.seed,
            max_members: cli.max_members,
            end: None,
        }),
    };
    add_external_users(&mut ws, cli.external_users, cli.seed);
    if let Some(path) = &cli.dump {
        ws.save(path)?;
    }
    let opts = SimOptions {
        token: cli.token,
        scopes: cli.scopes,
        rate_scale: cli.rate_scale,
        faults: cli.faults,
        fault_seed: cli.fault_seed,
        log_file: cli.log,
        fault_script: cli.fault_script,
    };
    let handle = start(cli.listen, ws, opts).await?;
    if let (Some(client_id), Some(client_secret)) = (cli.oauth_client_id, cli.oauth_client_secret) {
        handle.register_oauth_app(slack_sim::OAuthApp {
            client_id,
            client_secret,
            app_id: "ASIMAPP01".into(),
        });
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", handle.base_url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
