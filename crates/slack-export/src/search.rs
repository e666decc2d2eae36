//! Search across everything exported: [`ChannelIndexer`] puts a channel's messages into the store's
//! full-text index (`store::search`) as they are rendered, and [`run_search`] is the
//! `slack-export search` command over it (Slack and, once tg-admin indexes its exports, Telegram).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use cli_support::{Outcome, UsageError};
use jiff::tz::TimeZone;
use slack_client::Message;
use store::Store;
use store::search::{SearchDoc, SearchHit, SearchQuery};

use crate::names::Directory;
use crate::sink::{ChannelMeta, ExportError, Item};

/// The `source` of Slack messages in the index.
pub const SOURCE: &str = "slack";

/// Messages per index transaction: big enough that commits cost little, small enough that memory
/// stays flat on any channel.
const BATCH: usize = 10_000;

/// Feeds one channel's messages into the index as they are rendered, in transactions of
/// [`BATCH`] messages (new ones added, changed ones updated).
pub struct ChannelIndexer<'a> {
    store: &'a Store,
    names: &'a Directory,
    conversation_id: String,
    conversation_name: String,
    batch: Vec<SearchDoc>,
    changed: usize,
}

impl<'a> ChannelIndexer<'a> {
    pub fn new(store: &'a Store, channel: &ChannelMeta, names: &'a Directory) -> Self {
        let c = &channel.conversation;
        let conversation_name = if c.name.is_empty() {
            c.user
                .as_deref()
                .map(|u| format!("DM with {}", names.user(u)))
                .unwrap_or_else(|| c.id.clone())
        } else {
            c.name.clone()
        };
        ChannelIndexer {
            store,
            names,
            conversation_id: c.id.clone(),
            conversation_name,
            batch: Vec::with_capacity(BATCH),
            changed: 0,
        }
    }

    /// One rendered message (decoded once, shared with the sink).
    pub fn add(&mut self, item: &Item<'_>) -> Result<(), ExportError> {
        let m = item.message()?;
        if let Some(doc) = search_doc(
            m,
            item.ts_key,
            &self.conversation_id,
            &self.conversation_name,
            self.names,
        ) {
            self.batch.push(doc);
        }
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        let stats = self.store.search_index_messages(&self.batch)?;
        self.changed += stats.added + stats.updated;
        self.batch.clear();
        Ok(())
    }

    /// Writes the last batch; returns how many messages were added or changed.
    pub fn finish(mut self) -> Result<usize, ExportError> {
        self.flush()?;
        Ok(self.changed)
    }
}

/// A message as the index holds it: plain text with names, file names after it. Joins, leaves
/// and messages with nothing to find are left out.
fn search_doc(
    m: &Message,
    ts_key: i64,
    conversation_id: &str,
    conversation_name: &str,
    names: &Directory,
) -> Option<SearchDoc> {
    if matches!(
        m.subtype.as_deref(),
        Some("channel_join" | "channel_leave" | "group_join" | "group_leave")
    ) {
        return None;
    }
    let mut text = names.plain_text(&m.text);
    for f in &m.files {
        if let Some(name) = ["name", "title"]
            .iter()
            .find_map(|k| f.get(*k).and_then(|v| v.as_str()))
        {
            text.push_str(&format!(" [file: {name}]"));
        }
    }
    if text.trim().is_empty() {
        return None;
    }
    Some(SearchDoc {
        source: SOURCE.into(),
        conversation_id: conversation_id.into(),
        conversation_name: conversation_name.into(),
        msg_id: m.ts.clone(),
        time_us: ts_key,
        sender_id: m.user.clone().or_else(|| m.bot_id.clone()),
        sender_name: names.sender(m),
        mentions: names.mentions(&m.text),
        text,
    })
}

/// `slack-export search`: find messages in everything exported into the store.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Words to find (all of them), `"a phrase"`, `a OR b`, `a NOT b`, `prefix*` (SQLite FTS5
    /// query syntax; several arguments are joined with spaces).
    #[arg(value_name = "QUERY", required = true)]
    pub query: Vec<String>,

    /// Only in these conversations (ID, name or #name; repeat or separate with commas).
    #[arg(long, value_name = "CHANNEL", value_delimiter = ',')]
    pub channel: Vec<String>,

    /// Only messages from this sender (user ID or name as exported).
    #[arg(long, value_name = "USER")]
    pub from: Option<String>,

    /// Oldest messages to include: a date (start of that day in --tz) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Newest messages to include: a date (that whole day in --tz) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,

    /// Time zone for printed times and date bounds (IANA name); default: this machine's zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// At most this many messages, newest first.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,

    /// Print the matches as one JSON array (with the matched byte ranges) instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs `slack-export search` against the store at `db`: 0 with matches, 1 without (like grep),
/// usage errors (bad query, bad date, no store) exit 2.
pub fn run_search(args: &SearchArgs, db: PathBuf) -> anyhow::Result<Outcome> {
    let (tz, since_us, until_us) = crate::window::zone_and_window(
        args.tz.as_deref(),
        args.since.as_deref(),
        args.until.as_deref(),
    )?;
    if args.limit == 0 {
        return Err(UsageError::new("--limit 0 finds nothing")
            .with_hint("give --limit 1 or more")
            .into());
    }
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        return Err(UsageError::new("the search query is empty")
            .with_hint("give a word to find: slack-export search invoice")
            .into());
    }
    // A PostgreSQL URL names a server, not a file: Store::open says so if it is not there.
    let is_file = matches!(store::Location::parse(&db), Ok(store::Location::Sqlite(_)));
    if is_file && !db.exists() {
        return Err(UsageError::new(format!("no store at {}", db.display()))
            .with_hint("export something first (slack-export CHANNEL), or point --db at the store the exports used")
            .into());
    }
    let store = Store::open(&db)?;
    let query_text = query.clone();
    let query = SearchQuery {
        query,
        conversations: args.channel.clone(),
        sender: args.from.clone(),
        since_us,
        until_us,
        limit: args.limit,
    };
    // Stdout is line-buffered: one write per match would be a system call per line.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let marks = if std::io::stdout().is_terminal() {
        Marks::REVERSE_VIDEO
    } else {
        Marks::BRACKETS
    };
    let mut found = 0u64;
    // Matches are printed as they are read (a common word may match millions); `--json` writes
    // the array's brackets around them.
    if args.json {
        out.write_all(b"[")?;
    }
    let searched = store.search_for_each::<PrintError>(&query, |hit| {
        if args.json {
            out.write_all(if found == 0 { b"\n  " } else { b",\n  " })?;
            serde_json::to_writer(&mut out, &JsonHit::new(&hit, &tz))
                .map_err(std::io::Error::from)?;
        } else {
            writeln!(out, "{}", hit_line(&hit, &tz, marks))?;
        }
        found += 1;
        Ok(())
    });
    match searched {
        Ok(()) => {}
        Err(PrintError::Store(store::StoreError::SearchQuery(why))) => {
            return Err(UsageError::new(format!(
                "cannot read the query {:?}: {why}",
                roster::text::terminal_safe(&query_text)
            ))
            .with_hint(
                "quote words with punctuation as a phrase: '\"foo-bar\"'; operators are AND, OR, NOT (upper case), prefix*",
            )
            .into());
        }
        Err(PrintError::Store(e)) => {
            return Err(anyhow::Error::new(e).context("searching the store"));
        }
        // A closed pipe (`| head`) included: main treats a broken pipe as a normal end.
        Err(PrintError::Io(e)) => return Err(e.into()),
    }
    if args.json {
        out.write_all(if found == 0 { b"]\n" } else { b"\n]\n" })?;
    }
    out.flush().context("writing the results")?;
    Ok(if found == 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// Why printing the matches stopped.
#[derive(Debug)]
enum PrintError {
    Store(store::StoreError),
    Io(std::io::Error),
}

impl From<store::StoreError> for PrintError {
    fn from(e: store::StoreError) -> Self {
        PrintError::Store(e)
    }
}

impl From<std::io::Error> for PrintError {
    fn from(e: std::io::Error) -> Self {
        PrintError::Io(e)
    }
}

/// How a match is marked in a printed line.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    pub start: &'static str,
    pub end: &'static str,
}

impl Marks {
    /// On a terminal: reverse video.
    pub const REVERSE_VIDEO: Marks = Marks {
        start: "\u{1b}[7m",
        end: "\u{1b}[27m",
    };
    /// In a pipe or file: `[[match]]`.
    pub const BRACKETS: Marks = Marks {
        start: "[[",
        end: "]]",
    };
}

/// One match on one line: `#channel  2026-01-05 08:00  Sender: text with [[match]]`. Line breaks in
/// the text become spaces (one line per match, as grep prints); every piece from the platform is
/// made terminal-safe; only our marks are raw.
pub fn hit_line(h: &SearchHit, tz: &TimeZone, marks: Marks) -> String {
    let time = jiff::Timestamp::from_microsecond(h.time_us)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    let mut line = format!(
        "{}  {time}  {}: ",
        roster::text::terminal_safe(&conversation_label(h)),
        roster::text::terminal_safe(&h.sender_name)
    );
    // Same length as the text, so the match ranges still apply.
    let text = h.text.replace('\n', " ");
    let mut at = 0;
    for r in &h.matches {
        let (Some(before), Some(matched)) = (text.get(at..r.start), text.get(r.clone())) else {
            continue;
        };
        line.push_str(&roster::text::terminal_safe(before));
        line.push_str(marks.start);
        line.push_str(&roster::text::terminal_safe(matched));
        line.push_str(marks.end);
        at = r.end;
    }
    line.push_str(&roster::text::terminal_safe(text.get(at..).unwrap_or("")));
    line
}

/// Slack channels as `#name`; DMs and other platforms' conversations by their name.
fn conversation_label(h: &SearchHit) -> String {
    if h.source == SOURCE && h.conversation_id.starts_with(['C', 'G']) {
        format!("#{}", h.conversation_name)
    } else {
        h.conversation_name.clone()
    }
}

/// A match in `--json`.
#[derive(serde::Serialize)]
struct JsonHit<'a> {
    source: &'a str,
    conversation_id: &'a str,
    conversation_name: &'a str,
    message_id: &'a str,
    /// RFC 3339 in --tz.
    time: String,
    sender_id: Option<&'a str>,
    sender_name: &'a str,
    text: &'a str,
    /// Byte ranges of `text` that matched.
    matches: Vec<[usize; 2]>,
}

impl<'a> JsonHit<'a> {
    fn new(h: &'a SearchHit, tz: &TimeZone) -> Self {
        JsonHit {
            source: &h.source,
            conversation_id: &h.conversation_id,
            conversation_name: &h.conversation_name,
            message_id: &h.msg_id,
            time: jiff::Timestamp::from_microsecond(h.time_us)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            sender_id: h.sender_id.as_deref(),
            sender_name: &h.sender_name,
            text: &h.text,
            matches: h.matches.iter().map(|r| [r.start, r.end]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    #[test]
    fn lines_mark_matches_and_escape_platform_text() {
        let h = SearchHit {
            source: SOURCE.into(),
            conversation_id: "C1".into(),
            conversation_name: "acme\u{1b}[31m".into(),
            msg_id: "1.0".into(),
            time_us: 1_767_600_000_000_000,
            sender_id: Some("U1".into()),
            sender_name: "Aki".into(),
            text: "the invoice\nis late".into(),
            matches: vec![Range { start: 4, end: 11 }],
        };
        assert_eq!(
            hit_line(&h, &TimeZone::UTC, Marks::BRACKETS),
            "#acme\\u{1b}[31m  2026-01-05 08:00  Aki: the [[invoice]] is late"
        );
        assert_eq!(
            hit_line(&h, &TimeZone::UTC, Marks::REVERSE_VIDEO),
            "#acme\\u{1b}[31m  2026-01-05 08:00  Aki: the \u{1b}[7minvoice\u{1b}[27m is late"
        );
        // Telegram chats and Slack DMs by their name, without `#`.
        let tg = SearchHit {
            source: "telegram".into(),
            conversation_id: "-100123".into(),
            conversation_name: "Acme support".into(),
            ..h.clone()
        };
        assert!(
            hit_line(&tg, &TimeZone::UTC, Marks::BRACKETS).starts_with("Acme support  2026-01-05")
        );
        let dm = SearchHit {
            conversation_id: "D0123".into(),
            conversation_name: "DM with Aki".into(),
            ..h
        };
        assert!(
            hit_line(&dm, &TimeZone::UTC, Marks::BRACKETS).starts_with("DM with Aki  2026-01-05")
        );
    }
}
