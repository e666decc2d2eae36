//! `insight-sync`: scheduled engagement sync (see docs/insight.md).

use std::process::ExitCode;

use clap::Parser;
use insight_sync::Cli;

fn main() -> ExitCode {
    // Before anything can create a file: what the tools write is for their owner only.
    cli_support::owner_only_umask();
    if let Some(code) = cli_support::handle_generators::<Cli>() {
        return code;
    }
    let cli = Cli::parse();
    cli_support::init_logging(&cli.common);
    cli_support::exit_with(insight_sync::run(cli))
}
