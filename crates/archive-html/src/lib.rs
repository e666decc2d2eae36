//! A static, self-contained HTML archive of conversations: `index.html` listing them, one page per
//! conversation (or one per month for long ones), threads under their parents, reactions, edits,
//! attached files linked and images shown inline. No script, no network: it opens from `file://`.
//!
//! The model ([`Message`], [`Inline`], [`Attachment`]) knows no platform: slack-export and
//! tg-admin convert their messages into it. Every string from a platform is HTML-escaped; links
//! are only `http(s)` or relative paths; every file goes through `private-files`.
//!
//! Layout under the archive root:
//! - `index.html`, `style.css`
//! - `c/<name>.html`: a conversation on one page, or
//! - `c/<name>/index.html` and `c/<name>/<YYYY-MM>.html`: a long conversation by month.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use private_files::AtomicFile;
use report::html_escape;

/// Conversations with more messages than this get one page per month by default.
pub const DEFAULT_MONTH_SPLIT: u64 = 5000;

/// The stylesheet every page links (`style.css` at the archive root).
const STYLE: &str = include_str!("style.css");

/// What a path segment keeps unescaped in `href`/`src`: letters, digits and `-._~`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Writing the archive failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A conversation as the archive names it.
#[derive(Debug, Clone, Default)]
pub struct ConversationInfo {
    /// Platform ID (shown, and the file name when the name gives none).
    pub id: String,
    /// Display name, e.g. `#acme` or `DM with Ann`.
    pub name: String,
    pub topic: Option<String>,
}

/// A piece of message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    /// A person or channel named in the text (`@Ann`, `#ops`), already resolved.
    Mention(String),
    /// A link: shown as a link only for `http(s)` URLs, as text otherwise.
    Link {
        url: String,
        label: Option<String>,
    },
}

/// A reaction and who gave it.
#[derive(Debug, Clone, Default)]
pub struct Reaction {
    pub name: String,
    pub count: u64,
    pub users: Vec<String>,
}

/// A file attached to a message.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    pub name: String,
    /// The local copy, relative to the archive root with `/` separators (e.g.
    /// `../files/F1/plan.pdf`); `None` when it was not downloaded.
    pub local_path: Option<String>,
    pub is_image: bool,
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Unique in its conversation (the page anchor is made from it).
    pub id: String,
    pub time: Timestamp,
    pub sender: String,
    pub text: Vec<Inline>,
    pub edited: bool,
    /// Short remarks shown after the text, e.g. "joined", "also sent to the channel".
    pub notes: Vec<String>,
    pub reactions: Vec<Reaction>,
    pub attachments: Vec<Attachment>,
}

/// A row of `index.html`.
#[derive(Debug, Clone)]
struct IndexEntry {
    name: String,
    id: String,
    href: String,
    /// The conversation's page name, kept when it is exported again into the same archive.
    stem: String,
    messages: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

/// What `index.html` lists, kept beside it so an export into an archive that already holds
/// conversations from earlier runs lists those too (their pages are still there).
const MANIFEST: &str = "archive.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct ManifestEntry {
    id: String,
    name: String,
    href: String,
    stem: String,
    messages: u64,
    first_us: Option<i64>,
    last_us: Option<i64>,
}

impl From<&IndexEntry> for ManifestEntry {
    fn from(e: &IndexEntry) -> Self {
        ManifestEntry {
            id: e.id.clone(),
            name: e.name.clone(),
            href: e.href.clone(),
            stem: e.stem.clone(),
            messages: e.messages,
            first_us: e.first.map(|t| t.as_microsecond()),
            last_us: e.last.map(|t| t.as_microsecond()),
        }
    }
}

impl ManifestEntry {
    fn into_entry(self) -> IndexEntry {
        let at = |us: Option<i64>| us.and_then(|us| Timestamp::from_microsecond(us).ok());
        IndexEntry {
            first: at(self.first_us),
            last: at(self.last_us),
            name: self.name,
            id: self.id,
            href: self.href,
            stem: self.stem,
            messages: self.messages,
        }
    }
}

/// The entries an earlier run listed whose pages are still there (an unreadable manifest, as
/// from an older build, is no entries: the index then lists this run's conversations only).
fn earlier_entries(root: &Path) -> Vec<IndexEntry> {
    let Ok(text) = std::fs::read_to_string(root.join(MANIFEST)) else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<ManifestEntry>>(&text)
        .unwrap_or_default()
        .into_iter()
        .map(ManifestEntry::into_entry)
        .filter(|e| root.join(&e.href).is_file())
        .collect()
}

/// Writes an archive: [`ArchiveWriter::begin_conversation`], messages, [`ArchiveWriter::end_conversation`]
/// per conversation, then [`ArchiveWriter::finish`].
pub struct ArchiveWriter {
    root: PathBuf,
    title: String,
    tz: TimeZone,
    month_split: u64,
    stems: HashSet<String>,
    /// Listed by earlier runs and not exported again in this one.
    earlier: Vec<IndexEntry>,
    entries: Vec<IndexEntry>,
    files: u64,
}

impl ArchiveWriter {
    /// Starts an archive in `root` (created owner-only) with its stylesheet.
    pub fn create(root: &Path, title: &str, tz: TimeZone) -> Result<Self, ArchiveError> {
        private_files::create_dir_all(root).map_err(io(root))?;
        let css = root.join("style.css");
        write_file(&css, STYLE)?;
        let earlier = earlier_entries(root);
        Ok(ArchiveWriter {
            root: root.to_path_buf(),
            title: title.to_string(),
            tz,
            month_split: DEFAULT_MONTH_SPLIT,
            stems: earlier
                .iter()
                .map(|e| e.stem.to_ascii_lowercase())
                .collect(),
            earlier,
            entries: Vec::new(),
            files: 1,
        })
    }

    /// Conversations with more than `messages` messages get one page per month.
    pub fn month_split(mut self, messages: u64) -> Self {
        self.month_split = messages;
        self
    }

    /// Where the archive is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Files written so far.
    pub fn files_written(&self) -> u64 {
        self.files
    }

    /// Starts a conversation of `total` messages (replies included; decides one page or months).
    /// Messages then go to [`ConversationWriter::message`]: top-level ones by time, each followed
    /// by its replies.
    pub fn begin_conversation(
        &mut self,
        info: &ConversationInfo,
        total: u64,
    ) -> Result<ConversationWriter, ArchiveError> {
        // A conversation exported here before keeps its page name (the new pages replace its
        // old ones) and its row.
        let stem = match self.earlier.iter().position(|e| e.id == info.id) {
            Some(i) => self.earlier.remove(i).stem,
            None => unique_stem(&mut self.stems, &info.name, &info.id),
        };
        let monthly = total > self.month_split;
        let href = if monthly {
            format!("c/{}/index.html", encode_segment(&stem))
        } else {
            format!("c/{}.html", encode_segment(&stem))
        };
        let mut w = ConversationWriter {
            dir: self.root.join("c"),
            stem,
            monthly,
            info: info.clone(),
            title: self.title.clone(),
            tz: self.tz.clone(),
            page: None,
            months: Vec::new(),
            replies_open: false,
            parent_open: false,
            entry: IndexEntry {
                name: info.name.clone(),
                id: info.id.clone(),
                href,
                stem: String::new(),
                messages: 0,
                first: None,
                last: None,
            },
            files: 0,
        };
        if !monthly {
            let path = w.dir.join(format!("{}.html", w.stem));
            w.open_page(path, 1, None)?;
        }
        Ok(w)
    }

    /// Closes a conversation's pages and lists it in the index.
    pub fn end_conversation(&mut self, mut w: ConversationWriter) -> Result<(), ArchiveError> {
        w.close_page(None)?;
        w.entry.stem = w.stem.clone();
        if w.monthly {
            w.write_month_index()?;
        }
        self.files += w.files;
        self.entries.push(w.entry);
        Ok(())
    }

    /// Writes `index.html`.
    pub fn finish(mut self) -> Result<(), ArchiveError> {
        let mut html = String::new();
        head(&mut html, &self.title, "style.css");
        let _ = write!(
            html,
            "<main><h1>{}</h1>\n<table class=\"index\"><thead><tr><th scope=\"col\">Conversation</th>\
             <th scope=\"col\">Messages</th><th scope=\"col\">From</th><th scope=\"col\">To</th></tr></thead>\n<tbody>\n",
            html_escape(&self.title)
        );
        let mut all = std::mem::take(&mut self.earlier);
        all.append(&mut self.entries);
        for e in &all {
            let day = |t: Option<Timestamp>| {
                t.map(|t| t.to_zoned(self.tz.clone()).strftime("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            };
            let _ = writeln!(
                html,
                "<tr><td><a href=\"{}\">{}</a> <span class=\"id\">{}</span></td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(&e.href),
                html_escape(&e.name),
                html_escape(&e.id),
                e.messages,
                day(e.first),
                day(e.last)
            );
        }
        html.push_str("</tbody></table></main>\n</body>\n</html>\n");
        let path = self.root.join("index.html");
        write_file(&path, &html)?;
        let manifest: Vec<ManifestEntry> = all.iter().map(ManifestEntry::from).collect();
        let json = serde_json::to_string_pretty(&manifest).map_err(|e| ArchiveError::Io {
            path: self.root.join(MANIFEST),
            source: std::io::Error::other(e),
        })?;
        // The manifest is bookkeeping, not a page: not counted in the files written.
        write_file(&self.root.join(MANIFEST), &json)?;
        self.files += 1;
        Ok(())
    }
}

/// An open page being streamed.
struct Page {
    path: PathBuf,
    file: AtomicFile,
    /// Directory levels below the archive root (for `../` in links).
    depth: usize,
}

/// One conversation's pages, written as messages arrive.
pub struct ConversationWriter {
    dir: PathBuf,
    stem: String,
    monthly: bool,
    info: ConversationInfo,
    title: String,
    tz: TimeZone,
    page: Option<Page>,
    /// Monthly mode: `(YYYY-MM, top-level messages + replies)` per page written or open.
    months: Vec<(String, u64)>,
    replies_open: bool,
    parent_open: bool,
    entry: IndexEntry,
    files: u64,
}

impl ConversationWriter {
    /// Adds a message: a top-level one (`is_reply == false`) or a reply to the last top-level one.
    pub fn message(&mut self, m: &Message, is_reply: bool) -> Result<(), ArchiveError> {
        self.entry.messages += 1;
        self.entry.first = Some(self.entry.first.map_or(m.time, |f| f.min(m.time)));
        self.entry.last = Some(self.entry.last.map_or(m.time, |l| l.max(m.time)));
        if self.monthly && (!is_reply || self.page.is_none()) {
            let month = m
                .time
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m")
                .to_string();
            if self.months.last().map(|(mo, _)| mo) != Some(&month) {
                self.close_page(Some(&month))?;
                let previous = self.months.last().map(|(mo, _)| mo.clone());
                self.months.push((month.clone(), 0));
                let path = self.dir.join(&self.stem).join(format!("{month}.html"));
                self.open_page(path, 2, previous.as_deref())?;
            }
        }
        if let Some((_, n)) = self.months.last_mut() {
            *n += 1;
        }
        let mut html = String::new();
        if is_reply && self.parent_open {
            if !self.replies_open {
                html.push_str("<div class=\"replies\">\n");
                self.replies_open = true;
            }
        } else {
            self.close_thread(&mut html);
        }
        let depth = self.page.as_ref().map_or(1, |p| p.depth);
        render_message(&mut html, m, &self.tz, depth);
        if is_reply && self.parent_open {
            html.push_str("</article>\n");
        } else {
            // Stays open for its replies.
            self.parent_open = true;
        }
        self.write(&html)
    }

    fn close_thread(&mut self, html: &mut String) {
        if self.replies_open {
            html.push_str("</div>\n");
            self.replies_open = false;
        }
        if self.parent_open {
            html.push_str("</article>\n");
            self.parent_open = false;
        }
    }

    fn write(&mut self, html: &str) -> Result<(), ArchiveError> {
        if let Some(page) = &mut self.page {
            page.file
                .write_all(html.as_bytes())
                .map_err(io(&page.path))?;
        }
        Ok(())
    }

    fn open_page(
        &mut self,
        path: PathBuf,
        depth: usize,
        previous_month: Option<&str>,
    ) -> Result<(), ArchiveError> {
        let up = "../".repeat(depth);
        let mut html = String::new();
        head(
            &mut html,
            &format!("{} · {}", self.info.name, self.title),
            &format!("{up}style.css"),
        );
        let _ = write!(
            html,
            "<nav><a href=\"{up}index.html\">All conversations</a>"
        );
        if self.monthly {
            let _ = write!(html, " · <a href=\"index.html\">All months</a>");
            if let Some(prev) = previous_month {
                let _ = write!(
                    html,
                    " · <a rel=\"prev\" href=\"{0}.html\">← {0}</a>",
                    html_escape(prev)
                );
            }
        }
        html.push_str("</nav>\n<main>\n");
        let _ = writeln!(
            html,
            "<h1>{} <span class=\"id\">{}</span></h1>",
            html_escape(&self.info.name),
            html_escape(&self.info.id)
        );
        if let Some(topic) = self.info.topic.as_deref().filter(|t| !t.is_empty()) {
            let _ = writeln!(html, "<p class=\"topic\">{}</p>", html_escape(topic));
        }
        if let Some((month, _)) = self.months.last() {
            let _ = writeln!(html, "<h2>{}</h2>", html_escape(month));
        }
        let mut file = AtomicFile::create(&path).map_err(io(&path))?;
        file.write_all(html.as_bytes()).map_err(io(&path))?;
        self.page = Some(Page { path, file, depth });
        Ok(())
    }

    /// Ends the open page (if any); `next_month` is linked at its foot.
    fn close_page(&mut self, next_month: Option<&str>) -> Result<(), ArchiveError> {
        let mut html = String::new();
        self.close_thread(&mut html);
        html.push_str("</main>\n");
        if let Some(next) = next_month.filter(|_| self.monthly) {
            let _ = writeln!(
                html,
                "<nav class=\"foot\"><a rel=\"next\" href=\"{0}.html\">{0} →</a></nav>",
                html_escape(next)
            );
        }
        html.push_str("</body>\n</html>\n");
        self.write(&html)?;
        if let Some(mut page) = self.page.take() {
            page.file.flush().map_err(io(&page.path))?;
            page.file.commit().map_err(io(&page.path))?;
            self.files += 1;
        }
        Ok(())
    }

    fn write_month_index(&mut self) -> Result<(), ArchiveError> {
        let mut html = String::new();
        head(
            &mut html,
            &format!("{} · {}", self.info.name, self.title),
            "../../style.css",
        );
        let _ = write!(
            html,
            "<nav><a href=\"../../index.html\">All conversations</a></nav>\n<main>\n<h1>{} <span class=\"id\">{}</span></h1>\n<ul class=\"months\">\n",
            html_escape(&self.info.name),
            html_escape(&self.info.id)
        );
        for (month, n) in &self.months {
            let _ = writeln!(
                html,
                "<li><a href=\"{0}.html\">{0}</a> <span class=\"count\">{1} messages</span></li>",
                html_escape(month),
                n
            );
        }
        html.push_str("</ul>\n</main>\n</body>\n</html>\n");
        let path = self.dir.join(&self.stem).join("index.html");
        write_file(&path, &html)?;
        self.files += 1;
        Ok(())
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), ArchiveError> {
    let mut file = AtomicFile::create(path).map_err(io(path))?;
    file.write_all(contents.as_bytes()).map_err(io(path))?;
    file.commit().map_err(io(path))
}

fn head(html: &mut String, title: &str, css: &str) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'self' file:; img-src 'self' file:\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"{}\">\n</head>\n<body>\n",
        html_escape(title),
        html_escape(css)
    );
}

fn render_message(html: &mut String, m: &Message, tz: &TimeZone, depth: usize) {
    let anchor = anchor(&m.id);
    let zoned = m.time.to_zoned(tz.clone());
    let _ = write!(
        html,
        "<article class=\"msg\" id=\"{anchor}\">\n<header><span class=\"sender\">{}</span> \
         <a class=\"time\" href=\"#{anchor}\"><time datetime=\"{}\">{}</time></a>",
        html_escape(&m.sender),
        m.time,
        zoned.strftime("%Y-%m-%d %H:%M")
    );
    if m.edited {
        html.push_str(" <span class=\"edited\">(edited)</span>");
    }
    for note in &m.notes {
        let _ = write!(html, " <span class=\"note\">{}</span>", html_escape(note));
    }
    html.push_str("</header>\n");
    if !m.text.is_empty() {
        html.push_str("<div class=\"text\">");
        for piece in &m.text {
            render_inline(html, piece);
        }
        html.push_str("</div>\n");
    }
    if !m.attachments.is_empty() {
        html.push_str("<div class=\"files\">\n");
        let up = "../".repeat(depth);
        for a in &m.attachments {
            let href = a
                .local_path
                .as_deref()
                .and_then(local_href)
                .map(|p| format!("{up}{p}"));
            let name = html_escape(&a.name);
            match href {
                Some(href) if a.is_image => {
                    let href = html_escape(&href);
                    let _ = writeln!(
                        html,
                        "<figure><a href=\"{href}\"><img src=\"{href}\" alt=\"{name}\" loading=\"lazy\"></a><figcaption>{name}</figcaption></figure>"
                    );
                }
                Some(href) => {
                    let _ = writeln!(
                        html,
                        "<a class=\"file\" href=\"{}\">{name}</a>",
                        html_escape(&href)
                    );
                }
                None => {
                    let _ = writeln!(
                        html,
                        "<span class=\"file missing\" title=\"not downloaded\">{name}</span>"
                    );
                }
            }
        }
        html.push_str("</div>\n");
    }
    if !m.reactions.is_empty() {
        html.push_str("<ul class=\"reactions\">");
        for r in &m.reactions {
            let count = r.count.max(r.users.len() as u64);
            let _ = write!(
                html,
                "<li title=\"{}\">:{}: {count}</li>",
                html_escape(&r.users.join(", ")),
                html_escape(&r.name)
            );
        }
        html.push_str("</ul>\n");
    }
}

fn render_inline(html: &mut String, piece: &Inline) {
    match piece {
        Inline::Text(t) => push_text(html, t),
        Inline::Mention(name) => {
            let _ = write!(html, "<span class=\"mention\">{}</span>", html_escape(name));
        }
        Inline::Link { url, label } => {
            let shown = label.as_deref().unwrap_or(url);
            if is_web_url(url) {
                let _ = write!(
                    html,
                    "<a href=\"{}\" rel=\"noopener noreferrer\">",
                    html_escape(url)
                );
                push_text(html, shown);
                html.push_str("</a>");
            } else {
                push_text(html, shown);
                if label.is_some() && shown != url {
                    html.push_str(" (");
                    push_text(html, url);
                    html.push(')');
                }
            }
        }
    }
}

/// Escaped text with line breaks kept.
fn push_text(html: &mut String, text: &str) {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        html.push_str(&html_escape(first));
    }
    for line in lines {
        html.push_str("<br>\n");
        html.push_str(&html_escape(line));
    }
}

/// Only `http://` and `https://` URLs become links (no `javascript:`, `data:`, `file:`).
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// A local path as a relative URL, each segment percent-encoded; `None` for anything that is not
/// a plain relative path (absolute, a scheme, backslashes, empty segments).
fn local_href(path: &str) -> Option<String> {
    if path.is_empty() || path.starts_with('/') || path.contains(['\\', ':']) {
        return None;
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == ".") {
        return None;
    }
    Some(
        segments
            .iter()
            .map(|s| encode_segment(s))
            .collect::<Vec<_>>()
            .join("/"),
    )
}

fn encode_segment(s: &str) -> String {
    if s == ".." {
        return s.to_string();
    }
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// An element id from a message id: letters and digits kept, anything else `-`.
fn anchor(id: &str) -> String {
    let mut out = String::from("m-");
    out.extend(
        id.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }),
    );
    out
}

/// A page file name from a conversation name: ASCII letters, digits, `-` and `_` (others `_`), at
/// most 80 bytes, never hidden or empty (then the ID), unique ignoring case (`-2`, `-3`, ...).
fn unique_stem(used: &mut HashSet<String>, name: &str, id: &str) -> String {
    let clean = |s: &str| -> String {
        let mapped: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        mapped.trim_matches('_').to_string()
    };
    let mut base = clean(name.trim_start_matches(['#', '@']));
    if base.is_empty() {
        base = clean(id);
    }
    if base.is_empty() {
        base = "conversation".into();
    }
    let mut stem = base.clone();
    let mut n = 2;
    while !used.insert(stem.to_ascii_lowercase()) {
        stem = format!("{base}-{n}");
        n += 1;
    }
    stem
}

#[cfg(test)]
mod tests;
