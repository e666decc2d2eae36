//! The full-text index of exported messages (`search_messages` + the FTS5 table `search_fts`):
//! one table for every platform, filled by the exporters ([`Store::search_index_messages`]) and
//! read newest first by `slack-export search` ([`Store::search`]).
//!
//! A row's id is its time (`time_us * 1024 + n`), so FTS5's row id order is time order: the newest
//! N matches of a common word are read without sorting every match.

use std::ops::Range;

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params_from_iter};

use crate::db::{self, Db, ToParam, params};
use crate::{Store, StoreError};

/// Rows per time key: messages in the same microsecond get consecutive ids.
const SLOTS: i64 = 1024;

/// Page cache for a search (64 MiB): a common word's matches are read from all over the table.
const SEARCH_CACHE_KIB: i64 = 65_536;
/// Bytes of the file a search maps into memory (at most; SQLite's own cap applies).
const SEARCH_MMAP_BYTES: i64 = 1 << 32;

/// One message to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDoc {
    /// `slack` or `telegram`.
    pub source: String,
    pub conversation_id: String,
    pub conversation_name: String,
    /// The message's own id in its conversation (Slack `ts`, Telegram message id).
    pub msg_id: String,
    /// When it was posted, in microseconds since the epoch.
    pub time_us: i64,
    pub sender_id: Option<String>,
    pub sender_name: String,
    /// Plain text as a reader sees it (mentions by name).
    pub text: String,
    /// People the text names, `(id, name as written in text)`: so purging a person can rewrite
    /// the messages that mention them.
    pub mentions: Vec<(String, String)>,
}

/// What [`Store::search_index_messages`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// A search: an FTS5 query and filters.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// FTS5 query syntax: words (all must match), `"a phrase"`, `OR`, `NOT`, `prefix*`.
    pub query: String,
    /// Conversations to search, by ID or name (without `#`, any case); empty: all.
    pub conversations: Vec<String>,
    /// Sender by ID or name (any case).
    pub sender: Option<String>,
    /// Oldest time included, microseconds.
    pub since_us: Option<i64>,
    /// Newest time excluded, microseconds.
    pub until_us: Option<i64>,
    pub limit: usize,
}

/// A matching message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    pub source: String,
    pub conversation_id: String,
    pub conversation_name: String,
    pub msg_id: String,
    pub time_us: i64,
    pub sender_id: Option<String>,
    pub sender_name: String,
    pub text: String,
    /// Byte ranges of `text` that matched the query.
    pub matches: Vec<Range<usize>>,
}

impl Store {
    /// Adds or updates `docs` (keyed by source, conversation and message id) in one transaction.
    /// A message stored with the same text, names and mentions is left alone.
    pub fn search_index_messages(&self, docs: &[SearchDoc]) -> Result<IndexStats, StoreError> {
        self.conn.transaction(|tx| index_messages(tx, docs))
    }

    /// Removes a conversation from the index (before re-indexing it whole, or when it is deleted).
    pub fn search_delete_conversation(
        &self,
        source: &str,
        conversation_id: &str,
    ) -> Result<usize, StoreError> {
        self.conn.transaction(|tx| {
            delete_where(
                tx,
                "source = ?1 AND conversation_id = ?2",
                params![source, conversation_id],
            )
        })
    }

    /// Messages indexed, all sources.
    pub fn search_message_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM search_messages", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The newest `query.limit` messages that match, newest first. A query FTS5 cannot parse is
    /// [`StoreError::SearchQuery`].
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let mut hits = Vec::new();
        self.search_for_each::<StoreError>(query, |hit| {
            hits.push(hit);
            Ok(())
        })?;
        Ok(hits)
    }

    /// [`Store::search`] streamed: each match goes to `f` as it is read (memory stays flat for
    /// a word in a million messages); stops at `f`'s first error.
    pub fn search_for_each<E: From<StoreError>>(
        &self,
        query: &SearchQuery,
        mut f: impl FnMut(SearchHit) -> Result<(), E>,
    ) -> Result<(), E> {
        let low = query.since_us.map_or(i64::MIN, time_key);
        let high = query
            .until_us
            .map_or(i64::MAX, |u| time_key(u).saturating_sub(1));
        let Some(lite) = self.conn.as_sqlite() else {
            return search_pg(&self.conn, query, low, high, f);
        };
        let mut sql = String::from(
            "SELECT m.id, m.source, m.conversation_id, m.conversation_name, m.msg_id, m.sender_id,
                    m.sender_name, m.text
             FROM search_fts JOIN search_messages m ON m.id = search_fts.rowid
             WHERE search_fts MATCH ?1 AND search_fts.rowid BETWEEN ?2 AND ?3",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![
            query.query.clone().into(),
            low.into(),
            high.into(),
            i64::try_from(query.limit).unwrap_or(i64::MAX).into(),
        ];
        if !query.conversations.is_empty() {
            let mut alternatives = Vec::new();
            for c in &query.conversations {
                args.push(c.trim_start_matches('#').to_string().into());
                let n = args.len();
                alternatives.push(format!(
                    "m.conversation_id = ?{n} OR m.conversation_name = ?{n} COLLATE NOCASE"
                ));
            }
            sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
        }
        if let Some(sender) = &query.sender {
            args.push(sender.trim_start_matches('@').to_string().into());
            let n = args.len();
            sql.push_str(&format!(
                " AND (m.sender_id = ?{n} OR m.sender_name = ?{n} COLLATE NOCASE)"
            ));
        }
        sql.push_str(" ORDER BY search_fts.rowid DESC LIMIT ?4");
        lite.pragma_update(None, "cache_size", -SEARCH_CACHE_KIB)
            .map_err(StoreError::from)?;
        // Each match is a row read by id from anywhere in the file: mapped, such a read is a
        // memory access instead of a read() call per page (SQLite caps the size it maps).
        lite.pragma_update(None, "mmap_size", SEARCH_MMAP_BYTES)
            .map_err(StoreError::from)?;
        // Matches are marked here rather than by FTS5's highlight(), which reads every row's
        // text a second time and tokenizes it: twice the cost per match for a common word.
        let terms = query_terms(&query.query);
        let mut stmt = lite.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt.query(params_from_iter(args)).map_err(query_error)?;
        while let Some(r) = rows.next().map_err(query_error)? {
            f(hit_from_row(&db::Row::sqlite(r), &terms).map_err(StoreError::from)?)?;
        }
        Ok(())
    }
}

/// [`Store::search_index_messages`] inside a caller's transaction.
pub(crate) fn index_messages(tx: &Db, docs: &[SearchDoc]) -> Result<IndexStats, StoreError> {
    match tx.as_sqlite() {
        Some(lite) => index_messages_sqlite(lite, docs),
        None => index_messages_pg(tx, docs),
    }
}

/// [`index_messages`] on SQLite: the row and its full-text entry, message by message (cached
/// statements make that cheap there).
fn index_messages_sqlite(
    tx: &rusqlite::Connection,
    docs: &[SearchDoc],
) -> Result<IndexStats, StoreError> {
    let mut stats = IndexStats::default();
    let mut find = tx.prepare_cached(
        "SELECT id, conversation_name, sender_id, sender_name, text, mentions FROM search_messages
         WHERE source = ?1 AND conversation_id = ?2 AND msg_id = ?3",
    )?;
    let mut last_in_slot =
        tx.prepare_cached("SELECT max(id) FROM search_messages WHERE id BETWEEN ?1 AND ?2")?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO search_messages (id, source, conversation_id, conversation_name, msg_id,
             sender_id, sender_name, text, mentions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE search_messages
         SET conversation_name = ?2, sender_id = ?3, sender_name = ?4, text = ?5, mentions = ?6
         WHERE id = ?1",
    )?;
    let mut fts_insert =
        tx.prepare_cached("INSERT INTO search_fts (rowid, text) VALUES (?1, ?2)")?;
    let mut fts_delete = tx.prepare_cached(
        "INSERT INTO search_fts (search_fts, rowid, text) VALUES ('delete', ?1, ?2)",
    )?;
    for d in docs {
        let mentions = serde_json::to_string(&d.mentions)?;
        let base = time_key(d.time_us);
        let mut put = |id: i64| {
            insert.execute(rusqlite::params![
                id,
                d.source,
                d.conversation_id,
                d.conversation_name,
                d.msg_id,
                d.sender_id,
                d.sender_name,
                d.text,
                mentions
            ])
        };
        // Most messages are new: insert first, look up only when that was ignored.
        if put(base)? == 1 {
            fts_insert.execute(rusqlite::params![base, d.text])?;
            stats.added += 1;
            continue;
        }
        // Ignored: the message is stored already, or another message has this id.
        let stored = find
            .query_row(
                rusqlite::params![d.source, d.conversation_id, d.msg_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        (
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ),
                    ))
                },
            )
            .optional()?;
        match stored {
            Some((id, stored)) => {
                let same = stored.0 == d.conversation_name
                    && stored.1 == d.sender_id
                    && stored.2 == d.sender_name
                    && stored.3 == d.text
                    && stored.4 == mentions;
                if same {
                    stats.unchanged += 1;
                } else {
                    // External content: the index forgets the old text by being given it.
                    fts_delete.execute(rusqlite::params![id, stored.3])?;
                    fts_insert.execute(rusqlite::params![id, d.text])?;
                    update.execute(rusqlite::params![
                        id,
                        d.conversation_name,
                        d.sender_id,
                        d.sender_name,
                        d.text,
                        mentions
                    ])?;
                    stats.updated += 1;
                }
            }
            None => {
                // Another message in the same microsecond: the next free id in it.
                let last: Option<i64> = last_in_slot.query_row(
                    rusqlite::params![base, base.saturating_add(SLOTS - 1)],
                    |r| r.get(0),
                )?;
                let id = match last {
                    Some(l) if l < base + SLOTS - 1 => l + 1,
                    // A full microsecond (1024 messages): any free id after it; the order among
                    // them is off by a microsecond at worst.
                    _ => tx.query_row(
                        "SELECT coalesce(max(id), 0) + 1 FROM search_messages",
                        [],
                        |r| r.get(0),
                    )?,
                };
                put(id)?;
                fts_insert.execute(rusqlite::params![id, d.text])?;
                stats.added += 1;
            }
        }
    }
    Ok(stats)
}

/// Deletes the rows `condition` selects (with `args`), on SQLite from the full-text index first
/// (which needs their text to forget it; Postgres' generated `tsv` goes with its row). Returns
/// rows deleted.
fn delete_where(tx: &Db, condition: &str, args: &[&dyn ToParam]) -> Result<usize, StoreError> {
    if !tx.is_postgres() {
        tx.execute(
            &format!(
                "INSERT INTO search_fts (search_fts, rowid, text)
                 SELECT 'delete', id, text FROM search_messages WHERE {condition}"
            ),
            args,
        )?;
    }
    Ok(tx.execute(
        &format!("DELETE FROM search_messages WHERE {condition}"),
        args,
    )?)
}

/// A stored message's fields that re-indexing compares: name, sender, text, mentions.
type StoredFields = (String, Option<String>, String, String, String);

/// [`index_messages`] on Postgres, where each statement is a round trip: every new message goes
/// in with one statement (arrays), the rest (stored already, or another message in the same
/// microsecond) are looked up with one more and then handled one by one as on SQLite.
fn index_messages_pg(tx: &Db, docs: &[SearchDoc]) -> Result<IndexStats, StoreError> {
    let pg = tx.as_postgres().expect("called on a Postgres connection");
    let mut stats = IndexStats::default();
    let mentions: Vec<String> = docs
        .iter()
        .map(|d| serde_json::to_string(&d.mentions))
        .collect::<Result<_, _>>()?;
    let ids: Vec<i64> = docs.iter().map(|d| time_key(d.time_us)).collect();
    let col = |f: fn(&SearchDoc) -> &str| docs.iter().map(|d| f(d).to_string()).collect::<Vec<_>>();
    let (source, conv, conv_name, msg, sender_name, text) = (
        col(|d| &d.source),
        col(|d| &d.conversation_id),
        col(|d| &d.conversation_name),
        col(|d| &d.msg_id),
        col(|d| &d.sender_name),
        col(|d| &d.text),
    );
    let sender: Vec<Option<String>> = docs.iter().map(|d| d.sender_id.clone()).collect();
    let all_mentions = mentions.clone();
    // Without a conflict target, DO NOTHING skips a row that takes a stored id or message (or
    // one inserted earlier by this statement), as SQLite's INSERT OR IGNORE does.
    let inserted = pg
        .with_client(move |c| {
            c.query(
                "INSERT INTO search_messages (id, source, conversation_id, conversation_name,
                     msg_id, sender_id, sender_name, text, mentions)
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[],
                     $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                 ON CONFLICT DO NOTHING
                 RETURNING source, conversation_id, msg_id",
                &[
                    &ids,
                    &source,
                    &conv,
                    &conv_name,
                    &msg,
                    &sender,
                    &sender_name,
                    &text,
                    &all_mentions,
                ],
            )
        })?
        .map_err(db::DbError::from)?;
    let mut new: HashSet<(String, String, String)> = inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, postgres::Error>>()
        .map_err(db::DbError::from)?;
    let mut rest = Vec::new();
    for (d, m) in docs.iter().zip(&mentions) {
        let key = (
            d.source.clone(),
            d.conversation_id.clone(),
            d.msg_id.clone(),
        );
        if new.remove(&key) {
            stats.added += 1;
        } else {
            rest.push((d, m));
        }
    }
    if rest.is_empty() {
        return Ok(stats);
    }
    let keys: [Vec<String>; 3] = [
        rest.iter().map(|(d, _)| d.source.clone()).collect(),
        rest.iter()
            .map(|(d, _)| d.conversation_id.clone())
            .collect(),
        rest.iter().map(|(d, _)| d.msg_id.clone()).collect(),
    ];
    let found = pg
        .with_client(move |c| {
            c.query(
                "SELECT s.source, s.conversation_id, s.msg_id, s.id, s.conversation_name,
                        s.sender_id, s.sender_name, s.text, s.mentions
                 FROM search_messages s
                 JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(src, conv, msg)
                   ON s.source = k.src AND s.conversation_id = k.conv AND s.msg_id = k.msg",
                &[&keys[0], &keys[1], &keys[2]],
            )
        })?
        .map_err(db::DbError::from)?;
    let mut stored: HashMap<(String, String, String), (i64, StoredFields)> = HashMap::new();
    for r in &found {
        let row = (|| -> Result<_, postgres::Error> {
            Ok((
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
                (
                    r.try_get(3)?,
                    (
                        r.try_get(4)?,
                        r.try_get(5)?,
                        r.try_get(6)?,
                        r.try_get(7)?,
                        r.try_get(8)?,
                    ),
                ),
            ))
        })()
        .map_err(db::DbError::from)?;
        stored.insert(row.0, row.1);
    }
    for (d, mentions) in rest {
        let key = (
            d.source.clone(),
            d.conversation_id.clone(),
            d.msg_id.clone(),
        );
        let fields: StoredFields = (
            d.conversation_name.clone(),
            d.sender_id.clone(),
            d.sender_name.clone(),
            d.text.clone(),
            mentions.clone(),
        );
        match stored.get_mut(&key) {
            Some((_, now)) if *now == fields => stats.unchanged += 1,
            Some((id, now)) => {
                tx.execute(
                    "UPDATE search_messages
                     SET conversation_name = ?2, sender_id = ?3, sender_name = ?4, text = ?5,
                         mentions = ?6
                     WHERE id = ?1",
                    params![*id, fields.0, fields.1, fields.2, fields.3, fields.4],
                )?;
                *now = fields;
                stats.updated += 1;
            }
            None => {
                // Another message in the same microsecond: the next free id in it.
                let base = time_key(d.time_us);
                let last: Option<i64> = tx.query_row(
                    "SELECT max(id) FROM search_messages WHERE id BETWEEN ?1 AND ?2",
                    params![base, base.saturating_add(SLOTS - 1)],
                    |r| r.get(0),
                )?;
                let id = match last {
                    Some(l) if l < base + SLOTS - 1 => l + 1,
                    _ => tx.query_row(
                        "SELECT coalesce(max(id), 0) + 1 FROM search_messages",
                        [],
                        |r| r.get(0),
                    )?,
                };
                tx.execute(
                    "INSERT INTO search_messages (id, source, conversation_id, conversation_name,
                         msg_id, sender_id, sender_name, text, mentions)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        id,
                        d.source,
                        d.conversation_id,
                        fields.0,
                        d.msg_id,
                        fields.1,
                        fields.2,
                        fields.3,
                        fields.4
                    ],
                )?;
                stored.insert(key, (id, fields));
                stats.added += 1;
            }
        }
    }
    Ok(stats)
}

/// [`Store::search_for_each`] on Postgres: the query becomes a `tsquery` ([`to_tsquery`]) matched
/// against the generated `tsv` column, newest first by id as on SQLite.
fn search_pg<E: From<StoreError>>(
    conn: &Db,
    query: &SearchQuery,
    low: i64,
    high: i64,
    mut f: impl FnMut(SearchHit) -> Result<(), E>,
) -> Result<(), E> {
    let tsquery = to_tsquery(&query.query).map_err(StoreError::SearchQuery)?;
    let mut sql = String::from(
        "SELECT m.id, m.source, m.conversation_id, m.conversation_name, m.msg_id, m.sender_id,
                m.sender_name, m.text
         FROM search_messages m
         WHERE m.tsv @@ to_tsquery('simple', ?1) AND m.id BETWEEN ?2 AND ?3",
    );
    let mut args: Vec<Box<dyn ToParam>> = vec![
        Box::new(tsquery),
        Box::new(low),
        Box::new(high),
        Box::new(i64::try_from(query.limit).unwrap_or(i64::MAX)),
    ];
    // COLLATE NOCASE folds ASCII letters only; lower() under the "C" collation does the same.
    if !query.conversations.is_empty() {
        let mut alternatives = Vec::new();
        for c in &query.conversations {
            args.push(Box::new(c.trim_start_matches('#').to_string()));
            let n = args.len();
            alternatives.push(format!(
                "m.conversation_id = ?{n} OR lower(m.conversation_name) = lower(?{n})"
            ));
        }
        sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    }
    if let Some(sender) = &query.sender {
        args.push(Box::new(sender.trim_start_matches('@').to_string()));
        let n = args.len();
        sql.push_str(&format!(
            " AND (m.sender_id = ?{n} OR lower(m.sender_name) = lower(?{n}))"
        ));
    }
    sql.push_str(" ORDER BY m.id DESC LIMIT ?4");
    let terms = query_terms(&query.query);
    let hit = |r: &db::Row<'_>| hit_from_row(r, &terms);
    let query_failed = |e: db::DbError| match &e {
        // The translation should leave nothing for to_tsquery to refuse; if it does, the query
        // text is still what is wrong.
        db::DbError::Postgres(pe)
            if pe.code() == Some(&postgres::error::SqlState::SYNTAX_ERROR) =>
        {
            StoreError::SearchQuery(e.to_string())
        }
        _ => StoreError::Db(e),
    };
    if query.limit <= SEARCH_PAGE {
        let hits = conn.query_all(&sql, &args, hit).map_err(query_failed)?;
        for h in hits {
            f(h)?;
        }
        return Ok(());
    }
    // Postgres hands over a whole result at once: for many matches a cursor is read a page at a
    // time, so memory stays flat as on SQLite (the cursor lives in a read transaction).
    enum Stop<E> {
        Db(db::DbError),
        Caller(E),
    }
    impl<E> From<db::DbError> for Stop<E> {
        fn from(e: db::DbError) -> Self {
            Stop::Db(e)
        }
    }
    let read = conn.transaction(|tx| -> Result<(), Stop<E>> {
        tx.execute(
            &format!("DECLARE search_hits NO SCROLL CURSOR FOR {sql}"),
            &args,
        )
        .map_err(|e| Stop::Caller(query_failed(e).into()))?;
        loop {
            let page = tx.query_all(&format!("FETCH {SEARCH_PAGE} FROM search_hits"), (), hit)?;
            let last = page.len() < SEARCH_PAGE;
            for h in page {
                f(h).map_err(Stop::Caller)?;
            }
            if last {
                return Ok(());
            }
        }
    });
    match read {
        Ok(()) => Ok(()),
        Err(Stop::Db(e)) => Err(StoreError::from(e).into()),
        Err(Stop::Caller(e)) => Err(e),
    }
}

/// Matches read per round trip on Postgres when a search asks for more.
const SEARCH_PAGE: usize = 1000;

/// Translates a query in FTS5's syntax (the one `slack-export search` documents: words, all of
/// which must match, `"a phrase"`, `OR`, `NOT`, `AND`, parentheses, `prefix*`, the `text:`
/// column) into PostgreSQL's `to_tsquery` syntax, with FTS5's precedence (NOT, then AND, then
/// OR). Words are split as the marking splits them (runs of letters and digits) and quoted, so
/// no character of the input reaches to_tsquery as an operator. What FTS5 would refuse is an
/// error naming the problem; `NEAR` and `^` are refused as not supported.
pub fn to_tsquery(query: &str) -> Result<String, String> {
    let tokens = fts_tokens(query)?;
    let mut p = FtsParser { tokens, at: 0 };
    if p.tokens.is_empty() {
        return Err("the query is empty".into());
    }
    let out = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(out),
        Some(t) => Err(format!("syntax error near {}", t.shown())),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum FtsToken {
    Open,
    Close,
    And,
    Or,
    Not,
    /// Words to match in sequence (a phrase, or one word), the last a prefix when `prefix`.
    Phrase {
        words: Vec<String>,
        prefix: bool,
    },
}

impl FtsToken {
    fn shown(&self) -> String {
        match self {
            FtsToken::Open => "\"(\"".into(),
            FtsToken::Close => "\")\"".into(),
            FtsToken::And => "\"AND\"".into(),
            FtsToken::Or => "\"OR\"".into(),
            FtsToken::Not => "\"NOT\"".into(),
            FtsToken::Phrase { words, .. } => format!("\"{}\"", words.join(" ")),
        }
    }
}

fn phrase(text: &str, prefix: bool) -> Result<FtsToken, String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        return Err(format!("{text:?} has no word to search for"));
    }
    Ok(FtsToken::Phrase { words, prefix })
}

fn fts_tokens(query: &str) -> Result<Vec<FtsToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            tokens.push(FtsToken::Open);
        } else if c == ')' {
            chars.next();
            tokens.push(FtsToken::Close);
        } else if c == '"' {
            chars.next();
            // "" inside a string is a literal quote, as in FTS5.
            let mut text = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().map(|&(_, n)| n) == Some('"') {
                        chars.next();
                        text.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    text.push(c);
                }
            }
            if !closed {
                return Err("unterminated string".into());
            }
            let prefix = chars.peek().map(|&(_, n)| n) == Some('*');
            if prefix {
                chars.next();
            }
            tokens.push(phrase(&text, prefix)?);
        } else {
            let mut end = query.len();
            while let Some(&(j, c)) = chars.peek() {
                if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                    end = j;
                    break;
                }
                chars.next();
            }
            let word = &query[i..end];
            match word {
                "AND" => tokens.push(FtsToken::And),
                "OR" => tokens.push(FtsToken::Or),
                "NOT" => tokens.push(FtsToken::Not),
                _ if word.starts_with("NEAR") => {
                    return Err("NEAR is not supported on PostgreSQL".into());
                }
                _ if word.starts_with('^') => {
                    return Err("^ (first word of the text) is not supported on PostgreSQL".into());
                }
                _ => {
                    let word = match word.split_once(':') {
                        Some((column, rest)) if column.eq_ignore_ascii_case("text") => rest,
                        Some((column, _)) => return Err(format!("no such column: {column}")),
                        None => word,
                    };
                    if word.is_empty() {
                        // `text:` before a string or a parenthesis: the only column anyway.
                        continue;
                    }
                    let prefix = word.ends_with('*');
                    tokens.push(phrase(word.trim_end_matches('*'), prefix)?);
                }
            }
        }
    }
    Ok(tokens)
}

struct FtsParser {
    tokens: Vec<FtsToken>,
    at: usize,
}

impl FtsParser {
    fn peek(&self) -> Option<&FtsToken> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<String, String> {
        let mut out = self.and()?;
        while self.peek() == Some(&FtsToken::Or) {
            self.at += 1;
            out = format!("({out} | {})", self.and()?);
        }
        Ok(out)
    }

    fn and(&mut self) -> Result<String, String> {
        let mut out = self.not()?;
        loop {
            match self.peek() {
                Some(FtsToken::And) => self.at += 1,
                Some(FtsToken::Open | FtsToken::Phrase { .. }) => {}
                _ => return Ok(out),
            }
            out = format!("({out} & {})", self.not()?);
        }
    }

    fn not(&mut self) -> Result<String, String> {
        let mut out = self.primary()?;
        while self.peek() == Some(&FtsToken::Not) {
            self.at += 1;
            out = format!("({out} & !{})", self.primary()?);
        }
        Ok(out)
    }

    fn primary(&mut self) -> Result<String, String> {
        let Some(t) = self.tokens.get(self.at).cloned() else {
            return Err("the query ends where a word was expected".into());
        };
        self.at += 1;
        match t {
            FtsToken::Phrase { words, prefix } => {
                let last = words.len() - 1;
                let parts: Vec<String> = words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let star = if prefix && i == last { ":*" } else { "" };
                        format!("'{w}'{star}")
                    })
                    .collect();
                Ok(if parts.len() == 1 {
                    parts.join("")
                } else {
                    format!("({})", parts.join(" <-> "))
                })
            }
            FtsToken::Open => {
                let inner = self.or()?;
                if self.peek() != Some(&FtsToken::Close) {
                    return Err("a \"(\" is not closed".into());
                }
                self.at += 1;
                Ok(inner)
            }
            other => Err(format!("syntax error near {}", other.shown())),
        }
    }
}

/// The first row id of a time (times before 1970 or after year 2255 are clamped).
fn time_key(time_us: i64) -> i64 {
    time_us.clamp(0, i64::MAX / SLOTS - 1) * SLOTS
}

/// FTS5 reports an unparsable query as a plain SQLITE_ERROR while stepping ("fts5: syntax error
/// near ...", "unterminated string", "no such column"): the statement itself was prepared, so that
/// code here means the query text. Busy, I/O and corruption errors have their own codes.
fn query_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_ERROR =>
        {
            StoreError::SearchQuery(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => StoreError::Sqlite(e),
    }
}

/// A word a query looks for; `prefix` for `word*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    lower: String,
    prefix: bool,
}

/// The words of an FTS5 query, for marking: phrases split into words; operators (`AND`, `OR`,
/// `NOT`, `NEAR`), column filters, `^`, `+` and parentheses dropped.
/// A result row of either backend's search query (id, source, conversation id and name, message
/// id, sender id and name, text) as a hit with its matches marked.
fn hit_from_row(r: &db::Row<'_>, terms: &[Term]) -> db::Result<SearchHit> {
    let id: i64 = r.get(0)?;
    let text: String = r.get(7)?;
    let matches = mark(&text, terms);
    Ok(SearchHit {
        source: r.get(1)?,
        conversation_id: r.get(2)?,
        conversation_name: r.get(3)?,
        msg_id: r.get(4)?,
        time_us: id.div_euclid(SLOTS),
        sender_id: r.get(5)?,
        sender_name: r.get(6)?,
        text,
        matches,
    })
}

fn query_terms(query: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut push = |chunk: &str| {
        if matches!(chunk, "AND" | "OR" | "NOT") || chunk.starts_with("NEAR") {
            return;
        }
        let chunk = chunk.rsplit_once(':').map_or(chunk, |(_, t)| t);
        let prefix = chunk.ends_with('*');
        let words: Vec<&str> = chunk
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let last = words.len().saturating_sub(1);
        for (i, w) in words.into_iter().enumerate() {
            terms.push(Term {
                lower: w.to_lowercase(),
                prefix: prefix && i == last,
            });
        }
    };
    for (i, part) in query.split('"').enumerate() {
        if i % 2 == 1 {
            // Inside quotes: a phrase, every word a term.
            push(part.trim_end_matches('*'));
            if part.ends_with('*') {
                push(part);
            }
        } else {
            for chunk in part.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                if !chunk.is_empty() {
                    push(chunk);
                }
            }
        }
    }
    terms
}

/// Byte ranges of the words of `text` (runs of letters and digits, as FTS5 splits them) that a
/// term matches, ignoring case.
fn mark(text: &str, terms: &[Term]) -> Vec<Range<usize>> {
    if text.is_ascii() && terms.iter().all(|t| t.lower.is_ascii()) {
        return mark_ascii(text.as_bytes(), terms);
    }
    let mut ranges = Vec::new();
    let mut lower = String::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                start = None;
                lower.clear();
                lower.extend(text[s..i].chars().flat_map(char::to_lowercase));
                if terms.iter().any(|t| {
                    if t.prefix {
                        lower.starts_with(&t.lower)
                    } else {
                        lower == t.lower
                    }
                }) {
                    ranges.push(s..i);
                }
            }
            _ => {}
        }
    }
    ranges
}

/// [`mark`] for ASCII text and terms (most messages): bytes compared in place, no allocation.
fn mark_ascii(text: &[u8], terms: &[Term]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let s = i;
        while i < text.len() && text[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &text[s..i];
        if terms.iter().any(|t| {
            let n = t.lower.len();
            word.len() >= n
                && (t.prefix || word.len() == n)
                && word[..n].eq_ignore_ascii_case(t.lower.as_bytes())
        }) {
            ranges.push(s..i);
        }
    }
    ranges
}

/// Purge support: removes `user_id`'s messages and rewrites the messages that mention them
/// (their name in the text becomes `@(removed)`). Returns (deleted, rewritten).
pub(crate) fn purge_person(tx: &Db, user_id: &str) -> Result<(usize, usize), StoreError> {
    let deleted = delete_where(tx, "sender_id = ?1", params![user_id])?;
    let find = match tx.backend() {
        db::Backend::Sqlite => {
            "SELECT id, text, mentions FROM search_messages WHERE instr(mentions, ?1) > 0"
        }
        db::Backend::Postgres => {
            "SELECT id, text, mentions FROM search_messages WHERE strpos(mentions, ?1) > 0"
        }
    };
    let rows: Vec<(i64, String, String)> =
        tx.query_all(find, [user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut rewritten = 0;
    for (id, mut text, mentions) in rows {
        let Ok(list) = serde_json::from_str::<Vec<(String, String)>>(&mentions) else {
            continue;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = list.into_iter().partition(|(i, _)| i == user_id);
        if gone.is_empty() {
            continue;
        }
        for (_, name) in &gone {
            if !name.is_empty() {
                text = text.replace(&format!("@{name}"), "@(removed)");
            }
        }
        if !tx.is_postgres() {
            tx.execute(
                "INSERT INTO search_fts (search_fts, rowid, text)
                 SELECT 'delete', id, text FROM search_messages WHERE id = ?1",
                [id],
            )?;
            tx.execute(
                "INSERT INTO search_fts (rowid, text) VALUES (?1, ?2)",
                params![id, text],
            )?;
        }
        rewritten += tx.execute(
            "UPDATE search_messages SET text = ?2, mentions = ?3 WHERE id = ?1",
            params![id, text, serde_json::to_string(&kept)?],
        )?;
    }
    Ok((deleted, rewritten))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn doc(conv: &str, msg: &str, time_s: i64, sender: &str, text: &str) -> SearchDoc {
        SearchDoc {
            source: "slack".into(),
            conversation_id: conv.into(),
            conversation_name: format!("name-{conv}"),
            msg_id: msg.into(),
            time_us: time_s * 1_000_000,
            sender_id: Some(sender.into()),
            sender_name: format!("Name {sender}"),
            text: text.into(),
            mentions: Vec::new(),
        }
    }

    /// FTS5's own check that the index holds exactly the content table's text.
    pub(crate) fn integrity(store: &Store) {
        // Postgres' tsv is generated from its row: nothing to get out of step.
        if store.db().is_postgres() {
            return;
        }
        store
            .conn()
            .execute(
                "INSERT INTO search_fts (search_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .expect("the full-text index matches its content");
    }

    fn search(store: &Store, q: &str) -> Vec<String> {
        store
            .search(&SearchQuery {
                query: q.into(),
                limit: 100,
                ..SearchQuery::default()
            })
            .expect("search")
            .into_iter()
            .map(|h| h.msg_id)
            .collect()
    }

    #[test]
    fn finds_words_newest_first_and_marks_matches() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let stats = store
                .search_index_messages(&[
                    doc("C1", "a", 100, "U1", "the invoice is late"),
                    doc("C1", "b", 300, "U2", "Invoices and more invoice talk"),
                    doc("C2", "c", 200, "U1", "nothing here"),
                    doc("C2", "d", 200, "U1", "invoice in the same second"),
                ])
                .expect("index");
            assert_eq!(stats.added, 4);
            assert_eq!(search(store, "invoice"), ["b", "d", "a"]);
            assert_eq!(search(store, "invoic*"), ["b", "d", "a"]);
            assert_eq!(search(store, "\"is late\""), ["a"]);
            assert!(search(store, "zebra").is_empty());
            assert_eq!(search(store, "invoice NOT late"), ["b", "d"]);
            assert_eq!(search(store, "nothing OR (late AND invoice)"), ["c", "a"]);
            let hits = store
                .search(&SearchQuery {
                    query: "invoice".into(),
                    limit: 1,
                    ..SearchQuery::default()
                })
                .expect("search");
            assert_eq!(hits.len(), 1);
            assert_eq!(hits[0].time_us, 300_000_000);
            assert_eq!(hits[0].text, "Invoices and more invoice talk");
            assert_eq!(hits[0].matches, vec![Range { start: 18, end: 25 }]);
        });
    }

    #[test]
    fn slack_and_telegram_messages_share_the_index() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let mut tg = doc("-1001234", "42", 150, "777", "renewal call tomorrow");
            tg.source = "telegram".into();
            tg.conversation_name = "Acme support".into();
            store
                .search_index_messages(&[doc("C1", "1.0", 100, "U1", "renewal draft"), tg])
                .expect("index");
            let hits = store
                .search(&SearchQuery {
                    query: "renewal".into(),
                    limit: 10,
                    ..SearchQuery::default()
                })
                .expect("search");
            let found: Vec<(&str, &str)> = hits
                .iter()
                .map(|h| (h.source.as_str(), h.conversation_name.as_str()))
                .collect();
            assert_eq!(found, [("telegram", "Acme support"), ("slack", "name-C1")]);
            // The same message id in another source or conversation is another message.
            let mut again = doc("C2", "42", 160, "U1", "renewal");
            again.source = "telegram".into();
            let stats = store.search_index_messages(&[again]).expect("index");
            assert_eq!(stats.added, 1);
            assert_eq!(
                store
                    .search_delete_conversation("telegram", "-1001234")
                    .expect("del"),
                1
            );
            assert_eq!(store.search_message_count().expect("count"), 2);
            integrity(store);
        });
    }

    #[test]
    fn filters_by_conversation_sender_and_time() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            store
                .search_index_messages(&[
                    doc("C1", "a", 100, "U1", "deploy now"),
                    doc("C1", "b", 300, "U2", "deploy later"),
                    doc("C2", "c", 200, "U1", "deploy maybe"),
                ])
                .expect("index");
            let q = |f: &dyn Fn(&mut SearchQuery)| {
                let mut q = SearchQuery {
                    query: "deploy".into(),
                    limit: 10,
                    ..SearchQuery::default()
                };
                f(&mut q);
                store
                    .search(&q)
                    .expect("search")
                    .into_iter()
                    .map(|h| h.msg_id)
                    .collect::<Vec<_>>()
            };
            assert_eq!(q(&|q| q.conversations = vec!["C2".into()]), ["c"]);
            assert_eq!(
                q(&|q| q.conversations = vec!["#NAME-C1".into()]),
                ["b", "a"]
            );
            assert_eq!(q(&|q| q.sender = Some("name u1".into())), ["c", "a"]);
            assert_eq!(q(&|q| q.sender = Some("U2".into())), ["b"]);
            assert_eq!(q(&|q| q.since_us = Some(200_000_000)), ["b", "c"]);
            assert_eq!(q(&|q| q.until_us = Some(200_000_000)), ["a"]);
        });
    }

    #[test]
    fn reindexing_updates_changed_messages_only_and_deletes_by_conversation() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            store
                .search_index_messages(&[doc("C1", "a", 100, "U1", "first draft")])
                .expect("index");
            let stats = store
                .search_index_messages(&[
                    doc("C1", "a", 100, "U1", "second draft"),
                    doc("C1", "b", 101, "U1", "other"),
                ])
                .expect("reindex");
            assert_eq!((stats.added, stats.updated, stats.unchanged), (1, 1, 0));
            let again = store
                .search_index_messages(&[doc("C1", "a", 100, "U1", "second draft")])
                .expect("again");
            assert_eq!(again.unchanged, 1);
            assert!(search(store, "first").is_empty(), "the old text is gone");
            assert_eq!(search(store, "second"), ["a"]);
            integrity(store);
            assert_eq!(
                store
                    .search_delete_conversation("slack", "C1")
                    .expect("del"),
                2
            );
            assert!(search(store, "second").is_empty());
            assert!(search(store, "other").is_empty());
            assert_eq!(store.search_message_count().expect("count"), 0);
            integrity(store);
        });
    }

    #[test]
    fn matches_are_the_query_words_found_in_the_text() {
        let terms = query_terms(r#"invoic* AND "Late Payment" NOT text:x OR (Über)"#);
        let words: Vec<(&str, bool)> = terms.iter().map(|t| (t.lower.as_str(), t.prefix)).collect();
        assert_eq!(
            words,
            [
                ("invoic", true),
                ("late", false),
                ("payment", false),
                ("x", false),
                ("über", false)
            ]
        );
        let text = "Invoices: a late-payment ÜBER invoice, xx";
        let marked: Vec<&str> = mark(text, &terms).into_iter().map(|r| &text[r]).collect();
        assert_eq!(marked, ["Invoices", "late", "payment", "ÜBER", "invoice"]);
        // ASCII text takes the byte path; same answer.
        let ascii = "Invoices: a late-payment invoice, xx x9 invoicing";
        let marked: Vec<&str> = mark(ascii, &terms).into_iter().map(|r| &ascii[r]).collect();
        assert_eq!(
            marked,
            ["Invoices", "late", "payment", "invoice", "invoicing"]
        );
    }

    #[test]
    fn bad_query_syntax_is_a_query_error() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            store
                .search_index_messages(&[doc("C1", "a", 100, "U1", "x")])
                .expect("index");
            for bad in ["\"unclosed", "AND", "foo:bar"] {
                let err = store
                    .search(&SearchQuery {
                        query: bad.into(),
                        limit: 1,
                        ..SearchQuery::default()
                    })
                    .expect_err(bad);
                assert!(matches!(err, StoreError::SearchQuery(_)), "{bad}: {err:?}");
            }
        });
    }

    #[test]
    fn messages_in_one_microsecond_keep_distinct_ids() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let docs: Vec<SearchDoc> = (0..5)
                .map(|i| doc("C1", &i.to_string(), 100, "U1", "same"))
                .collect();
            store.search_index_messages(&docs).expect("index");
            assert_eq!(search(store, "same").len(), 5);
            integrity(store);
        });
    }

    #[test]
    fn the_same_message_twice_in_one_batch_ends_as_row_by_row() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let stats = store
                .search_index_messages(&[
                    doc("C1", "a", 100, "U1", "first text"),
                    doc("C1", "b", 100, "U1", "other text"),
                    doc("C1", "a", 100, "U1", "second text"),
                    doc("C1", "a", 100, "U1", "second text"),
                ])
                .expect("index");
            assert_eq!((stats.added, stats.updated, stats.unchanged), (2, 1, 1));
            assert!(search(store, "first").is_empty());
            assert_eq!(search(store, "second"), ["a"]);
            assert_eq!(search(store, "text"), ["b", "a"]);
            integrity(store);
        });
    }

    #[test]
    fn fts5_queries_become_tsqueries_with_the_same_meaning() {
        let t = |q: &str| to_tsquery(q).expect(q);
        assert_eq!(t("invoice"), "'invoice'");
        assert_eq!(t("late invoice"), "('late' & 'invoice')");
        assert_eq!(t("invoic*"), "'invoic':*");
        assert_eq!(t("\"is late\""), "('is' <-> 'late')");
        assert_eq!(t("\"late pay\"*"), "('late' <-> 'pay':*)");
        // NOT binds tighter than AND, AND tighter than OR.
        assert_eq!(t("a OR b c"), "('a' | ('b' & 'c'))");
        assert_eq!(t("a NOT b OR c"), "(('a' & !'b') | 'c')");
        assert_eq!(t("(a OR b) AND text:c"), "(('a' | 'b') & 'c')");
        // Nothing the user typed reaches to_tsquery as an operator.
        assert_eq!(t("\"it's & !x\""), "('it' <-> 's' <-> 'x')");
        for (q, why) in [
            ("\"unclosed", "unterminated"),
            ("AND", "syntax error"),
            ("foo:bar", "no such column"),
            ("(a", "not closed"),
            ("a OR", "ends"),
            ("NEAR(a b)", "NEAR"),
            ("\"!!\"", "no word"),
            ("", "empty"),
        ] {
            let e = to_tsquery(q).expect_err(q);
            assert!(e.contains(why), "{q}: {e}");
        }
    }

    #[test]
    fn more_matches_than_a_page_come_newest_first_and_stop_at_the_limit() {
        crate::test_db::on_both(|store| {
            let store = &*store;
            let n = SEARCH_PAGE * 2 + 500;
            let docs: Vec<SearchDoc> = (0..n)
                .map(|i| {
                    let sender = if i % 2 == 0 { "U1" } else { "U2" };
                    doc("C1", &i.to_string(), 1000 + i as i64, sender, "common word")
                })
                .collect();
            store.search_index_messages(&docs).expect("index");
            let ids = |limit: usize, sender: Option<&str>| -> Vec<usize> {
                store
                    .search(&SearchQuery {
                        query: "common".into(),
                        sender: sender.map(str::to_string),
                        limit,
                        ..SearchQuery::default()
                    })
                    .expect("search")
                    .iter()
                    .map(|h| h.msg_id.parse().expect("number"))
                    .collect()
            };
            let all = ids(n + 10, None);
            assert_eq!(all, (0..n).rev().collect::<Vec<_>>());
            assert_eq!(ids(SEARCH_PAGE + 7, None), all[..SEARCH_PAGE + 7]);
            let theirs = ids(n, Some("name u2"));
            assert_eq!(theirs.len(), n / 2);
            assert!(theirs.iter().all(|i| i % 2 == 1));
            let bad = store.search(&SearchQuery {
                query: "foo:bar".into(),
                limit: n,
                ..SearchQuery::default()
            });
            assert!(matches!(bad, Err(StoreError::SearchQuery(_))), "{bad:?}");
        });
    }
}
