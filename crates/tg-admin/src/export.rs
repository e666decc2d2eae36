//! `tg-admin export`: message history of chats to text (slack-export's conventions: oldest first,
//! local time, sender name, replies directly under the message they answer, indented), JSON, or
//! Telegram Desktop's machine-readable layout; media downloaded next to it.
//!
//! History is read forwards one page at a time and each page is stored (`store::tg_export`)
//! before the next is asked for; the files are then written whole from the store. So `--resume`
//! reads only after the last stored message, and a killed export that is resumed writes the same
//! bytes as one uninterrupted run.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cli_support::{Outcome, UsageError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use report::{Cell, Row, Table};
use serde::Serialize;
use store::search::SearchDoc;
use store::tg_export::{TgExportKey, TgStoredMessage};
use telegram::{
    Chat, ChatKind, MediaKind, MediaSink, TelegramApi, TelegramError, TgMedia, TgMessage, TgUser,
};

use crate::cli::{ExportArgs, ExportFormat};
use crate::commands::find_chat;
use crate::session::{Session, telegram_error};

/// Names in `--out` that belong to the tools (reports, the store, the demo account): a chat
/// titled so gets another name.
const RESERVED_IN_OUT: [&str; 4] = [
    "tg-admin",
    "slack-tools.db",
    "slack-tools-demo.db",
    "telegram-demo.json",
];

/// Messages asked for per history call (Telegram's own cap for messages.getHistory).
const PAGE: usize = 100;
/// Attempts per media file when the connection fails midway.
const DOWNLOAD_ATTEMPTS: u32 = 2;

/// What one chat's export did, for the summary table.
#[derive(Default)]
struct ChatSummary {
    messages: usize,
    new: usize,
    media_saved: usize,
    media_skipped: usize,
    media_failed: usize,
}

/// Which media to download.
struct MediaChoice {
    kinds: HashSet<MediaKind>,
    max_size: Option<u64>,
}

pub async fn export(s: &Session, args: &ExportArgs) -> anyhow::Result<Outcome> {
    let tz = match args.tz.as_deref() {
        Some(name) => TimeZone::get(name).map_err(|e| {
            UsageError::new(format!("--tz {name}: {e}"))
                .with_hint("use an IANA name such as Europe/London or UTC")
        })?,
        None => TimeZone::system(),
    };
    let since = args
        .since
        .as_deref()
        .map(|v| parse_time(v, &tz, "--since"))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|v| parse_time(v, &tz, "--until"))
        .transpose()?;
    let media = parse_media(args.media.as_deref(), args.max_file_size.as_deref())?;
    if args.chats.is_empty() && !args.all_in_scope {
        return Err(UsageError::new("no chat to export")
            .with_hint("name chats by id or exact title, or use --all-in-scope")
            .into());
    }
    let selected = if args.all_in_scope {
        scope_chats(s).await?
    } else {
        named_chats(s, &args.chats).await?
    };
    private_files::create_dir_all(&s.out)
        .with_context(|| format!("creating {}", s.out.display()))?;
    // The store keys exports by the absolute output directory, so `--out out` and `--out ./out`
    // are the same export.
    let out_abs =
        std::fs::canonicalize(&s.out).with_context(|| format!("resolving {}", s.out.display()))?;
    let out_key = out_abs.to_string_lossy().into_owned();
    let format = args.format;
    let mut table = Table::new(
        "Export",
        [
            "chat_id",
            "chat",
            "messages",
            "new",
            "media_saved",
            "media_skipped",
            "media_failed",
            "file",
        ],
    );
    // Names of earlier exports into this output (of any chat) stay theirs, and so do the names
    // the tools themselves use in --out; new chats get free ones.
    let mut stems = FileStems::default();
    for name in RESERVED_IN_OUT {
        stems.reserve(name);
    }
    // In every format: text and JSON share `<stem>_media`, and one chat keeps one stem.
    let earlier = s.with_store(|st| Ok(st.tg_export_files(&out_key)?))?;
    for (_, fmt, file) in &earlier {
        stems.reserve(stored_stem(file, fmt));
    }
    let mut previous = Vec::new();
    for chat in &selected {
        let key = TgExportKey {
            out_dir: &out_key,
            format: format.as_str(),
            chat_id: chat.id,
        };
        previous.push(s.with_store(|st| Ok(st.tg_export_chat(key)?))?);
    }
    let mut failed = false;
    for (chat, prev) in selected.iter().zip(previous) {
        let key = TgExportKey {
            out_dir: &out_key,
            format: format.as_str(),
            chat_id: chat.id,
        };
        let fresh = !args.resume || prev.is_none();
        // A chat keeps its file in this output across runs (also when renamed since), and its
        // stem across formats.
        let file = match &prev {
            Some(p) => p.file.clone(),
            None => {
                let stem = match earlier.iter().find(|(id, _, _)| *id == chat.id) {
                    Some((_, fmt, file)) => stored_stem(file, fmt).to_owned(),
                    None => stems.for_chat(chat),
                };
                match format {
                    ExportFormat::Text => format!("{stem}.txt"),
                    ExportFormat::Json => format!("{stem}.json"),
                    ExportFormat::Tdesktop => stem,
                    ExportFormat::Html => format!("{stem}{HTML_SUFFIX}"),
                }
            }
        };
        let done = async {
            let after = match (&prev, since) {
                (Some(p), _) if !fresh => p.last_message_id,
                // Start at --since instead of reading (and skipping) everything older.
                (_, Some(since)) => s
                    .api
                    .history_start(chat.id, since)
                    .await
                    .map_err(telegram_error)?,
                _ => 0,
            };
            s.with_store(|st| {
                Ok(st.tg_export_begin(key, &chat.title, chat.kind.as_str(), &file, fresh)?)
            })?;
            let mut summary = ChatSummary {
                new: fetch_history(s, key, chat, after, since, until).await?,
                ..ChatSummary::default()
            };
            if let Some(choice) = &media {
                let stored = s.with_store(|st| Ok(st.tg_export_messages(key)?))?;
                download_media(
                    s,
                    key,
                    chat,
                    &stored,
                    &file,
                    format,
                    choice,
                    &tz,
                    &mut summary,
                )
                .await?;
            }
            let stored = s.with_store(|st| Ok(st.tg_export_messages(key)?))?;
            summary.messages = stored.len();
            // Searchable with `slack-export search`, beside the Slack exports (unchanged
            // messages are skipped by the index itself).
            let docs: Vec<SearchDoc> = stored.iter().map(|m| search_doc(chat, m)).collect();
            s.with_store(|st| Ok(st.search_index_messages(&docs)?))?;
            let path = write_export(&s.out, chat, &stored, &file, format, &tz)?;
            Ok::<_, anyhow::Error>((summary, path))
        }
        .await;
        let (summary, file_cell) = match done {
            Ok((summary, path)) => {
                failed |= summary.media_failed > 0;
                (summary, path.display().to_string())
            }
            // Fix-your-setup errors stop the run: every other chat would fail the same way.
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            // Anything else (a FLOOD_WAIT over the limit, a chat Telegram refuses) gives up this
            // chat only; what was read is stored, so `--resume` continues it later.
            Err(e) => {
                failed = true;
                let msg = format!("{e:#}");
                tracing::error!(
                    chat = chat.id,
                    "export of {} failed: {}",
                    roster::text::terminal_safe(&chat.title),
                    roster::text::terminal_safe(&msg)
                );
                (ChatSummary::default(), format!("failed: {msg}"))
            }
        };
        table.push(Row::new(vec![
            Cell::Int(chat.id),
            Cell::text(chat.title.clone()),
            Cell::Int(count(summary.messages)),
            Cell::Int(count(summary.new)),
            Cell::Int(count(summary.media_saved)),
            Cell::Int(count(summary.media_skipped)),
            Cell::Int(count(summary.media_failed)),
            Cell::text(file_cell),
        ]));
    }
    s.report("export", &table)?;
    if failed {
        tracing::error!(
            "some media could not be downloaded; run the export again with --resume to retry them"
        );
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Chats named on the command line (id or exact title), in that order.
async fn named_chats(s: &Session, chats: &[String]) -> anyhow::Result<Vec<Chat>> {
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
    Ok(selected)
}

/// The groups the coverage audit covers: the same selection (`telegram::groups_for_audit` with
/// categories.json's `telegram_scope`), through the FLOOD_WAIT guard.
async fn scope_chats(s: &Session) -> anyhow::Result<Vec<Chat>> {
    let config = roster::load(&s.config_dir).map_err(|e| {
        UsageError::new(e.to_string()).with_hint(format!(
            "--all-in-scope reads the audit's {} and {} in --config ({})",
            roster::TEAM_FILE,
            roster::CATEGORIES_FILE,
            s.config_dir.display()
        ))
    })?;
    let shared_with = config.categories.telegram_scope.shared_with_username();
    let groups = telegram::groups_for_audit(&s.api, shared_with)
        .await
        .map_err(telegram_error)?;
    Ok(groups
        .into_iter()
        .map(|g| Chat {
            id: g.id,
            title: g.title,
            kind: g.kind,
        })
        .collect())
}

/// `--media` kinds and `--max-file-size`.
fn parse_media(
    kinds: Option<&[String]>,
    max_size: Option<&str>,
) -> anyhow::Result<Option<MediaChoice>> {
    let Some(kinds) = kinds else {
        return Ok(None);
    };
    let names: Vec<&str> = MediaKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut set = HashSet::new();
    for k in kinds {
        let k = k.trim().to_lowercase();
        if k == "all" || k.is_empty() {
            set.extend(MediaKind::ALL);
            continue;
        }
        let kind = MediaKind::parse(&k).ok_or_else(|| {
            UsageError::new(format!("--media: unknown kind {k:?}")).with_hint(format!(
                "use all or a comma-separated list of: {} (a chat right after --media is taken \
                 as the kinds: name the chats first, or write --media=KINDS)",
                names.join(", ")
            ))
        })?;
        set.insert(kind);
    }
    let max_size = max_size.map(parse_size).transpose()?;
    Ok(Some(MediaChoice {
        kinds: set,
        max_size,
    }))
}

/// `500K`, `20M`, `1G`, `20MB`, `20MiB` (binary units) or plain bytes.
fn parse_size(value: &str) -> anyhow::Result<u64> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let factor: u64 = match unit.as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|_| factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            UsageError::new(format!("--max-file-size {value:?} is not a size"))
                .with_hint("use bytes or a number with K, M or G, e.g. 20M")
                .into()
        })
}

/// Reads the chat's history after `after` page by page, storing each page before asking for the
/// next; returns how many messages were stored. Message ids grow with time, so `--until` ends
/// the reading at the first message at or after it.
async fn fetch_history(
    s: &Session,
    key: TgExportKey<'_>,
    chat: &Chat,
    mut after: i64,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> anyhow::Result<usize> {
    let mut stored = 0;
    loop {
        let page = s
            .api
            .history_page(chat.id, after, PAGE)
            .await
            .map_err(telegram_error)?;
        let Some(last) = page.iter().map(|m| m.id).max() else {
            break;
        };
        let reached_until = page.iter().any(|m| until.is_some_and(|u| m.date >= u));
        let rows: Vec<TgStoredMessage> = page
            .iter()
            .filter(|m| since.is_none_or(|t| m.date >= t) && until.is_none_or(|t| m.date < t))
            .map(|m| stored_message(chat, m))
            .collect::<anyhow::Result<_>>()?;
        stored += rows.len();
        s.with_store(|st| Ok(st.tg_export_add_page(key, &rows)?))?;
        if reached_until || last <= after {
            break;
        }
        after = last;
    }
    Ok(stored)
}

fn stored_message(chat: &Chat, m: &TgMessage) -> anyhow::Result<TgStoredMessage> {
    Ok(TgStoredMessage {
        message_id: m.id,
        chat_title: chat.title.clone(),
        at: m.date,
        sender_id: m.from.as_ref().map(|u| u.id),
        sender_name: m.from.as_ref().map(TgUser::display_name),
        sender_username: m.from.as_ref().and_then(|u| u.username.clone()),
        text: m.text.clone(),
        reply_to: m.reply_to,
        media: m.media.as_ref().map(serde_json::to_string).transpose()?,
        media_path: None,
        media_note: None,
    })
}

fn media_of(m: &TgStoredMessage) -> Option<TgMedia> {
    m.media
        .as_deref()
        .and_then(|j| serde_json::from_str::<TgMedia>(j).ok())
}

/// A media file being downloaded: a temporary file next to its final path (owner-only), renamed
/// into place only once complete; dropped, it is removed.
struct TempSink {
    file: tempfile::NamedTempFile,
    written: u64,
}

impl MediaSink for TempSink {
    fn restart(&mut self) -> std::io::Result<()> {
        let f = self.file.as_file_mut();
        f.set_len(0)?;
        f.seek(SeekFrom::Start(0))?;
        self.written = 0;
        Ok(())
    }
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.as_file_mut().write_all(chunk)?;
        self.written += chunk.len() as u64;
        Ok(())
    }
}

/// Downloads the selected media of every stored message that has no local copy yet (so a rerun
/// picks up what an earlier run did not finish), each once, to its final name under `--out`.
#[allow(clippy::too_many_arguments)]
async fn download_media(
    s: &Session,
    key: TgExportKey<'_>,
    chat: &Chat,
    stored: &[TgStoredMessage],
    file: &str,
    format: ExportFormat,
    choice: &MediaChoice,
    tz: &TimeZone,
    summary: &mut ChatSummary,
) -> anyhow::Result<()> {
    let mut names = MediaNames::default();
    for m in stored {
        if let Some(p) = &m.media_path {
            names.reserve(p);
        }
    }
    for m in stored {
        let Some(media) = media_of(m) else { continue };
        if let Some(done) = &m.media_path {
            // Done by an earlier run: kept when it is still there, whole.
            if complete(&s.out.join(done), media.size) {
                summary.media_saved += 1;
                continue;
            }
        }
        if !choice.kinds.contains(&media.kind) {
            set_media(s, key, m.message_id, None, Some(NOTE_NOT_SELECTED))?;
            summary.media_skipped += 1;
            continue;
        }
        if let (Some(max), Some(size)) = (choice.max_size, media.size)
            && size > max
        {
            set_media(s, key, m.message_id, None, Some(NOTE_TOO_LARGE))?;
            summary.media_skipped += 1;
            continue;
        }
        let rel = match &m.media_path {
            Some(p) => p.clone(),
            None => names.assign(file, format, m, &media, tz),
        };
        let dest = s.out.join(&rel);
        if complete(&dest, media.size) {
            set_media(s, key, m.message_id, Some(&rel), None)?;
            summary.media_saved += 1;
            continue;
        }
        match fetch_file(s, chat.id, m.message_id, &dest, media.size).await {
            Ok(()) => {
                set_media(s, key, m.message_id, Some(&rel), None)?;
                summary.media_saved += 1;
            }
            Err(e) => {
                let why = format!("download failed: {e}");
                tracing::warn!(
                    chat = chat.id,
                    message = m.message_id,
                    "{}",
                    roster::text::terminal_safe(&why)
                );
                set_media(s, key, m.message_id, None, Some(&why))?;
                summary.media_failed += 1;
            }
        }
    }
    Ok(())
}

const NOTE_NOT_SELECTED: &str = "not downloaded (kind not in --media)";
const NOTE_TOO_LARGE: &str = "not downloaded (larger than --max-file-size)";

fn set_media(
    s: &Session,
    key: TgExportKey<'_>,
    message: i64,
    path: Option<&str>,
    note: Option<&str>,
) -> anyhow::Result<()> {
    s.with_store(|st| Ok(st.tg_export_set_media(key, message, path, note)?))
}

/// Whether `path` holds a whole download: the size Telegram gave (any non-empty file when it gave none).
fn complete(path: &Path, size: Option<u64>) -> bool {
    match (std::fs::metadata(path), size) {
        (Ok(meta), Some(size)) => meta.is_file() && meta.len() == size,
        (Ok(meta), None) => meta.is_file() && meta.len() > 0,
        _ => false,
    }
}

/// Downloads one message's media to `dest` through a temporary file, checking the size; a
/// download cut off midway is retried once, and never kept.
async fn fetch_file(
    s: &Session,
    chat: i64,
    message: i64,
    dest: &Path,
    size: Option<u64>,
) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut sink = TempSink {
            file: private_files::temp_for(dest)
                .with_context(|| format!("creating a temporary file for {}", dest.display()))?,
            written: 0,
        };
        let result = s.api.download_media(chat, message, &mut sink).await;
        let error = match result {
            Ok(_) if size.is_none_or(|n| n == sink.written) => {
                sink.file.as_file_mut().sync_all()?;
                sink.file
                    .persist(dest)
                    .map_err(|e| e.error)
                    .with_context(|| format!("saving {}", dest.display()))?;
                return Ok(());
            }
            Ok(_) => anyhow::anyhow!(
                "cut off: {} of {} bytes",
                sink.written,
                size.unwrap_or_default()
            ),
            // A connection cut midway is worth one more try; a refusal is not.
            Err(e @ TelegramError::Network(_)) => anyhow::Error::from(e),
            Err(e) => return Err(telegram_error(e)),
        };
        // `sink` is dropped here: the partial temporary file is removed.
        drop(sink);
        if attempt >= DOWNLOAD_ATTEMPTS {
            return Err(error);
        }
    }
}

/// Relative paths of the media files of one chat's export, unique ignoring case.
#[derive(Default)]
struct MediaNames {
    used: HashSet<String>,
}

impl MediaNames {
    fn reserve(&mut self, rel: &str) {
        self.used.insert(rel.to_lowercase());
    }

    /// The path for a message's media: `<stem>_media/<id>_<name>` for text and JSON; Telegram
    /// Desktop's folders and names for tdesktop (photos/photo_<id>@<date>.jpg, files/<name>...).
    fn assign(
        &mut self,
        file: &str,
        format: ExportFormat,
        m: &TgStoredMessage,
        media: &TgMedia,
        tz: &TimeZone,
    ) -> String {
        let ext = extension(media);
        let stamp =
            m.at.to_zoned(tz.clone())
                .strftime("%d-%m-%Y_%H-%M-%S")
                .to_string();
        let original = media.file_name.as_deref().and_then(sanitize_file_name);
        let id = m.message_id;
        let candidate = match format {
            ExportFormat::Text | ExportFormat::Json | ExportFormat::Html => {
                let dir = format!("{}_media", stem_of_file(file, format));
                let name = original
                    .clone()
                    .unwrap_or_else(|| format!("{}.{ext}", media.kind.as_str()));
                format!("{dir}/{id}_{name}")
            }
            ExportFormat::Tdesktop => {
                let (folder, generated) = match media.kind {
                    MediaKind::Photo => ("photos", format!("photo_{id}@{stamp}.{ext}")),
                    MediaKind::Voice => ("voice_messages", format!("audio_{id}@{stamp}.{ext}")),
                    MediaKind::VideoNote => {
                        ("round_video_messages", format!("file_{id}@{stamp}.{ext}"))
                    }
                    MediaKind::Sticker => ("stickers", format!("sticker_{id}@{stamp}.{ext}")),
                    MediaKind::Video | MediaKind::Animation => {
                        ("video_files", format!("video_{id}@{stamp}.{ext}"))
                    }
                    MediaKind::Document | MediaKind::Audio => {
                        ("files", format!("file_{id}@{stamp}.{ext}"))
                    }
                };
                let name = match media.kind {
                    MediaKind::Photo
                    | MediaKind::Voice
                    | MediaKind::VideoNote
                    | MediaKind::Sticker => generated,
                    _ => original.clone().unwrap_or(generated),
                };
                format!("{file}/{folder}/{name}")
            }
        };
        if self.used.insert(candidate.to_lowercase()) {
            return candidate;
        }
        // Taken (two files with the same name): " (<message id>)" before the extension keeps them apart.
        let (base, dot_ext) = match candidate.rfind('.') {
            Some(i) if i > candidate.rfind('/').unwrap_or(0) => candidate.split_at(i),
            _ => (candidate.as_str(), ""),
        };
        let mut n = 0;
        loop {
            let alt = if n == 0 {
                format!("{base} ({id}){dot_ext}")
            } else {
                format!("{base} ({id}_{n}){dot_ext}")
            };
            if self.used.insert(alt.to_lowercase()) {
                return alt;
            }
            n += 1;
        }
    }
}

/// A file extension for the media: the sender's, else from the MIME type, else by kind.
fn extension(media: &TgMedia) -> String {
    if let Some(ext) = media
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return ext.to_ascii_lowercase();
    }
    let by_mime = match media.mime_type.as_deref() {
        Some("image/jpeg") => Some("jpg"),
        Some("image/png") => Some("png"),
        Some("image/webp") => Some("webp"),
        Some("image/gif") => Some("gif"),
        Some("video/mp4") => Some("mp4"),
        Some("video/quicktime") => Some("mov"),
        Some("audio/ogg") => Some("ogg"),
        Some("audio/mpeg") => Some("mp3"),
        Some("audio/mp4") => Some("m4a"),
        Some("application/pdf") => Some("pdf"),
        Some("application/zip") => Some("zip"),
        Some("text/plain") => Some("txt"),
        _ => None,
    };
    by_mime
        .unwrap_or(match media.kind {
            MediaKind::Photo => "jpg",
            MediaKind::Voice => "ogg",
            MediaKind::Video | MediaKind::VideoNote | MediaKind::Animation => "mp4",
            MediaKind::Sticker => "webp",
            MediaKind::Audio => "mp3",
            MediaKind::Document => "bin",
        })
        .to_owned()
}

/// The stem a stored file name was made from (`X.txt` -> `X`; tdesktop folders are the stem).
fn stem_of_file(file: &str, format: ExportFormat) -> &str {
    match format {
        ExportFormat::Text => file.strip_suffix(".txt").unwrap_or(file),
        ExportFormat::Json => file.strip_suffix(".json").unwrap_or(file),
        ExportFormat::Tdesktop => file,
        ExportFormat::Html => file.strip_suffix(HTML_SUFFIX).unwrap_or(file),
    }
}

/// [`stem_of_file`] for a stored file and format name.
fn stored_stem<'a>(file: &'a str, format: &str) -> &'a str {
    match format {
        "text" => stem_of_file(file, ExportFormat::Text),
        "json" => stem_of_file(file, ExportFormat::Json),
        "html" => stem_of_file(file, ExportFormat::Html),
        _ => stem_of_file(file, ExportFormat::Tdesktop),
    }
}

/// Writes the chat's export file whole from the stored messages; returns its path.
fn write_export(
    out: &Path,
    chat: &Chat,
    stored: &[TgStoredMessage],
    file: &str,
    format: ExportFormat,
    tz: &TimeZone,
) -> anyhow::Result<PathBuf> {
    let (path, body) = match format {
        ExportFormat::Text => {
            let messages: Vec<TgMessage> = stored.iter().map(text_message).collect();
            (out.join(file), render_text(chat, &messages, tz))
        }
        ExportFormat::Json => (out.join(file), render_json(chat, stored)?),
        ExportFormat::Tdesktop => {
            let dir = out.join(file);
            private_files::create_dir_all(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            (
                dir.join("result.json"),
                render_tdesktop(chat, stored, file, tz)?,
            )
        }
        ExportFormat::Html => {
            let root = out.join(file);
            write_html(&root, chat, stored, tz)
                .with_context(|| format!("writing {}", root.display()))?;
            return Ok(root.join("index.html"));
        }
    };
    private_files::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A stored message as the store's full-text index takes it.
fn search_doc(chat: &Chat, m: &TgStoredMessage) -> SearchDoc {
    let mut text = m.text.clone();
    if let Some(media) = media_of(m) {
        // A file's name is worth finding too ("the contract pdf").
        if let Some(name) = &media.file_name {
            text.push_str(if text.is_empty() { "" } else { " " });
            text.push_str(name);
        }
    }
    SearchDoc {
        source: "telegram".to_owned(),
        conversation_id: chat.id.to_string(),
        conversation_name: chat.title.clone(),
        msg_id: m.message_id.to_string(),
        time_us: m.at.as_microsecond(),
        sender_id: m.sender_id.map(|id| id.to_string()),
        sender_name: m.sender_name.clone().unwrap_or_else(|| chat.title.clone()),
        text,
        mentions: Vec::new(),
    }
}

/// `--format html`: the chat's folder is `<stem>_html` (its media in `<stem>_media`, as text and
/// JSON keep them).
const HTML_SUFFIX: &str = "_html";

/// The chat as an offline HTML archive in `root`, through slack-export's renderer: each thread
/// (a message and every reply chained to it) under its first message, oldest first.
fn write_html(
    root: &Path,
    chat: &Chat,
    stored: &[TgStoredMessage],
    tz: &TimeZone,
) -> Result<(), archive_html::ArchiveError> {
    let conv = crate::archive::conversation(chat, stored);
    let mut archive = archive_html::ArchiveWriter::create(root, &chat.title, tz.clone())?;
    let info = archive_html::ConversationInfo {
        id: conv.id.clone(),
        name: conv.name.clone(),
        topic: None,
    };
    let mut replies: HashMap<&str, Vec<&crate::archive::ArchivedMessage>> = HashMap::new();
    for m in &conv.messages {
        if m.thread_root != m.id {
            replies.entry(m.thread_root.as_str()).or_default().push(m);
        }
    }
    let mut w = archive.begin_conversation(&info, conv.messages.len() as u64)?;
    for m in conv.messages.iter().filter(|m| m.thread_root == m.id) {
        w.message(&html_message(m, &conv.name), false)?;
        for r in replies.get(m.id.as_str()).into_iter().flatten() {
            w.message(&html_message(r, &conv.name), true)?;
        }
    }
    archive.end_conversation(w)?;
    archive.finish()
}

fn html_message(m: &crate::archive::ArchivedMessage, chat: &str) -> archive_html::Message {
    let mut notes = Vec::new();
    let attachments = m
        .attachments
        .iter()
        .map(|a| {
            let name = a.name.clone().unwrap_or_else(|| a.kind.clone());
            if let Some(note) = &a.note {
                notes.push(format!("{name}: {note}"));
            }
            archive_html::Attachment {
                // Media paths are relative to --out; the archive root is one folder below it.
                local_path: a.local_path.as_ref().map(|p| format!("../{p}")),
                is_image: a.kind == "photo"
                    || a.mime_type
                        .as_deref()
                        .is_some_and(|t| t.starts_with("image/")),
                name,
            }
        })
        .collect();
    archive_html::Message {
        id: m.id.clone(),
        time: m.time,
        // Anonymous admins and channel posts speak as the chat, as Telegram shows them.
        sender: m.sender_name.clone().unwrap_or_else(|| chat.to_string()),
        text: vec![archive_html::Inline::Text(m.text.clone())],
        edited: false,
        notes,
        reactions: Vec::new(),
        attachments,
    }
}

/// A stored message as the text renderer takes it, its media named at the end of the text.
fn text_message(m: &TgStoredMessage) -> TgMessage {
    let mut text = m.text.clone();
    if let Some(media) = media_of(m) {
        let what = match &media.file_name {
            Some(name) => format!("{} {name}", media.kind.as_str()),
            None => media.kind.as_str().to_owned(),
        };
        let where_ = match (&m.media_path, &m.media_note) {
            (Some(p), _) => p.clone(),
            (None, Some(note)) => note.clone(),
            (None, None) => "not downloaded".to_owned(),
        };
        if !text.is_empty() {
            text.push(' ');
        }
        let _ = write!(text, "[{what}: {where_}]");
    }
    TgMessage {
        id: m.message_id,
        from: sender(m),
        date: m.at,
        text,
        reply_to: m.reply_to,
        media: None,
    }
}

fn sender(m: &TgStoredMessage) -> Option<TgUser> {
    m.sender_id.map(|id| TgUser {
        id,
        username: m.sender_username.clone(),
        first_name: m.sender_name.clone(),
        last_name: None,
    })
}

/// The JSON format: the chat and its messages, each with its sender, reply and media (with the
/// local copy's path relative to the JSON file, or why there is none).
fn render_json(chat: &Chat, stored: &[TgStoredMessage]) -> anyhow::Result<String> {
    let messages: Vec<serde_json::Value> = stored
        .iter()
        .map(|m| {
            let from = m.sender_id.map(|id| {
                serde_json::json!({"id": id, "username": m.sender_username, "name": m.sender_name})
            });
            let mut v = serde_json::json!({
                "id": m.message_id,
                "from": from,
                "date": m.at.to_string(),
                "text": m.text,
                "reply_to": m.reply_to,
            });
            if let (Some(media), Some(obj)) = (media_of(m), v.as_object_mut()) {
                let mut mv = serde_json::to_value(&media).unwrap_or_default();
                if let Some(mo) = mv.as_object_mut() {
                    mo.insert("path".into(), serde_json::json!(m.media_path));
                    if m.media_path.is_none() {
                        mo.insert("note".into(), serde_json::json!(m.media_note));
                    }
                }
                obj.insert("media".into(), mv);
            }
            v
        })
        .collect();
    Ok(
        serde_json::to_string_pretty(&serde_json::json!({"chat": chat, "messages": messages}))?
            + "\n",
    )
}

/// One chat of Telegram Desktop's machine-readable export (`result.json` of a single-chat export,
/// export_output_json.cpp): fields in its order, absent ones left out as it does.
#[derive(Serialize)]
struct TdChat<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    messages: Vec<TdMessage>,
}

#[derive(Serialize)]
struct TdMessage {
    id: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    date: String,
    date_unixtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to_message_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    photo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    text: String,
    text_entities: Vec<TdTextPart>,
}

#[derive(Serialize)]
struct TdTextPart {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

/// Telegram's bare peer id, as tdesktop writes `id`: -100<n> (supergroups, channels) and -<n>
/// (basic groups) become <n>.
fn bare_id(id: i64) -> i64 {
    const CHANNEL_PREFIX: i64 = 1_000_000_000_000;
    if id <= -CHANNEL_PREFIX {
        -id - CHANNEL_PREFIX
    } else {
        id.abs()
    }
}

fn render_tdesktop(
    chat: &Chat,
    stored: &[TgStoredMessage],
    folder: &str,
    tz: &TimeZone,
) -> anyhow::Result<String> {
    let kind = match chat.kind {
        // Our listing has no public @username for groups, so every chat is written as private.
        ChatKind::Group => "private_group",
        ChatKind::Supergroup => "private_supergroup",
        ChatKind::Channel => "private_channel",
    };
    let prefix = format!("{folder}/");
    let messages = stored
        .iter()
        .map(|m| {
            let (from, from_id) = match m.sender_id {
                Some(id) => (
                    Some(m.sender_name.clone().filter(|n| !n.is_empty())),
                    Some(format!("user{id}")),
                ),
                // Anonymous admins and channel posts are sent as the chat itself.
                None => (
                    Some(Some(chat.title.clone())),
                    Some(format!("channel{}", bare_id(chat.id))),
                ),
            };
            let mut td = TdMessage {
                id: m.message_id,
                kind: "message",
                date: m
                    .at
                    .to_zoned(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
                date_unixtime: m.at.as_second().to_string(),
                from,
                from_id,
                reply_to_message_id: m.reply_to,
                photo: None,
                file: None,
                media_type: None,
                mime_type: None,
                duration_seconds: None,
                width: None,
                height: None,
                text: m.text.clone(),
                text_entities: if m.text.is_empty() {
                    Vec::new()
                } else {
                    vec![TdTextPart {
                        kind: "plain",
                        text: m.text.clone(),
                    }]
                },
            };
            if let Some(media) = media_of(m) {
                let path = match (&m.media_path, &m.media_note) {
                    (Some(p), _) => p.strip_prefix(&prefix).unwrap_or(p).to_owned(),
                    (None, Some(n)) if n == NOTE_TOO_LARGE => {
                        "(File exceeds maximum size. Change data exporting settings to download.)"
                            .to_owned()
                    }
                    (None, Some(n)) if n.starts_with("download failed") => {
                        "(File unavailable, please try again later)".to_owned()
                    }
                    _ => "(File not included. Change data exporting settings to download.)"
                        .to_owned(),
                };
                td.width = media.width;
                td.height = media.height;
                if media.kind == MediaKind::Photo {
                    td.photo = Some(path);
                } else {
                    td.file = Some(path);
                    td.media_type = match media.kind {
                        MediaKind::Sticker => Some("sticker"),
                        MediaKind::VideoNote => Some("video_message"),
                        MediaKind::Voice => Some("voice_message"),
                        MediaKind::Animation => Some("animation"),
                        MediaKind::Video => Some("video_file"),
                        MediaKind::Audio => Some("audio_file"),
                        MediaKind::Document | MediaKind::Photo => None,
                    };
                    if media.kind != MediaKind::Sticker {
                        td.mime_type = media.mime_type.clone();
                    }
                    td.duration_seconds = media.duration_seconds.filter(|d| *d > 0);
                }
            }
            td
        })
        .collect();
    let doc = TdChat {
        name: &chat.title,
        kind,
        id: bare_id(chat.id),
        messages,
    };
    // tdesktop indents by one space.
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b" "),
    );
    doc.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)? + "\n")
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
    /// Marks a stem an earlier export of this output already uses.
    fn reserve(&mut self, stem: &str) {
        self.used.insert(stem.to_lowercase());
    }

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
    if capped.is_empty() {
        return None;
    }
    // Windows reserves these device names, with any extension ("NUL.txt" too).
    let base = capped
        .split('.')
        .next()
        .unwrap_or(capped)
        .trim()
        .to_ascii_uppercase();
    let reserved = matches!(base.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((base.starts_with("COM") || base.starts_with("LPT"))
            && base.len() == 4
            && base.as_bytes()[3].is_ascii_digit());
    Some(if reserved {
        format!("_{capped}")
    } else {
        capped.to_owned()
    })
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
