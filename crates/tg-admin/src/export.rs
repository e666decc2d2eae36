//! `tg-admin export`: message history of chats to text (slack-export's conventions: oldest first,
//! local time, sender name, replies directly under the message they answer, indented) or JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use cli_support::{Outcome, UsageError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use report::{Cell, Row, Table};
use telegram::{Chat, TelegramApi, TgMessage};

use crate::cli::ExportFormat;
use crate::commands::find_chat;
use crate::session::{Session, telegram_error};

pub async fn export(
    s: &Session,
    chats: &[String],
    format: ExportFormat,
    since: Option<&str>,
    until: Option<&str>,
    tz: Option<&str>,
) -> anyhow::Result<Outcome> {
    let tz = match tz {
        Some(name) => TimeZone::get(name).map_err(|e| {
            UsageError::new(format!("--tz {name}: {e}"))
                .with_hint("use an IANA name such as Europe/London or UTC")
        })?,
        None => TimeZone::system(),
    };
    let since = since.map(|v| parse_time(v, &tz, "--since")).transpose()?;
    let until = until.map(|v| parse_time(v, &tz, "--until")).transpose()?;
    let groups = s.snapshot(false).await?;
    let mut selected: Vec<Chat> = Vec::new();
    for key in chats {
        match find_chat(&groups, key) {
            Some(g) => selected.push(g.chat.clone()),
            None => {
                let names: Vec<&str> = groups.iter().map(|g| g.chat.title.as_str()).collect();
                let close: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| n.to_lowercase().contains(&key.to_lowercase()))
                    .take(5)
                    .collect();
                let mut err = UsageError::new(format!("no chat with id or title {key:?}"));
                if !close.is_empty() {
                    err = err.with_hint(format!("did you mean: {}", close.join(", ")));
                }
                return Err(err.into());
            }
        }
    }
    std::fs::create_dir_all(&s.out).with_context(|| format!("creating {}", s.out.display()))?;
    let mut table = Table::new("Export", ["chat_id", "chat", "messages", "file"]);
    let mut used_names: Vec<String> = Vec::new();
    for chat in &selected {
        let messages = s
            .api
            .messages(chat.id, since, until)
            .await
            .map_err(telegram_error)?;
        let mut stem = sanitize_file_name(&chat.title).unwrap_or_else(|| chat.id.to_string());
        if used_names.contains(&stem) {
            stem = format!("{stem}_{}", chat.id);
        }
        used_names.push(stem.clone());
        let path: PathBuf = match format {
            ExportFormat::Text => s.out.join(format!("{stem}.txt")),
            ExportFormat::Json => s.out.join(format!("{stem}.json")),
        };
        let body = match format {
            ExportFormat::Text => render_text(chat, &messages, &tz),
            ExportFormat::Json => {
                serde_json::to_string_pretty(
                    &serde_json::json!({"chat": chat, "messages": messages}),
                )? + "\n"
            }
        };
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        table.push(Row::new(vec![
            Cell::Int(chat.id),
            Cell::text(chat.title.clone()),
            Cell::Int(i64::try_from(messages.len()).unwrap_or(i64::MAX)),
            Cell::text(path.display().to_string()),
        ]));
    }
    s.report("export", &table)?;
    Ok(Outcome::Success)
}

/// A date (start of that day in `tz`) or an RFC 3339 time.
fn parse_time(value: &str, tz: &TimeZone, flag: &str) -> anyhow::Result<Timestamp> {
    if let Ok(t) = value.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = value.parse().map_err(|_| {
        UsageError::new(format!(
            "{flag} {value:?} is neither a date nor an RFC 3339 time"
        ))
        .with_hint("use 2026-11-18 or 2026-11-18T09:00:00Z")
    })?;
    Ok(date.to_zoned(tz.clone())?.timestamp())
}

/// A safe file stem from a chat title: no path separators, no `..`, no control characters.
fn sanitize_file_name(title: &str) -> Option<String> {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned
        .replace("..", "_")
        .trim()
        .trim_matches('.')
        .trim()
        .to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Text rendering: a header, then messages oldest first; each reply goes directly under the
/// message it answers (following reply chains to the first message of the thread), indented.
pub fn render_text(chat: &Chat, messages: &[TgMessage], tz: &TimeZone) -> String {
    let by_id: HashMap<i64, &TgMessage> = messages.iter().map(|m| (m.id, m)).collect();
    // Root of each message's thread within this export; bounded walk guards against reply cycles.
    let root_of = |m: &TgMessage| {
        let mut cur = m;
        for _ in 0..messages.len() {
            match cur.reply_to.and_then(|p| by_id.get(&p)) {
                Some(parent) => cur = parent,
                None => break,
            }
        }
        cur.id
    };
    let mut replies: HashMap<i64, Vec<&TgMessage>> = HashMap::new();
    let mut top: Vec<&TgMessage> = Vec::new();
    for m in messages {
        let root = root_of(m);
        if root == m.id {
            top.push(m);
        } else {
            replies.entry(root).or_default().push(m);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} ({}, {})\n",
        roster::text::terminal_safe(&chat.title),
        chat.kind.as_str(),
        chat.id
    );
    for m in top {
        line(&mut out, m, "", tz, &by_id);
        for r in replies.get(&m.id).map(Vec::as_slice).unwrap_or_default() {
            line(&mut out, r, "    ", tz, &by_id);
        }
    }
    out
}

fn line(
    out: &mut String,
    m: &TgMessage,
    indent: &str,
    tz: &TimeZone,
    by_id: &HashMap<i64, &TgMessage>,
) {
    let time = m.date.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M");
    let who = m
        .from
        .as_ref()
        .map_or_else(|| "(anonymous)".to_owned(), |u| u.display_name());
    let mut text = m.text.replace('\n', &format!("\n{indent}    "));
    if let Some(parent) = m.reply_to {
        match by_id.get(&parent) {
            // A reply to a reply inside a thread: say whom it answers, as the thread is flat.
            Some(p) if p.reply_to.is_some() => {
                let to = p
                    .from
                    .as_ref()
                    .map_or_else(|| "(anonymous)".to_owned(), |u| u.display_name());
                text = format!("[↪ {to}] {text}");
            }
            Some(_) => {}
            None => text = format!("[↪ reply to message {parent}, not in this export] {text}"),
        }
    }
    // Titles, names and text are Telegram's: no escape sequence or `\r` reaches a reader's terminal.
    let line = format!("{indent}{time}  {who}: {text}");
    let _ = writeln!(out, "{}", roster::text::terminal_safe_text(&line));
}
