//! `slack-tools-db`: copy a store between SQLite and PostgreSQL, and show a store's status
//! (see docs/postgres.md).

use std::process::ExitCode;

use clap::Parser;
use slack_tools_db::Cli;

fn main() -> ExitCode {
    // Before anything can create a file: what the tools write is for their owner only.
    cli_support::owner_only_umask();
    if let Some(code) = cli_support::handle_generators::<Cli>() {
        return code;
    }
    if let Err(e) = cli_support::load_dotenv() {
        return cli_support::exit_with(Err(e.into()));
    }
    let cli = Cli::parse();
    cli_support::init_logging(&cli.common);
    cli_support::exit_with(slack_tools_db::run(cli))
}
