//! tg-admin export's state (`tg_exports`, `tg_export_messages`): every exported Telegram message
//! per chat and output (the `--out` directory and the format). `--resume` reads after the highest
//! stored id; the export files are regenerated whole from these rows, so a killed run that is
//! resumed writes the same bytes as one uninterrupted run.

use crate::db::{self, Backend, OptionalExt, Row, params};
use crate::{Store, StoreError, format_time, parse_time};
use jiff::Timestamp;

/// Which export: the output directory (absolute), the format, and the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TgExportKey<'a> {
    pub out_dir: &'a str,
    pub format: &'a str,
    pub chat_id: i64,
}

/// The state of one chat's export in one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgExportChat {
    pub chat_title: String,
    pub chat_kind: String,
    /// The export's file (or folder), relative to the output directory.
    pub file: String,
    /// Highest message id stored (0: none yet).
    pub last_message_id: i64,
    pub exported_at: Timestamp,
}

/// One exported message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgStoredMessage {
    pub message_id: i64,
    pub chat_title: String,
    pub at: Timestamp,
    pub sender_id: Option<i64>,
    pub sender_name: Option<String>,
    pub sender_username: Option<String>,
    pub text: String,
    pub reply_to: Option<i64>,
    /// Media metadata as JSON (the telegram crate's `TgMedia`), `None` for a plain message.
    pub media: Option<String>,
    /// The downloaded copy, relative to the output directory.
    pub media_path: Option<String>,
    /// Why there is no copy.
    pub media_note: Option<String>,
}

fn message_from_row(row: &Row<'_>) -> db::Result<TgStoredMessage> {
    let at: String = row.get(2)?;
    let at = parse_time(&at).map_err(|e| db::DbError::Column {
        column: "at".into(),
        message: e.to_string(),
    })?;
    Ok(TgStoredMessage {
        message_id: row.get(0)?,
        chat_title: row.get(1)?,
        at,
        sender_id: row.get(3)?,
        sender_name: row.get(4)?,
        sender_username: row.get(5)?,
        text: row.get(6)?,
        reply_to: row.get(7)?,
        media: row.get(8)?,
        media_path: row.get(9)?,
        media_note: row.get(10)?,
    })
}

impl Store {
    /// The stored state of a chat's export, `None` when it was never exported to this output.
    pub fn tg_export_chat(&self, key: TgExportKey<'_>) -> Result<Option<TgExportChat>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT chat_title, chat_kind, file, last_message_id, exported_at FROM tg_exports
                 WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3",
                params![key.out_dir, key.format, key.chat_id],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<i64>(3)?,
                        r.get::<String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(chat_title, chat_kind, file, last_message_id, at)| {
            Ok(TgExportChat {
                chat_title,
                chat_kind,
                file,
                last_message_id,
                exported_at: parse_time(&at)?,
            })
        })
        .transpose()
    }

    /// Every chat exported to this output, in any format, with the format and its file: a new
    /// chat never takes a name another chat's export there has (their media folders would mix).
    pub fn tg_export_files(&self, out_dir: &str) -> Result<Vec<(i64, String, String)>, StoreError> {
        self.rows(
            "SELECT chat_id, format, file FROM tg_exports WHERE out_dir = ?1
             ORDER BY chat_id, format",
            params![out_dir],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// Starts (or continues) a chat's export: records its title, kind and file. `fresh` forgets
    /// every message stored before (a full export replaces the previous one).
    pub fn tg_export_begin(
        &self,
        key: TgExportKey<'_>,
        chat_title: &str,
        chat_kind: &str,
        file: &str,
        fresh: bool,
    ) -> Result<(), StoreError> {
        self.conn.transaction(|tx| {
        if fresh {
            tx.execute(
                "DELETE FROM tg_exports WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3",
                params![key.out_dir, key.format, key.chat_id],
            )?;
        }
        tx.execute(
            "INSERT INTO tg_exports (out_dir, format, chat_id, chat_title, chat_kind, file, exported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (out_dir, format, chat_id) DO UPDATE SET
               chat_title = excluded.chat_title, chat_kind = excluded.chat_kind,
               file = excluded.file, exported_at = excluded.exported_at",
            params![
                key.out_dir,
                key.format,
                key.chat_id,
                chat_title,
                chat_kind,
                file,
                format_time(Timestamp::now())
            ],
        )?;
        Ok(())
        })
    }

    /// Stores one page of messages and moves `last_message_id` past it, in one transaction: a
    /// run killed between pages leaves whole pages only, and a resume continues after them.
    pub fn tg_export_add_page(
        &self,
        key: TgExportKey<'_>,
        messages: &[TgStoredMessage],
    ) -> Result<(), StoreError> {
        // The larger of two values is spelled differently (one place knows both texts).
        let raise_last = match self.conn.backend() {
            Backend::Sqlite => {
                "UPDATE tg_exports SET last_message_id = max(last_message_id, ?4)
                 WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3"
            }
            Backend::Postgres => {
                "UPDATE tg_exports SET last_message_id = greatest(last_message_id, ?4)
                 WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3"
            }
        };
        self.conn.transaction(|tx| {
            for m in messages {
                tx.execute(
                    "INSERT INTO tg_export_messages
                       (out_dir, format, chat_id, message_id, chat_title, at, sender_id, sender_name,
                        sender_username, text, reply_to, media, media_path, media_note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (out_dir, format, chat_id, message_id) DO UPDATE SET
                       chat_title = excluded.chat_title, at = excluded.at,
                       sender_id = excluded.sender_id, sender_name = excluded.sender_name,
                       sender_username = excluded.sender_username, text = excluded.text,
                       reply_to = excluded.reply_to, media = excluded.media",
                    params![
                        key.out_dir,
                        key.format,
                        key.chat_id,
                        m.message_id,
                        m.chat_title,
                        format_time(m.at),
                        m.sender_id,
                        m.sender_name,
                        m.sender_username,
                        m.text,
                        m.reply_to,
                        m.media,
                        m.media_path,
                        m.media_note
                    ],
                )?;
            }
            if let Some(last) = messages.iter().map(|m| m.message_id).max() {
                tx.execute(
                    raise_last,
                    params![key.out_dir, key.format, key.chat_id, last],
                )?;
            }
            Ok(())
        })
    }

    /// Every stored message of a chat's export, by message id.
    pub fn tg_export_messages(
        &self,
        key: TgExportKey<'_>,
    ) -> Result<Vec<TgStoredMessage>, StoreError> {
        self.rows(
            "SELECT message_id, chat_title, at, sender_id, sender_name, sender_username, text,
                    reply_to, media, media_path, media_note
             FROM tg_export_messages WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3
             ORDER BY message_id",
            params![key.out_dir, key.format, key.chat_id],
            message_from_row,
        )
    }

    /// Records where a message's media was saved (`path`), or why it was not (`note`).
    pub fn tg_export_set_media(
        &self,
        key: TgExportKey<'_>,
        message_id: i64,
        path: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE tg_export_messages SET media_path = ?5, media_note = ?6
             WHERE out_dir = ?1 AND format = ?2 AND chat_id = ?3 AND message_id = ?4",
            params![key.out_dir, key.format, key.chat_id, message_id, path, note],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, text: &str) -> TgStoredMessage {
        TgStoredMessage {
            message_id: id,
            chat_title: "iBTC <> Acme".into(),
            at: Timestamp::from_second(1_700_000_000 + id).expect("time"),
            sender_id: Some(6),
            sender_name: Some("Addie Ng".into()),
            sender_username: Some("nftaddie".into()),
            text: text.into(),
            reply_to: None,
            media: None,
            media_path: None,
            media_note: None,
        }
    }

    #[test]
    fn pages_accumulate_and_a_fresh_export_forgets_them() {
        crate::test_db::on_both(pages_accumulate_on);
    }

    fn pages_accumulate_on(store: &mut Store) {
        let key = TgExportKey {
            out_dir: "/out",
            format: "text",
            chat_id: -1001,
        };
        assert_eq!(store.tg_export_chat(key).expect("read"), None);
        store
            .tg_export_begin(key, "iBTC <> Acme", "supergroup", "iBTC.txt", true)
            .expect("begin");
        store
            .tg_export_add_page(key, &[msg(2, "b"), msg(1, "a")])
            .expect("page");
        store.tg_export_add_page(key, &[msg(5, "e")]).expect("page");
        let state = store.tg_export_chat(key).expect("read").expect("state");
        assert_eq!(
            store.tg_export_files("/out").expect("files"),
            vec![(-1001, "text".to_owned(), "iBTC.txt".to_owned())]
        );
        assert_eq!(state.last_message_id, 5);
        assert_eq!(state.file, "iBTC.txt");
        let ids: Vec<i64> = store
            .tg_export_messages(key)
            .expect("messages")
            .iter()
            .map(|m| m.message_id)
            .collect();
        assert_eq!(ids, vec![1, 2, 5]);
        store
            .tg_export_set_media(key, 2, Some("iBTC_media/2_a.jpg"), None)
            .expect("media");
        assert_eq!(
            store.tg_export_messages(key).expect("messages")[1]
                .media_path
                .as_deref(),
            Some("iBTC_media/2_a.jpg")
        );
        // Another output of the same chat is separate.
        let other = TgExportKey {
            format: "json",
            ..key
        };
        assert!(store.tg_export_messages(other).expect("other").is_empty());
        // Continuing keeps the messages; starting fresh drops them.
        store
            .tg_export_begin(key, "iBTC <> Acme", "supergroup", "iBTC.txt", false)
            .expect("continue");
        assert_eq!(store.tg_export_messages(key).expect("kept").len(), 3);
        store
            .tg_export_begin(key, "iBTC <> Acme", "supergroup", "iBTC.txt", true)
            .expect("fresh");
        assert!(store.tg_export_messages(key).expect("gone").is_empty());
        assert_eq!(
            store
                .tg_export_chat(key)
                .expect("read")
                .expect("state")
                .last_message_id,
            0
        );
    }
}
