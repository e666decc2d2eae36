//! One run's context: the account (behind FLOOD_WAIT handling), the output directory, the report
//! and operation-log writers, the store the changes are recorded in, and the snapshot of groups most
//! commands start from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use cli_support::UsageError;
use futures::{StreamExt, TryStreamExt};
use report::{Table, Workbook};
use telegram::{
    Chat, FixtureBackend, FloodWaitGuard, FloodWaitPolicy, OurRights, Participant, TelegramApi,
    TelegramError, TgUser,
};

use crate::cli::{Cli, UsersArgs};

/// Groups read at once when taking a snapshot.
const SNAPSHOT_CONCURRENCY: usize = 4;

pub struct Session {
    pub api: FloodWaitGuard<Box<dyn TelegramApi>>,
    pub out: PathBuf,
    /// `--config`: team.json and categories.json (read by `export --all-in-scope`).
    pub config_dir: PathBuf,
    stamp: String,
    log: Mutex<Option<std::fs::File>>,
    db_path: PathBuf,
    /// Opened by the first command that records a change, so read-only commands never create it.
    store: Mutex<Option<store::Store>>,
}

/// A chat with our rights in it and (when asked for) its participants.
pub struct GroupState {
    pub chat: Chat,
    pub rights: OurRights,
    pub participants: Vec<Participant>,
}

/// Library errors that mean "fix your setup" become usage errors (exit 2); the rest exit 1.
pub fn telegram_error(e: TelegramError) -> anyhow::Error {
    match e {
        TelegramError::NotLoggedIn
        | TelegramError::NoTerminal
        | TelegramError::Config { .. }
        | TelegramError::Fixture { .. }
        | TelegramError::Session { .. } => UsageError::new(e.to_string()).into(),
        other => other.into(),
    }
}

impl Session {
    pub async fn open(cli: &Cli) -> anyhow::Result<Self> {
        let out = cli.common.out.clone();
        // Exports in <out>, their media (<out>/<chat>_media, <out>/<chat>/photos...) and reports
        // in <out>/tg-admin a killed run left half-written.
        cli_support::remove_stale_temps(&out, 3)?;
        let api: Box<dyn TelegramApi> = if cli.common.demo {
            let path = out.join("telegram-demo.json");
            if !path.exists() {
                private_files::write(&path, telegram::demo::DEMO_FIXTURE)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            // The built-in data is copied first so a demo run never modifies it; delete the copy to start over.
            tracing::info!("demo account: {} (delete it to start over)", path.display());
            Box::new(FixtureBackend::open(path).map_err(telegram_error)?)
        } else {
            telegram::open_from_env().await.map_err(telegram_error)?
        };
        let policy = FloodWaitPolicy {
            max_wait: std::time::Duration::from_secs(cli.max_flood_wait),
            ..FloodWaitPolicy::default()
        };
        let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
        Ok(Self {
            api: FloodWaitGuard::new(api, policy),
            out,
            config_dir: cli.common.config.clone(),
            stamp,
            log: Mutex::new(None),
            db_path: cli.common.db_path(),
            store: Mutex::new(None),
        })
    }

    fn report_dir(&self) -> PathBuf {
        self.out.join("tg-admin")
    }

    /// Prints `table` on stdout and saves it (with any extra sheets) as `<out>/tg-admin/<name>-<time>.xlsx`.
    pub fn report(&self, name: &str, table: &Table) -> anyhow::Result<PathBuf> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(report::render_text(table, None).as_bytes())?;
        stdout.flush()?;
        let path = self
            .report_dir()
            .join(format!("{name}-{}.xlsx", self.stamp));
        Workbook::new().sheet(table).save(&path)?;
        tracing::info!("report: {}", path.display());
        Ok(path)
    }

    /// Path for another output of this run, e.g. the ownership-request text file.
    pub fn output_path(&self, name: &str, ext: &str) -> PathBuf {
        self.report_dir()
            .join(format!("{name}-{}.{ext}", self.stamp))
    }

    /// Appends one operation to `<out>/tg-admin/operations.jsonl` and flushes it at once, so the log
    /// is complete up to the last finished operation even if the run is killed.
    pub fn log_op(&self, entry: serde_json::Value) -> anyhow::Result<()> {
        let mut guard = self
            .log
            .lock()
            .map_err(|_| anyhow::anyhow!("operation log lock poisoned"))?;
        if guard.is_none() {
            let path = self.report_dir().join("operations.jsonl");
            let file = private_files::open_append(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            *guard = Some(file);
        }
        let mut line = serde_json::json!({"time": jiff::Timestamp::now().to_string()});
        if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), entry) {
            obj.extend(extra);
        }
        if let Some(file) = guard.as_mut() {
            writeln!(file, "{line}")?;
            file.flush()?;
        }
        Ok(())
    }

    /// Opens the store (`--db`) if not yet open. Changing commands call it before changing
    /// anything, so a store that cannot be opened stops the run while nothing is done yet.
    pub fn open_store(&self) -> anyhow::Result<()> {
        let mut guard = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        if guard.is_none() {
            *guard = Some(store::Store::open(&self.db_path)?);
        }
        Ok(())
    }

    /// Runs `f` on the store (opened on first use).
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&store::Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.open_store()?;
        let guard = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        match guard.as_ref() {
            Some(store) => f(store),
            None => Err(anyhow::anyhow!("the store is not open")),
        }
    }

    /// Records one change in the store's `tg_operations` (listed on the panel's Activity page).
    pub fn record_op(&self, op: &store::tg_ops::NewTgOp<'_>) -> anyhow::Result<()> {
        self.open_store()?;
        let guard = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        if let Some(store) = guard.as_ref() {
            store.tg_op_insert(op).with_context(|| {
                format!(
                    "recording the operation in {}",
                    store::shown_location(&self.db_path)
                )
            })?;
        }
        Ok(())
    }

    /// Chats the operation log says `command` already finished for this user (outcome `done`), so a
    /// rerun can say "skipped: not a member" for them instead of staying silent.
    pub fn logged_done(&self, command: &str, user_id: i64, done: &str) -> Vec<(i64, String)> {
        let Ok(text) = std::fs::read_to_string(self.report_dir().join("operations.jsonl")) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, String)> = Vec::new();
        for entry in text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        {
            let matches = entry["command"] == command
                && entry["user_id"].as_i64() == Some(user_id)
                && entry["outcome"] == done;
            if let (true, Some(chat_id)) = (matches, entry["chat_id"].as_i64())
                && !out.iter().any(|(id, _)| *id == chat_id)
            {
                out.push((
                    chat_id,
                    entry["chat"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        out
    }

    /// Every group/channel with our rights and, when `participants`, its members (each read once).
    pub async fn snapshot(&self, participants: bool) -> anyhow::Result<Vec<GroupState>> {
        let chats = self.api.dialogs().await.map_err(telegram_error)?;
        let api = &self.api;
        let states = futures::stream::iter(chats)
            .map(|chat| async move {
                let rights = api.my_rights(chat.id).await?;
                let people = if participants {
                    api.participants(chat.id).await?
                } else {
                    Vec::new()
                };
                Ok::<_, TelegramError>(GroupState {
                    chat,
                    rights,
                    participants: people,
                })
            })
            .buffered(SNAPSHOT_CONCURRENCY)
            .try_collect()
            .await
            .map_err(telegram_error)?;
        Ok(states)
    }

    /// Resolves the users named on the command line and in --users-file. Unknown ones are returned
    /// separately (the command reports them and exits 1).
    pub async fn resolve_users(
        &self,
        args: &UsersArgs,
    ) -> anyhow::Result<(Vec<TgUser>, Vec<String>)> {
        let mut queries = args.users.clone();
        if let Some(file) = &args.users_file {
            queries.extend(read_users_file(file)?);
        }
        let mut found: Vec<TgUser> = Vec::new();
        let mut unknown = Vec::new();
        for q in queries {
            match self.api.resolve_user(&q).await.map_err(telegram_error)? {
                Some(u) if !found.iter().any(|f| f.id == u.id) => found.push(u),
                Some(_) => {}
                None => {
                    tracing::warn!("no Telegram user {q}");
                    unknown.push(q);
                }
            }
        }
        Ok((found, unknown))
    }
}

fn read_users_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UsageError::new(format!("cannot read --users-file {}: {e}", path.display()))
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}
