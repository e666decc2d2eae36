//! `notifications`: the delivery log, `--retry-failed`, and `test EVENT` (see docs/notifications.md).

use std::process::ExitCode;

use clap::Parser;
use notifications_cli::Cli;

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
    cli_support::exit_with(notifications_cli::run(cli))
}
