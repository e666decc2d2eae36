//! `add-members`: bulk-invite team members to customer Slack channels (see docs/add-members.md).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything can create a file: what the tools write is for their owner only.
    cli_support::owner_only_umask();
    if let Some(code) = cli_support::handle_generators::<add_members::Cli>() {
        return code;
    }
    let cli = add_members::Cli::parse();
    cli_support::init_logging(&cli.common);
    cli_support::exit_with(add_members::main(cli))
}
