//! `tg-admin export`: message history of chats to text (slack-export's conventions: oldest first,
//! local time, sender name, replies directly under the message they answer, indented) or JSON.

use std::collections::{HashMap, HashSet};
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
    private_files::create_dir_all(&s.out)
        .with_context(|| format!("creating {}", s.out.display()))?;
    let mut table = Table::new("Export", ["chat_id", "chat", "messages", "file"]);
    let mut stems = FileStems::default();
    for chat in &selected {
        let messages = s
            .api
            .messages(chat.id, since, until)
            .await
            .map_err(telegram_error)?;
        let stem = stems.for_chat(chat);
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
        private_files::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
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

/// Longest file stem taken from a title, in bytes: with `_<chat id>` and the extension added, the
/// name stays under the 255-byte limit of common filesystems.
const MAX_STEM_BYTES: usize = 200;

/// File stems of one export run, unique ignoring case: on a case-insensitive filesystem (macOS,
/// Windows) chats "Acme" and "ACME" would otherwise write the same file.
#[derive(Default)]
struct FileStems {
    used: HashSet<String>,
}

impl FileStems {
    fn for_chat(&mut self, chat: &Chat) -> String {
        let base = sanitize_file_name(&chat.title).unwrap_or_else(|| chat.id.to_string());
        let mut stem = base.clone();
        let mut n = 1;
        while !self.used.insert(stem.to_lowercase()) {
            // The id alone is unique, but "X_-100" may itself be a title; count on until free.
            stem = if n == 1 {
                format!("{base}_{}", chat.id)
            } else {
                format!("{base}_{}_{n}", chat.id)
            };
            n += 1;
        }
        stem
    }
}

/// A safe file stem from a chat title: no path separators, no `..`, no control characters, at
/// most [`MAX_STEM_BYTES`] (cut on a character boundary).
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
    let mut end = cleaned.len().min(MAX_STEM_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let capped = cleaned[..end].trim_end().trim_end_matches('.').trim_end();
    (!capped.is_empty()).then(|| capped.to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;
    use telegram::ChatKind;

    fn chat(id: i64, title: &str) -> Chat {
        Chat {
            id,
            title: title.into(),
            kind: ChatKind::Supergroup,
        }
    }

    #[test]
    fn long_titles_are_cut_to_200_bytes_on_a_char_boundary() {
        // 3-byte characters: 200 is not a multiple of 3, so a byte cut would split one.
        let title = "€".repeat(100);
        let stem = sanitize_file_name(&title).expect("stem");
        assert_eq!(stem.len(), 198);
        assert_eq!(stem, "€".repeat(66));
        let ascii = format!("{} .", "a".repeat(199));
        assert_eq!(sanitize_file_name(&ascii).expect("stem"), "a".repeat(199));
        assert_eq!(sanitize_file_name(" . "), None);
    }

    #[test]
    fn stems_differing_only_in_case_do_not_collide() {
        let mut stems = FileStems::default();
        assert_eq!(stems.for_chat(&chat(-1, "Acme")), "Acme");
        assert_eq!(stems.for_chat(&chat(-2, "ACME")), "ACME_-2");
        assert_eq!(stems.for_chat(&chat(-3, "acme_-2")), "acme_-2_-3");
        assert_eq!(stems.for_chat(&chat(-2, "ACME")), "ACME_-2_2");
    }
}
