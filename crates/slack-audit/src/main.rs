//! `slack-audit`: load `.env`, parse flags, run the audit, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use slack_audit::Cli;

fn main() -> ExitCode {
    // Before anything can create a file: what the tools write is for their owner only.
    cli_support::owner_only_umask();
    if let Some(code) = cli_support::handle_generators::<Cli>() {
        return code;
    }
    // Before parsing, so flags with an environment variable can come from .env too.
    if let Err(e) = cli_support::load_dotenv() {
        return cli_support::exit_with(Err(e.into()));
    }
    let cli = Cli::parse();
    cli_support::init_logging(&cli.common);
    cli_support::exit_with(slack_audit::run(cli))
}
