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
    let ctx = match session::Session::open(&cli).await {
        Ok(ctx) => ctx,
        Err(e) => {
            if e.to_string() == telegram::TelegramError::NotLoggedIn.to_string() {
                session_expired(&cli, &e.to_string()).await;
            }
            return Err(e);
        }
    };
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

/// `telegram_session_expired` when notifications.json enables it (and SLACK_TOKEN is set): the
/// people running tg-admin from cron hear that `tg-admin login` is due.
async fn session_expired(cli: &Cli, detail: &str) {
    let config = match notifications::load_with_store(&cli.common.config, &cli.common.db_path()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("telegram_session_expired not sent: {e}");
            return;
        }
    };
    let event = notifications::Event::TelegramSessionExpired;
    if config.enabled(event).is_none() {
        return;
    }
    let client =
        match slack_client::ClientConfig::from_env().and_then(slack_client::SlackClient::new) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("{event} not sent: {e}");
                return;
            }
        };
    let ctx = notifications::context([("tool", "tg-admin"), ("detail", detail)]);
    notifications::emit_for_tool(&client, &cli.common.db_path(), &config, event, &ctx).await;
}
