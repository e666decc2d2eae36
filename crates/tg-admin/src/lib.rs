//! tg-admin command logic: Telegram group administration for the logged-in account (find, remove,
//! rename, ownership-transfer requests, admin status, export). Every command reads the account
//! through `telegram::TelegramApi`, prints a table on stdout, and writes an Excel report (and, for
//! changes, a JSON-lines operation log) under `--out/tg-admin/`; each change attempted is also
//! recorded in the store (`store::tg_ops`), where the admin panel lists it.

pub mod archive;
mod cli;
mod commands;
mod export;
mod session;

pub use cli::{ChangeArgs, Cli, Command, ExportArgs, ExportFormat, UsersArgs};

use cli_support::Outcome;
use telegram::TelegramApi as _;

/// Runs one tg-admin invocation.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if let Command::Login = cli.command {
        return commands::login(&cli).await;
    }
    let ctx = session::Session::open(&cli).await?;
    let outcome = match &cli.command {
        Command::Login => Ok(Outcome::Success),
        Command::FindUser(users) => commands::find_user(&ctx, users).await,
        Command::RemoveUser { users, change } => commands::remove_user(&ctx, users, *change).await,
        Command::RequestOwnership(users) => commands::request_ownership(&ctx, users).await,
        Command::Rename {
            find,
            replace,
            mapping,
            change,
        } => {
            commands::rename(
                &ctx,
                find.as_deref(),
                replace.as_deref(),
                mapping.as_deref(),
                *change,
            )
            .await
        }
        Command::AdminStatus => commands::admin_status(&ctx).await,
        Command::Export(args) => export::export(&ctx, args).await,
    };
    // Write fixture changes back even when a command failed part-way: what was done, was done.
    let finished = ctx.api.finish().await;
    let outcome = outcome?;
    finished.map_err(session::telegram_error)?;
    Ok(outcome)
}
