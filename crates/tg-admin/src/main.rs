//! tg-admin binary: parses flags and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything can create a file: what the tools write is for their owner only.
    cli_support::owner_only_umask();
    if let Some(code) = cli_support::handle_generators::<tg_admin::Cli>() {
        return code;
    }
    let cli = tg_admin::Cli::parse();
    if let Err(e) = cli_support::load_dotenv() {
        return cli_support::exit_with(Err(e.into()));
    }
    cli_support::init_logging(&cli.common);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return cli_support::exit_with(Err(e.into())),
    };
    cli_support::exit_with(runtime.block_on(tg_admin::run(cli)))
}
